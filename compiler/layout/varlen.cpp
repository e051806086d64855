// The varlen (THD) layout (DESIGN §1): N documents packed along the token dimension, lengths as
// canonical prefix sums cu_seqlens_*, optional physical offsets cu_seqlens_*_padded.
#include <string>

#include "attncc/layout.h"
#include "compiler/layout/layout_checks.h"

namespace attncc {
namespace {

using layout_detail::element_name;
using layout_detail::layout_error;

// One side (Q, or K/V) of a varlen problem.
struct Side {
  std::string_view cu_name;      // "cu_seqlens_q"
  std::string_view padded_name;  // "cu_seqlens_q_padded"
  std::string_view tensor;       // "Q" or "K/V"
  const std::vector<int64_t>& cu;
  const std::vector<int64_t>& padded;
  int64_t rows;  // Tq or Tk
};

std::string text(int64_t value) { return std::to_string(value); }

// cu is a canonical prefix sum of lengths: cu[0] == 0, non-decreasing, last <= rows.
void check_lengths(const Side& side) {
  const std::vector<int64_t>& cu = side.cu;
  std::string cu_name(side.cu_name);
  if (cu[0] != 0) {
    std::string hint = cu_name + " holds lengths";
    if (cu[0] > 0) {
      // The usual cause: offsets into a larger tensor passed where lengths belong.
      hint += ": pass cu - cu[0] and put the offsets in " + std::string(side.padded_name) +
              ", or narrow " + std::string(side.tensor) + " by " + text(cu[0]) + " rows";
    } else {
      hint += " as a prefix sum starting at 0";
    }
    throw layout_error(element_name(cu_name, 0), "is " + text(cu[0]) + ", must be 0", hint);
  }
  for (size_t d = 1; d < cu.size(); ++d) {
    if (cu[d] < cu[d - 1]) {
      throw layout_error(
          element_name(cu_name, static_cast<int64_t>(d)),
          "is " + text(cu[d]) + ", less than " + element_name(cu_name, static_cast<int64_t>(d - 1)) +
              " = " + text(cu[d - 1]) + " (document " + text(static_cast<int64_t>(d - 1)) +
              " would have length " + text(cu[d] - cu[d - 1]) + ")",
          cu_name + " must be non-decreasing: it holds lengths as a prefix sum; put physical "
                    "offsets in " + std::string(side.padded_name));
    }
  }
  int64_t last = cu.back();
  if (last > side.rows) {
    int64_t n = static_cast<int64_t>(cu.size()) - 1;
    throw layout_error(element_name(cu_name, n),
                       "is " + text(last) + ", more than the " + text(side.rows) + " rows of " +
                           std::string(side.tensor),
                       "the document lengths add up to " + text(last) + " rows: pass a " +
                           std::string(side.tensor) + " tensor with at least " + text(last) +
                           " rows, or fix the lengths");
  }
}

// padded holds physical starts: >= 0, documents in order, non-overlapping, inside the tensor.
void check_padded(const Side& side) {
  const std::vector<int64_t>& padded = side.padded;
  const std::vector<int64_t>& cu = side.cu;
  std::string name(side.padded_name);
  if (padded.size() != cu.size()) {
    throw layout_error(name,
                       "has " + text(static_cast<int64_t>(padded.size())) + " entries, must have " +
                           text(static_cast<int64_t>(cu.size())) + " like " +
                           std::string(side.cu_name),
                       "pass one start per document plus the end, or leave it empty for "
                       "documents packed without gaps");
  }
  int64_t n = static_cast<int64_t>(cu.size()) - 1;
  for (int64_t d = 0; d <= n; ++d) {
    if (padded[d] < 0) {
      throw layout_error(element_name(name, d), "is " + text(padded[d]) + ", must be >= 0",
                         name + " holds physical row offsets into " + std::string(side.tensor));
    }
  }
  for (int64_t d = 0; d < n; ++d) {
    int64_t start = padded[d];
    int64_t length = cu[d + 1] - cu[d];
    int64_t end = start + length;
    std::string occupies = "document " + text(d) + " (length " + text(length) +
                           ") occupies rows [" + text(start) + ", " + text(end) + ")";
    if (end > side.rows) {
      throw layout_error(element_name(name, d),
                         "is " + text(start) + ": " + occupies + ", past the " + text(side.rows) +
                             " rows of " + std::string(side.tensor),
                         "every padded document must lie inside the tensor");
    }
    if (end > padded[d + 1]) {
      throw layout_error(element_name(name, d + 1),
                         "is " + text(padded[d + 1]) + ", but " + occupies,
                         "documents must be in order and not overlap: " + name + "[d] + length[d] <= " +
                             name + "[d+1]");
    }
  }
  if (padded[n] > side.rows) {
    throw layout_error(element_name(name, n),
                       "is " + text(padded[n]) + ", past the " + text(side.rows) + " rows of " +
                           std::string(side.tensor),
                       "the last entry ends the padded documents and must be <= the row count");
  }
}

}  // namespace

std::vector<Document> enumerate_varlen(const LayoutShape& shape) {
  if (shape.batch != 1) {
    throw layout_error("batch", "is " + text(shape.batch) + ", must be 1 for varlen",
                       "varlen packs every document along the token dimension; use dense or "
                       "doc_packed for a batch dimension");
  }
  layout_detail::check_nonnegative("query_rows", shape.query_rows, "Tq, the query token count");
  layout_detail::check_nonnegative("key_rows", shape.key_rows, "Tk, the key token count");
  Side query{"cu_seqlens_q", "cu_seqlens_q_padded", "Q",
             shape.cu_seqlens_q, shape.cu_seqlens_q_padded, shape.query_rows};
  Side key{"cu_seqlens_k", "cu_seqlens_k_padded", "K/V",
           shape.cu_seqlens_k, shape.cu_seqlens_k_padded, shape.key_rows};
  for (const Side* side : {&query, &key}) {
    if (side->cu.empty()) {
      throw layout_error(side->cu_name, "is empty, must have N + 1 >= 1 entries",
                         "pass the prefix sum of the N document lengths, starting at 0 ({0} for "
                         "no documents)");
    }
  }
  if (key.cu.size() != query.cu.size()) {
    throw layout_error("cu_seqlens_k",
                       "has " + text(static_cast<int64_t>(key.cu.size())) + " entries, but "
                       "cu_seqlens_q has " + text(static_cast<int64_t>(query.cu.size())),
                       "Q and K/V describe the same N documents: both need N + 1 entries");
  }
  for (const Side* side : {&query, &key}) {
    check_lengths(*side);
    if (!side->padded.empty()) check_padded(*side);
  }
  int64_t n = static_cast<int64_t>(query.cu.size()) - 1;
  std::vector<Document> documents;
  documents.reserve(static_cast<size_t>(n));
  for (int64_t d = 0; d < n; ++d) {
    Document document;
    document.index = d;
    document.batch = 0;
    document.query_length = query.cu[d + 1] - query.cu[d];
    document.key_length = key.cu[d + 1] - key.cu[d];
    document.query_start = query.padded.empty() ? query.cu[d] : query.padded[d];
    document.key_start = key.padded.empty() ? key.cu[d] : key.padded[d];
    documents.push_back(document);
  }
  return documents;
}

}  // namespace attncc
