// Spec: JSON parsing with located errors, the spec-level checks, canonical text and hash.
#include "attncc/spec.h"

#include <xxhash.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attncc/mask_text.h"
#include "compiler/passes/check_mask.h"
#include "compiler/spec/json_location.h"

namespace attncc {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 13> kSpecFields = {
    "name",          "description", "layout", "dtype",   "head_dim",      "head_dim_v", "mask",
    "softmax_scale", "softcap",     "alibi",  "outputs", "backward", "deterministic"};
// Version marker written by canonical_text(); accepted so canonical text is itself a spec.
constexpr std::string_view kFormatField = "attncc_spec";
constexpr int kFormatVersion = 1;
constexpr std::array<int, 5> kHeadDims = {32, 64, 96, 128, 256};

// Everything needed to point at a field of the spec text in an error.
struct SpecSource {
  std::string_view file;
  std::string_view text;

  [[noreturn]] void fail_at_value(std::string_view key, const std::string& message,
                                  const std::string& hint = {}) const {
    throw located_error(ErrorCode::kInvalidSpec, location_of_value(file, text, key), text,
                        message, hint);
  }
  [[noreturn]] void fail_at_key(std::string_view key, const std::string& message,
                                const std::string& hint = {}) const {
    throw located_error(ErrorCode::kInvalidSpec, location_of_key(file, text, key), text, message,
                        hint);
  }
};

std::string json_type(const json& value) { return value.type_name(); }

// Whether `value` nests fewer than `levels` arrays/objects deep; stops at the first deep branch.
bool shallower_than(const json& value, int levels) {
  if (!value.is_structured()) return true;
  if (levels == 0) return false;
  for (const json& element : value) {
    if (!shallower_than(element, levels - 1)) return false;
  }
  return true;
}

// A JSON value as quoted in an error message. Serialising recurses once per nesting level, so a
// hostile value (300000 nested arrays, which the parser accepts) overflowed the stack when an
// error message dumped it: deep values are named by their type, long ones are cut.
std::string shown_value(const json& value) {
  constexpr int kMaxLevels = 8;
  constexpr size_t kMaxShown = 60;
  if (!value.is_structured()) return value.dump();
  if (!shallower_than(value, kMaxLevels)) return json_type(value);
  std::string text = value.dump();
  return text.size() > kMaxShown ? text.substr(0, kMaxShown) + "..." : text;
}

std::string nearest_field(std::string_view unknown) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  auto consider = [&](std::string_view candidate) {
    size_t distance = edit_distance(unknown, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = std::string(candidate);
    }
  };
  for (std::string_view field : kSpecFields) consider(field);
  return best_distance <= std::max<size_t>(2, unknown.size() / 2) ? best : std::string();
}

std::string valid_fields_list() {
  std::string list;
  for (std::string_view field : kSpecFields) list += (list.empty() ? "" : ", ") + std::string(field);
  return list;
}

template <typename Enum, size_t N>
Enum parse_choice(const SpecSource& source, const json& object, std::string_view key,
                  const std::array<std::pair<std::string_view, Enum>, N>& choices) {
  const json& value = object.at(std::string(key));
  std::string allowed;
  for (const auto& [name, choice] : choices) allowed += (allowed.empty() ? "" : ", ") + std::string(name);
  if (!value.is_string()) {
    source.fail_at_value(key, std::string(key) + " must be a string, one of " + allowed +
                                  "; got " + json_type(value));
  }
  std::string text = value.get<std::string>();
  for (const auto& [name, choice] : choices) {
    if (text == name) return choice;
  }
  std::string hint;
  for (const auto& [name, choice] : choices) {
    if (edit_distance(text, name) <= 2) hint = "did you mean '" + std::string(name) + "'?";
  }
  source.fail_at_value(key, std::string(key) + " must be one of " + allowed + "; got '" + text +
                                "'", hint);
}

bool parse_bool(const SpecSource& source, const json& object, std::string_view key) {
  const json& value = object.at(std::string(key));
  if (!value.is_boolean()) {
    source.fail_at_value(key, std::string(key) + " must be true or false; got " +
                                  shown_value(value));
  }
  return value.get<bool>();
}

int parse_head_dim(const SpecSource& source, const json& object, std::string_view key) {
  const json& value = object.at(std::string(key));
  std::string allowed = "32, 64, 96, 128, 256";
  if (!value.is_number_integer()) {
    source.fail_at_value(key, std::string(key) + " must be an integer, one of " + allowed +
                                  "; got " + shown_value(value));
  }
  int64_t head_dim = value.get<int64_t>();
  for (int supported : kHeadDims) {
    if (head_dim == supported) return supported;
  }
  source.fail_at_value(key, std::string(key) + " must be one of " + allowed + "; got " +
                                std::to_string(head_dim),
                       "pad the head dimension up to the next supported size");
}

