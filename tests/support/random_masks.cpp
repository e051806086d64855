// Random masks for the interval-form tests (see random_masks.h).
#include "support/random_masks.h"

#include <string>
#include <vector>

namespace attncc::testing {
namespace {

TermPtr i_term() { return make_variable(TermKind::kQueryIndex); }
TermPtr j_term() { return make_variable(TermKind::kKeyIndex); }

TermPtr scaled(int64_t factor, TermPtr term) {
  return factor == 1 ? term : make_binary(TermKind::kMultiply, make_constant(factor), term);
}

// Largest useful argument of each primitive (windows and prefixes past the lengths included).
int64_t argument_maximum(std::string_view primitive) {
  if (primitive == "chunk") return 70;
  if (primitive == "sink") return 40;
  return 320;
}

// Appended rather than `"a" + std::to_string(n)`, which trips GCC 12's -Wrestrict false
// positive (GCC PR 105329).
std::string parameter_name(char prefix, int number) {
  std::string name(1, prefix);
  name += std::to_string(number);
  return name;
}

}  // namespace

TermPtr RandomMaskBuilder::argument(int64_t minimum, int64_t maximum) {
  return argument_of(random_.integer(minimum, maximum), minimum, maximum);
}

TermPtr RandomMaskBuilder::argument_of(int64_t value) { return argument_of(value, value, value); }

TermPtr RandomMaskBuilder::argument_of(int64_t value, int64_t minimum, int64_t maximum) {
  switch (random_.integer(0, 2)) {
    case 0:
      return make_constant(value);
    case 1: {
      std::string name = parameter_name('a', next_parameter_++);
      context_.parameters[name] = value;
      ranges_[name] = {minimum, maximum};
      return make_parameter(name, false);
    }
    default: {
      std::string name = parameter_name('d', next_parameter_++);
      context_.parameters[name] = value;
      ranges_[name] = {minimum, maximum};
      return make_parameter(name, true);
    }
  }
}

PredicatePtr RandomMaskBuilder::primitive(const PrimitiveInfo& info, int64_t maximum) {
  std::vector<TermPtr> arguments;
  for (int64_t minimum : info.minimum) arguments.push_back(argument(minimum, maximum));
  return make_primitive(std::string(info.name), arguments);
}

PredicatePtr RandomMaskBuilder::primitive() {
  auto table = primitive_table();
  const PrimitiveInfo& info =
      table[static_cast<size_t>(random_.integer(0, static_cast<int64_t>(table.size()) - 1))];
  // Small arguments often: the interesting cases are near the diagonal and near -1 / 0.
  int64_t smallest = info.minimum.empty() ? 0 : info.minimum.front();
  int64_t maximum = random_.integer(0, 1) ? smallest + 6 : argument_maximum(info.name);
  return primitive(info, maximum);
}

PredicatePtr RandomMaskBuilder::atom() {
  auto comparison = static_cast<Comparison>(random_.integer(0, 5));
  switch (random_.integer(0, 9)) {
    case 0:
      return make_compare(
          Comparison::kEqual,
          make_binary(TermKind::kFloorModulo, make_binary(TermKind::kSubtract, i_term(), j_term()),
                      make_constant(random_.integer(2, 5))),
          make_constant(0));
    case 1:  // j * j: not linear in j
      return make_compare(
          comparison, make_binary(TermKind::kMultiply, j_term(), j_term()),
          make_binary(TermKind::kAdd, i_term(), make_constant(random_.integer(0, 50))));
    case 2:  // a bound that decreases with i
      return make_compare(
          comparison, j_term(),
          make_binary(TermKind::kSubtract, make_constant(random_.integer(0, 300)), i_term()));
    case 3:  // a row condition
      return make_compare(comparison, i_term(), argument(0, 60));
    case 4: {  // a quotient of j, divisor literal or run-time, of any sign
      // i / e with e of the divisor's sign keeps both sides in one range, so the boundaries
      // of the solution fall inside the document.
      int64_t divisor = random_.integer(-4, 9);
      int64_t other = random_.integer(1, 9) * (divisor < 0 ? -1 : 1);
      TermPtr quotient =
          make_binary(TermKind::kFloorDivide,
                      make_binary(TermKind::kAdd, j_term(), make_constant(random_.integer(-5, 5))),
                      argument_of(divisor));
      return make_compare(
          comparison, quotient,
          make_binary(TermKind::kAdd,
                      make_binary(TermKind::kFloorDivide, i_term(), make_constant(other)),
                      make_constant(random_.integer(-2, 2))));
    }
    case 5:  // i times a run-time value of either sign
      return make_compare(comparison, j_term(),
                          make_binary(TermKind::kMultiply, i_term(), argument(-2, 2)));
    default: {
      int64_t a = random_.integer(-3, 3);
      if (a == 0) a = 1;
      TermPtr rhs = scaled(random_.integer(0, 2), i_term());
      if (random_.integer(0, 2) == 0) {
        rhs = make_binary(
            TermKind::kAdd, rhs,
            make_variable(random_.integer(0, 1) ? TermKind::kKeyLength : TermKind::kQueryLength));
      }
      rhs = make_binary(TermKind::kAdd, rhs, argument(-40, 40));
      return make_compare(comparison, scaled(a, j_term()), rhs);
    }
  }
}

PredicatePtr RandomMaskBuilder::subtree(int& leaves) {
  int64_t choice = leaves <= 1 ? 0 : random_.integer(0, 5);
  if (choice <= 1) {
    --leaves;
    return random_.integer(0, 2) == 0 ? atom() : primitive();
  }
  if (choice == 2) return make_logical(PredicateKind::kNot, {subtree(leaves)});
  std::vector<PredicatePtr> operands;
  operands.push_back(subtree(leaves));
  operands.push_back(subtree(leaves));
  return make_logical(choice <= 3 ? PredicateKind::kAnd : PredicateKind::kOr, operands);
}

PredicatePtr RandomMaskBuilder::tree(int leaves) { return subtree(leaves); }

int64_t random_length(TestRandom& random, int64_t maximum) {
  switch (random.integer(0, 5)) {
    case 0:
      return 0;
    case 1:
      return 1;
    default:
      return random.integer(0, maximum);
  }
}

}  // namespace attncc::testing
