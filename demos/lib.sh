# Shared by the demos: how to find nsm, how to print a step, how to clean up, how to skip.
# Sourced, not run. Every demo starts with:  . "$(dirname "$0")/lib.sh"; demo_init "$@"

set -u

# Exit status of a demo that cannot run on this host (as automake's test harness uses it):
# the reason is printed first, on stdout and stderr. test/integration/demos.test.ts reports it as skipped.
DEMO_SKIP=77

DEMO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEMO_NAME=$(basename "$0" .sh)

# nsm itself: $NSM_BIN, else this checkout's bin/nsm, else the one on PATH.
if [ -n "${NSM_BIN:-}" ]; then
  :
elif [ -x "$DEMO_DIR/../bin/nsm" ]; then
  NSM_BIN=$(cd "$DEMO_DIR/../bin" && pwd)/nsm
else
  NSM_BIN=$(command -v nsm || true)
fi
export NSM_BIN

# The demos call "nsm ..." as you would type it.
nsm() { "$NSM_BIN" "$@"; }

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  _B=$'\e[1m' _D=$'\e[2m' _C=$'\e[36m' _Y=$'\e[33m' _R=$'\e[0m'
else
  _B='' _D='' _C='' _Y='' _R=''
fi

# --- printing -----------------------------------------------------------------------------

