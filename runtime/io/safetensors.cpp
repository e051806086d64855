// safetensors reader (validates everything before handing out views) and atomic writer.
#include "runtime/io/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "attncc/error.h"
#include "compiler/spec/json_location.h"

namespace attncc {
namespace {

using OrderedJson = nlohmann::ordered_json;

constexpr std::string_view kMetadataKey = "__metadata__";
constexpr size_t kLengthFieldBytes = 8;

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t axis = 0; axis < shape.size(); ++axis) {
    text += (axis ? ", " : "") + std::to_string(shape[axis]);
  }
  return text + "]";
}

std::string offsets_text(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

[[noreturn]] void malformed(const std::string& path, const std::string& message,
                            std::string_view hint = {}) {
  throw user_error(ErrorCode::kInvalidArgument, path, message, hint);
}

[[noreturn]] void malformed_tensor(const std::string& path, const std::string& name,
                                   const std::string& message, std::string_view hint = {}) {
  malformed(path, "tensor '" + name + "': " + message, hint);
}

std::vector<std::byte> read_whole_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw user_error(ErrorCode::kIo, path, std::string("cannot open: ") + std::strerror(errno));
  }
  std::vector<std::byte> bytes;
  std::error_code size_error;
  const auto size = std::filesystem::file_size(path, size_error);
  if (!size_error) bytes.reserve(static_cast<size_t>(size));  // a hint: the file may still change
  std::byte buffer[1 << 16];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    bytes.insert(bytes.end(), buffer, buffer + got);
  }
  bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) throw user_error(ErrorCode::kIo, path, "cannot read the file");
  return bytes;
}

// A non-negative JSON integer that fits int64 (the only numbers the header holds).
std::optional<uint64_t> header_count(const OrderedJson& value) {
  if (!value.is_number_unsigned()) return std::nullopt;
  uint64_t number = value.get<uint64_t>();
  if (number > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return number;
}

SafetensorsEntry parse_entry(const std::string& path, const std::string& name,
                             const OrderedJson& value) {
  if (!value.is_object()) {
    malformed_tensor(path, name, "header entry must be an object with dtype, shape, data_offsets");
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(field)) {
      malformed_tensor(path, name, std::string("missing '") + field + "'");
    }
  }
  SafetensorsEntry entry;
  entry.name = name;
  const OrderedJson& dtype = value["dtype"];
  if (!dtype.is_string()) malformed_tensor(path, name, "dtype must be a string such as \"F32\"");
  std::optional<ScalarType> type = parse_safetensors_dtype(dtype.get<std::string>());
  if (!type) {
    malformed_tensor(path, name, "dtype '" + dtype.get<std::string>() + "' is not supported",
                     "attncc reads F16, BF16, F32, F64, I32 and I64 tensors; convert it to one");
  }
  entry.dtype = *type;
  const OrderedJson& shape = value["shape"];
  if (!shape.is_array()) malformed_tensor(path, name, "shape must be an array of integers");
  for (const OrderedJson& extent : shape) {
    std::optional<uint64_t> count = header_count(extent);
    if (!count) {
      malformed_tensor(path, name, "shape " + shape.dump() + " must hold non-negative integers");
    }
    entry.shape.push_back(static_cast<int64_t>(*count));
  }
  const OrderedJson& offsets = value["data_offsets"];
  std::optional<uint64_t> begin;
  std::optional<uint64_t> end;
  if (offsets.is_array() && offsets.size() == 2) {
    begin = header_count(offsets[0]);
    end = header_count(offsets[1]);
  }
  if (!begin || !end || *begin > *end) {
    malformed_tensor(
        path, name,
        "data_offsets " + offsets.dump() + " must be [begin, end] with 0 <= begin <= end");
  }
  entry.begin = *begin;
  entry.end = *end;
  return entry;
}

