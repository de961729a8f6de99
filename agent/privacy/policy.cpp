#include "privacy/policy.hpp"

#include <mbedtls/sha256.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/text.hpp"
#include "core/toml.hpp"

namespace postured::privacy {
namespace {

// Limits on what a policy may say; POLICY.md states the same.
constexpr long long kMaxKeepDays = 36500;   // 100 years
constexpr long long kMaxMaskKeep = 64;      // characters left visible by mask
constexpr long long kMaxPrefixLength = 32;  // generalize to = "prefix"
constexpr long long kMinBandWidth = 2;      // generalize to = "age_band"
constexpr long long kMaxBandWidth = 50;
constexpr int kDefaultBandWidth = 10;
constexpr std::size_t kMaxInValues = 1000;  // delete_row_if in = [...]

using Names = std::vector<std::string_view>;
using text::suggestion;

const Names kTopKeys{"unlisted_columns", "table"};
const Names kTableKeys{"name", "unlisted_columns", "retention", "columns", "delete_row_if"};
const Names kRetentionKeys{"column", "format", "keep_days"};
const Names kConditionKeys{"column", "equals", "in", "is_null"};
const Names kUnlistedChoices{"report", "null"};
const Names kFormats{"iso8601", "unix_seconds", "unix_millis"};
const Names kTransforms{"keep", "null", "truncate_pan", "mask", "hmac", "generalize"};
const Names kGeneralizations{"year", "month", "prefix", "age_band"};

std::string join(const Names& names) {
  std::string all;
  for (const auto name : names) all += (all.empty() ? "" : ", ") + std::string(name);
  return all;
}

PolicyPosition position(const toml::source_region& where) {
  return {static_cast<int>(std::max<toml::source_index>(where.begin.line, 1)),
          static_cast<int>(std::max<toml::source_index>(where.begin.column, 1))};
}

template <typename Choice>
Choice choice_at(const Names& names, std::string_view name) {
  return static_cast<Choice>(std::find(names.begin(), names.end(), name) - names.begin());
}

// Collects errors and reads typed values, naming each key by its dotted path.
class PolicyReader {
 public:
  explicit PolicyReader(std::string_view source) : source_(source) {}

  void error(const toml::source_region& where, std::string message) {
    const auto at = position(where);
    errors_.push_back({source_, at.line, at.column, std::move(message)});
  }
  std::vector<ConfigError> take_errors() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return std::move(errors_);
  }

  // Reports every key of `table` that is not in `known`.
  void unknown_keys(const toml::table& table, const Names& known, std::string_view path) {
    for (auto&& [key, value] : table) {
      if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
      error(key.source(),
            "unknown key '" + std::string(path) + std::string(key.str()) + "'" + suggestion(key.str(), known));
    }
  }

  std::optional<std::string> string(const toml::node& node, std::string_view what) {
    const auto* s = node.as_string();
    if (!s) {
      error(node.source(), "'" + std::string(what) + "' must be a string, not " + std::string(toml_type_name(node)));
      return std::nullopt;
    }
    if (s->get().empty() || s->get().find('\0') != std::string::npos) {
      error(node.source(), "'" + std::string(what) + "' must be a non-empty name");
      return std::nullopt;
    }
    return s->get();
  }

  std::optional<std::string_view> choice(const toml::node& node, std::string_view what, const Names& choices) {
    const auto* s = node.as_string();
    if (!s) {
      error(node.source(), "'" + std::string(what) + "' must be a string, not " + std::string(toml_type_name(node)));
      return std::nullopt;
    }
    const auto found = std::find(choices.begin(), choices.end(), s->get());
    if (found == choices.end()) {
      error(node.source(), "'" + std::string(what) + "' is \"" + s->get() + "\"" + suggestion(s->get(), choices));
      return std::nullopt;
    }
    return *found;
  }

