/*
 * nsm-helper stage "user namespace and maps": nsm:helper unshares the user namespace first, so
 * that it owns every namespace made after it (user_namespaces(7)), and its child nsm:usermap,
 * forked before the unshare, writes the new namespace's uid/gid maps from the parent user
 * namespace (directly, or through newuidmap/newgidmap). This is why the helper exists:
 * unshare(2) refuses CLONE_NEWUSER to a multi-threaded process (EINVAL), and a Node.js process
 * always has several threads.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "helper.h"

/* Lines "inside outside count\n" for /proc/PID/{uid,gid}_map. */
static char *format_map(const struct idmap *m)
{
	char *buf = malloc(m->n * 33 + 1), *p = buf;

	if (buf == NULL)
		die(0, "malloc(map)");
	for (int i = 0; i < m->n; i++)
		p += sprintf(p, "%u %u %u\n", m->e[i].inside, m->e[i].outside, m->e[i].count);
	return buf;
}

/* newuidmap/newgidmap PID inside outside count ... (from the uidmap package, setuid root). */
static void run_map_tool(const char *tool, pid_t pid, const struct idmap *m)
{
	char **argv = calloc(3 + 3 * m->n, sizeof *argv);
	char *nums = malloc((1 + 3 * m->n) * 12), *p = nums;
	pid_t t;
	int st;

	if (argv == NULL || nums == NULL)
		die(0, "malloc(%s)", tool);
	argv[0] = (char *)tool;
	argv[1] = p;
	p += sprintf(p, "%d", pid) + 1;
	for (int i = 0; i < m->n; i++) {
		uint32_t v[3] = { m->e[i].inside, m->e[i].outside, m->e[i].count };
		for (int k = 0; k < 3; k++) {
			argv[2 + 3 * i + k] = p;
			p += sprintf(p, "%u", v[k]) + 1;
		}
	}
	t = fork();
	if (t < 0)
		die(0, "fork(%s)", tool);
	if (t == 0) {
		reset_signals();
		execvp(tool, argv);
		_exit(errno == ENOENT ? NSM_EXIT_NOTFOUND : NSM_EXIT_NOEXEC);
	}
	st = reap(t, tool);
	if (WIFEXITED(st) && WEXITSTATUS(st) == NSM_EXIT_NOTFOUND)
		diex(0, ENOENT, "execvp(%s)", tool);
	if (WIFEXITED(st) && WEXITSTATUS(st) == NSM_EXIT_NOEXEC)
		diex(0, EACCES, "execvp(%s)", tool);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		diex(0, EPERM, "%s %d: exit status %d", tool, pid, exit_status(st));
	free(argv);
	free(nums);
}

/*
 * The map writer: a child forked before unshare(CLONE_NEWUSER), so it stays in the parent
 * user namespace, where the maps of the new one are written (as util-linux unshare does for
 * --map-auto, and as runc's parent does). Writing from outside also lets a privileged caller
 * map several extents, which needs CAP_SETUID in the parent user namespace.
 */
static noreturn void map_writer(const struct config *c, pid_t pid)
{
	char path[64];

	prctl(PR_SET_NAME, "nsm:usermap");
	expect_frame(syncfd, NSM_SYNC_USERMAP_PLS, 0);
	if (c->map_tools) {
		if (c->uid.n)
			run_map_tool("newuidmap", pid, &c->uid);
		if (c->gid.n)
			run_map_tool("newgidmap", pid, &c->gid);
	} else {
		/*
		 * user_namespaces(7): since Linux 3.19 a gid_map written without CAP_SETGID in the
		 * parent user namespace needs "deny" in setgroups first.
		 */
		if (c->gid.n && c->setgroups != NSM_SETGROUPS_ALLOW) {
			snprintf(path, sizeof path, "/proc/%d/setgroups", pid);
			if (write_file(path, "deny") < 0)
				die(0, "write(%s)", path);
		}
		if (c->uid.n) {
			snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
			if (write_file(path, format_map(&c->uid)) < 0)
				die(0, "write(%s)", path);
		}
		if (c->gid.n) {
			snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
			if (write_file(path, format_map(&c->gid)) < 0)
				die(0, "write(%s)", path);
		}
	}
	write_frame(syncfd, NSM_SYNC_USERMAP_ACK, NULL, 0, 0);
	_exit(NSM_EXIT_OK);
}

void new_user_ns(const struct config *c)
{
	int sock;
	pid_t writer;

	if (c->uid.n == 0 && c->gid.n == 0) {
		if (unshare(CLONE_NEWUSER) < 0)
			die(0, "unshare(CLONE_NEWUSER)");
		return;
	}
	writer = fork_with_socket(&sock, "map writer");
	if (writer == 0)
		map_writer(c, getppid());
	/*
	 * user_namespaces(7): each namespace is owned by the user namespace its creator was in,
	 * so the user namespace comes first and owns everything unshared after it.
	 */
	if (unshare(CLONE_NEWUSER) < 0)
		die(writer, "unshare(CLONE_NEWUSER)");
	write_frame(sock, NSM_SYNC_USERMAP_PLS, NULL, 0, writer);
	expect_frame(sock, NSM_SYNC_USERMAP_ACK, writer);
	reap(writer, "map writer");
	close(sock);
}