double parse_positive_number(const SpecSource& source, const json& object, std::string_view key) {
  const json& value = object.at(std::string(key));
  if (!value.is_number() || !(value.get<double>() > 0) || !std::isfinite(value.get<double>())) {
    source.fail_at_value(key, std::string(key) + " must be a positive finite number; got " +
                                  shown_value(value));
  }
  return value.get<double>();
}

// JSON number text that round-trips exactly (nlohmann prints shortest round-trip doubles).
json number_json(double value) { return json(value); }

}  // namespace

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat16: return "fp16";
    case DType::kBFloat16: return "bf16";
    case DType::kFloat32: return "fp32";
  }
  return "?";
}

Spec Spec::parse(std::string_view json_text, std::string_view file) {
  SpecSource source{file, json_text};
  json object;
  try {
    object = json::parse(json_text);
  } catch (const json::parse_error& error) {
    // nlohmann's byte position is one past the offending character.
    size_t offset = error.byte > 0 ? error.byte - 1 : 0;
    std::string message = error.what();
    // Drop nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 2: " prefix.
    size_t colon = message.find(": ", message.find("parse error"));
    if (colon != std::string::npos) message = message.substr(colon + 2);
    throw located_error(ErrorCode::kInvalidSpec, location_of_offset(file, json_text, offset),
                        json_text, "invalid JSON: " + message);
  } catch (const json::out_of_range& error) {
    // A number beyond double's range (1e999) is out_of_range, not parse_error, and carries no
    // position: it escaped as a foreign exception (an "internal error" in the CLI). The message
    // quotes the number's text, which locates it.
    std::string message = error.what();
    if (size_t bracket = message.find("] "); bracket != std::string::npos) {
      message = message.substr(bracket + 2);
    }
    size_t offset = 0;
    size_t open = message.find('\'');
    size_t close = message.rfind('\'');
    if (open != std::string::npos && close > open) {
      size_t at = json_text.find(message.substr(open + 1, close - open - 1));
      if (at != std::string_view::npos) offset = at;
    }
    throw located_error(ErrorCode::kInvalidSpec, location_of_offset(file, json_text, offset),
                        json_text, "invalid JSON: " + message,
                        "numbers must fit in a double");
  }
  if (!object.is_object()) {
    throw located_error(ErrorCode::kInvalidSpec, {std::string(file), 1, 1}, json_text,
                        "a spec must be a JSON object; got " + json_type(object),
                        R"(e.g. {"layout": "varlen", "dtype": "bf16", "head_dim": 128, "mask": "causal"})");
  }
  for (const auto& [key, value] : object.items()) {
    bool known = key == kFormatField;
    for (std::string_view field : kSpecFields) known = known || key == field;
    if (!known) {
      std::string nearest = nearest_field(key);
      source.fail_at_key(key, "unknown field '" + key + "'",
                         nearest.empty() ? "valid fields: " + valid_fields_list()
                                         : "did you mean '" + nearest + "'?");
    }
  }
  for (std::string_view required : {"layout", "dtype", "head_dim", "mask"}) {
    if (!object.contains(std::string(required))) {
      throw located_error(ErrorCode::kInvalidSpec, {std::string(file), 1, 1}, json_text,
                          "missing required field '" + std::string(required) + "'",
                          "a spec needs layout, dtype, head_dim and mask");
    }
  }

  if (object.contains(std::string(kFormatField)) &&
      object.at(std::string(kFormatField)) != kFormatVersion) {
    source.fail_at_value(kFormatField, "unsupported canonical spec format " +
                                           shown_value(object.at(std::string(kFormatField))),
                         "this attncc reads format " + std::to_string(kFormatVersion));
  }

  Spec spec;
  for (std::string_view text_field : {"name", "description"}) {
    if (!object.contains(std::string(text_field))) continue;
    const json& value = object.at(std::string(text_field));
    if (!value.is_string()) {
      source.fail_at_value(text_field, std::string(text_field) + " must be a string; got " +
                                           json_type(value));
    }
    (text_field == "name" ? spec.name : spec.description) = value.get<std::string>();
  }
  spec.layout = parse_choice<Layout, 3>(source, object, "layout",
                                        {{{"dense", Layout::kDense},
                                          {"varlen", Layout::kVarlen},
                                          {"doc_packed", Layout::kDocPacked}}});
  spec.dtype = parse_choice<DType, 3>(
      source, object, "dtype",
      {{{"fp16", DType::kFloat16}, {"bf16", DType::kBFloat16}, {"fp32", DType::kFloat32}}});
  spec.head_dim = parse_head_dim(source, object, "head_dim");
  spec.head_dim_v = object.contains("head_dim_v") ? parse_head_dim(source, object, "head_dim_v")
                                                  : spec.head_dim;
  if (object.contains("softmax_scale")) {
    const json& value = object.at("softmax_scale");
    if (!(value.is_string() && value.get<std::string>() == "default")) {
      if (value.is_string()) {
        source.fail_at_value("softmax_scale", "softmax_scale must be \"default\" or a positive "
                                              "number; got " + value.dump());
      }
      spec.softmax_scale = parse_positive_number(source, object, "softmax_scale");
    }
  }
  if (object.contains("softcap")) spec.softcap = parse_positive_number(source, object, "softcap");
  if (object.contains("alibi")) spec.alibi = parse_bool(source, object, "alibi");
  if (object.contains("backward")) spec.backward = parse_bool(source, object, "backward");
  if (object.contains("deterministic")) {
    spec.deterministic = parse_bool(source, object, "deterministic");
  }
  if (object.contains("outputs")) {
    const json& outputs = object.at("outputs");
    bool has_o = false;
    bool has_lse = false;
    if (!outputs.is_array()) {
      source.fail_at_value("outputs", "outputs must be an array of \"o\" and \"lse\"; got " +
                                          json_type(outputs));
    }
    for (const json& output : outputs) {
      std::string name = output.is_string() ? output.get<std::string>() : shown_value(output);
      if (name == "o") {
        has_o = true;
      } else if (name == "lse") {
        has_lse = true;
      } else {
        source.fail_at_value("outputs", "unknown output '" + name + "'",
                             "outputs are \"o\" and \"lse\"");
      }
    }
    if (!has_o) source.fail_at_value("outputs", "outputs must contain \"o\"");
    spec.output_lse = has_lse;
  }
  if (spec.backward && !spec.output_lse) {
    source.fail_at_value("outputs", "backward needs the forward's LSE",
                         "add \"lse\" to outputs or set backward to false");
  }

  const json& mask = object.at("mask");
  if (!mask.is_string()) {
    source.fail_at_value("mask", "mask must be a string of mask text; got " + json_type(mask),
                         "e.g. \"causal_br & window_br(256, 0)\"");
  }
  spec.mask_text = mask.get<std::string>();
  // The mask's first character sits one column after the opening quote.
  SourceLocation origin = location_of_value(file, json_text, "mask");
  origin.column += 1;
  MaskParseOptions options;
  options.source = json_text;
  PredicatePtr parsed = parse_mask(spec.mask_text, origin, options);
  check_mask(*parsed, file, json_text);
  spec.mask = canonicalise(parsed);
  spec.parameters = collect_parameters(*spec.mask);
  return spec;
}

