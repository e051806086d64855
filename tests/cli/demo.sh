# attncc demo (the README's main job) compiles, runs and checks a doc-packed prefix-LM kernel.
source "$(dirname "$0")/lib.sh"
expect_exit 0 -- env ATTNCC_NUM_THREADS=2 "$attncc" demo --seqlen 64 --heads 2:1 --seed 7
expect_contains "$out" "demo passed" "demo result"
expect_contains "$out" "from the disk cache" "cache hit reported"
[[ $out != *"MISSED"* ]] || fail "the second runtime compiled again instead of loading from disk"
[[ $(grep -c "  ok$" <<< "$out") == 5 ]] || fail "not all five outputs checked ok: $out"
expect_exit 1 -- "$attncc" demo --heads 8
expect_contains "$err" "--heads: error: expected HQ:HKV" "bad --heads"
finish
