/*
 * nsm-spawn.node: the three libc calls `nsm exec` and `nsm unshare` need to start nsm-helper
 * (src/sys/spawn-addon.ts): socketpair(2), posix_spawn(3) with dup2 file actions, and
 * waitpid(2) without blocking. A Node-API module of its own, so that those commands load
 * neither koffi (a large native module, and libc prototypes parsed at run time) nor
 * child_process, whose libuv spawn fork(2)s all of Node; posix_spawn vfork(2)s
 * (bench/RESULTS.md). Built when Node's headers are there; without it nsm uses koffi.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define NAPI_VERSION 8
#include <node_api.h>

static napi_value throw_errno(napi_env env, const char *call, int err)
{
	char msg[96];

	snprintf(msg, sizeof msg, "%s: %s", call, strerror(err));
	napi_value code, text, error;
	char name[16];
	/* The errno number in .errno; src/sys/spawn-addon.ts names it. */
	snprintf(name, sizeof name, "%d", err);
	napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
	napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
	napi_create_error(env, code, text, &error);
	napi_throw(env, error);
	return NULL;
}

/* A JS array of strings as a NULL-terminated, malloc'd C vector (NULL on a bad argument). */
static char **strings(napi_env env, napi_value arr)
{
	uint32_t n;
	char **v;

	if (napi_get_array_length(env, arr, &n) != napi_ok)
		return NULL;
	v = calloc(n + 1, sizeof *v);
	for (uint32_t i = 0; v && i < n; i++) {
		napi_value s;
		size_t len;

		if (napi_get_element(env, arr, i, &s) != napi_ok || napi_get_value_string_utf8(env, s, NULL, 0, &len) != napi_ok)
			goto bad;
		v[i] = malloc(len + 1);
		if (!v[i] || napi_get_value_string_utf8(env, s, v[i], len + 1, &len) != napi_ok)
			goto bad;
	}
	return v;
bad:
	for (uint32_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return NULL;
}

static void free_strings(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/* A JS array of the `n` ints of `v`. */
static napi_value int_array(napi_env env, const int *v, uint32_t n)
{
	napi_value out, e;

	napi_create_array_with_length(env, n, &out);
	for (uint32_t i = 0; i < n; i++) {
		napi_create_int32(env, v[i], &e);
		napi_set_element(env, out, i, e);
	}
	return out;
}

/* socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): [ours (non-blocking), theirs]. */
static napi_value js_socketpair(napi_env env, napi_callback_info info)
{
	int sv[2];

	(void)info;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return throw_errno(env, "socketpair", errno);
	/* Ours never blocks nsm: the replies are read once the helper has exited. */
	if (fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK) < 0) {
		int err = errno;
		close(sv[0]);
		close(sv[1]);
		return throw_errno(env, "fcntl(O_NONBLOCK)", err);
	}
	return int_array(env, sv, 2);
}

/*
 * The path, argv and envp of a spawn call (its first three arguments). The path is copied
 * whole or not at all: napi cuts a longer string, and a cut path may name another program.
 * Returns 0, ENAMETOOLONG, or -1 with a TypeError thrown.
 */
static int spawn_args(napi_env env, const napi_value *args, char *path, size_t size, char ***argv, char ***envp)
{
	size_t len;

	if (napi_get_value_string_utf8(env, args[0], NULL, 0, &len) != napi_ok) {
		napi_throw_type_error(env, NULL, "spawn: the path is a string");
		return -1;
	}
	if (len >= size)
		return ENAMETOOLONG;
	napi_get_value_string_utf8(env, args[0], path, size, &len);
	*argv = strings(env, args[1]);
	*envp = strings(env, args[2]);
	if (!*argv || !*envp) {
		free_strings(*argv);
		free_strings(*envp);
		napi_throw_type_error(env, NULL, "spawn: argv and envp are arrays of strings");
		return -1;
	}
	return 0;
}

/*
 * Every signal back to its default, glibc's internal 32 and 33 included: sigfillset() leaves
 * those two out, and glibc's posix_spawn sets a signal not in this set that has a handler in
 * Node to SIG_IGN in the child, which execve(2) keeps (as src/sys/libc.ts). None blocked.
 */
static void default_signals(posix_spawnattr_t *attr)
{
	sigset_t all, none;

	memset(&all, 0xff, sizeof all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(attr, &all);
	posix_spawnattr_setsigmask(attr, &none);
	posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
}

/*
 * spawn(path, argv, envp, dup2s): posix_spawn(3) of `path`, each [from, to] pair of dup2s
 * applied in order (from == to: the fd passes under its number, close-on-exec cleared), every
 * signal at its default and none blocked. Returns the pid.
 */
static napi_value js_spawn(napi_env env, napi_callback_info info)
{
	size_t argc = 4;
	napi_value args[4], result;
	char path[4096], **argv = NULL, **envp = NULL;
	uint32_t n = 0;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	pid_t pid;
	int rc = 0;

	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 4 ||
	    napi_get_array_length(env, args[3], &n) != napi_ok) {
		napi_throw_type_error(env, NULL, "spawn(path, argv, envp, dup2s)");
		return NULL;
	}
	rc = spawn_args(env, args, path, sizeof path, &argv, &envp);
	if (rc < 0)
		return NULL;
	if (rc > 0)
		return throw_errno(env, "posix_spawn", rc);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	for (uint32_t i = 0; i < n; i++) {
		napi_value pair, v;
		int32_t from = -1, to = -1;

		if (napi_get_element(env, args[3], i, &pair) != napi_ok || napi_get_element(env, pair, 0, &v) != napi_ok ||
		    napi_get_value_int32(env, v, &from) != napi_ok || napi_get_element(env, pair, 1, &v) != napi_ok ||
		    napi_get_value_int32(env, v, &to) != napi_ok || (rc = posix_spawn_file_actions_adddup2(&fa, from, to)) != 0) {
			/* A dup2 left out would pass the helper the wrong fds: nothing is started. */
			posix_spawnattr_destroy(&attr);
			posix_spawn_file_actions_destroy(&fa);
			free_strings(argv);
			free_strings(envp);
			if (rc != 0)
				return throw_errno(env, "posix_spawn_file_actions_adddup2", rc);
			napi_throw_type_error(env, NULL, "spawn: dup2s are [from, to] pairs of fds");
			return NULL;
		}
	}
	default_signals(&attr);
	rc = posix_spawn(&pid, path, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free_strings(argv);
	free_strings(envp);
	if (rc != 0)
		return throw_errno(env, "posix_spawn", rc);
	napi_create_int32(env, pid, &result);
	return result;
}

/* waitpid(pid, WNOHANG): null while it runs, else its raw wait status. */
static napi_value js_wait(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value arg, result;
	int32_t pid;
	int st;
	pid_t r;

	if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok || argc != 1 || napi_get_value_int32(env, arg, &pid) != napi_ok) {
		napi_throw_type_error(env, NULL, "wait(pid)");
		return NULL;
	}
	do
		r = waitpid(pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return throw_errno(env, "waitpid", errno);
	if (r == 0) {
		napi_get_null(env, &result);
		return result;
	}
	napi_create_int32(env, st, &result);
	return result;
}

/*
 * For `nsm-helper scan` (src/sys/native-scan.ts), which every listing command runs: posix_spawn
 * `path` with stdin on /dev/null and stdout and stderr on pipes to us, signals as js_spawn.
 * On success *pid is the child and out/err our read ends (close-on-exec, blocking); else
 * returns the errno, or -1 with a JS exception pending (bad arguments).
 */
static int spawn_piped(napi_env env, napi_callback_info info, pid_t *pid, int *out, int *err)
{
	size_t argc = 3;
	napi_value args[3];
	char path[4096], **argv = NULL, **envp = NULL;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, rc;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;

	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 3) {
		napi_throw_type_error(env, NULL, "(path, argv, envp)");
		return -1;
	}
	rc = spawn_args(env, args, path, sizeof path, &argv, &envp);
	if (rc != 0)
		return rc;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		rc = errno;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* dup2 clears close-on-exec on the new fd: the pipes' other ends do not reach the child. */
	if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, po[1], 1)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, pe[1], 2)) == 0) {
		default_signals(&attr);
		rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
	}
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
out:
	free_strings(argv);
	free_strings(envp);
	if (po[1] >= 0)
		close(po[1]);
	if (pe[1] >= 0)
		close(pe[1]);
	if (rc != 0) {
		if (po[0] >= 0)
			close(po[0]);
		if (pe[0] >= 0)
			close(pe[0]);
		return rc;
	}
	*out = po[0];
	*err = pe[0];
	return 0;
}

