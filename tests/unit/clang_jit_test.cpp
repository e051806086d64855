// The Clang + ORC JIT (runtime/llvm/clang_jit): compiled functions give the same results as plain
// loops, in-memory headers, diagnostics with generated.cpp:LINE:COL, libm and host calls,
// concurrent compiles, -inf through the FP flags, and the compile time (printed, not asserted).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include "attncc/error.h"
#include "runtime/llvm/clang_jit.h"
#include "support/random_inputs.h"

namespace attncc {
namespace {

using testing::TestRandom;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

static_assert(!std::is_copy_constructible_v<JitModule>);
static_assert(std::is_nothrow_move_constructible_v<JitModule>);

std::vector<float> random_floats(TestRandom& random, int count) {
  std::vector<float> values;
  for (double value : random.normal(count)) values.push_back(static_cast<float>(value));
  return values;
}

// The message of the Error that `body` throws, with its code checked; "" (and a failure) if none.
template <typename Body>
std::string error_message(Body&& body, ErrorCode expected_code) {
  try {
    body();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), expected_code) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "no attncc::Error thrown";
  return {};
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

constexpr const char* kDotSource = R"(
extern "C" float dot(const float* a, const float* b, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}
)";

TEST(ClangJit, DotProductMatchesPlainLoop) {
  uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  TestRandom random(seed);
  std::unique_ptr<JitModule> module = compile_cpp(kDotSource, {});
  auto* dot = module->lookup_function<float(const float*, const float*, int)>("dot");
  // Odd lengths: the vector loop and its remainder both run.
  for (int n : {0, 1, 7, 1001, 4099}) {
    std::vector<float> a = random_floats(random, n), b = random_floats(random, n);
    double expected = 0.0, magnitude = 0.0;
    for (int i = 0; i < n; ++i) {
      expected += double(a[i]) * double(b[i]);
      magnitude += std::fabs(double(a[i]) * double(b[i]));
    }
    // Reassociation reorders the float sum: bound by n * eps * sum |a_i b_i|.
    EXPECT_NEAR(dot(a.data(), b.data(), n), expected, 1e-6 + n * 1.2e-7 * magnitude) << "n " << n;
  }
}

TEST(ClangJit, InMemoryHeadersAreFound) {
  JitOptions options;
  options.headers["attncc/cpu/params.h"] =
      "#pragma once\nstruct Params { int scale; };\nconstexpr int kOffset = 7;\n";
  options.headers["attncc/common/helper.h"] =
      "#pragma once\n#include \"attncc/cpu/params.h\"\n"
      "inline int apply(const Params& p, int x) { return p.scale * x + kOffset; }\n";
  std::unique_ptr<JitModule> module = compile_cpp(R"(#include "attncc/common/helper.h"
#include <attncc/cpu/params.h>
extern "C" int run(int x) { return apply(Params{3}, x); }
)",
                                                  options);
  EXPECT_EQ(module->lookup_function<int(int)>("run")(5), 22);
  EXPECT_EQ(module->warnings(), "");
}

TEST(ClangJit, CompileErrorNamesGeneratedLineAndColumn) {
  std::string message = error_message(
      [] { compile_cpp("extern \"C\" int f() {\n  int y = 1;\n  return x + y;\n}\n", {}); },
      ErrorCode::kInternal);
  EXPECT_NE(message.find("generated.cpp:3:10: error: use of undeclared identifier 'x'"),
            std::string::npos)
      << message;
  // The offending line is quoted with a caret, and the last line says what failed.
  EXPECT_NE(message.find("return x + y;"), std::string::npos) << message;
  EXPECT_NE(message.find("generated.cpp: error: compilation failed"), std::string::npos)
      << message;

  JitOptions named;
  named.file_name = "mask_3f2a.cpp";
  message = error_message([&] { compile_cpp("int f() { return; }\n", named); },
                          ErrorCode::kInternal);
  EXPECT_NE(message.find("mask_3f2a.cpp:1:11: error:"), std::string::npos) << message;
}

