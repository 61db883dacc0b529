/*
 * nsm-helper pidtick: the eyes of `nsm monitor`'s poll mode on /proc (driver:
 * src/sys/pid-ticker.ts).
 *
 * The monitor notices new processes by the kernel's pid cursor: /proc/loadavg's fifth
 * field, the last pid handed out in the reader's PID namespace (proc(5)). To see a process
 * that lives 100 ms it must look every 10-50 ms; and it lists /proc every --interval to see
 * processes go. Why C: one wake-up of Node costs several times the CPU of one of this small
 * process, and a listing of /proc in Node several times more (bench/RESULTS.md, "monitor"); on a quiet host nothing changes between looks. So this
 * process does the looking (a pread(2) on a kept fd) and the listing, and writes only what
 * changed: Node wakes only when there is something to read.
 *
 * It also runs the monitor's rescans (--scan-fd): a fork of this small static process costs
 * a fraction of a millisecond, a fork of Node several (bench/RESULTS.md, "monitor").
 *
 * Protocol: text lines.
 *   stdin  -> "MS\n"          look every MS milliseconds from now on (PIDTICK_MIN_MS..PIDTICK_MAX_MS)
 *   stdin  -> "S ARGS...\n"   (--scan-fd FD) run `nsm-helper scan ARGS` (scan.c, arguments split
 *                             at spaces) in a child whose stdout is FD; one scan at a time
 *   stdin  -> EOF             the monitor has gone or closed it: exit 0
 *   stdout <- "M PID\n"       the cursor moved since the last look; PID is the last pid handed out
 *   stdout <- "+ PID\n"       (--list) PID is listed in ROOT now and was not at the last listing
 *   stdout <- "- PID\n"       (--list) PID was listed at the last listing and is not now
 *   FD     <- the scan's records, then "X STATUS PID\n" once the scan (PID) has exited:
 *             STATUS is its exit code, or 128 + the signal that killed it. Records never
 *             start with X (scan.c), so the line ends the scan unambiguously.
 * At start it looks and lists once, silently: changes are relative to that moment. Lines of
 * one wake-up are written with one write(2) when they fit in PIPE_BUF.
 * Exit codes: in pidtick.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lineout.h"
#include "pidtick.h"
#include "scan.h"

static void out_pid(struct out *o, char kind, long pid)
{
	char line[32];
	int len = snprintf(line, sizeof(line), "%c %ld\n", kind, pid);

	out_line(o, line, (size_t)len);
}

/* The fifth field of /proc/loadavg ("0.20 0.18 0.12 1/80 11206"), or -1. */
static long last_pid(int fd)
{
	char buf[128];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = buf;
	for (int field = 0; field < 4; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	char *end;
	long v = strtol(p, &end, 10);
	return end == p ? -1 : v;
}

struct pids {
	long *v;
	size_t n, cap;
};

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

/* The numeric entries of ROOT (the processes), ascending; -1 with errno set on failure. */
static int list_pids(const char *root, struct pids *out)
{
	DIR *d = opendir(root);
	if (!d)
		return -1;
	out->n = 0;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end != '\0')
			continue;
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 1024;
			long *v = realloc(out->v, cap * sizeof(*v));
			if (!v) {
				closedir(d);
				errno = ENOMEM;
				return -1;
			}
			out->v = v;
			out->cap = cap;
		}
		out->v[out->n++] = pid;
	}
	int err = errno;
	closedir(d);
	if (err) {
		errno = err;
		return -1;
	}
	/* procfs lists pids in ascending order already; sorting keeps the merge below right regardless. */
	qsort(out->v, out->n, sizeof(*out->v), cmp_long);
	return 0;
}