// The header as JSON; duplicated top-level keys are errors (a JSON parser keeps the last one
// silently, which would hide a tensor).
OrderedJson parse_header(const std::string& path, std::string_view text) {
  std::string duplicate;
  std::vector<std::string> keys;
  auto remember_keys = [&](int depth, OrderedJson::parse_event_t event, OrderedJson& parsed) {
    if (depth == 1 && event == OrderedJson::parse_event_t::key && duplicate.empty()) {
      std::string key = parsed.get<std::string>();
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) duplicate = key;
      keys.push_back(std::move(key));
    }
    return true;
  };
  OrderedJson header;
  try {
    header = OrderedJson::parse(text.begin(), text.end(), remember_keys);
  } catch (const nlohmann::json::exception& error) {
    malformed(path, std::string("the header is not valid JSON (") + error.what() + ")",
              "the file is truncated or not a safetensors file");
  }
  if (!header.is_object()) malformed(path, "the header must be a JSON object");
  if (!duplicate.empty()) {
    malformed(path, "tensor '" + duplicate + "' appears twice in the header",
              "every tensor name must be unique");
  }
  return header;
}

std::string nearest_name_hint(const std::vector<SafetensorsEntry>& entries, std::string_view name) {
  std::string names;
  std::string nearest;
  size_t best = SIZE_MAX;
  for (const SafetensorsEntry& entry : entries) {
    names += (names.empty() ? "" : ", ") + entry.name;
    size_t distance = edit_distance(name, entry.name);
    if (distance < best) {
      best = distance;
      nearest = entry.name;
    }
  }
  if (names.empty()) return "the file holds no tensors";
  std::string hint = best <= 2 ? "did you mean '" + nearest + "'? " : "";
  return hint + "the file holds: " + names;
}

}  // namespace

std::string_view safetensors_dtype_name(ScalarType type) {
  switch (type) {
    case ScalarType::kFloat16: return "F16";
    case ScalarType::kBFloat16: return "BF16";
    case ScalarType::kFloat32: return "F32";
    case ScalarType::kFloat64: return "F64";
    case ScalarType::kInt32: return "I32";
    case ScalarType::kInt64: return "I64";
  }
  return "?";
}

std::optional<ScalarType> parse_safetensors_dtype(std::string_view name) {
  for (ScalarType type : {ScalarType::kFloat16, ScalarType::kBFloat16, ScalarType::kFloat32,
                          ScalarType::kFloat64, ScalarType::kInt32, ScalarType::kInt64}) {
    if (safetensors_dtype_name(type) == name) return type;
  }
  return std::nullopt;
}

// The file's bytes, and aligned copies of the tensors whose offset in them is misaligned.
struct SafetensorsFile::Storage {
  std::vector<std::byte> file_bytes;
  std::vector<std::byte*> tensor_data;  // per entry, into file_bytes or copies
  std::vector<HostTensor> copies;
};

SafetensorsFile::SafetensorsFile() = default;
SafetensorsFile::~SafetensorsFile() = default;
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> result;
  for (const SafetensorsEntry& entry : entries_) result.push_back(entry.name);
  return result;
}

bool SafetensorsFile::contains(std::string_view name) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const SafetensorsEntry& entry) { return entry.name == name; });
}

const SafetensorsEntry& SafetensorsFile::entry(std::string_view name) const {
  for (const SafetensorsEntry& entry : entries_) {
    if (entry.name == name) return entry;
  }
  throw user_error(ErrorCode::kInvalidArgument, path_,
                   "no tensor named '" + std::string(name) + "'",
                   nearest_name_hint(entries_, name));
}

TensorRef SafetensorsFile::view(std::string_view name) const {
  const SafetensorsEntry& found = entry(name);
  size_t index = static_cast<size_t>(&found - entries_.data());
  return TensorRef::cpu(storage_->tensor_data[index], found.dtype, found.shape);
}

