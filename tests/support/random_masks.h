// Random masks for the interval-form tests: primitives with literal or run-time arguments, affine
// atoms, atoms the solver cannot isolate or whose bounds are not monotone, joined by & | !.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "attncc/mask_expr.h"
#include "compiler/ir/primitives.h"
#include "support/random_inputs.h"

namespace attncc::testing {

/// Draws masks and the parameter values they use. Scalars are named `$aN` and per-document
/// arrays `$dN[doc]`, so a name is never used both ways.
class RandomMaskBuilder {
 public:
  explicit RandomMaskBuilder(TestRandom& random) : random_(random) {}

  /// `info` with arguments in [minimum, maximum] (literal, scalar or per-document at random).
  PredicatePtr primitive(const PrimitiveInfo& info, int64_t maximum);
  /// A random primitive; arguments often small, sometimes past the lengths.
  PredicatePtr primitive();
  /// An affine atom `a*j op b*i (+ Lq|Lk) + c`, or one of: `(i - j) % k == 0`, `j * j op ...`,
  /// a non-monotone bound `j op c - i`, a row condition `i op c`, a quotient `(j + c) / d op
  /// i / e + k`, or `j op i * $s` with a sign that is unknown at compile time.
  PredicatePtr atom();
  /// A tree of `& | !` over `leaves` leaves (primitives and atoms).
  PredicatePtr tree(int leaves);

  /// Lengths are the caller's; parameters hold every value drawn so far.
  MaskContext& context() { return context_; }
  /// The range a parameter's value was drawn from (a primitive's arguments must stay in theirs,
  /// or the runtime rejects the call): a caller may draw other values, e.g. one per document.
  std::pair<int64_t, int64_t> parameter_range(const std::string& name) const {
    return ranges_.at(name);
  }

 private:
  TermPtr argument(int64_t minimum, int64_t maximum);
  TermPtr argument_of(int64_t value);  ///< literal, scalar or per-document, at random
  TermPtr argument_of(int64_t value, int64_t minimum, int64_t maximum);
  PredicatePtr subtree(int& leaves);

  TestRandom& random_;
  MaskContext context_;
  std::map<std::string, std::pair<int64_t, int64_t>> ranges_;
  int next_parameter_ = 0;
};

/// A document length for the brute-force tests: 0 and 1 often, else up to `maximum`.
int64_t random_length(TestRandom& random, int64_t maximum = 300);

}  // namespace attncc::testing
