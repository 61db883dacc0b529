/*
 * nsm-helper stage "config": the driver's configuration frames, read by nsm:helper up to
 * NSM_CFG_END into a struct config, and checked (which mode accepts each message, lengths,
 * values, combinations that cannot work) before anything is created, so that a bad
 * configuration fails with nothing to undo. It runs in the very process that unshares next,
 * which must stay single-threaded (unshare(2) of a user namespace): plain C, no second process.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "helper.h"

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

	/* 16 bytes, or 24 with the namespace's ID (NS_GET_ID) to check as well. */
	if (f->len != 24)
		need_len(f, 16);
	if (c->njoin == (int)NS_COUNT)
		diex(0, EINVAL, "config: more than %zu NSM_CFG_JOIN_NS", NS_COUNT);
	*j = (struct join_ns){ (int)le32(f->data), le32(f->data + 4), le64(f->data + 8), f->len == 24 ? le64(f->data + 16) : 0 };
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
		modes = MODE_JOIN | MODE_HOLDER;
		repeatable = true;
		break;
	case NSM_CFG_JOIN_IDS: case NSM_CFG_JOIN_FLAGS: case NSM_CFG_JOIN_ROOT:
	case NSM_CFG_JOIN_WD: case NSM_CFG_NETNS_EXEC: case NSM_CFG_NEW_SESSION:
		modes = MODE_JOIN;
		break;
	case NSM_CFG_CWD:
		modes = MODE_RUN | MODE_JOIN;
		break;
	case NSM_CFG_ROOT: case NSM_CFG_KILL_SIGNAL:
		modes = MODE_RUN;
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

	if (c->mode == MODE_HOLDER && c->njoin > 0) {
		/* nsm adopt: a holder that joins existing namespaces makes none and sets none up. */
		uint64_t made = ((1ull << (NSM_CFG_LOOPBACK - NSM_CFG_NSTYPES + 1)) - 1) | (1ull << (NSM_CFG_CGROUP - NSM_CFG_NSTYPES));
		if ((seen & made) || c->ncgroups > 0)
			diex(0, EINVAL, "config: a holder with NSM_CFG_JOIN_NS takes no namespace or cgroup set-up");
	} else if (c->mode == MODE_JOIN) {
		bool user = false;
		if (c->njoin == 0)
			diex(0, EINVAL, "config: join without NSM_CFG_JOIN_NS");
		for (int i = 0; i < c->njoin; i++)
			user |= c->join[i].type == CLONE_NEWUSER;
		if (c->join_ids && !user && !(c->join_flags & (NSM_JOIN_SETUID | NSM_JOIN_SETGID)))
			diex(0, EINVAL, "config: NSM_CFG_JOIN_IDS needs a user namespace to join, or NSM_JOIN_SETUID/SETGID");
		if (c->join_flags & ~(uint32_t)(NSM_JOIN_SETUID | NSM_JOIN_SETGID | NSM_JOIN_PRESERVE_CRED |
					      NSM_JOIN_KEEP_CAPS | NSM_JOIN_NO_FORK | NSM_JOIN_CWD_ASKED))
			diex(0, EINVAL, "config: NSM_CFG_JOIN_FLAGS 0x%x has unknown bits", c->join_flags);
		if (c->netns_exec && (strchr(c->netns_exec, '/') || strcmp(c->netns_exec, ".") == 0 ||
				      strcmp(c->netns_exec, "..") == 0))
			diex(0, EINVAL, "config: NSM_CFG_NETNS_EXEC is not an ip netns name");
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
void read_config(int fd, struct config *c)
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
		case NSM_CFG_JOIN_FLAGS:
			need_len(&f, 4);
			c->join_flags = le32(f.data);
			break;
		case NSM_CFG_JOIN_ROOT:
		case NSM_CFG_JOIN_WD: {
			int fd;
			need_len(&f, 4);
			fd = (int)le32(f.data);
			if (fd < 3 || fd == syncfd)
				diex(0, EINVAL, "config: %s fd %d is stdio or the protocol socket", msg_name(f.code), fd);
			*(f.code == NSM_CFG_JOIN_ROOT ? &c->root_fd : &c->wd_fd) = fd;
			break;
		}
		case NSM_CFG_NETNS_EXEC:
			c->netns_exec = need_string(&f, 0, NAME_MAX);
			keep = true;
			break;
		case NSM_CFG_NEW_SESSION:
			need_len(&f, 0);
			c->new_session = true;
			break;
		case NSM_CFG_CWD:
			c->cwd = need_string(&f, 1, PATH_MAX - 1);
			keep = true;
			break;
		case NSM_CFG_ROOT:
			c->root = need_string(&f, 1, PATH_MAX - 1);
			keep = true;
			break;
		case NSM_CFG_KILL_SIGNAL:
			need_len(&f, 4);
			c->kill_signal = (int)le32(f.data);
			if (c->kill_signal < 1 || c->kill_signal > SIGRTMAX)
				diex(0, EINVAL, "config: NSM_CFG_KILL_SIGNAL %d is not a signal", c->kill_signal);
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
