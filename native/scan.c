/*
 * nsm-helper scan: the raw /proc walk behind `nsm ls`, `ps`, `tree` and the monitor's rescan.
 *
 * Why C: on a host with thousands of processes the cost is the kernel's per-file work
 * under /proc (about 15 syscalls a process), which one core cannot do fast enough to stay
 * well under lsns. A forked C process starts far faster than a Node worker thread (see
 * bench/RESULTS.md), so the walk is split over the online CPUs in forked processes. All interpretation stays in TypeScript (src/sys/native-scan.ts); this
 * only reads and prints.
 *
 * Output: one record per line, fields separated by one space, as listed below (mirrored by
 * parseLines() in src/sys/native-scan.ts; exit codes in scan.h). Lines from different workers may interleave, but each line is written
 * whole: every write(2) is at most PIPE_BUF bytes and ends at a line boundary, which
 * pipe(7) guarantees to be atomic.
 *
 *   P pid ppid starttime nthreads uid ino_user ino_cgroup ino_ipc ino_uts ino_net ino_pid ino_mnt ino_time comm
 *   T pid tid type inode           a thread in a namespace its process (leader) is not in
 *   F pid fd type inode            an open fd on a namespace file
 *   C pid cmdline                  the command line (arguments joined by spaces) of the first
 *                                  process this worker meets in a namespace it has not met yet
 *                                  (of every process with --all-cmdlines)
 *   G pid cgroup                   /proc/PID/cgroup ('\n' between lines escaped) of the processes
 *                                  that get a C record for a new namespace (not --all-cmdlines's others)
 *   M mntns mountinfo-line         an nsfs line of the mountinfo of the first process this worker
 *                                  meets in mount namespace mntns
 *   I inode id                     the 64-bit namespace ID (ioctl NS_GET_ID, Linux 6.18) of a
 *                                  namespace this worker meets for the first time; none on
 *                                  kernels without the ioctl (probed once, before the workers fork)
 *   K pid fd inode                 a socket fd whose network namespace (SIOCGSKNS through
 *                                  pidfd_getfd(2), root only) is inode: the first socket per
 *                                  worker and net namespace (every socket with --all-sockets)
 *   S gone N denied N              per worker, at its end
 *   E errno path                   an unexpected error (not ENOENT/ESRCH/EACCES/EPERM)
 *
 * Inodes are 0 where the link could not be read (a zombie, or not permitted), as lsns
 * leaves them; comm is last so it may contain spaces; '\\' and '\n' in it are escaped.
 * F records also cover an fd whose link is a path (opened through a bind mount, which may since
 * have been unmounted, e.g. after `ip netns delete`): such fds are recognised by fstat's device
 * being nsfs's, as lsns does, and typed with NS_GET_NSTYPE.
 * uid is the owner of /proc/PID (the effective uid; root for a non-dumpable process), which
 * lsns reports as UID: one fstat of the directory already open here, instead of a stat per
 * process from Node.
 *
 * C, G and M records carry the per-namespace reads `nsm ls` needs (the command line and the
 * cgroup of each namespace's lowest pid, the nsfs bind mounts of each mount namespace) so
 * Node does not make them one by one after the scan. Each worker walks its pids in ascending order, so
 * the lowest pid of a namespace is the first its worker meets there: it always has a C
 * record. A command line too long for one record (PIPE_BUF) gets none; Node reads it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lineout.h"
#include "nstypes.h"
#include "scan.h"

/* By column (nstypes.h): bit t of --types, inode t of the P record. The kernel names a
 * namespace link after the type, and its /proc/PID/ns entry alike (both read here). */
#define NS_NAME_(name, proc, flag, value, column) [column] = name,
static const char *const ns_names[] = { NSM_NSTYPES(NS_NAME_) };
#define NS_COUNT NSM_NS_COUNT
_Static_assert(NS_COUNT == 8, "the P record's format below prints 8 inode columns");

/* CLONE_NEW* flags in ns_names[] order: what NS_GET_NSTYPE returns (ioctl_ns(2)). */
#define NS_FLAG_(name, proc, flag, value, column) [column] = flag,
static const unsigned long ns_flags[] = { NSM_NSTYPES(NS_FLAG_) };

