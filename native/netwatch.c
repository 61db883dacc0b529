/*
 * nsm-helper netwatch [--owner OPID OSTARTTIME [--rmdir DIR]] PID STARTTIME PROGRAM [ARG]...:
 * run PROGRAM (pasta) as a child for as long as process PID (an environment's holder) lives,
 * and no longer. With --owner (nsm unshare's one-shot holder): when process OPID exits (nsm,
 * even SIGKILLed), PID gets SIGKILL (pidfd_send_signal(2): the process the pidfd names, never
 * a reused pid), which ends PID's namespaces and the command in them, and PROGRAM gets its
 * SIGTERM at the same moment: the holder's own exit can lag (a pid namespace's init exits only
 * once every process inside has been reaped, pid_namespaces(7), and a command that joined from
 * outside is reaped by its parent outside, or by whoever inherits it), and the network has no
 * use once the owner is gone. --rmdir: DIR (the owner's files for PROGRAM: pid file, log) and
 * the files in it are removed when netwatch ends after the owner has gone, since the owner
 * cannot remove them any more; while the owner lives, it removes them (and reads the log).
 *
 * Why: pasta keeps the network namespace it serves open, and this pasta (Debian 12's
 * 2023-03 snapshot) only quits by itself when a filesystem-bound --netns path is deleted
 * (pasta(1) --no-netns-quit; an inotify watch, which never fires for /proc/PID/ns/net). So a
 * holder killed by someone would leave pasta, its published ports and the namespace until
 * `nsm gc`. This small process ties them together without a daemon:
 *
 *  - a pidfd of PID (pidfd_open(2), Linux 5.3) becomes readable when PID exits, whoever
 *    reaps it; STARTTIME (proc(5) stat field 22) is checked after the pidfd is open, so the
 *    pidfd names that process and not a later one with the same number;
 *  - PROGRAM is forked with PR_SET_PDEATHSIG(SIGKILL) (prctl(2)): if this process is
 *    killed (SIGKILL from gc), the kernel kills PROGRAM too;
 *  - SIGTERM/SIGINT/SIGHUP are passed on to PROGRAM, and this process exits only once
 *    PROGRAM has been reaped: when it has gone, so have PROGRAM's sockets (its ports).
 *
 * PID 0 (and STARTTIME 0): no holder to follow, for an environment whose namespaces are
 * pinned and so outlive their holder by design (nsm create --pin): PROGRAM then lives until
 * it is stopped through this process (destroy, gc) or ends by itself.
 *
 * nsm records this process's pid and start time (not PROGRAM's): ending it ends PROGRAM.
 * Exit status: PROGRAM's exit code, or 128 + the signal that ended it; 125 when it could not
 * be started or PID is not the process named (already gone: ESRCH).
 */
#include <dirent.h>
#include <errno.h>
#include <stdnoreturn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "netwatch.h"

#define NETWATCH_FAIL 125
/* After PID is gone: SIGTERM to PROGRAM, then SIGKILL if it has not exited within this. pasta
 * exits at once on SIGTERM (its handler exits 0; slirp4netns's default action ends it), so this
 * is only the bound for a program that is stopped or stuck, never a wait in the normal case. */
#define NETWATCH_GRACE_MS 500

static noreturn void fail(const char *what)
{
	dprintf(STDERR_FILENO, "nsm-helper netwatch: %s: %s\n", what, strerror(errno));
	exit(NETWATCH_FAIL);
}

/* Field 22 of /proc/PID/stat (after the comm in parentheses, which may hold spaces). */
static int start_time_of(pid_t pid, unsigned long long *out)
{
	char path[64], buf[1024];
	int fd, field = 2; /* the comm ends field 2 */
	ssize_t n;
	char *p;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	for (p++; *p && field < 22; p++)
		if (*p == ' ' && p[1] != ' ')
			field++;
	if (field != 22)
		return -1;
	*out = strtoull(p, NULL, 10);
	return 0;
}

