/*
 * nsm-helper stage "set-up" (holder and run modes, in nsm:helper): join the cgroups, make the
 * user namespace (helper-userns.c), then unshare the other types in nsenter(1)'s order, each
 * followed by its own set-up: hostname, lo up, mount propagation, a fresh /sys, time offsets.
 * They are made by the process that made the user namespace, so that it owns them, which keeps
 * them single-threaded C too. Also the small steps the stages share: one-write file writes,
 * signal masks and forwarding, exit statuses, reaping.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "helper.h"

/* By column of nstypes.h: nsenter(1)'s join order (util-linux namespace_files[]). */
#define NS_ORDER_(name, proc, flag, value, column) [column] = { flag, #flag, name },
const struct nstype ns_order[] = { NSM_NSTYPES(NS_ORDER_) };

/* Write `data` with one write(2); the map files require exactly that (user_namespaces(7)). */
int write_file(const char *path, const char *data)
{
	size_t len = strlen(data);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = write(fd, data, len);
	if (w >= 0 && (size_t)w != len) {
		w = -1;
		errno = EIO;
	}
	if (w < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return close(fd);
}

/* Before exec: the mask and the ignored signals are inherited across execve(2); restore them. */
void reset_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
}

static void noop_handler(int sig)
{
	(void)sig;
}

/*
 * pid_namespaces(7): PID 1 of a pid namespace only receives the signals it has a handler for.
 * Ours are blocked and taken with sigwaitinfo(); the handlers make sure they are delivered.
 */
void catch_signals(const sigset_t *set)
{
	struct sigaction sa = { .sa_handler = noop_handler };

	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(set, sig) == 1 && sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigprocmask(SIG_BLOCK, set, NULL);
}

/* The signals a run/join helper and a run init pass on to the command. */
sigset_t forwarded_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGWINCH);
	return set;
}

/*
 * Forward only signals a process sent (kill, sigqueue, tgkill: si_code <= 0). A terminal's
 * signals (SI_KERNEL) already reached the whole foreground process group, the command
 * included; sending them again would deliver them twice. sudo(8) follows the same rule.
 */
bool sent_by_process(const siginfo_t *si)
{
	return si->si_code <= 0;
}

/* Shell convention: the status, or 128+N for a command killed by signal N. */
int exit_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return NSM_EXIT_SIGNAL_BASE + WTERMSIG(st);
	return NSM_EXIT_FAIL;
}

int reap(pid_t pid, const char *what)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die(0, "waitpid(%s)", what);
	return st;
}

static void join_cgroup(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	/* "0" is the writer itself, in cgroup v1 and v2 alike (cgroups(7)). */
	if (write_file(path, "0") < 0)
		die(0, "write(%s)", path);
}

static void loopback_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		die(0, "socket(AF_INET, SOCK_DGRAM)");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die(0, "ioctl(lo, SIOCGIFFLAGS)");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die(0, "ioctl(lo, SIOCSIFFLAGS)");
	close(s);
}

static void set_propagation(int prop)
{
	static const struct { unsigned long flag; const char *name; } p[] = {
		[NSM_PROP_PRIVATE] = { MS_PRIVATE, "MS_REC|MS_PRIVATE" },
		[NSM_PROP_SLAVE] = { MS_SLAVE, "MS_REC|MS_SLAVE" },
		[NSM_PROP_SHARED] = { MS_SHARED, "MS_REC|MS_SHARED" },
	};

	if (prop == NSM_PROP_UNCHANGED)
		return;
	if (mount("none", "/", NULL, MS_REC | p[prop].flag, NULL) < 0)
		die(0, "mount(/, %s)", p[prop].name);
}

/*
 * Mount a fresh `type` on `dir`, over what is there. The subtree is made private first so the
 * new mount cannot propagate back into the parent mount namespace, whatever propagation / has
 * (util-linux unshare --mount-proc does the same for /proc).
 */
void mount_fresh(const char *type, const char *dir)
{
	if (mount("none", dir, NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die(0, "mount(%s, MS_REC|MS_PRIVATE)", dir);
	if (mount(type, dir, type, MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die(0, "mount(%s, %s)", type, dir);
}

static void set_time_offsets(const struct config *c)
{
	char buf[96];

	/*
	 * time_namespaces(7): the offsets are written to timens_offsets of a process whose
	 * time_for_children is the new namespace, before any process has entered it.
	 */
	snprintf(buf, sizeof buf, "monotonic %lld 0\nboottime %lld 0\n", (long long)c->monotonic,
		 (long long)c->boottime);
	if (write_file("/proc/self/timens_offsets", buf) < 0)
		die(0, "write(/proc/self/timens_offsets)");
}

/*
 * holder/run: cgroups, then the user namespace and its maps, then the other types in
 * nsenter's order, each followed by its own set-up. The pid and time namespaces apply to
 * children only (pid_namespaces(7), time_namespaces(7)): the caller forks next.
 */
void create_namespaces(const struct config *c)
{
	/* Join the cgroups while still fully privileged outside, and before
	 * unshare(CLONE_NEWCGROUP), so that the new cgroup namespace is rooted there (cgroup_namespaces(7)). */
	for (int i = 0; i < c->ncgroups; i++)
		join_cgroup(c->cgroups[i]);
	if (c->nstypes & CLONE_NEWUSER)
		new_user_ns(c);
	for (size_t i = 1; i < NS_COUNT; i++) {
		const struct nstype *t = &ns_order[i];

		if (!(c->nstypes & t->flag))
			continue;
		if (unshare(t->flag) < 0)
			die(0, "unshare(%s)", t->flag_name);
		switch (t->flag) {
		case CLONE_NEWUTS:
			if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0)
				die(0, "sethostname(%s)", c->hostname);
			break;
		case CLONE_NEWNET:
			if (c->loopback != NSM_LOOPBACK_DOWN)
				loopback_up();
			break;
		case CLONE_NEWNS:
			set_propagation(c->propagation);
			/* sysfs shows the net namespace of whoever mounts it (as `ip netns exec` knows). */
			if (c->mount_sys)
				mount_fresh("sysfs", "/sys");
			break;
		case CLONE_NEWTIME:
			if (c->timeoffsets)
				set_time_offsets(c);
			break;
		}
	}
}
