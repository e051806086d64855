// The parameter block of every CUDA kernel (passed by value): the tensors of AttentionParams
// plus the layout's offset arrays in device memory, read by the kernels themselves (DESIGN §5
// "sync-free launches": the host never reads offsets back), the mask parameters, the backward
// workspaces and the device error status. Plain built-in types; identical on the host (runtime,
// emulation) and the device.
#pragma once

#include "common/attention_params.h"

namespace attncc::cuda {

constexpr int kMaxMaskParameters = 8;

/// An int32 or int64 device array; data == nullptr when the problem has none.
struct OffsetArray {
  const void* data;
  int element_bytes;  // 4 or 8
};

/// One `$name` mask parameter: a scalar (one element) or one value per document.
struct MaskParameterArray {
  const void* data;
  int element_bytes;  // 4 or 8
  int per_document;   // 1: indexed by the document index of Document (layout.h); 0: element 0
};

enum LayoutKind : int { kLayoutDense = 0, kLayoutVarlen = 1, kLayoutDocPacked = 2 };

/// Device status words (cudaMemset to 0 by the runtime before a checked launch). A block that
/// finds its document's offsets inconsistent with the tensor extents writes zeros instead of
/// reading anything, sets `error` to 1 with atomicCAS (first writer wins) and records which
/// document and offsets.
struct DeviceStatus {
  int error;           // 0 ok, 1 inconsistent offsets
  int document;        // document index (as in Document::index)
  kernel_int query_start, query_length, key_start, key_length;  // what the block read
};

struct CudaAttentionParams {
  AttentionParams attention;  // tensors, LSE, delta workspace, scale, softcap, ALiBi, accumulate

  int layout;                 // LayoutKind
  kernel_int batch;           // dense / doc_packed: B; varlen: 1
  kernel_int documents;       // dense: B; varlen: N; doc_packed: B * max_documents
  kernel_int max_documents;   // doc_packed: documents per row (cu_seq has max_documents + 1 columns)
  kernel_int key_rows;        // extent of the K/V sequence dimension (Sk, Tk, S)
  // attention.query_rows is the extent of the Q sequence dimension (Sq, Tq, S).
  kernel_int max_query_length;  // host-side upper bound of any document's Lq (grid sizing)
  kernel_int max_key_length;    // host-side upper bound of any document's Lk

  OffsetArray seqlens_q, seqlens_k;                        // dense, optional
  OffsetArray cu_seqlens_q, cu_seqlens_k;                  // varlen
  OffsetArray cu_seqlens_q_padded, cu_seqlens_k_padded;    // varlen, optional
  OffsetArray cu_seq;                                      // doc_packed [B, max_documents + 1]

  MaskParameterArray parameters[kMaxMaskParameters];  // in the Mask's slot order
  int parameter_count;

  float* dq_accumulator;  // backward: fp32 [query_rows * batch, heads_q, head_dim] workspace
  int deterministic;      // backward: dQ by a separate pass instead of atomics
  DeviceStatus* status;   // device memory, never null
};

}  // namespace attncc::cuda
