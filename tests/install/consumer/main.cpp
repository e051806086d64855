#include <attncc/attncc.h>

#include <cstdio>

int main() {
  // Prefix-LM over packed documents: bidirectional over each document's first
  // $prefix_len[doc] tokens, causal after.
  attncc::Spec spec = attncc::Spec::parse(R"j({"layout": "varlen", "dtype": "bf16",
      "head_dim": 128, "mask": "prefix($prefix_len[doc])", "backward": true})j");
  std::printf("hash %s\n", attncc::spec_hash(spec).c_str());

  // The mask as intervals of attended keys per query row i.
  attncc::IntervalForm form = attncc::build_interval_form(spec.mask);
  std::printf("%s\n", attncc::print_interval_form(form).c_str());

  // Key tiles (64 wide) that query rows 0..63 of a 1000-token document with prefix 300 visit.
  attncc::MaskContext document{1000, 1000, {{"prefix_len", 300}}};
  for (attncc::TileRange range : attncc::key_tiles_to_visit(form, document, 0, 63, 64)) {
    std::printf("key tiles %lld..%lld\n", (long long)range.first, (long long)range.last);
  }
  return 0;
}
