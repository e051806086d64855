// CPU attention kernels (DESIGN §4 "CPU"): one work item = one document x head x tile, fp32
// tiles and accumulation, interval-form tile iteration, inner loops over D and key columns laid
// out so the compiler vectorises them. Instantiated by the generated prelude (lower_to_cpu.cpp)
// with its Config (element type, head dims, tile sizes, score options) and Mask.
#pragma once

#include "common/attention_params.h"
#include "common/numeric.h"
#include "common/tile_iteration.h"
#include "cpu/polynomial_exp.h"

namespace attncc::cpu {

template <typename Element>
inline const Element* row_pointer(const TensorAddress& tensor, kernel_int batch, kernel_int row,
                                  int head) {
  return static_cast<const Element*>(tensor.data) + batch * tensor.stride_batch +
         row * tensor.stride_row + head * tensor.stride_head;
}

template <typename Element>
inline Element* mutable_row_pointer(const TensorAddress& tensor, kernel_int batch,
                                    kernel_int row, int head) {
  return static_cast<Element*>(tensor.data) + batch * tensor.stride_batch +
         row * tensor.stride_row + head * tensor.stride_head;
}

inline float* lse_pointer(float* base, const AttentionParams& params, kernel_int batch, int head,
                          kernel_int row) {
  return base + (batch * params.heads_q + head) * params.query_rows + row;
}

/// Whether an fp32 value is NaN or infinite, from its exponent bits (no floating-point
/// comparison, so no compiler flag can fold it away).
inline bool is_not_finite(float value) {
  return (float_to_bits(value) & 0x7F800000u) == 0x7F800000u;
}

/// Loads `rows` rows of `width` elements as fp32, multiplied by `factor`. With kZeroPadding,
/// rows past `rows` up to kRows are zero so full-tile loops never read garbage (0 * NaN would
/// poison sums); without it they are left as they are, for tiles whose padding rows no loop
/// reads (zeroing them is most of the work of a tiny problem).
/// Returns whether every loaded value is finite: accumulate_block_products then needs no guard
/// against 0 * NaN (a NaN or infinity in an input is rare, and the guard costs 10% of a product).
template <typename Element, bool kZeroPadding = true, int kRows, int kWidth>
inline bool load_rows(float (&tile)[kRows][kWidth], const TensorAddress& tensor, kernel_int batch,
                      kernel_int first_row, int head, kernel_int rows, float factor) {
  bool not_finite = false;
  for (kernel_int r = 0; r < rows; ++r) {
    const Element* source = row_pointer<Element>(tensor, batch, first_row + r, head);
    for (int d = 0; d < kWidth; ++d) {
      tile[r][d] = to_float(source[d]) * factor;
      not_finite |= is_not_finite(tile[r][d]);
    }
  }
  if constexpr (kZeroPadding) {
    for (kernel_int r = rows; r < kRows; ++r) {
      for (int d = 0; d < kWidth; ++d) tile[r][d] = 0.0f;
    }
  }
  return !not_finite;
}

/// Floats per vector register of the target the kernel is compiled for (-march=native; 4 for
/// SSE and NEON, and for host builds of the tests without -march).
#if defined(__AVX512F__)
constexpr int kVectorFloats = 16;
#elif defined(__AVX__)
constexpr int kVectorFloats = 8;
#else
constexpr int kVectorFloats = 4;
#endif

/// Loads rows transposed: tile[d][c] = row c, element d (for the S = Q K^T and dP = dO V^T
/// products, whose inner loop then runs over key columns c). Columns past `rows` are zero up to
/// the next multiple of kZeroTo (kColumns: all of them): a product that reads only whole chunks
/// of kZeroTo columns up to `rows` (block_dot_products' `columns`) needs no more. Clearing the
/// whole tile is one contiguous memset, cheaper than writing every padding column with a stride
/// of kColumns, so that is what kZeroTo = kColumns does.
template <typename Element, int kZeroTo = 0, int kWidth, int kColumns>
inline void load_rows_transposed(float (&tile)[kWidth][kColumns], const TensorAddress& tensor,
                                 kernel_int batch, kernel_int first_row, int head,
                                 kernel_int rows) {
  constexpr int kZeroMultiple = kZeroTo == 0 ? kColumns : kZeroTo;
  static_assert(kColumns % kZeroMultiple == 0, "zero whole chunks of the tile's columns");
  const kernel_int zero_end = (rows + kZeroMultiple - 1) / kZeroMultiple * kZeroMultiple;
  if (kZeroMultiple == kColumns) {
    if (rows < kColumns) __builtin_memset(&tile[0][0], 0, sizeof(tile));
  } else if (rows < zero_end) {
    // Whole vectors from the one holding column `rows` on, before the loaded columns are
    // written: a few aligned vector stores per row instead of a scalar loop or a memset call.
    constexpr int kStep = kZeroMultiple % kVectorFloats == 0 ? kVectorFloats : 1;
    const kernel_int zero_begin = rows / kStep * kStep;
    for (int d = 0; d < kWidth; ++d) {
      for (kernel_int c0 = zero_begin; c0 < zero_end; c0 += kStep) {
        for (int c = 0; c < kStep; ++c) tile[d][c0 + c] = 0.0f;
      }
    }
  }
  // Four rows at a time: each element of a row goes to another tile row, so one row at a time
  // is a scatter per element (12% of the forward at D 128, measured); four rows make a 16-byte
  // store per head-dim index.
  kernel_int c = 0;
  if constexpr (kColumns % 4 == 0) {
    typedef float Float4 __attribute__((vector_size(4 * sizeof(float))));
    for (; c + 4 <= rows; c += 4) {
      const Element* sources[4];
      for (int j = 0; j < 4; ++j) {
        sources[j] = row_pointer<Element>(tensor, batch, first_row + c + j, head);
      }
      for (int d = 0; d < kWidth; ++d) {
        const Float4 column = {to_float(sources[0][d]), to_float(sources[1][d]),
                               to_float(sources[2][d]), to_float(sources[3][d])};
        __builtin_memcpy(&tile[d][c], &column, sizeof(column));
      }
    }
  }
  for (; c < rows; ++c) {
    const Element* source = row_pointer<Element>(tensor, batch, first_row + c, head);
    for (int d = 0; d < kWidth; ++d) tile[d][c] = to_float(source[d]);
  }
}

/// Key columns block_dot_products sums at a time for kRows rows: eight vector registers of
/// accumulators (kRows x chunk), so they stay in registers with room for the loads (AVX2 has 16).
/// Measured at head dim 128 on AVX2: 4 rows x 64 columns (32 registers, spilled) 25 GFLOP/s,
/// 4 x 16 76 GFLOP/s.
constexpr int score_chunk(int rows, int tile_k) {
  int chunk = 8 * kVectorFloats / rows;
  chunk = chunk < kVectorFloats ? kVectorFloats : chunk;
  while (chunk > tile_k || tile_k % chunk != 0) chunk /= 2;
  return chunk < 1 ? 1 : chunk;
}

/// A vector register of floats (the GCC/Clang vector extension) and unaligned loads and stores
/// of it. block_dot_products is written with it because the auto-vectoriser, given the scalar
/// loops, vectorised the head-dim loop with gathers on AVX-512 (measured: a 4 x 64 x 128 block
/// took 7.4 us, 10+ cycles per 16-lane FMA; see docs/PERFORMANCE.md).
typedef float FloatVector __attribute__((vector_size(kVectorFloats * sizeof(float))));

inline FloatVector load_vector(const float* source) {
  FloatVector value;
  __builtin_memcpy(&value, source, sizeof(value));
  return value;
}

inline void store_vector(float* destination, FloatVector value) {
  __builtin_memcpy(destination, &value, sizeof(value));
}

/// Raw scores of kRows query rows against a key tile: s[r][c] = q_r . k_c. Each row of the
/// transposed K tile is loaded once for all kRows rows (register blocking: kRows x chunk
/// accumulators), which is what bounds a one-row-at-a-time product on the CPU.
/// The sums live in local variables, not in `s`: through the pointer the compiler must assume
/// `s` aliases the inputs and keeps the sums in memory (2.5x slower, measured).
/// Only the chunks of score_chunk columns that start below `columns` are computed: s[r][c] is
/// left unwritten from the end of the last of them on (callers overwrite those with -inf).
template <int kRows, int kHeadDim, int kTileK>
inline void block_dot_products(float (*s)[kTileK], const float (*q_rows)[kHeadDim],
                               const float (&k_transposed)[kHeadDim][kTileK],
                               kernel_int columns = kTileK) {
  constexpr int kChunk = score_chunk(kRows, kTileK);
  if constexpr (kChunk % kVectorFloats == 0) {
    constexpr int kVectors = kChunk / kVectorFloats;
    for (int c0 = 0; c0 < columns; c0 += kChunk) {
      FloatVector sums[kRows][kVectors] = {};
      for (int d = 0; d < kHeadDim; ++d) {
        FloatVector keys[kVectors];
        for (int v = 0; v < kVectors; ++v) {
          keys[v] = load_vector(&k_transposed[d][c0 + v * kVectorFloats]);
        }
        for (int r = 0; r < kRows; ++r) {
          const float q = q_rows[r][d];
          for (int v = 0; v < kVectors; ++v) sums[r][v] += q * keys[v];
        }
      }
      for (int r = 0; r < kRows; ++r) {
        for (int v = 0; v < kVectors; ++v) store_vector(&s[r][c0 + v * kVectorFloats], sums[r][v]);
      }
    }
  } else {  // a tile narrower than one vector
    for (int c0 = 0; c0 < columns; c0 += kChunk) {
      alignas(64) float sums[kRows][kChunk] = {};
      for (int d = 0; d < kHeadDim; ++d) {
        for (int r = 0; r < kRows; ++r) {
          const float q = q_rows[r][d];
          for (int c = 0; c < kChunk; ++c) sums[r][c] += q * k_transposed[d][c0 + c];
        }
      }
      for (int r = 0; r < kRows; ++r) {
        for (int c = 0; c < kChunk; ++c) s[r][c0 + c] = sums[r][c];
      }
    }
  }
}

/// Columns of the output accumulated at a time by accumulate_block_products: a block of rows x
/// this many fp32 values fits the vector registers.
constexpr int output_chunk(int width) {
  return width % 64 == 0 ? 64 : width % 32 == 0 ? 32 : width % 16 == 0 ? 16 : width % 8 == 0 ? 8 : 1;
}

/// The product loop of accumulate_block_products: weight (r, c) is
/// weights[r * kWeightRowStride + c * kWeightColumnStride], so one loop serves a block of P's
/// rows and P^T read in place; kGuardZeroWeights guards against 0 * NaN.
template <bool kGuardZeroWeights, int kRows, int kWeightRowStride, int kWeightColumnStride,
          int kColumns, int kWidth>
inline void accumulate_block_products_of(float (*acc)[kWidth], int first_row,
                                         const float* weights,
                                         const float (&values)[kColumns][kWidth], int columns) {
  constexpr int kChunk = output_chunk(kWidth);
  for (int d0 = 0; d0 < kWidth; d0 += kChunk) {
    alignas(64) float sums[kRows][kChunk];
    for (int r = 0; r < kRows; ++r) {
      for (int d = 0; d < kChunk; ++d) sums[r][d] = acc[first_row + r][d0 + d];
    }
    for (int c = 0; c < columns; ++c) {
      for (int r = 0; r < kRows; ++r) {
        const float weight = weights[r * kWeightRowStride + c * kWeightColumnStride];
        for (int d = 0; d < kChunk; ++d) {
          const float product = weight * values[c][d0 + d];
          if constexpr (kGuardZeroWeights) {
            sums[r][d] += weight != 0.0f ? product : 0.0f;
          } else {
            sums[r][d] += product;
          }
        }
      }
    }
    for (int r = 0; r < kRows; ++r) {
      for (int d = 0; d < kChunk; ++d) acc[first_row + r][d0 + d] = sums[r][d];
    }
  }
}

/// acc[first_row + r] += sum_{c < columns} p[r][c] * values[c] for kRows rows, a chunk of output
/// columns at a time with the chunk's sums in registers across all c. p = 0 adds nothing even
/// when values[c] holds a NaN or an infinity (a select, not 0 * NaN), so such a value row
/// reaches only the rows that attend it; `values_finite` (load_rows' result) says the select is
/// not needed. The forward's O += P V and the backward's dQ += dS K.
template <int kRows, int kColumns, int kWidth>
inline void accumulate_block_products(float (*acc)[kWidth], int first_row,
                                      const float (*p)[kColumns],
                                      const float (&values)[kColumns][kWidth], bool values_finite,
                                      int columns = kColumns) {
  if (values_finite) {
    accumulate_block_products_of<false, kRows, kColumns, 1>(acc, first_row, &p[0][0], values,
                                                             columns);
  } else {
    accumulate_block_products_of<true, kRows, kColumns, 1>(acc, first_row, &p[0][0], values,
                                                           columns);
  }
}

/// As accumulate_block_products with the weights of a whole tile read transposed:
/// acc[first_row + r] += sum_{c < columns} p[c][first_row + r] * values[c]. The backward's
/// dV += P^T dO and dK += dS^T Q over a key tile's rows, with P and dS as they were computed
/// ([query][key]): the scalar weights are broadcast either way, so reading them in place costs
/// nothing, where copying P^T out was a scatter per element (10% of the backward at D = 64).
template <int kRows, int kColumns, int kOutputRows, int kWidth>
inline void accumulate_transposed_block_products(float (*acc)[kWidth], int first_row,
                                                 const float (&p)[kColumns][kOutputRows],
                                                 const float (&values)[kColumns][kWidth],
                                                 bool values_finite, int columns) {
  if (values_finite) {
    accumulate_block_products_of<false, kRows, 1, kOutputRows>(acc, first_row, &p[0][first_row],
                                                               values, columns);
  } else {
    accumulate_block_products_of<true, kRows, 1, kOutputRows>(acc, first_row, &p[0][first_row],
                                                              values, columns);
  }
}

/// The score mods (softcap, ALiBi) and the mask (-inf where not attended) on one row of raw
/// scores. `tanh_out` receives tanh(s / softcap) for the backward's chain rule when softcap is on.
template <typename Config, typename Mask>
inline void score_mods_and_mask(float (&s)[Config::kTileK], float (&tanh_out)[Config::kTileK],
                                const AttentionParams& params, const DocumentView& document,
                                int head, kernel_int i, kernel_int j0, kernel_int columns,
                                bool full) {
  constexpr int kTileK = Config::kTileK;
  if constexpr (Config::kSoftcap) {
    const float cap = params.softcap;
    const float inverse_cap = 1.0f / cap;
    for (int c = 0; c < kTileK; ++c) {
      float t = __builtin_tanhf(s[c] * inverse_cap);
      tanh_out[c] = t;
      s[c] = cap * t;
    }
  }
  if constexpr (Config::kAlibi) {
    // slope * (j - i - (Lk - Lq)): 0 on the bottom-right diagonal, negative to its left.
    const float slope = params.alibi_slopes[head];
    const kernel_int offset = j0 - i - (document.key_length - document.query_length);
    for (int c = 0; c < kTileK; ++c) s[c] += slope * float(offset + c);
  }
  const float minus_infinity = negative_infinity();
  if (!full) {
    RowRanges<Mask> ranges(document, i);
    for (int c = 0; c < kTileK; ++c) {
      if (!attends<Mask>(ranges, document, i, j0 + c)) s[c] = minus_infinity;
    }
  }
  for (kernel_int c = columns; c < kTileK; ++c) s[c] = minus_infinity;  // past the document end
}

/// The largest score of a row, NaN if any score is NaN: a NaN score (NaN in q or k) wins the
/// max, otherwise a row whose every score is NaN would keep m = -inf and come out as an empty
/// row (O = 0, LSE = -inf). Written with vectors: the compiler keeps the NaN-aware scalar loop
/// scalar (a third of the forward at D = 64, measured).
template <int kColumns>
inline float row_maximum(const float (&s)[kColumns]) {
  if constexpr (kColumns % kVectorFloats == 0) {
    FloatVector maxima = load_vector(&s[0]);
    auto nan_lanes = maxima != maxima;
    for (int c = kVectorFloats; c < kColumns; c += kVectorFloats) {
      const FloatVector scores = load_vector(&s[c]);
      maxima = scores > maxima ? scores : maxima;
      nan_lanes |= scores != scores;
    }
    float maximum = maxima[0];
    bool any_nan = nan_lanes[0] != 0;
    for (int lane = 1; lane < kVectorFloats; ++lane) {
      maximum = maxima[lane] > maximum ? maxima[lane] : maximum;
      any_nan = any_nan || nan_lanes[lane] != 0;
    }
    return any_nan ? __builtin_nanf("") : maximum;
  } else {
    float maximum = negative_infinity();
    for (int c = 0; c < kColumns; ++c) {
      maximum = (s[c] > maximum || s[c] != s[c]) ? s[c] : maximum;
    }
    return maximum;
  }
}

/// The part that takes the `index`-th of the key tiles a split item visits, counted in rounds of
/// `parts` tiles: part p takes the p-th tile of even rounds and the p-th from the end of odd
/// ones (snake order). Where a tile's work falls linearly along the keys (causal), each pair of
/// rounds then gives every part the same work, where dealing index mod parts would give part 0
/// the most in every round.
inline int split_part(kernel_int index, int parts) {
  const int position = int(index % parts);
  return (index / parts) % 2 == 0 ? position : parts - 1 - position;
}

/// Floats per row of a split forward part's result: m, l, then acc (kHeadDimV).
template <typename Config>
constexpr int forward_partial_row_floats() {
  return Config::kHeadDimV + 2;
}

/// Writes query row `row` (of the sequence dimension) of the item's head from its running max m,
/// sum l and unnormalised output acc: O = acc / l, LSE = m + log l; a row nothing attends
/// (l = 0) gets O = 0, LSE = -inf, never NaN.
template <typename Config>
inline void store_output_row(const AttentionParams& params, const WorkItem& item, kernel_int row,
                             const float* acc, float m, float l) {
  using Element = typename Config::Element;
  Element* out = mutable_row_pointer<Element>(params.o, item.batch, row, item.head);
  const bool empty = l == 0.0f;
  const float inverse = empty ? 0.0f : 1.0f / l;
  for (int d = 0; d < Config::kHeadDimV; ++d) out[d] = from_float<Element>(acc[d] * inverse);
  if (params.lse != nullptr) {
    *lse_pointer(params.lse, params, item.batch, item.head, row) =
        empty ? negative_infinity() : m + __builtin_logf(l);
  }
}

/// Forward of one (document, query head, query tile). Invariants per row r, over the key tiles
/// visited so far: m[r] = max attended score (-inf if none), l[r] = sum of exp(s - m[r]),
/// acc[r] = sum of exp(s - m[r]) * v.
/// With item.parts > 1 the item is one part of a split query tile: it visits only the key tiles
/// split_part deals it and writes m, l and acc of its rows to `partial` (kTileQ rows of
/// forward_partial_row_floats) for combine_forward_parts, instead of O and LSE.
template <typename Config, typename Mask>
void forward_item(const AttentionParams& params, const WorkItem& item, float* partial = nullptr) {
  using Element = typename Config::Element;
  constexpr int kTileQ = Config::kTileQ;
  constexpr int kTileK = Config::kTileK;
  constexpr int kHeadDim = Config::kHeadDim;
  constexpr int kHeadDimV = Config::kHeadDimV;
  const DocumentView document{item.query_length, item.key_length, item.parameters};
  const kernel_int i0 = kernel_int(item.tile) * kTileQ;
  const kernel_int rows = min_int(kTileQ, document.query_length - i0);
  if (rows <= 0) return;
  const kernel_int i1 = i0 + rows - 1;
  const int head = item.head;
  const int kv_head = head / (params.heads_q / params.heads_kv);
  const float minus_infinity = negative_infinity();

  // Rows go kBlockRows at a time through both products; the rows of the last block past
  // `rows` are computed on zeros and never stored.
  constexpr int kBlockRows = 4;
  static_assert(kTileQ % kBlockRows == 0, "query tiles are whole row blocks");
  const kernel_int blocked_rows = (rows + kBlockRows - 1) / kBlockRows * kBlockRows;
  alignas(64) float q[kTileQ][kHeadDim];
  alignas(64) float k_transposed[kHeadDim][kTileK];
  alignas(64) float v[kTileK][kHeadDimV];
  alignas(64) float acc[kTileQ][kHeadDimV];
  // Zeroed once: a partial key tile leaves the scores past its last chunk unwritten, and the
  // score modifiers read them before the mask overwrites them with -inf.
  alignas(64) float s[kBlockRows][kTileK] = {};
  alignas(64) float tanh_values[kTileK];
  float m[kTileQ];
  float l[kTileQ];
  load_rows<Element, false>(q, params.q, item.batch, item.query_start + i0, head, rows,
                            params.scale);
  for (kernel_int r = rows; r < blocked_rows; ++r) {
    for (int d = 0; d < kHeadDim; ++d) q[r][d] = 0.0f;
  }
  for (kernel_int r = 0; r < blocked_rows; ++r) {
    m[r] = minus_infinity;
    l[r] = 0.0f;
    for (int d = 0; d < kHeadDimV; ++d) acc[r][d] = 0.0f;
  }

  const bool split = item.parts > 1;
  kernel_int visited = 0;  // key tiles of the visit list so far, for split_part
  const TileRanges<Mask::kIntervalCount> ranges =
      key_tiles_to_visit<Mask>(document, i0, i1, kTileK);
  for (int range = 0; range < ranges.count; ++range) {
    for (kernel_int key_tile = ranges.first[range]; key_tile <= ranges.last[range]; ++key_tile) {
      if (split && split_part(visited++, item.parts) != item.part) continue;
      const kernel_int j0 = key_tile * kTileK;
      const kernel_int columns = min_int(kTileK, document.key_length - j0);
      const bool full = tile_is_full<Mask>(document, i0, i1, j0, j0 + columns - 1);
      // A partial key tile (a document's last) computes only the score chunks that reach its
      // `columns` and P V over those columns: the padding is neither zeroed whole nor
      // multiplied. This is most of the work of a tiny call (one token: 1 of 64 columns).
      load_rows_transposed<Element, score_chunk(kBlockRows, kTileK)>(
          k_transposed, params.k, item.batch, item.key_start + j0, kv_head, columns);
      const bool v_finite = load_rows<Element, false>(v, params.v, item.batch,
                                                      item.key_start + j0, kv_head, columns, 1.0f);
      for (kernel_int r0 = 0; r0 < rows; r0 += kBlockRows) {
        block_dot_products<kBlockRows>(s, &q[r0], k_transposed, columns);
        for (int b = 0; b < kBlockRows; ++b) {
          const kernel_int r = r0 + b;
          if (r >= rows) {
            for (int c = 0; c < kTileK; ++c) s[b][c] = 0.0f;  // p = 0: adds nothing
            continue;
          }
          score_mods_and_mask<Config, Mask>(s[b], tanh_values, params, document, head, i0 + r,
                                            j0, columns, full);
          const float tile_max = row_maximum(s[b]);
          const float m_new = m[r] > tile_max ? m[r] : tile_max;
          if (m_new == minus_infinity) {  // nothing attended yet: avoid -inf - -inf
            for (int c = 0; c < kTileK; ++c) s[b][c] = 0.0f;
            continue;
          }
          const float alpha = polynomial_exp(m[r] - m_new);  // m[r] = -inf gives 0
          float sum = 0.0f;
          for (int c = 0; c < kTileK; ++c) {
            s[b][c] = polynomial_exp(s[b][c] - m_new);  // masked: exp(-inf) = 0
            sum += s[b][c];
          }
          l[r] = l[r] * alpha + sum;
          m[r] = m_new;
          for (int d = 0; d < kHeadDimV; ++d) acc[r][d] *= alpha;
        }
        // O += P V for the block over the tile's columns (rows past `rows` have p = 0 and add
        // nothing; V rows past `columns` are not read).
        accumulate_block_products<kBlockRows>(acc, int(r0), s, v, v_finite, int(columns));
      }
    }
  }

  if (split) {
    for (kernel_int r = 0; r < rows; ++r) {
      float* out = partial + r * forward_partial_row_floats<Config>();
      out[0] = m[r];
      out[1] = l[r];
      for (int d = 0; d < kHeadDimV; ++d) out[2 + d] = acc[r][d];
    }
    return;
  }
  for (kernel_int r = 0; r < rows; ++r) {
    store_output_row<Config>(params, item, item.query_start + i0 + r, acc[r], m[r], l[r]);
  }
}

/// Split forward, last step, for one (document, query head, query tile): `partial` holds the
/// item.parts parts' rows one part after another (kTileQ rows of forward_partial_row_floats
/// each). Merges them as the one-pass forward would have: m = max of the parts' m (NaN if any
/// is), l and acc rescaled by exp(m_part - m) and summed in part order; parts that attended
/// nothing (m = -inf) add nothing. Rows nothing attends get O = 0, LSE = -inf.
template <typename Config>
void combine_forward_parts(const AttentionParams& params, const WorkItem& item,
                           const float* partial) {
  constexpr int kTileQ = Config::kTileQ;
  constexpr int kHeadDimV = Config::kHeadDimV;
  constexpr int kRowFloats = forward_partial_row_floats<Config>();
  const kernel_int i0 = kernel_int(item.tile) * kTileQ;
  const kernel_int rows = min_int(kTileQ, item.query_length - i0);
  const float minus_infinity = negative_infinity();
  for (kernel_int r = 0; r < rows; ++r) {
    float m = minus_infinity;
    for (int part = 0; part < item.parts; ++part) {
      const float part_m = partial[(part * kTileQ + r) * kRowFloats];
      m = (part_m > m || part_m != part_m) ? part_m : m;
      if (m != m) break;
    }
    float l = 0.0f;
    float acc[kHeadDimV] = {};
    if (m != minus_infinity) {
      for (int part = 0; part < item.parts; ++part) {
        const float* row = partial + (part * kTileQ + r) * kRowFloats;
        if (row[0] == minus_infinity) continue;
        const float weight = __builtin_expf(row[0] - m);  // NaN when m is
        l += row[1] * weight;
        for (int d = 0; d < kHeadDimV; ++d) acc[d] += row[2 + d] * weight;
      }
    }
    store_output_row<Config>(params, item, item.query_start + i0 + r, acc, m, l);
  }
}

/// Stores `rows` rows of fp32 gradients: dst = value * factor, or dst += value * factor when
/// accumulating.
template <typename Element, int kWidth>
inline void store_gradient(const TensorAddress& tensor, const float (*tile)[kWidth],
                           kernel_int batch, kernel_int first_row, int head, kernel_int rows,
                           float factor, bool accumulate) {
  for (kernel_int r = 0; r < rows; ++r) {
    Element* out = mutable_row_pointer<Element>(tensor, batch, first_row + r, head);
    for (int d = 0; d < kWidth; ++d) {
      float value = tile[r][d] * factor;
      if (accumulate) value += to_float(out[d]);
      out[d] = from_float<Element>(value);
    }
  }
}

/// Rows the backward recomputes at a time (as the forward's row blocks): both products of
/// block_probabilities_and_gradients and the gradient products are register-blocked over them.
constexpr int kBackwardBlockRows = 4;

/// Recomputes P and dS of kRows query rows (first_i, ...) against a key tile; rows from
/// `valid_rows` on get p = ds = 0. p = exp(s - lse) (0 where masked or for an empty row),
/// dp = dO_r . v_c, ds = p * (dp - delta) with the softcap chain rule. q_rows hold scale * q.
template <typename Config, typename Mask, int kRows>
inline void block_probabilities_and_gradients(
    float (*p)[Config::kTileK], float (*ds)[Config::kTileK],
    const float (*q_rows)[Config::kHeadDim], const float (*d_o_rows)[Config::kHeadDimV],
    const float (&k_transposed)[Config::kHeadDim][Config::kTileK],
    const float (&v_transposed)[Config::kHeadDimV][Config::kTileK], const float* lse,
    const float* delta, const AttentionParams& params, const DocumentView& document, int head,
    kernel_int first_i, kernel_int valid_rows, kernel_int j0, kernel_int columns, bool full) {
  constexpr int kTileK = Config::kTileK;
  block_dot_products<kRows>(p, q_rows, k_transposed);   // S
  block_dot_products<kRows>(ds, d_o_rows, v_transposed);  // dP
  const float minus_infinity = negative_infinity();
  for (int b = 0; b < kRows; ++b) {
    if (b >= valid_rows) {
      for (int c = 0; c < kTileK; ++c) p[b][c] = ds[b][c] = 0.0f;
      continue;
    }
    alignas(64) float tanh_values[kTileK];
    score_mods_and_mask<Config, Mask>(p[b], tanh_values, params, document, head, first_i + b, j0,
                                      columns, full);
    // Locals: read through the pointers inside the loops, lse and delta might alias p and ds
    // (the compiler gathered delta[b] once per vector, measured).
    const float row_lse = lse[b];
    const float row_delta = delta[b];
    const bool empty = row_lse == minus_infinity;
    // Masked scores are -inf: p = 0 exactly, even when the row's LSE is NaN (a NaN in its q),
    // so the NaN reaches the gradients of the keys the row attends and no others.
    for (int c = 0; c < kTileK; ++c) {
      p[b][c] = empty || p[b][c] == minus_infinity ? 0.0f : polynomial_exp(p[b][c] - row_lse);
    }
    // p = 0 gives ds = 0 even if dp is NaN (a NaN in a value row this row does not attend), as
    // the forward skips p = 0 when it accumulates O.
    for (int c = 0; c < kTileK; ++c) {
      ds[b][c] = p[b][c] == 0.0f ? 0.0f : p[b][c] * (ds[b][c] - row_delta);
    }
    if constexpr (Config::kSoftcap) {
      for (int c = 0; c < kTileK; ++c) ds[b][c] *= 1.0f - tanh_values[c] * tanh_values[c];
    }
  }
}

/// delta = rowsum(dO * O) of one query row, from the stored O as the forward wrote it.
template <typename Element, int kWidth>
inline float output_gradient_row_sum(const AttentionParams& params, kernel_int batch,
                                     kernel_int row, int head) {
  const Element* d_o = row_pointer<Element>(params.d_o, batch, row, head);
  const Element* o = row_pointer<Element>(params.o, batch, row, head);
  float sum = 0.0f;
  for (int d = 0; d < kWidth; ++d) sum += to_float(d_o[d]) * to_float(o[d]);
  return sum;
}

/// Two-pass backward, pass 1, for one (document, query head, query tile): delta into
/// params.delta, then dQ = scale * sum_j dS_ij k_j.
template <typename Config, typename Mask>
void backward_dq_item(const AttentionParams& params, const WorkItem& item) {
  using Element = typename Config::Element;
  constexpr int kTileQ = Config::kTileQ;
  constexpr int kTileK = Config::kTileK;
  constexpr int kHeadDim = Config::kHeadDim;
  constexpr int kHeadDimV = Config::kHeadDimV;
  const DocumentView document{item.query_length, item.key_length, item.parameters};
  const kernel_int i0 = kernel_int(item.tile) * kTileQ;
  const kernel_int rows = min_int(kTileQ, document.query_length - i0);
  if (rows <= 0) return;
  const kernel_int i1 = i0 + rows - 1;
  const int head = item.head;
  const int kv_head = head / (params.heads_q / params.heads_kv);
  const kernel_int first_row = item.query_start + i0;

  constexpr int kBlockRows = kBackwardBlockRows;
  static_assert(kTileQ % kBlockRows == 0, "query tiles are whole row blocks");
  const kernel_int blocked_rows = (rows + kBlockRows - 1) / kBlockRows * kBlockRows;
  alignas(64) float q[kTileQ][kHeadDim];
  alignas(64) float d_o[kTileQ][kHeadDimV];
  alignas(64) float dq[kTileQ][kHeadDim];
  alignas(64) float k_transposed[kHeadDim][kTileK];
  alignas(64) float k[kTileK][kHeadDim];
  alignas(64) float v_transposed[kHeadDimV][kTileK];
  alignas(64) float p[kBlockRows][kTileK];
  alignas(64) float ds[kBlockRows][kTileK];
  float lse[kTileQ];
  float delta[kTileQ];
  load_rows<Element>(q, params.q, item.batch, first_row, head, rows, params.scale);
  load_rows<Element>(d_o, params.d_o, item.batch, first_row, head, rows, 1.0f);
  for (kernel_int r = 0; r < rows; ++r) {
    delta[r] = output_gradient_row_sum<Element, kHeadDimV>(params, item.batch, first_row + r, head);
    *lse_pointer(params.delta, params, item.batch, head, first_row + r) = delta[r];
    lse[r] = *lse_pointer(params.lse, params, item.batch, head, first_row + r);
  }
  // The last block's rows past `rows` accumulate zeros (ds = 0) and are never stored.
  for (kernel_int r = 0; r < blocked_rows; ++r) {
    for (int d = 0; d < kHeadDim; ++d) dq[r][d] = 0.0f;
  }

  const TileRanges<Mask::kIntervalCount> ranges =
      key_tiles_to_visit<Mask>(document, i0, i1, kTileK);
  for (int range = 0; range < ranges.count; ++range) {
    for (kernel_int key_tile = ranges.first[range]; key_tile <= ranges.last[range]; ++key_tile) {
      const kernel_int j0 = key_tile * kTileK;
      const kernel_int columns = min_int(kTileK, document.key_length - j0);
      const bool full = tile_is_full<Mask>(document, i0, i1, j0, j0 + columns - 1);
      load_rows_transposed<Element>(k_transposed, params.k, item.batch, item.key_start + j0,
                                    kv_head, columns);
      const bool k_finite =
          load_rows<Element>(k, params.k, item.batch, item.key_start + j0, kv_head, columns, 1.0f);
      load_rows_transposed<Element>(v_transposed, params.v, item.batch, item.key_start + j0,
                                    kv_head, columns);
      for (kernel_int r0 = 0; r0 < rows; r0 += kBlockRows) {
        block_probabilities_and_gradients<Config, Mask, kBlockRows>(
            p, ds, &q[r0], &d_o[r0], k_transposed, v_transposed, &lse[r0], &delta[r0], params,
            document, head, i0 + r0, rows - r0, j0, columns, full);
        accumulate_block_products<kBlockRows>(dq, int(r0), ds, k, k_finite);  // dQ += dS K
      }
    }
  }
  store_gradient<Element>(params.dq, dq, item.batch, first_row, head, rows, params.scale,
                          params.accumulate != 0);
}

/// dK and dV of one key tile (document, key/value head, key tile): over every query head of the
/// GQA group and every query tile whose visit list contains this key tile,
/// dV_j += sum_i P_ij dO_i and dK_j += sum_i dS_ij (scale q_i). Needs the rows' delta in
/// params.delta. Keys no query reaches end with exact zeros.
/// With kAccumulateDq it also adds dS K (unscaled) into dq_rows, the item's fp32 dQ rows laid
/// out [group member][document row][kHeadDim] with `dq_member_rows` rows per member (a whole
/// number of query tiles, so the last tile's row blocks stay inside).
template <typename Config, typename Mask, bool kAccumulateDq>
void key_tile_gradients(const AttentionParams& params, const WorkItem& item, kernel_int key_tile,
                        float* dq_rows, kernel_int dq_member_rows) {
  using Element = typename Config::Element;
  constexpr int kTileQ = Config::kTileQ;
  constexpr int kTileK = Config::kTileK;
  constexpr int kHeadDim = Config::kHeadDim;
  constexpr int kHeadDimV = Config::kHeadDimV;
  const DocumentView document{item.query_length, item.key_length, item.parameters};
  const kernel_int j0 = key_tile * kTileK;
  const kernel_int columns = min_int(kTileK, document.key_length - j0);
  if (columns <= 0) return;
  const int kv_head = item.head;
  const int group = params.heads_q / params.heads_kv;

  constexpr int kBlockRows = kBackwardBlockRows;
  static_assert(kTileQ % kBlockRows == 0 && kTileK % kBlockRows == 0, "whole row blocks");
  alignas(64) float k_transposed[kHeadDim][kTileK];
  alignas(64) float v_transposed[kHeadDimV][kTileK];
  // K rows for dQ += dS K: a one-row array when dQ is not accumulated here.
  alignas(64) float k[kAccumulateDq ? kTileK : 1][kHeadDim];
  alignas(64) float dk[kTileK][kHeadDim];
  alignas(64) float dv[kTileK][kHeadDimV];
  alignas(64) float q[kTileQ][kHeadDim];
  alignas(64) float d_o[kTileQ][kHeadDimV];
  // P and dS of the whole query tile, for dV += P^T dO and dK += dS^T Q over its rows.
  alignas(64) float p[kTileQ][kTileK];
  alignas(64) float ds[kTileQ][kTileK];
  float lse[kTileQ];
  float delta[kTileQ];
  load_rows_transposed<Element>(k_transposed, params.k, item.batch, item.key_start + j0, kv_head,
                                columns);
  load_rows_transposed<Element>(v_transposed, params.v, item.batch, item.key_start + j0, kv_head,
                                columns);
  bool k_finite = true;
  if constexpr (kAccumulateDq) {
    k_finite =
        load_rows<Element>(k, params.k, item.batch, item.key_start + j0, kv_head, columns, 1.0f);
  }
  for (int c = 0; c < kTileK; ++c) {
    for (int d = 0; d < kHeadDim; ++d) dk[c][d] = 0.0f;
    for (int d = 0; d < kHeadDimV; ++d) dv[c][d] = 0.0f;
  }
  // Key rows past `columns` have p = ds = 0 in every row and are never stored.
  const int blocked_columns = int((columns + kBlockRows - 1) / kBlockRows * kBlockRows);

  const kernel_int query_tiles = (document.query_length + kTileQ - 1) / kTileQ;
  for (kernel_int query_tile = 0; query_tile < query_tiles; ++query_tile) {
    const kernel_int i0 = query_tile * kTileQ;
    const kernel_int rows = min_int(kTileQ, document.query_length - i0);
    const kernel_int i1 = i0 + rows - 1;
    // The forward visited this (query tile, key tile) pair iff the key tile is in its list.
    if (!visits_key_tile<Mask>(document, i0, i1, j0, j0 + columns - 1)) continue;
    const bool full = tile_is_full<Mask>(document, i0, i1, j0, j0 + columns - 1);
    const kernel_int first_row = item.query_start + i0;
    const int blocked_rows = int((rows + kBlockRows - 1) / kBlockRows * kBlockRows);
    for (int member = 0; member < group; ++member) {
      const int head = kv_head * group + member;
      const bool q_finite =
          load_rows<Element>(q, params.q, item.batch, first_row, head, rows, params.scale);
      const bool d_o_finite =
          load_rows<Element>(d_o, params.d_o, item.batch, first_row, head, rows, 1.0f);
      for (kernel_int r = 0; r < rows; ++r) {
        lse[r] = *lse_pointer(params.lse, params, item.batch, head, first_row + r);
        delta[r] = *lse_pointer(params.delta, params, item.batch, head, first_row + r);
      }
      float(*dq_tile)[kHeadDim] = nullptr;
      if constexpr (kAccumulateDq) {
        dq_tile = reinterpret_cast<float(*)[kHeadDim]>(
            dq_rows + (member * dq_member_rows + i0) * kHeadDim);
      }
      for (int r0 = 0; r0 < blocked_rows; r0 += kBlockRows) {
        block_probabilities_and_gradients<Config, Mask, kBlockRows>(
            &p[r0], &ds[r0], &q[r0], &d_o[r0], k_transposed, v_transposed, &lse[r0], &delta[r0],
            params, document, head, i0 + r0, rows - r0, j0, columns, full);
        if constexpr (kAccumulateDq) {
          accumulate_block_products<kBlockRows>(dq_tile, r0, &ds[r0], k, k_finite);  // dQ += dS K
        }
      }
      // Over the tile's blocked rows only: the rows of p and ds past them are stale.
      for (int c0 = 0; c0 < blocked_columns; c0 += kBlockRows) {
        accumulate_transposed_block_products<kBlockRows>(dv, c0, p, d_o, d_o_finite,
                                                         blocked_rows);
        accumulate_transposed_block_products<kBlockRows>(dk, c0, ds, q,  // q: scale * q
                                                         q_finite, blocked_rows);
      }
    }
  }
  const kernel_int first_key = item.key_start + j0;
  store_gradient<Element>(params.dk, dk, item.batch, first_key, kv_head, columns, 1.0f,
                          params.accumulate != 0);
  store_gradient<Element>(params.dv, dv, item.batch, first_key, kv_head, columns, 1.0f,
                          params.accumulate != 0);
}

/// Two-pass backward, pass 2, for one (document, key/value head, key tile). Needs pass 1's
/// delta.
template <typename Config, typename Mask>
void backward_dkdv_item(const AttentionParams& params, const WorkItem& item) {
  key_tile_gradients<Config, Mask, false>(params, item, item.tile, nullptr, 0);
}

/// delta = rowsum(dO * O) of every query row of the item's document, for each query head of
/// its key/value head's group, into params.delta.
template <typename Config>
void store_document_delta(const AttentionParams& params, const WorkItem& item) {
  const int group = params.heads_q / params.heads_kv;
  for (int member = 0; member < group; ++member) {
    const int head = item.head * group + member;
    for (kernel_int r = 0; r < item.query_length; ++r) {
      const kernel_int row = item.query_start + r;
      *lse_pointer(params.delta, params, item.batch, head, row) =
          output_gradient_row_sum<typename Config::Element, Config::kHeadDimV>(params, item.batch,
                                                                               row, head);
    }
  }
}

/// Rows per group member in a fused backward's dQ scratch: whole query tiles, so the last
/// tile's row blocks stay inside.
template <typename Config>
kernel_int fused_member_rows(const WorkItem& item) {
  return (item.query_length + Config::kTileQ - 1) / Config::kTileQ * Config::kTileQ;
}

/// Stores the item's dQ from its fp32 scratch ([group member][member rows][kHeadDim], unscaled).
template <typename Config>
void store_scratch_dq(const AttentionParams& params, const WorkItem& item, const float* scratch) {
  constexpr int kHeadDim = Config::kHeadDim;
  const int group = params.heads_q / params.heads_kv;
  const kernel_int member_rows = fused_member_rows<Config>(item);
  for (int member = 0; member < group; ++member) {
    store_gradient<typename Config::Element>(
        params.dq,
        reinterpret_cast<const float(*)[kHeadDim]>(scratch + member * member_rows * kHeadDim),
        item.batch, item.query_start, item.head * group + member, item.query_length,
        params.scale, params.accumulate != 0);
  }
}

/// Fused backward for one (document, key/value head): the item owns every dQ row of the
/// document's query heads in its group, so it accumulates dQ += dS K in fp32 `scratch` while it
/// walks the key tiles (no atomics, no second recompute of P and dS: 5 products per attended
/// tile instead of the two-pass backward's 7). Deterministic: the key tiles are summed in order.
/// `scratch` holds group x fused_member_rows x kHeadDim floats (plan_cpu_backward sizes it for
/// the longest document).
///
/// With item.parts > 1 the item is part item.part of item.parts of a split document: it walks
/// only the key tiles split_part deals it, needs the document's delta already stored
/// (backward_delta), and leaves its partial dQ in `scratch` for reduce_split_dq, which sums
/// the parts in order.
template <typename Config, typename Mask>
void backward_fused_item(const AttentionParams& params, const WorkItem& item, float* scratch) {
  constexpr int kTileK = Config::kTileK;
  const bool split = item.parts > 1;
  if (!split) store_document_delta<Config>(params, item);
  const int group = params.heads_q / params.heads_kv;
  const kernel_int member_rows = fused_member_rows<Config>(item);
  const kernel_int scratch_floats = member_rows * group * Config::kHeadDim;
  for (kernel_int index = 0; index < scratch_floats; ++index) scratch[index] = 0.0f;
  const kernel_int key_tiles = (item.key_length + kTileK - 1) / kTileK;
  for (kernel_int key_tile = 0; key_tile < key_tiles; ++key_tile) {
    if (split && split_part(key_tile, item.parts) != item.part) continue;
    key_tile_gradients<Config, Mask, true>(params, item, key_tile, scratch, member_rows);
  }
  if (!split) store_scratch_dq<Config>(params, item, scratch);
}

/// Split fused backward, last step, for one (document, key/value head): `scratch` holds the
/// item.parts parts' partial dQ one after another (each group x fused_member_rows x
/// kHeadDim floats); sums them in part order into the first and stores dQ.
template <typename Config>
void reduce_split_dq(const AttentionParams& params, const WorkItem& item, float* scratch) {
  const int group = params.heads_q / params.heads_kv;
  const kernel_int part_floats = fused_member_rows<Config>(item) * group * Config::kHeadDim;
  for (int part = 1; part < item.parts; ++part) {
    const float* partial = scratch + part * part_floats;
    for (kernel_int index = 0; index < part_floats; ++index) scratch[index] += partial[index];
  }
  store_scratch_dq<Config>(params, item, scratch);
}

}  // namespace attncc::cpu

