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
 * Kernel rules below were checked on Linux 6.18.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "protocol.h"
#include "scan.h"
#include "pidtick.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080 /* Linux 5.6 */
#endif

/*
 * The one global: where a failure is reported. In the helper it is the driver's socket; in
 * each child it is that child's socket to the helper, which relays what it reads.
 */
static int syncfd = -1;

/*
 * The namespace types in nsenter(1)'s join order (util-linux namespace_files[], also the order
 * of NS_TYPES in src/sys/nstypes.ts): user first, mnt after pid and net, time last.
 */
static const struct nstype {
	int flag;
	const char *flag_name;
	const char *name;
} ns_order[] = {
	{ CLONE_NEWUSER, "CLONE_NEWUSER", "user" },
	{ CLONE_NEWCGROUP, "CLONE_NEWCGROUP", "cgroup" },
	{ CLONE_NEWIPC, "CLONE_NEWIPC", "ipc" },
	{ CLONE_NEWUTS, "CLONE_NEWUTS", "uts" },
	{ CLONE_NEWNET, "CLONE_NEWNET", "net" },
	{ CLONE_NEWPID, "CLONE_NEWPID", "pid" },
	{ CLONE_NEWNS, "CLONE_NEWNS", "mnt" },
	{ CLONE_NEWTIME, "CLONE_NEWTIME", "time" },
};
#define NS_COUNT (sizeof ns_order / sizeof ns_order[0])
#define NS_ALL (CLONE_NEWUSER | CLONE_NEWCGROUP | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | \
		CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWTIME)

enum mode { MODE_HOLDER = 1, MODE_RUN = 2, MODE_JOIN = 4 };

#define MAX_EXTENTS 340 /* user_namespaces(7): at most 340 map lines since Linux 4.15 */
#define MAX_CGROUPS 16

struct extent {
	uint32_t inside, outside, count;
};

struct idmap {
	struct extent e[MAX_EXTENTS];
	int n;
};

struct join_ns {
	int fd;
	uint32_t type;
	uint64_t ino;
};

struct config {
	enum mode mode;
	uint32_t nstypes;
	struct idmap uid, gid;
	bool map_tools;
	int setgroups;   /* NSM_SETGROUPS_* */
	const char *hostname;
	bool timeoffsets;
	int64_t monotonic, boottime;
	int propagation; /* NSM_PROP_* */
	bool mount_proc, mount_sys;
	int loopback;    /* NSM_LOOPBACK_* */
	const char *cgroups[MAX_CGROUPS];
	int ncgroups;
	int cgroup_fds[MAX_CGROUPS]; /* join: cgroup.procs of each, opened before any setns */
	struct join_ns join[NS_COUNT];
	int njoin;
	bool join_ids;
	uint32_t join_uid, join_gid;
	const char *cwd;
	char **argv;
	int argc;
	const char *name;  /* holder: its environment's name, for its title (NULL: none) */
	char *argv_area;   /* our own argv strings, which the holder overwrites with its title */
	size_t argv_len;
};

struct frame {
	uint8_t code;
	uint32_t len;
	unsigned char *data; /* copy of the payload followed by two NULs */
};

/* ---------------------------------------------------------------- failure */