/* "+"/"-" lines for what `cur` has that `prev` has not, and the other way round (both ascending). */
static void diff_pids(const struct pids *prev, const struct pids *cur, struct out *o)
{
	size_t i = 0, j = 0;
	while (i < prev->n || j < cur->n) {
		if (j == cur->n || (i < prev->n && prev->v[i] < cur->v[j]))
			out_pid(o, '-', prev->v[i++]);
		else if (i == prev->n || cur->v[j] < prev->v[i])
			out_pid(o, '+', cur->v[j++]);
		else
			i++, j++;
	}
}

static long parse_ms(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || (*end != '\0' && *end != '\n') || v < PIDTICK_MIN_MS || v > PIDTICK_MAX_MS)
		return -1;
	return v;
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage_exit(void)
{
	dprintf(STDERR_FILENO, "usage: nsm-helper pidtick [--proc ROOT] [--list MS] [--scan-fd FD] MS\n");
	_exit(PIDTICK_EXIT_USAGE);
}

/* A scan running in a child, and its pidfd (pidfd_open(2), Linux 5.3) or -1. */
struct scan_run {
	pid_t pid;
	int pidfd;
};

#define SCAN_MAX_ARGS 32

/* Fork `nsm-helper scan` with ARGS (a line split at spaces) and FD as its stdout. */
static int start_scan(char *line, int fd, struct scan_run *run)
{
	char *argv[SCAN_MAX_ARGS + 2] = { "scan" };
	int argc = 1;
	for (char *tok = strtok(line, " "); tok; tok = strtok(NULL, " ")) {
		if (argc == SCAN_MAX_ARGS + 1)
			return -1;
		argv[argc++] = tok;
	}
	argv[argc] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* The scan writes its records to FD; stdin and our own stdout are not its business. */
		if (dup2(fd, STDOUT_FILENO) < 0)
			_exit(SCAN_EXIT_OUTPUT);
		close(fd);
		close(STDIN_FILENO);
		prctl(PR_SET_NAME, "nsm:scan");
		_exit(scan_main(argc, argv));
	}
	run->pid = pid;
	run->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return 0;
}

/* Reap a finished scan and end its records with "X STATUS PID"; 0 while it still runs. */
static int finish_scan(int fd, struct scan_run *run)
{
	int st;
	pid_t r = waitpid(run->pid, &st, WNOHANG);
	if (r == 0 || (r < 0 && errno == EINTR))
		return 0;
	int status = r < 0 ? 127 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	char line[48];
	int len = snprintf(line, sizeof(line), "X %d %d\n", status, (int)run->pid);
	while (write(fd, line, (size_t)len) < 0) {
		if (errno != EINTR)
			_exit(PIDTICK_EXIT_OUTPUT);
	}
	if (run->pidfd >= 0)
		close(run->pidfd);
	run->pid = 0;
	run->pidfd = -1;
	return 1;
}

