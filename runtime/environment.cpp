#include "runtime/environment.h"

#include <cstdlib>

namespace attncc {

bool environment_flag(const char* name) { return environment_value(name) == "1"; }

std::string environment_value(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

bool no_compile_asserted() { return environment_flag("ATTNCC_ASSERT_NO_COMPILE"); }

WarpgroupForward requested_warpgroup_forward(bool asked) {
  const std::string value = environment_value("ATTNCC_CUDA_WGMMA");
  if (value == "serial") return WarpgroupForward::kSerial;
  return asked || value == "1" ? WarpgroupForward::kOverlapped : WarpgroupForward::kOff;
}

}  // namespace attncc
