// Running generated CPU kernels (see cpu_launch.h).
#include "runtime/cpu/cpu_launch.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <queue>
#include <vector>

namespace attncc {
namespace {

int64_t ceil_divide(int64_t a, int64_t b) { return (a + b - 1) / b; }

constexpr int64_t kScratchLimitFloats = (int64_t{512} << 20) / int64_t(sizeof(float));

WorkItem make_item(const ValidatedProblem& problem, size_t document_index, int head, int64_t tile) {
  const Document& document = problem.documents[document_index];
  WorkItem item{};
  item.batch = document.batch;
  item.query_start = document.query_start;
  item.query_length = document.query_length;
  item.key_start = document.key_start;
  item.key_length = document.key_length;
  item.parameters = problem.parameter_slots == 0
                        ? nullptr
                        : problem.parameter_values.data() + document_index * problem.parameter_slots;
  item.head = head;
  item.tile = static_cast<int>(tile);
  return item;
}

// For each batch row, which rows of a sequence dimension belong to some document.
std::vector<std::vector<bool>> covered_rows(const ValidatedProblem& problem, bool query_side) {
  int64_t rows = query_side ? problem.shape.query_rows : problem.shape.key_rows;
  std::vector<std::vector<bool>> covered(problem.shape.batch, std::vector<bool>(rows, false));
  for (const Document& document : problem.documents) {
    int64_t start = query_side ? document.query_start : document.key_start;
    int64_t length = query_side ? document.query_length : document.key_length;
    for (int64_t row = start; row < start + length; ++row) covered[document.batch][row] = true;
  }
  return covered;
}

// Zeroes the given rows of a [batch, row, head, dim] tensor (all-zero bits are 0 in every dtype).
void zero_rows(const TensorRef& tensor, Layout layout, const std::vector<std::vector<bool>>& covered,
               int64_t heads) {
  TensorAddress address = tensor_address(tensor, layout);
  const size_t element = scalar_type_size(tensor.dtype);
  const int64_t width = tensor.shape.back();
  for (size_t batch = 0; batch < covered.size(); ++batch) {
    for (size_t row = 0; row < covered[batch].size(); ++row) {
      if (covered[batch][row]) continue;
      for (int64_t head = 0; head < heads; ++head) {
        char* pointer = static_cast<char*>(tensor.data) +
                        (batch * address.stride_batch + row * address.stride_row +
                         head * address.stride_head) * element;
        std::memset(pointer, 0, width * element);
      }
    }
  }
}

AttentionParams make_params(const Spec& spec, const AttentionArguments& arguments,
                            const ValidatedProblem& problem) {
  AttentionParams params{};
  params.q = tensor_address(arguments.q, spec.layout);
  params.k = tensor_address(arguments.k, spec.layout);
  params.v = tensor_address(arguments.v, spec.layout);
  params.o = tensor_address(arguments.o, spec.layout);
  if (arguments.d_o.given()) params.d_o = tensor_address(arguments.d_o, spec.layout);
  if (arguments.dq.given()) params.dq = tensor_address(arguments.dq, spec.layout);
  if (arguments.dk.given()) params.dk = tensor_address(arguments.dk, spec.layout);
  if (arguments.dv.given()) params.dv = tensor_address(arguments.dv, spec.layout);
  params.lse = static_cast<float*>(arguments.lse.data);
  params.query_rows = problem.shape.query_rows;
  params.heads_q = static_cast<int>(problem.heads_q);
  params.heads_kv = static_cast<int>(problem.heads_kv);
  params.scale = static_cast<float>(spec.scale());
  params.softcap = static_cast<float>(spec.softcap);
  params.alibi_slopes = static_cast<const float*>(arguments.alibi_slopes.data);
  params.accumulate = arguments.accumulate ? 1 : 0;
  return params;
}

void run_items(ThreadPool& pool, CpuEntryPoint entry, const AttentionParams& params,
               const std::vector<WorkItem>& items) {
  pool.parallel_for(static_cast<int64_t>(items.size()), [&](int64_t begin, int64_t end) {
    entry(&params, items.data() + begin, end - begin);
  });
}

// Forward and dQ passes: one item per (document with rows, query head, query tile).
std::vector<WorkItem> query_tile_items(const ValidatedProblem& problem, int tile_q) {
  std::vector<WorkItem> items;
  for (size_t index = 0; index < problem.documents.size(); ++index) {
    int64_t tiles = ceil_divide(problem.documents[index].query_length, tile_q);
    for (int head = 0; head < problem.heads_q; ++head) {
      for (int64_t tile = 0; tile < tiles; ++tile) items.push_back(make_item(problem, index, head, tile));
    }
  }
  return items;
}

// Wall time, in work units, of parallel_for over `parts` equal pieces of each item, listed item
// by item as the split schedules list them: the pool hands out ThreadPool::chunk_size
// pieces at a time, in order, to whichever thread is free first (greedy list scheduling).
double estimated_makespan(const std::vector<double>& item_work, int64_t parts, int threads) {
  const int64_t pieces = static_cast<int64_t>(item_work.size()) * parts;
  const int64_t chunk = ThreadPool::chunk_size(pieces, threads);
  std::priority_queue<double, std::vector<double>, std::greater<double>> free_at;
  for (int thread = 0; thread < threads; ++thread) free_at.push(0.0);
  double makespan = 0.0;
  auto hand_out = [&](double work) {
    const double finish = free_at.top() + work;
    free_at.pop();
    free_at.push(finish);
    makespan = std::max(makespan, finish);
  };
  double chunk_work = 0.0;
  int64_t chunk_pieces = 0;
  for (double work : item_work) {
    for (int64_t left = parts; left > 0;) {
      const int64_t taken = std::min(left, chunk - chunk_pieces);
      chunk_work += work * double(taken) / double(parts);
      chunk_pieces += taken;
      left -= taken;
      if (chunk_pieces == chunk) {
        hand_out(chunk_work);
        chunk_work = 0.0;
        chunk_pieces = 0;
      }
    }
  }
  if (chunk_pieces > 0) hand_out(chunk_work);
  return makespan;
}

// Splitting costs extra passes (the split backward's delta and reduction, the split forward's
// merge) and all parts' scratch at once: 0-1% measured (one thread, causal S 2048 D 128
// backward: 26.5 against 26.3 ms); a split must win by more than 10% to be taken.
constexpr double kSplitCost = 1.1;

// Tries 2 to min(threads, key_tiles) parts per item (every count up to 16, then steps of a
// quarter, and the largest; more parts than the longest document's key tiles would be empty
// for every document) while all parts' scratch (parts x part_scratch floats) fits the limit.
// Returns the parts whose kSplitCost x estimated_makespan beats best_time, lowering best_time
// to it; 0 when none does, at once when best_time is within kSplitCost x an even share.
int64_t cheapest_split(const std::vector<double>& item_work, int threads, int64_t key_tiles,
                       int64_t part_scratch, double& best_time) {
  double total_work = 0.0;
  for (double work : item_work) total_work += work;
  if (best_time <= kSplitCost * total_work / threads) return 0;
  const int64_t most_parts = std::min<int64_t>(threads, key_tiles);
  int64_t best_parts = 0;
  for (int64_t parts = 2; parts <= most_parts;
       parts = parts < 16 ? parts + 1 : std::min(most_parts, std::max(parts + 1, parts * 5 / 4))) {
    if (parts * part_scratch > kScratchLimitFloats) break;  // grows with the parts
    const double split_time = kSplitCost * estimated_makespan(item_work, parts, threads);
    if (split_time < best_time) {
      best_parts = parts;
      best_time = split_time;
    }
    if (parts == most_parts) break;
  }
  return best_parts;
}

// The kFusedSplit schedule: the rows' delta, then every part of every item (each with its own dQ
// scratch, so the entry point takes one item per call), then the sum of each item's parts.
void run_split_fused_backward(const CpuEntryPoints& entries, CpuTiles tiles, int head_dim,
                              const AttentionParams& params, const CpuBackwardPlan& plan,
                              std::vector<WorkItem>& items, ThreadPool& pool) {
  const int parts = plan.key_parts;
  const int64_t group = params.heads_q / params.heads_kv;
  // Each item's parts lie one after another: parts x group x rounded rows x D floats.
  std::vector<int64_t> scratch_offset(items.size() + 1, 0);
  for (size_t index = 0; index < items.size(); ++index) {
    const int64_t rows = ceil_divide(items[index].query_length, tiles.query) * tiles.query;
    scratch_offset[index + 1] = scratch_offset[index] + parts * group * rows * head_dim;
  }
  // Uninitialised: each part zeroes its own.
  std::unique_ptr<float[]> scratch(new float[std::max<int64_t>(1, scratch_offset.back())]);
  for (WorkItem& item : items) item.parts = parts;
  run_items(pool, entries.backward_delta, params, items);
  const int64_t part_count = static_cast<int64_t>(items.size()) * parts;
  pool.parallel_for(part_count, [&](int64_t begin, int64_t end) {
    for (int64_t index = begin; index < end; ++index) {
      const size_t item_index = static_cast<size_t>(index / parts);
      WorkItem part = items[item_index];
      part.part = static_cast<int>(index % parts);
      const int64_t part_floats =
          (scratch_offset[item_index + 1] - scratch_offset[item_index]) / parts;
      entries.backward_fused(&params, &part, 1,
                             scratch.get() + scratch_offset[item_index] + part.part * part_floats);
    }
  });
  pool.parallel_for(static_cast<int64_t>(items.size()), [&](int64_t begin, int64_t end) {
    for (int64_t index = begin; index < end; ++index) {
      entries.backward_reduce_dq(&params, &items[index], 1, scratch.get() + scratch_offset[index]);
    }
  });
}

}  // namespace

CpuForwardPlan plan_cpu_forward(const ValidatedProblem& problem, CpuTiles tiles,
                                int head_dim_v, int threads, CpuForwardSchedule schedule) {
  threads = std::max(1, threads);
  // In the order of query_tile_items, leaving out work-free items (documents without keys) so
  // that sentinel documents never change the plan, nor with it the results' last bits.
  std::vector<double> item_work;
  int64_t largest_key_length = 0;
  int64_t query_tiles = 0;  // over the documents
  for (const Document& document : problem.documents) {
    const int64_t tiles_of_document = ceil_divide(document.query_length, tiles.query);
    query_tiles += tiles_of_document;
    largest_key_length = std::max(largest_key_length, document.key_length);
    for (int64_t head = 0; head < problem.heads_q; ++head) {
      for (int64_t tile = 0; tile < tiles_of_document; ++tile) {
        const int64_t rows = std::min<int64_t>(tiles.query, document.query_length - tile * tiles.query);
        if (document.key_length > 0) item_work.push_back(double(rows) * double(document.key_length));
      }
    }
  }
  // Per part: every query tile of every head.
  const int64_t part_scratch = query_tiles * problem.heads_q * tiles.query * (head_dim_v + 2);
  CpuForwardPlan plan;
  auto use_split = [&](int64_t parts) {
    plan.schedule = CpuForwardSchedule::kSplit;
    plan.key_parts = static_cast<int>(parts);
    plan.scratch_floats = parts * part_scratch;
  };
  switch (schedule) {
    case CpuForwardSchedule::kTiles: return plan;
    case CpuForwardSchedule::kSplit: use_split(std::max(2, threads)); return plan;
    case CpuForwardSchedule::kAuto: break;
  }
  double best_time = estimated_makespan(item_work, 1, threads);
  if (const int64_t parts = cheapest_split(item_work, threads,
                                           ceil_divide(largest_key_length, tiles.key),
                                           part_scratch, best_time)) {
    use_split(parts);
  }
  return plan;
}

void run_cpu_forward(const Spec& spec, const CpuEntryPoints& entries, CpuTiles tiles,
                     CpuForwardSchedule schedule, const AttentionArguments& arguments,
                     ThreadPool& pool) {
  ValidatedProblem problem = validate_arguments(spec, arguments, Pass::kForward, DeviceKind::kCpu);
  AttentionParams params = make_params(spec, arguments, problem);
  // Rows outside every document: O = 0, LSE = -inf (the kernels write every document row).
  std::vector<std::vector<bool>> covered = covered_rows(problem, true);
  zero_rows(arguments.o, spec.layout, covered, problem.heads_q);
  if (params.lse != nullptr) {
    const float minus_infinity = -std::numeric_limits<float>::infinity();
    for (int64_t batch = 0; batch < problem.shape.batch; ++batch) {
      for (int64_t head = 0; head < problem.heads_q; ++head) {
        float* row = params.lse + (batch * problem.heads_q + head) * problem.shape.query_rows;
        for (int64_t index = 0; index < problem.shape.query_rows; ++index) {
          if (!covered[batch][index]) row[index] = minus_infinity;
        }
      }
    }
  }
  const std::vector<WorkItem> items = query_tile_items(problem, tiles.query);
  const CpuForwardPlan plan =
      plan_cpu_forward(problem, tiles, spec.head_dim_v, pool.size(), schedule);
  if (plan.schedule != CpuForwardSchedule::kSplit) {
    run_items(pool, entries.forward, params, items);
    return;
  }
  // Split: every part of every query tile into its own rows of scratch (so the entry point
  // takes one item per call), then the merge of each tile's parts.
  const int parts = plan.key_parts;
  const int64_t part_floats = int64_t{tiles.query} * (spec.head_dim_v + 2);
  std::unique_ptr<float[]> partial(new float[std::max<int64_t>(1, plan.scratch_floats)]);
  const int64_t part_count = static_cast<int64_t>(items.size()) * parts;
  pool.parallel_for(part_count, [&](int64_t begin, int64_t end) {
    for (int64_t index = begin; index < end; ++index) {
      WorkItem part = items[static_cast<size_t>(index / parts)];
      part.part = static_cast<int>(index % parts);
      part.parts = parts;
      entries.forward_split(&params, &part, 1, partial.get() + index * part_floats);
    }
  });
  pool.parallel_for(static_cast<int64_t>(items.size()), [&](int64_t begin, int64_t end) {
    for (int64_t index = begin; index < end; ++index) {
      WorkItem tile = items[static_cast<size_t>(index)];
      tile.parts = parts;
      entries.forward_combine(&params, &tile, 1, partial.get() + index * parts * part_floats);
    }
  });
}

CpuBackwardPlan plan_cpu_backward(const ValidatedProblem& problem, CpuTiles tiles, int head_dim,
                                  int threads, CpuBackwardSchedule schedule) {
  threads = std::max(1, threads);
  const int64_t group = problem.heads_q / problem.heads_kv;
  // In the order of run_cpu_backward's items, leaving out work-free ones (empty documents) so
  // that sentinel documents never change the plan, nor with it dQ's summation order.
  std::vector<double> item_work;
  double total_work = 0.0;
  int64_t largest_query_length = 0;
  int64_t largest_key_length = 0;
  int64_t rounded_query_rows = 0;  // over the documents
  for (const Document& document : problem.documents) {
    const double work = double(document.query_length) * double(document.key_length) * double(group);
    for (int64_t head = 0; head < problem.heads_kv && work > 0; ++head) item_work.push_back(work);
    total_work += work * double(problem.heads_kv);
    largest_query_length = std::max(largest_query_length, document.query_length);
    largest_key_length = std::max(largest_key_length, document.key_length);
    rounded_query_rows += ceil_divide(document.query_length, tiles.query) * tiles.query;
  }
  const int64_t fused_scratch =
      ceil_divide(largest_query_length, tiles.query) * tiles.query * group * head_dim;
  // Per part: every document's rounded rows for every query head.
  const int64_t part_scratch = rounded_query_rows * problem.heads_q * head_dim;
  const int64_t items = static_cast<int64_t>(item_work.size());
  const int64_t busy_threads = std::max<int64_t>(1, std::min<int64_t>(threads, items));

  CpuBackwardPlan plan;
  auto use_fused = [&] {
    plan.schedule = CpuBackwardSchedule::kFused;
    plan.key_parts = 1;
    plan.scratch_floats = fused_scratch;
  };
  auto use_split = [&](int64_t parts) {
    plan.schedule = CpuBackwardSchedule::kFusedSplit;
    plan.key_parts = static_cast<int>(parts);
    plan.scratch_floats = parts * part_scratch;
  };
  switch (schedule) {
    case CpuBackwardSchedule::kFused: use_fused(); return plan;
    case CpuBackwardSchedule::kFusedSplit: use_split(std::max(2, threads)); return plan;
    case CpuBackwardSchedule::kTwoPass: return plan;
    case CpuBackwardSchedule::kAuto: break;
  }
  // Estimated wall times in work units. The two-pass schedule splits into tiles, so it
  // balances, at 1.5x the fused one's time for the same work (one thread, causal S 2048 bf16:
  // 40.8 against 26.1 ms at D 128, 21.3 against 13.6 ms at D 64: 7 tile products against 5, and
  // twice the exps).
  constexpr double kTwoPassCost = 1.5;
  const double even_share = total_work / threads;
  double best_time = kTwoPassCost * even_share;  // the two-pass plan, which needs no scratch
  if (fused_scratch * busy_threads <= kScratchLimitFloats) {
    const double fused_time = estimated_makespan(item_work, 1, threads);
    if (fused_time <= best_time) {
      use_fused();
      best_time = fused_time;
    }
  }
  if (const int64_t parts = cheapest_split(item_work, threads,
                                           ceil_divide(largest_key_length, tiles.key),
                                           part_scratch, best_time)) {
    use_split(parts);
  }
  return plan;
}

void run_cpu_backward(const Spec& spec, const CpuEntryPoints& entries, CpuTiles tiles,
                      CpuBackwardSchedule schedule, const AttentionArguments& arguments,
                      ThreadPool& pool) {
  ValidatedProblem problem = validate_arguments(spec, arguments, Pass::kBackward, DeviceKind::kCpu);
  AttentionParams params = make_params(spec, arguments, problem);
  std::vector<float> delta(static_cast<size_t>(problem.shape.batch * problem.heads_q *
                                               problem.shape.query_rows));
  params.delta = delta.data();
  if (!arguments.accumulate) {
    zero_rows(arguments.dq, spec.layout, covered_rows(problem, true), problem.heads_q);
    std::vector<std::vector<bool>> keys = covered_rows(problem, false);
    zero_rows(arguments.dk, spec.layout, keys, problem.heads_kv);
    zero_rows(arguments.dv, spec.layout, keys, problem.heads_kv);
  }
  const CpuBackwardPlan plan =
      plan_cpu_backward(problem, tiles, spec.head_dim, pool.size(), schedule);
  // The fused schedules have one item per (document, key/value head), empty documents included:
  // they write the zeros of their dQ rows or their dK/dV rows.
  std::vector<WorkItem> items;
  if (plan.schedule != CpuBackwardSchedule::kTwoPass) {
    for (size_t index = 0; index < problem.documents.size(); ++index) {
      for (int head = 0; head < problem.heads_kv; ++head) {
        items.push_back(make_item(problem, index, head, 0));
      }
    }
  }
  if (plan.schedule == CpuBackwardSchedule::kFused) {
    pool.parallel_for(static_cast<int64_t>(items.size()), [&](int64_t begin, int64_t end) {
      // Uninitialised: each item zeroes the part it uses.
      std::unique_ptr<float[]> scratch(new float[std::max<int64_t>(1, plan.scratch_floats)]);
      entries.backward_fused(&params, items.data() + begin, end - begin, scratch.get());
    });
    return;
  }
  if (plan.schedule == CpuBackwardSchedule::kFusedSplit) {
    run_split_fused_backward(entries, tiles, spec.head_dim, params, plan, items, pool);
    return;
  }
  // Pass 1 writes delta, which pass 2 reads: they run one after the other.
  run_items(pool, entries.backward_dq, params, query_tile_items(problem, tiles.query));
  std::vector<WorkItem> key_items;
  for (size_t index = 0; index < problem.documents.size(); ++index) {
    int64_t key_tiles = ceil_divide(problem.documents[index].key_length, tiles.key);
    for (int head = 0; head < problem.heads_kv; ++head) {
      for (int64_t tile = 0; tile < key_tiles; ++tile) key_items.push_back(make_item(problem, index, head, tile));
    }
  }
  run_items(pool, entries.backward_dkdv, params, key_items);
}

}  // namespace attncc
