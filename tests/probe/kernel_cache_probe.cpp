// A second process for the cache tests: gets the CPU kernel of one spec through a fresh Runtime
// (disk cache from $ATTNCC_CACHE_DIR) and prints what it took: "compiles=N disk_hits=M".
#include <attncc/attncc.h>
#include <attncc/runtime.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: kernel_cache_probe SPEC.json\n");
    return 2;
  }
  try {
    attncc::RuntimeOptions options;
    options.backend = attncc::Backend::kCpu;
    attncc::Runtime runtime(options);
    runtime.get(attncc::Spec::load(argv[1]));
    attncc::RuntimeStats stats = runtime.stats();
    std::printf("compiles=%lld disk_hits=%lld\n", static_cast<long long>(stats.compiles),
                static_cast<long long>(stats.disk_hits));
    return 0;
  } catch (const attncc::Error& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
}
