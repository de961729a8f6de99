#include "patch/baseline.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <tuple>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/toml.hpp"

namespace postured::patch {
namespace {

constexpr std::array<std::string_view, 4> kSeverities{"low", "medium", "high", "critical"};

struct Pos {
  int line = 1;
  int column = 1;
};

// Both formats are read into this one shape, so that one validator gives both the same messages.
struct RawValue {
  enum class Kind { string, array, date, other } kind = Kind::other;
  std::string text;  // a string's value, a date as YYYY-MM-DD, or the type's name for other kinds
  Pos pos;
  std::vector<RawValue> items;  // an array's elements
};
struct RawField {
  std::string key;
  Pos key_pos;
  RawValue value;
};
struct RawTable {
  Pos pos;
  std::vector<RawField> fields;
};
struct RawDocument {
  std::vector<RawTable> packages;
  std::vector<ConfigError> errors;  // problems of the document's shape, found while reading it
};

class Validator {
 public:
  explicit Validator(std::string_view source) : source_(source) {}

  BaselineLoad run(RawDocument document) {
    errors_ = std::move(document.errors);
    Baseline baseline;
    baseline.source = source_;
    for (const auto& table : document.packages) {
      if (auto entry = entry_of(table)) baseline.entries.push_back(std::move(*entry));
    }
    std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    BaselineLoad load;
    load.errors = std::move(errors_);
    if (load.errors.empty()) load.baseline = std::move(baseline);
    return load;
  }

 private:
  void error(Pos pos, std::string message) { errors_.push_back({source_, pos.line, pos.column, std::move(message)}); }

  std::optional<BaselineEntry> entry_of(const RawTable& table) {
    BaselineEntry entry;
    const auto before = errors_.size();
    bool has_name = false, has_fixed = false;
    for (const auto& field : table.fields) {
      const auto& value = field.value;
      if (field.key == "name" || field.key == "fixed") {
        auto& into = field.key == "name" ? entry.name : entry.fixed;
        (field.key == "name" ? has_name : has_fixed) = true;
        if (!non_blank_string(value, "'package." + field.key + "'")) continue;
        if (value.text.find_first_of(" \t\r\n") != std::string::npos) {
          error(value.pos, "'package." + field.key + "' must not contain blanks");
          continue;
        }
        into = value.text;
      } else if (field.key == "cves") {
        entry.cves = cves_of(value);
      } else if (field.key == "severity") {
        entry.severity = severity_of(value);
      } else if (field.key == "published") {
        entry.published = published_of(value);
      } else {
        error(field.key_pos, "unknown key 'package." + field.key + "' (expected one of name, fixed, cves, severity, published)");
      }
    }
    if (!has_name) error(table.pos, "missing required key 'package.name' (the package's name)");
    if (!has_fixed) error(table.pos, "missing required key 'package.fixed' (the first version with the fix)");
    if (errors_.size() != before) return std::nullopt;
    return entry;
  }

  bool non_blank_string(const RawValue& value, const std::string& what) {
    if (value.kind != RawValue::Kind::string) {
      error(value.pos, what + " must be a string, not " + kind_name(value));
      return false;
    }
    if (value.text.empty()) {
      error(value.pos, what + " must not be empty");
      return false;
    }
    return true;
  }

  std::vector<std::string> cves_of(const RawValue& value) {
    std::vector<std::string> cves;
    if (value.kind != RawValue::Kind::array) {
      error(value.pos, "'package.cves' must be a list of strings, not " + kind_name(value));
      return cves;
    }
    for (const auto& item : value.items) {
      if (non_blank_string(item, "each 'package.cves' entry")) cves.push_back(item.text);
    }
    return cves;
  }

  std::optional<Severity> severity_of(const RawValue& value) {
    if (!non_blank_string(value, "'package.severity'")) return std::nullopt;
    const auto found = std::find(kSeverities.begin(), kSeverities.end(), value.text);
    if (found == kSeverities.end()) {
      error(value.pos, "'package.severity' must be one of low, medium, high, critical, not '" + value.text + "'");
      return std::nullopt;
    }
    return static_cast<Severity>(found - kSeverities.begin());
  }

  std::optional<std::chrono::sys_days> published_of(const RawValue& value) {
    if (value.kind != RawValue::Kind::string && value.kind != RawValue::Kind::date) {
      error(value.pos, "'package.published' must be a date (2026-11-26), not " + kind_name(value));
      return std::nullopt;
    }
    auto day = parse_date(value.text);
    if (!day) error(value.pos, "'package.published' must be a date as YYYY-MM-DD, not '" + value.text + "'");
    return day;
  }

