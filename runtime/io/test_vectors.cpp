// Conformance vectors (see test_vectors.h): a plan per case (layout, documents, heads) chosen by a
// theme that cycles over the edges that break attention stacks, values on a grid exact in every
// dtype, the float64 reference for the expected outputs, then the case files and the manifest.
#include "runtime/io/test_vectors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "attncc/error.h"
#include "runtime/io/safetensors.h"

namespace attncc {
namespace {

using Json = nlohmann::ordered_json;  // insertion order: the manifest reads top-down, same bytes

constexpr int64_t kTile = 64;                // CPU tile edge: longer documents span several tiles
constexpr int64_t kMaxLongDocument = 1100;   // keeps the float64 reference of a case near a second
constexpr const char* kFormat = "attncc-testgen/1";

// SplitMix64 (Steele, Lea and Flood, 2014). Fixed integer arithmetic rather than std::
// distributions, whose outputs the standard leaves to each library: same seed, same vectors on
// every platform.
class VectorRandom {
 public:
  explicit VectorRandom(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [low, high]; the modulo bias is below 2^-50 for the ranges used here.
  int64_t integer(int64_t low, int64_t high) {
    if (high <= low) return low;
    return low + static_cast<int64_t>(next() % static_cast<uint64_t>(high - low + 1));
  }
  bool chance(int percent) { return integer(0, 99) < percent; }
  /// A bell-shaped value k / denominator, k the sum of four uniform integers in [-32, 32]:
  /// |k| <= 128 needs at most 8 significant bits, so k / 8 and k / 64 are exact in bf16 too.
  double grid_value(double denominator) {
    int64_t k = 0;
    for (int draw = 0; draw < 4; ++draw) k += integer(-32, 32);
    return static_cast<double>(k) / denominator;
  }

 private:
  uint64_t state_;
};

// What a case is built around; cycles with the case index so a few cases cover every edge.
enum class Theme { kEdges, kUnequalLengths, kLongDocument, kLargeLogits, kRandom };
constexpr int kThemeCount = 5;

const char* theme_name(Theme theme, Layout layout) {
  switch (theme) {
    case Theme::kEdges: return "edges";
    case Theme::kUnequalLengths:
      return layout == Layout::kDocPacked ? "document_counts" : "unequal_lengths";
    case Theme::kLongDocument: return "long_document";
    case Theme::kLargeLogits: return "large_logits";
    case Theme::kRandom: return "random";
  }
  return "random";
}

std::string text(int64_t value) { return std::to_string(value); }

// "1 document", "3 documents".
std::string count_of(int64_t count, const std::string& noun) {
  return text(count) + " " + noun + (count == 1 ? "" : "s");
}

// --- Layouts from document lengths (offsets derived, so they are valid by construction; the
// result is still checked by enumerate_documents).

using Lengths = std::vector<std::pair<int64_t, int64_t>>;  // (Lq, Lk) per document

// gaps: rows left free before each document and after the last (N + 1 entries) or empty.
LayoutShape varlen_shape(const Lengths& lengths, const std::vector<int64_t>& q_gaps,
                         const std::vector<int64_t>& k_gaps) {
  LayoutShape shape;
  shape.layout = Layout::kVarlen;
  shape.cu_seqlens_q = {0};
  shape.cu_seqlens_k = {0};
  int64_t q_row = 0;
  int64_t k_row = 0;
  for (size_t d = 0; d < lengths.size(); ++d) {
    if (!q_gaps.empty()) {
      q_row += q_gaps[d];
      shape.cu_seqlens_q_padded.push_back(q_row);
    }
    if (!k_gaps.empty()) {
      k_row += k_gaps[d];
      shape.cu_seqlens_k_padded.push_back(k_row);
    }
    shape.cu_seqlens_q.push_back(shape.cu_seqlens_q.back() + lengths[d].first);
    shape.cu_seqlens_k.push_back(shape.cu_seqlens_k.back() + lengths[d].second);
    q_row += lengths[d].first;
    k_row += lengths[d].second;
  }
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
  return shape;
}

LayoutShape dense_shape(int64_t sq, int64_t sk, const Lengths& rows) {
  LayoutShape shape;
  shape.layout = Layout::kDense;
  shape.batch = static_cast<int64_t>(rows.size());
  shape.query_rows = sq;
  shape.key_rows = sk;
  const bool short_q = std::any_of(rows.begin(), rows.end(), [&](auto r) { return r.first != sq; });
  const bool short_k =
      std::any_of(rows.begin(), rows.end(), [&](auto r) { return r.second != sk; });
  for (const auto& [lq, lk] : rows) {
    if (short_q) shape.seqlens_q.push_back(lq);
    if (short_k) shape.seqlens_k.push_back(lk);
  }
  return shape;
}

// One doc_packed row: its documents, and whether unused slots repeat S (the last document then
// ends at S) or repeat the end of the last document (rows after it belong to no document).
struct PackedRow {
  std::vector<int64_t> lengths;
  bool pad_with_s = false;
};

LayoutShape doc_packed_shape(int64_t s, int64_t max_docs, const std::vector<PackedRow>& rows) {
  LayoutShape shape;
  shape.layout = Layout::kDocPacked;
  shape.batch = static_cast<int64_t>(rows.size());
  shape.query_rows = s;
  shape.key_rows = s;
  shape.max_docs = max_docs;
  for (const PackedRow& row : rows) {
    int64_t end = 0;
    shape.cu_seq.push_back(0);
    for (int64_t slot = 0; slot < max_docs; ++slot) {
      if (slot < static_cast<int64_t>(row.lengths.size())) {
        end += row.lengths[slot];
      } else if (row.pad_with_s && !row.lengths.empty()) {
        end = s;
      }
      shape.cu_seq.push_back(end);
    }
  }
  return shape;
}

// --- Plans per layout and theme.

int64_t short_length(VectorRandom& random) {
  const int64_t roll = random.integer(0, 99);
  if (roll < 10) return 0;
  if (roll < 25) return 1;
  if (roll < 40) return random.integer(2, 8);
  return random.integer(9, kTile + 16);  // some cross the first tile boundary
}

int64_t nonzero_short_length(VectorRandom& random) {
  return std::max<int64_t>(1, short_length(random));
}

// A random row of up to max_docs documents in s tokens; with pad_with_s the last one is
// stretched to S, as data loaders that pad cu_seq with S produce.
PackedRow random_packed_row(int64_t s, int64_t max_docs, bool pad_with_s, VectorRandom& random) {
  PackedRow row;
  row.pad_with_s = pad_with_s;
  const int64_t count = random.integer(0, max_docs);
  int64_t used = 0;
  for (int64_t k = 0; k < count; ++k) {
    const int64_t length = std::min(short_length(random), s - used);
    row.lengths.push_back(length);
    used += length;
  }
  if (pad_with_s && !row.lengths.empty()) row.lengths.back() += s - used;
  return row;
}

// Longer than the mask's largest constant (window, chunk, band width), so the constant bites,
// and than two tiles; capped to keep the reference fast.
int64_t long_length(int64_t reach, VectorRandom& random) {
  return std::min(kMaxLongDocument, std::max(2 * kTile + 2, reach + 1) + random.integer(0, 15));
}

std::vector<int64_t> random_gaps(int64_t documents, int64_t largest, VectorRandom& random) {
  std::vector<int64_t> gaps;
  for (int64_t d = 0; d <= documents; ++d) gaps.push_back(random.integer(0, largest));
  return gaps;
}

LayoutShape plan_varlen(Theme theme, int64_t reach, VectorRandom& random) {
  switch (theme) {
    case Theme::kEdges: {
      const int64_t a = random.integer(5, kTile + 16);
      const int64_t b = random.integer(2, 40);
      const Lengths lengths = {{a, a}, {0, 0}, {1, 1}, {b, b}, {1, 1}, {0, 0}};
      std::vector<int64_t> q_gaps = random_gaps(6, 3, random);
      std::vector<int64_t> k_gaps = random_gaps(6, 3, random);
      q_gaps[1] = random.integer(1, 3);  // at least one gap between documents
      k_gaps[0] = random.integer(3, 9);  // a K/V past slot in front of the first document
      q_gaps[6] = random.integer(1, 4);  // and tail rows after the last one
      return varlen_shape(lengths, q_gaps, k_gaps);
    }
    case Theme::kUnequalLengths: {
      const Lengths lengths = {{random.integer(20, 70), random.integer(1, 19)},
                               {random.integer(1, 19), random.integer(20, 70)},
                               {0, random.integer(3, 20)},
                               {random.integer(3, 20), 0},
                               {1, random.integer(10, 40)},
                               {random.integer(10, 40), 1}};
      if (random.chance(50)) return varlen_shape(lengths, {}, {});
      return varlen_shape(lengths, random_gaps(6, 2, random), random_gaps(6, 2, random));
    }
    case Theme::kLongDocument: {
      const int64_t before = nonzero_short_length(random);
      const int64_t length = long_length(reach, random);
      const int64_t after = random.integer(1, 20);
      return varlen_shape({{before, before}, {length, length}, {after, after}, {0, 0}}, {}, {});
    }
    case Theme::kLargeLogits:
    case Theme::kRandom: {
      const int64_t count = random.integer(1, 5);
      Lengths lengths;
      for (int64_t d = 0; d < count; ++d) {
        const int64_t lq = short_length(random);
        lengths.emplace_back(lq, random.chance(60) ? lq : short_length(random));
      }
      std::vector<int64_t> q_gaps, k_gaps;
      if (random.chance(50)) q_gaps = random_gaps(count, 3, random);
      if (random.chance(50)) k_gaps = random_gaps(count, 3, random);
      return varlen_shape(lengths, q_gaps, k_gaps);
    }
  }
  return {};
}

LayoutShape plan_dense(Theme theme, int64_t reach, VectorRandom& random) {
  switch (theme) {
    case Theme::kEdges: {
      const int64_t s = random.integer(5, kTile + 16);
      return dense_shape(s, s, {{s, s}, {0, 0}, {1, 1}, {random.integer(2, s - 1), s}, {s, 0}});
    }
    case Theme::kUnequalLengths: {
      const int64_t sq = random.integer(20, 70);
      const int64_t sk = random.integer(20, 70);
      return dense_shape(sq, sk,
                         {{sq, random.integer(1, 10)}, {random.integer(1, 10), sk}, {sq, sk}});
    }
    case Theme::kLongDocument: {
      const int64_t length = long_length(reach, random);
      const int64_t other = random.integer(1, 40);
      return dense_shape(length, length, {{length, length}, {other, other}});
    }
    case Theme::kLargeLogits:
    case Theme::kRandom: {
      const int64_t batch = random.integer(1, 4);
      const int64_t sq = random.integer(1, 70);
      const int64_t sk = random.chance(50) ? sq : random.integer(1, 70);
      Lengths rows;
      for (int64_t b = 0; b < batch; ++b) {
        const bool full = random.chance(50);
        rows.emplace_back(full ? sq : random.integer(0, sq), full ? sk : random.integer(0, sk));
      }
      return dense_shape(sq, sk, rows);
    }
  }
  return {};
}

LayoutShape plan_doc_packed(Theme theme, int64_t reach, VectorRandom& random) {
  switch (theme) {
    case Theme::kEdges: {
      const int64_t s = random.integer(40, 90);
      const int64_t a = random.integer(5, s - 10);
      const int64_t b = random.integer(1, s / 2);
      const int64_t c = random.integer(0, s / 2 - 1);
      // Row 0: a 0-length document between 1-token ones, padded with S; row 1: one document
      // filling the row; row 2: documents ending before S, sentinels at their end.
      return doc_packed_shape(s, 5,
                              {{{a, 1, 0, 1, s - a - 2}, true}, {{s}, true}, {{b, c}, false}});
    }
    case Theme::kUnequalLengths: {
      // doc_packed is self-attention (Lq == Lk): this theme varies document counts instead.
      const int64_t s = random.integer(16, 80);
      const int64_t half = random.integer(1, s - 1);
      return doc_packed_shape(s, 8,
                              {{{}, false},
                               {{1, 1, 1, 1, 1, 1, 1, s - 7}, true},
                               {{half, s - half}, true},
                               {{random.integer(1, s / 2)}, false}});
    }
    case Theme::kLongDocument: {
      const int64_t s = long_length(reach, random);
      const int64_t first = random.integer(1, 40);
      return doc_packed_shape(s, 3, {{{s}, true}, {{first, 0, s - first}, true}});
    }
    case Theme::kLargeLogits:
    case Theme::kRandom: {
      const int64_t batch = random.integer(1, 3);
      const int64_t max_docs = random.integer(1, 6);
      const int64_t s = random.integer(8, 90);
      std::vector<PackedRow> rows;
      for (int64_t b = 0; b < batch; ++b) {
        rows.push_back(random_packed_row(s, max_docs, random.chance(50), random));
      }
      return doc_packed_shape(s, max_docs, rows);
    }
  }
  return {};
}

// --- Mask facts the plans and the stress notes use.

int64_t largest_constant(const Term& term) {
  int64_t largest = term.kind == TermKind::kConstant ? std::abs(term.value) : 0;
  for (const TermPtr& operand : term.operands) {
    largest = std::max(largest, largest_constant(*operand));
  }
  return largest;
}

/// The largest integer constant of the mask (window width, chunk size, band offset): documents
/// longer than it are where the constant changes the result.
int64_t largest_constant(const Predicate& predicate) {
  int64_t largest = 0;
  for (const TermPtr& argument : predicate.arguments) {
    largest = std::max(largest, largest_constant(*argument));
  }
  for (const TermPtr& term : predicate.terms) {
    largest = std::max(largest, largest_constant(*term));
  }
  for (const PredicatePtr& operand : predicate.operands) {
    largest = std::max(largest, largest_constant(*operand));
  }
  return largest;
}

MaskContext document_context(const Spec& spec, const ReferenceInputs& inputs,
                             const Document& document) {
  MaskContext context{document.query_length, document.key_length, {}};
  for (const auto& [name, per_document] : spec.parameters) {
    const std::vector<int64_t>& values = inputs.parameters.at(name);
    context.parameters[name] = per_document ? values[document.index] : values[0];
  }
  return context;
}

// --- Tensors.

ScalarType element_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat16: return ScalarType::kFloat16;
    case DType::kBFloat16: return ScalarType::kBFloat16;
    case DType::kFloat32: return ScalarType::kFloat32;
  }
  return ScalarType::kFloat32;
}

int64_t rows_of(const LayoutShape& shape, bool query) {
  const int64_t rows = query ? shape.query_rows : shape.key_rows;
  return shape.layout == Layout::kVarlen ? rows : shape.batch * rows;
}

std::vector<int64_t> attention_shape(const LayoutShape& shape, bool query, int64_t heads,
                                     int64_t width) {
  const int64_t rows = query ? shape.query_rows : shape.key_rows;
  if (shape.layout == Layout::kVarlen) return {rows, heads, width};
  return {shape.batch, rows, heads, width};
}

std::vector<int64_t> lse_shape(const LayoutShape& shape, int64_t heads_q) {
  if (shape.layout == Layout::kVarlen) return {heads_q, shape.query_rows};
  return {shape.batch, heads_q, shape.query_rows};
}

// LSE element of (batch, head, row): varlen [Hq, Tq], otherwise [B, Hq, S].
int64_t lse_index(const LayoutShape& shape, int64_t heads_q, int64_t batch, int64_t head,
                  int64_t row) {
  return (batch * heads_q + head) * shape.query_rows + row;
}

// The layout arrays a case carries, by their DESIGN §6 names, with their shapes.
std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<int64_t>>>>
layout_arrays(const LayoutShape& shape) {
  std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<int64_t>>>> arrays;
  auto add = [&](const char* name, const std::vector<int64_t>& values,
                 std::vector<int64_t> array_shape) {
    if (!values.empty()) arrays.push_back({name, {values, std::move(array_shape)}});
  };
  auto one_d = [](const std::vector<int64_t>& values) {
    return std::vector<int64_t>{static_cast<int64_t>(values.size())};
  };
  add("seqlens_q", shape.seqlens_q, one_d(shape.seqlens_q));
  add("seqlens_k", shape.seqlens_k, one_d(shape.seqlens_k));
  add("cu_seqlens_q", shape.cu_seqlens_q, one_d(shape.cu_seqlens_q));
  add("cu_seqlens_k", shape.cu_seqlens_k, one_d(shape.cu_seqlens_k));
  add("cu_seqlens_q_padded", shape.cu_seqlens_q_padded, one_d(shape.cu_seqlens_q_padded));
  add("cu_seqlens_k_padded", shape.cu_seqlens_k_padded, one_d(shape.cu_seqlens_k_padded));
  add("cu_seq", shape.cu_seq, {shape.batch, shape.max_docs + 1});
  return arrays;
}

HostTensor int32_tensor(const std::vector<int64_t>& values, std::vector<int64_t> shape) {
  return from_double(ScalarType::kInt32, std::move(shape),
                     std::vector<double>(values.begin(), values.end()));
}

// --- Stress notes derived from the finished case, so they say what the case holds, not what
// the plan hoped for.

void note_structure(TestVectorCase& test_case, int64_t reach) {
  const LayoutShape& shape = test_case.inputs.shape;
  std::vector<std::string>& notes = test_case.stresses;
  int64_t sentinels = 0, no_keys = 0, no_queries = 0, one_token = 0, longer_q = 0, longer_k = 0;
  int64_t longest = 0, beyond_reach = 0, within_reach = 0;
  int64_t covered_q = 0;
  for (const Document& d : test_case.documents) {
    const int64_t lq = d.query_length, lk = d.key_length;
    if (lq == 0 && lk == 0) ++sentinels;
    if (lq > 0 && lk == 0) ++no_keys;
    if (lq == 0 && lk > 0) ++no_queries;
    if ((lq == 1 || lk == 1)) ++one_token;
    if (lq > lk) ++longer_q;
    if (lq < lk) ++longer_k;
    longest = std::max({longest, lq, lk});
    if (lq > 0 && reach > 0) (std::max(lq, lk) > reach ? beyond_reach : within_reach) += 1;
    covered_q += lq;
  }
  if (sentinels > 0) notes.push_back(count_of(sentinels, "zero-length document") + " (sentinels)");
  if (no_keys > 0) {
    notes.push_back(count_of(no_keys, "document") + " with Lk = 0 (every row empty)");
  }
  if (no_queries > 0) notes.push_back(count_of(no_queries, "document") + " with Lq = 0");
  if (one_token > 0) notes.push_back(count_of(one_token, "document") + " of 1 query or 1 key");
  if (longer_q > 0) notes.push_back("Lq > Lk in " + count_of(longer_q, "document"));
  if (longer_k > 0) notes.push_back("Lq < Lk in " + count_of(longer_k, "document"));
  notes.push_back("longest document " + text(longest) + " rows (" +
                  count_of((longest + kTile - 1) / kTile, "tile") + " of " + text(kTile) + ")");
  if (beyond_reach > 0) {
    notes.push_back(count_of(beyond_reach, "document") + " longer than the mask's constant " +
                    text(reach));
  }
  if (within_reach > 0) {
    notes.push_back(count_of(within_reach, "document") + " within the mask's constant " +
                    text(reach) + " (window/chunk >= document)");
  }
  switch (shape.layout) {
    case Layout::kDense: {
      const int64_t padding = shape.batch * shape.query_rows - covered_q;
      if (padding > 0) notes.push_back(count_of(padding, "padding query row") + " past seqlens_q");
      break;
    }
    case Layout::kVarlen: {
      int64_t covered_k = 0;
      for (const Document& d : test_case.documents) covered_k += d.key_length;
      const int64_t free_q = shape.query_rows - covered_q;
      const int64_t free_k = shape.key_rows - covered_k;
      if (free_q > 0 || free_k > 0) {
        notes.push_back("padded offsets: " + count_of(free_q, "query row") + " and " +
                        count_of(free_k, "key row") + " outside every document");
      }
      if (!test_case.documents.empty() && !shape.cu_seqlens_k_padded.empty() &&
          shape.cu_seqlens_k_padded[0] > 0) {
        notes.push_back("K/V past slot of " + count_of(shape.cu_seqlens_k_padded[0], "row") +
                        " before the first document");
      }
      break;
    }
    case Layout::kDocPacked: {
      int64_t s_padded = 0, empty_rows = 0;
      for (int64_t b = 0; b < shape.batch; ++b) {
        const int64_t* row = shape.cu_seq.data() + b * (shape.max_docs + 1);
        if (row[shape.max_docs] == 0) ++empty_rows;
        for (int64_t k = 1; k <= shape.max_docs; ++k) {
          if (row[k] == shape.query_rows && row[k - 1] == shape.query_rows) ++s_padded;
        }
      }
      if (s_padded > 0) {
        notes.push_back(count_of(s_padded, "sentinel") + " padding cu_seq with S");
      }
      if (empty_rows > 0) notes.push_back(count_of(empty_rows, "batch row") + " with no document");
      const int64_t uncovered = shape.batch * shape.query_rows - covered_q;
      if (uncovered > 0) notes.push_back(count_of(uncovered, "row") + " after the last document");
      notes.push_back("B = " + text(shape.batch) + ", MAX_DOCS = " + text(shape.max_docs));
      break;
    }
  }
  const int64_t ratio = test_case.inputs.heads_q / test_case.inputs.heads_kv;
  notes.push_back("GQA " + text(ratio) + ":1 (" + text(test_case.inputs.heads_q) +
                  " query heads, " + text(test_case.inputs.heads_kv) + " kv heads)");
}

// Empty query rows and unattended key rows inside documents, from the expected LSE and the mask
// predicate (not from the kernel's tile logic).
void note_empty_rows(const Spec& spec, TestVectorCase& test_case) {
  const ReferenceInputs& inputs = test_case.inputs;
  int64_t empty_rows = 0, unattended_keys = 0;
  for (const Document& document : test_case.documents) {
    for (int64_t i = 0; i < document.query_length; ++i) {
      const double lse = test_case.expected.lse[static_cast<size_t>(lse_index(
          inputs.shape, inputs.heads_q, document.batch, 0, document.query_start + i))];
      if (std::isinf(lse)) ++empty_rows;
    }
    const MaskContext context = document_context(spec, inputs, document);
    for (int64_t j = 0; j < document.key_length; ++j) {
      bool reached = false;
      for (int64_t i = 0; i < document.query_length && !reached; ++i) {
        reached = evaluate(*spec.mask, context, i, j);
      }
      if (!reached) ++unattended_keys;
    }
  }
  if (empty_rows > 0) {
    test_case.stresses.push_back(count_of(empty_rows, "query row") +
                                 " attending nothing (O = 0, LSE = -inf" +
                                 std::string(spec.backward ? ", dQ = 0)" : ")"));
  }
  if (unattended_keys > 0 && spec.backward) {
    test_case.stresses.push_back(count_of(unattended_keys, "key row") +
                                 " nobody attends (dK = dV = 0 exactly)");
  }
}

// Per-document parameter values cycle through 0, the document length, a value inside it and one
// past its end (e.g. prefix = length after truncation, and beyond it).
void add_parameters(const Spec& spec, TestVectorCase& test_case, int64_t reach,
                    VectorRandom& random) {
  ReferenceInputs& inputs = test_case.inputs;
  const int64_t count = document_count(inputs.shape);
  for (const auto& [name, per_document] : spec.parameters) {
    if (!per_document) {
      const int64_t mode = test_case.index % 3;
      const int64_t value = mode == 0   ? 0
                            : mode == 1 ? random.integer(1, std::max<int64_t>(reach, 64))
                                        : random.integer(65, 200);
      inputs.parameters[name] = {value};
      test_case.stresses.push_back("$" + name + " = " + text(value));
      continue;
    }
    static const char* const kModes[] = {"0", "= document length", "inside the document",
                                         "past the document end"};
    std::vector<int64_t> values(static_cast<size_t>(count), 0);
    std::set<int> used;
    int64_t nonempty = 0;  // modes cycle over real documents: sentinels would soak some up
    for (const Document& document : test_case.documents) {
      const int64_t length = std::max(document.query_length, document.key_length);
      const int mode = static_cast<int>((test_case.index + nonempty) % 4);
      if (length > 0) ++nonempty;
      int64_t value = 0;
      switch (mode) {
        case 0: value = 0; break;
        case 1: value = length; break;
        case 2: value = length > 1 ? random.integer(1, length - 1) : 0; break;
        default: value = length + random.integer(1, 8); break;
      }
      values[static_cast<size_t>(document.index)] = value;
      if (length > 0) used.insert(mode);
    }
    std::string modes;
    for (int mode : used) modes += (modes.empty() ? "" : ", ") + std::string(kModes[mode]);
    if (!modes.empty()) test_case.stresses.push_back("$" + name + "[doc]: " + modes);
    inputs.parameters[name] = values;
  }
}

std::pair<int64_t, int64_t> case_heads(const TestVectorOptions& options, Theme theme,
                                       int64_t index) {
  if (options.heads_q > 0 || options.heads_kv > 0) {
    if (options.heads_q <= 0 || options.heads_kv <= 0 || options.heads_q % options.heads_kv != 0) {
      throw user_error(ErrorCode::kInvalidArgument, "test vectors",
                       "heads " + text(options.heads_q) + ":" + text(options.heads_kv) +
                           " is not a GQA ratio",
                       "query heads must be a positive multiple of kv heads, e.g. 8:1");
    }
    return {options.heads_q, options.heads_kv};
  }
  static const std::pair<int64_t, int64_t> kCycle[] = {{2, 2}, {4, 1}, {2, 1}, {8, 1}};
  std::pair<int64_t, int64_t> heads = kCycle[index % 4];
  // Long documents keep two query heads: the float64 reference grows with Hq * L^2.
  if (theme == Theme::kLongDocument && heads.first > 2) heads = {2, 1};
  return heads;
}

std::vector<double> grid_values(int64_t count, double denominator, VectorRandom& random) {
  std::vector<double> values(static_cast<size_t>(count));
  for (double& value : values) value = random.grid_value(denominator);
  return values;
}

Json number_array(const std::vector<int64_t>& values) { return Json(values); }

Json shape_json(const std::vector<int64_t>& shape) { return Json(shape); }

Json case_manifest(const Spec& spec, const TestVectorCase& test_case) {
  const ReferenceInputs& inputs = test_case.inputs;
  const LayoutShape& shape = inputs.shape;
  Json entry;
  entry["file"] = test_vector_file_name(test_case.index);
  entry["index"] = test_case.index;
  entry["theme"] = test_case.theme;
  entry["stresses"] = test_case.stresses;
  entry["heads_q"] = inputs.heads_q;
  entry["heads_kv"] = inputs.heads_kv;
  Json shapes;
  shapes["q"] = shape_json(attention_shape(shape, true, inputs.heads_q, spec.head_dim));
  shapes["k"] = shape_json(attention_shape(shape, false, inputs.heads_kv, spec.head_dim));
  shapes["v"] = shape_json(attention_shape(shape, false, inputs.heads_kv, spec.head_dim_v));
  shapes["o"] = shape_json(attention_shape(shape, true, inputs.heads_q, spec.head_dim_v));
  shapes["lse"] = shape_json(lse_shape(shape, inputs.heads_q));
  entry["shapes"] = shapes;
  Json layout = Json::object();
  for (const auto& [name, array] : layout_arrays(shape)) layout[name] = number_array(array.first);
  entry["layout"] = layout;
  Json parameters = Json::object();
  for (const auto& [name, values] : inputs.parameters) parameters[name] = number_array(values);
  entry["parameters"] = parameters;
  if (spec.alibi) entry["alibi_slopes"] = inputs.alibi_slopes;
  Json documents = Json::array();
  for (const Document& d : test_case.documents) {
    documents.push_back({{"index", d.index},
                         {"batch", d.batch},
                         {"query_start", d.query_start},
                         {"query_length", d.query_length},
                         {"key_start", d.key_start},
                         {"key_length", d.key_length}});
  }
  entry["documents"] = documents;
  return entry;
}

void write_text_file_atomically(const std::string& path, const std::string& contents) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream stream(temporary, std::ios::binary | std::ios::trunc);
    stream << contents;
    stream.flush();
    if (!stream) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw user_error(ErrorCode::kIo, path, "cannot write the file", "check the directory");
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    throw user_error(ErrorCode::kIo, path, "cannot write the file: " + error.message());
  }
}