/* include/uapi/linux/nsfs.h */
#define NSM_NS_GET_NSTYPE 0xb703
#define NSM_NS_GET_ID 0x8008b70dUL /* _IOR(0xb7, 13, __u64), Linux 6.18 */
#define NSM_SIOCGSKNS 0x894C       /* linux/sockios.h: a socket's net namespace as a new fd */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

struct counts {
	unsigned long gone, denied;
};

/* ENOENT/ESRCH: gone between readdir and read; EACCES/EPERM: not ours (proc(5) ptrace check). */
static int tolerated(int err, struct counts *c)
{
	if (err == ENOENT || err == ESRCH) {
		c->gone++;
		return 1;
	}
	if (err == EACCES || err == EPERM) {
		c->denied++;
		return 1;
	}
	return 0;
}

static void report_error(struct out *o, int err, const char *root, const char *what)
{
	char line[PATH_MAX + 64];
	const char *name = strerrorname_np(err);
	int n = snprintf(line, sizeof(line), "E %s %s/%s\n", name ? name : "EIO", root, what);
	if (n > 0)
		out_line(o, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Parse "net:[4026531840]" for the expected type; 0 when it is not that. */
static unsigned long long ns_inode(const char *link, ssize_t len, const char *type)
{
	size_t tl = strlen(type);
	if (len < (ssize_t)tl + 4 || strncmp(link, type, tl) != 0 || link[tl] != ':' || link[tl + 1] != '[')
		return 0;
	return strtoull(link + tl + 2, NULL, 10);
}

/* Parse any "type:[inode]"; returns the type index or -1. */
static int ns_any(const char *link, ssize_t len, unsigned long long *inode)
{
	for (int t = 0; t < NS_COUNT; t++) {
		unsigned long long ino = ns_inode(link, len, ns_names[t]);
		if (ino) {
			*inode = ino;
			return t;
		}
	}
	return -1;
}

struct proc_stat {
	long ppid, nthreads;
	unsigned long long starttime;
	char comm[64];
};

/* proc(5) stat: comm is in parentheses and may contain ')', so split at the last one. */
static int parse_stat(char *text, struct proc_stat *st)
{
	char *open = strchr(text, '(');
	char *close = strrchr(text, ')');
	if (!open || !close || close < open)
		return -1;
	size_t clen = (size_t)(close - open - 1);
	if (clen >= sizeof(st->comm))
		clen = sizeof(st->comm) - 1;
	memcpy(st->comm, open + 1, clen);
	st->comm[clen] = '\0';
	/* fields from 3 on: state(3) ppid(4) ... num_threads(20) itrealvalue(21) starttime(22) */
	char *p = close + 2;
	int field = 3;
	char *save = NULL;
	for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
		if (field == 4)
			st->ppid = strtol(tok, NULL, 10);
		else if (field == 20)
			st->nthreads = strtol(tok, NULL, 10);
		else if (field == 22) {
			st->starttime = strtoull(tok, NULL, 10);
			return 0;
		}
	}
	return -1;
}

/* comm with '\\' and '\n' escaped, so a record stays one line. */
static void escape_comm(const char *in, char *out, size_t outsz)
{
	size_t j = 0;
	for (size_t i = 0; in[i] && j + 3 < outsz; i++) {
		if (in[i] == '\\') {
			out[j++] = '\\';
			out[j++] = '\\';
		} else if (in[i] == '\n') {
			out[j++] = '\\';
			out[j++] = 'n';
		} else {
			out[j++] = in[i];
		}
	}
	out[j] = '\0';
}

/*
 * Directory entries by getdents64(2) into a buffer on the stack: readdir(3) on an fd
 * (fdopendir) costs an fcntl, an fstat and a malloc per directory, twice per process here,
 * about an eighth of a whole scan's system calls.
 */
struct dir_iter {
	int fd;
	int short_is_end; /* procfs: a read that left room for another entry was the last */
	int at_end;
	long len, pos;
	char buf[8192];
};

/* The largest struct linux_dirent64: 19 bytes of header, a NAME_MAX name and its NUL, aligned to 8. */
#define DIRENT64_MAX 280

static const char *dir_next(struct dir_iter *it)
{
	if (it->pos >= it->len) {
		if (it->at_end)
			return NULL;
		it->len = getdents64(it->fd, it->buf, sizeof(it->buf));
		it->pos = 0;
		if (it->len <= 0)
			return NULL;
		/* procfs's fd and task directories (fs/proc/fd.c, base.c) stop filling only when the
		 * next entry does not fit or none is left: a read with room to spare needs no second
		 * read to see the end (one system call less per directory). Other file systems (a
		 * fixture tree under --proc) may return less, so they are read until 0. */
		if (it->short_is_end && (size_t)it->len + DIRENT64_MAX <= sizeof(it->buf))
			it->at_end = 1;
	}
	struct dirent64 *d = (struct dirent64 *)(it->buf + it->pos);
	it->pos += d->d_reclen;
	return d->d_name;
}

/* Inodes a worker has met, for C and M records: open addressing, grown at half full. */
struct seen {
	unsigned long long *slot;
	size_t cap, len;
};

static int seen_has(const struct seen *s, unsigned long long ino)
{
	if (s->cap == 0)
		return 0;
	size_t j = (size_t)(ino * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
	while (s->slot[j]) {
		if (s->slot[j] == ino)
			return 1;
		j = (j + 1) & (s->cap - 1);
	}
	return 0;
}

/* 1 when `ino` is new (and now recorded), 0 when already met or 0 itself. */
static int seen_add(struct seen *s, unsigned long long ino)
{
	if (ino == 0)
		return 0;
	if (2 * (s->len + 1) > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		unsigned long long *slot = calloc(cap, sizeof(*slot));
		if (!slot)
			return 0; /* out of memory: no C/M record; Node reads these itself */
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->slot[i])
				continue;
			size_t j = (size_t)(s->slot[i] * 0x9E3779B97F4A7C15ull) & (cap - 1);
			while (slot[j])
				j = (j + 1) & (cap - 1);
			slot[j] = s->slot[i];
		}
		free(s->slot);
		s->slot = slot;
		s->cap = cap;
	}
	size_t j = (size_t)(ino * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
	while (s->slot[j]) {
		if (s->slot[j] == ino)
			return 0;
		j = (j + 1) & (s->cap - 1);
	}
	s->slot[j] = ino;
	s->len++;
	return 1;
}

/* Read a whole small /proc file relative to dirfd into buf (NUL-terminated); its length, or -1. */
static ssize_t read_file_at(int dirfd, const char *name, char *buf, size_t size)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == size - 1)
			break; /* longer than the buffer: the caller sees it is full */
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/*
 * Append src[0..n) to line (holding *len bytes), with '\\' and '\n' escaped as two characters and,
 * when nul_as_space, NUL as a space; stops where the line's room ends. Returns how much of src
 * went in.
 */
