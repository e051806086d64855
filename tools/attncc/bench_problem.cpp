// Problems for `attncc bench` (see bench_problem.h).
#include "tools/attncc/bench_problem.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "attncc/error.h"
#include "attncc/interval_form.h"

namespace attncc::cli {
namespace {

// Documents per row of the packed families; MAX_DOCS leaves room for sentinels, as real
// data loaders size cu_seq for the worst row.
constexpr int64_t kPackedDocuments = 8;
constexpr int64_t kPackedMaxDocs = 10;

struct FamilyLayout {
  Layout layout;
  const char* mask;
};

FamilyLayout family_layout(const std::string& family) {
  if (family == "full") return {Layout::kDense, "full"};
  if (family == "causal") return {Layout::kDense, "causal"};
  if (family == "doc_packed") return {Layout::kDocPacked, "causal"};
  if (family == "window") return {Layout::kDense, "causal & window(256, 0)"};
  if (family == "prefix_lm") return {Layout::kVarlen, "prefix($p[doc])"};
  std::string names;
  for (const BenchFamily& known : bench_families()) {
    names += (names.empty() ? "" : ", ") + known.name;
  }
  throw user_error(ErrorCode::kInvalidArgument, "--specs", "unknown spec '" + family + "'",
                   "choose from " + names);
}

ScalarType element_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat16: return ScalarType::kFloat16;
    case DType::kBFloat16: return ScalarType::kBFloat16;
    case DType::kFloat32: return ScalarType::kFloat32;
  }
  return ScalarType::kFloat32;
}

uint16_t to_bfloat16_bits(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even (inputs are finite)
  return static_cast<uint16_t>(bits >> 16);
}

int64_t ceil_divide(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Attended keys of row i: the union of the exact intervals whose row condition holds.
int64_t attended_in_row(const IntervalForm& form, const MaskContext& context, int64_t i) {
  std::vector<std::pair<int64_t, int64_t>> all;
  for (const Interval& interval : form.intervals) {
    if (interval.row_condition && !evaluate(*interval.row_condition, context, i, 0)) continue;
    int64_t lo = std::max<int64_t>(0, lower_bound_at(interval, context, i));
    int64_t hi = std::min<int64_t>(context.key_length - 1, upper_bound_at(interval, context, i));
    if (lo <= hi) all.push_back({lo, hi});
  }
  std::sort(all.begin(), all.end());
  int64_t total = 0;
  int64_t covered_to = -1;  // last column already counted
  for (const auto& [lo, hi] : all) {
    int64_t start = std::max(lo, covered_to + 1);
    if (hi >= start) total += hi - start + 1;
    covered_to = std::max(covered_to, hi);
  }
  return total;
}

}  // namespace

const std::vector<BenchFamily>& bench_families() {
  static const std::vector<BenchFamily> families = {
      {"full", "dense baseline: mask 'full', dense layout, one S x S document per row"},
      {"causal", "mask 'causal', dense layout [1, S, H, D]"},
      {"doc_packed", "mask 'causal', doc_packed layout: 8 uneven documents in one row of S, "
                     "MAX_DOCS 10 (2 sentinels)"},
      {"window", "mask 'causal & window(256, 0)' (sliding window), dense layout"},
      {"prefix_lm", "mask 'prefix($p[doc])', varlen layout: 8 uneven documents, p = a quarter "
                    "of each"},
  };
  return families;
}

Spec bench_spec(const std::string& family, DType dtype, int head_dim) {
  FamilyLayout chosen = family_layout(family);
  nlohmann::json text = {{"name", family},
                         {"layout", std::string(layout_name(chosen.layout))},
                         {"dtype", std::string(dtype_name(dtype))},
                         {"head_dim", head_dim},
                         {"mask", chosen.mask},
                         {"outputs", {"o", "lse"}},
                         {"backward", true}};
  return Spec::parse(text.dump(), "<bench " + family + ">");
}

double WorkCount::skipped_fraction() const {
  if (dense_tiles == 0) return 0.0;
  return 1.0 - static_cast<double>(visited_tiles) / static_cast<double>(dense_tiles);
}

double WorkCount::skipped_area_fraction() const {
  if (dense_pairs == 0) return 0.0;
  return 1.0 - static_cast<double>(computed_pairs) / static_cast<double>(dense_pairs);
}

