// posturectl scan PATH...: card numbers and track data in files and folders, masked, report only.
// posturectl scan --configured: the [[scan_folder]]s with their actions, as the daemon's scan.
#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/key_store.hpp"
#include "core/priority.hpp"
#include "privacy/folder_scan.hpp"
#include "privacy/quarantine.hpp"

namespace postured::cli {
namespace {

// " [gzip, utf-16le]" for a finding that is not in a plain 8-bit file, else "".
std::string format_note(const privacy::FileFinding& f) {
  std::string note;
  if (f.compression != privacy::Compression::none) note += privacy::to_string(f.compression);
  if (f.encoding != privacy::TextEncoding::bytes) {
    note += (note.empty() ? "" : ", ") + std::string(privacy::to_string(f.encoding));
  }
  return note.empty() ? note : " [" + note + "]";
}

void print_table(const privacy::FolderScanResult& result) {
  const auto& summary = result.summary;
  for (const auto& f : summary.findings) {
    std::cout << f.path.string() << ":" << f.line << ": " << privacy::to_string(f.match.kind) << " "
              << privacy::to_string(f.match.brand) << " " << f.match.masked << " (byte " << f.offset << ")"
              << format_note(f) << "\n";
  }
  for (const auto& l : result.locations) {
    if (l.result == "redacted") {
      std::cout << "redacted " << l.path.string() << "\n";
    } else if (l.result == "quarantined") {
      std::cout << "quarantined " << l.path.string() << " as vault entry " << l.vault_id << " (tombstone "
                << privacy::tombstone_path(l.path).string() << ")\n";
    } else if (l.result == "failed") {
      std::cout << "could not " << privacy::to_string(l.action) << " " << l.path.string() << ": " << l.error << "\n";
    }
    if (l.result != "failed" && !l.error.empty())
      std::cout << "warning: " << l.path.string() << ": " << l.error << "\n";
  }
  for (const auto& s : summary.skipped) std::cout << "skipped " << s.path.string() << ": " << s.reason << "\n";
  std::cout << summary.findings.size() << " card numbers or tracks in " << result.locations.size() << " of "
            << summary.files_scanned << " files (" << summary.bytes_scanned << " bytes scanned)\n";
}

int print(const CommonOptions& options, const privacy::FolderScanResult& result) {
  if (options.json) {
    nlohmann::ordered_json doc{{"schema", "postured.scan/v1"}};
    const auto block = privacy::to_json(result);
    for (const auto& [key, value] : block.items()) doc[key] = value;
    auto findings = nlohmann::ordered_json::array();
    for (const auto& f : result.summary.findings) findings.push_back(privacy::to_json(f));
    doc["findings"] = std::move(findings);
    std::cout << doc.dump(2) << "\n";
  } else {
    print_table(result);
  }
  std::cout.flush();
  if (!std::cout || result.action_failed()) return 3;
  return result.summary.findings.empty() ? 0 : 1;
}

int scan_configured(const CommonOptions& options, const Config& config) {
  if (config.scan_folders.empty()) {
    std::cerr << "posturectl: " << (config.source.empty() ? "the configuration" : config.source.string())
              << " has no [[scan_folder]]\n";
    return 2;
  }
  // Only the quarantine vault needs the master key; made here if the daemon has not made it yet.
  SecretKey master;
  const bool quarantines = std::any_of(config.scan_folders.begin(), config.scan_folders.end(),
                                       [](const auto& f) { return f.action == FolderAction::quarantine; });
  if (quarantines) {
    auto loaded = open_master_key_store(config.agent.state_dir)->load(true);
    if (!loaded.key) {
      std::cerr << "posturectl: cannot use the master key: " << loaded.error << "\n";
      return 3;
    }
    master = *loaded.key;
  }
  lower_own_priority();
  return print(options, privacy::scan_folders(config, master));
}

}  // namespace

int run_scan(const CommonOptions& options, const std::vector<std::string>& paths, bool configured) {
  const auto config = resolve_config(options, builtin_checks());
  if (!config) return 2;
  if (configured) return scan_configured(options, *config);
  if (paths.empty()) {
    std::cerr << "posturectl scan: give files or folders to scan, or --configured\n";
    return 2;
  }
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
  privacy::FolderScanResult result;
  for (const auto& path : paths) scanner.scan(path, result.summary);
  result.locations = privacy::report_locations(result.summary);
  return print(options, result);
}

}  // namespace postured::cli