TEST(ClangJit, ErrorsInHeadersNameTheHeader) {
  JitOptions options;
  options.headers["attncc/cpu/broken.h"] = "#pragma once\n\ninline int g() { return undefined_name; }\n";
  std::string message = error_message(
      [&] { compile_cpp("#include \"attncc/cpu/broken.h\"\nint f() { return g(); }\n", options); },
      ErrorCode::kInternal);
  EXPECT_NE(message.find("In file included from generated.cpp:1:"), std::string::npos) << message;
  EXPECT_NE(message.find("attncc/cpu/broken.h:3:25: error: use of undeclared identifier"),
            std::string::npos)
      << message;
}

TEST(ClangJit, SystemHeadersAreNotSearchedButBuiltinHeadersWork) {
  // Hermetic: generated code sees no /usr/include, so what it compiles does not depend on the
  // machine's development packages.
  std::string message = error_message([] { compile_cpp("#include <cmath>\n", {}); },
                                      ErrorCode::kInternal);
  EXPECT_NE(message.find("generated.cpp:1:10: fatal error: 'cmath' file not found"),
            std::string::npos)
      << message;

  // Clang's own headers come from the resource dir (<immintrin.h> without the C library).
  std::unique_ptr<JitModule> module = compile_cpp(R"(#include <immintrin.h>
#include <stdint.h>
#include <stddef.h>
extern "C" float add4(const float* a, const float* b) {
  __m128 sum = _mm_add_ps(_mm_loadu_ps(a), _mm_loadu_ps(b));
  float out[4];
  _mm_storeu_ps(out, sum);
  return out[0] + out[1] + out[2] + out[3] + float(sizeof(int64_t) + sizeof(size_t));
}
)",
                                                  {});
  float a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40};
  EXPECT_EQ(module->lookup_function<float(const float*, const float*)>("add4")(a, b), 126.0f);
}

TEST(ClangJit, LibmAndHostFunctionsAreCallable) {
  static int host_calls = 0;
  JitOptions options;
  options.host_symbols["attncc_test_callback"] = reinterpret_cast<void*>(+[](int x) {
    ++host_calls;
    return 2 * x;
  });
  std::unique_ptr<JitModule> module = compile_cpp(R"(
extern "C" float expf(float);
extern "C" float tanhf(float);
extern "C" void* memset(void*, int, decltype(sizeof(0)));
extern "C" int attncc_test_callback(int);
extern "C" float exp_plus_tanh(float x) { return expf(x) + tanhf(x); }
extern "C" void clear(float* data, int n) { memset(data, 0, n * sizeof(float)); }
extern "C" int call_host(int x) { return attncc_test_callback(x) + 1; }
)",
                                                  options);
  for (float x : {-3.5f, 0.0f, 0.25f, 10.0f}) {
    EXPECT_FLOAT_EQ(module->lookup_function<float(float)>("exp_plus_tanh")(x),
                    std::exp(x) + std::tanh(x));
  }
  std::vector<float> data(37, 1.5f);
  module->lookup_function<void(float*, int)>("clear")(data.data(), 37);
  EXPECT_EQ(data, std::vector<float>(37, 0.0f));
  EXPECT_EQ(module->lookup_function<int(int)>("call_host")(20), 41);
  EXPECT_EQ(host_calls, 1);
}

TEST(ClangJit, UnresolvedFunctionFailsTheCompileNamingIt) {
  std::string message = error_message(
      [] {
        compile_cpp("extern \"C\" float attncc_no_such_function(float);\n"
                    "extern \"C\" float f(float x) { return attncc_no_such_function(x); }\n",
                    {});
      },
      ErrorCode::kInternal);
  EXPECT_NE(message.find("generated.cpp: error: linking failed"), std::string::npos) << message;
  EXPECT_NE(message.find("attncc_no_such_function"), std::string::npos) << message;
}

TEST(ClangJit, LookupOfMissingSymbolThrowsNamingIt) {
  std::unique_ptr<JitModule> module = compile_cpp(kDotSource, {});
  std::string message = error_message([&] { module->lookup("dot_product"); },
                                      ErrorCode::kInternal);
  EXPECT_NE(message.find("'dot_product'"), std::string::npos) << message;
  // C++ names are looked up mangled.
  std::unique_ptr<JitModule> cpp = compile_cpp("int twice(int x) { return 2 * x; }\n", {});
  EXPECT_EQ(cpp->lookup_function<int(int)>("_Z5twicei")(21), 42);
}

