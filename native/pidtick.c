/*
 * nsm-helper pidtick: the clock of `nsm monitor`'s poll mode (driver: src/sys/pid-ticker.ts).
 *
 * The monitor notices new processes by the kernel's pid cursor: /proc/loadavg's fifth
 * field, the last pid handed out in the reader's PID namespace (proc(5)). To see a process
 * that lives 100 ms it must look every 10-50 ms. Why C: on this VM one wake-up of Node costs
 * about 0.2 ms of CPU and one of this small process about 0.05 ms (bench/RESULTS.md,
 * "monitor"), and on a quiet host nothing else happens between looks. So this process does
 * the looking, a pread(2) on a kept fd per period, and writes only when the cursor moved:
 * Node wakes only when there is something to read.
 *
 * Protocol: text lines.
 *   stdin  -> "MS\n"     a new period in milliseconds (PIDTICK_MIN_MS..PIDTICK_MAX_MS)
 *   stdin  -> EOF        the monitor has gone or closed it: exit 0
 *   stdout <- "PID\n"    the cursor moved since the last look; PID is the last pid handed out
 * At start it looks once, silently: the first line means a pid was handed out since.
 * Exit codes: in pidtick.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "pidtick.h"

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

static long parse_period(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || (*end != '\0' && *end != '\n') || v < PIDTICK_MIN_MS || v > PIDTICK_MAX_MS)
		return -1;
	return v;
}

static void write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(PIDTICK_EXIT_OUTPUT); /* the monitor went away */
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void usage_exit(void)
{
	dprintf(STDERR_FILENO, "usage: nsm-helper pidtick [--proc ROOT] MS\n");
	_exit(PIDTICK_EXIT_USAGE);
}

int pidtick_main(int argc, char **argv)
{
	const char *root = "/proc";
	long period = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--proc") && i + 1 < argc)
			root = argv[++i];
		else if ((period = parse_period(argv[i])) < 0)
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

	/* Commands are short lines; a partial one waits in `in` for its newline. */
	char in[64];
	size_t inlen = 0;
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	for (;;) {
		/* The sleep and the wait for a command are one poll(2). */
		int rc = poll(&pfd, 1, (int)period);
		if (rc < 0 && errno != EINTR)
			return PIDTICK_EXIT_INPUT;
		if (rc > 0) {
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
				long v = parse_period(in);
				if (v < 0) {
					dprintf(STDERR_FILENO, "nsm-helper pidtick: bad period: %s\n", in);
					return PIDTICK_EXIT_USAGE;
				}
				period = v;
				inlen -= (size_t)(nl + 1 - in);
				memmove(in, nl + 1, inlen + 1);
			}
			if (inlen == sizeof(in) - 1)
				return PIDTICK_EXIT_USAGE; /* a line too long to be a period */
			continue; /* a command is not a look: wait out the (new) period */
		}
		long last = last_pid(fd);
		if (last < 0)
			return PIDTICK_EXIT_LOADAVG;
		if (last != prev) {
			char line[32];
			int len = snprintf(line, sizeof(line), "%ld\n", last);
			write_all(line, (size_t)len);
			prev = last;
		}
	}
}
