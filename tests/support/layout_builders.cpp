// Layout builders for tests: documents placed by the test, offsets derived from them.
#include "support/layout_builders.h"

#include <algorithm>

namespace attncc::testing {

BuiltLayout build_dense(int64_t sq, int64_t sk,
                        const std::vector<std::pair<int64_t, int64_t>>& lengths) {
  BuiltLayout built;
  built.shape.layout = Layout::kDense;
  built.shape.batch = static_cast<int64_t>(lengths.size());
  built.shape.query_rows = sq;
  built.shape.key_rows = sk;
  bool short_q = false, short_k = false;
  for (size_t b = 0; b < lengths.size(); ++b) {
    auto [lq, lk] = lengths[b];
    short_q |= lq != sq;
    short_k |= lk != sk;
    built.documents.push_back({static_cast<int64_t>(b), static_cast<int64_t>(b), 0, lq, 0, lk});
  }
  for (const auto& [lq, lk] : lengths) {
    if (short_q) built.shape.seqlens_q.push_back(lq);
    if (short_k) built.shape.seqlens_k.push_back(lk);
  }
  return built;
}

BuiltLayout build_varlen(const std::vector<std::pair<int64_t, int64_t>>& lengths,
                         const std::vector<int64_t>& q_gaps, const std::vector<int64_t>& k_gaps) {
  BuiltLayout built;
  LayoutShape& shape = built.shape;
  shape.layout = Layout::kVarlen;
  shape.cu_seqlens_q = {0};
  shape.cu_seqlens_k = {0};
  int64_t q_row = 0, k_row = 0;
  for (size_t d = 0; d < lengths.size(); ++d) {
    auto [lq, lk] = lengths[d];
    if (!q_gaps.empty()) {
      q_row += q_gaps[d];
      shape.cu_seqlens_q_padded.push_back(q_row);
    }
    if (!k_gaps.empty()) {
      k_row += k_gaps[d];
      shape.cu_seqlens_k_padded.push_back(k_row);
    }
    built.documents.push_back({static_cast<int64_t>(d), 0, q_row, lq, k_row, lk});
    shape.cu_seqlens_q.push_back(shape.cu_seqlens_q.back() + lq);
    shape.cu_seqlens_k.push_back(shape.cu_seqlens_k.back() + lk);
    q_row += lq;
    k_row += lk;
  }
  // The padded arrays end where the last document ends; the trailing gap is a tail after it.
  if (!q_gaps.empty()) {
    shape.cu_seqlens_q_padded.push_back(q_row);
    q_row += q_gaps.back();
  }
  if (!k_gaps.empty()) {
    shape.cu_seqlens_k_padded.push_back(k_row);
    k_row += k_gaps.back();
  }
  shape.query_rows = q_row;
  shape.key_rows = k_row;
  return built;
}

BuiltLayout build_doc_packed(int64_t s, int64_t max_docs,
                             const std::vector<std::vector<int64_t>>& rows) {
  BuiltLayout built;
  LayoutShape& shape = built.shape;
  shape.layout = Layout::kDocPacked;
  shape.batch = static_cast<int64_t>(rows.size());
  shape.query_rows = s;
  shape.key_rows = s;
  shape.max_docs = max_docs;
  for (size_t b = 0; b < rows.size(); ++b) {
    int64_t end = 0;
    shape.cu_seq.push_back(0);
    for (int64_t k = 0; k < max_docs; ++k) {
      int64_t length = k < static_cast<int64_t>(rows[b].size()) ? rows[b][k] : 0;
      built.documents.push_back({static_cast<int64_t>(b) * max_docs + k, static_cast<int64_t>(b),
                                 end, length, end, length});
      end += length;
      shape.cu_seq.push_back(end);
    }
  }
  return built;
}

namespace {

// Uniform in [minimum, maximum]; when the range reaches past a 64-row tile, a quarter of the
// draws land on a tile edge (63, 64, 65, 127, ...), where the last tile is just full or holds
// one row.
int64_t document_length(TestRandom& random, int64_t minimum, int64_t maximum) {
  if (maximum >= 63 && random.integer(0, 3) == 0) {
    int64_t tiles = random.integer(1, (maximum + 1) / 64);
    int64_t edge = 64 * tiles + random.integer(-1, 1);
    if (edge >= minimum && edge <= maximum) return edge;
  }
  return random.integer(minimum, maximum);
}

}  // namespace

BuiltLayout random_layout(Layout layout, TestRandom& random, int64_t max_length) {
  switch (layout) {
    case Layout::kDense: {
      int64_t batch = random.integer(1, 3);
      int64_t sq = document_length(random, 1, max_length);
      int64_t sk = document_length(random, 1, max_length);
      bool ragged = random.integer(0, 1) == 1;
      std::vector<std::pair<int64_t, int64_t>> lengths;
      for (int64_t b = 0; b < batch; ++b) {
        lengths.emplace_back(ragged ? random.integer(0, sq) : sq,
                             ragged ? random.integer(0, sk) : sk);
      }
      return build_dense(sq, sk, lengths);
    }
    case Layout::kVarlen: {
      int64_t n = random.integer(1, 4);
      std::vector<std::pair<int64_t, int64_t>> lengths;
      for (int64_t d = 0; d < n; ++d) {
        int64_t query_length = document_length(random, 0, max_length);
        lengths.emplace_back(query_length, document_length(random, 0, max_length));
      }
      std::vector<int64_t> q_gaps, k_gaps;
      if (random.integer(0, 1) == 1) {
        for (int64_t d = 0; d <= n; ++d) q_gaps.push_back(random.integer(0, 2));
      }
      if (random.integer(0, 1) == 1) {
        for (int64_t d = 0; d <= n; ++d) k_gaps.push_back(random.integer(0, 2));
        k_gaps[0] += random.integer(0, 3);  // sometimes a K/V past slot in front
      }
      return build_varlen(lengths, q_gaps, k_gaps);
    }
    case Layout::kDocPacked: {
      int64_t batch = random.integer(1, 2);
      int64_t max_docs = random.integer(1, 4);
      int64_t s = document_length(random, 1, max_length + 2);
      std::vector<std::vector<int64_t>> rows;
      for (int64_t b = 0; b < batch; ++b) {
        std::vector<int64_t> row;
        int64_t used = 0;
        int64_t docs = random.integer(0, max_docs);
        for (int64_t k = 0; k < docs; ++k) {
          int64_t length = document_length(random, 0, std::min(max_length, s - used));
          row.push_back(length);
          used += length;
        }
        rows.push_back(row);
      }
      return build_doc_packed(s, max_docs, rows);
    }
  }
  return {};
}

}  // namespace attncc::testing
