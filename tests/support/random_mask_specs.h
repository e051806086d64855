// Specs around random masks, and their cases, for the tests that run masks nobody wrote through
// the kernels (tests/emulation/random_mask_kernels_test.cpp: CPU and cuda-emulated;
// tests/gpu/random_mask_cuda_test.cpp: the CUDA backend on a GPU or the fake driver).
#pragma once

#include <cstdint>
#include <vector>

#include "attncc/spec.h"
#include "support/backend_cases.h"
#include "support/random_inputs.h"
#include "support/random_masks.h"

namespace attncc::testing {

/// Masks per backend: ATTNCC_RANDOM_MASKS when set (a longer hunt), else `default_count`.
int random_mask_count(int default_count);

/// Seed of random mask `index` of the run whose seed is `run_seed`.
uint64_t random_mask_seed(uint64_t run_seed, int index);

/// A spec around a mask of 1 to 4 leaves drawn by `builder`: layout, dtype, head dims (32, 64,
/// 96, 128; Dv = D mostly, else 32 or 64), softcap, ALiBi and dQ mode at random, backward on.
/// With `cuda`: bf16 or fp16 only, and at most cuda::kMaxMaskParameters parameters (the CUDA
/// backend's limits; others are drawn again); else fp32 too.
Spec random_mask_spec(TestRandom& random, RandomMaskBuilder& builder, bool cuda);

/// backend_cases(spec) plus one random_backend_case of documents up to 200 tokens, with every
/// parameter value drawn (per document for `$x[doc]`) in the range `builder` drew it from: a
/// primitive's arguments stay valid.
std::vector<BackendCase> random_mask_cases(const Spec& spec, const RandomMaskBuilder& builder,
                                           TestRandom& random);

}  // namespace attncc::testing