Spec Spec::load(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    throw user_error(ErrorCode::kIo, path, "cannot open spec file",
                     "check the path (specs live in specs/*.json)");
  }
  std::ostringstream text;
  text << stream.rdbuf();
  return parse(text.str(), path);
}

double Spec::scale() const {
  return softmax_scale ? *softmax_scale : 1.0 / std::sqrt(static_cast<double>(head_dim));
}

std::string Spec::canonical_text() const {
  json object;
  object[std::string(kFormatField)] = kFormatVersion;
  object["layout"] = std::string(layout_name(layout));
  object["dtype"] = std::string(dtype_name(dtype));
  object["head_dim"] = head_dim;
  object["head_dim_v"] = head_dim_v;
  object["mask"] = mask ? print_mask(*mask) : std::string();
  // An explicit scale equal to the default is the default.
  if (softmax_scale && *softmax_scale != 1.0 / std::sqrt(static_cast<double>(head_dim))) {
    object["softmax_scale"] = number_json(*softmax_scale);
  } else {
    object["softmax_scale"] = "default";
  }
  if (softcap > 0) object["softcap"] = number_json(softcap);
  object["alibi"] = alibi;
  object["outputs"] = output_lse ? json::array({"o", "lse"}) : json::array({"o"});
  object["backward"] = backward;
  object["deterministic"] = deterministic;
  return object.dump();  // std::map-backed object: keys sorted, no whitespace
}

std::string hash128_hex(std::string_view bytes) {
  XXH128_hash_t hash = XXH3_128bits(bytes.data(), bytes.size());
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(hash.high64),
                static_cast<unsigned long long>(hash.low64));
  return text;
}

std::string spec_hash(const Spec& spec) { return hash128_hex(spec.canonical_text()); }

}  // namespace attncc