// Case files of an earlier, longer run (case_NNNN.safetensors with NNNN >= count).
void remove_stale_cases(const std::string& directory, int64_t count) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    const std::string prefix = "case_", suffix = ".safetensors";
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string digits =
        name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    if (std::stoll(digits) >= count) std::filesystem::remove(entry.path(), error);
  }
}

}  // namespace

std::string test_vector_file_name(int64_t index) {
  char name[64];
  std::snprintf(name, sizeof name, "case_%04lld.safetensors", static_cast<long long>(index));
  return name;
}

double test_vector_tolerance(DType dtype, std::string_view output) {
  if (dtype == DType::kFloat32) return 1e-5;
  return output == "lse" ? 1e-2 : 2e-2;
}

std::optional<DType> parse_dtype_name(std::string_view name) {
  for (DType dtype : {DType::kFloat16, DType::kBFloat16, DType::kFloat32}) {
    if (dtype_name(dtype) == name) return dtype;
  }
  return std::nullopt;
}

Spec spec_with_dtype_and_head_dim(const Spec& spec, std::optional<DType> dtype,
                                  std::optional<int> head_dim) {
  nlohmann::json object = nlohmann::json::parse(spec.canonical_text());
  if (dtype) object["dtype"] = std::string(dtype_name(*dtype));
  if (head_dim) {
    object["head_dim"] = *head_dim;
    object["head_dim_v"] = *head_dim;
  }
  const std::string where = (spec.name.empty() ? std::string("<spec>") : spec.name) +
                            " (dtype " + std::string(object["dtype"].get<std::string>()) +
                            ", head_dim " + text(object["head_dim"].get<int64_t>()) + ")";
  Spec result = Spec::parse(object.dump(), where);
  result.name = spec.name;
  result.description = spec.description;
  return result;
}

