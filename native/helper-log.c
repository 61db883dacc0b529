/*
 * nsm-helper stage "framing and log": how every other stage talks and fails.
 *
 * Frames (protocol.h, native/PROTOCOL.md) go to the driver on syncfd, and between the helper
 * and each child it forks on a socketpair of their own (fork_with_socket()). A step that fails
 * anywhere reports "step NUL errno-name" as NSM_FAIL on syncfd, after killing the child it
 * made so that nothing is left behind; the helper relays a child's report unchanged. It runs in
 * every process of the helper, also between fork and exec and in PID 1 of a new pid namespace:
 * plain system calls on a socket, no threads, no stdio buffers on the reply stream.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "helper.h"

int syncfd = -1;

/* ---------------------------------------------------------------- failure */

const char *msg_name(int code)
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
	case NSM_CFG_ROOT: return "NSM_CFG_ROOT";
	case NSM_CFG_KILL_SIGNAL: return "NSM_CFG_KILL_SIGNAL";
	case NSM_CFG_JOIN_FLAGS: return "NSM_CFG_JOIN_FLAGS";
	case NSM_CFG_JOIN_ROOT: return "NSM_CFG_JOIN_ROOT";
	case NSM_CFG_JOIN_WD: return "NSM_CFG_JOIN_WD";
	case NSM_CFG_NETNS_EXEC: return "NSM_CFG_NETNS_EXEC";
	case NSM_CFG_NEW_SESSION: return "NSM_CFG_NEW_SESSION";
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
noreturn void die(pid_t child, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vfail(NSM_EXIT_FAIL, child, err, fmt, ap);
}

/* diex(): a step failed for a reason we name ourselves (EPROTO, EINVAL ...), not errno. */
noreturn void diex(pid_t child, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(NSM_EXIT_FAIL, child, err, fmt, ap);
}

/* fail(): like diex(), with an exit code of its own (126/127 for execvp). */
noreturn void fail(int code, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(code, 0, err, fmt, ap);
}

uint32_t le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t le64(const unsigned char *p)
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
bool read_frame(int fd, struct frame *f, const char *step, bool eof_ok, pid_t child)
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

void write_frame(int fd, uint8_t code, const void *payload, uint32_t len, pid_t child)
{
	if (send_frame(fd, code, payload, len) < 0)
		die(child, "write(%s)", msg_name(code));
}

/* Pass a child's NSM_FAIL on unchanged, then stop it and exit `code`. */
noreturn void relay_fail(const struct frame *f, pid_t child, int code)
{
	stop_child(child);
	if (send_frame(syncfd, NSM_FAIL, f->data, f->len) < 0)
		dprintf(STDERR_FILENO, "nsm-helper: %s: %s\n", f->data, f->data + strlen((char *)f->data) + 1);
	_exit(code);
}

/* Wait for one message `code` from a child; its NSM_FAIL is relayed and ends the helper. */
void expect_frame(int fd, uint8_t code, pid_t child)
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
pid_t fork_with_socket(int *helper_end, const char *what)
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
 * True when the helper has gone already: its end of our socket is closed (in the helper
 * itself: the driver, nsm). Checked right after PR_SET_PDEATHSIG, which only covers a parent
 * dying after the prctl.
 */
bool helper_gone(void)
{
	struct pollfd p = { .fd = syncfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}