TEST(ClangJit, BadOptionsAreInvalidArguments) {
  JitOptions flags;
  flags.extra_flags = {"-fno-such-flag"};
  std::string message = error_message([&] { compile_cpp(kDotSource, flags); },
                                      ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("unknown argument: '-fno-such-flag'"), std::string::npos) << message;
  JitOptions level;
  level.optimization_level = 4;
  error_message([&] { compile_cpp(kDotSource, level); }, ErrorCode::kInvalidArgument);
}

TEST(ClangJit, ExtraFlagsAndWarnings) {
  JitOptions options;
  options.extra_flags = {"-DANSWER=42", "-Wall"};
  options.optimization_level = 0;
  options.native_cpu = false;
  std::unique_ptr<JitModule> module =
      compile_cpp("extern \"C\" int answer() {\n  int unused;\n  return ANSWER;\n}\n", options);
  EXPECT_EQ(module->lookup_function<int()>("answer")(), 42);
  EXPECT_NE(module->warnings().find("generated.cpp:2:7: warning: unused variable 'unused'"),
            std::string::npos)
      << module->warnings();
}

TEST(ClangJit, StaticConstructorsRun) {
  std::unique_ptr<JitModule> module = compile_cpp(R"(
struct Table { int values[4]; Table() { for (int i = 0; i < 4; ++i) values[i] = i * i; } };
Table table;
extern "C" int square(int i) { return table.values[i]; }
)",
                                                  {});
  EXPECT_EQ(module->lookup_function<int(int)>("square")(3), 9);
}

TEST(ClangJit, ConcurrentCompilesBothSucceed) {
  // Each thread compiles and calls its own source; LLVM's one-time set-up races here if wrong.
  auto compile_and_run = [](int factor, int* result) {
    std::string source = "extern \"C\" int scaled(int x) { return x * " + std::to_string(factor) +
                         "; }\n" + kDotSource;
    std::unique_ptr<JitModule> module = compile_cpp(source, {});
    float a[3] = {1, 2, 3};
    *result = module->lookup_function<int(int)>("scaled")(10) +
              int(module->lookup_function<float(const float*, const float*, int)>("dot")(a, a, 3));
  };
  int first = 0, second = 0;
  std::thread one(compile_and_run, 3, &first);
  std::thread two(compile_and_run, 5, &second);
  one.join();
  two.join();
  EXPECT_EQ(first, 30 + 14);
  EXPECT_EQ(second, 50 + 14);
}

TEST(ClangJit, NegativeInfinitySurvivesFastMathFlags) {
  // Masked scores are -inf: max must skip them, exp(-inf - m) must be 0, and a fully masked row
  // keeps m = -inf (its caller then writes 0, not NaN). -ffinite-math-only would break all three.
  std::unique_ptr<JitModule> module = compile_cpp(R"(
extern "C" float expf(float);
extern "C" float row_max(const float* s, int n) {
  float m = -__builtin_inff();
  for (int i = 0; i < n; ++i) m = s[i] > m ? s[i] : m;
  return m;
}
extern "C" float row_sum_exp(const float* s, int n, float m) {
  float l = 0.0f;
  for (int i = 0; i < n; ++i) l += expf(s[i] - m);
  return l;
}
extern "C" int is_neg_inf(float x) { return x == -__builtin_inff(); }
extern "C" float exp_of(float x) { return expf(x); }
)",
                                                  {});
  auto* row_max = module->lookup_function<float(const float*, int)>("row_max");
  auto* row_sum_exp = module->lookup_function<float(const float*, int, float)>("row_sum_exp");
  std::vector<float> row(67, kNegInf);
  row[5] = 1.0f;
  row[40] = 2.0f;
  EXPECT_EQ(row_max(row.data(), 67), 2.0f);
  EXPECT_FLOAT_EQ(row_sum_exp(row.data(), 67, 2.0f), 1.0f + std::exp(-1.0f));
  std::vector<float> masked(67, kNegInf);
  EXPECT_EQ(row_max(masked.data(), 67), kNegInf);
  EXPECT_EQ(module->lookup_function<int(float)>("is_neg_inf")(kNegInf), 1);
  EXPECT_EQ(module->lookup_function<float(float)>("exp_of")(kNegInf), 0.0f);
}

