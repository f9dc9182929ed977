# Chart of benches/results/chart.dat: per workload, how many times faster fscache is than each
# baseline (baseline median ÷ fscache median; log scale; above 1 = fscache faster).
# Usage: gnuplot -e "datafile='chart.dat'; outfile='chart.png'" benches/chart.gp
set terminal pngcairo size 1100,600 font "DejaVu Sans,11"
set output outfile
set title "fscache speed-up per workload (baseline time ÷ fscache time; > 1 = fscache faster)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set datafile missing "NaN"
set logscale y 2
set yrange [0.0625:*]
set grid ytics
set ylabel "speed-up (log scale)"
set xtics rotate by -30 left
set key below horizontal
set bmargin 7
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2 lc rgb "#444444"
plot datafile using 2:xtic(1) title "vs uv\\_callbacks (plenary-style)" lc rgb "#2b6cb0", \
     '' using 3 title "vs uv\\_sync (main thread)" lc rgb "#dd6b20", \
     '' using 4 title "vs native loop (physical limit)" lc rgb "#718096"