int pidtick_main(int argc, char **argv)
{
	const char *root = "/proc";
	long period = -1, list_ms = 0;
	int scan_fd = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--proc") && i + 1 < argc)
			root = argv[++i];
		else if (!strcmp(argv[i], "--list") && i + 1 < argc) {
			if ((list_ms = parse_ms(argv[++i])) < 0)
				usage_exit();
		} else if (!strcmp(argv[i], "--scan-fd") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end != '\0' || v < 3 || v > INT_MAX || fcntl((int)v, F_SETFD, FD_CLOEXEC) < 0)
				usage_exit();
			scan_fd = (int)v;
		} else if (period >= 0 || (period = parse_ms(argv[i])) < 0)
			usage_exit();
	}
	if (period < 0)
		usage_exit();
	prctl(PR_SET_NAME, "nsm:pidtick");
	/* A write to a closed stdout then fails with EPIPE and we exit, instead of dying of SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/loadavg", root);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long prev = fd < 0 ? -1 : last_pid(fd);
	if (prev < 0) {
		dprintf(STDERR_FILENO, "nsm-helper pidtick: cannot read %s: %s\n", path, strerror(errno ? errno : EINVAL));
		return PIDTICK_EXIT_LOADAVG;
	}
	struct pids listed = { 0 }, now_listed = { 0 };
	if (list_ms > 0 && list_pids(root, &listed) < 0) {
		dprintf(STDERR_FILENO, "nsm-helper pidtick: cannot list %s: %s\n", root, strerror(errno));
		return PIDTICK_EXIT_LIST;
	}

	static struct out o;

	o.exit_status = PIDTICK_EXIT_OUTPUT; /* the monitor went away */
	/* Commands are lines; a partial one waits in `in` for its newline. */
	char in[PATH_MAX + 256];
	size_t inlen = 0;
	struct scan_run scan = { .pid = 0, .pidfd = -1 };
	/* stdin, and the running scan's pidfd (readable once it has exited). */
	struct pollfd pfd[2] = { { .fd = STDIN_FILENO, .events = POLLIN }, { .fd = -1, .events = POLLIN } };
	long long next_look = mono_ms() + period;
	long long next_list = list_ms > 0 ? mono_ms() + list_ms : LLONG_MAX;
	for (;;) {
		long long t = mono_ms();
		long long due = next_look < next_list ? next_look : next_list;
		pfd[1].fd = scan.pidfd;
		/* Without a pidfd, look for the scan's end every few ms. */
		if (scan.pid > 0 && scan.pidfd < 0 && due > t + 5)
			due = t + 5;
		/* The sleep and the wait for a command (or a scan's end) are one poll(2). */
		int rc = poll(pfd, 2, due > t ? (int)(due - t) : 0);
		if (rc < 0 && errno != EINTR)
			return PIDTICK_EXIT_INPUT;
		if (scan.pid > 0)
			finish_scan(scan_fd, &scan);
		if (rc > 0 && pfd[0].revents) {
			ssize_t n = read(STDIN_FILENO, in + inlen, sizeof(in) - 1 - inlen);
			if (n == 0)
				return 0; /* EOF: the monitor closed stdin or died */
			if (n < 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				return PIDTICK_EXIT_INPUT;
			}
			inlen += (size_t)n;
			in[inlen] = '\0';
			char *nl;
			while ((nl = strchr(in, '\n')) != NULL) {
				*nl = '\0';
				if (in[0] == 'S' && (in[1] == ' ' || in[1] == '\0')) {
					if (scan_fd < 0 || scan.pid > 0 || start_scan(in + 1, scan_fd, &scan) < 0) {
						dprintf(STDERR_FILENO, "nsm-helper pidtick: cannot start a scan: %s\n",
							scan_fd < 0 ? "no --scan-fd" : scan.pid > 0 ? "one is running" : strerror(errno));
						return PIDTICK_EXIT_SCAN;
					}
				} else {
					long v = parse_ms(in);
					if (v < 0) {
						dprintf(STDERR_FILENO, "nsm-helper pidtick: bad period: %s\n", in);
						return PIDTICK_EXIT_USAGE;
					}
					period = v;
					next_look = mono_ms() + period;
				}
				inlen -= (size_t)(nl + 1 - in);
				memmove(in, nl + 1, inlen + 1);
			}
			if (inlen == sizeof(in) - 1)
				return PIDTICK_EXIT_USAGE; /* a line too long to be a command */
			continue;
		}
		if (rc > 0 && !(pfd[0].revents) && mono_ms() < (next_look < next_list ? next_look : next_list))
			continue; /* only the scan's end woke us */
		t = mono_ms();
		if (t >= next_look) {
			long last = last_pid(fd);
			if (last < 0)
				return PIDTICK_EXIT_LOADAVG;
			if (last != prev)
				out_pid(&o, 'M', last);
			prev = last;
			next_look = t + period;
		}
		if (t >= next_list) {
			if (list_pids(root, &now_listed) < 0)
				return PIDTICK_EXIT_LIST;
			diff_pids(&listed, &now_listed, &o);
			struct pids swap = listed;
			listed = now_listed;
			now_listed = swap;
			next_list = t + list_ms;
		}
		out_flush(&o);
	}
}