/*
 * spawnPiped(path, argv, envp): start the child as spawn_piped; returns [pid, stdout fd,
 * stderr fd], the fds ours to read (as pipes, e.g. through net.Socket) and close.
 */
static napi_value js_spawn_piped(napi_env env, napi_callback_info info)
{
	pid_t pid;
	int out, err, rc;

	rc = spawn_piped(env, info, &pid, &out, &err);
	if (rc < 0)
		return NULL;
	if (rc != 0)
		return throw_errno(env, "posix_spawn", rc);
	return int_array(env, (int[]){ pid, out, err }, 3);
}

struct grow {
	char *data;
	size_t len, cap;
};

/* Read what `fd` has into g; 0 at end of file (fd closed), 1 for more to come, -1 on error. */
static int drain(int fd, struct grow *g)
{
	if (g->cap - g->len < 65536) {
		size_t cap = g->cap ? g->cap * 2 : 262144;
		char *d = realloc(g->data, cap);

		if (!d)
			return -1;
		g->data = d;
		g->cap = cap;
	}
	ssize_t n = read(fd, g->data + g->len, g->cap - g->len);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -1;
	if (n == 0) {
		close(fd);
		return 0;
	}
	g->len += n;
	return 1;
}

/*
 * run(path, argv, envp): spawn_piped, read both pipes to their end, and reap the child
 * (blocking: the caller waits anyway, as spawnSync). Returns [pid, wait status, stdout,
 * stderr], the outputs as Buffers.
 */
