#include "server/config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <iterator>

#include "core/text.hpp"
#include "core/toml.hpp"

namespace postured::console {
namespace {

enum class Kind { string, integer, duration, string_list };

struct KeySpec {
  std::string_view section;
  std::string_view name;
  Kind kind;
  std::string_view default_toml;
  long long min;  // integers; durations in seconds; strings: least length
  long long max;
  std::string_view doc;
};

// The one table of console.toml's keys.
const std::array<KeySpec, 15> kSchema{{
    {"server", "listen", Kind::string, R"("0.0.0.0:8443")", 1, 300,
     "host:port of the agent endpoint (mutual TLS). Port 0: any free port."},
    {"server", "names", Kind::string_list, R"(["localhost", "127.0.0.1"])", 0, 0,
     "DNS names and IP addresses the agents use to reach the console: the server certificate's "
     "subjectAltNames, made by `ca init`."},
    {"server", "data_dir", Kind::string, R"("/var/lib/posture-console")", 1, 4096,
     "Holds ca/ (the CA and the server key and certificate), console.db and operator-tokens."},
    // Two threads keep TLS handshakes going while a third (storage) writes; more only help with many cores.
    {"server", "threads", Kind::integer, "2", 1, 64, "I/O threads of the agent endpoint."},
    // A report is tens of KiB; 1 MiB leaves room for thousands of checks and scan locations.
    {"server", "max_body_bytes", Kind::integer, "1048576", 1024, 1LL << 30,
     "Largest request body as received (compressed); larger: 413 too_large."},
    // JSON compresses about 10:1; past 8 MiB inflated it is a gzip bomb, not a report.
    {"server", "max_inflated_bytes", Kind::integer, "8388608", 1024, 1LL << 32,
     "Largest request body after gunzip; larger: 413 gzip_bomb."},
    // Bounded so that a slow disk turns into 503 + Retry-After for agents (they spool), not into memory.
    {"server", "ingest_queue", Kind::integer, "4096", 1, 1000000,
     "Reports waiting for storage; beyond it: 503 overloaded with Retry-After."},
    // The queue's memory: 4096 reports of up to max_inflated_bytes would be 32 GiB. 256 MiB holds thousands
    // of ordinary reports; a report larger than the budget is still taken when the queue is empty.
    {"server", "ingest_queue_bytes", Kind::integer, "268435456", 1LL << 20, 1LL << 36,
     "Bytes of reports waiting for storage; beyond it: 503 overloaded with Retry-After."},
    // 90 days, renewed by the agent well before: a stolen terminal's certificate dies on its own.
    {"server", "certificate_days", Kind::integer, "90", 1, 825, "Lifetime of device certificates, in days."},
    {"storage", "url", Kind::string, R"("")", 0, 4096,
     "Empty: sqlite:<data_dir>/console.db. Or sqlite:PATH, or postgresql://user@host/db."},
    // PCI DSS 10.5.1 keeps audit logs a year; raw reports are evidence, not logs: 30 days, latest always kept.
    {"storage", "raw_report_days", Kind::integer, "30", 1, 3650,
     "Raw reports older than this are deleted (each device's latest is kept)."},
    {"api", "listen", Kind::string, R"("127.0.0.1:8080")", 1, 300,
     "host:port of the operator API and dashboard (bearer tokens from operator-tokens)."},
    {"api", "stale_after", Kind::duration, R"("24h")", 60, 365LL * 86400,
     "A device silent for longer counts as stale."},
    {"enroll", "token_ttl", Kind::duration, R"("7d")", 60, 365LL * 86400,
     "Default lifetime of enrollment tokens made by `token create`."},
    // A device clock off by more than this would get a certificate it cannot use; say so instead.
    {"enroll", "max_clock_skew", Kind::duration, R"("5m")", 1, 86400,
     "Enrollment is refused (400 clock_skew) when the device's clock is further off than this."},
}};

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::string: return "a string";
    case Kind::integer: return "an integer";
    case Kind::duration: return "a duration (\"30s\", \"15m\", \"1h\", \"7d\" or seconds)";
    case Kind::string_list: return "an array of strings";
  }
  return "a value";
}

