// Reference argument errors: tensor sizes, GQA ratio, mask parameters, ALiBi slopes, and the
// spec/inputs layout mismatch, each with its message checked.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attncc/error.h"
#include "attncc/mask_expr.h"
#include "attncc/reference.h"
#include "attncc/spec.h"

namespace attncc {
namespace {

// A valid varlen problem: 2 documents (3 and 2 rows), Hq = 4, Hkv = 2, D = 2, Dv = 3.
struct Problem {
  Spec spec;
  ReferenceInputs inputs;
  Problem() {
    spec.layout = Layout::kVarlen;
    spec.dtype = DType::kFloat32;
    spec.head_dim = 2;
    spec.head_dim_v = 3;
    spec.mask_text = "prefix($p[doc])";
    spec.mask = make_primitive("prefix", {make_parameter("p", true)});
    spec.parameters = {{"p", true}};
    inputs.shape.layout = Layout::kVarlen;
    inputs.shape.query_rows = 5;
    inputs.shape.key_rows = 5;
    inputs.shape.cu_seqlens_q = {0, 3, 5};
    inputs.shape.cu_seqlens_k = {0, 3, 5};
    inputs.heads_q = 4;
    inputs.heads_kv = 2;
    inputs.q.assign(5 * 4 * 2, 0.5);
    inputs.k.assign(5 * 2 * 2, 0.25);
    inputs.v.assign(5 * 2 * 3, 1.0);
    inputs.d_o.assign(5 * 4 * 3, 1.0);
    inputs.parameters["p"] = {1, 0};
  }
};

std::string error_of(const Problem& problem, ErrorCode code = ErrorCode::kInvalidArgument) {
  try {
    reference_attention(problem.spec, problem.inputs);
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), code) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "reference_attention accepted invalid arguments";
  return {};
}

void expect_error(const Problem& problem, const std::vector<std::string>& fragments,
                  ErrorCode code = ErrorCode::kInvalidArgument) {
  std::string message = error_of(problem, code);
  for (const std::string& fragment : fragments) {
    EXPECT_NE(message.find(fragment), std::string::npos)
        << "missing '" << fragment << "' in: " << message;
  }
}

TEST(ReferenceErrorsTest, TheBaseProblemIsValid) {
  Problem problem;
  ReferenceOutputs out = reference_attention(problem.spec, problem.inputs);
  EXPECT_EQ(out.o.size(), 5u * 4 * 3);
  EXPECT_EQ(out.lse.size(), 4u * 5);
  EXPECT_EQ(out.dk.size(), 5u * 2 * 2);
}

TEST(ReferenceErrorsTest, TensorSizesNameTheTensorAndItsShape) {
  Problem q;
  q.inputs.q.pop_back();
  expect_error(q, {"q: error: has 39 elements, expected 40", "[Tq, Hq, D] = [5, 4, 2]"});
  Problem k;
  k.inputs.k.push_back(0);
  expect_error(k, {"k: error: has 21 elements, expected 20", "[Tk, Hkv, D] = [5, 2, 2]"});
  Problem v;
  v.spec.head_dim_v = 2;  // the spec's Dv, not the tensor's, decides
  expect_error(v, {"v: error: has 30 elements, expected 20", "[Tk, Hkv, Dv] = [5, 2, 2]"});
  Problem d_o;
  d_o.inputs.d_o.resize(7);
  expect_error(d_o, {"do: error: has 7 elements, expected 60"});
}

TEST(ReferenceErrorsTest, DenseShapesNameBatchAndSequence) {
  Problem problem;
  problem.spec.layout = Layout::kDense;
  problem.spec.mask = make_primitive("causal", {});
  problem.spec.parameters.clear();
  problem.inputs.parameters.clear();
  problem.inputs.shape = LayoutShape{};
  problem.inputs.shape.layout = Layout::kDense;
  problem.inputs.shape.batch = 2;
  problem.inputs.shape.query_rows = 3;
  problem.inputs.shape.key_rows = 2;
  expect_error(problem, {"q: error: has 40 elements, expected 48", "[B, Sq, Hq, D] = [2, 3, 4, 2]"});
}

TEST(ReferenceErrorsTest, HeadsMustDivide) {
  Problem problem;
  problem.inputs.heads_kv = 3;
  expect_error(problem, {"heads_kv: error: is 3, does not divide heads_q = 4",
                         "Hq % Hkv == 0", "use Hkv in {1, 2, 4}"});
  Problem zero;
  zero.inputs.heads_q = 0;
  expect_error(zero, {"heads_q: error: is 0, must be >= 1"});
}

TEST(ReferenceErrorsTest, ParametersMissingWrongLengthOrExtra) {
  Problem missing;
  missing.inputs.parameters.clear();
  expect_error(missing, {"$p: error: mask parameter has no value",
                         "pass parameters[\"p\"] with 2 values (one per document"});
  Problem short_array;
  short_array.inputs.parameters["p"] = {4};
  expect_error(short_array, {"$p: error: has 1 values, must have 2 values"});
  Problem extra;
  extra.inputs.parameters["q"] = {1};
  expect_error(extra, {"$q: error: is not a parameter of the mask", "the mask uses $p[doc]"});
  Problem scalar;
  scalar.spec.mask = make_primitive("prefix", {make_parameter("p", false)});
  scalar.spec.parameters = {{"p", false}};
  expect_error(scalar, {"$p: error: has 2 values, must have 1 value (a scalar)"});
}

TEST(ReferenceErrorsTest, SpecParametersDisagreeingWithTheMask) {
  Problem problem;
  problem.spec.parameters = {{"p", false}};
  expect_error(problem, {"$p: error: is declared scalar in the spec but used per document"},
               ErrorCode::kInvalidSpec);
}

TEST(ReferenceErrorsTest, AlibiSlopesIffAlibi) {
  Problem missing;
  missing.spec.alibi = true;
  expect_error(missing, {"alibi_slopes: error: has 0 values, must have Hq = 4"});
  Problem unexpected;
  unexpected.inputs.alibi_slopes = {0.1, 0.1, 0.1, 0.1};
  expect_error(unexpected, {"alibi_slopes: error: given, but the spec has no alibi"});
}

TEST(ReferenceErrorsTest, LayoutMismatchAndLayoutErrorsPassThrough) {
  Problem mismatch;
  mismatch.spec.layout = Layout::kDocPacked;
  expect_error(mismatch, {"layout: error: inputs are varlen, the spec is doc_packed"});
  Problem offsets;
  offsets.inputs.shape.cu_seqlens_k = {0, 4, 3};
  expect_error(offsets, {"cu_seqlens_k[2]: error: is 3, less than cu_seqlens_k[1] = 4"});
}

TEST(ReferenceErrorsTest, UnusableSpec) {
  Problem no_mask;
  no_mask.spec.mask = nullptr;
  expect_error(no_mask, {"mask: error: the spec has no mask tree"}, ErrorCode::kInvalidSpec);
  Problem softcap;
  softcap.spec.softcap = -1.0;
  expect_error(softcap, {"softcap: error: is -1, must be >= 0"}, ErrorCode::kInvalidSpec);
}

}  // namespace
}  // namespace attncc
