#!/bin/bash
# The original tool's approach, for the record: diff-walk /proc once a second and report
# network namespaces that appeared or disappeared since the previous walk.
# Output: "<epoch ms> NEW|GONE <inode>" per change.
interval=${1:-1}
declare -A prev=()
first=1
while :; do
  declare -A cur=()
  for l in /proc/[0-9]*/ns/net; do
    t=$(readlink "$l" 2>/dev/null) || continue
    ino=${t#net:[}; ino=${ino%]}
    cur[$ino]=1
  done
  now=$(date +%s%3N)
  if [ -z "$first" ]; then
    for i in "${!cur[@]}"; do [ -n "${prev[$i]}" ] || echo "$now NEW $i"; done
    for i in "${!prev[@]}"; do [ -n "${cur[$i]}" ] || echo "$now GONE $i"; done
  fi
  first=
  unset prev; declare -A prev=()
  for i in "${!cur[@]}"; do prev[$i]=1; done
  unset cur
  sleep "$interval"
done
