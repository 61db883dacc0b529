/*
 * nsm-helper stage "run and join" (run and join modes): run makes the namespaces
 * (helper-setup.c) and forks the command, or nsm:init first when there is a new pid
 * namespace; join checks the inherited namespace fds, setns(2)es into them in nsenter(1)'s
 * order and execs the command in place, or forks it when a pid or time namespace is joined.
 * A forking nsm:helper reports STARTED once execvp succeeded, forwards signals, and exits
 * with the command's status. setns(2) into a user or time namespace is refused to a
 * multi-threaded process, and a new pid or time namespace applies only to children: hence
 * a single-threaded process.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "helper.h"

/*
 * join: the command's process moves itself into the environment's cgroups before it execs,
 * so that it and everything it starts count against the limits, and the helper, which only
 * waits, does not. The files were opened before any setns(): inside, a fresh /sys hides
 * /sys/fs/cgroup, and a joined user namespace may not write host files. A write to
 * cgroup.procs is checked against the credentials and cgroup namespace of whoever opened
 * the file (cgroups(7); kernel 5.16+), so "0" here moves this process (checked on 6.18).
 */
static void open_cgroup_fds(struct config *c)
{
	char path[PATH_MAX];

	for (int i = 0; i < c->ncgroups; i++) {
		snprintf(path, sizeof path, "%s/cgroup.procs", c->cgroups[i]);
		c->cgroup_fds[i] = open(path, O_WRONLY | O_CLOEXEC);
		if (c->cgroup_fds[i] < 0)
			die(0, "open(%s)", path);
	}
}

static void join_cgroup_fds(const struct config *c)
{
	for (int i = 0; i < c->ncgroups; i++) {
		if (write(c->cgroup_fds[i], "0", 1) != 1)
			die(0, "write(%s/cgroup.procs)", c->cgroups[i]);
		close(c->cgroup_fds[i]);
	}
}

/*
 * execvp(3) reports EACCES when some PATH directory cannot be searched, even if the command is
 * in none of them (e.g. /root/bin in PATH, running as nobody). Like a shell, call that "not
 * found" unless an entry of that name exists in one of the directories.
 */
static bool in_path(const char *cmd)
{
	const char *path = getenv("PATH");
	char file[PATH_MAX];
	struct stat st;

	if (strchr(cmd, '/'))
		return true;
	if (path == NULL)
		path = "/bin:/usr/bin"; /* glibc's default for execvp */
	for (const char *p = path, *end; ; p = end + 1) {
		end = strchrnul(p, ':');
		if (snprintf(file, sizeof file, "%.*s/%s", (int)(end - p), end == p ? "." : p, cmd) < (int)sizeof file &&
		    stat(file, &st) == 0)
			return true;
		if (*end == '\0')
			return false;
	}
}

/* The last step of every command process: chdir, exec, or report why not. */
static noreturn void exec_command(const struct config *c)
{
	int err;

	reset_signals();
	/*
	 * join for another user (src/core/join.ts): the terminal on our stdio is a pty nsm made
	 * for this command, never the caller's own. A new session with it as the controlling
	 * terminal gives job control and ^C there, and TIOCSTI (ioctl_tty(2): only on one's own
	 * controlling terminal without CAP_SYS_ADMIN) can reach nothing of the caller's.
	 */
	if (c->new_session) {
		if (setsid() < 0)
			die(0, "setsid");
		for (int fd = 0; fd <= 2; fd++)
			if (isatty(fd)) {
				if (ioctl(fd, TIOCSCTTY, 0) < 0)
					die(0, "ioctl(TIOCSCTTY)");
				break;
			}
	}
	/* unshare(1) --root: chroot, then --wd or /; a directory asked for must exist (run). */
	if (c->root && chroot(c->root) < 0)
		die(0, "chroot(%s)", c->root);
	if (c->root && !c->cwd && chdir("/") < 0)
		die(0, "chdir(/)");
	if (c->cwd && chdir(c->cwd) < 0) {
		/* join: the caller's directory may not exist (or be reachable) inside: use / instead;
		 * one the user asked for must be there. */
		if (c->mode == MODE_RUN || (c->join_flags & NSM_JOIN_CWD_ASKED) ||
		    (errno != ENOENT && errno != ENOTDIR && errno != EACCES))
			die(0, "chdir(%s)", c->cwd);
		if (chdir("/") < 0)
			die(0, "chdir(/)");
	}
	execvp(c->argv[0], c->argv);
	err = errno;
	if (err == EACCES && !in_path(c->argv[0]))
		err = ENOENT;
	/* Shell convention: 127 when the command is not found, 126 when it cannot be executed. */
	fail(err == ENOENT ? NSM_EXIT_NOTFOUND : NSM_EXIT_NOEXEC, err, "execvp(%s)", c->argv[0]);
}

