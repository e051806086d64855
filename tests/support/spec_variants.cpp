// Spec variants of the conformance suites (see spec_variants.h).
#include "support/spec_variants.h"

#include <cctype>
#include <filesystem>

#include "support/files.h"

namespace attncc::testing {

std::vector<SpecVariant> spec_variants(std::initializer_list<DType> dtypes,
                                       std::initializer_list<int> head_dims) {
  std::vector<SpecVariant> variants;
  for (const std::string& path : list_files(source_path("specs"), "json")) {
    for (DType dtype : dtypes) {
      for (int head_dim : head_dims) variants.push_back({path, dtype, head_dim});
    }
  }
  return variants;
}

std::string spec_variant_name(const ::testing::TestParamInfo<SpecVariant>& info) {
  std::string name = std::filesystem::path(info.param.spec_path).stem().string() + "_" +
                     std::string(dtype_name(info.param.dtype)) + "_d" +
                     std::to_string(info.param.head_dim);
  for (char& character : name) {
    if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
  }
  return name;
}

void PrintTo(const SpecVariant& variant, std::ostream* out) {
  *out << std::filesystem::path(variant.spec_path).filename().string() << " "
       << dtype_name(variant.dtype) << " d" << variant.head_dim;
}

}  // namespace attncc::testing