  static std::string kind_name(const RawValue& value) {
    switch (value.kind) {
      case RawValue::Kind::string: return "a string";
      case RawValue::Kind::array: return "a list";
      case RawValue::Kind::date: return "a date";
      case RawValue::Kind::other: break;
    }
    return value.text;
  }

  std::string source_;
  std::vector<ConfigError> errors_;
};

// ---- TOML ----

Pos pos_of(const toml::source_region& where) {
  return {static_cast<int>(std::max<toml::source_index>(where.begin.line, 1)),
          static_cast<int>(std::max<toml::source_index>(where.begin.column, 1))};
}

RawValue raw_of(const toml::node& node) {
  RawValue value;
  value.pos = pos_of(node.source());
  if (const auto* text = node.as_string()) {
    value.kind = RawValue::Kind::string;
    value.text = text->get();
  } else if (const auto* array = node.as_array()) {
    value.kind = RawValue::Kind::array;
    for (const auto& item : *array) value.items.push_back(raw_of(item));
  } else if (const auto* date = node.as_date()) {
    value.kind = RawValue::Kind::date;
    std::ostringstream out;
    out << date->get();
    value.text = out.str();
  } else if (node.is_table()) {
    value.text = "a table";
  } else if (node.is_boolean()) {
    value.text = "a boolean";
  } else if (node.is_date_time() || node.is_time()) {
    value.text = "a date-time";
  } else {
    value.text = "a number";
  }
  return value;
}

RawDocument read_toml(std::string_view text, std::string_view source) {
  RawDocument document;
  toml::table root;
  try {
    root = toml::parse(text, std::string(source));
  } catch (const toml::parse_error& e) {
    const auto pos = pos_of(e.source());
    document.errors.push_back({std::string(source), pos.line, pos.column, std::string(e.description())});
    return document;
  }
  for (auto&& [key, node] : root) {
    const auto pos = pos_of(key.source());
    if (key.str() != "package") {
      document.errors.push_back({std::string(source), pos.line, pos.column,
                                 "unknown key '" + std::string(key.str()) + "' (a baseline holds [[package]] tables)"});
      continue;
    }
    const auto* tables = node.as_array();
    if (!tables || !tables->is_array_of_tables()) {
      const auto at = pos_of(node.source());
      document.errors.push_back({std::string(source), at.line, at.column, "'package' must be [[package]] tables"});
      continue;
    }
    for (const auto& element : *tables) {
      RawTable table;
      table.pos = pos_of(element.source());
      for (auto&& [name, value] : *element.as_table()) {
        table.fields.push_back({std::string(name.str()), pos_of(name.source()), raw_of(value)});
      }
      document.packages.push_back(std::move(table));
    }
  }
  return document;
}

// ---- JSON ----

// Line and column (1-based, in bytes) of a byte offset.
Pos pos_at(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  const auto before = text.substr(0, offset);
  const auto newline = before.rfind('\n');
  return {static_cast<int>(std::count(before.begin(), before.end(), '\n')) + 1,
          static_cast<int>(newline == std::string_view::npos ? offset + 1 : offset - newline)};
}

// Where each value and key of a valid JSON text starts, by path ("/package/0/fixed"; a key's own
// position under the path plus "#key"). nlohmann keeps no positions; this walk runs after nlohmann
// has accepted the text, so it need not diagnose anything.
class JsonPositions {
 public:
  explicit JsonPositions(std::string_view text) : text_(text) { value(""); }

  std::optional<std::size_t> find(const std::string& path) const {
    const auto found = at_.find(path);
    return found == at_.end() ? std::nullopt : std::optional(found->second);
  }

 private:
  void skip_blanks() {
    while (i_ < text_.size() && (text_[i_] == ' ' || text_[i_] == '\t' || text_[i_] == '\n' || text_[i_] == '\r')) ++i_;
  }
  // The raw text between the quotes (escapes left as written); i_ ends past the closing quote.
  std::string_view string() {
    const auto start = ++i_;
    while (i_ < text_.size() && text_[i_] != '"') i_ += text_[i_] == '\\' ? 2 : 1;
    return text_.substr(start, std::min(i_++, text_.size()) - start);
  }
  void value(const std::string& path) {
    skip_blanks();
    at_.emplace(path, i_);
    if (i_ >= text_.size()) return;
    if (text_[i_] == '{') {
      ++i_;
      for (skip_blanks(); i_ < text_.size() && text_[i_] != '}'; skip_blanks()) {
        if (text_[i_] == ',') ++i_, skip_blanks();
        const auto key_at = i_;
        const auto key = std::string(string());
        at_.emplace(path + "/" + key + "#key", key_at);
        skip_blanks();
        ++i_;  // ':'
        value(path + "/" + key);
      }
      ++i_;
    } else if (text_[i_] == '[') {
      ++i_;
      std::size_t index = 0;
      for (skip_blanks(); i_ < text_.size() && text_[i_] != ']'; skip_blanks()) {
        if (text_[i_] == ',') ++i_;
        value(path + "/" + std::to_string(index++));
      }
      ++i_;
    } else if (text_[i_] == '"') {
      string();
    } else {
      while (i_ < text_.size() && std::string_view(",]} \t\r\n").find(text_[i_]) == std::string_view::npos) ++i_;
    }
  }

