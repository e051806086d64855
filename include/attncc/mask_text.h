// Mask text <-> tree: the recursive-descent parser (with line:col errors), the printer and the
// canonicaliser (DESIGN §3: parse -> check -> canonicalise).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "attncc/error.h"
#include "attncc/mask_expr.h"

namespace attncc {

/// Options of parse_mask; the defaults are what users get.
struct MaskParseOptions {
  /// Bare identifiers accepted as placeholders (parsed as kParameter with that name); used only
  /// to parse the definitions of the primitive table.
  std::vector<std::string_view> placeholders;
  /// The whole text `origin` lines refer to (e.g. the JSON spec file), for the excerpt under an
  /// error; empty = the mask text itself.
  std::string_view source;
};

/// Parses mask text (grammar in docs/MASK.md). `origin` is where the text starts: for a mask
/// inside a JSON spec the file and the line/column of the string's first character, so errors
/// point into the file. Throws Error(kInvalidMask) as `file:line:col: error: ...` plus an
/// excerpt with a caret; unknown names get the nearest valid name as a hint; primitive arity is
/// checked here.
PredicatePtr parse_mask(std::string_view text, const SourceLocation& origin = {"<mask>", 1, 1},
                        const MaskParseOptions& options = {});

/// Prints a predicate as mask text that parse_mask reads back to the same tree: minimal
/// parentheses, single spaces around binary operators, primitives as written (sugar stays sugar).
std::string print_mask(const Predicate& predicate);
std::string print_term(const Term& term);

/// Canonical form: constants folded (in terms and in booleans), `&`/`|` flattened, operands
/// sorted by their printed text and duplicates dropped, `!!x` -> x, comparisons oriented so the
/// side mentioning j (else i) is on the left. Same meaning, one spelling: masks that differ
/// only in whitespace, operand order of `&`/`|` or duplicated operands become identical.
PredicatePtr canonicalise(const PredicatePtr& predicate);

}  // namespace attncc
