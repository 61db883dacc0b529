/*
 * nsm-helper connector: the kernel's process events connector for `nsm monitor`'s event
 * mode (driver: src/sys/proc-connector.ts). Layouts from linux/connector.h and
 * linux/cn_proc.h.
 *
 * Why a process of its own: on each fork or exec it must read /proc/PID/ns at once (a
 * namespace made by `unshare -n sleep 0.01` lives 10 ms), whatever Node's event loop is
 * doing. A Node worker thread did this before, at the cost of a whole second V8 isolate in
 * every `nsm monitor` and `nsm serve`; this small static process does the same read for a
 * fraction of that memory, and sleeps in poll(2) while the host is quiet.
 *
 * Protocol: text lines. TS is the kernel's event time (CLOCK_MONOTONIC, ns); for O and m
 * lines it is ours.
 *   stdin  -> EOF                  stop: what was read so far is written, then exit 0
 *   stdout <- "R RCVBUF"           subscribed (the kernel acknowledged); RCVBUF is the socket's
 *                                  receive buffer in bytes. Records follow.
 *   stdout <- "E CALL ERRNO [TARGET]"  CALL failed with ERRNO (a number); then exit 3
 *   stdout <- "f TS PID PPID NS[ CMD]"  a process (not a thread) was forked
 *   stdout <- "e TS PID NS[ CMD]"  a process called execve
 *   stdout <- "x TS PID"           a process (its last thread) exited
 *   stdout <- "O TS"               recv(2) failed with ENOBUFS: the kernel dropped events
 *   stdout <- "m TS"               our mount namespace's mount table changed
 * NS is "-" when the process was gone before its links could be read, "?" when they may
 * not be read (EACCES), else the inodes of the --types in column order (nstypes.h),
 * comma-separated, 0 for one not read; an inode that differs from what the process (or for
 * a fork its parent) had last comes as INODE:ID with its 64-bit NS_GET_ID where it could be
 * read at once (Linux 6.18): a process that exits a millisecond after exec is gone by the
 * time Node could ask, and the id is what tells a new namespace at a reused inode. CMD, the command line (arguments joined by spaces,
 * or the comm when it has none; backslash and newline escaped as \\ and \n), comes only
 * when the namespaces differ from what the process (or for a fork its parent) had last.
 * Lines are handed over at most every FLUSH_MS (one wake-up of Node per burst); when Node
 * reads slowly they wait in our memory, not in the socket's queue.
 * Exit codes: in connector.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "connector.h"
#include "nstypes.h"

#define NS_ENTRY_(name, proc, flag, value, column) [column] = proc,
static const char *const ns_entries[] = { NSM_NSTYPES(NS_ENTRY_) };
#define NS_COUNT NSM_NS_COUNT

/* See the header comment: a burst of events costs Node one wake-up. */
#define FLUSH_MS 20
/*
 * As root: SCHED_RR at the lowest real-time priority (sched(7)), so the links of a process
 * that lives a fraction of a millisecond after exec are read before it exits even when both
 * CPUs are busy; should it ever spin, real-time throttling leaves the CPU to others.
 * SCHED_RESET_ON_FORK: nothing we fork inherits it. Without CAP_SYS_NICE, nice -10 if
 * allowed, else nothing.
 */
#define READER_NICE (-10)
#define READER_RT_PRIORITY 1

static const char *root = "/proc";
static unsigned types_mask = (1u << NS_COUNT) - 1;

static long long mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- Output: a growable buffer written to stdout (non-blocking) ---- */

static char *obuf;
static size_t olen, ocap;

static void out_bytes(const void *p, size_t n)
{
	if (olen + n > ocap) {
		size_t cap = ocap ? ocap : 65536;
		while (cap < olen + n)
			cap *= 2;
		char *b = realloc(obuf, cap);
		if (!b) {
			dprintf(STDERR_FILENO, "nsm-helper connector: out of memory\n");
			_exit(CONNECTOR_EXIT_FAILED);
		}
		obuf = b;
		ocap = cap;
	}
	memcpy(obuf + olen, p, n);
	olen += n;
}

static void out_str(const char *s)
{
	out_bytes(s, strlen(s));
}

/* Write what stdout takes now; the rest stays buffered (stdout is non-blocking). */
static void out_write(void)
{
	size_t off = 0;
	while (off < olen) {
		ssize_t n = write(STDOUT_FILENO, obuf + off, olen - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			_exit(CONNECTOR_EXIT_OUTPUT);
		}
		off += (size_t)n;
	}
	memmove(obuf, obuf + off, olen - off);
	olen -= off;
}

