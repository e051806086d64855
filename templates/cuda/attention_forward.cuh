// CUDA forward kernel (FlashAttention-2 style) and the padding fill. STUB: being written.
#pragma once

#include "cuda/cuda_params.h"
#include "cuda/ptx.h"

namespace attncc::cuda {

template <typename Config, typename Mask>
ATTNCC_DEVICE void forward(const CudaAttentionParams& params) { (void)params; }

template <typename Config, typename Mask>
ATTNCC_DEVICE void fill_padding(const CudaAttentionParams& params) { (void)params; }

}  // namespace attncc::cuda
