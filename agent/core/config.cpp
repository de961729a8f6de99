#include "core/config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/text.hpp"
#include "core/toml.hpp"

namespace postured {
namespace {

using text::suggestion;

constexpr long long kNoLimit = 0;
constexpr std::array<std::string_view, 4> kLogLevels{"debug", "info", "warn", "error"};
constexpr std::array<std::string_view, 3> kFolderActions{"report", "redact", "quarantine"};

// The one table of postured.toml's keys. config/README.md states the same defaults; a unit test
// compares the two so that the docs cannot drift from the code.
const std::array<ConfigKey, 32> kSchema{{
    {"agent", "device_id", ValueKind::string, false, R"("")", 0, 128, {},
     "Device id reported to the console. Empty: the contents of /etc/machine-id."},
    {"agent", "store_id", ValueKind::string, true, "", 1, 64, {},
     "The store this device belongs to, as the console knows it."},
    {"agent", "state_dir", ValueKind::string, false, R"("/var/lib/postured")", 1, 4096, {},
     "Where the agent keeps its state (last report, keys, spool). Created with mode 0700."},
    {"agent", "runtime_dir", ValueKind::string, false, R"("/run/postured")", 1, 4096, {},
     "Where the agent puts its local socket."},
    // The key release socket is 0660; POS programs reach it through this group (packaging creates it).
    {"agent", "socket_group", ValueKind::string, false, R"("postured")", 0, 32, {},
     "Group that owns the key release socket; put POS program users in it. Empty: the agent's own group."},
    {"agent", "log_level", ValueKind::choice, false, R"("info")", 0, 0, kLogLevels,
     "Least severe level that is logged: debug, info, warn or error."},
    // A posture cycle takes milliseconds; 1 minute is the floor so a typo cannot make it spin.
    {"schedule", "check_interval", ValueKind::duration, false, R"("15m")", 60, 7 * 86400, {},
     "How often the agent runs a full cycle."},
    // Jitter spreads a fleet's cycles so a thousand terminals do not report in the same second.
    {"schedule", "jitter", ValueKind::duration, false, R"("2m")", 0, 86400, {},
     "Each cycle starts up to this much later than the interval, at random."},
    // Enforcement rewrites cache rows and the scan reads whole folders: both run less often than checks.
    {"schedule", "enforce_interval", ValueKind::duration, false, R"("1h")", 60, 7 * 86400, {},
     "How often cache minimization and retention policies are enforced."},
    {"schedule", "scan_interval", ValueKind::duration, false, R"("6h")", 60, 30 * 86400, {},
     "How often the [[scan_folder]]s are scanned for card data."},
    {"checks", "disabled", ValueKind::string_list, false, "[]", kNoLimit, kNoLimit, {},
     "Ids of checks that are not run, e.g. [\"linux.usb.storage_blocked\"]."},
    {"checks", "policies", ValueKind::string_list, false, "[]", kNoLimit, kNoLimit, {},
     "Declarative check policies (absolute paths, config/policies/) run next to the built-in checks."},
    // Patch level (PCI DSS 6.3.3: critical security patches within one month of release).
    {"patch", "baseline", ValueKind::string, false, R"("")", 0, 4096, {},
     "Absolute path of a patch baseline (TOML or JSON [[package]] name/fixed). Empty: none."},
    {"patch", "security_window", ValueKind::duration, false, R"("30d")", 86400, 365 * 86400, {},
     "How long a security fix may stay uninstalled before patch.security_updates_age fails."},
    // Card-data discovery in files (posturectl scan, and the daemon's scheduled scan).
    {"scan", "max_file_bytes", ValueKind::integer, false, "1073741824", 1, 1LL << 40, {},
     "Files larger than this are skipped (and listed as skipped)."},
    {"scan", "ignore_pans", ValueKind::string_list, false, "[]", kNoLimit, kNoLimit, {},
     "Card numbers (digits only) never reported, e.g. the store's test cards."},
    // Reporting to posture-console (agent/transport/README.md). Empty url: the agent reports nothing.
    {"console", "url", ValueKind::string, false, R"("")", 0, 512, {},
     "The console's agent endpoint, https://HOST:PORT. Empty: reporting is off."},
    {"console", "ca_file", ValueKind::string, false, R"("")", 0, 4096, {},
     "Absolute path of the console's CA certificate (PEM): the only CA the agent trusts for it."},
    {"console", "token_file", ValueKind::string, false, R"("")", 0, 4096, {},
     "Absolute path of a file holding an enrollment token; the daemon enrolls with it at start. Empty: none."},
    // Full jitter between these: a console that was down is not hit by every terminal at once.
    {"console", "retry_min", ValueKind::duration, false, R"("30s")", 1, 3600, {},
     "Base wait after a failed send; each further failure doubles it (randomized below it)."},
    {"console", "retry_max", ValueKind::duration, false, R"("30m")", 1, 86400, {},
     "The longest wait between two attempts, however many failed in a row."},
    {"console", "backlog_batch", ValueKind::integer, false, "20", 1, 1000, {},
     "Reports sent back to back from the spool once the console answers again."},
    {"console", "backlog_pause", ValueKind::duration, false, R"("5s")", 0, 3600, {},
     "Pause between two backlog batches, so a returning console is not flooded."},
    // The spool is bounded: a terminal offline for weeks must not fill its disk.
    {"spool", "max_reports", ValueKind::integer, false, "500", 1, 100000, {},
     "Most reports kept while the console is unreachable; the oldest are dropped first (and counted)."},
    {"spool", "max_bytes", ValueKind::integer, false, "52428800", 65536, 1LL << 32, {},
     "Most bytes of reports kept in the spool; the oldest are dropped first (and counted)."},
    // [[cache]]: one table per customer cache that the agent keeps encrypted.
    {"cache", "name", ValueKind::string, true, "", 1, 64, {},
     "Short unique name: letters, digits, '.', '_' or '-'. The cache's key is derived from it."},
    {"cache", "path", ValueKind::string, true, "", 1, 4096, {}, "Absolute path of the SQLite/SQLCipher file."},
    {"cache", "owner_exe", ValueKind::string, false, R"("")", 0, 4096, {},
     "Absolute path of the one program that may fetch the key. Empty: no program may."},
    {"cache", "owner_uid", ValueKind::integer, false, "-1", -1, 4294967294LL, {},
     "The uid that program must run as. -1: no uid may (no program can fetch the key)."},
    {"cache", "policy", ValueKind::string, false, R"("")", 0, 4096, {},
     "Absolute path of the cache's minimization and retention policy (config/policies/). Empty: none."},
    // [[scan_folder]]: folders of logs, exports and spools that the daemon scans for card data.
    {"scan_folder", "path", ValueKind::string, true, "", 1, 4096, {},
     "Absolute path of a folder to scan (recursively) on the schedule."},
    {"scan_folder", "action", ValueKind::choice, false, R"("report")", 0, 0, kFolderActions,
     "What to do with a file that holds card data: report, redact (truncate the PANs in place) or "
     "quarantine (move it into the agent's encrypted vault, leaving a tombstone)."},
}};

// Sections written as arrays of tables ([[cache]]), each table one entry.
constexpr std::array<std::string_view, 2> kArraySections{"cache", "scan_folder"};

bool is_array_section(std::string_view section) {
  return std::find(kArraySections.begin(), kArraySections.end(), section) != kArraySections.end();
}

std::string_view kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::string: return "a string";
    case ValueKind::boolean: return "a boolean";
    case ValueKind::integer: return "an integer";
    case ValueKind::duration: return "a duration (\"30s\", \"15m\", \"1h\", \"7d\" or seconds)";
    case ValueKind::string_list: return "an array of strings";
    case ValueKind::choice: return "a string";
  }
  return "a value";
}

