// Kernel templates compiled into the library: every file under templates/ (cpu/, common/, cuda/),
// served from memory so an installed attncc needs no source tree. The table is generated at build
// time by cmake/embed_templates.cmake; it changes whenever a template does.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace attncc {

/// One embedded file.
struct EmbeddedFile {
  std::string_view path;      ///< relative to templates/, '/'-separated, e.g. "cpu/attention.h"
  std::string_view contents;  ///< the file's bytes, exactly (not NUL-terminated by contract)
};

/// Every file under templates/, sorted by path.
std::span<const EmbeddedFile> embedded_templates();

/// The embedded file at `path` (relative to templates/), or nullptr if there is none.
const EmbeddedFile* find_embedded_template(std::string_view path);

/// A hash of every embedded path and its contents (part of every compiled kernel's cache key).
const std::string& embedded_templates_hash();

}  // namespace attncc
