// Spec: what one attention kernel computes (layout, mask, dtype, head dims, score options),
// parsed from JSON, checked, with its mask in canonical form (DESIGN §2-3).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "attncc/error.h"
#include "attncc/layout.h"
#include "attncc/mask_expr.h"

namespace attncc {

enum class DType { kFloat16, kBFloat16, kFloat32 };

std::string_view dtype_name(DType dtype);  ///< "fp16", "bf16", "fp32"

struct Spec {
  std::string name;         ///< free text, not part of the hash
  std::string description;  ///< free text, not part of the hash
  Layout layout = Layout::kDense;
  DType dtype = DType::kBFloat16;
  int head_dim = 128;    ///< D of Q and K
  int head_dim_v = 128;  ///< Dv of V and O (default: head_dim)
  std::string mask_text;            ///< as written in the spec
  PredicatePtr mask;                ///< checked and canonical
  std::optional<double> softmax_scale;  ///< nullopt = 1 / sqrt(head_dim)
  double softcap = 0.0;             ///< 0 = no soft-capping; else s = softcap * tanh(s / softcap)
  bool alibi = false;               ///< add slope[h] * (j - i - (Lk - Lq)); run-time alibi_slopes
  bool output_lse = true;           ///< "outputs" contains "lse" ("o" is always produced)
  bool backward = false;            ///< build the backward kernels too
  bool deterministic = false;       ///< backward without atomics (separate dQ pass)
  std::map<std::string, bool> parameters;  ///< mask parameters: name -> per document

  /// Parses and checks a JSON spec; `file` names it in errors (`file:line:col: error: ...`).
  /// Unknown fields are rejected with the nearest valid name. Throws Error.
  static Spec parse(std::string_view json_text, std::string_view file = "<spec>");
  /// Reads and parses a spec file. Throws Error(kIo) if it cannot be read.
  static Spec load(const std::string& path);

  /// The softmax scale in effect.
  double scale() const;

  /// Softcap or ALiBi: score arithmetic per element beyond the scale (the CUDA backward's
  /// key/value tile shape depends on it: launch_shape.h backward_key_value_tile_shape).
  bool has_score_mods() const { return softcap > 0 || alibi; }

  /// Canonical JSON text (sorted keys, canonical mask, defaults written out, name and
  /// description left out): equal for semantically equal specs; the input of spec_hash.
  std::string canonical_text() const;
};

/// Stable 128-bit hash (XXH3-128) of the canonical text, as 32 lowercase hex digits.
std::string spec_hash(const Spec& spec);

/// 128-bit XXH3 of arbitrary bytes as 32 lowercase hex digits (stable across platforms).
std::string hash128_hex(std::string_view bytes);

}  // namespace attncc