/* Write everything, waiting for the reader (at the end). */
static void out_write_all(void)
{
	while (olen > 0) {
		out_write();
		if (olen > 0) {
			struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				_exit(CONNECTOR_EXIT_OUTPUT);
		}
	}
}

static void fail(const char *call, int err, const char *target)
{
	char line[PATH_MAX + 96];
	snprintf(line, sizeof(line), "E %s %d%s%s\n", call, err, target ? " " : "", target ? target : "");
	out_str(line);
	out_write_all();
	_exit(CONNECTOR_EXIT_FAILED);
}

/* ---- What each process had: its namespaces at the last read, by pid ---- */

struct sig {
	struct sig *next;
	int pid;
	unsigned long long ino[NS_COUNT];
};

#define SIG_BUCKETS 4096
static struct sig *sigs[SIG_BUCKETS];

static struct sig **sig_slot(int pid)
{
	struct sig **p = &sigs[(unsigned)pid % SIG_BUCKETS];
	while (*p && (*p)->pid != pid)
		p = &(*p)->next;
	return p;
}

static void sig_forget(int pid)
{
	struct sig **p = sig_slot(pid);
	if (*p) {
		struct sig *s = *p;
		*p = s->next;
		free(s);
	}
}

/* ---- Reading a process ---- */

/*
 * Its namespaces: 1 read (the types read before a process vanishes mid-way count), 0 gone
 * (ENOENT/ESRCH: a zombie's links are gone too), -1 not ours to read (EACCES).
 */
static int read_ns(int pid, unsigned long long ino[NS_COUNT])
{
	char path[PATH_MAX], link[128];
	int got = 0;
	for (int t = 0; t < NS_COUNT; t++) {
		ino[t] = 0;
		if (!(types_mask & (1u << t)))
			continue;
		snprintf(path, sizeof(path), "%s/%d/ns/%s", root, pid, ns_entries[t]);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n < 0) {
			int e = errno;
			if (got > 0 && (e == ENOENT || e == ESRCH || e == EACCES))
				return 1;
			if (e == ENOENT || e == ESRCH)
				return 0;
			if (e == EACCES)
				return -1;
			fail("readlink", e, path);
		}
		link[n] = '\0';
		/* "TYPE:[INODE]" */
		char *open = strstr(link, ":[");
		if (!open || link[n - 1] != ']')
			continue;
		char *end;
		unsigned long long v = strtoull(open + 2, &end, 10);
		if (end != link + n - 1 || v == 0)
			continue;
		ino[t] = v;
		got++;
	}
	return 1;
}

/* Read a whole small /proc file into a malloc'ed buffer; NULL on failure. */
static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	while (b) {
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(b);
			b = NULL;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			char *g = realloc(b, cap *= 2);
			if (!g) {
				free(b);
				b = NULL;
			}
			b = g;
		}
	}
	close(fd);
	if (b)
		*len = n;
	return b;
}

/* " CMD" (escaped) for the process, or nothing when it cannot be read. */
static void out_command(int pid)
{
	char path[PATH_MAX];
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/%d/cmdline", root, pid);
	char *b = slurp(path, &len);
	if (!b)
		return;
	int comm = 0;
	if (len == 0) {
		/* No arguments (a kernel thread, or a process that exec'd none): its comm. */
		free(b);
		snprintf(path, sizeof(path), "%s/%d/comm", root, pid);
		b = slurp(path, &len);
		if (!b)
			return;
		comm = 1;
		while (len > 0 && (b[len - 1] == '\n' || b[len - 1] == ' ' || b[len - 1] == '\t'))
			len--;
	} else if (b[len - 1] == '\0') {
		len--; /* the last argument's terminator */
	}
	out_bytes(" ", 1);
	for (size_t i = 0; i < len; i++) {
		char c = b[i];
		if (c == '\0' && !comm)
			out_bytes(" ", 1);
		else if (c == '\\')
			out_bytes("\\\\", 2);
		else if (c == '\n')
			out_bytes("\\n", 2);
		else
			out_bytes(&c, 1);
	}
	free(b);
}

/* include/uapi/linux/nsfs.h: _IOR(0xb7, 13, __u64), Linux 6.18. */
#define NSM_NS_GET_ID _IOR(0xb7, 13, unsigned long long)

