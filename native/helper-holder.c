/*
 * nsm-helper stage "holder" (holder mode): nsm:helper makes the namespaces (helper-setup.c),
 * forks nsm:holder, PID 1 of the new pid namespace, reports READY once it is set up, and lets
 * it go only when the driver acknowledges (NSM_READY_ACK). The holder mounts /proc, leaves the
 * caller's session and descriptors, and then only reaps children until SIGTERM or SIGINT. It
 * lives as long as the environment and is a process of namespaces owned by a user namespace
 * only a single-threaded process can make: small C, a few hundred kB resident, no runtime.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helper.h"

/* Keep only syncfd (moved to fd 3); stdio becomes /dev/null. */
static void close_inherited_fds(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0)
		die(0, "open(/dev/null)");
	for (int fd = 0; fd < 3; fd++)
		if (dup2(null, fd) < 0)
			die(0, "dup2(/dev/null, %d)", fd);
	if (syncfd != 3) {
		if (dup3(syncfd, 3, O_CLOEXEC) < 0)
			die(0, "dup3(socket, 3)");
		syncfd = 3;
	}
	if (close_range(4, ~0U, 0) < 0)
		die(0, "close_range(4, ~0)");
}

/*
 * ps(1) shows a process's arguments from /proc/PID/cmdline, i.e. its original argv strings.
 * Like setproctitle(3), the holder writes "nsm:holder NAME" over them and pads with NULs, so
 * that `ps -o args` tells holders apart (comm stays "nsm:holder", from PR_SET_NAME). Only the
 * argv strings are reused, never the environment after them (tests and tools read
 * /proc/PID/environ); the title is cut to fit, though "nsm-helper holder - NAME" always has
 * room for it. cmdline is read up to the end of argv while its last byte is NUL, which the
 * padding keeps (fs/proc/base.c get_mm_cmdline, Linux 5.2+; checked on 6.18).
 */
static void set_title(const struct config *c)
{
	char title[160];
	int n = snprintf(title, sizeof title, "nsm:holder %s", c->name);
	size_t len = n < 0 ? 0 : (size_t)n >= sizeof title ? sizeof title - 1 : (size_t)n;

	if (c->argv_len == 0)
		return;
	if (len > c->argv_len - 1)
		len = c->argv_len - 1;
	memset(c->argv_area, 0, c->argv_len);
	memcpy(c->argv_area, title, len);
}

/* setns(2): a process cannot re-enter its own user namespace (EINVAL); nsenter skips it too. */
static bool own_user_ns(int fd)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0 || stat("/proc/self/ns/user", &b) < 0)
		die(0, "stat(/proc/self/ns/user)");
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * nsm adopt without root: the holder of existing namespaces (the inherited NSM_CFG_JOIN_NS
 * fds) instead of new ones. User first, so that we hold every capability in the namespace
 * that owns the others (user_namespaces(7)), then nsenter's order; the holder is forked
 * after, because setns(2) of a pid or time namespace applies to children only. The
 * identity stays the caller's: the holder only has to exist, and stay ours to stop.
 */
static void join_namespaces(const struct config *c)
{
	for (size_t k = 0; k < NS_COUNT; k++) {
		for (int i = 0; i < c->njoin; i++) {
			const struct join_ns *j = &c->join[i];
			struct stat st;

			if (j->type != (uint32_t)ns_order[k].flag)
				continue;
			if (fstat(j->fd, &st) < 0)
				die(0, "fstat(%s namespace fd %d)", ns_order[k].name, j->fd);
			if (j->ino != 0 && st.st_ino != j->ino)
				diex(0, ESTALE, "%s namespace fd %d is inode %llu, expected %llu", ns_order[k].name,
				     j->fd, (unsigned long long)st.st_ino, (unsigned long long)j->ino);
			if (j->type == CLONE_NEWUSER && own_user_ns(j->fd))
				continue;
			if (setns(j->fd, j->type) < 0)
				die(0, "setns(%s)", ns_order[k].name);
		}
	}
	for (int i = 0; i < c->njoin; i++)
		close(c->join[i].fd);
}

/*
 * Stage "nsm:holder": PID 1 of the new pid namespace (when there is one). It mounts /proc,
 * leaves the caller's session and descriptors, reports, and then only reaps children until
 * SIGTERM or SIGINT. When it exits, the kernel kills every other process of its pid
 * namespace (pid_namespaces(7)).
 */
