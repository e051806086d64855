// Value ranges of mask terms (see term_range.h).
#include "compiler/passes/term_range.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "attncc/error.h"

namespace attncc {
namespace {

constexpr __int128 kLargestIndex = (int64_t{1} << 31) - 2;
constexpr __int128 kLargestLength = (int64_t{1} << 31) - 1;
constexpr __int128 kSmallestParameter = -(int64_t{1} << 31);
constexpr __int128 kLargestParameter = (int64_t{1} << 31) - 1;

__int128 magnitude(const TermRange& range) {
  return std::max(range.high, -range.low);
}

}  // namespace

TermRange term_range(const Term& term, const TermRange* operands) {
  switch (term.kind) {
    case TermKind::kConstant: return {term.value, term.value};
    case TermKind::kQueryIndex:
    case TermKind::kKeyIndex: return {0, kLargestIndex};
    case TermKind::kQueryLength:
    case TermKind::kKeyLength: return {0, kLargestLength};
    case TermKind::kParameter:
    case TermKind::kDocumentParameter: return {kSmallestParameter, kLargestParameter};
    case TermKind::kNegate: return {-operands[0].high, -operands[0].low};
    case TermKind::kAdd:
      return {operands[0].low + operands[1].low, operands[0].high + operands[1].high};
    case TermKind::kSubtract:
      return {operands[0].low - operands[1].high, operands[0].high - operands[1].low};
    case TermKind::kMultiply: {
      const TermRange& a = operands[0];
      const TermRange& b = operands[1];
      std::initializer_list<__int128> corners = {a.low * b.low, a.low * b.high, a.high * b.low,
                                                 a.high * b.high};
      return {std::min(corners), std::max(corners)};
    }
    case TermKind::kFloorDivide: {
      // |floor(a / b)| <= |a| for |b| >= 1, and x / 0 == 0.
      __int128 largest = magnitude(operands[0]);
      return {-largest, largest};
    }
    case TermKind::kFloorModulo: {
      // |a % b| < |b| for b != 0, and x % 0 == x.
      __int128 largest = std::max(magnitude(operands[0]), magnitude(operands[1]));
      return {-largest, largest};
    }
    case TermKind::kMinimum:
      return {std::min(operands[0].low, operands[1].low),
              std::min(operands[0].high, operands[1].high)};
    case TermKind::kMaximum:
      return {std::max(operands[0].low, operands[1].low),
              std::max(operands[0].high, operands[1].high)};
  }
  ATTNCC_ASSERT(false, "unknown term kind");
  return {};
}

TermRange term_range_within(const Term& term, int64_t limit, const Term** first_outside) {
  if (first_outside != nullptr) *first_outside = nullptr;
  TermRange operands[2];
  for (size_t index = 0; index < term.operands.size() && index < 2; ++index) {
    const Term* outside = nullptr;
    operands[index] = term_range_within(*term.operands[index], limit, &outside);
    if (outside != nullptr) {
      if (first_outside != nullptr) *first_outside = outside;
      return operands[index];
    }
  }
  TermRange range = term_range(term, operands);
  if (first_outside != nullptr && magnitude(range) > limit) *first_outside = &term;
  return range;
}

}  // namespace attncc
