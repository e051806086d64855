// Test helpers that build layouts from documents placed by the test (lengths, gaps), so the
// expected document list is known by construction rather than read back from compiler/layout/.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "attncc/layout.h"
#include "support/random_inputs.h"

namespace attncc::testing {

/// A layout and the documents the builder placed in it (same fields as attncc::Document).
struct BuiltLayout {
  LayoutShape shape;
  std::vector<Document> documents;
};

/// Dense: batch row b holds (Lq, Lk) = lengths[b] in tensors of `sq` x `sk` rows;
/// seqlens_q / seqlens_k are given when some row is shorter.
BuiltLayout build_dense(int64_t sq, int64_t sk,
                        const std::vector<std::pair<int64_t, int64_t>>& lengths);

/// Varlen: document d has (Lq, Lk) = lengths[d]. `q_gaps` / `k_gaps` (N + 1 entries, or empty)
/// are the rows left free before each document and after the last one; non-empty gaps give a
/// cu_seqlens_*_padded array.
BuiltLayout build_varlen(const std::vector<std::pair<int64_t, int64_t>>& lengths,
                         const std::vector<int64_t>& q_gaps = {},
                         const std::vector<int64_t>& k_gaps = {});

/// Doc_packed: batch row b holds documents of lengths rows[b] (each row's total <= s) in
/// `max_docs` slots; unused slots are zero-length sentinels at the end of the last document.
BuiltLayout build_doc_packed(int64_t s, int64_t max_docs,
                             const std::vector<std::vector<int64_t>>& rows);

/// A small random layout of the given kind: a few documents of lengths up to `max_length` (a
/// quarter of them on 64-row tile edges, 63 / 64 / 65 / 127 ..., where `max_length` reaches one),
/// with padding rows, gaps (varlen: padded offsets, sometimes a K/V past slot) and sentinels.
BuiltLayout random_layout(Layout layout, TestRandom& random, int64_t max_length = 6);

}  // namespace attncc::testing
