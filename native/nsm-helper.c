/*
 * nsm-helper: the single-threaded part of nsm.
 *
 * A Node.js process always runs several threads, and unshare(2)/setns(2) of a user namespace
 * fail with EINVAL in a multi-threaded process. So everything that starts with a user
 * namespace (creating one, the namespaces it must own, its uid/gid maps, joining one) happens
 * here, and so does the PID-1 holder of an environment, which must stay tiny.
 *
 *   nsm-helper holder SYNCFD|- [NAME]   create namespaces, fork their PID 1 holder (shown by
 *                                      ps as "nsm:holder NAME"), report READY, and once the
 *                                      driver acknowledges it (NSM_READY_ACK) exit 0
 *   nsm-helper run SYNCFD               create namespaces, run a command inside, exit with its status
 *   nsm-helper join SYNCFD              join inherited namespace fds, run a command inside, same
 *
 * The configuration arrives as frames on SYNCFD (or, for a holder given "-", on stdin, with
 * the replies on stdout); native/PROTOCOL.md describes the protocol and protocol.h holds its
 * numbers. Every failure is reported as NSM_FAIL (step + errno
 * name) after killing any child already made, and the helper exits NSM_EXIT_FAIL.
 *
 * This file is the stage "main": argv, the driver's channel, the configuration, then one mode.
 * The other stages have a file each (helper.h lists them), as runc splits libcontainer/nsenter.
 *
 * Kernel rules in these files were checked on Linux 6.18.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "helper.h"
#include "scan.h"
#include "pidtick.h"
#include "connector.h"
#include "netwatch.h"

/* ------------------------------------------------------------------ main */

static noreturn void usage(void)
{
	dprintf(STDERR_FILENO,
		"usage: nsm-helper holder|run|join SYNCFD\n"
		"       nsm-helper holder - [NAME]\n"
		"       nsm-helper scan [--proc ROOT] [--types MASK] [--no-fds] [--no-threads] [--jobs N]\n"
		"       nsm-helper pidtick [--proc ROOT] [--list MS] [--scan-fd FD] MS\n"
		"       nsm-helper connector [--proc ROOT] [--types MASK] [--rcvbuf BYTES] [--ack-ms MS]\n"
		"       nsm-helper netwatch PID STARTTIME PROGRAM [ARG]...\n"
		"The helper of nsm(1); it speaks the protocol in native/PROTOCOL.md on SYNCFD, or for a\n"
		"holder given \"-\" on stdin and stdout.\n");
	exit(NSM_EXIT_FAIL);
}

/*
 * Open the driver's channel named by `arg` and return the fd to read the configuration from;
 * syncfd becomes the one replies go to. A number is an inherited socket that carries both
 * directions. NSM_CHANNEL_STDIO ("-", holder only) is stdin and stdout, which lets the driver
 * run the helper as one plain child process with its input and output (spawnSync): both
 * move to close-on-exec descriptors above 2 and stdin and stdout become /dev/null, so that
 * nothing but the helper's own frames reaches the reply stream (newuidmap inherits stdio).
 */
static int open_channel(const char *arg, enum mode mode)
{
	char *end;
	long fd;
	int in, null;

	if (strcmp(arg, NSM_CHANNEL_STDIO) == 0) {
		if (mode != MODE_HOLDER)
			usage();
		in = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
		if (in < 0)
			die(0, "fcntl(stdin, F_DUPFD_CLOEXEC)");
		syncfd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
		if (syncfd < 0)
			die(0, "fcntl(stdout, F_DUPFD_CLOEXEC)");
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0)
			die(0, "open(/dev/null)");
		if (dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
			die(0, "dup2(/dev/null, stdin and stdout)");
		close(null);
		return in;
	}
	errno = 0;
	fd = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || fd < 3 || fd > INT_MAX || fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
		usage();
	syncfd = (int)fd;
	return syncfd;
}

/* Bytes from argv[0] to the end of the last argv string, as far as they are contiguous. */
static size_t argv_span(int argc, char **argv)
{
	char *end = argv[0];

	for (int i = 0; i < argc && argv[i] == end; i++)
		end += strlen(argv[i]) + 1;
	return end - argv[0];
}

