// A downstream program built against an installed attncc: parses a spec and prints its hash.
#include <attncc/attncc.h>

#include <cstdio>

int main() {
  attncc::Spec spec = attncc::Spec::parse(
      R"({"layout": "varlen", "dtype": "bf16", "head_dim": 128, "mask": "causal_br"})");
  std::string hash = attncc::spec_hash(spec);
  std::printf("installed attncc works: %s\n", hash.c_str());
  return hash.size() == 32 ? 0 : 1;
}