// A generated-like CPU attention forward (~150 lines): query tiles x key tiles, online softmax,
// causal -inf masking. Timed for the report; checked against a plain softmax below.
constexpr const char* kTiledSource = R"(// Tiled attention forward, one head, fp32.
// Declared here, not included: generated code is header-light (libm comes from the process).
extern "C" float expf(float);
extern "C" float logf(float);

namespace {

constexpr int kHeadDim = 64;
constexpr int kBlockM = 16;  // query rows per tile
constexpr int kBlockN = 64;  // keys per tile
constexpr float kNegInf = -__builtin_inff();

struct Problem {
  const float* q;
  const float* k;
  const float* v;
  float* o;
  float* lse;
  int seqlen_q;
  int seqlen_k;
  float scale;
  bool causal;
};

// Bottom-right aligned causal mask: query i sees keys j <= i + (Lk - Lq).
inline bool allowed(const Problem& p, int i, int j) {
  return !p.causal || j <= i + (p.seqlen_k - p.seqlen_q);
}

struct Tile {
  float s[kBlockM][kBlockN];       // scaled scores of the current key tile (-inf: masked)
  float acc[kBlockM][kHeadDim];    // sum over visited keys of exp(s - m) * v
  float m[kBlockM];                // max of s over visited keys; -inf while none is allowed
  float l[kBlockM];                // sum of exp(s - m) over visited keys
};

void start_tile(Tile& t) {
  for (int r = 0; r < kBlockM; ++r) {
    t.m[r] = kNegInf;
    t.l[r] = 0.0f;
    for (int d = 0; d < kHeadDim; ++d) t.acc[r][d] = 0.0f;
  }
}

void compute_scores(Tile& t, const Problem& p, int q0, int k0, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    const float* q = p.q + (q0 + r) * kHeadDim;
    for (int c = 0; c < cols; ++c) {
      const float* k = p.k + (k0 + c) * kHeadDim;
      float dot = 0.0f;
      for (int d = 0; d < kHeadDim; ++d) dot += q[d] * k[d];
      t.s[r][c] = allowed(p, q0 + r, k0 + c) ? dot * p.scale : kNegInf;
    }
    for (int c = cols; c < kBlockN; ++c) t.s[r][c] = kNegInf;
  }
}

// Online softmax: rescales acc and l by exp(m_old - m_new), turns s into exp(s - m_new).
void update_softmax(Tile& t, int rows) {
  for (int r = 0; r < rows; ++r) {
    float tile_max = kNegInf;
    for (int c = 0; c < kBlockN; ++c) tile_max = t.s[r][c] > tile_max ? t.s[r][c] : tile_max;
    float m_new = t.m[r] > tile_max ? t.m[r] : tile_max;
    // A row with nothing allowed yet keeps m = -inf; subtract 0 so exp(-inf - 0) = 0, not NaN.
    float m_safe = m_new == kNegInf ? 0.0f : m_new;
    float correction = expf(t.m[r] - m_safe);
    float sum = 0.0f;
    for (int c = 0; c < kBlockN; ++c) {
      float e = expf(t.s[r][c] - m_safe);
      t.s[r][c] = e;
      sum += e;
    }
    t.l[r] = t.l[r] * correction + sum;
    for (int d = 0; d < kHeadDim; ++d) t.acc[r][d] *= correction;
    t.m[r] = m_new;
  }
}

void accumulate_values(Tile& t, const Problem& p, int k0, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      float weight = t.s[r][c];
      const float* v = p.v + (k0 + c) * kHeadDim;
      for (int d = 0; d < kHeadDim; ++d) t.acc[r][d] += weight * v[d];
    }
  }
}

