#include "core/config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <toml++/toml.h>

namespace postured {
namespace {

constexpr long long kNoLimit = 0;
constexpr std::array<std::string_view, 4> kLogLevels{"debug", "info", "warn", "error"};

// The one table of postured.toml's keys. config/README.md states the same defaults; a unit test
// compares the two so that the docs cannot drift from the code.
const std::array<ConfigKey, 8> kSchema{{
    {"agent", "device_id", ValueKind::string, false, R"("")", 0, 128, {},
     "Device id reported to the console. Empty: the contents of /etc/machine-id."},
    {"agent", "store_id", ValueKind::string, true, "", 1, 64, {},
     "The store this device belongs to, as the console knows it."},
    {"agent", "state_dir", ValueKind::string, false, R"("/var/lib/postured")", 1, 4096, {},
     "Where the agent keeps its state (last report, keys, spool). Created with mode 0700."},
    {"agent", "runtime_dir", ValueKind::string, false, R"("/run/postured")", 1, 4096, {},
     "Where the agent puts its local socket."},
    {"agent", "log_level", ValueKind::choice, false, R"("info")", 0, 0, kLogLevels,
     "Least severe level that is logged: debug, info, warn or error."},
    // A posture cycle takes milliseconds; 1 minute is the floor so a typo cannot make it spin.
    {"schedule", "check_interval", ValueKind::duration, false, R"("15m")", 60, 7 * 86400, {},
     "How often the agent runs a full cycle."},
    // Jitter spreads a fleet's cycles so a thousand terminals do not report in the same second.
    {"schedule", "jitter", ValueKind::duration, false, R"("2m")", 0, 86400, {},
     "Each cycle starts up to this much later than the interval, at random."},
    {"checks", "disabled", ValueKind::string_list, false, "[]", kNoLimit, kNoLimit, {},
     "Ids of checks that are not run, e.g. [\"linux.usb.storage_blocked\"]."},
}};

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
std::optional<std::string> nearest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 2) + 1;
  for (auto candidate : candidates) {
    const auto d = edit_distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(candidate);
    }
  }
  return best;
}

std::string suggestion(std::string_view word, const std::vector<std::string_view>& candidates) {
  if (auto near = nearest(word, candidates)) return "; did you mean '" + *near + "'?";
  std::string all;
  for (auto c : candidates) all += (all.empty() ? "" : ", ") + std::string(c);
  return "; expected one of: " + all;
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

std::string_view node_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date/time";
    default: return "nothing";
  }
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
    return "'" + full + "' must be " + std::string(kind_name(key.kind)) + ", not " + std::string(node_type_name(node));
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
        if (!s) return "'" + full + "' must hold only strings, not " + std::string(node_type_name(element));
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
  else if (is("agent", "log_level")) {
    const auto at = std::find(kLogLevels.begin(), kLogLevels.end(), value.text) - kLogLevels.begin();
    config.agent.log_level = static_cast<LogLevel>(at);
  } else if (is("schedule", "check_interval")) config.schedule.check_interval = std::chrono::seconds(value.number);
  else if (is("schedule", "jitter")) config.schedule.jitter = std::chrono::seconds(value.number);
  else if (is("checks", "disabled")) config.checks.disabled = std::move(value.list);
}

Config defaults() {
  Config config;
  for (const auto& key : kSchema) {
    if (key.required) continue;
    const auto parsed = toml::parse("v = " + std::string(key.default_toml));
    Checked value;
    // The table is ours: a default that fails its own check is a programming error.
    if (auto problem = check_value(key, *parsed.get("v"), value)) throw std::logic_error("bad default: " + *problem);
    apply(config, key, std::move(value));
  }
  return config;
}

ConfigError error_at(std::string_view file, const toml::source_region& where, std::string message) {
  return {std::string(file), static_cast<int>(std::max<toml::source_index>(where.begin.line, 1)),
          static_cast<int>(std::max<toml::source_index>(where.begin.column, 1)), std::move(message)};
}

}  // namespace

std::string ConfigError::to_string() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::span<const ConfigKey> config_schema() { return kSchema; }

Config default_config() { return defaults(); }

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

ConfigLoad parse_config(std::string_view text, std::string_view source_name) {
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

  for (auto&& [section_key, section_node] : root) {
    const std::string_view section = section_key.str();
    if (std::find(sections.begin(), sections.end(), section) == sections.end()) {
      load.errors.push_back(error_at(source_name, section_key.source(),
                                     "unknown section '" + std::string(section) + "'" + suggestion(section, sections)));
      continue;
    }
    const auto* table = section_node.as_table();
    if (!table) {
      load.errors.push_back(error_at(source_name, section_key.source(),
                                     "'" + std::string(section) + "' must be a table, not " +
                                         std::string(node_type_name(section_node))));
      continue;
    }
    std::vector<std::string_view> names;
    for (const auto& key : kSchema) {
      if (key.section == section) names.push_back(key.name);
    }
    for (auto&& [name_key, value_node] : *table) {
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
      apply(config, *spec, std::move(value));
    }
  }

  for (const auto& key : kSchema) {
    if (!key.required) continue;
    const auto* section = root.get(key.section);
    const auto* table = section ? section->as_table() : nullptr;
    if (table && table->contains(key.name)) continue;
    if (section && !table) continue;  // already reported as not a table
    toml::source_region where{};
    if (table) where = table->source();
    load.errors.push_back(error_at(source_name, where,
                                   "missing required key '" + std::string(key.section) + "." +
                                       std::string(key.name) + "' (" + std::string(key.doc) + ")"));
  }

  std::stable_sort(load.errors.begin(), load.errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  if (load.errors.empty()) load.config = std::move(config);
  return load;
}

ConfigLoad load_config_file(const std::filesystem::path& path) {
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
  return parse_config(text.str(), path.string());
}

}  // namespace postured