/*
 * Stage "nsm:init": PID 1 of the pid namespace `run` created. The command itself would be a
 * poor PID 1 (it ignores signals it has no handler for and does not reap orphans), so this
 * process mounts /proc, forks the command, forwards signals to it, reaps everything, and exits
 * with the command's status; the kernel then kills whatever is left inside.
 */
static noreturn void run_init(const struct config *c)
{
	sigset_t set = forwarded_signals();
	siginfo_t si;
	pid_t cmd;
	int st;

	prctl(PR_SET_NAME, "nsm:init");
	/* `ps -ef` shows "nsm:init CMD" rather than the helper's own argv (as the README says). */
	set_title(c, "nsm:init", c->argc > 0 ? (strrchr(c->argv[0], '/') ? strrchr(c->argv[0], '/') + 1 : c->argv[0]) : NULL);
	if (c->mount_proc)
		mount_fresh("proc", "/proc");
	catch_signals(&set);
	cmd = fork();
	if (cmd < 0)
		die(0, "fork(command)");
	if (cmd == 0)
		exec_command(c);
	close(syncfd);
	syncfd = -1;
	for (;;) {
		pid_t r;
		int sig = sigwaitinfo(&set, &si);

		if (sig == SIGCHLD) {
			while ((r = waitpid(-1, &st, WNOHANG)) > 0)
				if (r == cmd)
					_exit(exit_status(st));
		} else if (sig > 0 && sent_by_process(&si)) {
			kill(cmd, sig);
		}
	}
}

/*
 * Fork the command's process (or, with a new pid namespace in `run`, its init), then report
 * STARTED once execvp succeeded (our socket closes on exec: SOCK_CLOEXEC) or relay why it
 * failed, forward signals, and exit with the command's status.
 */
static noreturn void supervise(const struct config *c, bool init)
{
	sigset_t set = forwarded_signals();
	unsigned char pid_le[4];
	struct frame f;
	siginfo_t si;
	pid_t child;
	int sock, st;

	sigprocmask(SIG_BLOCK, &set, NULL);
	/*
	 * If nsm dies (SIGKILL from a CI timeout or the OOM killer), so do we, and with us the
	 * command (its own PDEATHSIG below) or its init, whose death ends the pid namespace. Set
	 * here, after every credential change of set-up or join, which clears it (prctl(2)).
	 * The race util-linux unshare(1)'s --kill-child closes with getppid(): nsm may have died
	 * before the prctl, which would then never fire; its end of our socket is closed then.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		die(0, "prctl(PR_SET_PDEATHSIG)");
	if (helper_gone())
		diex(0, EPIPE, "nsm exited before the command started");
	child = fork_with_socket(&sock, init ? "init" : "command");
	if (child == 0) {
		/* If the helper dies, so does the command (unshare --kill-child[=SIG]). */
		if (prctl(PR_SET_PDEATHSIG, c->kill_signal) < 0)
			die(0, "prctl(PR_SET_PDEATHSIG)");
		if (helper_gone())
			_exit(NSM_EXIT_FAIL);
		if (c->mode == MODE_JOIN)
			join_cgroup_fds(c);
		if (init)
			run_init(c);
		exec_command(c);
	}
	if (read_frame(sock, &f, "read(exec result)", true, child)) {
		if (f.code != NSM_FAIL)
			diex(child, EPROTO, "read(exec result): unexpected %s (0x%02x)", msg_name(f.code), f.code);
		/* The child reports and exits by itself (125, 126 or 127); pass both on. */
		st = reap(child, "command");
		relay_fail(&f, 0, WIFEXITED(st) ? WEXITSTATUS(st) : NSM_EXIT_FAIL);
	}
	close(sock);
	for (int i = 0; i < 4; i++)
		pid_le[i] = (uint32_t)child >> (8 * i);
	write_frame(syncfd, NSM_STARTED, pid_le, 4, child);

	for (;;) {
		int sig = sigwaitinfo(&set, &si);

		if (sig == SIGCHLD) {
			pid_t r = waitpid(child, &st, WNOHANG);
			if (r == child)
				_exit(exit_status(st));
			if (r < 0 && errno != EINTR)
				die(child, "waitpid(command)");
		} else if (sig > 0 && sent_by_process(&si) && si.si_pid != child) {
			kill(child, sig);
		}
	}
}

