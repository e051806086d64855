# Shared helpers of the CLI tests: each test is `bash test.sh ATTNCC SOURCE_DIR WORK_DIR`.
set -uo pipefail
attncc=$1; source_dir=$2; work=$3
rm -rf "$work"; mkdir -p "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect_exit CODE -- command...: runs the command, keeps stdout/stderr in $out/$err.
expect_exit() {
  local code=$1; shift; shift
  "$@" > "$work/out" 2> "$work/err"; local actual=$?
  out=$(cat "$work/out"); err=$(cat "$work/err")
  [[ $actual == "$code" ]] || fail "'$*' exited $actual, expected $code; stderr: $err"
}
expect_contains() {  # expect_contains TEXT NEEDLE WHAT
  [[ $1 == *"$2"* ]] || fail "$3: '$2' not found in: $1"
}
finish() { if ((failures)); then echo "$failures failure(s)"; exit 1; fi; echo "all checks passed"; }