std::string format_seconds(long long s) {
  if (s % 86400 == 0 && s >= 86400) return std::to_string(s / 86400) + "d";
  if (s % 3600 == 0 && s >= 3600) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0 && s >= 60) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

// A value of the kind the key wants, after type checks; the error text when it is not one.
struct Checked {
  std::string text;
  long long number = 0;
  bool flag = false;
  std::vector<std::string> list;
};

std::optional<std::string> check_value(const ConfigKey& key, const toml::node& node, Checked& out) {
  const std::string full = std::string(key.section) + "." + std::string(key.name);
  const auto wrong_type = [&] {
    return "'" + full + "' must be " + std::string(kind_name(key.kind)) + ", not " + std::string(toml_type_name(node));
  };
  switch (key.kind) {
    case ValueKind::string:
    case ValueKind::choice: {
      const auto* s = node.as_string();
      if (!s) return wrong_type();
      out.text = s->get();
      if (key.kind == ValueKind::choice) {
        if (std::find(key.choices.begin(), key.choices.end(), out.text) == key.choices.end()) {
          return "'" + full + "' is \"" + out.text + "\"" +
                 suggestion(out.text, {key.choices.begin(), key.choices.end()});
        }
        return std::nullopt;
      }
      if (out.text.find('\0') != std::string::npos) return "'" + full + "' must not contain NUL";
      if (static_cast<long long>(out.text.size()) < key.min) {
        return "'" + full + "' must not be empty";
      }
      if (key.max != kNoLimit && static_cast<long long>(out.text.size()) > key.max) {
        return "'" + full + "' is longer than " + std::to_string(key.max) + " characters";
      }
      return std::nullopt;
    }
    case ValueKind::boolean: {
      const auto* b = node.as_boolean();
      if (!b) return wrong_type();
      out.flag = b->get();
      return std::nullopt;
    }
    case ValueKind::integer:
    case ValueKind::duration: {
      if (const auto* i = node.as_integer()) {
        out.number = i->get();
      } else if (const auto* s = key.kind == ValueKind::duration ? node.as_string() : nullptr) {
        const auto parsed = parse_duration(s->get());
        if (!parsed) return "'" + full + "' is \"" + s->get() + "\", not " + std::string(kind_name(key.kind));
        out.number = parsed->count();
      } else {
        return wrong_type();
      }
      const auto show = [&](long long v) {
        return key.kind == ValueKind::duration ? format_seconds(v) : std::to_string(v);
      };
      if (out.number < key.min || out.number > key.max) {
        return "'" + full + "' is " + show(out.number) + ", out of range [" + show(key.min) + ", " +
               show(key.max) + "]";
      }
      return std::nullopt;
    }
    case ValueKind::string_list: {
      const auto* array = node.as_array();
      if (!array) return wrong_type();
      for (const auto& element : *array) {
        const auto* s = element.as_string();
        if (!s) return "'" + full + "' must hold only strings, not " + std::string(toml_type_name(element));
        out.list.push_back(s->get());
      }
      return std::nullopt;
    }
  }
  return wrong_type();
}

