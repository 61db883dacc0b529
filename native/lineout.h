/*
 * Line-buffered output to stdout for the helper's streaming modes (scan, pidtick): whole
 * lines only, at most PIPE_BUF bytes per write(2), so that each write to the pipe is atomic
 * (pipe(7)) and a reader never sees half a line. When the reader has gone, the mode exits
 * with its own status: there is nothing left to do.
 */
#ifndef NSM_LINEOUT_H
#define NSM_LINEOUT_H

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

struct out {
	char buf[PIPE_BUF];
	size_t len;
	int exit_status; /* _exit() with this when stdout is gone */
};

static inline void out_flush(struct out *o)
{
	size_t off = 0;

	while (off < o->len) {
		ssize_t n = write(STDOUT_FILENO, o->buf + off, o->len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(o->exit_status);
		}
		off += (size_t)n;
	}
	o->len = 0;
}

/* Append one whole line; flush first if it would not fit, so writes end at line boundaries. */
static inline void out_line(struct out *o, const char *line, size_t len)
{
	if (len > sizeof(o->buf))
		len = sizeof(o->buf); /* cannot happen: the modes' lines are < 512 bytes */
	if (o->len + len > sizeof(o->buf))
		out_flush(o);
	memcpy(o->buf + o->len, line, len);
	o->len += len;
}

#endif
