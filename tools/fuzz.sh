#!/usr/bin/env bash
# Builds spec_fuzzer (tests/fuzz/, clang-19, libFuzzer + ASan + UBSan, front end only) in
# build-fuzz/ and fuzzes Spec::parse, parse_mask, canonicalise and print_mask for SECONDS
# (default 60). Usage: tools/fuzz.sh [SECONDS] [extra libFuzzer flags]
# Seeds: specs/*.json, specs/errors/*.json, the mask strings inside them, tests/fuzz/regressions/
# and the corpus kept in build-fuzz/corpus/ from earlier runs. A crash (sanitizer report or a
# violated property) is copied to tests/fuzz/regressions/ and the exit code is 1: commit the
# file with the fix, and ctest's fuzz.regressions runs it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
build_dir=${ATTNCC_FUZZ_BUILD_DIR:-build-fuzz}
regressions=tests/fuzz/regressions

# Own cache variables: a build dir configured with another compiler is reconfigured.
cmake -S tests/fuzz -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++-19 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build_dir" -j"$(nproc 2>/dev/null || echo 2)"

# Seed corpus, regenerated each run (not committed): whole specs and their mask strings.
seeds=$build_dir/seeds
rm -rf "$seeds"
mkdir -p "$seeds" "$build_dir/corpus" "$build_dir/artifacts"
cp specs/*.json "$seeds/"
for spec in specs/errors/*.json; do cp "$spec" "$seeds/error_$(basename "$spec")"; done
python3 - "$seeds" specs/*.json specs/errors/*.json <<'PY'
import json, re, sys
seeds = sys.argv[1]
for path in sys.argv[2:]:
    text = open(path, encoding="utf-8", errors="replace").read()
    try:
        mask = json.loads(text).get("mask")
    except (ValueError, AttributeError):  # specs/errors/bad_json.json and friends
        found = re.search(r'"mask"\s*:\s*"([^"]*)"', text)
        mask = found.group(1) if found else None
    if isinstance(mask, str):
        name = path.replace("/", "_").removesuffix(".json")
        open(f"{seeds}/mask_{name}.txt", "w", encoding="utf-8").write(mask)
PY

# libFuzzer writes new inputs to the first directory (the kept corpus) and reads all of them.
# -max_len keeps mutations short (specs and masks are): the regressions directory holds inputs of
# 100 KB that ctest replays whole, and would otherwise raise libFuzzer's default limit to theirs.
status=0
"$build_dir/spec_fuzzer" -max_total_time="$seconds" -timeout=10 -max_len=8192 -print_final_stats=1 \
  -dict=tests/fuzz/spec.dict -artifact_prefix="$build_dir/artifacts/" "$@" \
  "$build_dir/corpus" "$seeds" "$regressions" > "$build_dir/fuzz.log" 2>&1 || status=$?
# On success only the summary (the full log, recommended dictionary included, stays in fuzz.log).
if ((status == 0)); then
  grep -E '^(Done|stat::)' "$build_dir/fuzz.log" || true
else
  tail -n 60 "$build_dir/fuzz.log"
fi

found=0
for artifact in "$build_dir"/artifacts/*; do
  [[ -f $artifact ]] || continue
  cp "$artifact" "$regressions/"
  echo "fuzz: kept $regressions/$(basename "$artifact")"
  rm "$artifact"
  found=$((found + 1))
done
if ((found > 0 || status != 0)); then
  echo "fuzz: FAILED ($found new regression input(s)); fix the bug, then commit the input(s)"
  exit 1
fi
echo "fuzz: no crash in ${seconds}s"