  std::optional<long long> integer(const toml::node& node, std::string_view what, long long min, long long max) {
    const auto* i = node.as_integer();
    if (!i) {
      error(node.source(), "'" + std::string(what) + "' must be an integer, not " + std::string(toml_type_name(node)));
      return std::nullopt;
    }
    if (i->get() < min || i->get() > max) {
      error(node.source(), "'" + std::string(what) + "' is " + std::to_string(i->get()) + ", out of range [" +
                               std::to_string(min) + ", " + std::to_string(max) + "]");
      return std::nullopt;
    }
    return i->get();
  }

  // A string, integer, float or boolean (as 1 or 0, SQLite's booleans) to compare a column with.
  std::optional<SqlValue> scalar(const toml::node& node, std::string_view what) {
    if (const auto* s = node.as_string()) return SqlValue(s->get());
    if (const auto* i = node.as_integer()) return SqlValue(i->get());
    if (const auto* f = node.as_floating_point()) return SqlValue(f->get());
    if (const auto* b = node.as_boolean()) return SqlValue(static_cast<long long>(b->get() ? 1 : 0));
    error(node.source(),
          "'" + std::string(what) + "' must be a string, number or boolean, not " + std::string(toml_type_name(node)));
    return std::nullopt;
  }

  const toml::table* table(const toml::node& node, std::string_view what) {
    const auto* t = node.as_table();
    if (!t) error(node.source(), "'" + std::string(what) + "' must be a table, not " + std::string(toml_type_name(node)));
    return t;
  }

