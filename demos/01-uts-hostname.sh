#!/usr/bin/env bash
# 01 - UTS namespace: a hostname set inside is invisible outside.
#
# The UTS namespace holds two strings, the hostname and the NIS domain name (uname -n, -d).
# A process in a new UTS namespace can change them without touching the host's.
# Runs as root or as a user (then inside a user namespace of your own).
# Usage: 01-uts-hostname.sh [--yes]      (NSM_DEMO_YES=1 works too)

. "$(dirname "$0")/lib.sh"
demo_init "$@"

ENV=demo-uts-$$
TYPES=uts
is_root || TYPES=user,uts # a user may create a UTS namespace only inside a user namespace of their own

step "The host's hostname"
run hostname
HOST_NAME=$(hostname)

step "An environment with its own UTS namespace"
say "nsm create starts a small holder process (nsm:holder) in a new UTS namespace and keeps it there until nsm destroy. --hostname sets the new namespace's hostname."
create_env "$ENV" -t "$TYPES" --hostname demo-inside
pause

step "Inside, the hostname is the environment's"
say "nsm exec joins the environment's namespaces and runs one command there."
run nsm exec "$ENV" -- hostname
run nsm exec "$ENV" -- uname -n

step "Change it inside; the host does not notice"
run nsm exec "$ENV" -- hostname changed-inside
run nsm exec "$ENV" -- hostname
run hostname
[ "$(hostname)" = "$HOST_NAME" ] || die "the host's hostname changed"
[ "$(nsm exec "$ENV" -- hostname)" = changed-inside ] || die "the environment's hostname did not change"
result "inside: changed-inside, outside: still $HOST_NAME"
pause

step "Two namespaces, two inodes"
say "A namespace is known by its type and inode. nsm diff shows the shell and the environment share every namespace but uts$([ "$TYPES" = uts ] || printf ' (and user)')."
run_may_fail nsm diff "$ENV" $$

step "Clean up"
say "nsm destroy ends the holder; with no process left in it, the kernel frees the namespace and its hostname."
run nsm destroy "$ENV"
