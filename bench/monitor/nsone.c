#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>
/*
 * `unshare -u true` as one small static binary, for bench/monitor/run.mjs --rate-cmd nsone:
 * a new uts namespace, then an exec of itself (the event that shows it), then exit. Two execs
 * of a static binary cost a fraction of unshare(1)'s and true's dynamic ones, so a small
 * machine makes more namespaces a second with it.
 */
int main(int argc, char **argv) {
	if (argc > 1) return 0;
	if (unshare(CLONE_NEWUTS) < 0) return 1;
	execl("/proc/self/exe", argv[0], "x", (char *)0);
	return 1;
}