 private:
  std::string source_;
  std::vector<ConfigError> errors_;
};

// The parameter keys each transform takes, besides `transform` itself.
Names parameters_of(TransformKind kind) {
  switch (kind) {
    case TransformKind::mask: return {"keep_first", "keep_last"};
    case TransformKind::generalize: return {"to", "format", "length", "width"};
    default: return {};
  }
}

bool read_mask(PolicyReader& in, const toml::table& spec, const std::string& path, Transform& t) {
  const auto* first = spec.get("keep_first");
  const auto* last = spec.get("keep_last");
  if ((first != nullptr) == (last != nullptr)) {
    in.error(spec.source(), "'" + path + "' with transform \"mask\" needs exactly one of keep_first or keep_last");
    return false;
  }
  t.mask_side = first ? MaskSide::keep_first : MaskSide::keep_last;
  const auto keep = in.integer(first ? *first : *last, path + (first ? ".keep_first" : ".keep_last"), 0, kMaxMaskKeep);
  if (!keep) return false;
  t.mask_keep = static_cast<std::size_t>(*keep);
  return true;
}

bool read_generalize(PolicyReader& in, const toml::table& spec, const std::string& path, Transform& t) {
  const auto* to_node = spec.get("to");
  if (!to_node) {
    in.error(spec.source(),
             "'" + path + "' with transform \"generalize\" needs 'to' (year, month, prefix or age_band)");
    return false;
  }
  const auto to = in.choice(*to_node, path + ".to", kGeneralizations);
  if (!to) return false;
  t.generalization = choice_at<Generalization>(kGeneralizations, *to);
  // Each target takes only its own parameter: a stray one is a sign of a misunderstood policy.
  const std::map<Generalization, std::string_view> own{{Generalization::year, "format"},
                                                       {Generalization::month, "format"},
                                                       {Generalization::prefix, "length"},
                                                       {Generalization::age_band, "width"}};
  bool ok = true;
  for (const char* key : {"format", "length", "width"}) {
    const auto* node = spec.get(key);
    if (!node) continue;
    if (own.at(t.generalization) != key) {
      in.error(node->source(),
               "'" + path + "." + key + "' does not apply to generalize to \"" + std::string(*to) + "\"");
      ok = false;
      continue;
    }
    if (std::string_view(key) == "format") {
      const auto format = in.choice(*node, path + ".format", kFormats);
      if (format) t.date_format = choice_at<TimestampFormat>(kFormats, *format);
      ok = ok && format;
    } else if (std::string_view(key) == "length") {
      const auto length = in.integer(*node, path + ".length", 1, kMaxPrefixLength);
      if (length) t.prefix_length = static_cast<std::size_t>(*length);
      ok = ok && length;
    } else {
      const auto width = in.integer(*node, path + ".width", kMinBandWidth, kMaxBandWidth);
      if (width) t.band_width = static_cast<int>(*width);
      ok = ok && width;
    }
  }
  if (t.generalization == Generalization::prefix && !spec.get("length")) {
    in.error(spec.source(), "'" + path + "' with generalize to \"prefix\" needs 'length'");
    return false;
  }
  return ok;
}

// One entry of [table.columns]: "hmac", or { transform = "mask", keep_last = 4 }.
std::optional<Transform> read_transform(PolicyReader& in, const toml::node& node, const std::string& path) {
  Transform t;
  t.band_width = kDefaultBandWidth;
  if (node.is_string()) {
    const auto name = in.choice(node, path, kTransforms);
    if (!name) return std::nullopt;
    t.kind = choice_at<TransformKind>(kTransforms, *name);
    if (!parameters_of(t.kind).empty()) {
      in.error(node.source(), "'" + path + "': \"" + std::string(*name) + "\" needs parameters, e.g. " +
                                  (t.kind == TransformKind::mask ? "{ transform = \"mask\", keep_last = 4 }"
                                                                 : "{ transform = \"generalize\", to = \"year\" }"));
      return std::nullopt;
    }
    return t;
  }
  const auto* spec = node.as_table();
  if (!spec) {
    in.error(node.source(), "'" + path +
                                "' must be a transform name or a table such as { transform = \"hmac\" }, not " +
                                std::string(toml_type_name(node)));
    return std::nullopt;
  }
  const auto* kind_node = spec->get("transform");
  if (!kind_node) {
    in.error(spec->source(), "'" + path + "' needs 'transform' (" + join(kTransforms) + ")");
    return std::nullopt;
  }
  const auto name = in.choice(*kind_node, path + ".transform", kTransforms);
  if (!name) return std::nullopt;
  t.kind = choice_at<TransformKind>(kTransforms, *name);
  auto known = parameters_of(t.kind);
  known.insert(known.begin(), "transform");
  bool ok = true;
  for (auto&& [key, value] : *spec) {
    if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
    const auto hint = known.size() > 1 ? suggestion(key.str(), Names(known.begin() + 1, known.end()))
                                       : std::string("; it takes no parameters");
    in.error(key.source(), "'" + path + "." + std::string(key.str()) + "' is not a parameter of transform \"" +
                               std::string(*name) + "\"" + hint);
    ok = false;
  }
  if (t.kind == TransformKind::mask) ok = read_mask(in, *spec, path, t) && ok;
  if (t.kind == TransformKind::generalize) ok = read_generalize(in, *spec, path, t) && ok;
  return ok ? std::optional<Transform>(t) : std::nullopt;
}

std::optional<RetentionRule> read_retention(PolicyReader& in, const toml::node& node, const std::string& path) {
  const auto* spec = in.table(node, path);
  if (!spec) return std::nullopt;
  in.unknown_keys(*spec, kRetentionKeys, path + ".");
  RetentionRule rule;
  bool ok = true;
  for (const char* required : {"column", "keep_days"}) {
    if (spec->get(required)) continue;
    in.error(spec->source(), "'" + path + "' needs '" + required + "'");
    ok = false;
  }
  if (const auto* column = spec->get("column")) {
    const auto name = in.string(*column, path + ".column");
    if (name) rule.column = *name, rule.at = position(column->source());
    ok = ok && name;
  }
  if (const auto* days = spec->get("keep_days")) {
    const auto value = in.integer(*days, path + ".keep_days", 1, kMaxKeepDays);
    if (value) rule.keep_days = static_cast<int>(*value);
    ok = ok && value;
  }
  if (const auto* format = spec->get("format")) {
    const auto value = in.choice(*format, path + ".format", kFormats);
    if (value) rule.format = choice_at<TimestampFormat>(kFormats, *value);
    ok = ok && value;
  }
  return ok ? std::optional<RetentionRule>(rule) : std::nullopt;
}

std::optional<DeleteCondition> read_condition(PolicyReader& in, const toml::table& spec, const std::string& path) {
  in.unknown_keys(spec, kConditionKeys, path + ".");
  DeleteCondition condition;
  const auto* column = spec.get("column");
  if (!column) {
    in.error(spec.source(), "'" + path + "' needs 'column'");
    return std::nullopt;
  }
  const auto name = in.string(*column, path + ".column");
  if (!name) return std::nullopt;
  condition.column = *name;
  condition.at = position(column->source());
  const int tests = (spec.get("equals") ? 1 : 0) + (spec.get("in") ? 1 : 0) + (spec.get("is_null") ? 1 : 0);
  if (tests != 1) {
    in.error(spec.source(), "'" + path + "' needs exactly one of equals, in or is_null");
    return std::nullopt;
  }
  if (const auto* equals = spec.get("equals")) {
    const auto value = in.scalar(*equals, path + ".equals");
    if (!value) return std::nullopt;
    condition.values.push_back(*value);
    return condition;
  }
  if (const auto* is_null = spec.get("is_null")) {
    if (!is_null->is_boolean() || !is_null->as_boolean()->get()) {
      in.error(is_null->source(), "'" + path + ".is_null' must be true");
      return std::nullopt;
    }
    condition.test = DeleteCondition::Test::is_null;
    return condition;
  }
  const auto* list = spec.get("in")->as_array();
  if (!list || list->empty() || list->size() > kMaxInValues) {
    in.error(spec.get("in")->source(),
             "'" + path + ".in' must be an array of 1 to " + std::to_string(kMaxInValues) + " values");
    return std::nullopt;
  }
  condition.test = DeleteCondition::Test::in;
  for (const auto& element : *list) {
    const auto value = in.scalar(element, path + ".in");
    if (!value) return std::nullopt;
    condition.values.push_back(*value);
  }
  return condition;
}

void read_columns(PolicyReader& in, const toml::node& node, const std::string& path, TablePolicy& table) {
  const auto* columns = in.table(node, path);
  if (!columns) return;
  for (auto&& [key, value] : *columns) {
    const std::string column(key.str());
    if (column.empty()) {
      in.error(key.source(), "'" + path + "' has an empty column name");
      continue;
    }
    if (auto transform = read_transform(in, value, path + "." + column)) {
      table.columns.push_back({column, *transform, position(key.source())});
    }
  }
}

void read_conditions(PolicyReader& in, const toml::node& node, const std::string& path, TablePolicy& table) {
  const auto* list = node.as_array();
  if (!list || !list->is_array_of_tables()) {
    in.error(node.source(), "'" + path + "' must be an array of tables ([[table.delete_row_if]]), not " +
                                std::string(toml_type_name(node)));
    return;
  }
  for (const auto& element : *list) {
    if (auto condition = read_condition(in, *element.as_table(), path)) table.delete_row_if.push_back(*condition);
  }
}

// The retention column is read by retention: a transform would make its timestamps unreadable.
void check_retention_column_kept(PolicyReader& in, const toml::table& spec, const TablePolicy& table,
                                 const std::string& path) {
  if (!table.retention) return;
  const auto* rule = table.rule_for(table.retention->column);
  if (!rule || rule->transform.kind == TransformKind::keep) return;
  const auto* node = spec.at_path("columns")[rule->column].node();
  in.error(node ? node->source() : spec.source(),
           "'" + path + ".columns." + rule->column + "' is the retention column, so it must be kept as it is");
}

std::optional<TablePolicy> read_table(PolicyReader& in, const toml::table& spec, std::size_t index,
                                      UnlistedColumns unlisted) {
  TablePolicy table;
  table.unlisted = unlisted;
  std::string path = "table[" + std::to_string(index) + "]";
  in.unknown_keys(spec, kTableKeys, "table.");
  const auto* name = spec.get("name");
  if (!name) {
    in.error(spec.source(), "'" + path + "' needs 'name', the table's name in the cache");
    return std::nullopt;
  }
  const auto table_name = in.string(*name, "table.name");
  if (!table_name) return std::nullopt;
  table.name = *table_name;
  table.at = position(name->source());
  path = "table." + table.name;
  if (const auto* node = spec.get("unlisted_columns")) {
    if (const auto value = in.choice(*node, path + ".unlisted_columns", kUnlistedChoices)) {
      table.unlisted = choice_at<UnlistedColumns>(kUnlistedChoices, *value);
    }
  }
  if (const auto* node = spec.get("retention")) table.retention = read_retention(in, *node, path + ".retention");
  if (const auto* node = spec.get("columns")) read_columns(in, *node, path + ".columns", table);
  if (const auto* node = spec.get("delete_row_if")) read_conditions(in, *node, path + ".delete_row_if", table);
  check_retention_column_kept(in, spec, table, path);
  return table;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[32];
  mbedtls_sha256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest, 0);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (const unsigned char byte : digest) hex += {kDigits[byte >> 4], kDigits[byte & 0xF]};
  return hex;
}

