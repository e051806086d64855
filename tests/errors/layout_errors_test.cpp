// Layout validation errors (DESIGN §1): every offset rule violated once, and the message checked
// for the array, the index, the value and the fix.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attncc/error.h"
#include "attncc/layout.h"

namespace attncc {
namespace {

// The full message of the error enumerate_documents throws; fails if it throws nothing or
// something other than a kInvalidArgument user error.
std::string error_of(const LayoutShape& shape) {
  try {
    enumerate_documents(shape);
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "enumerate_documents accepted an invalid layout";
  return {};
}

void expect_error(const LayoutShape& shape, const std::vector<std::string>& fragments) {
  std::string message = error_of(shape);
  for (const std::string& fragment : fragments) {
    EXPECT_NE(message.find(fragment), std::string::npos)
        << "missing '" << fragment << "' in: " << message;
  }
}

LayoutShape varlen(std::vector<int64_t> cu_q, std::vector<int64_t> cu_k, int64_t tq, int64_t tk) {
  LayoutShape shape;
  shape.layout = Layout::kVarlen;
  shape.cu_seqlens_q = std::move(cu_q);
  shape.cu_seqlens_k = std::move(cu_k);
  shape.query_rows = tq;
  shape.key_rows = tk;
  return shape;
}

LayoutShape doc_packed(int64_t batch, int64_t s, int64_t max_docs, std::vector<int64_t> cu_seq) {
  LayoutShape shape;
  shape.layout = Layout::kDocPacked;
  shape.batch = batch;
  shape.query_rows = s;
  shape.key_rows = s;
  shape.max_docs = max_docs;
  shape.cu_seq = std::move(cu_seq);
  return shape;
}

LayoutShape dense(int64_t batch, int64_t sq, int64_t sk) {
  LayoutShape shape;
  shape.layout = Layout::kDense;
  shape.batch = batch;
  shape.query_rows = sq;
  shape.key_rows = sk;
  return shape;
}

TEST(LayoutErrorsTest, CuSeqlensStartingAtAnOffsetSuggestsPaddedOffsetsOrNarrowing) {
  // Offsets into a larger K/V (a 7-row past slot) passed where lengths belong.
  EXPECT_EQ(error_of(varlen({0, 3, 5}, {7, 10, 12}, 5, 12)),
            "cu_seqlens_k[0]: error: is 7, must be 0; cu_seqlens_k holds lengths: pass cu - cu[0] "
            "and put the offsets in cu_seqlens_k_padded, or narrow K/V by 7 rows");
  expect_error(varlen({2, 3}, {0, 1}, 5, 5),
               {"cu_seqlens_q[0]: error: is 2, must be 0", "cu_seqlens_q_padded",
                "narrow Q by 2 rows"});
}

TEST(LayoutErrorsTest, CuSeqlensNegativeStart) {
  expect_error(varlen({-1, 3}, {0, 3}, 5, 5),
               {"cu_seqlens_q[0]: error: is -1, must be 0", "prefix sum starting at 0"});
}

TEST(LayoutErrorsTest, CuSeqlensDecreasingMidArrayNamesTheIndex) {
  expect_error(varlen({0, 2, 4, 6}, {0, 4, 3, 6}, 6, 6),
               {"cu_seqlens_k[2]: error: is 3, less than cu_seqlens_k[1] = 4",
                "document 1 would have length -1", "non-decreasing"});
}

TEST(LayoutErrorsTest, CuSeqlensLastPastTheTokenCount) {
  expect_error(varlen({0, 4, 9}, {0, 4, 8}, 8, 8),
               {"cu_seqlens_q[2]: error: is 9, more than the 8 rows of Q", "at least 9 rows"});
  expect_error(varlen({0, 4, 8}, {0, 4, 9}, 8, 8),
               {"cu_seqlens_k[2]: error: is 9, more than the 8 rows of K/V"});
}

TEST(LayoutErrorsTest, CuSeqlensEmpty) {
  expect_error(varlen({}, {0}, 1, 1), {"cu_seqlens_q: error: is empty", "N + 1 >= 1"});
  expect_error(varlen({0}, {}, 1, 1), {"cu_seqlens_k: error: is empty"});
}

TEST(LayoutErrorsTest, CuSeqlensQueryAndKeyDocumentCountsDiffer) {
  expect_error(varlen({0, 1, 2}, {0, 2}, 4, 4),
               {"cu_seqlens_k: error: has 2 entries, but cu_seqlens_q has 3",
                "same N documents"});
}

TEST(LayoutErrorsTest, PaddedWrongSize) {
  LayoutShape shape = varlen({0, 1, 2}, {0, 1, 2}, 4, 4);
  shape.cu_seqlens_k_padded = {0, 2};
  expect_error(shape, {"cu_seqlens_k_padded: error: has 2 entries, must have 3 like cu_seqlens_k"});
}

TEST(LayoutErrorsTest, PaddedNegativeStart) {
  LayoutShape shape = varlen({0, 1, 2}, {0, 1, 2}, 4, 4);
  shape.cu_seqlens_q_padded = {0, -1, 3};
  expect_error(shape, {"cu_seqlens_q_padded[1]: error: is -1, must be >= 0"});
}

TEST(LayoutErrorsTest, PaddedDocumentsOverlap) {
  // Doc 1 (length 3) starts at 4 and runs to 7, past doc 2's start at 6.
  LayoutShape shape = varlen({0, 2, 5, 6}, {0, 2, 5, 6}, 10, 10);
  shape.cu_seqlens_k_padded = {0, 4, 6, 8};
  expect_error(shape, {"cu_seqlens_k_padded[2]: error: is 6, but document 1 (length 3) occupies "
                       "rows [4, 7)",
                       "in order and not overlap"});
}

TEST(LayoutErrorsTest, PaddedDocumentsOutOfOrder) {
  LayoutShape shape = varlen({0, 2, 4}, {0, 2, 4}, 10, 10);
  shape.cu_seqlens_q_padded = {6, 0, 10};
  expect_error(shape, {"cu_seqlens_q_padded[1]: error: is 0, but document 0 (length 2) occupies "
                       "rows [6, 8)"});
}

TEST(LayoutErrorsTest, PaddedDocumentOutsideTheTensor) {
  LayoutShape shape = varlen({0, 2, 5}, {0, 2, 5}, 10, 8);
  shape.cu_seqlens_k_padded = {0, 6, 9};
  expect_error(shape, {"cu_seqlens_k_padded[1]: error: is 6: document 1 (length 3) occupies rows "
                       "[6, 9), past the 8 rows of K/V"});
}

TEST(LayoutErrorsTest, PaddedEndPastTheTensor) {
  LayoutShape shape = varlen({0, 2}, {0, 2}, 10, 8);
  shape.cu_seqlens_k_padded = {0, 9};
  expect_error(shape, {"cu_seqlens_k_padded[1]: error: is 9, past the 8 rows of K/V"});
}

TEST(LayoutErrorsTest, VarlenBatchMustBeOne) {
  LayoutShape shape = varlen({0, 1}, {0, 1}, 1, 1);
  shape.batch = 2;
  expect_error(shape, {"batch: error: is 2, must be 1 for varlen"});
}

TEST(LayoutErrorsTest, NegativeSizes) {
  expect_error(varlen({0}, {0}, -1, 0), {"query_rows: error: is -1, must be >= 0"});
  expect_error(dense(2, 4, -3), {"key_rows: error: is -3, must be >= 0"});
  expect_error(dense(-1, 4, 4), {"batch: error: is -1, must be >= 0"});
  expect_error(doc_packed(1, 4, -1, {}), {"max_docs: error: is -1, must be >= 0"});
}

TEST(LayoutErrorsTest, DenseSeqlensWrongSize) {
  LayoutShape shape = dense(3, 4, 4);
  shape.seqlens_k = {4, 4};
  expect_error(shape, {"seqlens_k: error: has 2 entries, must have B = 3"});
}

TEST(LayoutErrorsTest, DenseSeqlensOutOfRange) {
  LayoutShape shape = dense(2, 4, 6);
  shape.seqlens_q = {4, 5};
  expect_error(shape, {"seqlens_q[1]: error: is 5, must be in [0, 4] (Sq = 4)"});
  shape.seqlens_q = {};
  shape.seqlens_k = {-1, 6};
  expect_error(shape, {"seqlens_k[0]: error: is -1, must be in [0, 6] (Sk = 6)"});
}

TEST(LayoutErrorsTest, DocPackedRowNotStartingAtZero) {
  expect_error(doc_packed(2, 6, 2, {0, 3, 6, 1, 4, 6}),
               {"cu_seq[1][0]: error: is 1, must be 0", "starting at 0"});
}

TEST(LayoutErrorsTest, DocPackedDecreasing) {
  expect_error(doc_packed(1, 6, 3, {0, 4, 2, 6}),
               {"cu_seq[0][2]: error: is 2, less than cu_seq[0][1] = 4", "non-decreasing"});
}

TEST(LayoutErrorsTest, DocPackedEntryPastS) {
  expect_error(doc_packed(2, 6, 2, {0, 6, 6, 0, 3, 7}),
               {"cu_seq[1][2]: error: is 7, more than S = 6"});
}

TEST(LayoutErrorsTest, DocPackedWrongSize) {
  expect_error(doc_packed(2, 6, 3, {0, 6, 6, 6, 0, 6, 6}),
               {"cu_seq: error: has 7 entries, must have B * (max_docs + 1) = 2 * 4 = 8"});
}

TEST(LayoutErrorsTest, DocPackedKeyRowsDiffer) {
  LayoutShape shape = doc_packed(1, 6, 1, {0, 6});
  shape.key_rows = 8;
  expect_error(shape, {"key_rows: error: is 8, must equal query_rows = 6", "self-attention"});
}

TEST(LayoutErrorsTest, ArraysOfAnotherLayoutAreRejected) {
  LayoutShape shape = dense(1, 4, 4);
  shape.cu_seqlens_q = {0, 4};
  expect_error(shape, {"cu_seqlens_q: error: has 2 entries, but the layout is dense"});
  LayoutShape packed = doc_packed(1, 4, 1, {0, 4});
  packed.seqlens_k = {4};
  expect_error(packed, {"seqlens_k: error: has 1 entries, but the layout is doc_packed"});
}

}  // namespace
}  // namespace attncc