/*
 * ps(1) shows a process's arguments from /proc/PID/cmdline, i.e. its original argv strings.
 * Like setproctitle(3), holder and init write "STAGE NAME" over them, so that `ps -o args`
 * tells them apart (comm is the stage, from PR_SET_NAME). Only the argv strings are reused,
 * never the environment after them (tests and tools read /proc/PID/environ); the title is
 * cut to fit. The bytes after the title are NULs but the last one: when the last byte of the
 * argv area is not NUL, the kernel takes the area as rewritten and returns it up to its first
 * NUL (fs/proc/base.c get_mm_cmdline/get_mm_proctitle, Linux 5.2+; checked on 6.18), so
 * cmdline reads exactly "STAGE NAME\0", with no padding for readers to trim.
 */
void set_title(const struct config *c, const char *stage, const char *name)
{
	char title[160];
	int n = snprintf(title, sizeof title, name && *name ? "%s %s" : "%s", stage, name);
	size_t len = n < 0 ? 0 : (size_t)n >= sizeof title ? sizeof title - 1 : (size_t)n;

	if (c->argv_len < 2)
		return;
	if (len > c->argv_len - 1)
		len = c->argv_len - 1;
	memset(c->argv_area, 0, c->argv_len);
	memcpy(c->argv_area, title, len);
	/* Not the title's own NUL: then a filler the kernel never shows (see above). */
	if (len + 1 < c->argv_len)
		c->argv_area[c->argv_len - 1] = '.';
}

int main(int argc, char **argv)
{
	static const struct { const char *name; enum mode mode; } modes[] = {
		{ "holder", MODE_HOLDER }, { "run", MODE_RUN }, { "join", MODE_JOIN },
	};
	struct config c = { .setgroups = NSM_SETGROUPS_DENY, .propagation = NSM_PROP_PRIVATE,
			    .loopback = NSM_LOOPBACK_UP, .kill_signal = SIGKILL,
			    .root_fd = -1, .wd_fd = -1 };
	int in;

	/* `scan` is a read-only /proc walk with its own argv and no protocol pipe (scan.c). */
	if (argc >= 2 && strcmp(argv[1], "scan") == 0)
		return scan_main(argc - 1, argv + 1);
	/* `pidtick` is the monitor's poll clock, with a line protocol on stdin/stdout (pidtick.c). */
	if (argc >= 2 && strcmp(argv[1], "pidtick") == 0)
		return pidtick_main(argc - 1, argv + 1);
	/* `connector` is the monitor's event mode: process events and each process's namespaces (connector.c). */
	if (argc >= 2 && strcmp(argv[1], "connector") == 0)
		return connector_main(argc - 1, argv + 1);
	/* `netwatch` runs pasta for as long as a holder lives (netwatch.c). */
	if (argc >= 2 && strcmp(argv[1], "netwatch") == 0)
		return netwatch_main(argc - 1, argv + 1);
	for (size_t i = 0; argc >= 3 && i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			c.mode = modes[i].mode;
	/* Only a holder takes a NAME (for its title); it must not be empty. */
	if (c.mode == 0 || argc > 4 || (argc == 4 && (c.mode != MODE_HOLDER || argv[3][0] == '\0')))
		usage();
	if (argc == 4)
		c.name = argv[3];
	c.argv_area = argv[0];
	c.argv_len = argv_span(argc, argv);
	/* A vanished driver then shows as EPIPE on the write that names its step. */
	signal(SIGPIPE, SIG_IGN);
	in = open_channel(argv[2], c.mode);
	prctl(PR_SET_NAME, "nsm:helper");
	read_config(in, &c);
	switch (c.mode) {
	case MODE_HOLDER:
		/* `in` stays open: the driver's NSM_READY_ACK comes on it (the holder does not keep it). */
		do_holder(&c, in);
	case MODE_RUN:
		do_run(&c);
	case MODE_JOIN:
		do_join(&c);
	}
	return NSM_EXIT_FAIL;
}