static napi_value js_run(napi_env env, napi_callback_info info)
{
	pid_t pid, r;
	int out, err, rc, st, failed = 0;
	struct grow g[2] = { { 0 }, { 0 } };
	struct pollfd pfd[2];
	napi_value result, v;

	rc = spawn_piped(env, info, &pid, &out, &err);
	if (rc < 0)
		return NULL;
	if (rc != 0)
		return throw_errno(env, "posix_spawn", rc);
	pfd[0] = (struct pollfd){ .fd = out, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = err, .events = POLLIN };
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			failed = errno;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			int d = drain(pfd[i].fd, &g[i]);

			if (d < 0) {
				failed = errno ? errno : ENOMEM;
				break;
			}
			if (d == 0)
				pfd[i].fd = -1;
		}
		if (failed)
			break;
	}
	for (int i = 0; i < 2; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	if (failed)
		kill(pid, SIGKILL); /* not reaped yet: the pid is still our child's */
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	if (!failed && r < 0)
		failed = errno;
	if (failed) {
		free(g[0].data);
		free(g[1].data);
		return throw_errno(env, "scan output", failed);
	}
	napi_create_array_with_length(env, 4, &result);
	napi_create_int32(env, pid, &v);
	napi_set_element(env, result, 0, v);
	napi_create_int32(env, st, &v);
	napi_set_element(env, result, 1, v);
	for (int i = 0; i < 2; i++) {
		napi_create_buffer_copy(env, g[i].len, g[i].data ? g[i].data : "", NULL, &v);
		napi_set_element(env, result, 2 + i, v);
		free(g[i].data);
	}
	return result;
}