/* NS_GET_ID answers here (cleared after ENOTTY/EINVAL: an older kernel). */
static bool ids_work = true;
/* Our own namespaces (they outlive every event we read, so their inodes stay theirs): by type. */
static unsigned long long own_ino[NS_COUNT], own_id[NS_COUNT];

/* The id of the namespace `pid` has of type `t`, if the file opened is still inode `ino`; 0 if unknown. */
static unsigned long long ns_id(int pid, int t, unsigned long long ino)
{
	char path[PATH_MAX];
	struct stat st;
	unsigned long long id = 0;

	if (!ids_work)
		return 0;
	if (pid == 0)
		snprintf(path, sizeof(path), "%s/self/ns/%s", root, ns_entries[t]);
	else
		snprintf(path, sizeof(path), "%s/%d/ns/%s", root, pid, ns_entries[t]);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* gone since its link was read, or not ours */
	if (ioctl(fd, NSM_NS_GET_ID, &id) < 0) {
		if (errno == ENOTTY || errno == EINVAL)
			ids_work = false;
		id = 0;
	} else if (fstat(fd, &st) < 0 || (ino != 0 && st.st_ino != ino)) {
		id = 0; /* it moved between the link and the open */
	}
	close(fd);
	return id;
}

static void read_own_ids(void)
{
	for (int t = 0; t < NS_COUNT; t++) {
		if (!(types_mask & (1u << t)))
			continue;
		struct stat st;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/self/ns/%s", root, ns_entries[t]);
		if (stat(path, &st) == 0) {
			own_ino[t] = st.st_ino;
			own_id[t] = ns_id(0, t, st.st_ino);
		}
	}
}

/* A fork or exec record (kind 'f' or 'e'); `ppid` only for a fork. */
static void record(char kind, long long ts, int pid, int ppid)
{
	unsigned long long ino[NS_COUNT];
	int r = read_ns(pid, ino);
	char line[64 + NS_COUNT * 48];
	int len = kind == 'f' ? snprintf(line, sizeof(line), "f %lld %d %d ", ts, pid, ppid) : snprintf(line, sizeof(line), "e %lld %d ", ts, pid);
	if (r <= 0) {
		len += snprintf(line + len, sizeof(line) - (size_t)len, "%s\n", r == 0 ? "-" : "?");
		out_bytes(line, (size_t)len);
		return;
	}
	struct sig **before = sig_slot(kind == 'f' ? ppid : pid);
	bool changed = !*before || memcmp((*before)->ino, ino, sizeof(ino)) != 0;
	int first = 1;
	for (int t = 0; t < NS_COUNT; t++) {
		if (!(types_mask & (1u << t)))
			continue;
		len += snprintf(line + len, sizeof(line) - (size_t)len, "%s%llu", first ? "" : ",", ino[t]);
		first = 0;
		/* The id of a namespace it was not in before, read now (see the protocol above). */
		if (ino[t] != 0 && (!*before || (*before)->ino[t] != ino[t])) {
			unsigned long long id = ino[t] == own_ino[t] ? own_id[t] : ns_id(pid, t, ino[t]);
			if (id != 0)
				len += snprintf(line + len, sizeof(line) - (size_t)len, ":%llu", id);
		}
	}
	out_bytes(line, (size_t)len);
	/* The command only when the namespaces differ from before: only then is it shown. */
	if (changed)
		out_command(pid);
	out_bytes("\n", 1);
	struct sig **mine = sig_slot(pid);
	if (!*mine) {
		*mine = calloc(1, sizeof(**mine));
		if (!*mine)
			return; /* out of memory: it is read in full next time, that is all */
		(*mine)->pid = pid;
	}
	memcpy((*mine)->ino, ino, sizeof(ino));
}

/* ---- The connector socket ---- */

struct listen_msg {
	struct nlmsghdr nl;
	struct cn_msg cn;
	uint32_t op;
	uint32_t mask; /* struct proc_input (Linux 6.6+); not sent to ask without a filter */
} __attribute__((packed));

/*
 * The subscribe request. The acknowledgement is multicast to every listener and carries our
 * cn_msg.ack + 1 (cn_proc_ack()), so `cookie` tells ours apart.
 */
