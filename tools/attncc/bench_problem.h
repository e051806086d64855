// Problems for `attncc bench`: the benchmarked mask families as in-memory specs, their layouts
// with real buffers (AttentionArguments ready to pass to Kernel::forward/backward), and the
// work the interval form says each one does (tiles visited, attended pairs) for FLOP counts.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attncc/layout.h"
#include "attncc/runtime.h"
#include "attncc/spec.h"

namespace attncc::cli {

/// Sizes shared by every problem of one bench run.
struct BenchShape {
  int64_t seqlen = 2048;  ///< S: tokens per row (dense, doc_packed) or in total (varlen)
  int64_t heads = 8;      ///< Hq = Hkv
  int head_dim = 128;
  DType dtype = DType::kBFloat16;
};

/// One benchmarked family: how to build its spec and its documents.
struct BenchFamily {
  std::string name;         ///< as given to --specs
  std::string description;  ///< one line for --help and the table's legend
};

/// The families --specs accepts, in table order; "full" is the dense baseline and always runs.
const std::vector<BenchFamily>& bench_families();

/// The spec of a family (backward included) for the given dtype and head dim, parsed from JSON
/// text. Throws Error(kInvalidArgument) for an unknown family name.
Spec bench_spec(const std::string& family, DType dtype, int head_dim);

/// What the kernels compute for a problem, from the interval form (per head; multiply by heads).
struct WorkCount {
  int64_t dense_tiles = 0;      ///< tiles of one S x S dense attention per row, times rows
  int64_t visited_tiles = 0;    ///< tiles the kernels' tile iteration visits
  int64_t dense_pairs = 0;      ///< S * S per row, times rows
  int64_t computed_pairs = 0;   ///< elements of the visited tiles
  int64_t attended_pairs = 0;   ///< (i, j) with M(i, j), documents respected
  /// 1 - visited / dense tiles. Negative when documents shorter than a tile each start their
  /// own tiles (8 documents of 8 tokens visit 8 tiles where dense has 1).
  double skipped_fraction() const;
  /// 1 - computed / dense pairs: the share of the dense area in no visited tile, in [0, 1].
  double skipped_area_fraction() const;
};

/// A problem with its buffers. Not copyable (the arguments point into the buffers).
class BenchProblem {
 public:
  BenchProblem(const std::string& family, const Spec& spec, const BenchShape& shape);
  BenchProblem(const BenchProblem&) = delete;
  BenchProblem& operator=(const BenchProblem&) = delete;

  const std::string& family() const { return family_; }
  const Spec& spec() const { return spec_; }
  const LayoutShape& layout() const { return layout_; }
  const std::vector<Document>& documents() const { return documents_; }
  /// Documents with at least one token (sentinels left out).
  int64_t real_documents() const;
  /// Arguments for forward and backward (all outputs and gradients given).
  const AttentionArguments& arguments() const { return arguments_; }
  /// Counts tiles and pairs with the CPU kernels' tile sizes (query x key).
  WorkCount count_work(int64_t tile_q, int64_t tile_k) const;

 private:
  using Bytes = std::vector<uint8_t>;
  TensorRef attention_tensor(Bytes& storage, int64_t rows, int width, bool random);
  TensorRef int32_tensor(Bytes& storage, const std::vector<int64_t>& values,
                         std::vector<int64_t> shape);

  std::string family_;
  Spec spec_;
  BenchShape shape_;
  LayoutShape layout_;
  std::vector<Document> documents_;
  std::map<std::string, std::vector<int64_t>> parameters_;  ///< per-document values by name
  std::vector<Bytes> storage_;  ///< every buffer; reserved up front so views stay valid
  AttentionArguments arguments_;
  uint64_t random_state_ = 0x9e3779b97f4a7c15ull;
};

/// Uneven document lengths (between about half and one and a half times S / count) that sum
/// to `total`: packed training batches are never evenly split, and even splits would line
/// documents up with tiles.
std::vector<int64_t> uneven_lengths(int64_t total, int64_t count);

}  // namespace attncc::cli
