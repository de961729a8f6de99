// The scheduled card-data scan: every [[scan_folder]] of the configuration, each with its action
// (report, redact, quarantine). The daemon runs it every schedule.scan_interval; `posturectl scan
// --configured` runs exactly the same.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/secret.hpp"
#include "privacy/file_scanner.hpp"

namespace postured::privacy {

std::string_view to_string(FolderAction action);  // "report", "redact", "quarantine"

// A file with card data, and what was done with it.
struct ScanLocation {
  std::filesystem::path path;
  std::uint64_t count = 0;                     // PANs and tracks found
  FolderAction action = FolderAction::report;  // its folder's action
  std::string result;    // "reported", "redacted", "quarantined", or "failed" (the action was not done)
  std::string vault_id;  // quarantined: the vault entry that holds it
  std::string error;     // failed: why (the file is left as it was)
};

struct FolderScanResult {
  ScanSummary summary;                  // every finding (masked) and every skipped file
  std::vector<ScanLocation> locations;  // one per file with card data, in scan order

  // True if the action of some folder could not be done on one of its files.
  bool action_failed() const;
};

// Scans every [[scan_folder]] of `config` and applies its action to each file with card data.
// `master` is the device master key; only quarantine folders use it (the vault's key derives from
// it). Reads whole folders: call it at low CPU and I/O priority (core/priority.hpp).
FolderScanResult scan_folders(const Config& config, const SecretKey& master);

// One location per file with findings in `summary`, as reported (posturectl scan PATH...).
std::vector<ScanLocation> report_locations(const ScanSummary& summary);

// DESIGN.md's report block `scan`: {files_scanned, bytes_scanned, pan_findings,
// locations: [{path, count, action, result, vault_id?, error?}], skipped: [{path, reason}]}.
// Counts and masked values only.
nlohmann::ordered_json to_json(const FolderScanResult& result);
// A finding: {kind, brand, masked, path, line, offset, encoding, compression}.
nlohmann::ordered_json to_json(const FileFinding& finding);

}  // namespace postured::privacy
