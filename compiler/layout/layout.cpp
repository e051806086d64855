// Layout dispatch (DESIGN §1): names, per-document parameter counts, and the checks every layout
// shares; the per-layout offset rules live in dense.cpp, varlen.cpp and doc_packed.cpp.
#include "attncc/layout.h"

#include <string>

#include "compiler/layout/layout_checks.h"

namespace attncc {
namespace layout_detail {

Error layout_error(std::string_view where, std::string_view message, std::string_view hint) {
  return user_error(ErrorCode::kInvalidArgument, where, message, hint);
}

void check_nonnegative(std::string_view name, int64_t value, std::string_view meaning) {
  if (value >= 0) return;
  throw layout_error(name, "is " + std::to_string(value) + ", must be >= 0",
                     std::string(name) + " is " + std::string(meaning));
}

void check_unused(std::string_view name, const std::vector<int64_t>& values,
                  std::string_view layout) {
  if (values.empty()) return;
  // A non-empty array of another layout means the caller built the wrong layout: ignoring it
  // would silently attend across the documents it describes.
  throw layout_error(name,
                     "has " + std::to_string(values.size()) + " entries, but the layout is " +
                         std::string(layout) + ", which does not use it",
                     "pick the layout that " + std::string(name) + " belongs to, or leave it empty");
}

std::string element_name(std::string_view name, int64_t index) {
  return std::string(name) + "[" + std::to_string(index) + "]";
}

}  // namespace layout_detail

std::string_view layout_name(Layout layout) {
  switch (layout) {
    case Layout::kDense: return "dense";
    case Layout::kVarlen: return "varlen";
    case Layout::kDocPacked: return "doc_packed";
  }
  internal_error(__FILE__, __LINE__, "unknown layout");
}

std::vector<Document> enumerate_documents(const LayoutShape& shape) {
  using layout_detail::check_unused;
  std::string_view name = layout_name(shape.layout);
  if (shape.layout != Layout::kDense) {
    check_unused("seqlens_q", shape.seqlens_q, name);
    check_unused("seqlens_k", shape.seqlens_k, name);
  }
  if (shape.layout != Layout::kVarlen) {
    check_unused("cu_seqlens_q", shape.cu_seqlens_q, name);
    check_unused("cu_seqlens_k", shape.cu_seqlens_k, name);
    check_unused("cu_seqlens_q_padded", shape.cu_seqlens_q_padded, name);
    check_unused("cu_seqlens_k_padded", shape.cu_seqlens_k_padded, name);
  }
  if (shape.layout != Layout::kDocPacked) check_unused("cu_seq", shape.cu_seq, name);
  switch (shape.layout) {
    case Layout::kDense: return enumerate_dense(shape);
    case Layout::kVarlen: return enumerate_varlen(shape);
    case Layout::kDocPacked: return enumerate_doc_packed(shape);
  }
  internal_error(__FILE__, __LINE__, "unknown layout");
}

int64_t document_count(const LayoutShape& shape) {
  switch (shape.layout) {
    case Layout::kDense: return shape.batch;
    case Layout::kVarlen:
      return shape.cu_seqlens_q.empty() ? 0 : static_cast<int64_t>(shape.cu_seqlens_q.size()) - 1;
    case Layout::kDocPacked: return shape.batch * shape.max_docs;
  }
  internal_error(__FILE__, __LINE__, "unknown layout");
}

}  // namespace attncc
