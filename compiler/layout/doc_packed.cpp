// The doc_packed layout (DESIGN §1): B rows of S tokens, each holding up to max_docs documents
// given by cu_seq[B, max_docs + 1]; self-attention, so Q and K/V share the boundaries.
#include <string>

#include "attncc/layout.h"
#include "compiler/layout/layout_checks.h"

namespace attncc {
namespace {

using layout_detail::layout_error;

std::string text(int64_t value) { return std::to_string(value); }

std::string entry_name(int64_t b, int64_t k) { return "cu_seq[" + text(b) + "][" + text(k) + "]"; }

}  // namespace

std::vector<Document> enumerate_doc_packed(const LayoutShape& shape) {
  layout_detail::check_nonnegative("batch", shape.batch, "B, the batch size");
  layout_detail::check_nonnegative("max_docs", shape.max_docs,
                                   "the number of documents a batch row can hold");
  layout_detail::check_nonnegative("query_rows", shape.query_rows, "S, the sequence length");
  if (shape.key_rows != shape.query_rows) {
    throw layout_error("key_rows",
                       "is " + text(shape.key_rows) + ", must equal query_rows = " +
                           text(shape.query_rows),
                       "doc_packed is self-attention: Q and K/V share S and the document "
                       "boundaries; use varlen for different query and key documents");
  }
  const int64_t width = shape.max_docs + 1;
  const int64_t rows = shape.query_rows;
  if (static_cast<int64_t>(shape.cu_seq.size()) != shape.batch * width) {
    throw layout_error("cu_seq",
                       "has " + text(static_cast<int64_t>(shape.cu_seq.size())) +
                           " entries, must have B * (max_docs + 1) = " + text(shape.batch) +
                           " * " + text(width) + " = " + text(shape.batch * width),
                       "cu_seq is row-major [B, max_docs + 1]; pad short rows by repeating "
                       "their last entry");
  }
  std::vector<Document> documents;
  documents.reserve(static_cast<size_t>(shape.batch * shape.max_docs));
  for (int64_t b = 0; b < shape.batch; ++b) {
    const int64_t* row = shape.cu_seq.data() + b * width;
    if (row[0] != 0) {
      throw layout_error(entry_name(b, 0), "is " + text(row[0]) + ", must be 0",
                         "each row of cu_seq is a prefix sum of document lengths starting at 0");
    }
    for (int64_t k = 1; k < width; ++k) {
      if (row[k] < row[k - 1]) {
        throw layout_error(entry_name(b, k),
                           "is " + text(row[k]) + ", less than " + entry_name(b, k - 1) + " = " +
                               text(row[k - 1]) + " (document " + text(k - 1) + " of batch row " +
                               text(b) + " would have length " + text(row[k] - row[k - 1]) + ")",
                           "each row of cu_seq must be non-decreasing; repeat the last entry "
                           "for unused document slots");
      }
      if (row[k] > rows) {
        throw layout_error(entry_name(b, k),
                           "is " + text(row[k]) + ", more than S = " + text(rows),
                           "documents must lie inside the sequence; unused slots repeat the "
                           "last document end (at most S)");
      }
    }
    for (int64_t k = 0; k < shape.max_docs; ++k) {
      Document document;
      document.index = b * shape.max_docs + k;
      document.batch = b;
      document.query_start = row[k];
      document.query_length = row[k + 1] - row[k];
      document.key_start = row[k];
      document.key_length = row[k + 1] - row[k];
      documents.push_back(document);
    }
  }
  return documents;
}

}  // namespace attncc