noreturn void do_run(const struct config *c)
{
	create_namespaces(c);
	supervise(c, c->nstypes & CLONE_NEWPID);
}

/* ioctl_ns(2), Linux 6.18: _IOR(0xb7, 13, __u64), a namespace's ID, never reused until reboot. */
#define NSM_NS_GET_ID _IOR(0xb7, 13, unsigned long long)

/*
 * The namespace file behind `fd` must be of `type` and have inode `ino` (0: not checked) and,
 * where the driver recorded one and the kernel answers NS_GET_ID, ID `id`: an inode number
 * alone may have been reused.
 */
static void check_ns_fd(const struct join_ns *j, const char *name)
{
	unsigned long long id;
	struct stat st;
	int type;

	if (fstat(j->fd, &st) < 0)
		die(0, "fstat(%s namespace fd %d)", name, j->fd);
	type = ioctl(j->fd, NS_GET_NSTYPE);
	if (type < 0)
		die(0, "ioctl(%s namespace fd %d, NS_GET_NSTYPE)", name, j->fd);
	if ((uint32_t)type != j->type)
		diex(0, EINVAL, "fd %d is a namespace of type 0x%x, not %s", j->fd, type, name);
	if (j->ino != 0 && st.st_ino != j->ino)
		diex(0, ESTALE, "%s namespace fd %d is inode %llu, expected %llu", name, j->fd,
		     (unsigned long long)st.st_ino, (unsigned long long)j->ino);
	if (j->id == 0)
		return;
	if (ioctl(j->fd, NSM_NS_GET_ID, &id) < 0) {
		if (errno != ENOTTY && errno != EINVAL) /* before 6.18: the inode is all there is */
			die(0, "ioctl(%s namespace fd %d, NS_GET_ID)", name, j->fd);
	} else if (id != j->id) {
		diex(0, ESTALE, "%s namespace fd %d has ID %llu, expected %llu", name, j->fd, id,
		     (unsigned long long)j->id);
	}
}

/* Whether a pid or time namespace is among those joined: setns(2) moves only children there. */
static bool joins_for_children(const struct config *c)
{
	for (int i = 0; i < c->njoin; i++)
		if (c->join[i].type == CLONE_NEWPID || c->join[i].type == CLONE_NEWTIME)
			return true;
	return false;
}

/* setns(2): a process cannot re-enter its own user namespace (EINVAL); nsenter skips it too. */
static bool is_own_user_ns(int fd)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0 || stat("/proc/self/ns/user", &b) < 0)
		die(0, "stat(/proc/self/ns/user)");
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The inode of the user namespace that owns namespace `fd` (ioctl_ns(2) NS_GET_USERNS); its fd in *owner. */
static ino_t owner_of(int fd, int *owner)
{
	struct stat st;

	*owner = ioctl(fd, NS_GET_USERNS);
	if (*owner < 0)
		return 0; /* EPERM: the owner is outside our user namespace; nothing to learn */
	if (fstat(*owner, &st) < 0)
		die(0, "fstat(owner user namespace)");
	return st.st_ino;
}

/*
 * ip-netns(8) exec's mounts (iproute2 ip/ipnetns.c, netns_switch): a network namespace has
 * no mount namespace of its own, so the command gets a private one, slave to ours so that
 * nothing it mounts propagates back; a fresh /sys that shows the joined network namespace
 * (sysfs shows the net namespace of whoever mounts it), read-only if the old one was and
 * could not be unmounted; then /etc/netns/NAME/X bound over /etc/X for each X (a failed
 * bind is reported and skipped, as ip does).
 */
static void netns_exec_mounts(const char *name)
{
	char dir[64 + NAME_MAX], from[sizeof dir + NAME_MAX + 2], to[16 + NAME_MAX];
	unsigned long flags = 0;
	struct statvfs st;
	struct dirent *e;
	DIR *d;

	if (unshare(CLONE_NEWNS) < 0)
		die(0, "unshare(CLONE_NEWNS)");
	if (mount("", "/", "none", MS_SLAVE | MS_REC, NULL) < 0)
		die(0, "mount(/, MS_SLAVE|MS_REC)");
	if (umount2("/sys", MNT_DETACH) < 0 && statvfs("/sys", &st) == 0 && (st.f_flag & ST_RDONLY))
		flags = MS_RDONLY;
	if (mount(name[0] ? name : "sysfs", "/sys", "sysfs", flags, NULL) < 0)
		die(0, "mount(sysfs, /sys)");
	if (name[0] == '\0')
		return;
	snprintf(dir, sizeof dir, "/etc/netns/%s", name);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
		snprintf(to, sizeof to, "/etc/%s", e->d_name);
		if (mount(from, to, "none", MS_BIND, NULL) < 0)
			fprintf(stderr, "nsm: bind %s -> %s failed: %s\n", from, to, strerror(errno));
	}
	closedir(d);
}

