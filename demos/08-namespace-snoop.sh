#!/usr/bin/env bash
# 08 - Namespace snooping: inspect a process, diff it against PID 1, find every process that
# is not in the host's namespaces, and enter one.
#
# The tools an administrator reaches for when something runs "somewhere else": what are
# this process's namespaces, which of them are not the host's, who else is in them, and a
# shell in there.
# Runs as root or as a user (who sees only what they may read, as with lsns).
# Usage: 08-namespace-snoop.sh [--yes]      (NSM_DEMO_YES=1 works too)

. "$(dirname "$0")/lib.sh"
demo_init "$@"
need_cmd unshare util-linux
need_cmd nsenter util-linux

ENV=demo-snoop-$$

step "Something to find"
say "An nsm environment, and a process started with plain unshare(1) in new UTS and network namespaces."
create_env "$ENV"
if is_root; then
  UNSHARE=(unshare --uts --net)
  NSENTER=(nsenter --uts --net)
else
  UNSHARE=(unshare --user --map-root-user --uts --net)
  NSENTER=(nsenter --user --preserve-credentials --uts --net)
fi
printf '%s$ %s sleep 600 &%s\n' "$_C" "${UNSHARE[*]}" "$_R"
"${UNSHARE[@]}" sleep 600 &
SLEEP=$!
at_exit "kill $SLEEP"
sleep 0.3
echo "[started PID $SLEEP]"
pause

step "Inspect a process"
say "nsm inspect shows all of a process's namespaces (plus pid_for_children and time_for_children), whether each is the host's, its owner user namespace and whose it is; then its PIDs, id maps and cgroups."
run nsm inspect "$SLEEP"
pause

step "Diff against PID 1"
say "The classic question: how does this process differ from init? nsm diff compares two processes type by type."
if nsm diff 1 "$SLEEP" > /dev/null 2>&1; then
  run_may_fail nsm diff 1 "$SLEEP"
  REF=1
else
  run_may_fail nsm diff 1 "$SLEEP"
  say "Here PID 1's namespaces cannot be read. (A user may never read root's; on some machines - this development machine among them - init is a sandbox's that refuses even root: proc(5) ptrace access mode.) That is why nsm inspect said 'host = the kernel's initial namespaces, read from kthreadd (PID 2)': kthreadd is started by the kernel before anything can unshare, so it is always in the initial namespaces. Diff against it instead:"
  run_may_fail nsm diff 2 "$SLEEP"
  REF=2
fi
result "compared against PID $REF: uts and net differ"
pause

step "Find every process that is not in the host's namespaces"
say "The host's inode of each type is in nsm inspect --json (.namespaces[].reference). Every namespace in nsm ls --json with another inode belongs to someone else:"
HOST_JSON=$(nsm inspect $$ --json)
echo "$HOST_JSON" | jsq 'd.namespaces.filter((n) => !n.entry.endsWith("_for_children")).map((n) => `  host ${n.type.padEnd(6)} ${n.reference}`)'
LS_JSON=$(nsm ls --json)
printf '%s$ nsm ls --json | (namespaces whose inode is not the host'"'"'s)%s\n' "$_C" "$_R"
FOUND=$(HOST_JSON=$HOST_JSON jsq '
  d.namespaces
    .filter((n) => !JSON.parse(process.env.HOST_JSON).namespaces.some((h) => h.type === n.type && h.reference === n.ns))
    .map((n) => [String(n.ns).padStart(10), n.type.padEnd(6), String(n.nprocs).padStart(6), String(n.pid ?? "-").padStart(7), (n.name || "-").padEnd(24), n.command ?? ""].join(" "))
' <<< "$LS_JSON")
printf '%10s %-6s %6s %7s %-24s %s\n' NS TYPE NPROCS PID NAME COMMAND
echo "$FOUND"
echo "$FOUND" | grep -q "nsm:$ENV" || die "the environment's namespaces were not found"
echo "$FOUND" | grep -qE " $SLEEP +- +sleep| $SLEEP .*sleep 600" || die "the unshare'd sleep was not found"
result "found the environment $ENV and the unshare'd sleep (PID $SLEEP)"
say "NAME says whose a namespace is (nsm:ENV, netns:NAME, docker:..., systemd units). A namespace with NPROCS 0 is held by a bind mount or an open file descriptor; one the host's kernel threads are in (kdevtmpfs has a mount namespace of its own) is the kernel's. nsm ps groups the processes by namespace:"
run nsm ps -t uts -p "$SLEEP"
pause

step "Enter one"
say "nsm enters environments by name (it checks their recorded inodes first, so a reused PID never leads into a stranger's namespaces):"
if [ "$DEMO_YES" != 1 ] && [ -t 0 ]; then
  say "A shell in all of $ENV's namespaces; look around (hostname, ip link, ps), then type exit to come back."
  run_may_fail nsm enter "$ENV"
fi
run nsm enter "$ENV" -- sh -c 'echo "hostname: $(hostname)   NSM_ENV=$NSM_ENV"; ip -br link; ps -o pid,comm'
say "Any other process is entered with nsenter(1), naming the types to join; the unshare'd sleep's UTS and network namespaces:"
run "${NSENTER[@]}" -t "$SLEEP" ip -br link
run "${NSENTER[@]}" -t "$SLEEP" hostname

step "Clean up"
run kill "$SLEEP"
run nsm destroy "$ENV"