std::vector<int64_t> uneven_lengths(int64_t total, int64_t count) {
  // Fixed weights in [0.5, 1.5) from a small LCG: the same split every run.
  std::vector<double> weights;
  uint64_t state = 12345;
  double sum = 0;
  for (int64_t index = 0; index < count; ++index) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    double weight = 0.5 + static_cast<double>(state >> 11) / 9007199254740992.0;
    weights.push_back(weight);
    sum += weight;
  }
  std::vector<int64_t> lengths;
  int64_t used = 0;
  for (int64_t index = 0; index < count; ++index) {
    int64_t length = index + 1 == count
                         ? total - used
                         : std::max<int64_t>(1, static_cast<int64_t>(weights[index] / sum * total));
    lengths.push_back(length);
    used += length;
  }
  return lengths;
}

BenchProblem::BenchProblem(const std::string& family, const Spec& spec, const BenchShape& shape)
    : family_(family), spec_(spec), shape_(shape) {
  const int64_t s = shape.seqlen;
  layout_.layout = spec.layout;
  layout_.batch = 1;
  layout_.query_rows = s;
  layout_.key_rows = s;
  std::vector<int64_t> lengths = {s};
  if (spec.layout != Layout::kDense) lengths = uneven_lengths(s, std::min(kPackedDocuments, s));
  std::vector<int64_t> offsets = {0};
  for (int64_t length : lengths) offsets.push_back(offsets.back() + length);
  if (spec.layout == Layout::kVarlen) {
    layout_.cu_seqlens_q = offsets;
    layout_.cu_seqlens_k = offsets;
  } else if (spec.layout == Layout::kDocPacked) {
    layout_.max_docs = kPackedMaxDocs;
    layout_.cu_seq = offsets;
    layout_.cu_seq.resize(kPackedMaxDocs + 1, s);  // sentinels: zero-length documents at S
  }
  documents_ = enumerate_documents(layout_);
  for (const auto& [name, per_document] : spec.parameters) {
    // The only parameterised family is prefix-LM: a quarter of each document is the prefix.
    std::vector<int64_t> values(document_count(layout_), 0);
    for (const Document& document : documents_) values[document.index] = document.query_length / 4;
    parameters_[name] =
        per_document ? values : std::vector<int64_t>{values.empty() ? 0 : values[0]};
  }

  storage_.reserve(32);  // views into storage_ must not move
  const int64_t rows = s;
  arguments_.q = attention_tensor(storage_.emplace_back(), rows, spec.head_dim, true);
  arguments_.k = attention_tensor(storage_.emplace_back(), rows, spec.head_dim, true);
  arguments_.v = attention_tensor(storage_.emplace_back(), rows, spec.head_dim_v, true);
  arguments_.d_o = attention_tensor(storage_.emplace_back(), rows, spec.head_dim_v, true);
  arguments_.o = attention_tensor(storage_.emplace_back(), rows, spec.head_dim_v, false);
  arguments_.dq = attention_tensor(storage_.emplace_back(), rows, spec.head_dim, false);
  arguments_.dk = attention_tensor(storage_.emplace_back(), rows, spec.head_dim, false);
  arguments_.dv = attention_tensor(storage_.emplace_back(), rows, spec.head_dim_v, false);
  std::vector<int64_t> lse_shape = spec.layout == Layout::kVarlen
                                       ? std::vector<int64_t>{shape.heads, rows}
                                       : std::vector<int64_t>{1, shape.heads, rows};
  Bytes& lse = storage_.emplace_back(static_cast<size_t>(shape.heads * rows) * sizeof(float), 0);
  arguments_.lse = TensorRef::cpu(lse.data(), ScalarType::kFloat32, lse_shape);
  auto one_d = [&](const std::vector<int64_t>& values) {
    return int32_tensor(storage_.emplace_back(), values, {static_cast<int64_t>(values.size())});
  };
  if (!layout_.cu_seqlens_q.empty()) {
    arguments_.cu_seqlens_q = one_d(layout_.cu_seqlens_q);
    arguments_.cu_seqlens_k = one_d(layout_.cu_seqlens_k);
  }
  if (!layout_.cu_seq.empty()) {
    arguments_.cu_seq =
        int32_tensor(storage_.emplace_back(), layout_.cu_seq, {1, kPackedMaxDocs + 1});
  }
  for (const auto& [name, values] : parameters_) arguments_.parameters[name] = one_d(values);
}