/* nsenter -r/-w (nsenter.c): chroot to the directory opened before joining, then the wd. */
static void enter_dirs(struct config *c)
{
	/* -r alone keeps the working directory we have, as an fd across the chroot. */
	if (c->root_fd >= 0 && c->wd_fd < 0 && c->cwd == NULL) {
		c->wd_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (c->wd_fd < 0)
			die(0, "open(.)");
	}
	if (c->root_fd >= 0) {
		if (fchdir(c->root_fd) < 0)
			die(0, "fchdir(root)");
		if (chroot(".") < 0)
			die(0, "chroot(root)");
		if (chdir("/") < 0)
			die(0, "chdir(/)");
		close(c->root_fd);
		c->root_fd = -1;
	}
	if (c->wd_fd >= 0) {
		if (fchdir(c->wd_fd) < 0)
			die(0, "fchdir(working directory)");
		close(c->wd_fd);
		c->wd_fd = -1;
	}
}

/*
 * nsenter --keep-caps (cap_permitted_to_ambient): a joined user namespace gives us every
 * capability there, which execve(2) of a non-root uid would drop; ambient ones survive it
 * (capabilities(7)), and an ambient capability must be permitted and inheritable.
 */
static void permitted_to_ambient(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		die(0, "capget");
	d[0].inheritable = d[0].permitted;
	d[1].inheritable = d[1].permitted;
	if (syscall(SYS_capset, &h, d) < 0)
		die(0, "capset");
	for (int cap = 0; cap < 64; cap++)
		if ((d[cap / 32].permitted >> (cap % 32)) & 1)
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
				die(0, "prctl(PR_CAP_AMBIENT_RAISE, %d)", cap);
}

