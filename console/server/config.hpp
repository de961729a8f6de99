// console.toml: the console's configuration, validated into one struct. Every key, its default, its
// range and its meaning sit in one table (config.cpp); console/README.md and config/console.toml state
// the same defaults, and a test compares config/console.toml with the table.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"

namespace postured::console {

struct ConsoleConfig {
  struct Server {
    std::string listen;              // host:port of the agent endpoint
    std::vector<std::string> names;  // subjectAltNames of the server certificate (DNS names, IP addresses)
    std::filesystem::path data_dir;
    int threads = 2;
    std::size_t max_body_bytes = 0;      // a request body as received (compressed)
    std::size_t max_inflated_bytes = 0;  // the same after gunzip
    std::size_t ingest_queue = 0;        // reports waiting for storage
    std::size_t ingest_queue_bytes = 0;  // their bytes (uncompressed JSON) together
    int certificate_days = 90;           // lifetime of device certificates
  } server;
  struct Storage {
    std::string url;  // empty: sqlite:<data_dir>/console.db
    int raw_report_days = 30;
  } storage;
  struct Api {
    std::string listen;
    std::chrono::seconds stale_after{0};
  } api;
  struct Enroll {
    std::chrono::seconds token_ttl{0};
    std::chrono::seconds max_clock_skew{0};
  } enroll;
  std::filesystem::path source;  // the file it came from

  std::string storage_url() const;
  std::filesystem::path ca_dir() const { return server.data_dir / "ca"; }
  std::filesystem::path operator_tokens_path() const { return server.data_dir / "operator-tokens"; }
};

struct ConsoleConfigLoad {
  std::optional<ConsoleConfig> config;  // set only when there are no errors
  std::vector<ConfigError> errors;      // every problem, in file order, as FILE:LINE:COL: message
};

// One key of console.toml, for the docs and the test that keeps them in step.
struct ConsoleConfigKey {
  std::string_view section;
  std::string_view name;
  std::string_view default_toml;
  std::string_view doc;
};
std::vector<ConsoleConfigKey> console_config_schema();

ConsoleConfigLoad parse_console_config(std::string_view text, std::string_view source_name);
ConsoleConfigLoad load_console_config(const std::filesystem::path& path);

// "host:port" or "[v6]:port" → host and port; nullopt when malformed (port 0 is allowed: any port).
struct ListenAddress {
  std::string host;
  unsigned short port = 0;
};
std::optional<ListenAddress> parse_listen_address(std::string_view text);

}  // namespace postured::console
