// safetensors files (https://github.com/huggingface/safetensors): the tensor exchange format of
// `attncc run` and `attncc testgen`. Reader with full validation, and an atomic writer.
//
// Format: 8-byte little-endian header length N, N bytes of JSON header
// `{"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}}`
// (offsets relative to the byte buffer that follows the header), then the byte buffer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attncc/tensor.h"
#include "runtime/io/host_tensor.h"

namespace attncc {

/// The safetensors dtype string of a ScalarType: "F16", "BF16", "F32", "F64", "I32", "I64".
std::string_view safetensors_dtype_name(ScalarType type);

/// The ScalarType of a safetensors dtype string, or nullopt for dtypes attncc does not read
/// (BOOL, U8, I8, F8_*, I16, U16, U32, U64, ...).
std::optional<ScalarType> parse_safetensors_dtype(std::string_view name);

/// One tensor of a file as its header describes it.
struct SafetensorsEntry {
  std::string name;
  ScalarType dtype = ScalarType::kFloat32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  ///< data_offsets[0], relative to the byte buffer
  uint64_t end = 0;    ///< data_offsets[1]
};

/// A safetensors file read into memory. Owns the bytes; the TensorRef views it hands out stay
/// valid while it (or the object it was moved into) lives. Movable, not copyable.
class SafetensorsFile {
 public:
  SafetensorsFile();
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;

  /// The path the file was read from (as given).
  const std::string& path() const { return path_; }
  /// Tensor names in the order of the header.
  std::vector<std::string> names() const;
  /// The `__metadata__` string map (empty if the file has none).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(std::string_view name) const;
  /// The header entry of tensor `name`. Throws Error(kInvalidArgument) naming the file and the
  /// tensor, with the nearest existing name as a hint, if there is none.
  const SafetensorsEntry& entry(std::string_view name) const;
  /// A contiguous CPU view of tensor `name`, aligned to its element size (tensors whose file
  /// offset is not aligned are served from an aligned copy). The bytes may be written through the
  /// view; they are not written back to the file. Throws like entry().
  TensorRef view(std::string_view name) const;

 private:
  friend SafetensorsFile read_safetensors(const std::string& path);
  struct Storage;

  std::string path_;
  std::vector<SafetensorsEntry> entries_;  // header order
  std::map<std::string, std::string> metadata_;
  std::unique_ptr<Storage> storage_;
};

/// Reads and validates a whole safetensors file. Throws Error(kIo) if the file cannot be read,
/// and Error(kInvalidArgument) naming the file (and the tensor) if it is malformed: shorter than
/// its header, a header that is not a JSON object of well-formed entries, an unsupported dtype,
/// a duplicated name, data_offsets out of the byte buffer, overlapping, or not the byte size of
/// shape x dtype.
SafetensorsFile read_safetensors(const std::string& path);

/// Writes `tensors` (CPU tensors of any strides, gathered contiguous) and `metadata` as a
/// safetensors file, atomically: into a temporary file beside `path`, then renamed over it.
/// The header is compact JSON (`__metadata__` first, then tensors in data order) padded with
/// spaces to a multiple of 8 bytes. Data is packed without gaps in the order given, except that
/// tensors of wider elements come first (stable), so each tensor is aligned to its element size.
/// Throws Error(kInvalidArgument) for an empty, duplicated or reserved name or a GPU tensor, and
/// Error(kIo) if the file cannot be written (the temporary file is removed).
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, TensorRef>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace attncc
