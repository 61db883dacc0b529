#!/usr/bin/env bash
# 06 - IPC namespace: a System V message queue invisible across the boundary.
#
# System V IPC objects (message queues, semaphore sets, shared memory segments) and POSIX
# message queues are named by keys and ids that are global - per IPC namespace. Processes
# in different IPC namespaces cannot find each other's objects, whatever the permissions.
# Runs as root or as a user (then inside a user namespace of your own).
# Usage: 06-ipc-namespace.sh [--yes]      (NSM_DEMO_YES=1 works too)

. "$(dirname "$0")/lib.sh"
demo_init "$@"
need_cmd ipcmk util-linux
need_cmd ipcs util-linux

ENV=demo-ipc-$$
TYPES=ipc
is_root || TYPES=user,ipc

# msqid of a queue ipcmk just made ("Message queue id: 3").
queue_id() { sed -n 's/^Message queue id: *\([0-9]*\)$/\1/p'; }

step "A message queue on the host"
printf '%s$ ipcmk -Q%s\n' "$_C" "$_R"
OUT=$(ipcmk -Q) || die "ipcmk -Q failed"
echo "$OUT"
HOST_Q=$(echo "$OUT" | queue_id)
[ -n "$HOST_Q" ] || die "no queue id in: $OUT"
at_exit "ipcrm -q '$HOST_Q'"
HOST_KEY=$(ipcs -q | awk -v q="$HOST_Q" '$2 == q {print $1}')
run_sh "ipcs -q | awk 'NR <= 3 || \$1 == \"$HOST_KEY\"'"
say "Its key is $HOST_KEY, its id $HOST_Q."
pause

step "An environment with its own IPC namespace"
create_env "$ENV" -t "$TYPES"
say "Inside, the host's queue does not exist: not hidden by permissions, just not there."
run nsm exec "$ENV" -- ipcs -q
run_may_fail nsm exec "$ENV" -- ipcrm -q "$HOST_Q"
ipcs -q -i "$HOST_Q" > /dev/null 2>&1 || die "the host's queue went away"
pause

step "A queue made inside"
printf '%s$ nsm exec %s -- ipcmk -Q%s\n' "$_C" "$ENV" "$_R"
OUT=$(nsm exec "$ENV" -- ipcmk -Q) || die "ipcmk -Q inside failed"
echo "$OUT"
INNER_Q=$(echo "$OUT" | queue_id)
run nsm exec "$ENV" -- ipcs -q
INNER_KEY=$(nsm exec "$ENV" -- ipcs -q | awk -v q="$INNER_Q" '$2 == q {print $1}')
say "Outside, the host's table has no queue with key $INNER_KEY. (The ids may well be the same number: ids are counted per namespace.)"
run_sh "ipcs -q | awk 'NR <= 3 || \$1 == \"$HOST_KEY\" || \$1 == \"$INNER_KEY\"'"
! ipcs -q | grep -q "^$INNER_KEY " || die "the queue made inside is visible on the host"
! nsm exec "$ENV" -- ipcs -q | grep -q "^$HOST_KEY " || die "the host's queue is visible inside"
result "each side sees only its own message queue"
pause

step "Clean up"
say "Objects of an IPC namespace go with it: destroying the environment frees the queue made inside; the host's is removed with ipcrm."
run nsm destroy "$ENV"
run ipcrm -q "$HOST_Q"
