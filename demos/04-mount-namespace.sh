#!/usr/bin/env bash
# 04 - Mount namespace: a tmpfs mounted inside hides a host directory only inside; then
# mount propagation: which mounts cross the boundary, and in which direction.
#
# A mount namespace is a private copy of the mount table. Mounting or unmounting in it
# changes nothing outside - unless the mount is shared, in which case mount events
# propagate between peers (mount_namespaces(7)).
# Runs as root or as a user (inside a user namespace of your own); the propagation part
# needs root, because it mounts on the host.
# Usage: 04-mount-namespace.sh [--yes]      (NSM_DEMO_YES=1 works too)

. "$(dirname "$0")/lib.sh"
demo_init "$@"

ENV=demo-mnt-$$
SLAVE_ENV=demo-mnt-slave-$$
TYPES=mnt
is_root || TYPES=user,mnt

DIR=$(mktemp -d "/tmp/nsm-demo-$$-mnt.XXXXXX")
at_exit "rm -rf '$DIR'"
echo "written on the host" > "$DIR/host-file.txt"

if is_root; then
  # A shared mount of our own, for the propagation part. Made before the environments, so
  # that their copies of the mount table have it.
  SHARED=$DIR/shared
  mkdir -p "$SHARED"
  at_exit "umount -R '$SHARED'"
  mount --bind "$SHARED" "$SHARED" && mount --make-shared "$SHARED" || die "could not make $SHARED a shared mount"
  mkdir "$SHARED/from-host" "$SHARED/from-inside"
fi

step "A directory on the host"
run ls -l "$DIR"

step "An environment with its own mount namespace"
say "nsm create copies the host's mount table into a new mount namespace. By default it makes every mount in it private (--propagation private, as unshare(1) does), so nothing done inside leaks out."
create_env "$ENV" -t "$TYPES"
pause

step "Mount a tmpfs over the directory, inside only"
run nsm exec "$ENV" -- mount -t tmpfs -o size=1m demo-tmpfs "$DIR"
run nsm exec "$ENV" -- sh -c "echo 'written inside' > '$DIR/inside.txt'"
say "Inside, the directory is the empty tmpfs (plus the file just written):"
run nsm exec "$ENV" -- ls -l "$DIR"
run nsm exec "$ENV" -- findmnt -o TARGET,SOURCE,FSTYPE "$DIR"
say "Outside, the host's file is where it was, and there is no such mount:"
run ls -l "$DIR"
run_may_fail findmnt -o TARGET,SOURCE,FSTYPE "$DIR"
[ -e "$DIR/host-file.txt" ] && [ ! -e "$DIR/inside.txt" ] || die "the mount inside is visible outside"
result "the tmpfs hides $DIR inside the environment only"
say "The mount outlived the nsm exec that made it: it belongs to the mount namespace, which the holder keeps alive. It goes when the namespace does."
pause

if ! is_root; then
  step "Propagation (explained; showing it needs root)"
  say "A mount can be private (no events in or out), shared (events go both ways between its peers), or slave (events come in from the master, none go out). On systemd hosts / is shared, which is why unshare(1) and nsm create make the new namespace's mounts private by default; --propagation slave would let the host's later mounts show up inside, --propagation shared would also let mounts made inside appear on the host. Run this demo as root to see it."
  exit 0
fi

step "Propagation: private, slave, shared"
say "Each mount has a propagation type: private (no mount events in or out), shared (events go both ways between its peers) or slave (events come in from its master, none go out). This host's root mount is:"
run findmnt -o TARGET,PROPAGATION /
say "On systemd hosts it is 'shared', which is why unshare(1) and nsm create make a new namespace's mounts private by default. The demo made $SHARED a shared mount on the host before creating the environment; now a second environment, with --propagation slave:"
create_env "$SLAVE_ENV" -t mnt --propagation slave
run nsm exec "$SLAVE_ENV" -- findmnt -o TARGET,PROPAGATION "$SHARED"
run nsm exec "$ENV" -- findmnt -o TARGET,PROPAGATION "$SHARED"
pause

step "A mount made on the host reaches the slave, not the private one"
run mount -t tmpfs -o size=1m demo-from-host "$SHARED/from-host"
run nsm exec "$SLAVE_ENV" -- findmnt -n -o TARGET,SOURCE "$SHARED/from-host"
run_may_fail nsm exec "$ENV" -- findmnt -n -o TARGET,SOURCE "$SHARED/from-host"
nsm exec "$SLAVE_ENV" -- findmnt -n "$SHARED/from-host" > /dev/null || die "the host's mount did not propagate to the slave"
! nsm exec "$ENV" -- findmnt -n "$SHARED/from-host" > /dev/null || die "the host's mount propagated into a private namespace"
result "host -> slave: propagated; host -> private: not"

step "A mount made in the slave does not reach the host"
run nsm exec "$SLAVE_ENV" -- mount -t tmpfs -o size=1m demo-from-inside "$SHARED/from-inside"
run nsm exec "$SLAVE_ENV" -- findmnt -n -o TARGET,SOURCE "$SHARED/from-inside"
run_may_fail findmnt -n -o TARGET,SOURCE "$SHARED/from-inside"
! findmnt -n "$SHARED/from-inside" > /dev/null || die "a mount made in a slave reached the host"
result "slave -> host: not propagated"
say "With --propagation shared it would have: that is how a mount made inside a container can appear on the host, and why private is the default."

step "Clean up"
run umount "$SHARED/from-host"
run nsm destroy "$ENV" "$SLAVE_ENV"