TestVectorCase make_test_vector_case(const Spec& spec, const TestVectorOptions& options,
                                     int64_t index) {
  // One stream per (seed, case): case k is the same whether 5 or 500 cases are generated.
  VectorRandom random(options.seed ^ (0xd1b54a32d192ed03ull * static_cast<uint64_t>(index + 1)));
  const Theme theme = static_cast<Theme>(index % kThemeCount);
  const int64_t reach = largest_constant(*spec.mask);

  TestVectorCase test_case;
  test_case.index = index;
  test_case.theme = theme_name(theme, spec.layout);
  ReferenceInputs& inputs = test_case.inputs;
  switch (spec.layout) {
    case Layout::kDense: inputs.shape = plan_dense(theme, reach, random); break;
    case Layout::kVarlen: inputs.shape = plan_varlen(theme, reach, random); break;
    case Layout::kDocPacked: inputs.shape = plan_doc_packed(theme, reach, random); break;
  }
  test_case.documents = enumerate_documents(inputs.shape);
  std::tie(inputs.heads_q, inputs.heads_kv) = case_heads(options, theme, index);

  const bool large_logits = theme == Theme::kLargeLogits;
  const int64_t q_rows = rows_of(inputs.shape, true);
  const int64_t k_rows = rows_of(inputs.shape, false);
  inputs.q = grid_values(q_rows * inputs.heads_q * spec.head_dim, large_logits ? 16 : 64, random);
  inputs.k = grid_values(k_rows * inputs.heads_kv * spec.head_dim, 64, random);
  inputs.v = grid_values(k_rows * inputs.heads_kv * spec.head_dim_v, 64, random);
  if (spec.backward) {
    inputs.d_o = grid_values(q_rows * inputs.heads_q * spec.head_dim_v, 64, random);
  }
  if (spec.alibi) {
    // The ALiBi paper's slopes 2^(-8 (h + 1) / Hq): powers of two for Hq in {1, 2, 4, 8}.
    for (int64_t h = 0; h < inputs.heads_q; ++h) {
      inputs.alibi_slopes.push_back(static_cast<float>(
          std::exp2(-8.0 * static_cast<double>(h + 1) / static_cast<double>(inputs.heads_q))));
    }
  }
  add_parameters(spec, test_case, reach, random);

  test_case.expected = reference_attention(spec, inputs);
  if (spec.backward && test_case.expected.dk.empty()) {
    // No query rows at all (every document has Lq = 0): d_o is empty, which the reference reads
    // as "forward only". The gradients are zero by the contract.
    test_case.expected.dq.assign(inputs.q.size(), 0.0);
    test_case.expected.dk.assign(inputs.k.size(), 0.0);
    test_case.expected.dv.assign(inputs.v.size(), 0.0);
  }

  note_structure(test_case, reach);
  if (large_logits) {
    test_case.stresses.push_back(
        "large logits: q 4x larger (multiples of 1/16 in [-8, 8]), a peaked softmax");
  }
  note_empty_rows(spec, test_case);
  return test_case;
}

