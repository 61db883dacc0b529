#!/bin/bash
# Idle nsm serve of two builds side by side, so that both read the same churn of the host:
# CPU (serve, its live children and reaped ones, from /proc/PID/stat) over SECS seconds and
# RSS (VmRSS, VmHWM) of each, and of its helper children.
#
#   flock /tmp/nsm-hostwide.lock bench/serve-ab.sh DIR_A DIR_B [SECS]
#
# DIR_A and DIR_B are built checkouts of nsm (each with bin/nsm and dist/). Root gives the
# monitor's event mode. Ports 19601/19602 on loopback.
set -eu
A=$1 B=$2 SECS=${3:-60}
state=$(mktemp -d /tmp/nsm-serve-ab-XXXX)
trap 'rm -rf "$state"' EXIT
start() { (cd "$1" && exec env -u NODE_EXTRA_CA_CERTS NSM_STATE_DIR="$state" node bin/nsm serve --listen "127.0.0.1:$2" >/dev/null 2>&1) & echo $!; }
stat_ticks() { awk '{ sub(/^.*\) /, ""); split($0, f, " "); print f[12] + f[13] + f[14] + f[15] }' "/proc/$1/stat" 2>/dev/null || echo 0; }
ticks() {
	local t; t=$(stat_ticks "$1")
	for k in $(cat "/proc/$1/task/$1/children"); do t=$((t + $(stat_ticks "$k"))); done
	echo "$t"
}
kids_rss() {
	local s=0
	for k in $(cat "/proc/$1/task/$1/children"); do s=$((s + $(awk '/^VmRSS/{print $2}' "/proc/$k/status" 2>/dev/null || echo 0))); done
	echo "$s"
}
a=$(start "$A" 19601); b=$(start "$B" 19602)
trap 'kill -TERM $a $b 2>/dev/null; wait; rm -rf "$state"' EXIT
for p in 19601 19602; do for i in $(seq 150); do curl -sf "localhost:$p/healthz" >/dev/null && break; sleep 0.2; done; done
sleep 3
echo "loadavg at start: $(cat /proc/loadavg)"
ta=$(ticks "$a"); tb=$(ticks "$b"); t0=$(date +%s.%N)
sleep "$SECS"
ta2=$(ticks "$a"); tb2=$(ticks "$b"); t1=$(date +%s.%N)
el=$(echo "$t1 - $t0" | bc)
for x in "$A $a $ta $ta2" "$B $b $tb $tb2"; do
	set -- $x
	echo "$1: CPU $(echo "scale=2; ($4 - $3) / $el" | bc)% of one core; RSS $(awk '/^VmRSS/{print $2}' "/proc/$2/status") KiB (peak $(awk '/^VmHWM/{print $2}' "/proc/$2/status")), helper children $(kids_rss "$2") KiB"
done
echo "loadavg at end: $(cat /proc/loadavg); ${el} s"
