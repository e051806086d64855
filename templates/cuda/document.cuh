// Device side of the layouts (DESIGN §1, compiler/layout/*.cpp): where the document of a block
// lies in the Q and K/V sequence dimensions, read from the offset arrays in device memory (the
// host never reads them, DESIGN §5), checked against the tensor extents, with the document's
// mask parameters; and whether a sequence row belongs to any document (the padding fill).
#pragma once

#include "cuda/cuda_params.h"
#include "cuda/ptx.h"

namespace attncc::cuda {

/// Element `index` of an int32 or int64 device array.
ATTNCC_DEVICE kernel_int read_offset(const OffsetArray& array, kernel_int index) {
  return array.element_bytes == 8 ? static_cast<const long long*>(array.data)[index]
                                  : kernel_int(static_cast<const int*>(array.data)[index]);
}

/// One document as a block sees it. When `consistent` is false the offsets contradicted the
/// tensor extents: params.status was raised, both ranges are clamped into their tensors, and
/// the kernel must treat the document as having no keys (forward, dQ: it writes O = 0,
/// LSE = -inf, dQ = 0 to its query rows) or no queries (dK/dV = 0), reading no K/V (Q/dO).
struct DocumentBlock {
  kernel_int batch;
  kernel_int query_start, query_length;  // rows [start, start + length) of the Q sequence dim
  kernel_int key_start, key_length;      // rows of the K/V sequence dimension
  bool consistent;
  kernel_int parameters[kMaxMaskParameters];  // mask parameter values, in the Mask's slot order