ConfigError error_at(std::string_view file, const toml::source_region& where, std::string message) {
  return {std::string(file), static_cast<int>(std::max<toml::source_index>(where.begin.line, 1)),
          static_cast<int>(std::max<toml::source_index>(where.begin.column, 1)), std::move(message)};
}

struct Value {
  std::string text;
  long long number = 0;
  std::vector<std::string> list;
};

std::optional<std::string> check_value(const KeySpec& key, const toml::node& node, Value& out) {
  const std::string full = std::string(key.section) + "." + std::string(key.name);
  const auto wrong_type = [&] {
    return "'" + full + "' must be " + std::string(kind_name(key.kind)) + ", not " + std::string(toml_type_name(node));
  };
  switch (key.kind) {
    case Kind::string: {
      const auto* s = node.as_string();
      if (!s) return wrong_type();
      out.text = s->get();
      if (out.text.find('\0') != std::string::npos) return "'" + full + "' must not contain NUL";
      if (static_cast<long long>(out.text.size()) < key.min) return "'" + full + "' must not be empty";
      if (static_cast<long long>(out.text.size()) > key.max) {
        return "'" + full + "' is longer than " + std::to_string(key.max) + " characters";
      }
      if (key.name == "listen" && !parse_listen_address(out.text)) {
        return "'" + full + "' is \"" + out.text + "\", not host:port (e.g. \"0.0.0.0:8443\" or \"[::]:8443\")";
      }
      return std::nullopt;
    }
    case Kind::integer:
    case Kind::duration: {
      if (const auto* i = node.as_integer()) {
        out.number = i->get();
      } else if (const auto* s = key.kind == Kind::duration ? node.as_string() : nullptr) {
        const auto parsed = parse_duration(s->get());
        if (!parsed) return "'" + full + "' is \"" + s->get() + "\", not " + std::string(kind_name(key.kind));
        out.number = parsed->count();
      } else {
        return wrong_type();
      }
      if (out.number < key.min || out.number > key.max) {
        return "'" + full + "' is " + std::to_string(out.number) + ", out of range [" + std::to_string(key.min) + ", " +
               std::to_string(key.max) + "]" + (key.kind == Kind::duration ? " seconds" : "");
      }
      return std::nullopt;
    }
    case Kind::string_list: {
      const auto* array = node.as_array();
      if (!array) return wrong_type();
      for (const auto& element : *array) {
        const auto* s = element.as_string();
        if (!s) return "'" + full + "' must hold only strings, not " + std::string(toml_type_name(element));
        if (s->get().empty() || s->get().size() > 253) return "'" + full + "' holds an empty or overlong name";
        out.list.push_back(s->get());
      }
      if (out.list.empty()) return "'" + full + "' must name at least one host";
      return std::nullopt;
    }
  }
  return wrong_type();
}

void apply(ConsoleConfig& config, const KeySpec& key, Value&& value) {
  const auto is = [&](std::string_view section, std::string_view name) {
    return key.section == section && key.name == name;
  };
  const auto size = [&] { return static_cast<std::size_t>(value.number); };
  if (is("server", "listen"))
    config.server.listen = std::move(value.text);
  else if (is("server", "names"))
    config.server.names = std::move(value.list);
  else if (is("server", "data_dir"))
    config.server.data_dir = value.text;
  else if (is("server", "threads"))
    config.server.threads = static_cast<int>(value.number);
  else if (is("server", "max_body_bytes"))
    config.server.max_body_bytes = size();
  else if (is("server", "max_inflated_bytes"))
    config.server.max_inflated_bytes = size();
  else if (is("server", "ingest_queue"))
    config.server.ingest_queue = size();
  else if (is("server", "ingest_queue_bytes"))
    config.server.ingest_queue_bytes = size();
  else if (is("server", "certificate_days"))
    config.server.certificate_days = static_cast<int>(value.number);
  else if (is("storage", "url"))
    config.storage.url = std::move(value.text);
  else if (is("storage", "raw_report_days"))
    config.storage.raw_report_days = static_cast<int>(value.number);
  else if (is("api", "listen"))
    config.api.listen = std::move(value.text);
  else if (is("api", "stale_after"))
    config.api.stale_after = std::chrono::seconds(value.number);
  else if (is("enroll", "token_ttl"))
    config.enroll.token_ttl = std::chrono::seconds(value.number);
  else if (is("enroll", "max_clock_skew"))
    config.enroll.max_clock_skew = std::chrono::seconds(value.number);
}