ConfigError stage2_error(const MinimizationPolicy& policy, const PolicyPosition& at, std::string message) {
  return {policy.source, at.line, at.column, std::move(message)};
}

Names column_names(const TableSchema& table) {
  Names names;
  for (const auto& c : table.columns) names.push_back(c.name);
  return names;
}

// The error for a rule on `column` that the schema cannot take, if any.
std::optional<std::string> schema_conflict(const ColumnSchema& column, TransformKind kind) {
  if (kind == TransformKind::keep) return std::nullopt;
  if (column.rowid_alias) {
    return "column '" + column.name + "' is the table's INTEGER PRIMARY KEY (its rowid) and can only be kept";
  }
  if (kind == TransformKind::null && (column.not_null || column.primary_key)) {
    return "column '" + column.name + "' is " + (column.primary_key ? "part of the PRIMARY KEY" : "NOT NULL") +
           ", so it cannot be nulled";
  }
  const bool collides =
      kind == TransformKind::mask || kind == TransformKind::truncate_pan || kind == TransformKind::generalize;
  if (column.unique && collides) {
    return "column '" + column.name + "' is UNIQUE, and " + std::string(to_string(kind)) +
           " would make its values collide; use hmac or null";
  }
  return std::nullopt;
}

void check_table(const MinimizationPolicy& policy, const TablePolicy& rules, const TableSchema& table,
                 std::vector<ConfigError>& errors) {
  if (!table.has_rowid) {
    errors.push_back(stage2_error(policy, rules.at,
                                  "table '" + rules.name + "' is WITHOUT ROWID, which enforcement does not support"));
    return;
  }
  const auto names = column_names(table);
  const auto exists = [&](const std::string& column, const PolicyPosition& at) {
    if (table.column(column)) return true;
    errors.push_back(stage2_error(
        policy, at, "table '" + rules.name + "' has no column '" + column + "'" + suggestion(column, names)));
    return false;
  };
  for (const auto& rule : rules.columns) {
    if (!exists(rule.column, rule.at)) continue;
    if (auto conflict = schema_conflict(*table.column(rule.column), rule.transform.kind)) {
      errors.push_back(stage2_error(policy, rule.at, *conflict));
    }
  }
  if (rules.retention) exists(rules.retention->column, rules.retention->at);
  for (const auto& condition : rules.delete_row_if) exists(condition.column, condition.at);
  if (rules.unlisted != UnlistedColumns::null) return;
  for (const auto& column : table.columns) {
    const bool named = rules.rule_for(column.name) || (rules.retention && rules.retention->column == column.name);
    if (named || column.primary_key || !column.not_null) continue;
    errors.push_back(stage2_error(policy, rules.at,
                                  "unlisted_columns = \"null\" would null column '" + column.name + "' of table '" +
                                      rules.name + "', which is NOT NULL; give it a transform"));
  }
}

}  // namespace