static ssize_t append_escaped(char *line, int *len, size_t room, const char *src, ssize_t n, int nul_as_space)
{
	ssize_t i = 0;
	for (; i < n && (size_t)*len + 3 < room; i++) {
		char ch = src[i];
		if (ch == '\0' && nul_as_space) {
			line[(*len)++] = ' ';
		} else if (ch == '\n' || ch == '\\') {
			line[(*len)++] = '\\';
			line[(*len)++] = ch == '\n' ? 'n' : '\\';
		} else {
			line[(*len)++] = ch;
		}
	}
	return i;
}

/* C record: arguments joined by spaces (proc(5): NUL-separated, usually NUL-terminated). */
static void emit_cmdline(int dirfd, long pid, struct out *o)
{
	char args[3584], line[PIPE_BUF];
	ssize_t n = read_file_at(dirfd, "cmdline", args, sizeof(args));
	if (n < 0 || (size_t)n == sizeof(args) - 1)
		return; /* gone, or too long for one record: Node reads it */
	/* A title written over argv (setproctitle(3)) may leave NUL padding: not part of the line. */
	while (n > 0 && args[n - 1] == '\0')
		n--;
	int len = snprintf(line, sizeof(line), "C %ld ", pid);
	append_escaped(line, &len, sizeof(line), args, n, 1);
	line[len++] = '\n';
	out_line(o, line, (size_t)len);
}

