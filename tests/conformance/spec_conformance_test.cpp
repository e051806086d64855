// Spec-driven conformance through the testgen path: for every spec in specs/, conformance vectors
// are written to disk by the library behind `attncc testgen` (runtime/io/test_vectors.h), read
// back, and the CPU backend's outputs are compared with the expected outputs stored in them (not
// with a fresh reference call). Adding a spec file adds tests. Also: same seed, same bytes.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attncc/runtime.h"
#include "runtime/io/safetensors.h"
#include "runtime/io/test_vectors.h"
#include "support/attention_call.h"
#include "support/files.h"
#include "support/random_inputs.h"

namespace attncc {
namespace {

// Small head dim and few cases: the suite's cost is one JIT compile per distinct spec and dtype,
// and five cases cover the five themes of the generator (with GQA 1, 4, 2 and 8).
// ATTNCC_CONFORMANCE_CASES=N runs N cases per spec instead (a longer local soak).
constexpr int kHeadDim = 32;

int64_t case_count() {
  const char* value = std::getenv("ATTNCC_CONFORMANCE_CASES");
  return value != nullptr && std::atoll(value) > 0 ? std::atoll(value) : 5;
}

struct Variant {
  std::string spec_path;
  DType dtype;
};

// fp32 (tight tolerances) for every spec; a few specs also in 16-bit, so vectors stored in bf16
// and fp16 are read back and run too (each more dtype costs a JIT compile per spec, and
// tests/unit/cpu_backend_test.cpp already runs every spec in bf16 against the reference).
std::vector<Variant> all_variants() {
  std::vector<Variant> variants;
  for (const std::string& path : testing::list_files(testing::source_path("specs"), "json")) {
    variants.push_back({path, DType::kFloat32});
  }
  for (const auto& [name, dtype] : {std::pair{"prefix_lm_docs.json", DType::kBFloat16},
                                    std::pair{"doc_packed_sentinels.json", DType::kBFloat16},
                                    std::pair{"causal_br_prefill.json", DType::kFloat16}}) {
    variants.push_back({testing::source_path(std::string("specs/") + name), dtype});
  }
  return variants;
}

std::string variant_label(const Variant& variant) {
  std::string name = std::filesystem::path(variant.spec_path).stem().string() + "_" +
                     std::string(dtype_name(variant.dtype));
  for (char& character : name) {
    if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
  }
  return name;
}

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  return variant_label(info.param);
}

Runtime& test_runtime() {
  static Runtime runtime([] {
    RuntimeOptions options;
    options.backend = Backend::kCpu;
    options.disk_cache = false;
    return options;
  }());
  return runtime;
}

// A fresh directory under the test temp dir, removed when the test ends.
class ScratchDirectory {
 public:
  explicit ScratchDirectory(const std::string& name)
      : path_(::testing::TempDir() + "attncc_" + name + "_" + std::to_string(getpid())) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(testing::read_text_file(path));
}

std::vector<int64_t> shape_of(const nlohmann::json& array) {
  return array.get<std::vector<int64_t>>();
}

HostTensor poisoned(ScalarType dtype, const std::vector<int64_t>& shape) {
  HostTensor tensor(dtype, shape);
  std::vector<double> nan(static_cast<size_t>(tensor.numel()),
                          std::numeric_limits<double>::quiet_NaN());
  return from_double(dtype, shape, nan);
}

// Key rows (of the K/V tensors, batch-major) that some query of their document attends, from the
// mask predicate and the manifest's documents and parameters: dK/dV must be exactly 0 elsewhere.
std::vector<bool> attended_key_rows(const Spec& spec, const nlohmann::json& entry,
                                    int64_t key_rows_per_batch, int64_t total_key_rows) {
  std::vector<bool> attended(static_cast<size_t>(total_key_rows), false);
  for (const nlohmann::json& document : entry["documents"]) {
    MaskContext context{document["query_length"].get<int64_t>(),
                        document["key_length"].get<int64_t>(),
                        {}};
    for (const auto& [name, per_document] : spec.parameters) {
      const auto values = entry["parameters"][name].get<std::vector<int64_t>>();
      context.parameters[name] =
          per_document ? values[document["index"].get<size_t>()] : values[0];
    }
    const int64_t base = document["batch"].get<int64_t>() * key_rows_per_batch +
                         document["key_start"].get<int64_t>();
    for (int64_t j = 0; j < context.key_length; ++j) {
      bool reached = false;
      for (int64_t i = 0; i < context.query_length && !reached; ++i) {
        reached = evaluate(*spec.mask, context, i, j);
      }
      attended[static_cast<size_t>(base + j)] = reached;
    }
  }
  return attended;
}

void expect_zero_rows(const std::string& what, const std::vector<double>& values,
                      const std::vector<bool>& attended) {
  if (attended.empty()) return;
  const size_t width = values.size() / attended.size();
  int64_t nonzero = 0;
  for (size_t index = 0; index < values.size(); ++index) {
    if (!attended[index / width] && values[index] != 0.0) ++nonzero;
  }
  EXPECT_EQ(nonzero, 0) << what << ": elements of keys nobody attends are not exactly 0";
}

// Runs one case file: inputs straight from the file's tensors, outputs poisoned, compared with
// the file's expected tensors at the manifest's tolerances.
void check_case_file(const Kernel& kernel, const std::string& path, const nlohmann::json& entry,
                     const nlohmann::json& tolerances) {
  const Spec& spec = kernel.spec();
  const SafetensorsFile file = read_safetensors(path);
  const ScalarType element = testing::element_type(spec.dtype);
  for (const char* input : {"q", "k", "v"}) {
    ASSERT_EQ(file.entry(input).dtype, element) << input << " is not stored in the spec's dtype";
  }
  AttentionArguments arguments;
  arguments.q = file.view("q");
  arguments.k = file.view("k");
  arguments.v = file.view("v");
  auto optional = [&](const char* name) {
    return file.contains(name) ? file.view(name) : TensorRef{};
  };
  arguments.seqlens_q = optional("seqlens_q");
  arguments.seqlens_k = optional("seqlens_k");
  arguments.cu_seqlens_q = optional("cu_seqlens_q");
  arguments.cu_seqlens_k = optional("cu_seqlens_k");
  arguments.cu_seqlens_q_padded = optional("cu_seqlens_q_padded");
  arguments.cu_seqlens_k_padded = optional("cu_seqlens_k_padded");
  arguments.cu_seq = optional("cu_seq");
  arguments.alibi_slopes = optional("alibi_slopes");
  for (const auto& [name, per_document] : spec.parameters) {
    arguments.parameters[name] = file.view(name);
  }
  HostTensor o = poisoned(element, file.entry("o").shape);
  HostTensor lse = poisoned(ScalarType::kFloat32, file.entry("lse").shape);
  arguments.o = o.ref();
  arguments.lse = lse.ref();
  kernel.forward(arguments);
  auto tolerance = [&](const char* output) { return tolerances[output].get<double>(); };
  testing::expect_close("o", to_double(o.ref()), to_double(file.view("o")), tolerance("o"));
  testing::expect_close("lse", to_double(lse.ref()), to_double(file.view("lse")),
                        tolerance("lse"));
  if (!spec.backward) return;

  HostTensor dq = poisoned(element, file.entry("dq").shape);
  HostTensor dk = poisoned(element, file.entry("dk").shape);
  HostTensor dv = poisoned(element, file.entry("dv").shape);
  arguments.d_o = file.view("do");
  arguments.dq = dq.ref();
  arguments.dk = dk.ref();
  arguments.dv = dv.ref();
  kernel.backward(arguments);
  const std::vector<double> actual_dk = to_double(dk.ref());
  const std::vector<double> actual_dv = to_double(dv.ref());
  testing::expect_close("dq", to_double(dq.ref()), to_double(file.view("dq")), tolerance("dq"));
  testing::expect_close("dk", actual_dk, to_double(file.view("dk")), tolerance("dk"));
  testing::expect_close("dv", actual_dv, to_double(file.view("dv")), tolerance("dv"));
  const std::vector<int64_t>& k_shape = file.entry("k").shape;
  const int64_t key_rows = spec.layout == Layout::kVarlen ? k_shape[0] : k_shape[1];
  const int64_t total_rows = spec.layout == Layout::kVarlen ? k_shape[0] : k_shape[0] * k_shape[1];
  const std::vector<bool> attended = attended_key_rows(spec, entry, key_rows, total_rows);
  expect_zero_rows("dk", actual_dk, attended);
  expect_zero_rows("dv", actual_dv, attended);
}

class SpecConformance : public ::testing::TestWithParam<Variant> {};

TEST_P(SpecConformance, CpuBackendMatchesTheStoredVectors) {
  const Variant& variant = GetParam();
  const std::string file_name = std::filesystem::path(variant.spec_path).filename().string();
  const Spec spec =
      spec_with_dtype_and_head_dim(Spec::load(variant.spec_path), variant.dtype, kHeadDim);
  const uint64_t seed = testing::test_seed();
  const int64_t cases = case_count();
  SCOPED_TRACE(testing::seed_trace(seed) + "; regenerate with: attncc testgen " +
               variant.spec_path + " --cases " + std::to_string(cases) + " --seed " +
               std::to_string(seed) + " --out DIR --dtype " +
               std::string(dtype_name(variant.dtype)) + " --head-dim " +
               std::to_string(kHeadDim));
  ScratchDirectory directory(variant_label(variant));
  TestVectorOptions options;
  options.seed = seed;
  write_test_vectors(spec, file_name, options, cases, directory.path());

  const nlohmann::json manifest = read_json(directory.path() + "/manifest.json");
  EXPECT_EQ(manifest["spec_hash"].get<std::string>(), spec_hash(spec));
  EXPECT_EQ(manifest["spec_canonical_text"].get<std::string>(), spec.canonical_text());
  EXPECT_EQ(manifest["spec_file"].get<std::string>(), file_name);
  ASSERT_EQ(manifest["cases"].size(), static_cast<size_t>(cases));
  const nlohmann::json& tolerances = manifest["tolerances"][std::string(dtype_name(spec.dtype))];

  Kernel kernel = test_runtime().get(spec);
  for (const nlohmann::json& entry : manifest["cases"]) {
    std::string stresses;
    for (const auto& stress : entry["stresses"]) stresses += "; " + stress.get<std::string>();
    SCOPED_TRACE(entry["file"].get<std::string>() + " (" + entry["theme"].get<std::string>() +
                 ")" + stresses);
    check_case_file(kernel, directory.path() + "/" + entry["file"].get<std::string>(), entry,
                    tolerances);
  }
}

INSTANTIATE_TEST_SUITE_P(Specs, SpecConformance, ::testing::ValuesIn(all_variants()),
                         variant_name);

std::string file_bytes(const std::string& path) { return testing::read_text_file(path); }

// The promise of `attncc testgen`: same spec, options and seed give the same bytes; another seed
// gives other cases; case k does not depend on how many cases are written; stale cases of a
// longer earlier run are removed.
TEST(Testgen, SameSeedGivesTheSameBytes) {
  for (const char* name : {"prefix_lm_docs.json", "doc_packed_sentinels.json", "softcap_alibi.json",
                           "causal.json"}) {
    SCOPED_TRACE(name);
    const Spec spec = spec_with_dtype_and_head_dim(
        Spec::load(testing::source_path(std::string("specs/") + name)), DType::kBFloat16, 32);
    ScratchDirectory first("bytes_first"), second("bytes_second"), other("bytes_other");
    TestVectorOptions options;
    options.seed = 12345;
    write_test_vectors(spec, name, options, 6, first.path());
    write_test_vectors(spec, name, options, 3, second.path());
    write_test_vectors(spec, name, options, 6, second.path());  // rewrite over a shorter run
    options.seed = 12346;
    write_test_vectors(spec, name, options, 6, other.path());
    for (int64_t index = 0; index < 6; ++index) {
      std::string file = "/";  // appended: GCC 12 warns on "/" + string (-Wrestrict, PR 105329)
      file += test_vector_file_name(index);
      const std::string bytes = file_bytes(first.path() + file);
      ASSERT_FALSE(bytes.empty());
      EXPECT_EQ(bytes, file_bytes(second.path() + file)) << file;
      EXPECT_NE(bytes, file_bytes(other.path() + file)) << file << " did not change with the seed";
    }
    EXPECT_EQ(file_bytes(first.path() + "/manifest.json"),
              file_bytes(second.path() + "/manifest.json"));

    write_test_vectors(spec, name, options, 2, other.path());
    EXPECT_TRUE(std::filesystem::exists(other.path() + "/" + test_vector_file_name(1)));
    EXPECT_FALSE(std::filesystem::exists(other.path() + "/" + test_vector_file_name(2)))
        << "a case file of the earlier, longer run was left behind";
  }
}

// Every case file holds exactly the DESIGN §6 names a spec reads plus the expected outputs, in
// the dtypes the manifest promises, and the manifest describes each file.
TEST(Testgen, CaseFilesHoldTheDesignNames) {
  const Spec spec = spec_with_dtype_and_head_dim(
      Spec::load(testing::source_path("specs/softcap_alibi.json")), DType::kFloat16, 32);
  ScratchDirectory directory("names");
  write_test_vectors(spec, "softcap_alibi.json", {}, 2, directory.path());
  const nlohmann::json manifest = read_json(directory.path() + "/manifest.json");
  for (const nlohmann::json& entry : manifest["cases"]) {
    const SafetensorsFile file =
        read_safetensors(directory.path() + "/" + entry["file"].get<std::string>());
    std::vector<std::string> names = file.names();
    std::sort(names.begin(), names.end());
    std::vector<std::string> expected = {"alibi_slopes", "cu_seqlens_k", "cu_seqlens_q", "dk",
                                         "do",           "dq",           "dv",           "k",
                                         "lse",          "o",            "q",            "v"};
    if (file.contains("cu_seqlens_q_padded")) expected.push_back("cu_seqlens_q_padded");
    if (file.contains("cu_seqlens_k_padded")) expected.push_back("cu_seqlens_k_padded");
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(names, expected);
    for (const char* input : {"q", "k", "v", "do"}) {
      EXPECT_EQ(file.entry(input).dtype, ScalarType::kFloat16) << input;
    }
    for (const char* output : {"o", "lse", "dq", "dk", "dv", "alibi_slopes"}) {
      EXPECT_EQ(file.entry(output).dtype, ScalarType::kFloat32) << output;
    }
    EXPECT_EQ(file.entry("cu_seqlens_q").dtype, ScalarType::kInt32);
    for (const char* tensor : {"q", "k", "v", "o", "lse"}) {
      EXPECT_EQ(file.entry(tensor).shape, shape_of(entry["shapes"][tensor])) << tensor;
    }
    EXPECT_EQ(to_int64(file.view("cu_seqlens_q"), "cu_seqlens_q"),
              entry["layout"]["cu_seqlens_q"].get<std::vector<int64_t>>());
    EXPECT_EQ(file.metadata().at("hash"), spec_hash(spec));
    EXPECT_EQ(file.metadata().at("spec"), spec.canonical_text());
    EXPECT_FALSE(entry["stresses"].empty());
  }
  EXPECT_DOUBLE_EQ(manifest["tolerances"]["fp32"]["o"].get<double>(), 1e-5);
  EXPECT_DOUBLE_EQ(manifest["tolerances"]["fp16"]["dk"].get<double>(), 2e-2);
}

// GQA 8:1 from specs/gqa_8to1.json with every case forced to 8 query heads over 1 kv head: eight
// query heads share one K/V head and its dK/dV sums their contributions.
TEST(Testgen, Gqa8To1SpecWithEightQueryHeadsOverOneKvHead) {
  const Spec spec = spec_with_dtype_and_head_dim(
      Spec::load(testing::source_path("specs/gqa_8to1.json")), DType::kFloat32, kHeadDim);
  ScratchDirectory directory("gqa");
  TestVectorOptions options;
  options.seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(options.seed));
  options.heads_q = 8;
  options.heads_kv = 1;
  write_test_vectors(spec, "gqa_8to1.json", options, case_count(), directory.path());
  const nlohmann::json manifest = read_json(directory.path() + "/manifest.json");
  Kernel kernel = test_runtime().get(spec);
  for (const nlohmann::json& entry : manifest["cases"]) {
    SCOPED_TRACE(entry["file"].get<std::string>());
    ASSERT_EQ(entry["heads_q"].get<int64_t>(), 8);
    ASSERT_EQ(entry["heads_kv"].get<int64_t>(), 1);
    check_case_file(kernel, directory.path() + "/" + entry["file"].get<std::string>(), entry,
                    manifest["tolerances"]["fp32"]);
  }
}

}  // namespace
}  // namespace attncc
