/*
 * faultshim: an LD_PRELOAD library that lets the reliability tests stop fscache's pool workers at
 * exact points inside real syscalls sequences, or make one syscall fail, so that races ("the file
 * was replaced between fstat and read") happen deterministically on real files.
 *
 * Test-only; never linked into the module. Built by scripts/build-faultshim.sh.
 *
 * Control: the environment variable FSCACHE_FAULT_CTL names a control directory. A rule is a file
 * <ctl>/<point> whose first line is a path prefix and whose optional second line is
 * "fail <errno>". Points:
 *
 *   open     before open(2)/openat(2) of a matching path
 *   read1    before the first read(2) on a descriptor opened from a matching path
 *   read2    before the second read(2) on such a descriptor
 *   readdir  before the first readdir(3) on a directory opened from a matching path
 *   write    before the first write(2) on a descriptor opened from a matching path
 *   fsync    before fsync(2) on such a descriptor
 *   rename   before rename(2) whose destination matches
 *
 * A rule fires once: the first call that matches claims it (atomic rename to <point>.taken). With
 * "fail <errno>" the call fails with that errno without running. Otherwise the calling thread
 * writes <ctl>/<point>.paused (containing the path) and waits until <ctl>/<point>.go exists, then
 * removes .go, .paused and .taken and performs the real call. A pause never lasts more than
 * FAULTSHIM_MAX_PAUSE_MS (10 s), so a broken test cannot hang a worker forever.
 *
 * One standing rule: <ctl>/slowread with lines "<prefix>" and "delay <ms>" makes every first
 * read(2) of a matching descriptor sleep that long first (a slow disk: the descriptor stays open
 * meanwhile). It is never claimed; remove the file to end it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 65536
#define FAULTSHIM_MAX_PAUSE_MS 10000

struct tracked {
  char *path;     /* strdup'ed path the descriptor was opened from, or NULL */
  unsigned reads; /* read(2) calls so far */
  unsigned writes;
  unsigned readdirs;
  int slow; /* counted by the slowread rule until closed */
};

static struct tracked fds[MAX_FDS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int slow_open, slow_max; /* under `lock` */

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fsync)(int);
static int (*real_rename)(const char *, const char *);
static struct dirent *(*real_readdir)(DIR *);
static struct dirent64 *(*real_readdir64)(DIR *);

static void resolve(void) {
  static int done;
  if (done) return;
  real_open = dlsym(RTLD_NEXT, "open");
  real_open64 = dlsym(RTLD_NEXT, "open64");
  real_openat = dlsym(RTLD_NEXT, "openat");
  real_openat64 = dlsym(RTLD_NEXT, "openat64");
  real_close = dlsym(RTLD_NEXT, "close");
  real_read = dlsym(RTLD_NEXT, "read");
  real_write = dlsym(RTLD_NEXT, "write");
  real_fsync = dlsym(RTLD_NEXT, "fsync");
  real_rename = dlsym(RTLD_NEXT, "rename");
  real_readdir = dlsym(RTLD_NEXT, "readdir");
  real_readdir64 = dlsym(RTLD_NEXT, "readdir64");
  done = 1;
}

static const char *ctl_dir(void) {
  const char *d = getenv("FSCACHE_FAULT_CTL");
  return (d && *d) ? d : NULL;
}