// Rows that attend nothing get O = 0 and lse = -inf.
void finish_tile(const Tile& t, const Problem& p, int q0, int rows) {
  for (int r = 0; r < rows; ++r) {
    float inverse = t.l[r] > 0.0f ? 1.0f / t.l[r] : 0.0f;
    float* o = p.o + (q0 + r) * kHeadDim;
    for (int d = 0; d < kHeadDim; ++d) o[d] = t.acc[r][d] * inverse;
    p.lse[q0 + r] = t.l[r] > 0.0f ? t.m[r] + logf(t.l[r]) : kNegInf;
  }
}

// Key tiles a query tile must visit under the causal mask: [0, last).
int key_tile_end(const Problem& p, int q0, int rows) {
  if (!p.causal) return (p.seqlen_k + kBlockN - 1) / kBlockN;
  int last_key = q0 + rows - 1 + (p.seqlen_k - p.seqlen_q);
  if (last_key < 0) return 0;
  if (last_key >= p.seqlen_k) last_key = p.seqlen_k - 1;
  return last_key / kBlockN + 1;
}

// 0 if the problem can run, else a code the host turns into a message.
int check_problem(const Problem& p) {
  if (p.q == nullptr || p.k == nullptr || p.v == nullptr) return 1;
  if (p.o == nullptr || p.lse == nullptr) return 2;
  if (p.seqlen_q < 0 || p.seqlen_k < 0) return 3;
  if (!(p.scale > 0.0f)) return 4;
  return 0;
}

}  // namespace

// O = softmax(scale * Q K^T + mask) V and lse per row; Q: Lq x D, K and V: Lk x D, row-major.
extern "C" int attention_forward(const float* q, const float* k, const float* v, float* o,
                                 float* lse, int seqlen_q, int seqlen_k, float scale,
                                 int causal) {
  Problem p{q, k, v, o, lse, seqlen_q, seqlen_k, scale, causal != 0};
  if (int status = check_problem(p)) return status;
  // One tile on the stack: 16 x 64 scores + 16 x 64 accumulators, 8 KiB.
  Tile tile;
  for (int q0 = 0; q0 < seqlen_q; q0 += kBlockM) {
    int rows = seqlen_q - q0 < kBlockM ? seqlen_q - q0 : kBlockM;
    start_tile(tile);
    int tiles = key_tile_end(p, q0, rows);
    for (int kt = 0; kt < tiles; ++kt) {
      int k0 = kt * kBlockN;
      int cols = seqlen_k - k0 < kBlockN ? seqlen_k - k0 : kBlockN;
      compute_scores(tile, p, q0, k0, rows, cols);
      update_softmax(tile, rows);
      accumulate_values(tile, p, k0, rows, cols);
    }
    finish_tile(tile, p, q0, rows);
  }
  return 0;
}
)";

using AttentionForward = int(const float*, const float*, const float*, float*, float*, int, int,
                              float, int);