std::vector<std::pair<std::string, HostTensor>> test_vector_tensors(
    const Spec& spec, const TestVectorCase& test_case) {
  const ReferenceInputs& inputs = test_case.inputs;
  const LayoutShape& shape = inputs.shape;
  const ScalarType element = element_type(spec.dtype);
  const auto q_shape = attention_shape(shape, true, inputs.heads_q, spec.head_dim);
  const auto k_shape = attention_shape(shape, false, inputs.heads_kv, spec.head_dim);
  const auto v_shape = attention_shape(shape, false, inputs.heads_kv, spec.head_dim_v);
  const auto o_shape = attention_shape(shape, true, inputs.heads_q, spec.head_dim_v);

  std::vector<std::pair<std::string, HostTensor>> tensors;
  tensors.emplace_back("q", from_double(element, q_shape, inputs.q));
  tensors.emplace_back("k", from_double(element, k_shape, inputs.k));
  tensors.emplace_back("v", from_double(element, v_shape, inputs.v));
  if (spec.backward) tensors.emplace_back("do", from_double(element, o_shape, inputs.d_o));
  for (const auto& [name, array] : layout_arrays(shape)) {
    tensors.emplace_back(name, int32_tensor(array.first, array.second));
  }
  for (const auto& [name, values] : inputs.parameters) {
    tensors.emplace_back(name,
                         int32_tensor(values, {static_cast<int64_t>(values.size())}));
  }
  if (spec.alibi) {
    tensors.emplace_back("alibi_slopes",
                         from_double(ScalarType::kFloat32, {inputs.heads_q}, inputs.alibi_slopes));
  }
  const ReferenceOutputs& expected = test_case.expected;
  tensors.emplace_back("o", from_double(ScalarType::kFloat32, o_shape, expected.o));
  tensors.emplace_back(
      "lse", from_double(ScalarType::kFloat32, lse_shape(shape, inputs.heads_q), expected.lse));
  if (spec.backward) {
    tensors.emplace_back("dq", from_double(ScalarType::kFloat32, q_shape, expected.dq));
    tensors.emplace_back("dk", from_double(ScalarType::kFloat32, k_shape, expected.dk));
    tensors.emplace_back("dv", from_double(ScalarType::kFloat32, v_shape, expected.dv));
  }
  return tensors;
}