static void ctl_path(char *out, size_t n, const char *point, const char *suffix) {
  snprintf(out, n, "%s/%s%s", ctl_dir(), point, suffix);
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Reads the rule for `point` if it exists: prefix, fail errno (0 = pause) and delay (ms). */
static int read_rule_full(const char *point, char *prefix, size_t n, int *fail_errno,
                          int *delay_ms) {
  char p[4096];
  ctl_path(p, sizeof p, point, "");
  int fd = real_open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[4200];
  ssize_t got = real_read(fd, buf, sizeof buf - 1);
  real_close(fd);
  if (got <= 0) return 0;
  buf[got] = 0;
  char *nl = strchr(buf, '\n');
  *fail_errno = 0;
  *delay_ms = 0;
  if (nl) {
    *nl = 0;
    int v = 0;
    if (sscanf(nl + 1, "fail %d", &v) == 1) *fail_errno = v;
    if (sscanf(nl + 1, "delay %d", &v) == 1) *delay_ms = v;
  }
  snprintf(prefix, n, "%.4000s", buf);
  return 1;
}

static int read_rule(const char *point, char *prefix, size_t n, int *fail_errno) {
  int delay_ms;
  return read_rule_full(point, prefix, n, fail_errno, &delay_ms);
}

static void write_file(const char *p, const char *content);

/* The standing slowread rule: counts the descriptor as open and slow, records the highest such
 * count, and sleeps before its first read. */
static void slow_read(int fd, const char *path) {
  char rule[4096], prefix[4096];
  int fail_errno = 0, delay_ms = 0;
  ctl_path(rule, sizeof rule, "slowread", "");
  if (!exists(rule)) return;
  if (!read_rule_full("slowread", prefix, sizeof prefix, &fail_errno, &delay_ms)) return;
  if (strncmp(path, prefix, strlen(prefix)) != 0) return;
  char maxp[4096];
  ctl_path(maxp, sizeof maxp, "slowread", ".max");
  int fresh = !exists(maxp); /* the test removed it: count from now */
  int new_max = 0;
  pthread_mutex_lock(&lock);
  if (fresh) slow_max = 0;
  if (fd >= 0 && fd < MAX_FDS && !fds[fd].slow) {
    fds[fd].slow = 1;
    if (++slow_open > slow_max) new_max = slow_max = slow_open;
  }
  pthread_mutex_unlock(&lock);
  if (new_max) {
    char num[32];
    snprintf(num, sizeof num, "%d", new_max);
    write_file(maxp, num);
  }
  if (delay_ms > 0) sleep_ms(delay_ms);
}

static void write_file(const char *p, const char *content) {
  int fd = real_open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ssize_t ignored = real_write(fd, content, strlen(content));
  (void)ignored;
  real_close(fd);
}

/*
 * The fault point `point` for an operation on `path`. Returns 0 to go on with the real call, or
 * an errno value the call must fail with.
 */
static int fault_point(const char *point, const char *path) {
  if (!ctl_dir() || !path) return 0;
  resolve();
  char rule[4096], prefix[4096];
  int fail_errno = 0;
  ctl_path(rule, sizeof rule, point, "");
  if (!exists(rule)) return 0;
  if (!read_rule(point, prefix, sizeof prefix, &fail_errno)) return 0;
  if (strncmp(path, prefix, strlen(prefix)) != 0) return 0;
  char taken[4096], paused[4096], go[4096];
  ctl_path(taken, sizeof taken, point, ".taken");
  ctl_path(paused, sizeof paused, point, ".paused");
  ctl_path(go, sizeof go, point, ".go");
  if (real_rename(rule, taken) != 0) return 0; /* another thread claimed it */
  if (fail_errno) {
    write_file(paused, path); /* lets the test see that the rule fired */
    return fail_errno;
  }
  write_file(paused, path);
  for (long waited = 0; waited < FAULTSHIM_MAX_PAUSE_MS; waited++) {
    if (exists(go)) break;
    sleep_ms(1);
  }
  unlink(go);
  unlink(paused);
  unlink(taken);
  return 0;
}

static void track(int fd, const char *path) {
  if (fd < 0 || fd >= MAX_FDS || !ctl_dir()) return;
  char *copy = strdup(path);
  pthread_mutex_lock(&lock);
  free(fds[fd].path);
  fds[fd].path = copy;
  fds[fd].reads = fds[fd].writes = fds[fd].readdirs = 0;
  if (fds[fd].slow) slow_open--;
  fds[fd].slow = 0;
  pthread_mutex_unlock(&lock);
}

/* Bumps the counter selected by `which` for `fd`; copies its path into `out` (empty if none). */
static unsigned bump(int fd, int which, char *out, size_t n) {
  unsigned v = 0;
  out[0] = 0;
  if (fd < 0 || fd >= MAX_FDS) return 0;
  pthread_mutex_lock(&lock);
  if (fds[fd].path) {
    unsigned *c = which == 0 ? &fds[fd].reads : which == 1 ? &fds[fd].writes : &fds[fd].readdirs;
    v = ++*c;
    snprintf(out, n, "%s", fds[fd].path);
  }
  pthread_mutex_unlock(&lock);
  return v;
}

static char *path_of(int fd, char *out, size_t n) {
  out[0] = 0;
  if (fd < 0 || fd >= MAX_FDS) return out;
  pthread_mutex_lock(&lock);
  if (fds[fd].path) snprintf(out, n, "%s", fds[fd].path);
  pthread_mutex_unlock(&lock);
  return out;
}

#define OPEN_BODY(realfn, ...)                        \
  resolve();                                          \
  mode_t mode = 0;                                    \
  if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) { \
    va_list ap;                                       \
    va_start(ap, flags);                              \
    mode = va_arg(ap, mode_t);                        \
    va_end(ap);                                       \
  }                                                   \
  int e = fault_point("open", path);                  \
  if (e) {                                            \
    errno = e;                                        \
    return -1;                                        \
  }                                                   \
  int fd = realfn(__VA_ARGS__, flags, mode);          \
  if (fd >= 0) track(fd, path);                       \
  return fd;