TEST(ClangJit, TiledAttentionCompileTimeAndResult) {
  // Cold: the first compile of this process pays LLVM's set-up and page faults.
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<JitModule> small = compile_cpp(kDotSource, {});
  double small_cold_ms = milliseconds_since(start);
  start = std::chrono::steady_clock::now();
  std::unique_ptr<JitModule> tiled = compile_cpp(kTiledSource, {});
  double tiled_ms = milliseconds_since(start);
  start = std::chrono::steady_clock::now();
  small = compile_cpp(kDotSource, {});
  double small_warm_ms = milliseconds_since(start);
  JitTimings stages = tiled->timings();
  std::printf("[ timing ] compile_cpp: small function %.1f ms cold, %.1f ms warm; 150-line tiled "
              "attention %.1f ms (front end + optimiser %.1f ms, machine code %.1f ms; -O3, native)\n",
              small_cold_ms, small_warm_ms, tiled_ms, stages.front_end_ms,
              stages.code_generation_ms);
  EXPECT_GT(stages.front_end_ms, 0.0);
  EXPECT_GT(stages.code_generation_ms, 0.0);

  uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  TestRandom random(seed);
  constexpr int kD = 64;
  auto* forward = tiled->lookup_function<AttentionForward>("attention_forward");
  // Lq > Lk under causal leaves the first rows with no key: O = 0, lse = -inf.
  for (auto [lq, lk, causal] : {std::tuple{37, 501, 1}, std::tuple{50, 30, 1},
                                std::tuple{65, 129, 0}}) {
    std::vector<float> q = random_floats(random, lq * kD), k = random_floats(random, lk * kD),
                       v = random_floats(random, lk * kD), o(lq * kD, -1.0f), lse(lq, -1.0f);
    float scale = 1.0f / std::sqrt(float(kD));
    ASSERT_EQ(forward(q.data(), k.data(), v.data(), o.data(), lse.data(), lq, lk, scale, causal),
              0);
    for (int i = 0; i < lq; ++i) {
      std::vector<double> p(lk, 0.0);
      double max = -std::numeric_limits<double>::infinity(), sum = 0.0;
      for (int j = 0; j < lk; ++j) {
        if (causal && j > i + (lk - lq)) continue;
        double s = 0.0;
        for (int d = 0; d < kD; ++d) s += double(q[i * kD + d]) * k[j * kD + d];
        p[j] = s * scale;
        max = std::max(max, p[j]);
      }
      for (int j = 0; j < lk; ++j) {
        bool on = !causal || j <= i + (lk - lq);
        p[j] = on ? std::exp(p[j] - max) : 0.0;
        sum += p[j];
      }
      if (sum == 0.0) {
        EXPECT_EQ(lse[i], kNegInf) << "row " << i;
      } else {
        EXPECT_NEAR(lse[i], max + std::log(sum), 1e-4) << "row " << i;
      }
      for (int d = 0; d < kD; ++d) {
        double expected = 0.0;
        for (int j = 0; j < lk; ++j) expected += p[j] * v[j * kD + d];
        expected = sum > 0.0 ? expected / sum : 0.0;
        ASSERT_NEAR(o[i * kD + d], expected, 1e-4) << "lq " << lq << " lk " << lk << " row " << i
                                                   << " d " << d;
      }
    }
  }
}

TEST(ClangJit, ObjectFileRoundTripsThroughBytes) {
  // The disk cache stores compile_cpp_to_object's bytes; a later process loads them.
  const std::string source =
      "extern \"C\" int triple(int x) { return 3 * x; }\n"
      "extern \"C\" float scaled_exp(float x) { return 2.0f * __builtin_expf(x); }\n";
  std::string object = compile_cpp_to_object(source);
  ASSERT_GT(object.size(), 16u);
  EXPECT_EQ(object.substr(1, 3), "ELF");
  std::unique_ptr<JitModule> first = load_object(object);
  std::unique_ptr<JitModule> second = load_object(std::string(object));  // an independent copy
  EXPECT_EQ(first->lookup_function<int(int)>("triple")(14), 42);
  EXPECT_EQ(second->lookup_function<int(int)>("triple")(-5), -15);
  EXPECT_FLOAT_EQ(second->lookup_function<float(float)>("scaled_exp")(0.0f), 2.0f);
}

TEST(ClangJit, CorruptObjectIsAnErrorNotACrash) {
  std::string object = compile_cpp_to_object("extern \"C\" int one() { return 1; }\n");
  EXPECT_THROW(load_object(object.substr(0, object.size() / 3)), Error);
  EXPECT_THROW(load_object("not an object file"), Error);
}

// Destroyed after main returns, after LLVM's own statics: a crash there fails this process
// (release builds crashed when destruction JIT-compiled the platform's de-initialisation).
std::unique_ptr<JitModule> held_until_exit;

TEST(ClangJit, ModuleHeldInAStaticIsDestroyedSafelyAtExit) {
  held_until_exit = compile_cpp("extern \"C\" int seven() { return 7; }\n");
  EXPECT_EQ(held_until_exit->lookup_function<int()>("seven")(), 7);
}

TEST(ClangJit, VersionAndTargetDescribeThisHost) {
  std::string version = jit_compiler_version();
  EXPECT_EQ(version.rfind("clang 19.", 0), 0u) << version;
  std::string target = jit_target_description();
  EXPECT_NE(target.find("x86_64"), std::string::npos) << target;
  EXPECT_NE(target.find(" features:"), std::string::npos) << target;
  EXPECT_EQ(target, jit_target_description());  // stable: a cache key
}

}  // namespace
}  // namespace attncc
