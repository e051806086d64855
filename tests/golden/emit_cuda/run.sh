# FileCheck golden of the generated CUDA translation unit: `bash run.sh ATTNCC FILECHECK
# SOURCE_DIR CHECK_FILE`. The check file names its spec on a `SPEC: path` line (relative to the
# source tree); `attncc emit SPEC --target cuda` must match its CHECK lines.
set -euo pipefail
attncc=$1; filecheck=$2; source_dir=$3; check_file=$4
spec=$(sed -n 's|^// SPEC: *||p' "$check_file")
[[ -n $spec ]] || { echo "FAIL: $check_file has no '// SPEC: path' line"; exit 1; }
"$attncc" emit "$source_dir/$spec" --target cuda | "$filecheck" --match-full-lines=false "$check_file"
