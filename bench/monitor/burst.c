/*
 * Paced namespace churn for bench/monitor/run.mjs (and the loss test): start RATE
 * processes a second for SECS seconds, each exec'ing CMD (default `unshare -n true`: one
 * network namespace that lives well under a millisecond), at most MAXFLIGHT at a time.
 * Node's spawn() is too slow to reach ~2,000 a second on two cores; fork+exec in C is not.
 *
 *   burst RATE SECS [MAXFLIGHT] [-- CMD ARGS...]
 *
 * Prints one line per child when reaped: "<pid> <status>" (status 0: its namespace was
 * made), then "# started N ok M wall_ms W" on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long inflight, ok;

static void reap(int block) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, block ? 0 : WNOHANG)) > 0) {
    inflight--;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code == 0) ok++;
    printf("%d %d\n", pid, code);
    if (block) break;
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: burst RATE SECS [MAXFLIGHT] [-- CMD ARGS...]\n");
    return 2;
  }
  double rate = atof(argv[1]), secs = atof(argv[2]);
  long maxflight = 64;
  char *dflt[] = {"unshare", "-n", "true", NULL};
  char **cmd = dflt;
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      if (i + 1 < argc) cmd = &argv[i + 1];
      break;
    }
    if (i == 3) maxflight = atol(argv[i]);
  }
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  long total = (long)(rate * secs), started = 0;
  double t0 = now_ms(), gap = 1000.0 / rate;
  while (started < total) {
    double due = t0 + started * gap, t = now_ms();
    if (due > t) {
      struct timespec d = {(time_t)((due - t) / 1000), (long)(((due - t) - (long)((due - t) / 1000) * 1000) * 1e6)};
      nanosleep(&d, NULL);
    }
    reap(0);
    while (inflight >= maxflight) reap(1);
    pid_t pid = fork();
    if (pid < 0) {
      if (errno == EAGAIN) {
        reap(1);
        continue;
      }
      perror("fork");
      break;
    }
    if (pid == 0) {
      execvp(cmd[0], cmd);
      _exit(127);
    }
    inflight++;
    started++;
  }
  while (inflight > 0) reap(1);
  fflush(stdout);
  fprintf(stderr, "# started %ld ok %ld wall_ms %.0f\n", started, ok, now_ms() - t0);
  return 0;
}
