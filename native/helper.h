/*
 * nsm-helper's shared declarations: the configuration the driver sends, a frame, and the
 * functions one stage calls in another. The stages, in the order a run goes through them:
 *
 *   nsm-helper.c     main: argv, the driver's channel, then one of the modes below
 *   helper-log.c     framing and failure reports (every stage's die()), children on a socket
 *   helper-config.c  the configuration frames up to NSM_CFG_END, checked before anything is made
 *   helper-userns.c  the user namespace and its uid/gid maps (the map writer child)
 *   helper-setup.c   the other namespaces and their set-up; signal and process plumbing
 *   helper-holder.c  holder mode: the environment's PID 1 and the READY handshake
 *   helper-run.c     run and join modes: the command's process, its init, setns(2)
 *
 * Numbers of the protocol: protocol.h (native/PROTOCOL.md explains them); the namespace types:
 * nstypes.h.
 */
#ifndef NSM_HELPER_H
#define NSM_HELPER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <sys/types.h>

#include "nstypes.h"
#include "protocol.h"

/*
 * The one global: where a failure is reported. In the helper it is the driver's socket; in
 * each child it is that child's socket to the helper, which relays what it reads.
 */
extern int syncfd;

/* The namespace types in nsenter(1)'s join order (nstypes.h): user first, time last. */
struct nstype {
	int flag;
	const char *flag_name;
	const char *name;
};
extern const struct nstype ns_order[];
#define NS_COUNT ((size_t)NSM_NS_COUNT)
#define NS_ALL NSM_NS_ALL

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
	uint64_t id; /* NS_GET_ID the driver recorded (0: not checked) */
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
	struct join_ns join[NSM_NS_COUNT];
	int njoin;
	bool join_ids;
	uint32_t join_uid, join_gid;
	uint32_t join_flags; /* NSM_JOIN_* */
	int root_fd, wd_fd;  /* join: directories opened by the driver before joining (-1: none) */
	const char *netns_exec; /* join: ip netns exec's mounts; "" without /etc/netns (NULL: none) */
	bool new_session; /* join: the command calls setsid(2) and takes its stdio's terminal */
	const char *cwd;
	const char *root; /* run: chroot(2) of the command (NULL: none) */
	int kill_signal;  /* run and join: the command's PR_SET_PDEATHSIG (default SIGKILL) */
	char **argv;
	int argc;
	const char *name;  /* holder: its environment's name, for its title (NULL: none) */
	char *argv_area;   /* our own argv strings, which holder and init overwrite with their title */
	size_t argv_len;
};

struct frame {
	uint8_t code;
	uint32_t len;
	unsigned char *data; /* copy of the payload followed by two NULs */
};

/* nsm-helper.c: main */
void set_title(const struct config *c, const char *stage, const char *name);

/* helper-log.c: failures, frames, children with a socket */
const char *msg_name(int code);
noreturn void die(pid_t child, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
noreturn void diex(pid_t child, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
noreturn void fail(int code, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
uint32_t le32(const unsigned char *p);
uint64_t le64(const unsigned char *p);
bool read_frame(int fd, struct frame *f, const char *step, bool eof_ok, pid_t child);
void write_frame(int fd, uint8_t code, const void *payload, uint32_t len, pid_t child);
noreturn void relay_fail(const struct frame *f, pid_t child, int code);
void expect_frame(int fd, uint8_t code, pid_t child);
pid_t fork_with_socket(int *helper_end, const char *what);
bool helper_gone(void);

/* helper-config.c */
void read_config(int fd, struct config *c);

/* helper-userns.c */
void new_user_ns(const struct config *c);

/* helper-setup.c: small steps, and the namespaces of holder and run */
int write_file(const char *path, const char *data);
void reset_signals(void);
void catch_signals(const sigset_t *set);
sigset_t forwarded_signals(void);
bool sent_by_process(const siginfo_t *si);
int exit_status(int st);
int reap(pid_t pid, const char *what);
void mount_fresh(const char *type, const char *dir);
void create_namespaces(const struct config *c);

/* helper-holder.c, helper-run.c: the modes */
noreturn void do_holder(const struct config *c, int in);
noreturn void do_run(const struct config *c);
noreturn void do_join(struct config *c);

#endif
