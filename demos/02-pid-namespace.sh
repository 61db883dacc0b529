#!/usr/bin/env bash
# 02 - PID namespace: PID 1 inside, the NSpid chain seen from outside, and what happens
# when PID 1 exits.
#
# A process in a new PID namespace has a number in it and in every namespace above it.
# The first process there is its PID 1, with init's duties; when it exits, the kernel kills
# every other process of that namespace.
# Runs as root or as a user (then inside a user namespace of your own).
# Usage: 02-pid-namespace.sh [--yes]      (NSM_DEMO_YES=1 works too)

. "$(dirname "$0")/lib.sh"
demo_init "$@"

ENV=demo-pid-$$
TYPES=pid,mnt # mnt too, so the environment gets a /proc of its own PID namespace
is_root || TYPES=user,$TYPES

step "An environment with its own PID namespace"
say "The holder nsm create starts becomes PID 1 of the new PID namespace. With a new mount namespace as well, nsm mounts a fresh /proc in it: a procfs shows the PID namespace of whoever mounted it, so ps inside sees only the inside."
create_env "$ENV" -t "$TYPES"
HOLDER=$(holder_pid "$ENV")
pause

step "Inside: the holder is PID 1"
run nsm exec "$ENV" -- ps -o pid,ppid,comm
say "ps has PPID 0: its parent (nsm exec, which joined from outside) has no number in this namespace."
say "Outside, the same process is PID $HOLDER:"
run ps -o pid,ppid,comm -p "$HOLDER"

step "A process started inside has two PIDs"
say "Start a sleep inside, in the background, and find it from outside with nsm ps -p (the processes of the environment's PID namespace)."
printf '%s$ nsm exec %s -- sleep 300 &%s\n' "$_C" "$ENV" "$_R"
nsm exec "$ENV" -- sleep 300 &
EXEC_PID=$!
at_exit "kill $EXEC_PID"
SLEEP_PID=
for _ in $(seq 50); do
  SLEEP_PID=$(nsm ps -p "$ENV" --json | jsq 'd.namespaces[0].processes.filter((p) => p.comm === "sleep").map((p) => p.pid)' | head -1)
  [ -n "$SLEEP_PID" ] && break
  sleep 0.1
done
[ -n "$SLEEP_PID" ] || die "the sleep started inside did not appear"
run nsm ps -p "$ENV"
say "The kernel lists a process's number in each PID namespace it is in, outermost first, in the NSpid line of /proc/PID/status; nsm inspect names each level's namespace:"
run grep NSpid "/proc/$SLEEP_PID/status"
run_sh "nsm inspect $SLEEP_PID | grep NSpid"
INNER=$(awk '/^NSpid:/ {print $NF}' "/proc/$SLEEP_PID/status")
result "sleep is PID $SLEEP_PID on the host and PID $INNER inside"
pause

step "PID 1 exits: everything inside goes with it"
say "Stop the holder from outside with a plain kill (nsm destroy would do it for you, after stopping the processes inside first). When PID 1 of a PID namespace exits, the kernel sends SIGKILL to every other process in it (pid_namespaces(7)): the sleep dies, and nsm exec reports 137 = 128 + 9 (SIGKILL)."
run kill -TERM "$HOLDER"
EXEC_STATUS=0
wait "$EXEC_PID" || EXEC_STATUS=$?
printf 'nsm exec ... sleep 300 ended with status %s\n' "$EXEC_STATUS"
if kill -0 "$SLEEP_PID" 2> /dev/null && [ "$(cat "/proc/$SLEEP_PID/comm" 2> /dev/null)" = sleep ]; then
  die "sleep (PID $SLEEP_PID) outlived its PID 1"
fi
result "the sleep (host PID $SLEEP_PID) is gone: killed when its PID 1 exited"

step "The record is left behind; nsm gc removes it"
say "nsm keeps a record of each environment. Its holder is dead now, so the environment is 'dead': nsm refuses to enter it, and nsm gc removes the record."
run_sh "nsm ls | sed -n '/^ENVIRONMENTS/,\$p'"
run_may_fail nsm exec "$ENV" -- true
run nsm gc

step "One command in a fresh PID namespace: nsm unshare"
say "nsm unshare runs one command in new namespaces and removes them when it exits. With a new PID namespace the command runs under a small init (nsm:init) that forwards signals and reaps orphans, so the command is PID 2 and not a PID 1 that ignores signals."
UNSHARE_TYPES=pid,mnt
is_root || UNSHARE_TYPES=user,$UNSHARE_TYPES
run nsm unshare -t "$UNSHARE_TYPES" -- ps -o pid,ppid,comm
