// postured.toml → validated structs. Every key, its type, default and range is declared once in
// config_schema() (config.cpp); the loader, the docs test and the reference in config/ read that table.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/version.hpp"  // kDefaultConfigPath

namespace postured {

enum class LogLevel { debug, info, warn, error };

struct AgentConfig {
  std::string device_id;  // empty: use /etc/machine-id
  std::string store_id;
  std::filesystem::path state_dir;
  std::filesystem::path runtime_dir;
  std::string socket_group;  // owner group of the key release socket; empty: the agent's own
  LogLevel log_level = LogLevel::info;
};

struct ScheduleConfig {
  std::chrono::seconds check_interval{};
  std::chrono::seconds jitter{};
  std::chrono::seconds enforce_interval{};  // cache minimization and retention
  std::chrono::seconds scan_interval{};     // card-data scan of the [[scan_folder]]s
};

struct ChecksConfig {
  std::vector<std::string> disabled;  // check ids that are not run
  std::vector<std::filesystem::path> policies;  // declarative check policy files, run next to the built-in checks
};

struct PatchConfig {
  std::filesystem::path baseline;            // patch baseline (TOML or JSON); empty: none
  std::chrono::seconds security_window{};   // oldest missing security fix allowed (PCI DSS 6.3.3: one month)
};

struct ScanConfig {
  std::uint64_t max_file_bytes = 0;      // larger files are skipped
  std::vector<std::string> ignore_pans;  // test cards, digits only
};

// One [[cache]]: a customer cache that the agent keeps encrypted with SQLCipher.
struct CacheConfig {
  std::string name;
  std::filesystem::path path;
  std::filesystem::path owner_exe;  // empty: no program may fetch the key
  long long owner_uid = -1;         // -1: no uid may
  std::filesystem::path policy;     // minimization and retention policy file; empty: none
};

// What the scheduled scan does with a file that holds card data.
enum class FolderAction { report, redact, quarantine };

// One [[scan_folder]]: a folder the daemon scans for card data on its schedule.
struct ScanFolderConfig {
  std::filesystem::path path;
  FolderAction action = FolderAction::report;
};

// [console]: where reports go, and how hard the agent tries. An empty url turns reporting off.
struct ConsoleConfig {
  std::string url;                      // "https://host:8443"; empty: reporting off
  std::filesystem::path ca_file;        // the console's CA (PEM), the only one trusted
  std::filesystem::path token_file;     // an enrollment token the daemon uses at start; empty: none
  std::chrono::seconds retry_min{};     // first wait after a failed send (full jitter below it)
  std::chrono::seconds retry_max{};     // the cap on that wait, however many failures in a row
  long long backlog_batch = 0;          // reports sent back to back once the console answers again
  std::chrono::seconds backlog_pause{}; // pause between two such batches, so a fleet does not stampede
};

// [spool]: reports waiting for the console, kept encrypted in <state_dir>/spool.db.
struct SpoolConfig {
  long long max_reports = 0;  // beyond either bound the oldest reports are dropped (and counted)
  long long max_bytes = 0;
};

struct Config {
  AgentConfig agent;
  ConsoleConfig console;
  SpoolConfig spool;
  ScheduleConfig schedule;
  ChecksConfig checks;
  PatchConfig patch;
  ScanConfig scan;
  std::vector<CacheConfig> caches;
  std::vector<ScanFolderConfig> scan_folders;
  std::filesystem::path source;  // the file it came from; empty for built-in defaults
};

// One problem in a config file, printed as FILE:LINE:COL: message.
struct ConfigError {
  std::string file;
  int line = 1;
  int column = 1;
  std::string message;

  std::string to_string() const;
};

struct ConfigLoad {
  std::optional<Config> config;     // set only when there are no errors
  std::vector<ConfigError> errors;  // every problem found, in file order
};

enum class ValueKind { string, boolean, integer, duration, string_list, choice };

// One key of postured.toml. `default_toml` is the default as a TOML value ("" when required).
struct ConfigKey {
  std::string_view section;
  std::string_view name;
  ValueKind kind;
  bool required;
  std::string_view default_toml;
  long long min;                    // integer value, or duration in seconds
  long long max;
  std::span<const std::string_view> choices;  // for ValueKind::choice
  std::string_view doc;
};

std::span<const ConfigKey> config_schema();

// Parses and validates TOML text; `source_name` is used in error messages. When `known_checks` is
// not empty, checks.disabled may name only those ids.
ConfigLoad parse_config(std::string_view text, std::string_view source_name,
                        const std::vector<std::string>& known_checks = {});
// Reads and validates a file. An unreadable file is one error at 1:1.
ConfigLoad load_config_file(const std::filesystem::path& path, const std::vector<std::string>& known_checks = {});
// The configuration when there is no file at all: every default, no required keys.
Config default_config();

// console.url split up: "https://console.example:8443" → {"console.example", 8443}. nullopt unless
// it is https with a host and at most a port (no path, no user).
struct ConsoleUrl {
  std::string host;
  std::uint16_t port = 443;
};
std::optional<ConsoleUrl> parse_console_url(std::string_view url);

// "90" (seconds), "90s", "15m", "1h30m", "7d" → seconds. nullopt when malformed.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

}  // namespace postured
