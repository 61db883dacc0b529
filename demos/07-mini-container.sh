#!/usr/bin/env bash
# 07 - A mini container: all eight namespaces, a root filesystem of its own, a /proc of its
# own, pivot_root, commands run inside without a shell, and teardown.
#
# A container is namespaces plus a root filesystem. This demo builds the smallest useful
# rootfs, a statically linked busybox (Debian's busybox-static), or a minimal Debian made by
# debootstrap, and switches an nsm environment's mount namespace over to it.
# Needs: a static busybox (as root with --yes the demo installs busybox-static itself), or
# debootstrap as root (NSM_DEMO_ROOTFS=debootstrap chooses it; it downloads a minimal Debian).
# Runs as root or as a user (then inside a user namespace of your own).
# Usage: 07-mini-container.sh [--yes]      (NSM_DEMO_YES=1 works too)

. "$(dirname "$0")/lib.sh"
demo_init "$@"

ENV=demo-ctr-$$
ROOTFS_KIND=${NSM_DEMO_ROOTFS:-busybox}

# A busybox that needs no shared library: it must run where there is no /lib.
static_busybox() {
  local b
  for b in /bin/busybox /usr/bin/busybox "$(command -v busybox 2> /dev/null)"; do
    [ -n "$b" ] && [ -x "$b" ] || continue
    if LC_ALL=C ldd "$b" 2>&1 | grep -qE 'not a dynamic executable|statically linked'; then
      echo "$b"
      return 0
    fi
  done
  return 1
}

NEEDS="a statically linked busybox (Debian: apt-get install busybox-static), or debootstrap run as root"
case "$ROOTFS_KIND" in
  busybox)
    BUSYBOX=$(static_busybox) || {
      if is_root && command -v apt-get > /dev/null && confirm "   no static busybox: install the Debian package busybox-static with apt-get?"; then
        say "installing busybox-static (apt-get install -y busybox-static)"
        { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static > /dev/null 2>&1 ||
          { apt-get update -qq > /dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static > /dev/null 2>&1; }; } ||
          skip "needs $NEEDS; apt-get install -y busybox-static failed"
        BUSYBOX=$(static_busybox) || skip "busybox-static installed, but no static busybox found"
      elif command -v debootstrap > /dev/null && is_root; then
        ROOTFS_KIND=debootstrap
      else
        skip "needs $NEEDS. As root, run with --yes to let the demo install busybox-static"
      fi
    }
    ;;
  debootstrap)
    command -v debootstrap > /dev/null || skip "NSM_DEMO_ROOTFS=debootstrap, but debootstrap is not installed (apt-get install debootstrap)"
    is_root || skip "debootstrap needs root"
    ;;
  *) die "NSM_DEMO_ROOTFS must be busybox or debootstrap, not $ROOTFS_KIND" ;;
esac

# In the container, commands are busybox applets (or the debootstrapped Debian's own).
if [ "$ROOTFS_KIND" = busybox ]; then BB=(/bin/busybox); else BB=(); fi
inside() { run nsm exec "$ENV" -- "${BB[@]}" "$@"; }

ROOTFS=$(mktemp -d "/tmp/nsm-demo-$$-rootfs.XXXXXX")
at_exit "rm -rf '$ROOTFS'"

step "A root filesystem"
if [ "$ROOTFS_KIND" = busybox ]; then
  say "One statically linked busybox ($BUSYBOX: ls, ps, mount, hostname ... in one binary, no shared libraries) and the directories the kernel's filesystems are mounted on."
  mkdir -p "$ROOTFS"/{bin,proc,sys,dev,tmp,etc,root,.oldroot}
  cp "$BUSYBOX" "$ROOTFS/bin/busybox"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$ROOTFS/etc/passwd"
  echo 'root:x:0:' > "$ROOTFS/etc/group"
else
  say "A minimal Debian, made by debootstrap --variant=minbase (a few minutes; it downloads packages)."
  run debootstrap --variant=minbase stable "$ROOTFS" > "$ROOTFS.log" 2>&1 || { tail -5 "$ROOTFS.log"; rm -f "$ROOTFS.log"; skip "debootstrap failed (network?)"; }
  rm -f "$ROOTFS.log"
  mkdir -p "$ROOTFS/.oldroot"
fi
run ls -a "$ROOTFS"
run du -sh "$ROOTFS"
pause

step "Every namespace"
say "-t all: user, cgroup, ipc, uts, net, pid, mnt and time. nsm mounts a fresh /proc (new pid + mnt) and /sys (new net + mnt) for the holder."
create_env "$ENV" -t all --hostname mini
say "The namespaces are new, but the files are still the host's: a new mount namespace starts as a copy of its parent's mount table."
run nsm exec "$ENV" -- ls /
pause

step "Switch the root: pivot_root, one shell-free nsm exec at a time"
say "Every step is its own nsm exec, and every step stays done: mounts belong to the mount namespace, which the holder keeps alive between commands."
say "1. pivot_root needs the new root to be a mount point: bind-mount the directory on itself."
run nsm exec "$ENV" -- mount --bind "$ROOTFS" "$ROOTFS"
say "2. pivot_root(2) makes it the root mount of the namespace and moves the old root to /.oldroot. It also moves the root directory of every process whose root was the old one - the holder's too."
run nsm exec --wd "$ROOTFS" "$ENV" -- pivot_root . .oldroot
say "From now on nsm exec lands in the new root: setns(2) into a mount namespace sets the caller's root to the namespace's root mount, which is now the rootfs. So the commands below are the rootfs's own, not the host's."
say "3. A /proc for the container's pid namespace. Mount it before dropping the old root: in a user namespace the kernel allows a new procfs only while a complete one is visible (the holder's, under /.oldroot/proc)."
inside mount -t proc proc /proc
say "4. Detach the host's tree: nothing of it is reachable from inside any more."
inside umount -l /.oldroot
pause

step "Inside the container"
inside ls -a /
inside ls -a /.oldroot
inside hostname
inside id
[ "$ROOTFS_KIND" = busybox ] && inside ps
inside cat /proc/self/mountinfo
if [ "$ROOTFS_KIND" = busybox ] && nsm exec "$ENV" -- "${BB[@]}" ls /usr > /dev/null 2>&1; then
  die "the host's /usr is visible inside"
fi
MOUNTS=$(nsm exec "$ENV" -- "${BB[@]}" cat /proc/self/mountinfo | wc -l)
result "the container sees its own root filesystem and $MOUNTS mounts; the host's tree is gone"
pause

step "Seen from outside"
say "Every namespace of the holder differs from the host's:"
run nsm inspect "$ENV"
pause

step "Teardown"
say "nsm destroy stops the holder (PID 1 of the container); its namespaces, and with the mount namespace every mount made in it, are freed. The rootfs directory is the demo's to delete."
run nsm destroy "$ENV"
run rm -rf "$ROOTFS"
