// Lookup in the embedded template table; the table itself is generated (embed_templates.cmake).
#include "runtime/embedded_templates.h"

#include <algorithm>

#include "attncc/spec.h"

namespace attncc {

const EmbeddedFile* find_embedded_template(std::string_view path) {
  std::span<const EmbeddedFile> files = embedded_templates();
  // A handful of files: a linear scan keeps this independent of the table's sort order.
  auto found = std::find_if(files.begin(), files.end(),
                            [&](const EmbeddedFile& file) { return file.path == path; });
  return found == files.end() ? nullptr : &*found;
}

const std::string& embedded_templates_hash() {
  static const std::string hash = [] {
    std::string all;
    for (const EmbeddedFile& file : embedded_templates()) {
      all += std::string(file.path) + '\0' + std::string(file.contents) + '\0';
    }
    return hash128_hex(all);
  }();
  return hash;
}

}  // namespace attncc
