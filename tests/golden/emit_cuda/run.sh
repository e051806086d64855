# FileCheck golden of the generated CUDA translation unit: `bash run.sh ATTNCC FILECHECK
# SOURCE_DIR CHECK_FILE`. The check file names its spec on a `SPEC: path` line (relative to the
# source tree) and may give more emit options on an `EMIT_ARGS: ...` line; `attncc emit SPEC
# --target cuda [EMIT_ARGS]` must match its CHECK lines.
set -euo pipefail
attncc=$1; filecheck=$2; source_dir=$3; check_file=$4
spec=$(sed -n 's|^// SPEC: *||p' "$check_file")
[[ -n $spec ]] || { echo "FAIL: $check_file has no '// SPEC: path' line"; exit 1; }
emit_args=$(sed -n 's|^// EMIT_ARGS: *||p' "$check_file")
# shellcheck disable=SC2086  # the options are words
"$attncc" emit "$source_dir/$spec" --target cuda $emit_args |
  "$filecheck" --match-full-lines=false "$check_file"
