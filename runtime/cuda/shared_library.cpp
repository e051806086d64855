// SharedLibrary (see shared_library.h).
#include "runtime/cuda/shared_library.h"

#include <dlfcn.h>

namespace attncc {

SharedLibrary SharedLibrary::open(const std::vector<std::string>& file_names,
                                  const std::vector<std::string>& directories) {
  SharedLibrary library;
  std::vector<std::string> candidates;
  for (const std::string& name : file_names) {
    for (const std::string& directory : directories) candidates.push_back(directory + "/" + name);
    candidates.push_back(name);
  }
  for (const std::string& candidate : candidates) {
    // RTLD_LOCAL: CUDA's symbols stay out of the global namespace of the host program.
    if (void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      library.handle_ = handle;
      library.path_ = candidate;
      library.error_.clear();
      return library;
    }
    const char* reason = dlerror();
    if (!library.error_.empty()) library.error_ += "; ";
    library.error_ += reason != nullptr ? reason : candidate + ": not found";
  }
  return library;
}

void* SharedLibrary::symbol(const char* name) const {
  return handle_ != nullptr ? dlsym(handle_, name) : nullptr;
}

}  // namespace attncc