  ATTNCC_DEVICE DocumentView view() const {
    return DocumentView{query_length, key_length, parameters};
  }
};

namespace document_detail {

/// [start, start + length) inside [0, rows), clamped when it is not.
ATTNCC_DEVICE bool clamp_range(kernel_int& start, kernel_int& length, kernel_int rows) {
  const bool inside = start >= 0 && length >= 0 && start <= rows && length <= rows - start;
  start = min_int(max_int(start, 0), rows);
  length = min_int(max_int(length, 0), rows - start);
  return inside;
}

/// One side (Q or K/V) of a varlen document: lengths from cu (a prefix sum starting at 0),
/// starts from padded when given (in order, non-overlapping), else from cu.
ATTNCC_DEVICE bool varlen_side(const OffsetArray& cu, const OffsetArray& padded, kernel_int index,
                               kernel_int& start, kernel_int& length) {
  const kernel_int begin = read_offset(cu, index);
  length = read_offset(cu, index + 1) - begin;
  bool ok = read_offset(cu, 0) == 0;
  if (padded.data != nullptr) {
    start = read_offset(padded, index);
    ok = ok && start + length <= read_offset(padded, index + 1);
  } else {
    start = begin;
  }
  return ok;
}

}  // namespace document_detail

/// Locates document `index` (blockIdx.y of a per-document grid): dense: batch row `index`,
/// lengths from seqlens_q/k or the full extents; varlen: cu_seqlens(+padded) entry `index`;
/// doc_packed: row index / max_documents, slot index % max_documents of cu_seq. Validates what
/// the host validates for the same document (compiler/layout/*.cpp) and, on a violation, raises
/// params.status once (first writer wins; thread 0 of the block reports) and returns a clamped,
/// inconsistent block (see DocumentBlock).
ATTNCC_DEVICE DocumentBlock locate_document(const CudaAttentionParams& params, kernel_int index) {
  DocumentBlock block;
  const kernel_int query_rows = params.attention.query_rows;
  const kernel_int key_rows = params.key_rows;
  bool ok = true;
  if (params.layout == kLayoutDense) {
    block.batch = index;
    block.query_start = 0;
    block.key_start = 0;
    block.query_length =
        params.seqlens_q.data != nullptr ? read_offset(params.seqlens_q, index) : query_rows;
    block.key_length =
        params.seqlens_k.data != nullptr ? read_offset(params.seqlens_k, index) : key_rows;
  } else if (params.layout == kLayoutVarlen) {
    block.batch = 0;
    ok = document_detail::varlen_side(params.cu_seqlens_q, params.cu_seqlens_q_padded, index,
                                      block.query_start, block.query_length);
    ok = document_detail::varlen_side(params.cu_seqlens_k, params.cu_seqlens_k_padded, index,
                                      block.key_start, block.key_length) && ok;
  } else {
    const kernel_int documents_per_row = params.max_documents;
    block.batch = index / documents_per_row;
    const kernel_int slot = index % documents_per_row;
    const kernel_int row = block.batch * (documents_per_row + 1);
    const kernel_int begin = read_offset(params.cu_seq, row + slot);
    ok = read_offset(params.cu_seq, row) == 0;
    block.query_start = begin;
    block.query_length = read_offset(params.cu_seq, row + slot + 1) - begin;
    block.key_start = block.query_start;
    block.key_length = block.query_length;
  }
  const kernel_int reported_query_start = block.query_start;
  const kernel_int reported_query_length = block.query_length;
  const kernel_int reported_key_start = block.key_start;
  const kernel_int reported_key_length = block.key_length;
  ok = document_detail::clamp_range(block.query_start, block.query_length, query_rows) && ok;
  ok = document_detail::clamp_range(block.key_start, block.key_length, key_rows) && ok;
  block.consistent = ok;
  if (!ok && threadIdx.x == 0) {
    DeviceStatus* status = params.status;
    if (atomic_compare_exchange(&status->error, 0, 1) == 0) {
      status->document = int(index);
      status->query_start = reported_query_start;
      status->query_length = reported_query_length;
      status->key_start = reported_key_start;
      status->key_length = reported_key_length;
    }
  }
  for (int slot = 0; slot < kMaxMaskParameters; ++slot) {
    kernel_int value = 0;
    if (slot < params.parameter_count) {
      const MaskParameterArray& parameter = params.parameters[slot];
      const kernel_int element = parameter.per_document ? index : 0;
      // int64 values are clamped into int32: the range the check pass proved the mask's
      // arithmetic safe for (the host backends reject such values; device arrays are not read
      // on the host).
      if (parameter.element_bytes == 8) {
        value = static_cast<const long long*>(parameter.data)[element];
        value = min_int(max_int(value, kernel_int(-2147483647) - 1), kernel_int(2147483647));
      } else {
        value = kernel_int(static_cast<const int*>(parameter.data)[element]);
      }
    }
    block.parameters[slot] = value;
  }
  return block;
}

/// Block x of a per-document kernel: the document it works on (an index for locate_document)
/// and its tile there, tiles being `tile_rows` rows of the document's query rows (key rows when
/// `key_side`). Dense and varlen: document blockIdx.y, tile x. Doc-packed: blockIdx.y is the
/// batch row and x numbers the tiles of the row's documents in slot order, each document's
/// tiles counted from its clamped length (as locate_document clamps it), so no block exists for
/// tiles a short document lacks (launch_shape.h); an x past the row's last tile gives the last
/// slot and a tile past its end, which the kernel takes as the end of its grid (returns false).
struct GridTile {
  kernel_int document;
  kernel_int tile;
};

ATTNCC_DEVICE GridTile grid_tile(const CudaAttentionParams& params, kernel_int x,
                                 kernel_int tile_rows, bool key_side) {
  if (params.layout != kLayoutDocPacked) return GridTile{kernel_int(blockIdx.y), x};
  const kernel_int documents_per_row = params.max_documents;
  const kernel_int first_document = kernel_int(blockIdx.y) * documents_per_row;
  const kernel_int row = kernel_int(blockIdx.y) * (documents_per_row + 1);
  const kernel_int rows = key_side ? params.key_rows : params.attention.query_rows;
  kernel_int tile = x;
  for (kernel_int slot = 0; slot < documents_per_row; ++slot) {
    kernel_int start = read_offset(params.cu_seq, row + slot);
    kernel_int length = read_offset(params.cu_seq, row + slot + 1) - start;
    document_detail::clamp_range(start, length, rows);
    const kernel_int tiles = (length + tile_rows - 1) / tile_rows;
    if (tile < tiles) return GridTile{first_document + slot, tile};
    tile -= tiles;
  }
  // x >= the row's tile count >= the last slot's: the end of the grid for the kernel.
  return GridTile{first_document + documents_per_row - 1, x};
}

/// A doc-packed document without query rows (a sentinel, or offsets clamped to nothing) gets
/// no block of the query-side kernels (grid_tile), so nothing else checks its offsets: this
/// locates each such document of batch row `batch`, which reports inconsistent offsets
/// (locate_document). Called by one block per batch row of each pass: fill_padding's first
/// row block (forward) and backward_preprocess's first (backward). No-op for other layouts.
ATTNCC_DEVICE void check_documents_without_rows(const CudaAttentionParams& params,
                                                kernel_int batch) {
  if (params.layout != kLayoutDocPacked) return;
  const kernel_int documents_per_row = params.max_documents;
  const kernel_int row = batch * (documents_per_row + 1);
  for (kernel_int slot = 0; slot < documents_per_row; ++slot) {
    kernel_int start = read_offset(params.cu_seq, row + slot);
    kernel_int length = read_offset(params.cu_seq, row + slot + 1) - start;
    document_detail::clamp_range(start, length, params.attention.query_rows);
    if (length == 0) (void)locate_document(params, batch * documents_per_row + slot);
  }
}

/// Whether row `row` of batch row `batch` of the Q sequence dimension (`query_side`) or of the
/// K/V sequence dimension belongs to some document. Rows that do not are padding: the fill
/// kernel writes O = 0, LSE = -inf (forward) or zero gradients there. With inconsistent
/// offsets the answer is some answer (no read goes out of the offset arrays): the status flag
/// already reports the launch as failed.
ATTNCC_DEVICE bool row_in_document(const CudaAttentionParams& params, bool query_side,
                                   kernel_int batch, kernel_int row) {
  if (params.layout == kLayoutDense) {
    const OffsetArray& seqlens = query_side ? params.seqlens_q : params.seqlens_k;
    const kernel_int rows = query_side ? params.attention.query_rows : params.key_rows;
    return row < (seqlens.data != nullptr ? read_offset(seqlens, batch) : rows);
  }
  if (params.layout == kLayoutDocPacked) {
    // Documents tile [0, cu_seq[b][max_documents]); the rest of the row is padding.
    return row < read_offset(params.cu_seq, batch * (params.max_documents + 1) +
                                                params.max_documents);
  }
  const OffsetArray& cu = query_side ? params.cu_seqlens_q : params.cu_seqlens_k;
  const OffsetArray& padded = query_side ? params.cu_seqlens_q_padded : params.cu_seqlens_k_padded;
  const kernel_int documents = params.documents;
  if (padded.data == nullptr) return row < read_offset(cu, documents);
  // The last document starting at or before the row (starts are non-decreasing); the row is
  // in it iff it is before its end. Zero-length documents never contain a row.
  kernel_int low = 0, high = documents;  // answer in [low, high): first start > row is at high
  while (low < high) {
    const kernel_int middle = (low + high) / 2;
    if (read_offset(padded, middle) <= row) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  if (low == 0) return false;
  const kernel_int document = low - 1;
  const kernel_int length = read_offset(cu, document + 1) - read_offset(cu, document);
  return row < read_offset(padded, document) + length;
}

/// Runs step(x) for x = blockIdx.x, blockIdx.x + gridDim.x, ... while it returns true (x inside
/// its document, or its sequence). The grids' x extents come from host-side bounds
/// (max_seqlen_q, max_seqlen_k: DESIGN §5) that a caller may set too small; a block then also
/// takes the tiles the grid lacks, so a wrong bound costs time, never rows. step's answer must
/// be the same for the whole block; a barrier separates the steps, which reuse shared memory.
template <typename Step>
ATTNCC_DEVICE void for_each_grid_x(Step step) {
  for (kernel_int x = kernel_int(blockIdx.x); step(x); x += kernel_int(gridDim.x)) sync_threads();
}

}  // namespace attncc::cuda