static void subscribe(int fd, uint32_t cookie, int with_mask, uint32_t mask)
{
	struct listen_msg m;
	size_t payload = with_mask ? 8 : 4;
	memset(&m, 0, sizeof(m));
	m.nl.nlmsg_len = (uint32_t)(sizeof(m.nl) + sizeof(m.cn) + payload);
	m.nl.nlmsg_type = NLMSG_DONE; /* the connector takes one message, sent as DONE */
	m.nl.nlmsg_seq = cookie;
	m.cn.id.idx = CN_IDX_PROC;
	m.cn.id.val = CN_VAL_PROC;
	m.cn.seq = cookie;
	m.cn.ack = cookie;
	m.cn.len = (uint16_t)payload;
	m.op = PROC_CN_MCAST_LISTEN;
	m.mask = mask;
	while (send(fd, &m, m.nl.nlmsg_len, 0) < 0) {
		if (errno != EINTR)
			fail("send", errno, "PROC_CN_MCAST_LISTEN");
	}
}

static int acked = -1; /* the kernel's answer to our subscription, once it came */
static uint32_t cookie;

/* Read everything queued, writing records to the buffer. */
/*
 * Reads for at most FLUSH_MS at a time: under a steady burst the socket is never empty, and the
 * main loop must still hand lines over and see its stdin close (the monitor's --duration ends).
 */
static void drain(int fd)
{
	static char buf[64 * 1024] __attribute__((aligned(NLMSG_ALIGNTO)));
	long long until = mono_ns() + FLUSH_MS * 1000000LL;
	while (mono_ns() < until) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			/* netlink(7): ENOBUFS means the receive queue overflowed and messages were dropped. */
			if (errno == ENOBUFS) {
				char line[48];
				int len = snprintf(line, sizeof(line), "O %lld\n", mono_ns());
				out_bytes(line, (size_t)len);
				continue;
			}
			fail("recv", errno, "proc connector");
		}
		int left = (int)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg) + 16))
				continue;
			struct cn_msg *cn = NLMSG_DATA(h);
			if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC)
				continue;
			struct proc_event *ev = (struct proc_event *)cn->data;
			long long ts = (long long)ev->timestamp_ns;
			char line[64];
			switch (ev->what) {
			case PROC_EVENT_FORK:
				/* A new thread shares its process's namespaces; the rescan sees threads that move. */
				if (ev->event_data.fork.child_pid == ev->event_data.fork.child_tgid)
					record('f', ts, ev->event_data.fork.child_tgid, ev->event_data.fork.parent_tgid);
				break;
			case PROC_EVENT_EXEC:
				record('e', ts, ev->event_data.exec.process_tgid, 0);
				break;
			case PROC_EVENT_EXIT:
				if (ev->event_data.exit.process_pid == ev->event_data.exit.process_tgid) {
					sig_forget(ev->event_data.exit.process_tgid);
					int len = snprintf(line, sizeof(line), "x %lld %d\n", ts, ev->event_data.exit.process_tgid);
					out_bytes(line, (size_t)len);
				}
				break;
			case PROC_EVENT_NONE:
				/* Acks are multicast to every listener; ours carries our cookie + 1. */
				if (cn->ack == cookie + 1)
					acked = (int)ev->event_data.ack.err;
				break;
			default:
				break;
			}
		}
	}
}

static void usage_exit(void)
{
	dprintf(STDERR_FILENO, "usage: nsm-helper connector [--proc ROOT] [--types MASK] [--rcvbuf BYTES] [--ack-ms MS]\n");
	_exit(CONNECTOR_EXIT_USAGE);
}

static long parse_num(const char *s, long min, long max)
{
	char *end;
	long v = strtol(s, &end, 0);
	if (end == s || *end != '\0' || v < min || v > max)
		usage_exit();
	return v;
}

