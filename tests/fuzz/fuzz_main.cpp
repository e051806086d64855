// libFuzzer entry of spec_fuzzer: a property failure aborts, so libFuzzer saves the input as a
// crash artifact (tools/fuzz.sh then copies it to tests/fuzz/regressions/).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/spec_fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string failures =
      attncc::fuzz::check_input({reinterpret_cast<const char*>(data), size});
  if (!failures.empty()) {
    std::fprintf(stderr, "spec_fuzzer: property violated:\n%s", failures.c_str());
    std::abort();
  }
  return 0;
}