void apply(Config& config, const ConfigKey& key, Checked&& value) {
  const auto is = [&](std::string_view section, std::string_view name) {
    return key.section == section && key.name == name;
  };
  if (is("agent", "device_id")) config.agent.device_id = std::move(value.text);
  else if (is("agent", "store_id")) config.agent.store_id = std::move(value.text);
  else if (is("agent", "state_dir")) config.agent.state_dir = value.text;
  else if (is("agent", "runtime_dir")) config.agent.runtime_dir = value.text;
  else if (is("agent", "socket_group")) config.agent.socket_group = std::move(value.text);
  else if (is("agent", "log_level")) {
    const auto at = std::find(kLogLevels.begin(), kLogLevels.end(), value.text) - kLogLevels.begin();
    config.agent.log_level = static_cast<LogLevel>(at);
  } else if (is("schedule", "enforce_interval")) config.schedule.enforce_interval = std::chrono::seconds(value.number);
  else if (is("schedule", "scan_interval")) config.schedule.scan_interval = std::chrono::seconds(value.number);
  else if (is("schedule", "check_interval")) config.schedule.check_interval = std::chrono::seconds(value.number);
  else if (is("schedule", "jitter")) config.schedule.jitter = std::chrono::seconds(value.number);
  else if (is("checks", "disabled")) config.checks.disabled = std::move(value.list);
  else if (is("checks", "policies")) config.checks.policies.assign(value.list.begin(), value.list.end());
  else if (is("patch", "baseline")) config.patch.baseline = value.text;
  else if (is("patch", "security_window")) config.patch.security_window = std::chrono::seconds(value.number);
  else if (is("scan", "max_file_bytes")) config.scan.max_file_bytes = static_cast<std::uint64_t>(value.number);
  else if (is("scan", "ignore_pans")) config.scan.ignore_pans = std::move(value.list);
  else if (is("console", "url")) config.console.url = std::move(value.text);
  else if (is("console", "ca_file")) config.console.ca_file = value.text;
  else if (is("console", "token_file")) config.console.token_file = value.text;
  else if (is("console", "retry_min")) config.console.retry_min = std::chrono::seconds(value.number);
  else if (is("console", "retry_max")) config.console.retry_max = std::chrono::seconds(value.number);
  else if (is("console", "backlog_batch")) config.console.backlog_batch = value.number;
  else if (is("console", "backlog_pause")) config.console.backlog_pause = std::chrono::seconds(value.number);
  else if (is("spool", "max_reports")) config.spool.max_reports = value.number;
  else if (is("spool", "max_bytes")) config.spool.max_bytes = value.number;
  else if (key.section == "cache") {
    auto& cache = config.caches.back();
    if (key.name == "name") cache.name = std::move(value.text);
    else if (key.name == "path") cache.path = value.text;
    else if (key.name == "owner_exe") cache.owner_exe = value.text;
    else if (key.name == "owner_uid") cache.owner_uid = value.number;
    else if (key.name == "policy") cache.policy = value.text;
  } else if (key.section == "scan_folder") {
    auto& folder = config.scan_folders.back();
    if (key.name == "path") folder.path = value.text;
    else if (key.name == "action") {
      const auto at = std::find(kFolderActions.begin(), kFolderActions.end(), value.text) - kFolderActions.begin();
      folder.action = static_cast<FolderAction>(at);
    }
  }
}