noreturn void do_join(struct config *c)
{
	bool joined_user = false, dropped = false, wants_user = false, done[NSM_NS_COUNT] = { false };
	bool preserve = c->join_flags & NSM_JOIN_PRESERVE_CRED;
	bool force_uid, force_gid;
	int drop_err = 0, user = -1, via = -1;
	ino_t user_ino = 0, own_ino;
	struct stat st;

	if (stat("/proc/self/ns/user", &st) < 0)
		die(0, "stat(/proc/self/ns/user)");
	own_ino = st.st_ino;
	open_cgroup_fds(c);
	for (int i = 0; i < c->njoin; i++) {
		const struct nstype *t = ns_order;
		while (t->flag != (int)c->join[i].type)
			t++;
		check_ns_fd(&c->join[i], t->name);
		/*
		 * The command will run as uid/gid 0 of the joined user namespace: whatever those map
		 * to outside, it must carry none of the caller's supplementary groups (root's group 0
		 * in a user's environment reads root:root 0040 files). Drop them now, while still
		 * privileged where we are: setgroups(2) is refused for good inside a user namespace
		 * whose setgroups file says "deny" (user_namespaces(7)), as a rootless one does.
		 * nsenter(1) does the same before and after its setns (unless --preserve-credentials).
		 * The capability sets need nothing: setns(2) into a user namespace leaves the caller
		 * full permitted and effective sets in that namespace only, and empty inheritable and
		 * ambient ones (kernel/user_namespace.c, userns_install).
		 */
		if (c->join[i].type == CLONE_NEWUSER) {
			/* setns(2): a process cannot re-enter its own user namespace (EINVAL); nsenter skips it too. */
			if (fstat(c->join[i].fd, &st) < 0)
				die(0, "fstat(user namespace fd)");
			if (st.st_ino == own_ino && is_own_user_ns(c->join[i].fd)) {
				done[i] = true;
				continue;
			}
			user = i;
			user_ino = st.st_ino;
			wants_user = true;
			if (!preserve) {
				dropped = setgroups(0, NULL) == 0;
				drop_err = dropped ? 0 : errno;
			}
		}
	}
	/* nsenter(1): a joined user namespace sets uid and gid (0 unless -S/-G) unless preserved. */
	force_uid = (c->join_flags & NSM_JOIN_SETUID) || (wants_user && !preserve);
	force_gid = (c->join_flags & NSM_JOIN_SETGID) || (wants_user && !preserve);
	/*
	 * Two passes, as nsenter(1) and runc do: first every other namespace we may join as we
	 * are (a privileged caller: all of them, before the user namespace takes its privileges
	 * away), errors ignored; the rest after the user namespace, in nsenter's order (mnt after
	 * pid and net, time last). Single-threaded: setns(CLONE_NEWNS) needs no unshare(CLONE_FS).
	 */
	if (user >= 0) {
		for (size_t k = 0; k < NS_COUNT; k++)
			for (int i = 0; i < c->njoin; i++)
				if (!done[i] && i != user && c->join[i].type == (uint32_t)ns_order[k].flag)
					done[i] = setns(c->join[i].fd, c->join[i].type) == 0;
		/*
		 * A target whose user namespace is nested inside the one that owns its other
		 * namespaces (bwrap --dev, util-linux#1592): from inside it we would hold no
		 * capability over them. Join their owner first (NS_GET_USERNS, ioctl_ns(2)): its
		 * capabilities reach its descendants, the target's user namespace too, joined last.
		 */
		for (int i = 0; i < c->njoin && via < 0; i++) {
			int owner;
			ino_t ino;

			if (done[i] || i == user)
				continue;
			ino = owner_of(c->join[i].fd, &owner);
			if (owner < 0)
				continue;
			if (ino != user_ino && ino != own_ino)
				via = owner;
			else
				close(owner);
		}
		if (via >= 0) {
			if (setns(via, CLONE_NEWUSER) < 0)
				die(0, "setns(user namespace that owns the others)");
			close(via);
			for (size_t k = 0; k < NS_COUNT; k++)
				for (int i = 0; i < c->njoin; i++)
					if (!done[i] && i != user && c->join[i].type == (uint32_t)ns_order[k].flag) {
						if (setns(c->join[i].fd, c->join[i].type) < 0)
							die(0, "setns(%s)", ns_order[k].name);
						done[i] = true;
					}
		}
		if (setns(c->join[user].fd, CLONE_NEWUSER) < 0)
			die(0, "setns(user)");
		done[user] = true;
		joined_user = true;
	}
	for (size_t k = 0; k < NS_COUNT; k++) {
		for (int i = 0; i < c->njoin; i++) {
			if (done[i] || c->join[i].type != (uint32_t)ns_order[k].flag)
				continue;
			if (setns(c->join[i].fd, c->join[i].type) < 0)
				die(0, "setns(%s)", ns_order[k].name);
		}
	}
	for (int i = 0; i < c->njoin; i++)
		close(c->join[i].fd);
	if (c->netns_exec)
		netns_exec_mounts(c->netns_exec);
	enter_dirs(c);
	if (force_gid) {
		/*
		 * -G, or a joined user namespace: no supplementary groups. Inside a user namespace
		 * whose setgroups file says "deny" (a rootless one) setgroups(2) is refused for good:
		 * then the drop before joining must have worked, or failed with EPERM (no CAP_SETGID
		 * where we were: the groups are the caller's own, which it could not shed either, and
		 * the command keeps them as the caller would). nsenter's rule: fail only if both fail.
		 */
		if (setgroups(0, NULL) < 0) {
			int inside = errno;
			if (joined_user && !preserve ? !dropped && drop_err != EPERM : inside != EPERM)
				diex(0, joined_user && !preserve ? drop_err : inside, "setgroups(0)");
		}
		if (setresgid(c->join_gid, c->join_gid, c->join_gid) < 0)
			die(0, "setresgid(%u)", c->join_gid);
	}
	if (force_uid && setresuid(c->join_uid, c->join_uid, c->join_uid) < 0)
		die(0, "setresuid(%u)", c->join_uid);
	if ((c->join_flags & NSM_JOIN_KEEP_CAPS) && joined_user)
		permitted_to_ambient();
	/*
	 * setns(2) of a pid or time namespace applies to children only: then fork (below). Else,
	 * or with nsenter -F, the command is this process: no second fork, as nsenter(1) when it
	 * needs none (with -F a joined pid namespace holds only the command's children). Still
	 * dies with nsm; STARTED now, or FAIL if execvp fails.
	 */
	if ((c->join_flags & NSM_JOIN_NO_FORK) || !joins_for_children(c)) {
		unsigned char pid_le[4];
		pid_t self = getpid();

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			die(0, "prctl(PR_SET_PDEATHSIG)");
		if (helper_gone())
			diex(0, EPIPE, "nsm exited before the command started");
		join_cgroup_fds(c);
		for (int i = 0; i < 4; i++)
			pid_le[i] = (uint32_t)self >> (8 * i);
		write_frame(syncfd, NSM_STARTED, pid_le, 4, 0);
		exec_command(c);
	}
	supervise(c, false);
}
