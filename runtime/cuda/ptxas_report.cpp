// ptxas -v log parsing and the report's JSON form (see ptxas_report.h).
#include "runtime/cuda/ptxas_report.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "attncc/error.h"

namespace attncc {
namespace {

// The integer just before `unit` in `line` ("32 registers" -> 32), or -1 when absent.
long long number_before(std::string_view line, std::string_view unit) {
  size_t at = line.find(unit);
  if (at == std::string_view::npos) return -1;
  size_t end = at;
  while (end > 0 && line[end - 1] == ' ') --end;
  size_t begin = end;
  while (begin > 0 && line[begin - 1] >= '0' && line[begin - 1] <= '9') --begin;
  if (begin == end) return -1;
  return std::strtoll(std::string(line.substr(begin, end - begin)).c_str(), nullptr, 10);
}

// The text between the first pair of single quotes after `after` in `line`.
std::string quoted_after(std::string_view line, std::string_view after) {
  size_t at = line.find(after);
  if (at == std::string_view::npos) return {};
  size_t open = line.find('\'', at + after.size());
  if (open == std::string_view::npos) return {};
  size_t close = line.find('\'', open + 1);
  if (close == std::string_view::npos) return {};
  return std::string(line.substr(open + 1, close - open - 1));
}

void assign_if_found(int& field, long long value) {
  if (value >= 0) field = static_cast<int>(value);
}

}  // namespace

std::vector<PtxasKernelReport> parse_ptxas_report(std::string_view log) {
  // ptxas info    : Compiling entry function 'k' for 'sm_90a'
  // ptxas info    : Function properties for k
  // ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
  // ptxas info    : Used 10 registers, used 1 barriers, 1024 bytes smem
  // ptxas info    : Compile time = 3.546 ms
  std::vector<PtxasKernelReport> reports;
  std::vector<std::pair<std::string, std::string>> notes;  // (function, text)
  PtxasKernelReport* current = nullptr;
  size_t begin = 0;
  while (begin < log.size()) {
    size_t end = log.find('\n', begin);
    if (end == std::string_view::npos) end = log.size();
    std::string_view line = log.substr(begin, end - begin);
    begin = end + 1;
    // ptxas info    : (C7519) warpgroup.arrive is injected ... in function 'k'
    if (size_t code = line.find("(C"); code != std::string_view::npos &&
                                       line.find("in function '") != std::string_view::npos) {
      notes.emplace_back(quoted_after(line, "in function"), std::string(line.substr(code)));
      continue;
    }
    if (line.find("Compiling entry function") != std::string_view::npos) {
      PtxasKernelReport report;
      report.function = quoted_after(line, "entry function");
      report.arch = quoted_after(line, " for ");
      reports.push_back(std::move(report));
      current = &reports.back();
      continue;
    }
    if (current == nullptr) continue;
    if (line.find("stack frame") != std::string_view::npos) {
      assign_if_found(current->stack_frame_bytes, number_before(line, "bytes stack frame"));
      assign_if_found(current->spill_store_bytes, number_before(line, "bytes spill stores"));
      assign_if_found(current->spill_load_bytes, number_before(line, "bytes spill loads"));
    } else if (line.find("Used") != std::string_view::npos &&
               line.find("registers") != std::string_view::npos) {
      assign_if_found(current->registers, number_before(line, "registers"));
      assign_if_found(current->barriers, number_before(line, "barriers"));
      assign_if_found(current->static_shared_bytes, number_before(line, "bytes smem"));
    } else if (size_t at = line.find("Compile time ="); at != std::string_view::npos) {
      current->ptxas_milliseconds =
          std::strtod(std::string(line.substr(at + 14)).c_str(), nullptr);
    }
  }
  for (auto& [function, text] : notes) {
    for (PtxasKernelReport& report : reports) {
      if (report.function == function) report.notes.push_back(text);
    }
  }
  return reports;
}

std::string ptxas_report_to_json(const std::vector<PtxasKernelReport>& reports) {
  nlohmann::json array = nlohmann::json::array();
  for (const PtxasKernelReport& report : reports) {
    array.push_back({{"function", report.function},
                     {"arch", report.arch},
                     {"registers", report.registers},
                     {"barriers", report.barriers},
                     {"spill_store_bytes", report.spill_store_bytes},
                     {"spill_load_bytes", report.spill_load_bytes},
                     {"stack_frame_bytes", report.stack_frame_bytes},
                     {"static_shared_bytes", report.static_shared_bytes},
                     {"ptxas_milliseconds", report.ptxas_milliseconds},
                     {"notes", report.notes}});
  }
  return array.dump();
}

std::vector<PtxasKernelReport> ptxas_report_from_json(std::string_view text) {
  std::vector<PtxasKernelReport> reports;
  try {
    for (const nlohmann::json& item : nlohmann::json::parse(text)) {
      PtxasKernelReport report;
      report.function = item.at("function").get<std::string>();
      report.arch = item.at("arch").get<std::string>();
      report.registers = item.at("registers").get<int>();
      report.barriers = item.at("barriers").get<int>();
      report.spill_store_bytes = item.at("spill_store_bytes").get<int>();
      report.spill_load_bytes = item.at("spill_load_bytes").get<int>();
      report.stack_frame_bytes = item.at("stack_frame_bytes").get<int>();
      report.static_shared_bytes = item.at("static_shared_bytes").get<int>();
      report.ptxas_milliseconds = item.at("ptxas_milliseconds").get<double>();
      report.notes = item.value("notes", std::vector<std::string>{});
      reports.push_back(std::move(report));
    }
  } catch (const nlohmann::json::exception& error) {
    internal_error(__FILE__, __LINE__, std::string("unreadable ptxas report: ") + error.what());
  }
  return reports;
}

std::string describe_ptxas_report(const PtxasKernelReport& report, unsigned dynamic_shared_bytes) {
  std::string text = report.function + " (" + report.arch + "): " + std::to_string(report.registers) +
         " registers, " + std::to_string(report.spill_store_bytes) + " B spill stores, " +
         std::to_string(report.spill_load_bytes) + " B spill loads, " +
         std::to_string(report.stack_frame_bytes) + " B stack, " +
         std::to_string(report.static_shared_bytes) + " B static + " +
         std::to_string(dynamic_shared_bytes) + " B dynamic shared";
  for (const std::string& note : report.notes) text += "\n    ptxas: " + note;
  return text;
}

}  // namespace attncc
