// The CUDA kernels of one spec: the generated translation unit (compiler/emit/lower_to_cuda.cpp)
// defines Config and Mask and expands ATTNCC_CUDA_ENTRY_POINTS(prefix, Config, Mask), which
// defines one entry point per KernelKind (launch_shape.h), named "<prefix>_<kernel_suffix>".
//
// On the device each is an `extern "C" __global__` kernel taking the CudaAttentionParams by
// value. Compiled as host C++ (the cuda-emulated backend) each is an `extern "C"` function taking
// a pointer to the CudaAttentionParams, which the emulator runs once per emulated thread.
// `blocks` is the __launch_bounds__ minimum of blocks per SM: one (ptxas may use up to 255
// registers per thread), two for the deterministic query kernel at small head dims
// (launch_shape.h).
//
// NVRTC options (runtime/cuda/nvrtc_compiler.cpp, part of the cache key): --std=c++20
// -default-device -ftz=true -prec-div=false -prec-sqrt=false -fmad=true, i.e. --use_fast_math
// without its libm substitution: FMA contraction is on (write __fmul_rn where s*c - m*c must stay
// unfused), denormals flush to zero, '/' and sqrt are approximate. Ask the runtime's owner to
// change them; the ex2/lg2/tanh approximations are explicit in ptx.h either way.
#pragma once

#include "cuda/ptx.h"
#include "cuda/cuda_params.h"
#include "cuda/launch_shape.h"
#include "cuda/attention_forward.cuh"
#include "cuda/attention_backward.cuh"
#include "cuda/attention_backward_wgmma.cuh"

#if defined(__CUDA_ARCH__)
#define ATTNCC_CUDA_KERNEL(prefix, suffix, threads, blocks, function, Config, Mask)              \
  extern "C" __global__ void __launch_bounds__(threads, blocks)                                 \
      prefix##_##suffix(const attncc::cuda::CudaAttentionParams params) {                       \
    attncc::cuda::for_each_grid_x(                                                              \
        [&](attncc::kernel_int x) { return function<Config, Mask>(params, x); });               \
  }
#else
#define ATTNCC_CUDA_KERNEL(prefix, suffix, threads, blocks, function, Config, Mask)              \
  extern "C" void prefix##_##suffix(const void* params) {                                        \
    const auto& block_params = *static_cast<const attncc::cuda::CudaAttentionParams*>(params);   \
    attncc::cuda::for_each_grid_x(                                                              \
        [&](attncc::kernel_int x) { return function<Config, Mask>(block_params, x); });         \
  }
#endif

#define ATTNCC_CUDA_ENTRY_POINTS(prefix, Config, Mask)                                            \
  ATTNCC_CUDA_KERNEL(prefix, forward, Config::kForwardThreads, Config::kForwardBlocksPerSm,      \
                     attncc::cuda::forward, Config, Mask)                                         \
  ATTNCC_CUDA_KERNEL(prefix, fill_padding, attncc::cuda::kElementwiseThreads, 1,                  \
                     attncc::cuda::fill_padding, Config, Mask)                                    \
  ATTNCC_CUDA_KERNEL(prefix, backward_preprocess, attncc::cuda::kElementwiseThreads, 1,           \
                     attncc::cuda::backward_preprocess, Config, Mask)                             \
  ATTNCC_CUDA_KERNEL(prefix, backward_key_value, Config::kBackwardThreads, 1,                     \
                     attncc::cuda::backward_key_value, Config, Mask)                              \
  ATTNCC_CUDA_KERNEL(prefix, backward_query, Config::kBackwardThreads,                            \
                     attncc::cuda::backward_query_blocks_per_sm(                                  \
                         Config::kHeadDim, Config::kHeadDimV,                                     \
                         Config::kSoftcap || Config::kAlibi, Config::kBackwardWgmma),             \
                     attncc::cuda::backward_query, Config, Mask)                                  \
  ATTNCC_CUDA_KERNEL(prefix, backward_convert_query, attncc::cuda::kElementwiseThreads, 1,        \
                     attncc::cuda::backward_convert_query, Config, Mask)