// [1, S, H, width] (dense, doc_packed) or [S, H, width] (varlen) in the spec's dtype; inputs
// random in [-1, 1), outputs zero-filled so their pages are touched before anything is timed.
TensorRef BenchProblem::attention_tensor(Bytes& storage, int64_t rows, int width, bool random) {
  const ScalarType type = element_type(spec_.dtype);
  const int64_t count = rows * shape_.heads * width;
  storage.assign(static_cast<size_t>(count) * scalar_type_size(type), 0);
  if (random) {
    for (int64_t index = 0; index < count; ++index) {
      random_state_ ^= random_state_ << 13;
      random_state_ ^= random_state_ >> 7;
      random_state_ ^= random_state_ << 17;
      float value = static_cast<float>(static_cast<double>(random_state_ >> 40) / 8388608.0 - 1.0);
      switch (type) {
        case ScalarType::kBFloat16: {
          uint16_t bits = to_bfloat16_bits(value);
          std::memcpy(storage.data() + index * 2, &bits, 2);
          break;
        }
        case ScalarType::kFloat16: {
          _Float16 half = static_cast<_Float16>(value);
          std::memcpy(storage.data() + index * 2, &half, 2);
          break;
        }
        default: std::memcpy(storage.data() + index * 4, &value, 4); break;
      }
    }
  }
  std::vector<int64_t> tensor_shape = {rows, shape_.heads, width};
  if (spec_.layout != Layout::kVarlen) tensor_shape.insert(tensor_shape.begin(), 1);
  return TensorRef::cpu(storage.data(), type, tensor_shape);
}

TensorRef BenchProblem::int32_tensor(Bytes& storage, const std::vector<int64_t>& values,
                                     std::vector<int64_t> shape) {
  storage.assign(values.size() * sizeof(int32_t), 0);
  for (size_t index = 0; index < values.size(); ++index) {
    int32_t value = static_cast<int32_t>(values[index]);
    std::memcpy(storage.data() + index * sizeof(int32_t), &value, sizeof(int32_t));
  }
  return TensorRef::cpu(storage.data(), ScalarType::kInt32, std::move(shape));
}

int64_t BenchProblem::real_documents() const {
  return std::count_if(documents_.begin(), documents_.end(),
                       [](const Document& document) { return document.query_length > 0; });
}

WorkCount BenchProblem::count_work(int64_t tile_q, int64_t tile_k) const {
  const IntervalForm form = build_interval_form(spec_.mask);
  WorkCount work;
  work.dense_tiles = layout_.batch * ceil_divide(layout_.query_rows, tile_q) *
                     ceil_divide(layout_.key_rows, tile_k);
  work.dense_pairs = layout_.batch * layout_.query_rows * layout_.key_rows;
  for (const Document& document : documents_) {
    if (document.query_length == 0 || document.key_length == 0) continue;
    MaskContext context{document.query_length, document.key_length, {}};
    for (const auto& [name, values] : parameters_) {
      context.parameters[name] = values.size() == 1 ? values[0] : values[document.index];
    }
    for (int64_t i0 = 0; i0 < context.query_length; i0 += tile_q) {
      const int64_t i1 = std::min(context.query_length, i0 + tile_q) - 1;
      for (const TileRange& range : key_tiles_to_visit(form, context, i0, i1, tile_k)) {
        const int64_t j0 = range.first * tile_k;
        const int64_t j1 = std::min(context.key_length, (range.last + 1) * tile_k) - 1;
        work.visited_tiles += range.last - range.first + 1;
        work.computed_pairs += (i1 - i0 + 1) * (j1 - j0 + 1);
        if (form.exact()) continue;
        // Inexact forms: evaluate the predicate, but only inside visited tiles (the form is a
        // sound superset, so nothing outside them is attended).
        for (int64_t i = i0; i <= i1; ++i) {
          for (int64_t j = j0; j <= j1; ++j) {
            work.attended_pairs += evaluate(*spec_.mask, context, i, j) ? 1 : 0;
          }
        }
      }
    }
    if (form.exact()) {
      for (int64_t i = 0; i < context.query_length; ++i) {
        work.attended_pairs += attended_in_row(form, context, i);
      }
    }
  }
  return work;
}

}  // namespace attncc::cli
