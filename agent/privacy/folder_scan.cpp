#include "privacy/folder_scan.hpp"

#include <algorithm>
#include <optional>

#include "privacy/quarantine.hpp"
#include "privacy/redactor.hpp"

namespace postured::privacy {
namespace {

// Masked numbers a quarantine tombstone and record show, so IT can tell what was found.
constexpr std::size_t kTombstoneExamples = 3;

// The findings of one file: summary.findings[begin, end).
struct FileFindings {
  std::filesystem::path path;
  std::size_t begin = 0, end = 0;
};

// Findings from `first` on, grouped by file (the scanner reports each file's findings together).
std::vector<FileFindings> group_by_file(const std::vector<FileFinding>& findings, std::size_t first) {
  std::vector<FileFindings> files;
  for (std::size_t i = first; i < findings.size(); ++i) {
    if (files.empty() || files.back().path != findings[i].path) files.push_back({findings[i].path, i, i});
    files.back().end = i + 1;
  }
  return files;
}

std::vector<std::string> examples(const std::vector<FileFinding>& findings, const FileFindings& file) {
  std::vector<std::string> masked;
  for (std::size_t i = file.begin; i < file.end && masked.size() < kTombstoneExamples; ++i) {
    const auto& m = findings[i].match.masked;
    if (std::find(masked.begin(), masked.end(), m) == masked.end()) masked.push_back(m);
  }
  return masked;
}

void redact(const std::filesystem::path& folder, const FileScanner& scanner, ScanLocation& location) {
  const auto redacted = redact_file(folder, location.path, scanner);
  location.error = redacted.error;
  location.result = redacted.rewritten ? "redacted" : redacted.error.empty() ? "reported" : "failed";
}

void quarantine(const std::filesystem::path& folder, const QuarantineVault& vault,
                const std::vector<std::string>& masked, ScanLocation& location) {
  const auto moved = quarantine_file(folder, location.path, location.count, masked, vault);
  location.error = moved.error;
  location.vault_id = moved.vault_id;
  location.result = moved.moved ? "quarantined" : "failed";
}

}  // namespace

std::string_view to_string(FolderAction action) {
  switch (action) {
    case FolderAction::report: return "report";
    case FolderAction::redact: return "redact";
    case FolderAction::quarantine: return "quarantine";
  }
  return "report";
}

bool FolderScanResult::action_failed() const {
  return std::any_of(locations.begin(), locations.end(), [](const ScanLocation& l) { return l.result == "failed"; });
}

FolderScanResult scan_folders(const Config& config, const SecretKey& master) {
  const PanDetector detector(config.scan.ignore_pans);
  const FileScanner scanner(detector, config.scan.max_file_bytes);
  std::optional<QuarantineVault> vault;
  FolderScanResult result;
  for (const auto& folder : config.scan_folders) {
    // Each folder is scanned whole before any file in it is changed: a directory listing that
    // changes under it (a redacted copy renamed in, a tombstone) could show a file twice or not at all.
    const std::size_t first = result.summary.findings.size();
    scanner.scan(folder.path, result.summary);
    for (const auto& file : group_by_file(result.summary.findings, first)) {
      ScanLocation location{file.path, file.end - file.begin, folder.action, "reported", {}, {}};
      if (folder.action == FolderAction::redact) redact(folder.path, scanner, location);
      if (folder.action == FolderAction::quarantine) {
        if (!vault) vault.emplace(config.agent.state_dir, master);
        quarantine(folder.path, *vault, examples(result.summary.findings, file), location);
      }
      result.locations.push_back(std::move(location));
    }
  }
  return result;
}

std::vector<ScanLocation> report_locations(const ScanSummary& summary) {
  std::vector<ScanLocation> locations;
  for (const auto& file : group_by_file(summary.findings, 0)) {
    locations.push_back({file.path, file.end - file.begin, FolderAction::report, "reported", {}, {}});
  }
  return locations;
}

nlohmann::ordered_json to_json(const FileFinding& f) {
  return {{"kind", to_string(f.match.kind)},
          {"brand", to_string(f.match.brand)},
          {"masked", f.match.masked},
          {"path", f.path.string()},
          {"line", f.line},
          {"offset", f.offset},
          {"encoding", to_string(f.encoding)},
          {"compression", to_string(f.compression)}};
}

nlohmann::ordered_json to_json(const FolderScanResult& result) {
  auto locations = nlohmann::ordered_json::array();
  for (const auto& l : result.locations) {
    nlohmann::ordered_json location{
        {"path", l.path.string()}, {"count", l.count}, {"action", to_string(l.action)}, {"result", l.result}};
    if (!l.vault_id.empty()) location["vault_id"] = l.vault_id;
    if (!l.error.empty()) location["error"] = l.error;
    locations.push_back(std::move(location));
  }
  auto skipped = nlohmann::ordered_json::array();
  for (const auto& s : result.summary.skipped) skipped.push_back({{"path", s.path.string()}, {"reason", s.reason}});
  return {{"files_scanned", result.summary.files_scanned},
          {"bytes_scanned", result.summary.bytes_scanned},
          {"pan_findings", result.summary.findings.size()},
          {"locations", std::move(locations)},
          {"skipped", std::move(skipped)}};
}

}  // namespace postured::privacy