/* G record: the cgroup file (cgroups(7): one line per hierarchy), '\\' and '\n' escaped. */
static void emit_cgroup(int dirfd, long pid, struct out *o)
{
	char text[2048], line[PIPE_BUF];
	ssize_t n = read_file_at(dirfd, "cgroup", text, sizeof(text));
	if (n < 0 || (size_t)n == sizeof(text) - 1)
		return; /* gone, or too long for one record: Node reads it */
	while (n > 0 && text[n - 1] == '\n')
		n--;
	int len = snprintf(line, sizeof(line), "G %ld ", pid);
	if (append_escaped(line, &len, sizeof(line), text, n, 0) < n)
		return; /* a cut path would name the wrong cgroup: Node reads it */
	line[len++] = '\n';
	out_line(o, line, (size_t)len);
}

/*
 * M records: the nsfs lines of this process's mountinfo (most mount namespaces have none).
 * 0 when it could not be read (gone, not permitted, larger than the buffer): then the next
 * process of that mount namespace is tried.
 */
struct scan_opts;
static void emit_mount_id(int dirfd, const char *p, size_t llen, const struct scan_opts *opt, struct seen *met, struct out *o);

static int emit_nsfs_mounts(int dirfd, unsigned long long mntns, const struct scan_opts *opt, struct seen *met, struct out *o)
{
	static char info[1 << 20]; /* a worker is one process: one buffer each */
	char line[PIPE_BUF];
	ssize_t n = read_file_at(dirfd, "mountinfo", info, sizeof(info));
	if (n <= 0 || (size_t)n == sizeof(info) - 1)
		return 0;
	for (char *p = info; p && *p;) {
		char *nl = strchr(p, '\n');
		size_t llen = nl ? (size_t)(nl - p) : strlen(p);
		if (memmem(p, llen, " - nsfs ", 8)) {
			int len = snprintf(line, sizeof(line), "M %llu %.*s\n", mntns, (int)llen, p);
			if (len > 0 && (size_t)len < sizeof(line))
				out_line(o, line, (size_t)len);
			emit_mount_id(dirfd, p, llen, opt, met, o);
		}
		p = nl ? nl + 1 : NULL;
	}
	return 1;
}

struct scan_opts {
	const char *root;
	unsigned types; /* bit t set: read ns_names[t] */
	int fds, threads, reps; /* reps: C and M records */
	int all_cmdlines;       /* a C record for every process, not only a namespace's first */
	int ids;                /* NS_GET_ID works here (probed once in scan_main) */
	int sockets;            /* K records: root, and not --no-sockets */
	int all_sockets;        /* a K record for every socket, not one per net namespace */
	dev_t nsfs_dev;         /* st_dev of namespace files: fds opened through a mount path */
	int procfs;             /* root is a procfs (statfs), not a fixture tree */
};

/* What a worker has met: [0] any namespace (C records), [1] mount namespaces (M), [2] ids
 * (I), [3] socket inodes, [4] socket net namespaces (K), [5] fd paths known not to be nsfs
 * (hashes of mount namespace and link text, see nsfs_by_stat). */
#define MET_COUNT 6

/* I record for the namespace file open at fd, once per inode and worker. */
static void emit_id(int fd, unsigned long long ino, const struct scan_opts *opt, struct seen *met, struct out *o)
{
	uint64_t id = 0;
	char line[96];
	if (!opt->ids || !ino || seen_has(&met[2], ino) || ioctl(fd, NSM_NS_GET_ID, &id) < 0)
		return;
	seen_add(&met[2], ino);
	int len = snprintf(line, sizeof(line), "I %llu %llu\n", ino, (unsigned long long)id);
	out_line(o, line, (size_t)len);
}

/* The same for a namespace file by path relative to dirfd (open only when the id is still unknown). */
static void emit_id_at(int dirfd, const char *path, unsigned long long ino, const struct scan_opts *opt, struct seen *met,
		       struct out *o)
{
	if (!opt->ids || !ino || seen_has(&met[2], ino))
		return;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* gone, or not permitted: Node reads it if it must */
	emit_id(fd, ino, opt, met, o);
	close(fd);
}

/*
 * I record for a bind-mounted namespace, possibly held by nothing else: open it as
 * /proc/PID/root/MOUNTPOINT, which resolves in that process's mount namespace (proc(5)).
 * The mount point is mountinfo's field 5, with ' ', '\t', '\n', '\\' as octal escapes.
 */
