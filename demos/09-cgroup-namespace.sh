#!/usr/bin/env bash
# 09 - Cgroup namespace: the cgroup path seen inside vs outside.
#
# A cgroup namespace virtualises the view of cgroups: /proc/PID/cgroup and a cgroup
# filesystem mounted inside show paths relative to the namespace's root, which is the cgroup
# its creator was in when it was made (cgroup_namespaces(7)). It moves nobody: membership is
# the host's business; only the view changes.
# Runs as root (making a cgroup of its own on the cgroup v2 hierarchy) or as a user (the
# view alone).
# Usage: 09-cgroup-namespace.sh [--yes]      (NSM_DEMO_YES=1 works too)

. "$(dirname "$0")/lib.sh"
demo_init "$@"

[ -e /proc/self/ns/cgroup ] || skip "this kernel has no cgroup namespaces (Linux 4.6 or later, CONFIG_CGROUPS)"

ENV=demo-cg-$$
V2=$(findmnt -n -t cgroup2 -o TARGET 2> /dev/null | head -1)

step "Outside: this shell's cgroups"
say "One line per hierarchy: ID:CONTROLLERS:PATH; the cgroup v2 line is '0::PATH'."
run cat /proc/self/cgroup

if ! is_root || [ -z "$V2" ] || [ ! -w "$V2" ]; then
  # The view alone: a namespace rooted at the cgroup we are in.
  why="not root"
  is_root && why="no writable cgroup v2 hierarchy"
  step "A cgroup namespace rooted where we are ($why: no cgroup of our own)"
  TYPES=cgroup,pid,mnt
  is_root || TYPES=user,$TYPES
  create_env "$ENV" -t "$TYPES"
  HOLDER=$(holder_pid "$ENV")
  say "Outside, the holder's paths are the host's; inside, the same process (PID 1 there) sees every path from the namespace's root as '/':"
  run cat "/proc/$HOLDER/cgroup"
  run nsm exec "$ENV" -- cat /proc/1/cgroup
  [ -z "$(nsm exec "$ENV" -- cat /proc/1/cgroup | cut -d: -f3- | grep -vx /)" ] || die "a path inside is not /"
  result "inside, every cgroup path of the holder is /"
  say "As root on a host with cgroup v2, this demo also makes a cgroup for the environment and a child in it, and mounts the cgroup filesystem inside."
  step "Clean up"
  run nsm destroy "$ENV"
  exit 0
fi

CG=$V2/nsm-demo-$$
REL=${CG#"$V2"}
step "A cgroup for the environment"
say "The cgroup v2 hierarchy is mounted at $V2. Make a cgroup in it: a directory."
at_exit "rmdir '$CG'"
run mkdir "$CG"
pause

step "Create the environment from inside that cgroup"
say "A subshell moves itself into $REL and runs nsm create there: the new cgroup namespace's root is the cgroup its creator is in, and the holder stays in it."
at_exit "'$NSM_BIN' destroy --force --timeout 1 '$ENV'"
run_sh "( echo \$BASHPID > $CG/cgroup.procs && nsm create $ENV -t cgroup,pid,mnt )" || die "nsm create failed"
HOLDER=$(holder_pid "$ENV")
say "Outside, the holder is in $REL:"
run grep '^0::' "/proc/$HOLDER/cgroup"
say "Inside, the same process (PID 1 there) is at the namespace's root, '/':"
run_sh "nsm exec $ENV -- grep '^0::' /proc/1/cgroup"
[ "$(nsm exec "$ENV" -- grep '^0::' /proc/1/cgroup)" = "0::/" ] || die "inside, the holder is not at /"
result "outside 0::$REL, inside 0::/"
pause

step "A child cgroup, seen from both sides"
CHILD=$CG/child
at_exit "rmdir '$CHILD'"
run mkdir "$CHILD"
say "Start a sleep inside, then move it into $REL/child from outside (moving is done on the host's side; the namespace only changes the view)."
printf '%s$ nsm exec %s -- sleep 300 &%s\n' "$_C" "$ENV" "$_R"
nsm exec "$ENV" -- sleep 300 &
EXEC=$!
at_exit "kill $EXEC"
SLEEP=
for _ in $(seq 50); do
  SLEEP=$(nsm ps -p "$ENV" --json | jsq 'd.namespaces[0].processes.filter((p) => p.comm === "sleep").map((p) => p.pid)' | head -1)
  [ -n "$SLEEP" ] && break
  sleep 0.1
done
[ -n "$SLEEP" ] || die "the sleep started inside did not appear"
INNER=$(awk '/^NSpid:/ {print $NF}' "/proc/$SLEEP/status")
run_sh "echo $SLEEP > $CHILD/cgroup.procs"
run grep '^0::' "/proc/$SLEEP/cgroup"
run_sh "nsm exec $ENV -- grep '^0::' /proc/$INNER/cgroup"
[ "$(nsm exec "$ENV" -- grep '^0::' "/proc/$INNER/cgroup")" = "0::/child" ] || die "inside, the sleep is not at /child"
result "the sleep: outside 0::$REL/child, inside 0::/child"
pause

step "A process that joins from outside stays where it was"
say "nsm exec joins the cgroup namespace, which changes its view, not its cgroup: it is still in this shell's cgroup, above the namespace's root, so it sees its own path as going up:"
run_sh "nsm exec $ENV -- grep '^0::' /proc/self/cgroup"
say "(A container runtime moves the process into the container's cgroup before joining; that is what makes it look like '/' there.)"
pause

step "The cgroup filesystem mounted inside"
say "Mounted inside the namespace, a cgroup2 filesystem has the namespace's root as its top: ${REL#/} is '/' there, and its only cgroup (directory) is child. Outside, the top of the hierarchy is the host's:"
run nsm exec "$ENV" -- mount -t cgroup2 cgroup2 /mnt
run nsm exec "$ENV" -- sh -c 'ls -d /mnt/*/'
run_sh "ls -d $V2/*/"
run_sh "nsm exec $ENV -- cat /mnt/child/cgroup.procs"
say "(That is the sleep, by its number inside: the cgroup files too speak the reader's PID namespace.)"

step "Clean up"
run nsm destroy "$ENV"
wait "$EXEC" 2> /dev/null
for _ in $(seq 50); do rmdir "$CHILD" 2> /dev/null && break; sleep 0.1; done
for _ in $(seq 50); do rmdir "$CG" 2> /dev/null && break; sleep 0.1; done
[ ! -e "$CG" ] || die "could not remove $CG"
result "removed the cgroups $REL/child and $REL"