# A heading for a step.
step() { printf '\n%s== %s%s\n' "$_B" "$*" "$_R"; }
# Explanation: what is shown and why.
say() { printf '%s\n' "$*" | fold -s -w 96 | sed 's/ *$//; s/^/   /'; }
# Show a command as you would type it, then run it. Its status is returned, never fatal.
run() {
  printf '%s$ %s%s\n' "$_C" "$(_shown "$@")" "$_R"
  "$@"
}
# The words of a command as you would type them: quoted when they need it.
_shown() {
  local out='' w
  for w in "$@"; do
    case "$w" in
      *[[:space:]\'\"\$\`\\\|\&\;\<\>\(\)\*\?]* | '')
        if [[ $w != *\'* ]]; then w="'$w'"; else w="\"${w//\"/\\\"}\""; fi ;;
    esac
    out+="${out:+ }$w"
  done
  printf '%s' "$out"
}
# A pipeline, shown and run as written (nsm in it is the function above).
run_sh() {
  printf '%s$ %s%s\n' "$_C" "$1" "$_R"
  eval "$1"
}
# Like run, but a failure is the lesson: its error message in line, then its status.
run_may_fail() {
  local rc=0
  printf '%s$ %s%s\n' "$_C" "$(_shown "$@")" "$_R"
  "$@" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || printf '%s(exit status %d)%s\n' "$_D" "$rc" "$_R"
  return 0
}
# Lines shown verbatim (commands not run, a file's text), indented.
show() { printf '%s\n' "$@" | sed 's/^/     /'; }
# A conclusion the test can look for.
result() { printf '%s=> %s%s\n' "$_Y" "$*" "$_R"; }
die() { printf 'demo %s failed: %s\n' "$DEMO_NAME" "$*" >&2; exit 1; }

# Cannot run here: say why (on stdout for the reader, on stderr for logs) and exit 77.
skip() {
  printf '\nSKIPPED: %s\n' "$*"
  printf 'demo %s skipped: %s\n' "$DEMO_NAME" "$*" >&2
  exit "$DEMO_SKIP"
}

# Between steps: wait for Enter on a terminal, unless --yes / NSM_DEMO_YES=1.
pause() {
  if [ "$DEMO_YES" != 1 ] && [ -t 0 ]; then
    printf '%s   [Enter to continue, Ctrl-C to stop]%s' "$_D" "$_R"
    read -r _ || true
  fi
}

# Ask before changing the host (installing a package). --yes answers yes; no terminal and
# no --yes answers no.
confirm() {
  [ "$DEMO_YES" = 1 ] && return 0
  [ -t 0 ] || return 1
  local answer
  printf '%s [y/N] ' "$*"
  read -r answer || return 1
  case "$answer" in y | Y | yes) return 0 ;; *) return 1 ;; esac
}

# --- requirements -------------------------------------------------------------------------

is_root() { [ "$(id -u)" -eq 0 ]; }
require_root() { is_root || skip "$1 needs root ($2); run it with sudo"; }

# need_cmd CMD PACKAGE: make sure CMD exists; as root, offer to apt-get install PACKAGE.
need_cmd() {
  local cmd=$1 pkg=$2
  command -v "$cmd" > /dev/null 2>&1 && return 0
  if is_root && command -v apt-get > /dev/null 2>&1; then
    if confirm "   $cmd is missing: install the Debian package $pkg with apt-get?"; then
      say "installing $pkg (apt-get install -y $pkg)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" > /dev/null 2>&1 ||
        { apt-get update -qq > /dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" > /dev/null 2>&1; } ||
        skip "needs $cmd; apt-get install -y $pkg failed"
      command -v "$cmd" > /dev/null 2>&1 && return 0
    fi
    skip "needs $cmd (Debian package $pkg): install it, or run the demo with --yes to let it install it"
  fi
  skip "needs $cmd (Debian package $pkg): ask an administrator to install it"
}

# --- clean-up -----------------------------------------------------------------------------

# Commands to run on exit, last registered first. Each is a string for eval, so it can name
# things created later (an environment, a link, a directory).
_CLEANUP=()
at_exit() { _CLEANUP+=("$*"); }

_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  local i
  if [ "${#_CLEANUP[@]}" -gt 0 ]; then
    [ "$rc" -eq 0 ] || [ "$rc" -eq "$DEMO_SKIP" ] || printf '\n%scleaning up after exit status %d%s\n' "$_D" "$rc" "$_R"
    for ((i = ${#_CLEANUP[@]} - 1; i >= 0; i--)); do
      eval "${_CLEANUP[$i]}" > /dev/null 2>&1
    done
  fi
  exit "$rc"
}

# --- start --------------------------------------------------------------------------------

demo_init() {
  DEMO_YES=0
  [ "${NSM_DEMO_YES:-}" = 1 ] && DEMO_YES=1
  local arg
  for arg in "$@"; do
    case "$arg" in
      -y | --yes) DEMO_YES=1 ;;
      -h | --help)
        sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
      *) printf 'usage: %s [--yes]\n' "$0" >&2; exit 2 ;;
    esac
  done
  export NSM_DEMO_YES=$DEMO_YES

  # Clean up on every way out: normal end, error, Ctrl-C, kill. INT and TERM exit through
  # the EXIT trap with the status a shell gives a signal's victim.
  trap _cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  [ -n "$NSM_BIN" ] || skip "nsm not found: run npm install in the checkout, or put nsm on PATH"
  [ "$(uname -s)" = Linux ] || skip "namespaces are a Linux feature"

  # A private state directory, so a demo never meets (or lists) anyone else's environments
  # and runs beside the tests. Kept when the caller chose one.
  if [ -z "${NSM_STATE_DIR:-}" ]; then
    NSM_STATE_DIR=$(mktemp -d "/tmp/nsm-demo-$$-state.XXXXXX")
    at_exit "rm -rf '$NSM_STATE_DIR'"
  fi
  export NSM_STATE_DIR
}

# Create an environment and destroy it on exit. Prints nsm's own output.
create_env() {
  local name=$1
  shift
  at_exit "'$NSM_BIN' destroy --force --timeout 1 '$name'"
  run nsm create "$name" "$@" || die "nsm create $name failed"
}

# jsq EXPR: evaluate a JavaScript expression over the JSON document on stdin (as `d`) and
# print the result, one line per array element. node is there wherever nsm is; jq may not be.
jsq() {
  node -e '
    let s = "";
    process.stdin.on("data", (b) => (s += b)).on("end", () => {
      const d = JSON.parse(s);
      const v = (0, eval)("(d) => (" + process.argv[1] + ")")(d);
      for (const x of [].concat(v ?? [])) console.log(typeof x === "object" ? JSON.stringify(x) : String(x));
    });' "$1"
}

# The holder PID of an environment (its PID 1 as the host numbers it).
holder_pid() { nsm inspect "$1" --json | jsq d.pid; }