static void emit_mount_id(int dirfd, const char *p, size_t llen, const struct scan_opts *opt, struct seen *met, struct out *o)
{
	if (!opt->ids)
		return;
	const char *f = p, *end = p + llen;
	for (int i = 0; i < 4 && f < end; i++) {
		f = memchr(f, ' ', (size_t)(end - f));
		if (!f)
			return;
		f++;
	}
	char path[PATH_MAX];
	size_t j = 0;
	memcpy(path, "root", 4);
	j = 4;
	for (; f < end && *f != ' ' && j + 1 < sizeof(path); f++) {
		if (*f == '\\' && end - f >= 4) {
			path[j++] = (char)(((f[1] - '0') << 6) | ((f[2] - '0') << 3) | (f[3] - '0'));
			f += 3;
		} else {
			path[j++] = *f;
		}
	}
	path[j] = '\0';
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_dev == opt->nsfs_dev)
		emit_id(fd, st.st_ino, opt, met, o);
	close(fd);
}

static void scan_threads(int dirfd, long pid, const unsigned long long *leader, const struct scan_opts *opt,
			 struct out *o, struct counts *c, struct seen *met)
{
	int tfd = openat(dirfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0) {
		if (!tolerated(errno, c))
			report_error(o, errno, opt->root, "task");
		return;
	}
	struct dir_iter it = { .fd = tfd, .short_is_end = opt->procfs };
	const char *name;
	char path[64], link[128], line[128];
	while ((name = dir_next(&it))) {
		if (name[0] < '0' || name[0] > '9')
			continue;
		long tid = strtol(name, NULL, 10);
		if (tid == pid)
			continue;
		for (int t = 0; t < NS_COUNT; t++) {
			if (!(opt->types & (1u << t)))
				continue;
			snprintf(path, sizeof(path), "%ld/ns/%s", tid, ns_names[t]);
			ssize_t n = readlinkat(tfd, path, link, sizeof(link) - 1);
			if (n < 0)
				continue; /* the thread exited, or not permitted: same as for processes */
			link[n] = '\0';
			unsigned long long ino = ns_inode(link, n, ns_names[t]);
			if (ino && ino != leader[t]) {
				int len = snprintf(line, sizeof(line), "T %ld %ld %s %llu\n", pid, tid, ns_names[t], ino);
				out_line(o, line, (size_t)len);
				emit_id_at(tfd, path, ino, opt, met, o);
			}
		}
	}
	close(tfd);
}

/* A socket fd of pid: its net namespace through a copy of the fd (pidfd_getfd(2), SIOCGSKNS). */
static void socket_netns(int *pidfd, long pid, const char *name, const char *link, ssize_t n, const struct scan_opts *opt,
			 struct out *o, struct seen *met)
{
	if (n < 9 || strncmp(link, "socket:[", 8) != 0)
		return;
	unsigned long long sock = strtoull(link + 8, NULL, 10);
	if (!seen_add(&met[3], sock))
		return; /* the same socket in another fd or process (fork shares them) */
	if (*pidfd == -1) {
		*pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
		if (*pidfd < 0) {
			*pidfd = -2; /* exited, or not permitted: no more tries for this process */
			return;
		}
	}
	if (*pidfd < 0)
		return;
	int fd = (int)syscall(SYS_pidfd_getfd, *pidfd, atoi(name), 0);
	if (fd < 0)
		return; /* closed since, or not permitted (ptrace attach check) */
	int nsfd = ioctl(fd, NSM_SIOCGSKNS);
	close(fd);
	if (nsfd < 0)
		return; /* not a socket with a net namespace (e.g. a closed one), or no CAP_NET_ADMIN */
	struct stat st;
	if (fstat(nsfd, &st) == 0) {
		unsigned long long ino = st.st_ino;
		if (opt->all_sockets || seen_add(&met[4], ino)) {
			char line[128];
			int len = snprintf(line, sizeof(line), "K %ld %s %llu\n", pid, name, ino);
			out_line(o, line, (size_t)len);
		}
		emit_id(nsfd, ino, opt, met, o);
	}
	close(nsfd);
}

/*
 * An fd whose link is a path may still be a namespace file opened through a bind mount
 * (the path is the mount's, or "/" once it was unmounted): nsfs's device says so.
 */
