// Layouts (compiler/layout/): hand-worked document lists for each layout, zero-length sentinels,
// padded offsets with gaps and a past slot, and the row -> document -> row round trip.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "attncc/layout.h"

namespace attncc {
namespace {

Document doc(int64_t index, int64_t batch, int64_t query_start, int64_t query_length,
             int64_t key_start, int64_t key_length) {
  return Document{index, batch, query_start, query_length, key_start, key_length};
}

void expect_documents(const std::vector<Document>& actual, const std::vector<Document>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t n = 0; n < expected.size(); ++n) {
    SCOPED_TRACE("document " + std::to_string(n));
    EXPECT_EQ(actual[n].index, expected[n].index);
    EXPECT_EQ(actual[n].batch, expected[n].batch);
    EXPECT_EQ(actual[n].query_start, expected[n].query_start);
    EXPECT_EQ(actual[n].query_length, expected[n].query_length);
    EXPECT_EQ(actual[n].key_start, expected[n].key_start);
    EXPECT_EQ(actual[n].key_length, expected[n].key_length);
  }
}

enum class Side { kQuery, kKey };

// Document.index owning row `row` of batch row `batch` on one side, or -1 (padding, gap, past
// slot); fails the test if two documents claim the row.
int64_t owner_of(const std::vector<Document>& documents, Side side, int64_t batch, int64_t row) {
  int64_t owner = -1;
  for (const Document& d : documents) {
    int64_t start = side == Side::kQuery ? d.query_start : d.key_start;
    int64_t length = side == Side::kQuery ? d.query_length : d.key_length;
    if (d.batch != batch || row < start || row >= start + length) continue;
    EXPECT_EQ(owner, -1) << "row " << row << " of batch " << batch << " is in two documents";
    owner = d.index;
  }
  return owner;
}

// Row -> document -> offset -> row for every row of one side of the tensor, and the owner of
// every row against a hand-written map (expected_owner[b][row], -1 = no document).
void expect_round_trip(const std::vector<Document>& documents, Side side, int64_t rows,
                       const std::vector<std::vector<int64_t>>& expected_owner) {
  for (size_t b = 0; b < expected_owner.size(); ++b) {
    ASSERT_EQ(static_cast<int64_t>(expected_owner[b].size()), rows);
    for (int64_t row = 0; row < rows; ++row) {
      SCOPED_TRACE("batch " + std::to_string(b) + " row " + std::to_string(row));
      int64_t owner = owner_of(documents, side, static_cast<int64_t>(b), row);
      EXPECT_EQ(owner, expected_owner[b][row]);
      if (owner < 0) continue;
      for (const Document& d : documents) {
        if (d.index != owner) continue;
        int64_t start = side == Side::kQuery ? d.query_start : d.key_start;
        int64_t length = side == Side::kQuery ? d.query_length : d.key_length;
        int64_t offset = row - start;  // i (or j) inside the document
        EXPECT_GE(offset, 0);
        EXPECT_LT(offset, length);
        EXPECT_EQ(start + offset, row);
      }
    }
  }
  // And back: every in-document position maps to a row owned by that document.
  for (const Document& d : documents) {
    int64_t start = side == Side::kQuery ? d.query_start : d.key_start;
    int64_t length = side == Side::kQuery ? d.query_length : d.key_length;
    for (int64_t offset = 0; offset < length; ++offset) {
      EXPECT_EQ(owner_of(documents, side, d.batch, start + offset), d.index);
    }
  }
}

TEST(LayoutTest, Names) {
  EXPECT_EQ(layout_name(Layout::kDense), "dense");
  EXPECT_EQ(layout_name(Layout::kVarlen), "varlen");
  EXPECT_EQ(layout_name(Layout::kDocPacked), "doc_packed");
}

TEST(LayoutTest, DenseFullRows) {
  LayoutShape shape;
  shape.layout = Layout::kDense;
  shape.batch = 3;
  shape.query_rows = 4;
  shape.key_rows = 6;
  auto documents = enumerate_documents(shape);
  expect_documents(documents, {doc(0, 0, 0, 4, 0, 6), doc(1, 1, 0, 4, 0, 6), doc(2, 2, 0, 4, 0, 6)});
  EXPECT_EQ(document_count(shape), 3);
}

TEST(LayoutTest, DenseSeqlensLeavePaddingRows) {
  LayoutShape shape;
  shape.layout = Layout::kDense;
  shape.batch = 2;
  shape.query_rows = 5;
  shape.key_rows = 4;
  shape.seqlens_q = {3, 5};
  shape.seqlens_k = {4, 0};
  auto documents = enumerate_documents(shape);
  expect_documents(documents, {doc(0, 0, 0, 3, 0, 4), doc(1, 1, 0, 5, 0, 0)});
  expect_round_trip(documents, Side::kQuery, 5, {{0, 0, 0, -1, -1}, {1, 1, 1, 1, 1}});
  expect_round_trip(documents, Side::kKey, 4, {{0, 0, 0, 0}, {-1, -1, -1, -1}});
}

TEST(LayoutTest, DenseEmptyBatch) {
  LayoutShape shape;
  shape.layout = Layout::kDense;
  shape.batch = 0;
  shape.query_rows = 4;
  shape.key_rows = 4;
  EXPECT_TRUE(enumerate_documents(shape).empty());
  EXPECT_EQ(document_count(shape), 0);
}

TEST(LayoutTest, VarlenPackedWithZeroLengthDocuments) {
  LayoutShape shape;
  shape.layout = Layout::kVarlen;
  shape.query_rows = 8;  // one tail row after the last document
  shape.key_rows = 6;
  shape.cu_seqlens_q = {0, 3, 3, 7};
  shape.cu_seqlens_k = {0, 2, 6, 6};
  auto documents = enumerate_documents(shape);
  expect_documents(documents, {doc(0, 0, 0, 3, 0, 2), doc(1, 0, 3, 0, 2, 4), doc(2, 0, 3, 4, 6, 0)});
  EXPECT_EQ(document_count(shape), 3);
  expect_round_trip(documents, Side::kQuery, 8, {{0, 0, 0, 2, 2, 2, 2, -1}});
  expect_round_trip(documents, Side::kKey, 6, {{0, 0, 1, 1, 1, 1}});
}

TEST(LayoutTest, VarlenNoDocuments) {
  LayoutShape shape;
  shape.layout = Layout::kVarlen;
  shape.query_rows = 2;
  shape.key_rows = 0;
  shape.cu_seqlens_q = {0};
  shape.cu_seqlens_k = {0};
  EXPECT_TRUE(enumerate_documents(shape).empty());
  EXPECT_EQ(document_count(shape), 0);
}

TEST(LayoutTest, VarlenPaddedOffsetsWithGapsAndPastSlot) {
  // K/V: a 4-row past slot in front, doc 0 at rows [4, 6), a 2-row gap, doc 1 at [8, 11),
  // doc 2 (zero length) at 14, and a tail up to 16. Q: lengths only, no padding.
  LayoutShape shape;
  shape.layout = Layout::kVarlen;
  shape.query_rows = 5;
  shape.key_rows = 16;
  shape.cu_seqlens_q = {0, 2, 5, 5};
  shape.cu_seqlens_k = {0, 2, 5, 5};
  shape.cu_seqlens_k_padded = {4, 8, 14, 15};
  auto documents = enumerate_documents(shape);
  expect_documents(documents, {doc(0, 0, 0, 2, 4, 2), doc(1, 0, 2, 3, 8, 3), doc(2, 0, 5, 0, 14, 0)});
  expect_round_trip(documents, Side::kQuery, 5, {{0, 0, 1, 1, 1}});
  expect_round_trip(documents, Side::kKey, 16,
                    {{-1, -1, -1, -1, 0, 0, -1, -1, 1, 1, 1, -1, -1, -1, -1, -1}});
}

TEST(LayoutTest, VarlenPaddedQueryAndKeyDocumentsMayTouch) {
  // padded[d] + len[d] == padded[d+1] is legal (no gap); the last document ends at the tensor.
  LayoutShape shape;
  shape.layout = Layout::kVarlen;
  shape.query_rows = 9;
  shape.key_rows = 3;
  shape.cu_seqlens_q = {0, 3, 6};
  shape.cu_seqlens_k = {0, 1, 3};
  shape.cu_seqlens_q_padded = {1, 4, 9};
  shape.cu_seqlens_k_padded = {0, 1, 3};
  auto documents = enumerate_documents(shape);
  expect_documents(documents, {doc(0, 0, 1, 3, 0, 1), doc(1, 0, 4, 3, 1, 2)});
  expect_round_trip(documents, Side::kQuery, 9, {{-1, 0, 0, 0, 1, 1, 1, -1, -1}});
}

TEST(LayoutTest, DocPackedWithSentinelsAndTail) {
  // Row 0: docs [0,2), [2,6), then a sentinel at S. Row 1: docs [0,1), [1,4), then a sentinel at
  // 4 and rows 4..5 belong to no document (the tail after the last sentinel).
  LayoutShape shape;
  shape.layout = Layout::kDocPacked;
  shape.batch = 2;
  shape.query_rows = 6;
  shape.key_rows = 6;
  shape.max_docs = 3;
  shape.cu_seq = {0, 2, 6, 6, 0, 1, 4, 4};
  auto documents = enumerate_documents(shape);
  expect_documents(documents, {doc(0, 0, 0, 2, 0, 2), doc(1, 0, 2, 4, 2, 4), doc(2, 0, 6, 0, 6, 0),
                               doc(3, 1, 0, 1, 0, 1), doc(4, 1, 1, 3, 1, 3), doc(5, 1, 4, 0, 4, 0)});
  EXPECT_EQ(document_count(shape), 6);
  std::vector<std::vector<int64_t>> owners = {{0, 0, 1, 1, 1, 1}, {3, 4, 4, 4, -1, -1}};
  expect_round_trip(documents, Side::kQuery, 6, owners);
  expect_round_trip(documents, Side::kKey, 6, owners);
}

TEST(LayoutTest, DocPackedIndexSkipsSentinelSlotsOfEarlierRows) {
  // index = b * max_docs + k: with 8 slots the second row's first document is index 8.
  LayoutShape shape;
  shape.layout = Layout::kDocPacked;
  shape.batch = 2;
  shape.query_rows = 3;
  shape.key_rows = 3;
  shape.max_docs = 8;
  shape.cu_seq = {0, 3, 3, 3, 3, 3, 3, 3, 3, /**/ 0, 1, 3, 3, 3, 3, 3, 3, 3};
  auto documents = enumerate_documents(shape);
  ASSERT_EQ(documents.size(), 16u);
  EXPECT_EQ(document_count(shape), 16);
  std::vector<Document> nonempty;
  for (const Document& d : documents) {
    if (d.query_length > 0) nonempty.push_back(d);
  }
  expect_documents(nonempty, {doc(0, 0, 0, 3, 0, 3), doc(8, 1, 0, 1, 0, 1), doc(9, 1, 1, 2, 1, 2)});
}

// Random varlen problems built from known lengths and gaps: the layout must list exactly the
// documents the generator placed, and the round trip must hold on every row.
TEST(LayoutTest, VarlenRandomPaddedRoundTrip) {
  unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto draw = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 50; ++trial) {
    int n = draw(0, 6);
    LayoutShape shape;
    shape.layout = Layout::kVarlen;
    std::vector<Document> expected;
    std::vector<int64_t> q_owner, k_owner;
    shape.cu_seqlens_q = {0};
    shape.cu_seqlens_k = {0};
    bool pad_q = draw(0, 1) == 1;
    int64_t q_row = 0, k_row = draw(0, 3);  // K always padded, maybe with a past slot
    k_owner.assign(static_cast<size_t>(k_row), -1);
    for (int d = 0; d < n; ++d) {
      int64_t lq = draw(0, 4), lk = draw(0, 4);
      if (pad_q) {
        shape.cu_seqlens_q_padded.push_back(q_row);
      }
      shape.cu_seqlens_k_padded.push_back(k_row);
      expected.push_back(doc(d, 0, q_row, lq, k_row, lk));
      shape.cu_seqlens_q.push_back(shape.cu_seqlens_q.back() + lq);
      shape.cu_seqlens_k.push_back(shape.cu_seqlens_k.back() + lk);
      q_owner.insert(q_owner.end(), static_cast<size_t>(lq), d);
      k_owner.insert(k_owner.end(), static_cast<size_t>(lk), d);
      q_row += lq;
      k_row += lk;
      int64_t q_gap = pad_q ? draw(0, 2) : 0, k_gap = draw(0, 2);
      q_owner.insert(q_owner.end(), static_cast<size_t>(q_gap), -1);
      k_owner.insert(k_owner.end(), static_cast<size_t>(k_gap), -1);
      q_row += q_gap;
      k_row += k_gap;
    }
    if (pad_q) shape.cu_seqlens_q_padded.push_back(q_row);
    shape.cu_seqlens_k_padded.push_back(k_row);
    int64_t q_tail = draw(0, 2), k_tail = draw(0, 2);
    q_owner.insert(q_owner.end(), static_cast<size_t>(q_tail), -1);
    k_owner.insert(k_owner.end(), static_cast<size_t>(k_tail), -1);
    shape.query_rows = q_row + q_tail;
    shape.key_rows = k_row + k_tail;
    SCOPED_TRACE("trial " + std::to_string(trial));
    auto documents = enumerate_documents(shape);
    expect_documents(documents, expected);
    expect_round_trip(documents, Side::kQuery, shape.query_rows, {q_owner});
    expect_round_trip(documents, Side::kKey, shape.key_rows, {k_owner});
  }
}

}  // namespace
}  // namespace attncc
