/* nsm-helper netwatch: see netwatch.c, whose header comment describes it. */
#ifndef NSM_NETWATCH_H
#define NSM_NETWATCH_H

int netwatch_main(int argc, char **argv);

#endif