// Applies every non-required key's default of `section` to `config`.
void apply_defaults(Config& config, std::string_view section) {
  for (const auto& key : kSchema) {
    if (key.required || key.section != section) continue;
    const auto parsed = toml::parse("v = " + std::string(key.default_toml));
    Checked value;
    // The table is ours: a default that fails its own check is a programming error.
    if (auto problem = check_value(key, *parsed.get("v"), value)) throw std::logic_error("bad default: " + *problem);
    apply(config, key, std::move(value));
  }
}

Config defaults() {
  Config config;
  for (const auto section : {"agent", "schedule", "checks", "patch", "scan", "console", "spool"}) apply_defaults(config, section);
  return config;
}

ConfigError error_at(std::string_view file, const toml::source_region& where, std::string message) {
  return {std::string(file), static_cast<int>(std::max<toml::source_index>(where.begin.line, 1)),
          static_cast<int>(std::max<toml::source_index>(where.begin.column, 1)), std::move(message)};
}

// Checks that need more than the value's type: known check ids, absolute cache paths.
std::optional<ConfigError> check_meaning(const ConfigKey& key, const toml::node& node,
                                         const std::vector<std::string>& known_checks,
                                         std::string_view source_name = {}) {
  if (key.section == "checks" && key.name == "disabled" && !known_checks.empty()) {
    // A misspelt id would leave the check running while IT believes it is off.
    const std::vector<std::string_view> ids(known_checks.begin(), known_checks.end());
    for (const auto& element : *node.as_array()) {
      const auto id = element.as_string()->get();
      if (std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
      return error_at(source_name, element.source(),
                      "'checks.disabled' names unknown check '" + id + "'" + suggestion(id, ids));
    }
  }
  if (key.section == "checks" && key.name == "policies") {
    for (const auto& element : *node.as_array()) {
      // "/etc/postured/..." on Linux, "C:/Program Files/..." on Windows.
      if (!std::filesystem::path(element.as_string()->get()).is_absolute()) {
        return error_at(source_name, element.source(), "'checks.policies' entries must be absolute paths");
      }
    }
  }
  if (key.section == "scan" && key.name == "ignore_pans") {
    for (const auto& element : *node.as_array()) {
      const auto& pan = element.as_string()->get();
      const bool digits_only = std::all_of(pan.begin(), pan.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits_only || pan.size() < 13 || pan.size() > 19) {
        // Never echo the value: it may be a real card number typed in by mistake.
        return error_at(source_name, element.source(), "'scan.ignore_pans' entries must be 13 to 19 digits");
      }
    }
  }
  const bool is_path = (key.section == "cache" && (key.name == "path" || key.name == "owner_exe" || key.name == "policy")) ||
                       (key.section == "scan_folder" && key.name == "path") ||
                       (key.section == "patch" && key.name == "baseline") ||
                       (key.section == "console" && (key.name == "ca_file" || key.name == "token_file"));
  if (is_path) {
    const auto& text = node.as_string()->get();
    if (!text.empty() && text.front() != '/') {
      return error_at(source_name, node.source(),
                      "'" + std::string(key.section) + "." + std::string(key.name) + "' must be an absolute path");
    }
  }
  if (key.section == "console" && key.name == "url") {
    const auto& url = node.as_string()->get();
    // Only https: reports and enrollment tokens never travel in the clear.
    if (!url.empty() && !parse_console_url(url)) {
      return error_at(source_name, node.source(),
                      "'console.url' must be https://HOST:PORT (or https://HOST for port 443), not \"" + url + "\"");
    }
  }
  if (key.section == "cache" && key.name == "name") {
    const auto& name = node.as_string()->get();
    const auto bad = std::find_if(name.begin(), name.end(), [](char c) {
      return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-');
    });
    if (bad != name.end()) {
      return error_at(source_name, node.source(), "'cache.name' may hold only letters, digits, '.', '_' and '-'");
    }
  }
  return std::nullopt;
}

// Cache names and paths must be unique: one key and one migration per file.
void check_caches(const std::vector<CacheConfig>& caches, const toml::array& tables, std::string_view source_name,
                  std::vector<ConfigError>& errors) {
  for (std::size_t i = 0; i < caches.size() && i < tables.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const auto* table = tables[i].as_table();
      if (!caches[i].name.empty() && caches[i].name == caches[j].name) {
        errors.push_back(error_at(source_name, table->get("name")->source(),
                                  "cache name '" + caches[i].name + "' is used twice"));
      }
      if (!caches[i].path.empty() && caches[i].path == caches[j].path) {
        errors.push_back(error_at(source_name, table->get("path")->source(),
                                  "cache path '" + caches[i].path.string() + "' is used twice"));
      }
    }
  }
}

}  // namespace

