// The Windows patch baseline: per Windows build, the cumulative updates that every device must have,
// each with its UBR and release day, so that "how many days behind" can be computed.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/check.hpp"
#include "core/config.hpp"

namespace postured::patch {

// One [[update]] table: a cumulative update of one Windows build.
struct WindowsUpdateEntry {
  unsigned build = 0;  // CurrentBuild, e.g. 19045 (Windows 10 22H2)
  unsigned ubr = 0;    // the update's revision: the device runs build.ubr or later once it is installed
  std::chrono::sys_days published{};
  std::string kb;    // "KB5046613", optional
  std::string name;  // "Windows 10 22H2", optional, for people
  std::vector<std::string> cves;
  std::optional<Severity> severity;
};

struct WindowsBaseline {
  std::vector<WindowsUpdateEntry> updates;  // in file order
  std::filesystem::path source;
};

struct WindowsBaselineLoad {
  std::optional<WindowsBaseline> baseline;  // set only when there are no errors
  std::vector<ConfigError> errors;          // every problem, as FILE:LINE:COL: message
};

// Parses TOML ([[update]] tables). Two entries for one build and UBR are an error.
WindowsBaselineLoad parse_windows_baseline(std::string_view text, std::string_view source_name);
// Reads and parses a file from this machine's file system. An unreadable file is one error at 1:1.
WindowsBaselineLoad load_windows_baseline_file(const std::filesystem::path& path);

// Where a device stands against the baseline's updates for its build.
struct WindowsBaselineStanding {
  bool build_known = false;                            // the baseline lists the build
  const WindowsUpdateEntry* required = nullptr;        // the newest update of the build (the minimum UBR)
  const WindowsUpdateEntry* oldest_missing = nullptr;  // the oldest update with a UBR above the device's
  std::optional<long long> days_behind;                // days since oldest_missing came out; 0 when up to date
};

// The standing of a device at `build`.`ubr` on `today`. Days behind count from the release day of
// the oldest missing update, because that is when the device started to lack a fix.
WindowsBaselineStanding standing_of(const WindowsBaseline& baseline, unsigned build, unsigned ubr,
                                    std::chrono::sys_days today);

}  // namespace postured::patch