static noreturn void holder(const struct config *c, const sigset_t *set)
{
	struct frame f;
	siginfo_t si;

	prctl(PR_SET_NAME, "nsm:holder");
	if (c->name)
		set_title(c);
	/* A procfs mount shows the pid namespace of its mounter (pid_namespaces(7)): PID 1 mounts it. */
	if (c->mount_proc)
		mount_fresh("proc", "/proc");
	if (setsid() < 0)
		die(0, "setsid");
	if (chdir("/") < 0)
		die(0, "chdir(/)");
	close_inherited_fds();
	signal(SIGHUP, SIG_IGN);
	/* Without a pid namespace it is not PID 1; adopt orphans of anything it may start anyway. */
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		die(0, "prctl(PR_SET_CHILD_SUBREAPER)");
	write_frame(syncfd, NSM_SYNC_CHILD_READY, NULL, 0, 0);
	/*
	 * End of file instead of NSM_SYNC_DETACH: the helper died before the driver acknowledged
	 * READY (or before it reported), so nobody has noted this holder; so we end too.
	 */
	if (!read_frame(syncfd, &f, "read(NSM_SYNC_DETACH)", true, 0) || f.code != NSM_SYNC_DETACH)
		_exit(NSM_EXIT_FAIL);
	free(f.data);
	close(syncfd);
	syncfd = -1;

	for (;;) {
		int sig = sigwaitinfo(set, &si);

		if (sig == SIGCHLD)
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		else if (sig == SIGTERM || sig == SIGINT)
			_exit(NSM_EXIT_OK);
	}
}

/*
 * The driver's answer to NSM_READY, on `in` (stdin, or the socket): NSM_READY_ACK says it has
 * noted the holder (src/core/create.ts writes its pid and start time into the reservation), so
 * that a create killed from now on is undone by gc or the next create of the name. End of file
 * instead (the driver died: the pipe's only writer is gone) or anything else means nobody will
 * ever know of the holder: it is SIGKILLed and reaped (die()/diex() with it as the child) before
 * the helper reports and exits. It is our unreaped child, so its pid cannot have been reused.
 */
static void expect_ack(int in, pid_t holder)
{
	struct frame f;

	if (!read_frame(in, &f, "read(NSM_READY_ACK)", true, holder))
		diex(holder, ECANCELED, "read(NSM_READY_ACK): end of file: the driver went away before it noted the holder");
	if (f.code != NSM_READY_ACK)
		diex(holder, EPROTO, "read(NSM_READY_ACK): unexpected %s (0x%02x)", msg_name(f.code), f.code);
	if (f.len != 0)
		diex(holder, EPROTO, "read(NSM_READY_ACK): payload of %u bytes, expected 0", f.len);
	free(f.data);
}

/*
 * Stage "nsm:helper" of a holder: create the namespaces, fork the holder, report READY once it
 * is set up, and let it go only when the driver acknowledges (expect_ack()). Until
 * NSM_SYNC_DETACH the holder waits on its socket, and exits if that reaches end of file: a
 * helper killed while it waits for the driver takes the holder with it as well. The holder
 * has let go of everything of its caller's before it reports (stdio is /dev/null, other
 * descriptors closed), so the helper's stdout reaches end of file when the helper exits.
 */
noreturn void do_holder(const struct config *c, int in)
{
	sigset_t set;
	unsigned char pid_le[4];
	int sock;
	pid_t h;

	if (c->njoin > 0)
		join_namespaces(c);
	else
		create_namespaces(c);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* Blocked before fork, so a SIGTERM right after READY is queued, not lost. */
	catch_signals(&set);
	h = fork_with_socket(&sock, "holder");
	if (h == 0)
		holder(c, &set);
	/* The holder is set up and holds nothing of its caller's but this socket (fds closed, stdio /dev/null). */
	expect_frame(sock, NSM_SYNC_CHILD_READY, h);
	for (int i = 0; i < 4; i++)
		pid_le[i] = (uint32_t)h >> (8 * i);
	/* SIGPIPE is ignored (main()): a driver already gone makes this fail with EPIPE, and die() kills the holder. */
	write_frame(syncfd, NSM_READY, pid_le, 4, h);
	expect_ack(in, h);
	if (waitpid(h, NULL, WNOHANG) != 0)
		diex(0, ECHILD, "holder (it exited before it was detached)");
	/*
	 * No need to wait for the holder to read it: a stream socket's data stays readable after
	 * its writer has closed (unix(7)), so the holder gets NSM_SYNC_DETACH, not end of file.
	 */
	write_frame(sock, NSM_SYNC_DETACH, NULL, 0, h);
	_exit(NSM_EXIT_OK);
}
