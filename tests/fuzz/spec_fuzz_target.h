// The one fuzz entry over the front end (spec JSON, mask text, canonicaliser), shared by the
// libFuzzer binary (fuzz_main.cpp) and the ctest regression driver (regression_main.cpp).
#pragma once

#include <string>
#include <string_view>

namespace attncc::fuzz {

/// Runs `input` through Spec::parse and through parse_mask -> check -> canonicalise ->
/// print_mask (and the interval form of the result), and checks the properties every input must
/// keep: user errors are fine; an internal error, a foreign exception (from any stage), a printed
/// mask that does not parse back to the same tree, canonical(parse(print(x))) != canonical(x), a
/// canonical form that means something else than x on small documents, or canonical spec text
/// that does not re-parse to itself is a failure.
/// Returns "" when the input passes, else what went wrong (one or more lines).
std::string check_input(std::string_view input);

}  // namespace attncc::fuzz
