/* nsm-helper pidtick: see pidtick.c, whose header comment describes the protocol. */
#ifndef NSM_PIDTICK_H
#define NSM_PIDTICK_H

/* Bounds of the period, in milliseconds (mirrored in src/sys/pid-ticker.ts). */
#define PIDTICK_MIN_MS 1
#define PIDTICK_MAX_MS 60000

#define PIDTICK_EXIT_USAGE 2    /* bad arguments or a bad period on stdin */
#define PIDTICK_EXIT_LOADAVG 3  /* /proc/loadavg could not be read */
#define PIDTICK_EXIT_INPUT 4    /* reading stdin failed */
#define PIDTICK_EXIT_OUTPUT 5   /* stdout was closed */
#define PIDTICK_EXIT_LIST 6     /* (--list) the proc root could not be listed */
#define PIDTICK_EXIT_SCAN 7     /* a scan could not be started (no --scan-fd, one running, fork failed) */

int pidtick_main(int argc, char **argv);

#endif