SafetensorsFile read_safetensors(const std::string& path) {
  SafetensorsFile file;
  file.path_ = path;
  file.storage_ = std::make_unique<SafetensorsFile::Storage>();
  std::vector<std::byte>& bytes = file.storage_->file_bytes;
  bytes = read_whole_file(path);
  const std::string kNotSafetensors = "the file is truncated or not a safetensors file";
  if (bytes.size() < kLengthFieldBytes) {
    malformed(path,
              "the file is " + std::to_string(bytes.size()) +
                  " bytes, too short for the 8-byte header length",
              kNotSafetensors);
  }
  uint64_t header_length = 0;
  for (size_t index = 0; index < kLengthFieldBytes; ++index) {
    header_length |= static_cast<uint64_t>(bytes[index]) << (8 * index);  // little-endian
  }
  const uint64_t after_length = bytes.size() - kLengthFieldBytes;
  if (header_length > after_length) {
    malformed(path,
              "the header length " + std::to_string(header_length) +
                  " runs past the end of the file (" + std::to_string(after_length) +
                  " bytes follow the length field)",
              kNotSafetensors);
  }
  std::string_view header_text(reinterpret_cast<const char*>(bytes.data()) + kLengthFieldBytes,
                               header_length);
  OrderedJson header = parse_header(path, header_text);

  const uint64_t buffer_offset = kLengthFieldBytes + header_length;
  const uint64_t buffer_size = bytes.size() - buffer_offset;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      if (!value.is_object()) malformed(path, "__metadata__ must be an object of strings");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string()) {
          malformed(path,
                    "__metadata__ value of '" + key + "' must be a string; got " + text.dump());
        }
        file.metadata_[key] = text.get<std::string>();
      }
      continue;
    }
    SafetensorsEntry entry = parse_entry(path, name, value);
    const size_t element_size = scalar_type_size(entry.dtype);
    int64_t count = 0;
    try {
      count = checked_numel(entry.shape, element_size, "tensor '" + name + "'");
    } catch (const Error&) {
      malformed_tensor(path, name, "shape " + shape_text(entry.shape) + " is too large");
    }
    if (entry.end > buffer_size) {
      malformed_tensor(path, name,
                       "data_offsets " + offsets_text(entry.begin, entry.end) +
                           " run past the end of the byte buffer (" + std::to_string(buffer_size) +
                           " bytes)",
                       kNotSafetensors);
    }
    const uint64_t needed = static_cast<uint64_t>(count) * element_size;
    if (entry.end - entry.begin != needed) {
      malformed_tensor(path, name,
                       "data_offsets " + offsets_text(entry.begin, entry.end) + " hold " +
                           std::to_string(entry.end - entry.begin) + " bytes, but shape " +
                           shape_text(entry.shape) + " of " +
                           std::string(safetensors_dtype_name(entry.dtype)) + " needs " +
                           std::to_string(needed));
    }
    file.entries_.push_back(std::move(entry));
  }

  // Overlaps: sorted by begin, each tensor must end before the next one starts (empty tensors
  // hold no bytes and overlap nothing).
  std::vector<const SafetensorsEntry*> by_offset;
  for (const SafetensorsEntry& entry : file.entries_) {
    if (entry.end > entry.begin) by_offset.push_back(&entry);
  }
  std::sort(
      by_offset.begin(), by_offset.end(),
      [](const SafetensorsEntry* a, const SafetensorsEntry* b) { return a->begin < b->begin; });
  for (size_t index = 1; index < by_offset.size(); ++index) {
    const SafetensorsEntry& previous = *by_offset[index - 1];
    const SafetensorsEntry& next = *by_offset[index];
    if (next.begin < previous.end) {
      malformed(path,
                "tensors '" + previous.name + "' " + offsets_text(previous.begin, previous.end) +
                    " and '" + next.name + "' " + offsets_text(next.begin, next.end) +
                    " overlap in the byte buffer",
                "every tensor needs its own bytes");
    }
  }

  // Views must be aligned to the element size: the header length is free, so a tensor can sit
  // at any address; copy those that do not.
  std::byte* buffer = bytes.data() + buffer_offset;
  for (const SafetensorsEntry& entry : file.entries_) {
    std::byte* data = buffer + entry.begin;
    if (reinterpret_cast<uintptr_t>(data) % scalar_type_size(entry.dtype) != 0) {
      HostTensor copy(entry.dtype, entry.shape);
      std::memcpy(copy.data(), data, copy.size_bytes());
      data = copy.data();
      file.storage_->copies.push_back(std::move(copy));
    }
    file.storage_->tensor_data.push_back(data);
  }
  return file;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, TensorRef>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<size_t> order(tensors.size());
  for (size_t index = 0; index < tensors.size(); ++index) {
    const auto& [name, tensor] = tensors[index];
    if (name.empty()) throw user_error(ErrorCode::kInvalidArgument, path, "a tensor name is empty");
    if (name == kMetadataKey) {
      throw user_error(ErrorCode::kInvalidArgument, path,
                       "'__metadata__' is reserved and cannot name a tensor",
                       "pass metadata as the metadata map");
    }
    for (size_t other = 0; other < index; ++other) {
      if (tensors[other].first == name) {
        throw user_error(ErrorCode::kInvalidArgument, path, "tensor '" + name + "' is given twice",
                         "every tensor name must be unique");
      }
    }
    if (tensor.device != DeviceKind::kCpu) {
      throw user_error(ErrorCode::kInvalidArgument, path,
                       "tensor '" + name + "' " + tensor.describe() + " is not a CPU tensor",
                       "copy it to the host first");
    }
    if (checked_numel(tensor.shape, scalar_type_size(tensor.dtype),
                      path + ": tensor '" + name + "'") > 0 &&
        tensor.data == nullptr) {
      throw user_error(
          ErrorCode::kInvalidArgument, path,
          "tensor '" + name + "' " + tensor.describe() + " has elements but a null data pointer");
    }
    if (!tensor.strides.empty() && tensor.strides.size() != tensor.shape.size()) {
      throw user_error(ErrorCode::kInvalidArgument, path,
                       "tensor '" + name + "' " + tensor.describe() + " has " +
                           std::to_string(tensor.strides.size()) + " strides for " +
                           std::to_string(tensor.shape.size()) + " dimensions");
    }
    order[index] = index;
  }
  // Wider elements first: with the buffer starting at a multiple of 8 and no gaps allowed
  // between tensors, this keeps every tensor aligned to its element size.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return scalar_type_size(tensors[a].second.dtype) > scalar_type_size(tensors[b].second.dtype);
  });

  OrderedJson header = OrderedJson::object();
  if (!metadata.empty()) {
    OrderedJson map = OrderedJson::object();
    for (const auto& [key, value] : metadata) map[key] = value;
    header[std::string(kMetadataKey)] = map;
  }
  uint64_t offset = 0;
  for (size_t index : order) {
    const auto& [name, tensor] = tensors[index];
    const size_t element_size = scalar_type_size(tensor.dtype);
    const uint64_t size = static_cast<uint64_t>(tensor.numel()) * element_size;
    header[name] = {{"dtype", std::string(safetensors_dtype_name(tensor.dtype))},
                    {"shape", tensor.shape},
                    {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& error) {
    throw user_error(ErrorCode::kInvalidArgument, path,
                     std::string("a tensor name or metadata string is not valid UTF-8 (") +
                         error.what() + ")");
  }
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  // Gather before touching the file, so a bad tensor leaves no partial output behind.
  std::vector<HostTensor> gathered(tensors.size());
  for (size_t index = 0; index < tensors.size(); ++index) {
    const TensorRef& tensor = tensors[index].second;
    if (!is_contiguous(tensor)) {
      gathered[index] = HostTensor::copy_of(tensor);
    }
  }

  static std::atomic<uint64_t> counter{0};
  const std::string temporary = path + ".tmp-" + std::to_string(::getpid()) + "-" +
                                std::to_string(counter.fetch_add(1));
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) {
    throw user_error(ErrorCode::kIo, path, std::string("cannot create: ") + std::strerror(errno),
                     "check that the directory exists and is writable");
  }
  bool ok = true;
  unsigned char length_field[kLengthFieldBytes];
  for (size_t index = 0; index < kLengthFieldBytes; ++index) {
    length_field[index] = static_cast<unsigned char>(header_text.size() >> (8 * index));
  }
  ok = ok && std::fwrite(length_field, 1, sizeof(length_field), file) == sizeof(length_field);
  ok = ok && std::fwrite(header_text.data(), 1, header_text.size(), file) == header_text.size();
  for (size_t index : order) {
    const TensorRef& tensor = tensors[index].second;
    const void* data = gathered[index].data() != nullptr ? gathered[index].data() : tensor.data;
    const size_t size = static_cast<size_t>(tensor.numel()) * scalar_type_size(tensor.dtype);
    if (size > 0) ok = ok && std::fwrite(data, 1, size, file) == size;
  }
  const int saved_errno = errno;
  ok = (std::fclose(file) == 0) && ok;
  std::error_code rename_error;
  if (ok) std::filesystem::rename(temporary, path, rename_error);
  if (!ok || rename_error) {
    std::remove(temporary.c_str());
    std::string reason = !ok ? std::strerror(saved_errno ? saved_errno : errno)
                             : rename_error.message();
    throw user_error(ErrorCode::kIo, path, "cannot write the file: " + reason,
                     "check free space and permissions");
  }
}

}  // namespace attncc