/*
 * ioctl(fd, request, out): ioctl_ns(2)'s requests, which nsm inspect, ls and tree ask without
 * koffi: out 0 passes no argument and gives the result, 32 and 64 pass a uint32_t or uint64_t
 * to fill and give its value (NS_GET_OWNER_UID, NS_GET_ID). A failure gives -errno.
 */
static napi_value js_ioctl(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value args[3], result;
	int32_t fd, out;
	int64_t request;
	uint32_t u32 = 0;
	uint64_t u64 = 0;
	int rc;
	double value;

	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 3 ||
	    napi_get_value_int32(env, args[0], &fd) != napi_ok || napi_get_value_int64(env, args[1], &request) != napi_ok ||
	    napi_get_value_int32(env, args[2], &out) != napi_ok || (out != 0 && out != 32 && out != 64)) {
		napi_throw_type_error(env, NULL, "ioctl(fd, request, 0|32|64)");
		return NULL;
	}
	if (out == 0)
		rc = ioctl(fd, (unsigned long)request);
	else if (out == 32)
		rc = ioctl(fd, (unsigned long)request, &u32);
	else
		rc = ioctl(fd, (unsigned long)request, &u64);
	if (rc < 0)
		value = -errno;
	else
		value = out == 0 ? rc : out == 32 ? (double)u32 : (double)u64;
	napi_create_double(env, value, &result);
	return result;
}

/*
 * The calls `nsm create` makes besides starting its holder's helper, so that it loads no
 * koffi either (src/sys/spawn-addon.ts, ownCalls): each returns the call's result, or minus
 * its errno, and throws only for bad arguments.
 */

/* A JS string or null as a malloc'd C string; *ok is false on a bad argument. */
static char *string_or_null(napi_env env, napi_value v, int *ok)
{
	napi_valuetype t;
	size_t len;
	char *s;

	if (napi_typeof(env, v, &t) != napi_ok || (t != napi_null && t != napi_string)) {
		*ok = 0;
		return NULL;
	}
	if (t == napi_null)
		return NULL;
	if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || !(s = malloc(len + 1))) {
		*ok = 0;
		return NULL;
	}
	napi_get_value_string_utf8(env, v, s, len + 1, &len);
	return s;
}

static napi_value int_result(napi_env env, int64_t v)
{
	napi_value out;

	napi_create_int64(env, v, &out);
	return out;
}

/* int32 arguments, all of them, or a TypeError naming the call. */
static int int_args(napi_env env, napi_callback_info info, size_t want, int32_t *v, const char *usage)
{
	size_t argc = want;
	napi_value args[4];

	if (want > 4 || napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != want)
		goto bad;
	for (size_t i = 0; i < want; i++)
		if (napi_get_value_int32(env, args[i], &v[i]) != napi_ok)
			goto bad;
	return 1;
bad:
	napi_throw_type_error(env, NULL, usage);
	return 0;
}

/* flock(fd, operation): 0, or -errno (EWOULDBLOCK for a lock held elsewhere with LOCK_NB). */
static napi_value js_flock(napi_env env, napi_callback_info info)
{
	int32_t v[2];

	if (!int_args(env, info, 2, v, "flock(fd, operation)"))
		return NULL;
	return int_result(env, flock(v[0], v[1]) == 0 ? 0 : -errno);
}

/* NS_GET_ID (ioctl_ns(2), Linux 6.18) of the namespace open at fd: its 64-bit id, or -errno. */
static napi_value js_ns_id(napi_env env, napi_callback_info info)
{
	int32_t fd;
	uint64_t id = 0;

	if (!int_args(env, info, 1, &fd, "nsId(fd)"))
		return NULL;
	/* _IOR(0xb7, 0xd, __u64), as src/sys/libc.ts's NS_GET_ID. */
	if (ioctl(fd, 0x8008b70dUL, &id) != 0)
		return int_result(env, -errno);
	/* A double: ids count up from 1, far below 2^53. */
	napi_value out;
	napi_create_double(env, (double)id, &out);
	return out;
}

