// The generated banner and `struct Mask` (interval bounds, row conditions, the per-element predicate) shared
// by the CPU and CUDA lowerings, so both backends evaluate the same text.
#pragma once

#include <string>

#include "attncc/interval_form.h"
#include "attncc/spec.h"
#include "compiler/emit/cxx_expression.h"

namespace attncc {

/// The C++ element type of `dtype` in generated code ("attncc::bfloat16", ...).
std::string element_type_name(DType dtype);

/// The comment lines that open a generated file: spec hash, backend (e.g. "CPU"), canonical
/// mask and interval form.
std::string generated_banner(const Spec& spec, const IntervalForm& form,
                             const std::string& backend);

/// The slot of each `$name` parameter: the spec's parameters in name order.
ParameterSlots parameter_slots(const Spec& spec);

/// Comment lines naming each parameter slot, then `struct Mask { ... };` for `spec` (mask
/// canonical) and its interval form. With `host_device` every function is prefixed with
/// ATTNCC_HOST_DEVICE so CUDA device code can call it.
std::string emit_mask_struct(const Spec& spec, const IntervalForm& form, bool host_device);

}  // namespace attncc
