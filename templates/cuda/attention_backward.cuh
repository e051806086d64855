// CUDA backward kernels (FlashAttention-2 style). STUB: being written.
#pragma once

#include "cuda/cuda_params.h"
#include "cuda/ptx.h"

namespace attncc::cuda {

template <typename Config, typename Mask>
ATTNCC_DEVICE void backward_preprocess(const CudaAttentionParams& params) { (void)params; }

template <typename Config, typename Mask>
ATTNCC_DEVICE void backward_key_value(const CudaAttentionParams& params) { (void)params; }

template <typename Config, typename Mask>
ATTNCC_DEVICE void backward_query(const CudaAttentionParams& params) { (void)params; }

template <typename Config, typename Mask>
ATTNCC_DEVICE void backward_convert_query(const CudaAttentionParams& params) { (void)params; }

}  // namespace attncc::cuda
