// Ahead-of-time CUDA bundles (see cuda_bundle.h).
#include "runtime/cuda/cuda_bundle.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attncc/error.h"
#include "runtime/embedded_templates.h"

namespace attncc {
namespace {

namespace fs = std::filesystem;
constexpr int kBundleFormatVersion = 1;

std::string read_file(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    throw user_error(ErrorCode::kIo, path, "cannot be read",
                     "rebuild the bundle with attncc compile, or drop the bundle directory option");
  }
  std::ostringstream contents;
  contents << stream.rdbuf();
  return contents.str();
}

void write_file(const std::string& path, const std::string& contents) {
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  stream.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!stream.flush()) {
    throw user_error(ErrorCode::kIo, path, "cannot be written", "check the output directory");
  }
}

}  // namespace

std::string cuda_bundle_file_name(const Spec& spec, const std::string& target) {
  return spec_hash(spec) + "." + target + ".attncc-cuda";
}

void write_cuda_bundle(const std::string& directory, const std::vector<CudaBundleEntry>& entries) {
  std::error_code error;
  fs::create_directories(directory, error);
  if (error) {
    throw user_error(ErrorCode::kIo, directory, "cannot be created (" + error.message() + ")",
                     "pick a writable output directory");
  }
  nlohmann::json kernels = nlohmann::json::array();
  for (const CudaBundleEntry& entry : entries) {
    const std::string file = cuda_bundle_file_name(entry.spec, entry.binary.target);
    write_file((fs::path(directory) / file).string(), encode_cuda_binary(entry.binary));
    kernels.push_back({{"hash", spec_hash(entry.spec)},
                       {"spec", entry.spec.canonical_text()},
                       {"source", hash128_hex(entry.source)},
                       {"target", entry.binary.target},
                       {"image", entry.binary.is_cubin ? "cubin" : "ptx"},
                       {"file", file},
                       {"compile_seconds", entry.compile_seconds},
                       {"reports", nlohmann::json::parse(ptxas_report_to_json(entry.binary.reports))}});
  }
  nlohmann::json manifest = {{"format", kBundleFormatVersion},
                             {"templates", embedded_templates_hash()},
                             {"template_version", kCudaTemplateVersion},
                             {"kernels", kernels}};
  write_file((fs::path(directory) / "manifest.json").string(), manifest.dump(2) + "\n");
}

CudaBundle CudaBundle::open(const std::string& directory) {
  CudaBundle bundle;
  bundle.directory_ = directory;
  const std::string path = (fs::path(directory) / "manifest.json").string();
  const std::string text = read_file(path);
  try {
    nlohmann::json manifest = nlohmann::json::parse(text);
    if (manifest.at("format").get<int>() != kBundleFormatVersion) {
      throw user_error(ErrorCode::kIo, path, "has bundle format " + manifest.at("format").dump() +
                                                 ", this attncc reads format " +
                                                 std::to_string(kBundleFormatVersion),
                       "rebuild the bundle with this attncc's `attncc compile`");
    }
    bundle.current_templates_ =
        manifest.at("templates").get<std::string>() == embedded_templates_hash() &&
        manifest.at("template_version").get<int>() == kCudaTemplateVersion;
    for (const nlohmann::json& kernel : manifest.at("kernels")) {
      bundle.entries_.push_back({kernel.at("spec").get<std::string>(),
                                 kernel.at("source").get<std::string>(),
                                 kernel.at("target").get<std::string>(),
                                 kernel.at("file").get<std::string>()});
    }
  } catch (const nlohmann::json::exception& error) {
    throw user_error(ErrorCode::kIo, path, std::string("is not a valid bundle manifest (") +
                                               error.what() + ")",
                     "rebuild the bundle with attncc compile");
  }
  if (!bundle.current_templates_) {
    std::fprintf(stderr,
                 "attncc: warning: CUDA bundle %s was built by another attncc version (other "
                 "kernel templates); its kernels are compiled again; rebuild it with attncc "
                 "compile\n",
                 directory.c_str());
  }
  return bundle;
}

std::optional<CudaBinary> CudaBundle::find(const Spec& spec, const std::string& source,
                                           const CudaTarget& target) const {
  if (!current_templates_) return std::nullopt;
  const std::string canonical = spec.canonical_text();
  const std::string source_hash = hash128_hex(source);
  for (const Entry& entry : entries_) {
    if (entry.spec != canonical || entry.source != source_hash || entry.target != target.name) continue;
    const std::string path = (fs::path(directory_) / entry.file).string();
    try {
      CudaBinary binary = decode_cuda_binary(read_file(path));
      if (binary.target == target.name) return binary;
    } catch (const Error& error) {
      if (error.code() != ErrorCode::kInternal) throw;
    }
    throw user_error(ErrorCode::kIo, path, "is not a valid attncc CUDA kernel file",
                     "rebuild the bundle with attncc compile");
  }
  return std::nullopt;
}

}  // namespace attncc
