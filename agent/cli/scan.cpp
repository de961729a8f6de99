// posturectl scan PATH...: card numbers and track data in files and folders, masked.
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/priority.hpp"
#include "privacy/file_scanner.hpp"

namespace postured::cli {

int run_scan(const CommonOptions& options, const std::vector<std::string>& paths) {
  const auto config = resolve_config(options, builtin_checks());
  if (!config) return 2;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
      std::cerr << "posturectl: " << path << ": no such file or folder\n";
      return 2;
    }
  }
  lower_own_priority();
  const privacy::PanDetector detector(config->scan.ignore_pans);
  const privacy::FileScanner scanner(detector, config->scan.max_file_bytes);
  privacy::ScanSummary summary;
  for (const auto& path : paths) scanner.scan(path, summary);

  std::map<std::string, std::uint64_t> per_file;
  for (const auto& f : summary.findings) ++per_file[f.path.string()];
  if (options.json) {
    auto findings = nlohmann::ordered_json::array();
    for (const auto& f : summary.findings) {
      findings.push_back({{"kind", privacy::to_string(f.match.kind)},
                          {"brand", privacy::to_string(f.match.brand)},
                          {"masked", f.match.masked},
                          {"path", f.path.string()},
                          {"line", f.line},
                          {"offset", f.offset}});
    }
    auto locations = nlohmann::ordered_json::array();
    for (const auto& [path, count] : per_file) locations.push_back({{"path", path}, {"count", count}, {"action", "report"}});
    auto skipped = nlohmann::ordered_json::array();
    for (const auto& s : summary.skipped) skipped.push_back({{"path", s.path.string()}, {"reason", s.reason}});
    std::cout << nlohmann::ordered_json{{"schema", "postured.scan/v1"},
                                        {"files_scanned", summary.files_scanned},
                                        {"bytes_scanned", summary.bytes_scanned},
                                        {"pan_findings", summary.findings.size()},
                                        {"locations", locations},
                                        {"findings", findings},
                                        {"skipped", skipped}}
                     .dump(2)
              << "\n";
  } else {
    for (const auto& f : summary.findings) {
      std::cout << f.path.string() << ":" << f.line << ": " << privacy::to_string(f.match.kind) << " "
                << privacy::to_string(f.match.brand) << " " << f.match.masked << " (byte " << f.offset << ")\n";
    }
    for (const auto& s : summary.skipped) std::cout << "skipped " << s.path.string() << ": " << s.reason << "\n";
    std::cout << summary.findings.size() << " card numbers or tracks in " << per_file.size() << " of "
              << summary.files_scanned << " files (" << summary.bytes_scanned << " bytes scanned)\n";
  }
  std::cout.flush();
  if (!std::cout) return 3;
  return summary.findings.empty() ? 0 : 1;
}

}  // namespace postured::cli
