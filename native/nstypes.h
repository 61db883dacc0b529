/*
 * The eight Linux namespace types, once for the C side: the helper (unshare, setns, the
 * NSM_CFG_NSTYPES mask) and the scanner (/proc/PID/ns links, the P record's inode columns,
 * the --types mask) both expand this table. It mirrors NS_TYPES in src/sys/nstypes.ts, and
 * test/unit/helper-protocol.test.ts parses this file to check that both sides agree.
 *
 * NSM_NSTYPES(X) calls X(NAME, PROC, FLAG, VALUE, COLUMN) once per type:
 *   NAME    the type as the kernel spells it: /proc/PID/ns links read "NAME:[inode]"
 *   PROC    its entry under /proc/PID/ns/
 *   FLAG    its CLONE_NEW* flag for unshare(2)/setns(2), also what NS_GET_NSTYPE returns
 *   VALUE   that flag's number (checked against <sched.h> below, and by the test against TS)
 *   COLUMN  its index: bit COLUMN of the scanner's --types mask, inode column COLUMN of a P
 *           record, and its place in nsenter(1)'s join order (util-linux namespace_files[]):
 *           user first, to gain privilege over the others (user_namespaces(7)); mnt after
 *           pid and net; time last
 */
#ifndef NSM_NSTYPES_H
#define NSM_NSTYPES_H

#include <sched.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080 /* Linux 5.6 */
#endif

#define NSM_NSTYPES(X) \
	X("user",   "user",   CLONE_NEWUSER,   0x10000000, 0) \
	X("cgroup", "cgroup", CLONE_NEWCGROUP, 0x02000000, 1) \
	X("ipc",    "ipc",    CLONE_NEWIPC,    0x08000000, 2) \
	X("uts",    "uts",    CLONE_NEWUTS,    0x04000000, 3) \
	X("net",    "net",    CLONE_NEWNET,    0x40000000, 4) \
	X("pid",    "pid",    CLONE_NEWPID,    0x20000000, 5) \
	X("mnt",    "mnt",    CLONE_NEWNS,     0x00020000, 6) \
	X("time",   "time",   CLONE_NEWTIME,   0x00000080, 7)

#define NSM_NSTYPE_COUNT_(name, proc, flag, value, column) + 1
#define NSM_NSTYPE_FLAG_(name, proc, flag, value, column) | (flag)

/* The number of types, and every CLONE_NEW* flag of them or'ed together. */
#define NSM_NS_COUNT (0 NSM_NSTYPES(NSM_NSTYPE_COUNT_))
#define NSM_NS_ALL (0 NSM_NSTYPES(NSM_NSTYPE_FLAG_))

/* The numbers the test compares with TypeScript are the C library's flags. */
#define NSM_NSTYPE_CHECK_(name, proc, flag, value, column) \
	_Static_assert((flag) == (value), #flag " is " #value);
NSM_NSTYPES(NSM_NSTYPE_CHECK_)

#endif
