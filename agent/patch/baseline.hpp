// A patch baseline: the first fixed version of each package that central IT requires.
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

// One [[package]] table: a fix that every device must have.
struct BaselineEntry {
  std::string name;                          // binary or source package name
  std::string fixed;                         // the first version with the fix
  std::vector<std::string> cves;
  std::optional<Severity> severity;
  std::optional<std::chrono::sys_days> published;  // the day the fix came out
};

struct Baseline {
  std::vector<BaselineEntry> entries;
  std::filesystem::path source;
};

struct BaselineLoad {
  std::optional<Baseline> baseline;  // set only when there are no errors
  std::vector<ConfigError> errors;   // every problem, as FILE:LINE:COL: message
};

// Parses TOML ([[package]] tables) or, when the text starts with '{', JSON ({"package": [...]}).
BaselineLoad parse_baseline(std::string_view text, std::string_view source_name);
// Reads and parses a file from this machine's file system. An unreadable file is one error at 1:1.
BaselineLoad load_baseline_file(const std::filesystem::path& path);

// "2026-11-26" → that day; nullopt unless a real calendar date in that form.
std::optional<std::chrono::sys_days> parse_date(std::string_view text);
std::string format_date(std::chrono::sys_days day);

}  // namespace postured::patch
