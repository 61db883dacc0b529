/* nsm-helper scan: see scan.c, whose header comment describes the output records. */
#ifndef NSM_SCAN_H
#define NSM_SCAN_H

#define SCAN_EXIT_USAGE 2   /* bad arguments */
#define SCAN_EXIT_LIST 3    /* the proc root could not be listed */
#define SCAN_EXIT_WORKER 4  /* a forked worker failed */
#define SCAN_EXIT_OUTPUT 5  /* stdout was closed */

/* Fewer processes than this are scanned by one process: a fork costs more than it saves. */
#define SCAN_PARALLEL_FROM 400

int scan_main(int argc, char **argv);

#endif
