# attncc explain: causal at 4096 x 4096 with 128 x 64 tiles. Worked by hand: 32 query tiles x
# 64 key tiles = 2048; query tile q visits key tiles 0..2q+1, 2q of them FULL, so 992 FULL,
# 64 PARTIAL, 992 skipped (48.4%). The SVG must be a well-formed picture with those tiles.
source "$(dirname "$0")/lib.sh"
expect_exit 0 -- "$attncc" explain "$source_dir/specs/causal.json" --lq 4096 --lk 4096 \
  --tile 128x64 --svg "$work/causal.svg"
expect_contains "$out" "total       2048 tiles: 992 FULL, 64 PARTIAL, 992 skipped" "tile counts"
expect_contains "$out" "48.4% of dense tiles skipped" "work saved"
expect_contains "$out" "attended    50.0% of dense pairs" "attended pairs"
python3 - "$work/causal.svg" <<'PY' || fail "svg is not a picture of the tile map"
import sys, xml.etree.ElementTree as tree
root = tree.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
fills = [rect.get("fill") for rect in root.iter(ns + "rect")]
assert fills.count("#1f4e79") == 992 + 1, fills.count("#1f4e79")   # FULL tiles + legend
assert fills.count("#f4a261") == 64 + 1, fills.count("#f4a261")    # PARTIAL tiles + legend
PY

# Several documents, a per-document parameter, bottom-right alignment with Lq > Lk.
expect_exit 0 -- "$attncc" explain "$source_dir/specs/prefix_lm_docs.json" --docs 300,0,1000 \
  --param prefix_len=50,0,1000 --tile 64x64 --svg "$work/prefix.svg"
expect_contains "$out" "document 1  Lq 0, Lk 0: 0 FULL, 0 PARTIAL, 0 skipped of 0" "empty document"
# prefix = length is fully bidirectional: all 16 x 16 tiles FULL, the ragged edge tiles too.
expect_contains "$out" "document 2  Lq 1000, Lk 1000: 256 FULL, 0 PARTIAL, 0 skipped of 256" "no causal part"
python3 -c "import sys, xml.etree.ElementTree as t; t.parse(sys.argv[1])" "$work/prefix.svg" \
  || fail "prefix svg not well-formed (mask text must be escaped)"
expect_exit 1 -- "$attncc" explain "$source_dir/specs/prefix_lm_docs.json" --docs 10,20
expect_contains "$err" "the mask needs parameter \$prefix_len; pass --param prefix_len=VALUE" "missing parameter"
expect_exit 1 -- "$attncc" explain "$source_dir/specs/prefix_lm_docs.json" --docs 10,20 --param prefix_len=1,2,3
expect_contains "$err" "has 3 values for 2 documents" "parameter count"
finish
