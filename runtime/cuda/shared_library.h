// A shared library opened with dlopen at run time (libnvrtc, libcuda): attncc links neither, so
// it builds and runs its CPU paths on machines without the CUDA libraries (DESIGN §4).
#pragma once

#include <string>
#include <vector>

namespace attncc {

/// An open shared library; closed never (its functions may be in use until process exit, and
/// unloading libcuda/libnvrtc at exit races with their own destructors).
class SharedLibrary {
 public:
  /// Opens the first of `file_names` found, trying each in every directory of `directories`
  /// and then by name alone (the loader's default paths, LD_LIBRARY_PATH). Returns an unopened
  /// library whose error() lists every attempt when none loads. Never throws.
  static SharedLibrary open(const std::vector<std::string>& file_names,
                            const std::vector<std::string>& directories);

  bool is_open() const { return handle_ != nullptr; }
  const std::string& path() const { return path_; }    ///< what was opened
  const std::string& error() const { return error_; }  ///< why nothing opened

  /// The address of `name`, or nullptr (missing symbols are reported by the callers, which know
  /// the library's version requirements).
  void* symbol(const char* name) const;

  template <typename Function>
  bool bind(Function*& function, const char* name) const {
    function = reinterpret_cast<Function*>(symbol(name));
    return function != nullptr;
  }

 private:
  void* handle_ = nullptr;
  std::string path_;
  std::string error_;
};

}  // namespace attncc