int connector_main(int argc, char **argv)
{
	long rcvbuf = 8L << 20, ack_ms = 2000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--proc") && i + 1 < argc)
			root = argv[++i];
		else if (!strcmp(argv[i], "--types") && i + 1 < argc)
			types_mask = (unsigned)parse_num(argv[++i], 1, (1L << NS_COUNT) - 1);
		else if (!strcmp(argv[i], "--rcvbuf") && i + 1 < argc)
			rcvbuf = parse_num(argv[++i], 1, INT_MAX);
		else if (!strcmp(argv[i], "--ack-ms") && i + 1 < argc)
			ack_ms = parse_num(argv[++i], 1, INT_MAX);
		else
			usage_exit();
	}
	prctl(PR_SET_NAME, "nsm:connector");
	/* A write to a closed stdout then fails with EPIPE and we exit, instead of dying of SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	struct sched_param sp = { .sched_priority = READER_RT_PRIORITY };
	if (sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &sp) < 0)
		setpriority(PRIO_PROCESS, 0, READER_NICE);
	int fl = fcntl(STDOUT_FILENO, F_GETFL);
	if (fl < 0 || fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK) < 0)
		fail("fcntl", errno, "stdout");

	read_own_ids();
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (fd < 0)
		fail("socket", errno, "NETLINK_CONNECTOR");
	int size = (int)rcvbuf;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		fail("setsockopt", errno, "SO_RCVBUF");
	socklen_t sl = sizeof(size);
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &sl) < 0)
		fail("getsockopt", errno, "SO_RCVBUF");
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		fail("bind", errno, "proc connector");
	/* proc(5): /proc/PID/mountinfo is pollable; POLLPRI when a mount or unmount changes our
	 * mount namespace's table (ip netns add/delete), so the rescan need not wait its period. */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/self/mountinfo", root);
	int mounts = open(path, O_RDONLY | O_CLOEXEC);
	if (mounts < 0)
		fail("open", errno, path);

	struct pollfd pfd[3] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = mounts, .events = POLLPRI },
	};
	struct timespec seed;
	clock_gettime(CLOCK_REALTIME, &seed);
	cookie = (uint32_t)(seed.tv_nsec ^ getpid()) & 0x7fffffff;
	subscribe(fd, cookie, 0, 0);
	long long deadline = mono_ns() + ack_ms * 1000000LL;
	while (acked < 0) {
		long long left = deadline - mono_ns();
		/* No ack: a kernel without the connector, or we are not in the initial user and PID
		 * namespaces (cn_proc.c ignores such listeners without a word). */
		if (left <= 0)
			fail("proc connector", ETIMEDOUT, "PROC_CN_MCAST_LISTEN");
		int rc = poll(pfd, 2, (int)((left + 999999) / 1000000));
		if (rc < 0 && errno != EINTR)
			fail("poll", errno, "proc connector");
		if (rc > 0 && pfd[1].revents)
			return 0; /* told to stop before we started */
		if (rc > 0 && pfd[0].revents)
			drain(fd);
	}
	if (acked != 0)
		fail("proc connector", acked, "PROC_CN_MCAST_LISTEN");
	/* Linux 6.6+ (struct proc_input) filters in the kernel, so UID/GID/SID/COMM events are never
	 * queued; older kernels ignore an 8-byte request and keep sending everything (skipped above). */
	subscribe(fd, cookie + 2, 1, PROC_EVENT_FORK | PROC_EVENT_EXEC | PROC_EVENT_EXIT);
	/* "R" first; records read while we waited for the ack follow it. */
	char ready[48];
	int rlen = snprintf(ready, sizeof(ready), "R %d\n", size);
	out_bytes(ready, (size_t)rlen);
	memmove(obuf + rlen, obuf, olen - (size_t)rlen);
	memcpy(obuf, ready, (size_t)rlen);
	out_write_all();

	long long last_post = 0;
	int timeout = -1;
	for (;;) {
		int rc = poll(pfd, 3, timeout);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			fail("poll", errno, "proc connector");
		}
		if (pfd[1].revents) {
			char c[64];
			ssize_t n = read(STDIN_FILENO, c, sizeof(c));
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				break; /* EOF: the monitor stops, or has died */
		}
		if (pfd[0].revents)
			drain(fd);
		if (pfd[2].revents) {
			char line[48];
			int len = snprintf(line, sizeof(line), "m %lld\n", mono_ns());
			out_bytes(line, (size_t)len);
		}
		long long now = mono_ns();
		if (olen > 0 && now - last_post >= FLUSH_MS * 1000000LL) {
			out_write();
			last_post = now;
		}
		/* Still something to hand over: in FLUSH_MS (again, should the pipe be full). */
		if (olen == 0)
			timeout = -1;
		else {
			long long wait = last_post + FLUSH_MS * 1000000LL - now;
			timeout = wait <= 0 ? 1 : (int)((wait + 999999) / 1000000);
		}
	}
	/* Told to stop: what was read so far still counts (exits just before the end). Not a last
	 * drain: reading the links of a backlog could keep a loaded host's monitor past its --duration. */
	fcntl(STDOUT_FILENO, F_SETFL, fl);
	out_write_all();
	return 0;
}
