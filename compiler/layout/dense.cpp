// The dense layout (DESIGN §1): one document per batch row, Q [B, Sq, ...], K/V [B, Sk, ...],
// with optional per-row lengths; rows past a length are padding.
#include <string>

#include "attncc/layout.h"
#include "compiler/layout/layout_checks.h"

namespace attncc {
namespace {

using layout_detail::element_name;
using layout_detail::layout_error;

// seqlens (if given) has one entry per batch row, each a length in [0, rows].
void check_seqlens(std::string_view name, const std::vector<int64_t>& seqlens, int64_t batch,
                   int64_t rows, std::string_view rows_name) {
  if (seqlens.empty()) return;
  if (static_cast<int64_t>(seqlens.size()) != batch) {
    throw layout_error(name,
                       "has " + std::to_string(seqlens.size()) + " entries, must have B = " +
                           std::to_string(batch),
                       "pass one length per batch row, or none for full-length rows");
  }
  for (int64_t b = 0; b < batch; ++b) {
    int64_t length = seqlens[b];
    if (length < 0 || length > rows) {
      throw layout_error(element_name(name, b),
                         "is " + std::to_string(length) + ", must be in [0, " +
                             std::to_string(rows) + "] (" + std::string(rows_name) + " = " +
                             std::to_string(rows) + ")",
                         std::string(name) +
                             " holds the number of valid rows of each batch row; rows past it "
                             "are padding");
    }
  }
}

}  // namespace

std::vector<Document> enumerate_dense(const LayoutShape& shape) {
  layout_detail::check_nonnegative("batch", shape.batch, "B, the batch size");
  layout_detail::check_nonnegative("query_rows", shape.query_rows, "Sq, the query length");
  layout_detail::check_nonnegative("key_rows", shape.key_rows, "Sk, the key length");
  check_seqlens("seqlens_q", shape.seqlens_q, shape.batch, shape.query_rows, "Sq");
  check_seqlens("seqlens_k", shape.seqlens_k, shape.batch, shape.key_rows, "Sk");
  std::vector<Document> documents;
  documents.reserve(static_cast<size_t>(shape.batch));
  for (int64_t b = 0; b < shape.batch; ++b) {
    Document document;
    document.index = b;
    document.batch = b;
    document.query_length = shape.seqlens_q.empty() ? shape.query_rows : shape.seqlens_q[b];
    document.key_length = shape.seqlens_k.empty() ? shape.key_rows : shape.seqlens_k[b];
    documents.push_back(document);
  }
  return documents;
}

}  // namespace attncc
