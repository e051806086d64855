// Value ranges of mask terms over every document and parameter attncc accepts, so that `check`
// can reject masks whose integer arithmetic could overflow. The reference evaluates terms with
// two's-complement wrap, but the kernels compute them in plain int64 (where overflow is undefined
// and compilers reorder comparisons assuming it never happens) and derive tile bounds from them
// assuming monotone bounds, which a wrap breaks: `j <= i + 9223372036854775807` attended nothing
// past row 0 in the reference and everything in the kernels. With every term within
// +-kTermMagnitudeLimit, nothing wraps anywhere and the bounds keep headroom for tile arithmetic.
#pragma once

#include <cstdint>

#include "attncc/mask_expr.h"

namespace attncc {

/// Largest |value| a term of a mask may reach: 2^62.
inline constexpr int64_t kTermMagnitudeLimit = int64_t{1} << 62;
/// Largest |value| of a primitive's argument: 2^61, so that the primitive's definition
/// (`j >= i - l`, `j <= i + Lk - Lq + r`, ...) stays within kTermMagnitudeLimit.
inline constexpr int64_t kArgumentMagnitudeLimit = int64_t{1} << 61;

/// The domain the ranges hold on: i and j in [0, 2^31 - 2], Lq and Lk in [0, 2^31 - 1] (the
/// runtime accepts at most INT32_MAX rows), parameters in [-2^31, 2^31 - 1] (int32 arrays; the
/// runtime rejects other values it reads on the host, and CUDA kernels clamp into that range).
struct TermRange {
  __int128 low = 0;
  __int128 high = 0;
};

/// The range of `term` over that domain, from the ranges of its operands (interval arithmetic;
/// `x / 0 == 0` and `x % 0 == x` as in evaluate()). Exact for constants and variables, a
/// superset otherwise. Operand ranges must lie within +-2^62 (as check guarantees bottom-up), so
/// that no bound of the result overflows 128 bits.
TermRange term_range(const Term& term, const TermRange* operands);

/// The range of a whole term, computed bottom-up; `first_outside` (if not null) receives the
/// innermost sub-term whose range leaves +-limit, or nullptr. Ranges above such a sub-term are
/// not computed (the result is then that sub-term's range).
TermRange term_range_within(const Term& term, int64_t limit, const Term** first_outside);

}  // namespace attncc
