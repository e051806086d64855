// Sequence layouts (DESIGN §1) as data: the offsets a problem carries, their validation, and the
// list of documents they describe. One file per layout in compiler/layout/.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace attncc {

enum class Layout { kDense, kVarlen, kDocPacked };

std::string_view layout_name(Layout layout);  ///< "dense", "varlen", "doc_packed"

/// The sequence structure of one problem (host copies of the offset arrays).
struct LayoutShape {
  Layout layout = Layout::kDense;
  int64_t batch = 1;       ///< dense / doc_packed: B; varlen: 1
  int64_t query_rows = 0;  ///< dense: Sq; varlen: Tq; doc_packed: S
  int64_t key_rows = 0;    ///< dense: Sk; varlen: Tk; doc_packed: S (must equal query_rows)
  // dense: optional per-row lengths (empty = Sq / Sk for every row)
  std::vector<int64_t> seqlens_q, seqlens_k;
  // varlen: lengths as prefix sums [N+1]; optional physical offsets [N+1]
  std::vector<int64_t> cu_seqlens_q, cu_seqlens_k;
  std::vector<int64_t> cu_seqlens_q_padded, cu_seqlens_k_padded;
  // doc_packed: [B, max_docs + 1] row-major, each row from 0 to <= S, trailing entries = S
  std::vector<int64_t> cu_seq;
  int64_t max_docs = 0;
};

/// One document: rows [query_start, query_start + query_length) of the Q sequence dimension
/// (within batch row `batch`), and likewise for K/V.
struct Document {
  int64_t index = 0;  ///< entry of per-document parameters: dense b, varlen d, doc_packed b*max_docs+k
  int64_t batch = 0;  ///< batch row (0 for varlen)
  int64_t query_start = 0;
  int64_t query_length = 0;
  int64_t key_start = 0;
  int64_t key_length = 0;
};

/// Validates the offsets (DESIGN §1 rules: canonical prefix sums, padded offsets in order and
/// non-overlapping, everything inside the tensors) and lists every document, zero-length ones
/// (sentinels) included, in order. Throws Error(kInvalidArgument) naming the array, the index,
/// the value and the fix.
std::vector<Document> enumerate_documents(const LayoutShape& shape);

/// Number of entries a per-document parameter array must have: dense B, varlen N,
/// doc_packed B * max_docs.
int64_t document_count(const LayoutShape& shape);

// Per-layout implementations (one file each), called by enumerate_documents.
std::vector<Document> enumerate_dense(const LayoutShape& shape);
std::vector<Document> enumerate_varlen(const LayoutShape& shape);
std::vector<Document> enumerate_doc_packed(const LayoutShape& shape);

}  // namespace attncc