/// Defines the extern "C" entry points of a generated kernel; each runs a contiguous range of
/// work items (the host's thread pool splits the work list). The fused backward's items are
/// (document, key/value head) pairs, or parts of one when split, and take a dQ scratch: the
/// calling thread's, or the part's own when split (the host then calls one item at a time).
/// backward_delta and backward_reduce_dq are the split schedule's first and last steps;
/// forward_split (one part of a query tile, into its own `partial` rows) and forward_combine
/// (the parts of one query tile) are the split forward's, also one item per call.
#define ATTNCC_CPU_ENTRY_POINTS(prefix, Config, Mask)                                           \
  extern "C" void prefix##_forward(const attncc::AttentionParams* params,                      \
                                   const attncc::WorkItem* items, long long count) {            \
    for (long long index = 0; index < count; ++index)                                           \
      attncc::cpu::forward_item<Config, Mask>(*params, items[index]);                           \
  }                                                                                             \
  extern "C" void prefix##_forward_split(const attncc::AttentionParams* params,                \
                                         const attncc::WorkItem* items, long long count,        \
                                         float* partial) {                                      \
    for (long long index = 0; index < count; ++index)                                           \
      attncc::cpu::forward_item<Config, Mask>(*params, items[index], partial);                  \
  }                                                                                             \
  extern "C" void prefix##_forward_combine(const attncc::AttentionParams* params,              \
                                           const attncc::WorkItem* items, long long count,      \
                                           float* partial) {                                    \
    for (long long index = 0; index < count; ++index)                                           \
      attncc::cpu::combine_forward_parts<Config>(*params, items[index], partial);               \
  }                                                                                             \
  extern "C" void prefix##_backward_dq(const attncc::AttentionParams* params,                  \
                                       const attncc::WorkItem* items, long long count) {        \
    for (long long index = 0; index < count; ++index)                                           \
      attncc::cpu::backward_dq_item<Config, Mask>(*params, items[index]);                       \
  }                                                                                             \
  extern "C" void prefix##_backward_dkdv(const attncc::AttentionParams* params,                \
                                         const attncc::WorkItem* items, long long count) {      \
    for (long long index = 0; index < count; ++index)                                           \
      attncc::cpu::backward_dkdv_item<Config, Mask>(*params, items[index]);                     \
  }                                                                                             \
  extern "C" void prefix##_backward_fused(const attncc::AttentionParams* params,               \
                                          const attncc::WorkItem* items, long long count,       \
                                          float* scratch) {                                     \
    for (long long index = 0; index < count; ++index)                                           \
      attncc::cpu::backward_fused_item<Config, Mask>(*params, items[index], scratch);           \
  }                                                                                             \
  extern "C" void prefix##_backward_delta(const attncc::AttentionParams* params,               \
                                          const attncc::WorkItem* items, long long count) {     \
    for (long long index = 0; index < count; ++index)                                           \
      attncc::cpu::store_document_delta<Config>(*params, items[index]);                         \
  }                                                                                             \
  extern "C" void prefix##_backward_reduce_dq(const attncc::AttentionParams* params,           \
                                              const attncc::WorkItem* items, long long count,   \
                                              float* scratch) {                                 \
    for (long long index = 0; index < count; ++index)                                           \
      attncc::cpu::reduce_split_dq<Config>(*params, items[index], scratch);                     \
  }
