/* nsm-helper connector: see connector.c, whose header comment describes the protocol. */
#ifndef NSM_CONNECTOR_H
#define NSM_CONNECTOR_H

#define CONNECTOR_EXIT_USAGE 2  /* bad arguments */
#define CONNECTOR_EXIT_FAILED 3 /* a system call failed, or no acknowledgement: an "E" line says which */
#define CONNECTOR_EXIT_OUTPUT 5 /* stdout was closed */

int connector_main(int argc, char **argv);

#endif