/* mount(source|null, target, fstype|null, flags, data|null): 0 or -errno. */
static napi_value js_mount(napi_env env, napi_callback_info info)
{
	size_t argc = 5;
	napi_value args[5];
	int ok = 1;
	int64_t flags;
	char *source = NULL, *target = NULL, *fstype = NULL, *data = NULL;
	int rc;

	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 5 ||
	    napi_get_value_int64(env, args[3], &flags) != napi_ok)
		ok = 0;
	if (ok) {
		source = string_or_null(env, args[0], &ok);
		target = string_or_null(env, args[1], &ok);
		fstype = string_or_null(env, args[2], &ok);
		data = string_or_null(env, args[4], &ok);
	}
	if (!ok || !target) {
		free(source), free(target), free(fstype), free(data);
		napi_throw_type_error(env, NULL, "mount(source, target, fstype, flags, data)");
		return NULL;
	}
	rc = mount(source, target, fstype, (unsigned long)flags, data) == 0 ? 0 : -errno;
	free(source), free(target), free(fstype), free(data);
	return int_result(env, rc);
}

/* umount2(target, flags): 0 or -errno. */
static napi_value js_umount2(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value args[2];
	int ok = 1;
	int32_t flags;
	char *target = NULL;
	int rc;

	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 2 ||
	    napi_get_value_int32(env, args[1], &flags) != napi_ok || !(target = string_or_null(env, args[0], &ok)) || !ok) {
		free(target);
		napi_throw_type_error(env, NULL, "umount2(target, flags)");
		return NULL;
	}
	rc = umount2(target, flags) == 0 ? 0 : -errno;
	free(target);
	return int_result(env, rc);
}

/* pipe2(O_CLOEXEC): [read end, write end], or -errno. */
static napi_value js_pipe(napi_env env, napi_callback_info info)
{
	int fds[2];

	(void)info;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return int_result(env, -errno);
	return int_array(env, fds, 2);
}

/* poll(buffer of struct pollfd, nfds, timeout): the count ready, or -errno (EINTR included). */
static napi_value js_poll(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value args[3];
	void *data;
	size_t len;
	uint32_t nfds;
	int32_t timeout;
	int rc;

	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 3 ||
	    napi_get_buffer_info(env, args[0], &data, &len) != napi_ok || napi_get_value_uint32(env, args[1], &nfds) != napi_ok ||
	    napi_get_value_int32(env, args[2], &timeout) != napi_ok || (size_t)nfds * sizeof(struct pollfd) > len) {
		napi_throw_type_error(env, NULL, "poll(buffer, nfds, timeout)");
		return NULL;
	}
	rc = poll(data, nfds, timeout);
	return int_result(env, rc < 0 ? -errno : rc);
}

/* waitpid(pid, 0), waiting for it to end: its raw wait status, or -errno. */
static napi_value js_wait_blocking(napi_env env, napi_callback_info info)
{
	int32_t pid;
	int st;
	pid_t r;

	if (!int_args(env, info, 1, &pid, "waitBlocking(pid)"))
		return NULL;
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	return int_result(env, r < 0 ? -errno : st);
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */)
{
	const napi_property_descriptor props[] = {
		{ "socketpair", NULL, js_socketpair, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "spawn", NULL, js_spawn, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "wait", NULL, js_wait, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "spawnPiped", NULL, js_spawn_piped, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "run", NULL, js_run, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "ioctl", NULL, js_ioctl, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "flock", NULL, js_flock, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "nsId", NULL, js_ns_id, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "umount2", NULL, js_umount2, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "pipe", NULL, js_pipe, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "poll", NULL, js_poll, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "waitBlocking", NULL, js_wait_blocking, NULL, NULL, NULL, napi_enumerable, NULL },
	};

	napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
	return exports;
}