static const char *msg_name(int code)
{
	switch (code) {
	case NSM_CFG_NSTYPES: return "NSM_CFG_NSTYPES";
	case NSM_CFG_UID_MAP: return "NSM_CFG_UID_MAP";
	case NSM_CFG_GID_MAP: return "NSM_CFG_GID_MAP";
	case NSM_CFG_MAP_TOOLS: return "NSM_CFG_MAP_TOOLS";
	case NSM_CFG_SETGROUPS: return "NSM_CFG_SETGROUPS";
	case NSM_CFG_HOSTNAME: return "NSM_CFG_HOSTNAME";
	case NSM_CFG_TIMEOFFSETS: return "NSM_CFG_TIMEOFFSETS";
	case NSM_CFG_PROPAGATION: return "NSM_CFG_PROPAGATION";
	case NSM_CFG_MOUNT_PROC: return "NSM_CFG_MOUNT_PROC";
	case NSM_CFG_MOUNT_SYS: return "NSM_CFG_MOUNT_SYS";
	case NSM_CFG_LOOPBACK: return "NSM_CFG_LOOPBACK";
	case NSM_CFG_CGROUP: return "NSM_CFG_CGROUP";
	case NSM_CFG_JOIN_NS: return "NSM_CFG_JOIN_NS";
	case NSM_CFG_JOIN_IDS: return "NSM_CFG_JOIN_IDS";
	case NSM_CFG_CWD: return "NSM_CFG_CWD";
	case NSM_CFG_ARG: return "NSM_CFG_ARG";
	case NSM_CFG_END: return "NSM_CFG_END";
	case NSM_READY_ACK: return "NSM_READY_ACK";
	case NSM_READY: return "NSM_READY";
	case NSM_STARTED: return "NSM_STARTED";
	case NSM_FAIL: return "NSM_FAIL";
	case NSM_SYNC_USERMAP_PLS: return "NSM_SYNC_USERMAP_PLS";
	case NSM_SYNC_USERMAP_ACK: return "NSM_SYNC_USERMAP_ACK";
	case NSM_SYNC_CHILD_READY: return "NSM_SYNC_CHILD_READY";
	case NSM_SYNC_DETACH: return "NSM_SYNC_DETACH";
	default: return "unknown message";
	}
}

/* Send one frame; -1 with errno set on failure. Used by everything, including failure reports. */
static int send_frame(int fd, uint8_t code, const void *payload, uint32_t len)
{
	unsigned char h[NSM_FRAME_HEADER] = {
		NSM_PROTO_VERSION, code, len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, len >> 24,
	};
	struct iovec iov[2] = { { h, sizeof h }, { (void *)payload, len } };
	size_t left = sizeof h + len;
	int i = 0;

	while (left > 0) {
		ssize_t w = writev(fd, iov + i, 2 - i);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		left -= w;
		while (i < 2 && (size_t)w >= iov[i].iov_len) {
			w -= iov[i].iov_len;
			iov[i].iov_len = 0;
			i++;
		}
		if (i < 2) {
			iov[i].iov_base = (char *)iov[i].iov_base + w;
			iov[i].iov_len -= w;
		}
	}
	return 0;
}

/* Kill and reap a child we made, so that a failure leaves nothing behind. */
static void stop_child(pid_t child)
{
	if (child <= 0)
		return;
	kill(child, SIGKILL);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Report "step NUL errno-name" on syncfd (or stderr if that is impossible) and exit `code`. */
static noreturn void vfail(int code, pid_t child, int err, const char *fmt, va_list ap)
{
	char msg[1200];
	char name[32];
	const char *n = strerrorname_np(err);
	int len;

	if (n == NULL) {
		snprintf(name, sizeof name, "E#%d", err);
		n = name;
	}
	len = vsnprintf(msg, 1024, fmt, ap);
	if (len < 0 || len >= 1024)
		len = 1023;
	stop_child(child);
	msg[len] = '\0';
	len += snprintf(msg + len + 1, sizeof msg - len - 1, "%s", n) + 1;
	if (syncfd < 0 || send_frame(syncfd, NSM_FAIL, msg, len) < 0)
		dprintf(STDERR_FILENO, "nsm-helper: %s: %s: %s\n", msg, n, strerror(err));
	_exit(code);
}

/* die(): a step failed with errno. Kills `child` (0: none) first. */
static noreturn void die(pid_t child, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vfail(NSM_EXIT_FAIL, child, err, fmt, ap);
}

/* diex(): a step failed for a reason we name ourselves (EPROTO, EINVAL ...), not errno. */
static noreturn void diex(pid_t child, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(NSM_EXIT_FAIL, child, err, fmt, ap);
}

/* fail(): like diex(), with an exit code of its own (126/127 for execvp). */
static noreturn void fail(int code, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(code, 0, err, fmt, ap);
}

/* --------------------------------------------------------------- framing */

static uint32_t le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Read up to n bytes, stopping early only at end of file. -1 with errno on error. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += r;
	}
	return got;
}