const ColumnRule* TablePolicy::rule_for(std::string_view column) const {
  const auto found =
      std::find_if(columns.begin(), columns.end(), [&](const ColumnRule& r) { return r.column == column; });
  return found == columns.end() ? nullptr : &*found;
}

const TablePolicy* MinimizationPolicy::table(std::string_view wanted) const {
  const auto found = std::find_if(tables.begin(), tables.end(), [&](const TablePolicy& t) { return t.name == wanted; });
  return found == tables.end() ? nullptr : &*found;
}

const ColumnSchema* TableSchema::column(std::string_view wanted) const {
  const auto found =
      std::find_if(columns.begin(), columns.end(), [&](const ColumnSchema& c) { return c.name == wanted; });
  return found == columns.end() ? nullptr : &*found;
}

PolicyLoad parse_policy(std::string_view text, std::string_view source_name) {
  PolicyLoad load;
  PolicyReader in(source_name);
  toml::table root;
  try {
    root = toml::parse(text, std::string(source_name));
  } catch (const toml::parse_error& e) {
    in.error(e.source(), std::string(e.description()));
    load.errors = in.take_errors();
    return load;
  }
  MinimizationPolicy policy;
  policy.source = std::string(source_name);
  policy.sha256 = sha256_hex(text);
  in.unknown_keys(root, kTopKeys, "");

  // Read first: toml++ iterates keys in sorted order, and every table inherits this default.
  auto unlisted = UnlistedColumns::report;
  if (const auto* node = root.get("unlisted_columns")) {
    if (const auto value = in.choice(*node, "unlisted_columns", kUnlistedChoices)) {
      unlisted = choice_at<UnlistedColumns>(kUnlistedChoices, *value);
    }
  }
  if (const auto* node = root.get("table")) {
    const auto* list = node->as_array();
    if (!list || !list->is_array_of_tables()) {
      in.error(node->source(), "'table' must be an array of tables ([[table]]), not " + std::string(toml_type_name(*node)));
    } else {
      std::set<std::string> seen;
      for (std::size_t i = 0; i < list->size(); ++i) {
        auto table = read_table(in, *(*list)[i].as_table(), i, unlisted);
        if (!table) continue;
        if (!seen.insert(table->name).second) {
          in.error((*list)[i].as_table()->get("name")->source(), "table '" + table->name + "' is listed twice");
          continue;
        }
        policy.tables.push_back(std::move(*table));
      }
    }
  }
  load.errors = in.take_errors();
  if (load.errors.empty()) load.policy = std::move(policy);
  return load;
}

PolicyLoad load_policy_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    PolicyLoad load;
    std::error_code ec;
    const bool present = std::filesystem::exists(path, ec);
    load.errors.push_back({path.string(), 1, 1, present ? "cannot read the policy file" : "no such policy file"});
    return load;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_policy(text.str(), path.string());
}

std::vector<ConfigError> check_policy_against(const MinimizationPolicy& policy,
                                              const std::vector<TableSchema>& schema) {
  Names table_names;
  for (const auto& t : schema) table_names.push_back(t.name);
  std::vector<ConfigError> errors;
  for (const auto& rules : policy.tables) {
    const auto found =
        std::find_if(schema.begin(), schema.end(), [&](const TableSchema& t) { return t.name == rules.name; });
    if (found == schema.end()) {
      errors.push_back(stage2_error(
          policy, rules.at,
          "the cache has no table '" + rules.name + "'" +
              (table_names.empty() ? std::string("; it has no tables") : suggestion(rules.name, table_names))));
      continue;
    }
    check_table(policy, rules, *found, errors);
  }
  std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return errors;
}

}  // namespace postured::privacy
