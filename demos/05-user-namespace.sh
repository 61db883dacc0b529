#!/usr/bin/env bash
# 05 - User namespace: an unprivileged user is root inside, through a uid_map; that root has
# power over what its user namespace owns, and none over the host.
#
# Runs as an unprivileged user. Started as root, it runs itself again as nobody (uid 65534)
# through setpriv (or runuser), with a state directory nobody can write.
# Usage: 05-user-namespace.sh [--yes]      (NSM_DEMO_YES=1 works too)

. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -eq 0 ] && [ -z "${NSM_DEMO_AS_USER:-}" ]; then
  demo_init "$@"
  step "Started as root: running again as nobody (uid 65534)"
  say "The point of this demo is what a user without privileges can do, so root hands it over."
  if command -v setpriv > /dev/null; then
    AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  elif command -v runuser > /dev/null; then
    AS_NOBODY=(runuser -u "$(id -nu 65534 2> /dev/null || echo nobody)" --)
  else
    skip "started as root, and neither setpriv nor runuser (util-linux) is there to become an unprivileged user"
  fi
  STATE=$(mktemp -d "/tmp/nsm-demo-$$-user.XXXXXX")
  at_exit "rm -rf '$STATE'"
  chown 65534:65534 "$STATE"
  if ! "${AS_NOBODY[@]}" sh -c 'test -r "$1" && test -x "$2"' sh "$0" "$NSM_BIN"; then
    skip "uid 65534 cannot read $0 or run $NSM_BIN: put the checkout where every user can read it, or run the demo as a normal user"
  fi
  AS_USER=("${AS_NOBODY[@]}" env HOME="$STATE" NSM_STATE_DIR="$STATE" NSM_DEMO_AS_USER=1 bash "$0" "$@")
  printf '%s$ %s%s\n' "$_C" "$(_shown "${AS_USER[@]}")" "$_R"
  # In the background (so that a signal reaches us at once and is passed on), with our stdin.
  "${AS_USER[@]}" <&0 &
  CHILD=$!
  # Ctrl-C and kill reach the demo as nobody too; it cleans up after itself, then we do.
  trap 'kill -INT $CHILD 2> /dev/null' INT
  trap 'kill -TERM $CHILD 2> /dev/null' TERM
  while :; do
    rc=0
    wait "$CHILD" || rc=$?
    kill -0 "$CHILD" 2> /dev/null || break
  done
  exit "$rc"
fi

demo_init "$@"
[ "$(id -u)" -ne 0 ] || skip "run as root with NSM_DEMO_AS_USER set: nothing to show"

ENV=demo-user-$$
ME=$(id -u)
WORK=$(mktemp -d "/tmp/nsm-demo-$$-userfiles.XXXXXX")
at_exit "rm -rf '$WORK'"

step "Who we are"
run id
say "An ordinary user: no capabilities on the host."
pause

step "An environment with a user namespace"
say "Without root, nsm create makes a user namespace first and the other namespaces inside it, owned by it, and maps your uid to 0 there (like unshare --map-root-user)."
if ! nsm create "$ENV" > "$WORK/create.out" 2>&1; then
  cat "$WORK/create.out"
  skip "this host does not let an unprivileged user create a user namespace (see the message above; nsm doctor says which setting refuses it)"
fi
at_exit "'$NSM_BIN' destroy --force --timeout 1 '$ENV'"
printf '%s$ nsm create %s%s\n' "$_C" "$ENV" "$_R"
cat "$WORK/create.out"
run nsm exec "$ENV" -- id
[ "$(nsm exec "$ENV" -- id -u)" = 0 ] || die "not root inside"
result "uid $ME outside is uid 0 inside"
pause

step "The uid_map"
say "Each line of /proc/PID/uid_map reads: first id inside, first id outside, how many. Here a single id: 0 inside is $ME outside. An outside id with no line (the host's root, for one) appears inside as the overflow id 65534, nobody."
run nsm exec "$ENV" -- cat /proc/self/uid_map
run nsm exec "$ENV" -- cat /proc/self/gid_map
run_sh "nsm inspect $ENV | grep -E '^(uid|gid)_map'"
say "More than one id needs a range in /etc/subuid and /etc/subgid and the setuid helpers newuidmap/newgidmap: nsm create --map-auto. (nsm doctor shows your ranges.)"
pause

step "Root inside: power over what the user namespace owns"
say "The environment's UTS, network and mount namespaces belong to its user namespace, so root inside may change them:"
run nsm exec "$ENV" -- hostname inside-userns
run nsm exec "$ENV" -- hostname
run nsm exec "$ENV" -- ip link add demo0 type veth peer name demo1
run nsm exec "$ENV" -- ip -br link
run nsm exec "$ENV" -- mount -t tmpfs demo-tmpfs /mnt
run nsm exec "$ENV" -- findmnt -n -o TARGET,SOURCE /mnt
pause

step "...and none over the host"
say "Files of the host: owned by root outside, and root outside is not mapped, so inside they belong to nobody; root inside has no capability over them."
run nsm exec "$ENV" -- ls -ln /etc/shadow
run_may_fail nsm exec "$ENV" -- cat /etc/shadow
run_may_fail nsm exec "$ENV" -- touch /etc/nsm-demo-was-here
[ ! -e /etc/nsm-demo-was-here ] || die "root in a user namespace wrote to /etc"
say "The host's hostname belongs to the initial user namespace. A user namespace alone (no UTS namespace of its own) is root with nothing to be root over:"
run_may_fail nsm unshare --user -- hostname not-allowed
say "A file made inside by 'root' is owned by uid $ME outside; an id the map does not have cannot be given away:"
run nsm exec "$ENV" -- touch "$WORK/made-inside"
run nsm exec "$ENV" -- ls -ln "$WORK/made-inside"
run ls -ln "$WORK/made-inside"
run_may_fail nsm exec "$ENV" -- chown 1 "$WORK/made-inside"
result "root inside cannot read /etc/shadow, write /etc or rename the host"

step "Clean up"
run nsm destroy "$ENV"