/*
 * Read one frame; `step` says what we wait for. End of file before the first byte returns
 * false when eof_ok, and is a failure otherwise; so is anything malformed.
 */
static bool read_frame(int fd, struct frame *f, const char *step, bool eof_ok, pid_t child)
{
	unsigned char h[NSM_FRAME_HEADER];
	ssize_t r = read_full(fd, h, sizeof h);

	if (r < 0)
		die(child, "%s", step);
	if (r == 0 && eof_ok)
		return false;
	if (r < (ssize_t)sizeof h)
		diex(child, EPROTO, "%s: got %zd of %d header bytes", step, r, NSM_FRAME_HEADER);
	if (h[0] != NSM_PROTO_VERSION)
		diex(child, EPROTO, "%s: protocol version %u, nsm-helper speaks version %u", step, h[0],
		     NSM_PROTO_VERSION);
	f->code = h[1];
	f->len = le32(h + 2);
	if (f->len > NSM_MAX_PAYLOAD)
		diex(child, EMSGSIZE, "%s: %s of %u bytes (at most %u)", step, msg_name(f->code), f->len,
		     NSM_MAX_PAYLOAD);
	/* Two NULs: a string payload is terminated, and so is a FAIL payload missing its separator. */
	f->data = malloc(f->len + 2);
	if (f->data == NULL)
		die(child, "%s: malloc(%u)", step, f->len + 2);
	r = read_full(fd, f->data, f->len);
	if (r < 0)
		die(child, "%s", step);
	if ((uint32_t)r < f->len)
		diex(child, EPROTO, "%s: %s: got %zd of %u payload bytes", step, msg_name(f->code), r, f->len);
	f->data[f->len] = f->data[f->len + 1] = '\0';
	return true;
}

static void write_frame(int fd, uint8_t code, const void *payload, uint32_t len, pid_t child)
{
	if (send_frame(fd, code, payload, len) < 0)
		die(child, "write(%s)", msg_name(code));
}

/* Pass a child's NSM_FAIL on unchanged, then stop it and exit `code`. */
static noreturn void relay_fail(const struct frame *f, pid_t child, int code)
{
	stop_child(child);
	if (send_frame(syncfd, NSM_FAIL, f->data, f->len) < 0)
		dprintf(STDERR_FILENO, "nsm-helper: %s: %s\n", f->data, f->data + strlen((char *)f->data) + 1);
	_exit(code);
}

/* Wait for one message `code` from a child; its NSM_FAIL is relayed and ends the helper. */
static void expect_frame(int fd, uint8_t code, pid_t child)
{
	char step[64];
	struct frame f;

	snprintf(step, sizeof step, "read(%s)", msg_name(code));
	if (!read_frame(fd, &f, step, true, child))
		diex(child, EPROTO, "%s: the other side exited without a reply", step);
	if (f.code == NSM_FAIL && child > 0)
		relay_fail(&f, child, NSM_EXIT_FAIL);
	if (f.code != code)
		diex(child, EPROTO, "%s: unexpected %s (0x%02x)", step, msg_name(f.code), f.code);
	free(f.data);
}