  std::string_view text_;
  std::size_t i_ = 0;
  std::unordered_map<std::string, std::size_t> at_;
};

RawValue raw_of(const nlohmann::ordered_json& json, const std::string& path, const JsonPositions& positions,
                std::string_view text, Pos fallback) {
  RawValue value;
  const auto offset = positions.find(path);
  value.pos = offset ? pos_at(text, *offset) : fallback;
  if (json.is_string()) {
    value.kind = RawValue::Kind::string;
    value.text = json.get<std::string>();
  } else if (json.is_array()) {
    value.kind = RawValue::Kind::array;
    for (std::size_t k = 0; k < json.size(); ++k) {
      value.items.push_back(raw_of(json[k], path + "/" + std::to_string(k), positions, text, value.pos));
    }
  } else {
    value.text = json.is_object() ? "an object" : json.is_boolean() ? "a boolean" : json.is_null() ? "null" : "a number";
  }
  return value;
}

RawDocument read_json(std::string_view text, std::string_view source) {
  RawDocument document;
  nlohmann::ordered_json root;
  try {
    root = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based and points just past the offending character.
    const auto pos = pos_at(text, e.byte == 0 ? 0 : e.byte - 1);
    std::string message = e.what();
    if (const auto colon = message.rfind(": "); colon != std::string::npos) message = message.substr(colon + 2);
    document.errors.push_back({std::string(source), pos.line, pos.column, "invalid JSON: " + message});
    return document;
  }
  const JsonPositions positions(text);
  const auto at = [&](const std::string& path, Pos fallback) {
    const auto offset = positions.find(path);
    return offset ? pos_at(text, *offset) : fallback;
  };
  const auto root_pos = at("", {});
  if (!root.is_object()) {
    document.errors.push_back({std::string(source), root_pos.line, root_pos.column,
                               "a JSON baseline is an object {\"package\": [...]}"});
    return document;
  }
  for (const auto& [key, packages] : root.items()) {
    if (key != "package") {
      const auto pos = at("/" + key + "#key", root_pos);
      document.errors.push_back({std::string(source), pos.line, pos.column,
                                 "unknown key '" + key + "' (a baseline holds a \"package\" list)"});
      continue;
    }
    const auto list_pos = at("/package", root_pos);
    if (!packages.is_array() || !std::all_of(packages.begin(), packages.end(), [](const auto& p) { return p.is_object(); })) {
      document.errors.push_back({std::string(source), list_pos.line, list_pos.column, "'package' must be a list of objects"});
      continue;
    }
    for (std::size_t k = 0; k < packages.size(); ++k) {
      const auto path = "/package/" + std::to_string(k);
      RawTable table;
      table.pos = at(path, list_pos);
      for (const auto& [name, value] : packages[k].items()) {
        table.fields.push_back(
            {name, at(path + "/" + name + "#key", table.pos), raw_of(value, path + "/" + name, positions, text, table.pos)});
      }
      document.packages.push_back(std::move(table));
    }
  }
  return document;
}

bool looks_like_json(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && text[first] == '{';
}

}  // namespace

BaselineLoad parse_baseline(std::string_view text, std::string_view source_name) {
  auto document = looks_like_json(text) ? read_json(text, source_name) : read_toml(text, source_name);
  return Validator(source_name).run(std::move(document));
}

BaselineLoad load_baseline_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  if (in) content << in.rdbuf();
  if (!in) {
    BaselineLoad load;
    load.errors.push_back({path.string(), 1, 1, "cannot read the patch baseline"});
    return load;
  }
  return parse_baseline(content.str(), path.string());
}

std::optional<std::chrono::sys_days> parse_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const auto number = [&](std::size_t from, std::size_t length) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data() + from, text.data() + from + length, value);
    return ec == std::errc{} && end == text.data() + from + length ? value : 0U;
  };
  const std::chrono::year_month_day day{std::chrono::year(static_cast<int>(number(0, 4))),
                                        std::chrono::month(number(5, 2)), std::chrono::day(number(8, 2))};
  if (!day.ok() || number(0, 4) == 0) return std::nullopt;
  return std::chrono::sys_days(day);
}

std::string format_date(std::chrono::sys_days day) {
  const std::chrono::year_month_day ymd(day);
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return out;
}

}  // namespace postured::patch
