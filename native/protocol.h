/*
 * nsm-helper pipe protocol, version 2: the numbers. native/PROTOCOL.md explains them;
 * src/sys/helper-protocol.ts mirrors them and test/unit/helper-protocol.test.ts parses this
 * file to check that both sides agree. Change one, change the other.
 *
 * Frame: u8 version, u8 code, u32 payload length (little-endian), payload.
 */
#ifndef NSM_PROTOCOL_H
#define NSM_PROTOCOL_H

#define NSM_PROTO_VERSION 2 /* 2: a holder waits for NSM_READY_ACK before it lives on */
#define NSM_FRAME_HEADER 6
#define NSM_MAX_PAYLOAD 1048576

/* The channel argument that means stdin (configuration) and stdout (replies), holder only. */
#define NSM_CHANNEL_STDIO "-"

/* Message codes: distinct and non-zero, so a zeroed buffer is never a valid message. */
enum nsm_msg {
	/* driver -> helper: configuration, any order, ended by NSM_CFG_END */
	NSM_CFG_NSTYPES = 0x10,      /* u32 CLONE_NEW* mask of namespaces to create */
	NSM_CFG_UID_MAP = 0x11,      /* n x (u32 inside, u32 outside, u32 count) uid_map extents */
	NSM_CFG_GID_MAP = 0x12,      /* n x (u32 inside, u32 outside, u32 count) gid_map extents */
	NSM_CFG_MAP_TOOLS = 0x13,    /* empty: write the maps with newuidmap/newgidmap */
	NSM_CFG_SETGROUPS = 0x14,    /* u8 NSM_SETGROUPS_*: before a direct gid_map write */
	NSM_CFG_HOSTNAME = 0x15,     /* string: hostname of the new UTS namespace */
	NSM_CFG_TIMEOFFSETS = 0x16,  /* i64 monotonic s, i64 boottime s: new time namespace */
	NSM_CFG_PROPAGATION = 0x17,  /* u8 NSM_PROP_*: propagation of / in the new mount ns */
	NSM_CFG_MOUNT_PROC = 0x18,   /* empty: PID 1 mounts a fresh /proc (mnt + pid) */
	NSM_CFG_MOUNT_SYS = 0x19,    /* empty: mount a fresh /sys for the new net ns (mnt + net) */
	NSM_CFG_LOOPBACK = 0x1a,     /* u8 NSM_LOOPBACK_*: lo of the new net ns */
	NSM_CFG_CGROUP = 0x1b,       /* string, repeatable: cgroup directory to join first (join: the command joins) */
	NSM_CFG_JOIN_NS = 0x1c,      /* u32 fd, u32 CLONE_NEW* type, u64 inode, repeatable */
	NSM_CFG_JOIN_IDS = 0x1d,     /* u32 uid, u32 gid: identity inside a joined user ns */
	NSM_CFG_CWD = 0x1e,          /* string: working directory of the command */
	NSM_CFG_ARG = 0x1f,          /* string, repeatable: next argv element of the command */
	NSM_CFG_END = 0x20,          /* empty: configuration complete, start */
	NSM_READY_ACK = 0x21,        /* empty, holder only, after NSM_READY: the holder is noted, let it live on */
	NSM_CFG_ROOT = 0x26,         /* string, run only: chroot(2) of the command (unshare --root) */
	NSM_CFG_KILL_SIGNAL = 0x27,  /* u32, run only: signal the command gets if nsm dies (default SIGKILL) */
	NSM_CFG_JOIN_FLAGS = 0x28,   /* u32 NSM_JOIN_* bits, join only: nsenter's credential and fork options */
	NSM_CFG_JOIN_ROOT = 0x29,    /* u32 fd, join only: chroot(2) to this directory after joining (nsenter -r) */
	NSM_CFG_JOIN_WD = 0x2a,      /* u32 fd, join only: working directory after joining and chroot (nsenter -w) */
	NSM_CFG_NETNS_EXEC = 0x2b,   /* string (may be empty), join only: ip netns exec's private mounts; /etc/netns/NAME */
	NSM_CFG_NEW_SESSION = 0x2f,  /* empty, join only: the command starts a session whose terminal is its stdio's */

	/* helper -> driver */
	NSM_READY = 0x30,            /* u32 pid: holder set up, pid in the caller's pid ns */
	NSM_STARTED = 0x31,          /* u32 pid: command exec'd; pid of the helper's child */
	NSM_FAIL = 0x32,             /* step NUL errno-name: a step failed, nothing left behind */

	/* helper <-> its own children */
	NSM_SYNC_USERMAP_PLS = 0x40, /* helper -> map writer: user ns exists, write its maps */
	NSM_SYNC_USERMAP_ACK = 0x41, /* map writer -> helper: maps written */
	NSM_SYNC_CHILD_READY = 0x42, /* holder -> helper: /proc mounted, fds closed, holding */
	NSM_SYNC_DETACH = 0x43,      /* helper -> holder: READY acknowledged, live on alone */
};

/* NSM_CFG_PROPAGATION values */
enum nsm_propagation {
	NSM_PROP_PRIVATE = 1,   /* MS_REC|MS_PRIVATE (default) */
	NSM_PROP_SLAVE = 2,     /* MS_REC|MS_SLAVE */
	NSM_PROP_SHARED = 3,    /* MS_REC|MS_SHARED */
	NSM_PROP_UNCHANGED = 4, /* leave as copied from the parent mount ns */
};

/* NSM_CFG_SETGROUPS values */
enum nsm_setgroups {
	NSM_SETGROUPS_DENY = 1,  /* write "deny" (default; required unprivileged) */
	NSM_SETGROUPS_ALLOW = 2, /* leave "allow" (needs CAP_SETGID in the parent user ns) */
};

/* NSM_CFG_JOIN_FLAGS bits (nsenter(1)'s options) */
enum nsm_join_flags {
	NSM_JOIN_SETUID = 1,         /* setuid to NSM_CFG_JOIN_IDS's uid even without a user ns (-S) */
	NSM_JOIN_SETGID = 2,         /* setgid (and drop supplementary groups) likewise (-G) */
	NSM_JOIN_PRESERVE_CRED = 4,  /* a joined user ns changes no ids and drops no groups */
	NSM_JOIN_KEEP_CAPS = 8,      /* a joined user ns: permitted capabilities become ambient */
	NSM_JOIN_NO_FORK = 16,       /* exec in place: a joined pid ns holds only the command's children (-F) */
	NSM_JOIN_CWD_ASKED = 32,     /* NSM_CFG_CWD was asked for (--cwd/-w): missing inside is an error, not / */
};

/* NSM_CFG_LOOPBACK values */
enum nsm_loopback {
	NSM_LOOPBACK_UP = 1,   /* bring lo up (default) */
	NSM_LOOPBACK_DOWN = 2, /* leave lo down */
};

/* Exit codes of nsm-helper (run/join otherwise exit with the command's status). */
enum nsm_exit {
	NSM_EXIT_OK = 0,             /* holder detached / command exited 0 */
	NSM_EXIT_FAIL = 125,         /* the helper failed; NSM_FAIL was sent if possible */
	NSM_EXIT_NOEXEC = 126,       /* command found but not executable */
	NSM_EXIT_NOTFOUND = 127,     /* command not found */
	NSM_EXIT_SIGNAL_BASE = 128,  /* command died of signal N: 128+N */
};

#endif