/* The child's end of a new socketpair becomes syncfd; the helper keeps the other end. */
static pid_t fork_with_socket(int *helper_end, const char *what)
{
	int sp[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		die(0, "socketpair(%s)", what);
	pid = fork();
	if (pid < 0)
		die(0, "fork(%s)", what);
	if (pid == 0) {
		close(sp[0]);
		close(syncfd);
		syncfd = sp[1];
		return 0;
	}
	close(sp[1]);
	*helper_end = sp[0];
	return pid;
}

/*
 * True when the helper has gone already: its end of our socket is closed. Checked right after
 * PR_SET_PDEATHSIG, which only covers a parent dying after the prctl.
 */
static bool helper_gone(void)
{
	struct pollfd p = { .fd = syncfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* ---------------------------------------------------------------- config */

static void need_len(const struct frame *f, uint32_t len)
{
	if (f->len != len)
		diex(0, EPROTO, "read(config): %s payload is %u bytes, expected %u", msg_name(f->code), f->len,
		     len);
}

static const char *need_string(const struct frame *f, uint32_t min, uint32_t max)
{
	if (f->len < min || f->len > max)
		diex(0, EINVAL, "config: %s of %u bytes (%u..%u)", msg_name(f->code), f->len, min, max);
	if (memchr(f->data, '\0', f->len) != NULL)
		diex(0, EINVAL, "config: %s contains a NUL byte", msg_name(f->code));
	return (const char *)f->data;
}

static uint8_t need_enum(const struct frame *f, uint8_t lo, uint8_t hi)
{
	need_len(f, 1);
	if (f->data[0] < lo || f->data[0] > hi)
		diex(0, EINVAL, "config: %s value %u (%u..%u)", msg_name(f->code), f->data[0], lo, hi);
	return f->data[0];
}

static void parse_map(const struct frame *f, struct idmap *m)
{
	if (f->len == 0 || f->len % 12 != 0 || f->len / 12 > MAX_EXTENTS)
		diex(0, EINVAL, "config: %s of %u bytes (1..%d extents of 12)", msg_name(f->code), f->len,
		     MAX_EXTENTS);
	m->n = f->len / 12;
	for (int i = 0; i < m->n; i++) {
		const unsigned char *p = f->data + 12 * i;
		m->e[i] = (struct extent){ le32(p), le32(p + 4), le32(p + 8) };
		if (m->e[i].count == 0)
			diex(0, EINVAL, "config: %s extent %d has count 0", msg_name(f->code), i);
	}
}

static void parse_join_ns(const struct frame *f, struct config *c)
{
	struct join_ns *j = &c->join[c->njoin];

	need_len(f, 16);
	if (c->njoin == (int)NS_COUNT)
		diex(0, EINVAL, "config: more than %zu NSM_CFG_JOIN_NS", NS_COUNT);
	*j = (struct join_ns){ (int)le32(f->data), le32(f->data + 4), le64(f->data + 8) };
	if (__builtin_popcount(j->type) != 1 || (j->type & ~NS_ALL))
		diex(0, EINVAL, "config: NSM_CFG_JOIN_NS type 0x%x is not one CLONE_NEW* flag", j->type);
	for (int i = 0; i < c->njoin; i++)
		if (c->join[i].type == j->type)
			diex(0, EINVAL, "config: NSM_CFG_JOIN_NS type 0x%x given twice", j->type);
	if (j->fd < 3 || j->fd == syncfd)
		diex(0, EINVAL, "config: NSM_CFG_JOIN_NS fd %d is stdio or the protocol socket", j->fd);
	c->njoin++;
}

/* Which modes accept each configuration message, and whether it may repeat. */
static void check_allowed(const struct frame *f, const struct config *c, uint64_t *seen)
{
	int modes;
	bool repeatable = false;

	switch (f->code) {
	case NSM_CFG_NSTYPES: case NSM_CFG_UID_MAP: case NSM_CFG_GID_MAP: case NSM_CFG_MAP_TOOLS:
	case NSM_CFG_SETGROUPS: case NSM_CFG_HOSTNAME: case NSM_CFG_TIMEOFFSETS:
	case NSM_CFG_PROPAGATION: case NSM_CFG_MOUNT_PROC: case NSM_CFG_MOUNT_SYS:
	case NSM_CFG_LOOPBACK:
		modes = MODE_HOLDER | MODE_RUN;
		break;
	case NSM_CFG_CGROUP:
		modes = MODE_HOLDER | MODE_RUN | MODE_JOIN;
		repeatable = true;
		break;
	case NSM_CFG_JOIN_NS:
		modes = MODE_JOIN;
		repeatable = true;
		break;
	case NSM_CFG_JOIN_IDS: case NSM_CFG_CWD:
		modes = MODE_JOIN;
		break;
	case NSM_CFG_ARG:
		modes = MODE_RUN | MODE_JOIN;
		repeatable = true;
		break;
	case NSM_CFG_END:
		modes = MODE_HOLDER | MODE_RUN | MODE_JOIN;
		break;
	default:
		diex(0, EPROTO, "read(config): unexpected %s (0x%02x)", msg_name(f->code), f->code);
	}
	if (!(modes & c->mode))
		diex(0, EPROTO, "read(config): %s is not valid in this mode", msg_name(f->code));
	if (!repeatable) {
		uint64_t bit = 1ull << (f->code - NSM_CFG_NSTYPES);
		if (*seen & bit)
			diex(0, EPROTO, "read(config): %s given twice", msg_name(f->code));
		*seen |= bit;
	}
}

/* Combinations that cannot work are refused before anything is created. */
static void validate(const struct config *c, uint64_t seen)
{
	uint32_t t = c->nstypes;
	struct { bool set; uint32_t needs; const char *what, *flags; } rules[] = {
		{ c->uid.n || c->gid.n, CLONE_NEWUSER, "a uid/gid map", "CLONE_NEWUSER" },
		{ c->map_tools, CLONE_NEWUSER, "NSM_CFG_MAP_TOOLS", "CLONE_NEWUSER" },
		{ seen & (1ull << (NSM_CFG_SETGROUPS - NSM_CFG_NSTYPES)), CLONE_NEWUSER,
		  "NSM_CFG_SETGROUPS", "CLONE_NEWUSER" },
		{ c->hostname != NULL, CLONE_NEWUTS, "NSM_CFG_HOSTNAME", "CLONE_NEWUTS" },
		{ c->timeoffsets, CLONE_NEWTIME, "NSM_CFG_TIMEOFFSETS", "CLONE_NEWTIME" },
		{ seen & (1ull << (NSM_CFG_PROPAGATION - NSM_CFG_NSTYPES)), CLONE_NEWNS,
		  "NSM_CFG_PROPAGATION", "CLONE_NEWNS" },
		{ c->mount_proc, CLONE_NEWNS | CLONE_NEWPID, "NSM_CFG_MOUNT_PROC", "CLONE_NEWNS|CLONE_NEWPID" },
		{ c->mount_sys, CLONE_NEWNS | CLONE_NEWNET, "NSM_CFG_MOUNT_SYS", "CLONE_NEWNS|CLONE_NEWNET" },
		{ seen & (1ull << (NSM_CFG_LOOPBACK - NSM_CFG_NSTYPES)), CLONE_NEWNET, "NSM_CFG_LOOPBACK",
		  "CLONE_NEWNET" },
	};

	if (c->mode == MODE_JOIN) {
		bool user = false;
		if (c->njoin == 0)
			diex(0, EINVAL, "config: join without NSM_CFG_JOIN_NS");
		for (int i = 0; i < c->njoin; i++)
			user |= c->join[i].type == CLONE_NEWUSER;
		if (c->join_ids && !user)
			diex(0, EINVAL, "config: NSM_CFG_JOIN_IDS needs a user namespace to join");
	} else {
		if (!(seen & (1ull << (NSM_CFG_NSTYPES - NSM_CFG_NSTYPES))))
			diex(0, EPROTO, "read(config): no NSM_CFG_NSTYPES before NSM_CFG_END");
		if (t & ~NS_ALL)
			diex(0, EINVAL, "config: NSM_CFG_NSTYPES 0x%x has bits that are not CLONE_NEW* flags", t);
		if (c->mode == MODE_HOLDER && t == 0)
			diex(0, EINVAL, "config: a holder needs at least one namespace type");
		if (c->map_tools && seen & (1ull << (NSM_CFG_SETGROUPS - NSM_CFG_NSTYPES)))
			diex(0, EINVAL, "config: NSM_CFG_SETGROUPS with NSM_CFG_MAP_TOOLS (newgidmap decides)");
		for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
			if (rules[i].set && (t & rules[i].needs) != rules[i].needs)
				diex(0, EINVAL, "config: %s needs %s", rules[i].what, rules[i].flags);
	}
	if (c->mode != MODE_HOLDER && (c->argc == 0 || c->argv[0][0] == '\0'))
		diex(0, EINVAL, "config: no command (NSM_CFG_ARG)");
}

/* Read the configuration frames from `fd` (the driver's socket, or stdin) up to NSM_CFG_END. */
static void read_config(int fd, struct config *c)
{
	uint64_t seen = 0;
	int cap = 0;

	for (;;) {
		struct frame f;
		bool keep = false;

		read_frame(fd, &f, "read(config)", false, 0);
		check_allowed(&f, c, &seen);
		switch (f.code) {
		case NSM_CFG_NSTYPES:
			need_len(&f, 4);
			c->nstypes = le32(f.data);
			break;
		case NSM_CFG_UID_MAP:
			parse_map(&f, &c->uid);
			break;
		case NSM_CFG_GID_MAP:
			parse_map(&f, &c->gid);
			break;
		case NSM_CFG_MAP_TOOLS:
			need_len(&f, 0);
			c->map_tools = true;
			break;
		case NSM_CFG_SETGROUPS:
			c->setgroups = need_enum(&f, NSM_SETGROUPS_DENY, NSM_SETGROUPS_ALLOW);
			break;
		case NSM_CFG_HOSTNAME:
			c->hostname = need_string(&f, 1, HOST_NAME_MAX);
			keep = true;
			break;
		case NSM_CFG_TIMEOFFSETS:
			need_len(&f, 16);
			c->timeoffsets = true;
			c->monotonic = (int64_t)le64(f.data);
			c->boottime = (int64_t)le64(f.data + 8);
			break;
		case NSM_CFG_PROPAGATION:
			c->propagation = need_enum(&f, NSM_PROP_PRIVATE, NSM_PROP_UNCHANGED);
			break;
		case NSM_CFG_MOUNT_PROC:
			need_len(&f, 0);
			c->mount_proc = true;
			break;
		case NSM_CFG_MOUNT_SYS:
			need_len(&f, 0);
			c->mount_sys = true;
			break;
		case NSM_CFG_LOOPBACK:
			c->loopback = need_enum(&f, NSM_LOOPBACK_UP, NSM_LOOPBACK_DOWN);
			break;
		case NSM_CFG_CGROUP:
			if (c->ncgroups == MAX_CGROUPS)
				diex(0, EINVAL, "config: more than %d NSM_CFG_CGROUP", MAX_CGROUPS);
			c->cgroups[c->ncgroups++] = need_string(&f, 1, PATH_MAX - 16);
			keep = true;
			break;
		case NSM_CFG_JOIN_NS:
			parse_join_ns(&f, c);
			break;
		case NSM_CFG_JOIN_IDS:
			need_len(&f, 8);
			c->join_ids = true;
			c->join_uid = le32(f.data);
			c->join_gid = le32(f.data + 4);
			break;
		case NSM_CFG_CWD:
			c->cwd = need_string(&f, 1, PATH_MAX - 1);
			keep = true;
			break;
		case NSM_CFG_ARG:
			need_string(&f, 0, NSM_MAX_PAYLOAD);
			if (c->argc + 2 > cap) {
				cap = cap ? 2 * cap : 8;
				c->argv = realloc(c->argv, cap * sizeof *c->argv);
				if (c->argv == NULL)
					die(0, "read(config): realloc(argv)");
			}
			c->argv[c->argc++] = (char *)f.data;
			c->argv[c->argc] = NULL;
			keep = true;
			break;
		case NSM_CFG_END:
			need_len(&f, 0);
			free(f.data);
			validate(c, seen);
			return;
		}
		if (!keep)
			free(f.data);
	}
}

/* ------------------------------------------------------------ small steps */

/* Write `data` with one write(2); the map files require exactly that (user_namespaces(7)). */
static int write_file(const char *path, const char *data)
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
static void reset_signals(void)
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
static void catch_signals(const sigset_t *set)
{
	struct sigaction sa = { .sa_handler = noop_handler };

	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(set, sig) == 1 && sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigprocmask(SIG_BLOCK, set, NULL);
}

/* The signals a run/join helper and a run init pass on to the command. */
static sigset_t forwarded_signals(void)
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
static bool sent_by_process(const siginfo_t *si)
{
	return si->si_code <= 0;
}

/* Shell convention: the status, or 128+N for a command killed by signal N. */
static int exit_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return NSM_EXIT_SIGNAL_BASE + WTERMSIG(st);
	return NSM_EXIT_FAIL;
}

static int reap(pid_t pid, const char *what)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die(0, "waitpid(%s)", what);
	return st;
}

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

static void join_cgroup(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	/* "0" is the writer itself, in cgroup v1 and v2 alike (cgroups(7)). */
	if (write_file(path, "0") < 0)
		die(0, "write(%s)", path);
}

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

static void new_user_ns(const struct config *c)
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
static void mount_fresh(const char *type, const char *dir)
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
static void create_namespaces(const struct config *c)
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

/* -------------------------------------------------------------- holder */

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
static noreturn void do_holder(const struct config *c, int in)
{
	sigset_t set;
	unsigned char pid_le[4];
	int sock;
	pid_t h;

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

/* ------------------------------------------------------------- run, join */

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
	if (c->cwd && chdir(c->cwd) < 0) {
		/* The caller's directory may not exist (or be reachable) inside: use / instead. */
		if (errno != ENOENT && errno != ENOTDIR && errno != EACCES)
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
	child = fork_with_socket(&sock, init ? "init" : "command");
	if (child == 0) {
		/* If the helper dies, so does the command: nothing is left behind. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
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

static noreturn void do_run(const struct config *c)
{
	create_namespaces(c);
	supervise(c, c->nstypes & CLONE_NEWPID);
}

/* The namespace file behind `fd` must be of `type` and have inode `ino` (0: not checked). */
static void check_ns_fd(const struct join_ns *j, const char *name)
{
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
}

/* setns(2): a process cannot re-enter its own user namespace (EINVAL); nsenter skips it too. */
static bool is_own_user_ns(int fd)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0 || stat("/proc/self/ns/user", &b) < 0)
		die(0, "stat(/proc/self/ns/user)");
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* setgroups(2) is refused in a user namespace whose setgroups file says "deny". */
static bool setgroups_allowed(void)
{
	char buf[16] = "";
	int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die(0, "open(/proc/self/setgroups)");
	if (read(fd, buf, sizeof buf - 1) < 0)
		die(0, "read(/proc/self/setgroups)");
	close(fd);
	return strncmp(buf, "allow", 5) == 0;
}

static noreturn void do_join(struct config *c)
{
	bool joined_user = false, groups = false, dropped = false;
	int drop_err = 0;

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
		if (c->join[i].type == CLONE_NEWUSER && !is_own_user_ns(c->join[i].fd)) {
			dropped = setgroups(0, NULL) == 0;
			drop_err = dropped ? 0 : errno;
		}
	}
	/*
	 * user first, so that we hold every capability in the namespace that owns the others
	 * (user_namespaces(7)); then nsenter's order: mnt after pid and net, time last. Being
	 * single-threaded, setns(CLONE_NEWNS) needs no unshare(CLONE_FS) here (setns(2)).
	 */
	for (size_t k = 0; k < NS_COUNT; k++) {
		for (int i = 0; i < c->njoin; i++) {
			struct join_ns *j = &c->join[i];

			if (j->type != (uint32_t)ns_order[k].flag)
				continue;
			if (j->type == CLONE_NEWUSER && is_own_user_ns(j->fd))
				continue;
			if (setns(j->fd, j->type) < 0)
				die(0, "setns(%s)", ns_order[k].name);
			if (j->type == CLONE_NEWUSER) {
				joined_user = true;
				/* Read now: once the mount namespace changes, /proc/self may not be ours. */
				groups = setgroups_allowed();
			}
		}
	}
	for (int i = 0; i < c->njoin; i++)
		close(c->join[i].fd);
	/* nsenter(1) default: become uid/gid 0 (or the ids asked for) of the joined user ns. */
	if (joined_user) {
		if (groups && setgroups(0, NULL) < 0)
			die(0, "setgroups(0)");
		/*
		 * Dropped neither before (EPERM: no CAP_SETGID where we were, so these groups are the
		 * caller's own, which it could not shed either) nor inside ("deny"): the command keeps
		 * them, as the caller itself would. Anything else is a failure.
		 */
		if (!dropped && !groups && drop_err != EPERM)
			diex(0, drop_err, "setgroups(0)");
		if (setresgid(c->join_gid, c->join_gid, c->join_gid) < 0)
			die(0, "setresgid(%u)", c->join_gid);
		if (setresuid(c->join_uid, c->join_uid, c->join_uid) < 0)
			die(0, "setresuid(%u)", c->join_uid);
	}
	/* Fork: setns() of a pid or time namespace applies to children only (setns(2)). */
	supervise(c, false);
}

/* ------------------------------------------------------------------ main */

static noreturn void usage(void)
{
	dprintf(STDERR_FILENO,
		"usage: nsm-helper holder|run|join SYNCFD\n"
		"       nsm-helper holder - [NAME]\n"
		"       nsm-helper scan [--proc ROOT] [--types MASK] [--no-fds] [--no-threads] [--jobs N]\n"
		"       nsm-helper pidtick [--proc ROOT] [--list MS] [--scan-fd FD] MS\n"
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

int main(int argc, char **argv)
{
	static const struct { const char *name; enum mode mode; } modes[] = {
		{ "holder", MODE_HOLDER }, { "run", MODE_RUN }, { "join", MODE_JOIN },
	};
	struct config c = { .setgroups = NSM_SETGROUPS_DENY, .propagation = NSM_PROP_PRIVATE,
			    .loopback = NSM_LOOPBACK_UP };
	int in;

	/* `scan` is a read-only /proc walk with its own argv and no protocol pipe (scan.c). */
	if (argc >= 2 && strcmp(argv[1], "scan") == 0)
		return scan_main(argc - 1, argv + 1);
	/* `pidtick` is the monitor's poll clock, with a line protocol on stdin/stdout (pidtick.c). */
	if (argc >= 2 && strcmp(argv[1], "pidtick") == 0)
		return pidtick_main(argc - 1, argv + 1);
	for (size_t i = 0; argc >= 3 && i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			c.mode = modes[i].mode;
	/* Only a holder takes a NAME (for its title); it must not be empty. */
	if (c.mode == 0 || argc > 4 || (argc == 4 && (c.mode != MODE_HOLDER || argv[3][0] == '\0')))
		usage();
	if (argc == 4) {
		c.name = argv[3];
		c.argv_area = argv[0];
		c.argv_len = argv_span(argc, argv);
	}
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
