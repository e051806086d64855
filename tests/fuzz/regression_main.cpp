// ctest driver for the fuzz regressions: feeds every file of the given directories (or single
// files) to the fuzz entry, built with the normal compiler and no libFuzzer. Exit 1 if any fails.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/spec_fuzz_target.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  std::vector<fs::path> inputs;
  for (int index = 1; index < argc; ++index) {
    fs::path path = argv[index];
    if (fs::is_directory(path)) {
      for (const fs::directory_entry& entry : fs::directory_iterator(path)) {
        // README.md documents the directory; it is not an input.
        if (entry.is_regular_file() && entry.path().filename() != "README.md") {
          inputs.push_back(entry.path());
        }
      }
    } else if (fs::is_regular_file(path)) {
      inputs.push_back(path);
    } else {
      std::fprintf(stderr, "fuzz_regressions: %s: error: no such file or directory\n", argv[index]);
      return 1;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  int failed = 0;
  for (const fs::path& path : inputs) {
    std::ifstream stream(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << stream.rdbuf();
    std::string failures = attncc::fuzz::check_input(bytes.str());
    if (!failures.empty()) {
      ++failed;
      std::printf("FAIL %s\n%s", path.c_str(), failures.c_str());
    }
  }
  std::printf("%zu inputs, %d failed\n", inputs.size(), failed);
  return failed == 0 && !inputs.empty() ? 0 : 1;
}