void write_test_vectors(
    const Spec& spec, std::string_view spec_file, const TestVectorOptions& options, int64_t count,
    const std::string& directory,
    const std::function<void(const TestVectorCase&, const std::string& path)>& progress) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error || !std::filesystem::is_directory(directory)) {
    throw user_error(ErrorCode::kIo, directory,
                     "cannot create the output directory" +
                         (error ? ": " + error.message() : std::string()));
  }
  const std::string canonical = spec.canonical_text();
  const std::string hash = spec_hash(spec);
  Json cases = Json::array();
  for (int64_t index = 0; index < count; ++index) {
    const TestVectorCase test_case = make_test_vector_case(spec, options, index);
    const std::vector<std::pair<std::string, HostTensor>> tensors =
        test_vector_tensors(spec, test_case);
    std::vector<std::pair<std::string, TensorRef>> refs;
    for (const auto& [name, tensor] : tensors) refs.emplace_back(name, tensor.ref());
    std::string stresses;
    for (const std::string& stress : test_case.stresses) {
      stresses += (stresses.empty() ? "" : "; ") + stress;
    }
    const std::string path = directory + "/" + test_vector_file_name(index);
    write_safetensors(path, refs,
                      {{"format", kFormat},
                       {"spec", canonical},
                       {"hash", hash},
                       {"seed", std::to_string(options.seed)},
                       {"case", text(index)},
                       {"stresses", stresses}});
    cases.push_back(case_manifest(spec, test_case));
    if (progress) progress(test_case, path);
  }
  remove_stale_cases(directory, count);

  Json manifest;
  manifest["format"] = kFormat;
  manifest["spec_file"] = std::string(spec_file);
  if (!spec.description.empty()) manifest["description"] = spec.description;
  manifest["spec"] = Json::parse(canonical);
  manifest["spec_canonical_text"] = canonical;
  manifest["spec_hash"] = hash;
  manifest["softmax_scale"] = spec.scale();
  manifest["seed"] = options.seed;
  manifest["case_count"] = count;
  manifest["tensors"] = {
      {"inputs",
       "q, k, v and do (spec dtype); cu_seqlens_q, cu_seqlens_k, cu_seqlens_q_padded, "
       "cu_seqlens_k_padded, seqlens_q, seqlens_k, cu_seq (int32, those of the layout); one int32 "
       "tensor per mask parameter ([1], or [documents] for $name[doc]); alibi_slopes (float32 "
       "[Hq]) when the spec has alibi"},
      {"expected",
       "o, lse (natural log; -inf on rows that attend nothing), and with backward dq, dk, dv: "
       "float32, from the float64 reference on exactly these inputs"},
      {"values",
       "q, k, v, do are multiples of 1/64 in [-2, 2] (q: of 1/16 in [-8, 8] in large-logit "
       "cases), exact in fp16, bf16 and fp32"},
      {"rules",
       "rows outside every document: o = 0, lse = -inf, dq = 0; keys nobody attends: dk = dv = 0 "
       "exactly; no NaN anywhere"}};
  Json tolerances;
  tolerances["metric"] =
      "max |actual - expected| / max |expected| over the finite elements of each output; "
      "infinities must match exactly";
  for (DType dtype : {DType::kFloat32, DType::kBFloat16, DType::kFloat16}) {
    Json per_output;
    for (const char* output : {"o", "lse", "dq", "dk", "dv"}) {
      per_output[output] = test_vector_tolerance(dtype, output);
    }
    tolerances[std::string(dtype_name(dtype))] = per_output;
  }
  manifest["tolerances"] = tolerances;
  manifest["cases"] = cases;
  write_text_file_atomically(directory + "/manifest.json", manifest.dump(1) + "\n");
}

}  // namespace attncc