// The defaults, parsed from the table's own TOML text so that there is one source for them.
ConsoleConfig defaults() {
  ConsoleConfig config;
  for (const auto& key : kSchema) {
    const std::string doc = "v = " + std::string(key.default_toml);
    const toml::table table = toml::parse(doc);
    Value value;
    check_value(key, *table.get("v"), value);
    apply(config, key, std::move(value));
  }
  return config;
}

}  // namespace

std::string ConsoleConfig::storage_url() const {
  if (!storage.url.empty()) return storage.url;
  return "sqlite:" + (server.data_dir / "console.db").string();
}

std::vector<ConsoleConfigKey> console_config_schema() {
  std::vector<ConsoleConfigKey> keys;
  for (const auto& key : kSchema) keys.push_back({key.section, key.name, key.default_toml, key.doc});
  return keys;
}

std::optional<ListenAddress> parse_listen_address(std::string_view text) {
  ListenAddress address;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    address.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    address.host = std::string(text.substr(0, colon));
    if (address.host.find(':') != std::string::npos) return std::nullopt;
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || port.empty() || value > 65535) return std::nullopt;
  if (address.host.empty()) return std::nullopt;
  address.port = static_cast<unsigned short>(value);
  return address;
}

ConsoleConfigLoad parse_console_config(std::string_view text, std::string_view source_name) {
  ConsoleConfigLoad load;
  toml::table root;
  try {
    root = toml::parse(text, std::string(source_name));
  } catch (const toml::parse_error& e) {
    load.errors.push_back(error_at(source_name, e.source(), std::string(e.description())));
    return load;
  }
  ConsoleConfig config = defaults();
  config.source = std::string(source_name);

  std::vector<std::string_view> sections;
  for (const auto& key : kSchema) {
    if (std::find(sections.begin(), sections.end(), key.section) == sections.end()) sections.push_back(key.section);
  }
  for (auto&& [section_key, section_node] : root) {
    const std::string_view section = section_key.str();
    if (std::find(sections.begin(), sections.end(), section) == sections.end()) {
      load.errors.push_back(
          error_at(source_name, section_key.source(),
                   "unknown section '" + std::string(section) + "'" + text::suggestion(section, sections)));
      continue;
    }
    const auto* table = section_node.as_table();
    if (!table) {
      load.errors.push_back(
          error_at(source_name, section_key.source(),
                   "'" + std::string(section) + "' must be a table, not " + std::string(toml_type_name(section_node))));
      continue;
    }
    std::vector<std::string_view> names;
    for (const auto& key : kSchema) {
      if (key.section == section) names.push_back(key.name);
    }
    for (auto&& [name_key, value_node] : *table) {
      const std::string_view name = name_key.str();
      const auto spec = std::find_if(kSchema.begin(), kSchema.end(),
                                     [&](const KeySpec& k) { return k.section == section && k.name == name; });
      if (spec == kSchema.end()) {
        load.errors.push_back(error_at(
            source_name, name_key.source(),
            "unknown key '" + std::string(section) + "." + std::string(name) + "'" + text::suggestion(name, names)));
        continue;
      }
      Value value;
      if (auto problem = check_value(*spec, value_node, value)) {
        load.errors.push_back(error_at(source_name, value_node.source(), std::move(*problem)));
        continue;
      }
      apply(config, *spec, std::move(value));
    }
  }
  if (config.server.max_inflated_bytes < config.server.max_body_bytes) {
    const auto* node = root.at_path("server.max_inflated_bytes").node();
    load.errors.push_back(error_at(source_name, node ? node->source() : toml::source_region{},
                                   "'server.max_inflated_bytes' must not be less than 'server.max_body_bytes'"));
  }
  std::stable_sort(load.errors.begin(), load.errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  if (load.errors.empty()) load.config = std::move(config);
  return load;
}

ConsoleConfigLoad load_console_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ConsoleConfigLoad load;
    load.errors.push_back({path.string(), 1, 1, "cannot read the file"});
    return load;
  }
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return parse_console_config(text, path.string());
}

}  // namespace postured::console