static int status_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* --rmdir: DIR's entries (files only: nothing else is put there), then DIR; best effort. */
static void remove_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *e;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(fd, e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

int netwatch_main(int argc, char **argv)
{
	sigset_t sigs, old;
	unsigned long long want, have;
	struct pollfd fds[4];
	int holder, child_fd, sfd, status, ending = 0, owner = -1, owner_gone = 0;
	pid_t pid, parent = getpid(), child;
	const char *rmdir_path = NULL;
	char *end;

	if (argc >= 4 && strcmp(argv[1], "--owner") == 0) {
		pid_t opid = (pid_t)strtol(argv[2], &end, 10);

		if (*end || opid <= 1) {
			errno = EINVAL;
			fail("OPID");
		}
		want = strtoull(argv[3], &end, 10);
		owner = (int)syscall(SYS_pidfd_open, opid, 0);
		if (*end || owner < 0 || start_time_of(opid, &have) < 0 || have != want) {
			errno = ESRCH;
			fail("OPID is not the process named");
		}
		argc -= 3;
		argv += 3;
		if (argc >= 3 && strcmp(argv[1], "--rmdir") == 0) {
			rmdir_path = argv[2];
			argc -= 2;
			argv += 2;
		}
	}
	if (argc < 4) {
		dprintf(STDERR_FILENO, "usage: nsm-helper netwatch [--owner OPID OSTARTTIME [--rmdir DIR]] PID STARTTIME PROGRAM [ARG]...\n");
		return NETWATCH_FAIL;
	}
	pid = (pid_t)strtol(argv[1], &end, 10);
	if (*end || pid < 0 || pid == 1) {
		errno = EINVAL;
		fail("PID");
	}
	want = strtoull(argv[2], &end, 10);
	if (*end) {
		errno = EINVAL;
		fail("STARTTIME");
	}
	prctl(PR_SET_NAME, "nsm:netwatch");

	holder = pid == 0 ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
	if (pid != 0 && holder < 0)
		fail("pidfd_open(PID)");
	/* Opened first, checked second: a pid reused before the open shows a new start time. */
	if (pid != 0 && (start_time_of(pid, &have) < 0 || have != want)) {
		errno = ESRCH;
		fail("PID is not the process named");
	}

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &sigs, &old) < 0)
		fail("sigprocmask");
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0)
		fail("signalfd");

	child = fork();
	if (child < 0)
		fail("fork");
	if (child == 0) {
		/* prctl(2): the kernel sends SIGKILL when the parent dies; the parent may have died
		 * before this call, hence the getppid check. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(NETWATCH_FAIL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		execv(argv[3], argv + 3);
		dprintf(STDERR_FILENO, "nsm-helper netwatch: execv(%s): %s\n", argv[3], strerror(errno));
		_exit(NETWATCH_FAIL);
	}
	child_fd = (int)syscall(SYS_pidfd_open, child, 0);
	if (child_fd < 0) {
		kill(child, SIGKILL);
		fail("pidfd_open(child)");
	}

	fds[0] = (struct pollfd){ .fd = child_fd, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = holder, .events = POLLIN };
	fds[2] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	fds[3] = (struct pollfd){ .fd = owner, .events = POLLIN };
	for (;;) {
		int n = poll(fds, 4, ending ? NETWATCH_GRACE_MS : -1);

		if (n < 0 && errno != EINTR)
			fail("poll");
		if (n == 0 && ending) {
			kill(child, SIGKILL); /* it had its grace */
			ending = 0;
			continue;
		}
		if (n <= 0)
			continue;
		if (fds[0].revents) {
			while (waitpid(child, &status, 0) < 0)
				if (errno != EINTR)
					fail("waitpid");
			if (rmdir_path && owner_gone)
				remove_dir(rmdir_path);
			return status_code(status);
		}
		if (fds[1].revents && fds[1].fd >= 0) {
			/* The holder is gone: so is the reason for the network. */
			kill(child, SIGTERM);
			ending = 1;
			fds[1].fd = -1;
		}
		if (fds[3].revents && fds[3].fd >= 0) {
			/* The owner is gone: its one-shot holder goes too (PID 1 of its pid namespace),
			 * and so does PROGRAM, now rather than when the holder has finished exiting. */
			if (holder >= 0)
				syscall(SYS_pidfd_send_signal, holder, SIGKILL, NULL, 0);
			fds[3].fd = -1;
			owner_gone = 1;
			if (!ending) {
				kill(child, SIGTERM);
				ending = 1;
			}
		}
		if (fds[2].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof si) == sizeof si) {
				kill(child, (int)si.ssi_signo);
				ending = 1;
			}
		}
	}
}