/* FNV-1a of the mount namespace and the path: a key for met[5] (never 0, the empty slot). */
static unsigned long long path_key(unsigned long long mntns, const char *link)
{
	unsigned long long h = 0xcbf29ce484222325ull ^ mntns;
	for (const char *p = link; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	return h ? h : 1;
}

/*
 * Most path fds of a host are the same few files (/dev/null, a tty, a log) held by many
 * processes: one fstatat per path and mount namespace says they are not nsfs, not one per
 * fd. Only "not nsfs" is remembered, never an nsfs inode, so no fd is ever attributed to a
 * namespace it does not hold. An nsfs fd's link names its mount point (or "/" once that is
 * unmounted: never cached); the one it could hide is an fd opened through an nsfs bind mount
 * over a file whose own fd, opened before the mount, was met first in that mount namespace:
 * the namespace is then still listed (the mount holds it), without "fd" in HELD.
 */
static int nsfs_by_stat(int ffd, const char *name, const char *link, unsigned long long mntns, const struct scan_opts *opt,
			struct seen *met, unsigned long long *inode)
{
	struct stat st;
	if (link[0] != '/' || !opt->nsfs_dev)
		return -1;
	unsigned long long key = mntns && link[1] ? path_key(mntns, link) : 0;
	if (key && seen_has(&met[5], key))
		return -1;
	if (fstatat(ffd, name, &st, 0) < 0)
		return -1;
	if (st.st_dev != opt->nsfs_dev) {
		if (key)
			seen_add(&met[5], key);
		return -1;
	}
	int fd = openat(ffd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int flag = ioctl(fd, NSM_NS_GET_NSTYPE);
	close(fd);
	for (int t = 0; t < NS_COUNT; t++) {
		if (flag >= 0 && (unsigned long)flag == ns_flags[t]) {
			*inode = st.st_ino;
			return t;
		}
	}
	return -1;
}

static void scan_fds(int dirfd, long pid, unsigned long long mntns, const struct scan_opts *opt, struct out *o, struct counts *c,
		     struct seen *met)
{
	int ffd = openat(dirfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ffd < 0) {
		if (!tolerated(errno, c))
			report_error(o, errno, opt->root, "fd");
		return;
	}
	struct dir_iter it = { .fd = ffd, .short_is_end = opt->procfs };
	const char *name;
	char link[PATH_MAX], line[128];
	int pidfd = -1;
	while ((name = dir_next(&it))) {
		if (name[0] < '0' || name[0] > '9')
			continue;
		ssize_t n = readlinkat(ffd, name, link, sizeof(link) - 1);
		if (n < 0) {
			/* Not permitted: the ptrace check (proc(5)) is per process, so every other fd of
			 * this one fails alike; stop here (a sandbox init may hold hundreds). */
			if (errno == EACCES || errno == EPERM) {
				c->denied++;
				break;
			}
			continue; /* closed between readdir and readlink */
		}
		link[n] = '\0';
		unsigned long long ino;
		int t = ns_any(link, n, &ino);
		if (t < 0)
			t = nsfs_by_stat(ffd, name, link, mntns, opt, met, &ino);
		if (t >= 0 && (opt->types & (1u << t))) {
			int len = snprintf(line, sizeof(line), "F %ld %s %s %llu\n", pid, name, ns_names[t], ino);
			out_line(o, line, (size_t)len);
			emit_id_at(ffd, name, ino, opt, met, o);
		} else if (t < 0 && opt->sockets) {
			socket_netns(&pidfd, pid, name, link, n, opt, o, met);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	close(ffd);
}

static void scan_pid(long pid, const struct scan_opts *opt, struct out *o, struct counts *c, struct seen *met)
{
	char path[PATH_MAX], buf[1024], link[128], comm[160], line[512];
	snprintf(path, sizeof(path), "%s/%ld", opt->root, pid);
	int dirfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		if (!tolerated(errno, c))
			report_error(o, errno, opt->root, "PID");
		return;
	}
	int sfd = openat(dirfd, "stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = sfd < 0 ? -1 : read(sfd, buf, sizeof(buf) - 1);
	int err = errno;
	if (sfd >= 0)
		close(sfd);
	struct proc_stat st = { 0 };
	if (n <= 0 || (buf[n] = '\0', parse_stat(buf, &st) < 0)) {
		if (n < 0 && !tolerated(err, c))
			report_error(o, err, opt->root, "stat");
		else if (n >= 0)
			c->gone++; /* empty or torn stat: the process is exiting */
		close(dirfd);
		return;
	}
	struct stat dirst;
	if (fstat(dirfd, &dirst) < 0) {
		if (!tolerated(errno, c))
			report_error(o, errno, opt->root, "PID");
		close(dirfd);
		return;
	}
	unsigned long long ino[NS_COUNT] = { 0 };
	int denied = 0;
	for (int t = 0; t < NS_COUNT; t++) {
		if (!(opt->types & (1u << t)))
			continue;
		snprintf(path, sizeof(path), "ns/%s", ns_names[t]);
		ssize_t ln = readlinkat(dirfd, path, link, sizeof(link) - 1);
		if (ln < 0) {
			/* Per type, as lsns does: a zombie has no namespaces left but is still a process. */
			int e = errno;
			if (e == EACCES || e == EPERM)
				denied = 1;
			else if (e != ENOENT && e != ESRCH)
				report_error(o, e, opt->root, path);
			continue;
		}
		link[ln] = '\0';
		ino[t] = ns_inode(link, ln, ns_names[t]);
		emit_id_at(dirfd, path, ino[t], opt, met, o);
	}
	escape_comm(st.comm, comm, sizeof(comm));
	int len = snprintf(line, sizeof(line), "P %ld %ld %llu %ld %lu %llu %llu %llu %llu %llu %llu %llu %llu %s\n", pid, st.ppid,
			   st.starttime, st.nthreads, (unsigned long)dirst.st_uid, ino[0], ino[1], ino[2], ino[3], ino[4], ino[5],
			   ino[6], ino[7], comm);
	out_line(o, line, (size_t)len);
	if (opt->reps) {
		int new_ns = 0;
		for (int t = 0; t < NS_COUNT; t++)
			new_ns |= seen_add(&met[0], ino[t]);
		if (new_ns || opt->all_cmdlines)
			emit_cmdline(dirfd, pid, o);
		if (new_ns)
			emit_cgroup(dirfd, pid, o);
		if (ino[6] && !seen_has(&met[1], ino[6]) && emit_nsfs_mounts(dirfd, ino[6], opt, met, o))
			seen_add(&met[1], ino[6]);
	}
	/* Threads' ns links and fds pass the same ptrace check (proc(5)) as the process's own
	 * ns links: when those were refused, so would every one of these be. */
	if (denied) {
		c->denied++;
	} else {
		if (opt->threads && st.nthreads > 1)
			scan_threads(dirfd, pid, ino, opt, o, c, met);
		if (opt->fds)
			scan_fds(dirfd, pid, ino[6], opt, o, c, met);
	}
	close(dirfd);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

/* Every numeric entry of ROOT, ascending. */
static long *list_pids(const char *root, size_t *count)
{
	DIR *d = opendir(root);
	if (!d)
		return NULL;
	size_t cap = 1024, len = 0;
	long *pids = malloc(cap * sizeof(*pids));
	struct dirent *e;
	while (pids && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if (len == cap) {
			long *bigger = realloc(pids, (cap *= 2) * sizeof(*pids));
			if (!bigger) {
				free(pids);
				pids = NULL;
				break;
			}
			pids = bigger;
		}
		pids[len++] = strtol(e->d_name, NULL, 10);
	}
	closedir(d);
	if (pids)
		qsort(pids, len, sizeof(*pids), cmp_long);
	*count = len;
	return pids;
}

static void scan_range(const long *pids, size_t from, size_t to, const struct scan_opts *opt)
{
	static struct out o; /* static: PIPE_BUF bytes, one per process (workers are forked) */

	o.exit_status = SCAN_EXIT_OUTPUT; /* the reader went away: nothing left to do */
	struct counts c = { 0, 0 };
	struct seen met[MET_COUNT] = { { 0 } }; /* see MET_COUNT */
	char line[96];
	o.len = 0;
	for (size_t i = from; i < to; i++)
		scan_pid(pids[i], opt, &o, &c, met);
	int len = snprintf(line, sizeof(line), "S gone %lu denied %lu\n", c.gone, c.denied);
	out_line(&o, line, (size_t)len);
	out_flush(&o);
}

/*
 * Once, before the workers fork: does NS_GET_ID exist (ENOTTY/EINVAL before Linux 6.18),
 * nsfs's device, and may we read sockets' namespaces (pidfd_getfd(2) needs the ptrace attach
 * check, SIOCGSKNS CAP_NET_ADMIN: root, as lsns).
 */
static void probe(struct scan_opts *opt)
{
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	uint64_t id;
	struct stat st;
	if (fd >= 0) {
		if (opt->ids == 0)
			opt->ids = ioctl(fd, NSM_NS_GET_ID, &id) == 0;
		if (fstat(fd, &st) == 0)
			opt->nsfs_dev = st.st_dev;
		close(fd);
	}
	if (opt->ids < 0)
		opt->ids = 0;
	struct statfs fs;
	opt->procfs = statfs(opt->root, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
	/* pidfd_open(2) names live pids: never for a fixture tree under another root. */
	opt->sockets = opt->sockets == 0 && geteuid() == 0 && opt->fds && !strcmp(opt->root, "/proc");
}

static void usage_exit(void)
{
	fprintf(stderr, "usage: nsm-helper scan [--proc ROOT] [--types MASK] [--no-fds] [--no-threads] [--no-reps] [--all-cmdlines] [--no-ids] [--no-sockets] [--all-sockets] [--jobs N]\n");
	exit(SCAN_EXIT_USAGE);
}

int scan_main(int argc, char **argv)
{
	struct scan_opts opt = { .root = "/proc", .types = (1u << NS_COUNT) - 1, .fds = 1, .threads = 1, .reps = 1 };
	long jobs = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--proc") && i + 1 < argc)
			opt.root = argv[++i];
		else if (!strcmp(argv[i], "--types") && i + 1 < argc)
			opt.types = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--no-fds"))
			opt.fds = 0;
		else if (!strcmp(argv[i], "--no-threads"))
			opt.threads = 0;
		else if (!strcmp(argv[i], "--no-reps"))
			opt.reps = 0;
		else if (!strcmp(argv[i], "--all-cmdlines"))
			opt.all_cmdlines = 1;
		else if (!strcmp(argv[i], "--no-ids"))
			opt.ids = -1;
		else if (!strcmp(argv[i], "--no-sockets"))
			opt.sockets = -1;
		else if (!strcmp(argv[i], "--all-sockets"))
			opt.all_sockets = 1;
		else if (!strcmp(argv[i], "--jobs") && i + 1 < argc)
			jobs = strtol(argv[++i], NULL, 10);
		else
			usage_exit();
	}
	probe(&opt);
	size_t count = 0;
	long *pids = list_pids(opt.root, &count);
	if (!pids) {
		fprintf(stderr, "nsm-helper scan: cannot list %s: %s\n", opt.root, strerror(errno));
		return SCAN_EXIT_LIST;
	}
	/* Below a few hundred processes a fork costs more than it saves. */
	if (jobs <= 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = count < SCAN_PARALLEL_FROM ? 1 : (cpus > 4 ? 4 : cpus);
	}
	if (jobs < 1)
		jobs = 1;
	/* Interleaved shares (pid i goes to worker i % jobs) balance short- and long-lived pids alike. */
	pid_t children[4];
	long forked = 0;
	for (long j = 1; j < jobs && j < 4; j++) {
		pid_t child = fork();
		if (child == 0) {
			size_t len = 0;
			for (size_t i = (size_t)j; i < count; i += (size_t)jobs)
				pids[len++] = pids[i];
			scan_range(pids, 0, len, &opt);
			_exit(0);
		}
		if (child > 0)
			children[forked++] = child;
		else
			break; /* fork failed: scan the rest here */
	}
	size_t len = 0;
	for (size_t i = 0; i < count; i++) {
		if ((long)(i % (size_t)jobs) == 0 || (long)(i % (size_t)jobs) > forked)
			pids[len++] = pids[i];
	}
	scan_range(pids, 0, len, &opt);
	int rc = 0;
	for (long k = 0; k < forked; k++) {
		int status;
		while (waitpid(children[k], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = SCAN_EXIT_WORKER;
	}
	free(pids);
	return rc;
}
