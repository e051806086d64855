# The README's C++ example is the install test's consumer program, which ctest compiles and runs
# against an installed attncc: keep the two identical.
source "$(dirname "$0")/lib.sh"
python3 - "$source_dir/README.md" "$source_dir/tests/install/consumer/main.cpp" <<'PY' || fail "README example differs from tests/install/consumer/main.cpp"
import re, sys
readme = open(sys.argv[1]).read()
block = re.search(r"```cpp\n(.*?)```", readme, re.S)
assert block, "no ```cpp block in README.md"
assert block.group(1) == open(sys.argv[2]).read(), "example differs"
PY
finish