std::string ConfigError::to_string() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::span<const ConfigKey> config_schema() { return kSchema; }

Config default_config() { return defaults(); }

std::optional<ConsoleUrl> parse_console_url(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  auto rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos) return std::nullopt;
  ConsoleUrl parsed;
  std::string_view port_text;
  if (rest.front() == '[') {  // [IPv6]:port
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    parsed.host = std::string(rest.substr(1, close - 1));
    const auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else {
    const auto colon = rest.rfind(':');
    parsed.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  const bool bracketed = rest.front() == '[';
  if (parsed.host.empty() || (!bracketed && parsed.host.find(':') != std::string::npos)) return std::nullopt;
  const bool port_given = bracketed ? rest.size() > parsed.host.size() + 2 : rest.find(':') != std::string_view::npos;
  if (port_given) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return std::nullopt;
    }
    parsed.port = static_cast<std::uint16_t>(port);
  }
  return parsed;
}

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  long long total = 0;
  std::size_t i = 0;
  bool bare_number = true;
  while (i < text.size()) {
    long long number = 0;
    const auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), number);
    if (ec != std::errc{} || number < 0) return std::nullopt;
    i = static_cast<std::size_t>(end - text.data());
    long long unit = 1;
    if (i < text.size()) {
      bare_number = false;
      switch (text[i]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return std::nullopt;
      }
      ++i;
    } else if (!bare_number) {
      return std::nullopt;  // "1h30" is ambiguous
    }
    constexpr long long kMaxSeconds = 100LL * 365 * 86400;
    if (number > kMaxSeconds / unit) return std::nullopt;
    total += number * unit;
    if (total > kMaxSeconds) return std::nullopt;
  }
  return std::chrono::seconds(total);
}