int open(const char *path, int flags, ...) { OPEN_BODY(real_open, path) }
int open64(const char *path, int flags, ...) { OPEN_BODY(real_open64, path) }
int openat(int dirfd, const char *path, int flags, ...) { OPEN_BODY(real_openat, dirfd, path) }
int openat64(int dirfd, const char *path, int flags, ...) { OPEN_BODY(real_openat64, dirfd, path) }

int close(int fd) {
  resolve();
  if (fd >= 0 && fd < MAX_FDS && ctl_dir()) {
    pthread_mutex_lock(&lock);
    free(fds[fd].path);
    fds[fd].path = NULL;
    if (fds[fd].slow) slow_open--;
    fds[fd].slow = 0;
    pthread_mutex_unlock(&lock);
  }
  return real_close(fd);
}

ssize_t read(int fd, void *buf, size_t n) {
  resolve();
  if (ctl_dir()) {
    char p[4096];
    unsigned k = bump(fd, 0, p, sizeof p);
    int e = 0;
    if (k == 1) {
      slow_read(fd, p);
      e = fault_point("read1", p);
    }
    if (k == 2) e = fault_point("read2", p);
    if (e) {
      errno = e;
      return -1;
    }
  }
  return real_read(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n) {
  resolve();
  if (ctl_dir()) {
    char p[4096];
    if (bump(fd, 1, p, sizeof p) == 1) {
      int e = fault_point("write", p);
      if (e) {
        errno = e;
        return -1;
      }
    }
  }
  return real_write(fd, buf, n);
}

int fsync(int fd) {
  resolve();
  if (ctl_dir()) {
    char p[4096];
    int e = fault_point("fsync", path_of(fd, p, sizeof p));
    if (e) {
      errno = e;
      return -1;
    }
  }
  return real_fsync(fd);
}

int rename(const char *from, const char *to) {
  resolve();
  int e = fault_point("rename", to);
  if (e) {
    errno = e;
    return -1;
  }
  return real_rename(from, to);
}

static int readdir_fault(DIR *d) {
  if (!ctl_dir()) return 0;
  char p[4096];
  if (bump(dirfd(d), 2, p, sizeof p) == 1) return fault_point("readdir", p);
  return 0;
}

struct dirent *readdir(DIR *d) {
  resolve();
  int e = readdir_fault(d);
  if (e) {
    errno = e;
    return NULL;
  }
  return real_readdir(d);
}

struct dirent64 *readdir64(DIR *d) {
  resolve();
  int e = readdir_fault(d);
  if (e) {
    errno = e;
    return NULL;
  }
  return real_readdir64(d);
}
