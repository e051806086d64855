// Ahead-of-time CUDA kernels (`attncc compile ... -o DIR`): one file per spec x target holding
// the CUBIN/PTX and its ptxas report (the disk cache's payload format), plus DIR/manifest.json
// listing them. A Runtime given the directory (RuntimeOptions::bundle_dir) loads kernels from
// it without NVRTC; it is read-only to the runtime.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "attncc/spec.h"
#include "runtime/cuda/cuda_binary.h"

namespace attncc {

/// One kernel of a bundle being written.
struct CudaBundleEntry {
  Spec spec;
  std::string source;  ///< the generated translation unit it was compiled from
  CudaBinary binary;
  double compile_seconds = 0;
};

/// Writes every entry's file and DIR/manifest.json (creating DIR). Throws Error(kIo) naming the
/// file that could not be written.
void write_cuda_bundle(const std::string& directory, const std::vector<CudaBundleEntry>& entries);

/// The file name of an entry within its bundle: "<spec hash>.<target>.attncc-cuda".
std::string cuda_bundle_file_name(const Spec& spec, const std::string& target);

class CudaBundle {
 public:
  /// Reads DIR/manifest.json. Throws Error(kIo) when it is missing or unreadable.
  static CudaBundle open(const std::string& directory);

  /// The kernel of `spec` compiled from `source` for `target`, or nullopt when the bundle has
  /// none (or was built from other templates, which it reports once on stderr). Throws
  /// Error(kIo) when a listed file is missing or corrupt.
  std::optional<CudaBinary> find(const Spec& spec, const std::string& source,
                                 const CudaTarget& target) const;

  const std::string& directory() const { return directory_; }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string spec;    // canonical text
    std::string source;  // hash of the generated source
    std::string target;
    std::string file;
  };
  std::string directory_;
  bool current_templates_ = true;  // built from the templates embedded in this attncc
  std::vector<Entry> entries_;
};

}  // namespace attncc