ConfigLoad parse_config(std::string_view text, std::string_view source_name,
                        const std::vector<std::string>& known_checks) {
  ConfigLoad load;
  toml::table root;
  try {
    root = toml::parse(text, std::string(source_name));
  } catch (const toml::parse_error& e) {
    load.errors.push_back(error_at(source_name, e.source(), std::string(e.description())));
    return load;
  }

  Config config = defaults();
  config.source = std::string(source_name);

  std::vector<std::string_view> sections;
  for (const auto& key : kSchema) {
    if (std::find(sections.begin(), sections.end(), key.section) == sections.end()) sections.push_back(key.section);
  }

  const auto validate_table = [&](std::string_view section, const toml::table& table) {
    std::vector<std::string_view> names;
    for (const auto& key : kSchema) {
      if (key.section == section) names.push_back(key.name);
    }
    for (auto&& [name_key, value_node] : table) {
      const std::string_view name = name_key.str();
      const auto spec = std::find_if(kSchema.begin(), kSchema.end(),
                                     [&](const ConfigKey& k) { return k.section == section && k.name == name; });
      if (spec == kSchema.end()) {
        load.errors.push_back(error_at(source_name, name_key.source(),
                                       "unknown key '" + std::string(section) + "." + std::string(name) + "'" +
                                           suggestion(name, names)));
        continue;
      }
      Checked value;
      if (auto problem = check_value(*spec, value_node, value)) {
        load.errors.push_back(error_at(source_name, value_node.source(), std::move(*problem)));
        continue;
      }
      if (auto problem = check_meaning(*spec, value_node, known_checks, source_name)) {
        load.errors.push_back(std::move(*problem));
        continue;
      }
      apply(config, *spec, std::move(value));
    }
    for (const auto& key : kSchema) {
      if (key.section != section || !key.required || table.contains(key.name)) continue;
      load.errors.push_back(error_at(source_name, table.source(),
                                     "missing required key '" + std::string(key.section) + "." +
                                         std::string(key.name) + "' (" + std::string(key.doc) + ")"));
    }
  };

  std::vector<std::string_view> seen;
  for (auto&& [section_key, section_node] : root) {
    const std::string_view section = section_key.str();
    seen.push_back(section);
    if (std::find(sections.begin(), sections.end(), section) == sections.end()) {
      load.errors.push_back(error_at(source_name, section_key.source(),
                                     "unknown section '" + std::string(section) + "'" + suggestion(section, sections)));
      continue;
    }
    if (is_array_section(section)) {
      const auto* array = section_node.as_array();
      if (!array || !array->is_array_of_tables()) {
        load.errors.push_back(error_at(source_name, section_key.source(),
                                       "'" + std::string(section) + "' must be an array of tables ([[" +
                                           std::string(section) + "]]), not " + std::string(toml_type_name(section_node))));
        continue;
      }
      for (const auto& element : *array) {
        if (section == "cache") config.caches.emplace_back();
        else config.scan_folders.emplace_back();
        apply_defaults(config, section);
        validate_table(section, *element.as_table());
      }
      continue;
    }
    const auto* table = section_node.as_table();
    if (!table) {
      load.errors.push_back(error_at(source_name, section_key.source(),
                                     "'" + std::string(section) + "' must be a table, not " +
                                         std::string(toml_type_name(section_node))));
      continue;
    }
    validate_table(section, *table);
  }

  // A section that is absent altogether still owes its required keys.
  for (const auto& key : kSchema) {
    if (!key.required || is_array_section(key.section)) continue;
    if (std::find(seen.begin(), seen.end(), key.section) != seen.end()) continue;
    load.errors.push_back(error_at(source_name, {}, "missing required key '" + std::string(key.section) + "." +
                                                        std::string(key.name) + "' (" + std::string(key.doc) + ")"));
  }

  // A console without its CA cannot be reached safely: say so now, not at the first report.
  if (!config.console.url.empty() && config.console.ca_file.empty()) {
    const auto* console = root.get_as<toml::table>("console");
    const auto* url = console ? console->get("url") : nullptr;
    load.errors.push_back(error_at(source_name, url ? url->source() : toml::source_region{},
                                   "'console.url' is set but 'console.ca_file' is not: name the console's CA "
                                   "certificate (PEM), the only CA the agent will trust for it"));
  }
  if (config.console.retry_min > config.console.retry_max) {
    const auto* console = root.get_as<toml::table>("console");
    const auto* node = console ? console->get("retry_min") : nullptr;
    load.errors.push_back(error_at(source_name, node ? node->source() : toml::source_region{},
                                   "'console.retry_min' is longer than 'console.retry_max'"));
  }
  if (const auto* caches = root.get_as<toml::array>("cache"); caches && caches->is_array_of_tables()) {
    check_caches(config.caches, *caches, source_name, load.errors);
  }

  std::stable_sort(load.errors.begin(), load.errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  if (load.errors.empty()) load.config = std::move(config);
  return load;
}

ConfigLoad load_config_file(const std::filesystem::path& path, const std::vector<std::string>& known_checks) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ConfigLoad load;
    std::error_code ec;
    const bool present = std::filesystem::exists(path, ec);
    load.errors.push_back({path.string(), 1, 1, present ? "cannot read the file" : "no such file"});
    return load;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path.string(), known_checks);
}

}  // namespace postured
