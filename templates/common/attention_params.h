// The parameter block the host passes to generated kernels, identical in host C++, JIT C++ and
// (later) CUDA: plain built-in types only, no system headers.
#pragma once

namespace attncc {

typedef long long kernel_int;  // 64-bit on every target attncc supports

/// Where a [batch, row, head, dim] tensor lives: element (b, r, h, d) is at
/// data + b * stride_batch + r * stride_row + h * stride_head + d (strides in elements).
struct TensorAddress {
  void* data;
  kernel_int stride_batch;
  kernel_int stride_row;
  kernel_int stride_head;
};

struct AttentionParams {
  TensorAddress q, k, v;  // inputs
  TensorAddress o;        // forward output, backward input
  TensorAddress d_o;      // backward input
  TensorAddress dq, dk, dv;  // backward outputs
  float* lse;             // [batch, heads_q, query_rows], natural log, -inf for empty rows
  float* delta;           // backward scratch like lse: rowsum(dO * O)
  kernel_int query_rows;  // rows of the Q sequence dimension (Sq, Tq or S)
  int heads_q;
  int heads_kv;
  float scale;            // softmax scale applied to q.k
  float softcap;          // 0 = none; else s = softcap * tanh(s / softcap)
  const float* alibi_slopes;  // [heads_q] or null
  int accumulate;         // backward adds into dq/dk/dv instead of overwriting
};

/// One unit of work of a pass: one document, one head, one tile.
struct WorkItem {
  kernel_int batch;         // batch row of the document
  kernel_int query_start;   // first row of the document in the Q sequence dimension
  kernel_int query_length;  // Lq
  kernel_int key_start;
  kernel_int key_length;    // Lk
  const kernel_int* parameters;  // the document's mask parameter values, in the Mask's slot order
  int head;  // forward / dQ pass: query head; dK/dV pass: key/value head
  int tile;  // forward / dQ pass: query tile; dK/dV pass: key tile
  // Split forward and split fused backward (else 0): the item is part `part` of `parts` over
  // which the key tiles it visits are dealt (templates/cpu split_part).
  int part;
  int parts;
};

/// What the generated Mask functions see of the current document.
struct DocumentView {
  kernel_int query_length;
  kernel_int key_length;
  const kernel_int* parameters;
};

}  // namespace attncc
