// A cache's minimization and retention policy: policy TOML → validated structs, in two stages.
// Stage 1 (parse_policy) checks the file on its own, like postured.toml; stage 2
// (check_policy_against) checks it against the cache's real schema, which needs the open cache.
// Both report every problem as FILE:LINE:COL: message. agent/privacy/POLICY.md is the reference.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "privacy/transforms.hpp"

namespace postured::privacy {

// What happens to a column of a listed table that the policy does not name.
enum class UnlistedColumns { report, null };

// Where a name or value sits in the policy file, for stage-2 errors.
struct PolicyPosition {
  int line = 1;
  int column = 1;
};

struct ColumnRule {
  std::string column;
  Transform transform;
  PolicyPosition at;
};

struct RetentionRule {
  std::string column;
  TimestampFormat format = TimestampFormat::iso8601;
  int keep_days = 0;
  PolicyPosition at;  // of the column's name
};

// [[table.delete_row_if]]: rows whose `column` matches are deleted; a table's conditions are OR-ed.
struct DeleteCondition {
  enum class Test { equals, in, is_null };
  std::string column;
  Test test = Test::equals;
  std::vector<SqlValue> values;  // equals: one; in: one or more; is_null: none
  PolicyPosition at;
};

struct TablePolicy {
  std::string name;
  PolicyPosition at;
  UnlistedColumns unlisted = UnlistedColumns::report;
  std::optional<RetentionRule> retention;
  std::vector<ColumnRule> columns;
  std::vector<DeleteCondition> delete_row_if;

  const ColumnRule* rule_for(std::string_view column) const;
};

struct MinimizationPolicy {
  std::string source;  // the file, as named in errors
  std::string sha256;  // of the file's bytes, recorded with each enforcement as evidence
  std::vector<TablePolicy> tables;

  const TablePolicy* table(std::string_view wanted) const;
};

struct PolicyLoad {
  std::optional<MinimizationPolicy> policy;  // set only when there are no errors
  std::vector<ConfigError> errors;           // every problem found, in file order
};

// Parses and validates policy TOML; `source_name` is used in error messages.
PolicyLoad parse_policy(std::string_view text, std::string_view source_name);
// Reads and validates a file. An unreadable file is one error at 1:1.
PolicyLoad load_policy_file(const std::filesystem::path& path);

// The parts of a cache's schema that stage 2 checks a policy against.
struct ColumnSchema {
  std::string name;
  bool not_null = false;
  bool primary_key = false;  // part of the table's PRIMARY KEY
  bool rowid_alias = false;  // the INTEGER PRIMARY KEY, which is the rowid itself
  bool unique = false;       // in a UNIQUE index or constraint
};

struct TableSchema {
  std::string name;
  bool has_rowid = true;             // false for WITHOUT ROWID tables
  std::string rowid_name = "rowid";  // rowid, _rowid_ or oid: the one that no column shadows
  std::vector<ColumnSchema> columns;

  const ColumnSchema* column(std::string_view wanted) const;
};

// Stage 2: tables and columns the cache lacks, and rules the schema cannot take (NULL into a NOT
// NULL column, a transform of the rowid, colliding values in a UNIQUE column, WITHOUT ROWID).
std::vector<ConfigError> check_policy_against(const MinimizationPolicy& policy, const std::vector<TableSchema>& schema);

}  // namespace postured::privacy
