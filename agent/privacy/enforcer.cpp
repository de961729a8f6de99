#include "privacy/enforcer.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <limits>
#include <memory>
#include <thread>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "cache/cache_vault.hpp"
#include "core/text.hpp"
#include "cache/key_hierarchy.hpp"
#include "cache/sqlite.hpp"
#include "core/log.hpp"
#include "privacy/evidence.hpp"

namespace postured::privacy {
namespace {

namespace fs = std::filesystem;

constexpr int kBusyTimeoutMs = 5000;  // how long one statement waits for the POS software's transaction

class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement_, nullptr) != SQLITE_OK) fail();
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const SqlValue& value) {
    int rc = SQLITE_OK;
    if (const auto* i = std::get_if<long long>(&value))
      rc = sqlite3_bind_int64(statement_, index, *i);
    else if (const auto* r = std::get_if<double>(&value))
      rc = sqlite3_bind_double(statement_, index, *r);
    else if (const auto* t = std::get_if<std::string>(&value))
      rc = sqlite3_bind_text64(statement_, index, t->data(), t->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    else if (const auto* b = std::get_if<Blob>(&value))
      rc = sqlite3_bind_blob64(statement_, index, b->bytes.data(), b->bytes.size(), SQLITE_TRANSIENT);
    else
      rc = sqlite3_bind_null(statement_, index);
    if (rc != SQLITE_OK) fail();
    return *this;
  }
  // True for a row, false when done.
  bool step() {
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail();
  }
  void reset() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  long long integer(int column) const { return sqlite3_column_int64(statement_, column); }
  SqlValue value(int column) const {
    switch (sqlite3_column_type(statement_, column)) {
      case SQLITE_INTEGER: return sqlite3_column_int64(statement_, column);
      case SQLITE_FLOAT: return sqlite3_column_double(statement_, column);
      case SQLITE_TEXT: return bytes(column, sqlite3_column_text(statement_, column));
      case SQLITE_BLOB: return Blob{bytes(column, sqlite3_column_blob(statement_, column))};
      default: return SqlValue{};
    }
  }

 private:
  std::string bytes(int column, const void* data) const {
    std::string out;
    out.resize(static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
    if (!out.empty()) std::memcpy(out.data(), data, out.size());
    return out;
  }
  [[noreturn]] void fail() const { throw EnforcementError(sqlite3_errmsg(db_)); }

  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
};

void exec(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string why = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    throw EnforcementError(why);
  }
}

long long pragma_number(sqlite3* db, const std::string& pragma) {
  Statement statement(db, "PRAGMA " + pragma + ";");
  return statement.step() ? statement.integer(0) : 0;
}

// One batch's write transaction; rolled back unless committed. A dry run writes nothing and takes none.
class Batch {
 public:
  Batch(sqlite3* db, bool write) : db_(db), open_(write) {
    if (open_) exec(db_, "BEGIN IMMEDIATE;");
  }
  ~Batch() {
    if (open_) sqlite3_exec(db_, "ROLLBACK;", nullptr, nullptr, nullptr);
  }
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  void commit() {
    if (!open_) return;
    exec(db_, "COMMIT;");
    open_ = false;
  }

 private:
  sqlite3* db_;
  bool open_;
};

bool stopping(const EnforceOptions& options, EnforcementFigures* figures = nullptr) {
  if (!options.stop.stop_requested()) return false;
  if (figures) figures->interrupted = true;
  return true;
}

std::string condition_sql(const DeleteCondition& condition, int& next_parameter) {
  const auto column = quote_identifier(condition.column);
  switch (condition.test) {
    case DeleteCondition::Test::is_null: return column + " IS NULL";
    case DeleteCondition::Test::equals: return column + " = ?" + std::to_string(next_parameter++);
    case DeleteCondition::Test::in: {
      std::string list;
      for (std::size_t i = 0; i < condition.values.size(); ++i) {
        list += (i ? ", ?" : "?") + std::to_string(next_parameter++);
      }
      return column + " IN (" + list + ")";
    }
  }
  return "0";
}

// "(a) OR (b)" for a table's conditions, with numbered parameters from ?2 on (?1 is the rowid cursor).
std::string conditions_sql(const TablePolicy& rules) {
  int parameter = 2;
  std::string sql;
  for (const auto& condition : rules.delete_row_if) {
    sql += (sql.empty() ? "(" : " OR (") + condition_sql(condition, parameter) + ")";
  }
  return sql;
}

void bind_conditions(Statement& statement, const TablePolicy& rules) {
  int parameter = 2;
  for (const auto& condition : rules.delete_row_if) {
    for (const auto& value : condition.values) statement.bind(parameter++, value);
  }
}

void delete_rows(sqlite3* db, const TableSchema& table, const std::vector<long long>& rowids) {
  Statement remove(db, "DELETE FROM " + quote_identifier(table.name) + " WHERE " + table.rowid_name + " = ?1;");
  for (const long long rowid : rowids) {
    remove.bind(1, rowid);
    remove.step();
    remove.reset();
  }
}

// Rows a dry run would have purged: it deletes nothing, so later steps skip them to report exactly
// what a real run would do.
using WouldPurge = std::unordered_set<long long>;

void purge_by_conditions(sqlite3* db, const TableSchema& table, const TablePolicy& rules, const EnforceOptions& options,
                         TableFigures& figures, WouldPurge& would_purge) {
  if (rules.delete_row_if.empty()) return;
  const auto& rowid = table.rowid_name;
  Statement select(db, "SELECT " + rowid + " FROM " + quote_identifier(table.name) + " WHERE " + rowid + " > ?1 AND (" +
                           conditions_sql(rules) + ") ORDER BY " + rowid + " LIMIT " +
                           std::to_string(options.batch_rows) + ";");
  long long cursor = std::numeric_limits<long long>::min();
  for (;;) {
    if (stopping(options)) return;
    Batch batch(db, !options.dry_run);
    std::vector<long long> rowids;
    bind_conditions(select, rules);
    select.bind(1, cursor);
    while (select.step()) rowids.push_back(select.integer(0));
    select.reset();
    if (options.dry_run)
      would_purge.insert(rowids.begin(), rowids.end());
    else
      delete_rows(db, table, rowids);
    batch.commit();
    figures.condition_purged += static_cast<long long>(rowids.size());
    if (rowids.size() < options.batch_rows) return;
    cursor = rowids.back();
  }
}

void purge_by_retention(sqlite3* db, const TableSchema& table, const TablePolicy& rules, const EnforceOptions& options,
                        TableFigures& figures, WouldPurge& would_purge) {
  if (!rules.retention) return;
  const auto& retention = *rules.retention;
  const auto& rowid = table.rowid_name;
  Statement select(db, "SELECT " + rowid + ", " + quote_identifier(retention.column) + " FROM " +
                           quote_identifier(table.name) + " WHERE " + rowid + " > ?1 ORDER BY " + rowid + " LIMIT " +
                           std::to_string(kRetentionScanRows) + ";");
  const long long now = std::chrono::duration_cast<std::chrono::milliseconds>(options.now.time_since_epoch()).count();
  long long cursor = std::numeric_limits<long long>::min();
  for (bool more = true; more;) {
    if (stopping(options)) return;
    Batch batch(db, !options.dry_run);
    std::vector<long long> expired;
    std::size_t scanned = 0;
    select.bind(1, cursor);
    more = false;
    while (select.step()) {
      ++scanned;
      cursor = select.integer(0);
      if (would_purge.count(cursor)) continue;
      const auto value = select.value(1);
      const auto when = timestamp_millis(value, retention.format);
      if (std::holds_alternative<std::monostate>(value))
        ++figures.null_timestamps;
      else if (!when)
        ++figures.unparseable_timestamps;
      else if (retention_expired(*when, now, retention.keep_days))
        expired.push_back(cursor);
      if (expired.size() >= options.batch_rows) {
        more = true;  // the rest of this scan is read again from `cursor` by the next batch
        break;
      }
    }
    more = more || scanned == kRetentionScanRows;
    select.reset();
    if (options.dry_run)
      would_purge.insert(expired.begin(), expired.end());
    else
      delete_rows(db, table, expired);
    batch.commit();
    figures.retention_purged += static_cast<long long>(expired.size());
  }
}

void purge(sqlite3* db, const TableSchema& table, const TablePolicy& rules, const EnforceOptions& options,
           TableFigures& figures, WouldPurge& would_purge) {
  purge_by_conditions(db, table, rules, options, figures, would_purge);
  purge_by_retention(db, table, rules, options, figures, would_purge);
}

// What happened to a PAN in a cell, given the cell's new value.
std::string pan_action(const TransformResult& result, TransformKind kind, const PanDetector& detector) {
  if (!result.changed) return "reported";
  if (std::holds_alternative<std::monostate>(result.value)) return "nulled";
  if (!detector.find_all(as_text(result.value)).empty()) return "reported";
  switch (kind) {
    case TransformKind::truncate_pan: return "truncated";
    case TransformKind::hmac: return "hashed";
    case TransformKind::mask: return "masked";
    case TransformKind::generalize: return "generalized";
    default: return "nulled";
  }
}

// Values whose text could hold a card number: text, and integers of 13 digits or more. A keyed
// hash (hmac's output) is not card data, though its hex digits can happen to look like a PAN.
bool worth_scanning(const SqlValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return !is_hmac_text(*text);
  const auto* i = std::get_if<long long>(&value);
  return i && (*i >= 1'000'000'000'000LL || *i <= -1'000'000'000'000LL);
}

// The transform each column of `table` gets: its rule, or the unlisted default. Keys, the rowid
// and the retention column are never nulled by the default.
std::vector<Transform> effective_transforms(const TableSchema& table, const TablePolicy* rules, TableFigures& figures) {
  std::vector<Transform> transforms;
  for (const auto& column : table.columns) {
    Transform t;
    if (rules) {
      if (const auto* rule = rules->rule_for(column.name)) {
        t = rule->transform;
      } else if (rules->retention && rules->retention->column == column.name) {
        t.kind = TransformKind::keep;
      } else if (rules->unlisted == UnlistedColumns::null && !column.primary_key) {
        t.kind = TransformKind::null;
      } else if (!column.rowid_alias) {
        figures.unlisted_columns.push_back(column.name);
      }
    }
    transforms.push_back(t);
  }
  return transforms;
}

struct PendingUpdate {
  long long rowid;
  std::size_t column;
  SqlValue value;
};

class RowProcessor {
 public:
  RowProcessor(const TableSchema& table, const std::vector<Transform>& transforms, const Transformer& transformer,
               const PanDetector& detector, TableFigures& figures, EnforcementFigures& totals)
      : table_(table),
        transforms_(transforms),
        transformer_(transformer),
        detector_(detector),
        figures_(figures),
        totals_(totals) {}

  // The cell's new value, if it changes; findings and counts recorded.
  std::optional<SqlValue> cell(long long rowid, std::size_t column, const SqlValue& value) {
    const auto& transform = transforms_[column];
    const auto& name = table_.columns[column].name;
    const auto result = transform.kind == TransformKind::keep ? TransformResult{value, false, false}
                                                              : transformer_.apply(transform, value);
    if (result.unparseable) ++figures_.unparseable_by_column[name];
    if (worth_scanning(value)) record_findings(rowid, name, value, result, transform.kind);
    if (!result.changed) return std::nullopt;
    ++figures_.transformed_values;
    ++figures_.transformed_by_column[name];
    return result.value;
  }

 private:
  void record_findings(long long rowid, const std::string& column, const SqlValue& value, const TransformResult& result,
                       TransformKind kind) {
    const auto matches = detector_.find_all(as_text(value));
    if (matches.empty()) return;
    const auto action = pan_action(result, kind, detector_);
    for (const auto& match : matches) {
      ++figures_.pan_findings;
      if (action == "reported") ++totals_.pans_left;
      if (totals_.findings.size() >= kMaxListedFindings) {
        ++totals_.findings_not_listed;
        continue;
      }
      totals_.findings.push_back({match.kind, match.brand, match.masked, table_.name, column, rowid, action});
    }
  }

  const TableSchema& table_;
  const std::vector<Transform>& transforms_;
  const Transformer& transformer_;
  const PanDetector& detector_;
  TableFigures& figures_;
  EnforcementFigures& totals_;
};

std::string select_columns_sql(const TableSchema& table, std::size_t limit) {
  std::string sql = "SELECT " + table.rowid_name;
  for (const auto& column : table.columns) sql += ", " + quote_identifier(column.name);
  return sql + " FROM " + quote_identifier(table.name) + " WHERE " + table.rowid_name + " > ?1 ORDER BY " +
         table.rowid_name + " LIMIT " + std::to_string(limit) + ";";
}

void write_updates(sqlite3* db, const TableSchema& table, const std::vector<PendingUpdate>& updates) {
  std::map<std::size_t, std::unique_ptr<Statement>> by_column;
  for (const auto& update : updates) {
    auto& statement = by_column[update.column];
    if (!statement) {
      statement = std::make_unique<Statement>(db, "UPDATE " + quote_identifier(table.name) + " SET " +
                                                      quote_identifier(table.columns[update.column].name) +
                                                      " = ?1 WHERE " + table.rowid_name + " = ?2;");
    }
    statement->bind(1, update.value).bind(2, update.rowid);
    statement->step();
    statement->reset();
  }
}

// Transforms and PAN scan of every row of one table, a batch per transaction.
void process_rows(sqlite3* db, const TableSchema& table, const TablePolicy* rules, const Transformer& transformer,
                  const PanDetector& detector, const EnforceOptions& options, const WouldPurge& would_purge,
                  TableFigures& figures, EnforcementFigures& totals) {
  const auto transforms = effective_transforms(table, rules, figures);
  const bool writes = !options.dry_run && std::any_of(transforms.begin(), transforms.end(),
                                                      [](const Transform& t) { return t.kind != TransformKind::keep; });
  RowProcessor processor(table, transforms, transformer, detector, figures, totals);
  Statement select(db, select_columns_sql(table, options.batch_rows));
  long long cursor = std::numeric_limits<long long>::min();
  for (std::size_t rows = options.batch_rows; rows == options.batch_rows;) {
    if (stopping(options, &totals)) return;
    Batch batch(db, writes);
    std::vector<PendingUpdate> updates;
    rows = 0;
    select.bind(1, cursor);
    while (select.step()) {
      ++rows;
      cursor = select.integer(0);
      if (would_purge.count(cursor)) continue;
      for (std::size_t c = 0; c < table.columns.size(); ++c) {
        if (auto changed = processor.cell(cursor, c, select.value(static_cast<int>(c) + 1))) {
          updates.push_back({cursor, c, std::move(*changed)});
        }
      }
    }
    select.reset();
    if (writes) write_updates(db, table, updates);
    batch.commit();
  }
}

// The first of SQLite's names for the rowid that no column shadows; empty when all are taken.
std::string rowid_name_for(const std::vector<ColumnSchema>& columns) {
  for (const char* name : {"rowid", "_rowid_", "oid"}) {
    const bool taken = std::any_of(columns.begin(), columns.end(),
                                   [&](const ColumnSchema& c) { return sqlite3_stricmp(c.name.c_str(), name) == 0; });
    if (!taken) return name;
  }
  return {};
}

std::vector<ColumnSchema> read_columns(sqlite3* db, const std::string& table) {
  std::vector<ColumnSchema> columns;
  Statement info(db, "SELECT name, upper(type), \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid;");
  info.bind(1, table);
  int pk_columns = 0;
  while (info.step()) {
    ColumnSchema column;
    column.name = as_text(info.value(0));
    column.not_null = info.integer(2) != 0;
    column.primary_key = info.integer(3) != 0;
    column.rowid_alias = column.primary_key && as_text(info.value(1)) == "INTEGER";
    pk_columns += column.primary_key ? 1 : 0;
    columns.push_back(std::move(column));
  }
  if (pk_columns != 1) {
    for (auto& column : columns) column.rowid_alias = false;
  }
  // Columns that alone make up a UNIQUE index or constraint.
  Statement unique(db,
                   "SELECT ii.name FROM pragma_index_list(?1) AS il, pragma_index_info(il.name) AS ii "
                   "WHERE il.\"unique\" = 1 AND (SELECT count(*) FROM pragma_index_info(il.name)) = 1;");
  unique.bind(1, table);
  while (unique.step()) {
    const auto name = as_text(unique.value(0));
    for (auto& column : columns) column.unique = column.unique || column.name == name;
  }
  return columns;
}

bool has_usable_rowid(sqlite3* db, const TableSchema& table) {
  if (table.rowid_name.empty()) return false;
  sqlite3_stmt* probe = nullptr;
  const int rc = sqlite3_prepare_v2(
      db, ("SELECT " + table.rowid_name + " FROM " + quote_identifier(table.name) + " LIMIT 0;").c_str(), -1, &probe,
      nullptr);
  sqlite3_finalize(probe);
  return rc == SQLITE_OK;
}

// An enforcement connection to the encrypted cache, closed on every path.
class CacheConnection {
 public:
  CacheConnection(const fs::path& path, const SecretKey& key) {
    const int rc = sqlite3_open_v2(file_uri(path, "rw").c_str(), &db_,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, nullptr);
    if (rc != SQLITE_OK) throw EnforcementError(db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    const auto literal = sqlcipher_key_literal(key);
    sqlite3_key(db_, literal.str().data(), static_cast<int>(literal.str().size()));
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    sqlite3_extended_result_codes(db_, 1);
  }
  ~CacheConnection() { sqlite3_close_v2(db_); }
  CacheConnection(const CacheConnection&) = delete;
  CacheConnection& operator=(const CacheConnection&) = delete;
  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// Frees the pages that purges left: the one-time switch to incremental auto-vacuum (a VACUUM, which
// SQLite journals like any transaction) when the cache was made without auto-vacuum, else incremental_vacuum.
// Then folds a WAL into the file so that the freed (zeroed) pages replace the old ones on disk.
void reclaim_free_pages(sqlite3* db, bool dry_run, EnforcementFigures& figures) {
  // FULL (1) frees pages at every commit by itself, and INCREMENTAL (2) on request; NONE (0) never.
  constexpr long long kNone = 0;
  const auto free_before = pragma_number(db, "freelist_count");
  figures.auto_vacuum_converted = pragma_number(db, "auto_vacuum") == kNone;
  if (dry_run) {
    figures.freed_pages = free_before;
    return;
  }
  try {
    if (figures.auto_vacuum_converted) {
      exec(db, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM;");
    } else {
      exec(db, "PRAGMA incremental_vacuum;");
    }
    figures.freed_pages = free_before - pragma_number(db, "freelist_count");
    Statement journal(db, "PRAGMA journal_mode;");
    if (journal.step() && as_text(journal.value(0)) == "wal") {
      journal.reset();
      exec(db, "PRAGMA wal_checkpoint(TRUNCATE);");
    }
  } catch (const EnforcementError& e) {
    // Readers of the POS software can hold off the VACUUM or the checkpoint; the next run retries.
    figures.auto_vacuum_converted = false;
    figures.vacuum_error = e.what();
  }
}

nlohmann::ordered_json table_json(const TableFigures& t) {
  return {{"table", t.table},
          {"covered", t.covered},
          {"purged_rows", t.purged_rows()},
          {"condition_purged", t.condition_purged},
          {"retention_purged", t.retention_purged},
          {"null_timestamps", t.null_timestamps},
          {"unparseable_timestamps", t.unparseable_timestamps},
          {"transformed_values", t.transformed_values},
          {"transformed_by_column", t.transformed_by_column},
          {"unparseable_values", t.unparseable_by_column},
          {"pan_findings", t.pan_findings},
          {"unlisted_columns", t.unlisted_columns}};
}

// The connection part of enforce_cache: schema check, policy, vacuum.
void enforce_open_cache(sqlite3* db, const MinimizationPolicy& policy, const SecretKey& master,
                        const PanDetector& detector, const EnforceOptions& options, CacheEnforcement& result) {
  const auto schema = read_schema(db);
  result.policy_errors = check_policy_against(policy, schema);
  if (!result.policy_errors.empty()) {
    result.outcome = CacheEnforcement::Outcome::policy_error;
    result.error = "the policy does not fit the cache's schema";
    return;
  }
  // Deleted and overwritten cells are zeroed before their pages are reused or freed.
  if (!options.dry_run) exec(db, "PRAGMA secure_delete = ON;");
  const Transformer transformer(derive_purpose_key(master, kMinimizationHmacPurpose));
  apply_policy(db, schema, policy, transformer, detector, options, result.figures);
  if (result.figures.interrupted) {
    result.outcome = CacheEnforcement::Outcome::interrupted;
    result.error = "stopped before it finished; the next run continues";
    return;
  }
  reclaim_free_pages(db, options.dry_run, result.figures);
  result.outcome = options.dry_run ? CacheEnforcement::Outcome::dry_run : CacheEnforcement::Outcome::enforced;
}

}  // namespace

long long EnforcementFigures::purged_rows() const {
  long long sum = 0;
  for (const auto& t : tables) sum += t.purged_rows();
  return sum;
}

long long EnforcementFigures::transformed_values() const {
  long long sum = 0;
  for (const auto& t : tables) sum += t.transformed_values;
  return sum;
}

long long EnforcementFigures::pan_findings() const {
  long long sum = 0;
  for (const auto& t : tables) sum += t.pan_findings;
  return sum;
}

std::vector<TableSchema> read_schema(sqlite3* db) {
  std::vector<TableSchema> schema;
  Statement tables(db,
                   "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                   "AND sql NOT LIKE 'CREATE VIRTUAL %' ORDER BY name;");
  while (tables.step()) {
    TableSchema table;
    table.name = as_text(tables.value(0));
    schema.push_back(std::move(table));
  }
  for (auto& table : schema) {
    table.columns = read_columns(db, table.name);
    table.rowid_name = rowid_name_for(table.columns);
    table.has_rowid = has_usable_rowid(db, table);
    if (!table.has_rowid) {
      for (auto& column : table.columns) column.rowid_alias = false;
    }
  }
  return schema;
}

void purge_table(sqlite3* db, const TableSchema& table, const TablePolicy& rules, const EnforceOptions& options,
                 TableFigures& figures) {
  WouldPurge would_purge;
  purge(db, table, rules, options, figures, would_purge);
}

void apply_policy(sqlite3* db, const std::vector<TableSchema>& schema, const MinimizationPolicy& policy,
                  const Transformer& transformer, const PanDetector& detector, const EnforceOptions& options,
                  EnforcementFigures& figures) {
  for (const auto& table : schema) {
    const auto* rules = policy.table(table.name);
    auto& table_figures = figures.tables.emplace_back();
    table_figures.table = table.name;
    table_figures.covered = rules != nullptr;
    if (!table.has_rowid) continue;  // only an unlisted table can get here: stage 2 refuses listed ones
    WouldPurge would_purge;
    if (rules) purge(db, table, *rules, options, table_figures, would_purge);
    if (stopping(options, &figures)) return;
    process_rows(db, table, rules, transformer, detector, options, would_purge, table_figures, figures);
    if (figures.interrupted) return;
  }
}

int CacheEnforcement::exit_code() const {
  switch (outcome) {
    case Outcome::policy_error: return 2;
    case Outcome::failed:
    case Outcome::interrupted: return 3;
    case Outcome::not_encrypted: return 1;
    case Outcome::enforced:
    case Outcome::dry_run: return figures.pans_left > 0 ? 1 : 0;
    case Outcome::no_policy:
    case Outcome::missing: return 0;
  }
  return 3;
}

std::string_view to_string(CacheEnforcement::Outcome outcome) {
  using Outcome = CacheEnforcement::Outcome;
  switch (outcome) {
    case Outcome::enforced: return "enforced";
    case Outcome::dry_run: return "dry_run";
    case Outcome::no_policy: return "no_policy";
    case Outcome::missing: return "missing";
    case Outcome::not_encrypted: return "not_encrypted";
    case Outcome::policy_error: return "policy_error";
    case Outcome::failed: return "failed";
    case Outcome::interrupted: return "interrupted";
  }
  return "failed";
}

CacheEnforcement enforce_cache(const CacheConfig& cache, const fs::path& state_dir, const SecretKey& master,
                               const PanDetector& detector, const EnforceOptions& options) {
  using Outcome = CacheEnforcement::Outcome;
  CacheEnforcement result;
  result.cache = cache.name;
  result.path = cache.path;
  result.policy = cache.policy;
  result.started_at = text::rfc3339_utc(std::chrono::system_clock::now());
  const auto finish = [&](Outcome outcome, std::string error) {
    result.outcome = outcome;
    result.error = std::move(error);
    result.finished_at = text::rfc3339_utc(std::chrono::system_clock::now());
    return result;
  };
  if (cache.policy.empty()) return finish(Outcome::no_policy, "no policy (cache.policy is empty)");
  auto load = load_policy_file(cache.policy);
  if (!load.policy) {
    result.policy_errors = std::move(load.errors);
    return finish(Outcome::policy_error, "the policy file has errors");
  }
  result.policy_sha256 = load.policy->sha256;
  std::error_code ec;
  if (!fs::exists(cache.path, ec)) return finish(Outcome::missing, "no such file: " + cache.path.string());

  // Never overlaps a migration or rotation, which replace the file.
  const CacheLock lock(state_dir, cache.name, options.lock_wait, options.stop);
  if (!lock.held()) return finish(Outcome::failed, "a migration or key rotation holds the cache; try again later");
  if (is_plaintext_sqlite(cache.path)) {
    return finish(Outcome::not_encrypted,
                  "the cache is not encrypted; enforcement runs only on encrypted caches (posturectl cache encrypt " +
                      cache.name + ")");
  }
  std::string error;
  CacheVault vault(state_dir, master);
  const auto key = vault.current_key(cache, error);
  if (!key) return finish(Outcome::failed, "cannot open the cache: " + error);
  try {
    const CacheConnection connection(cache.path, *key);
    enforce_open_cache(connection.get(), *load.policy, master, detector, options, result);
  } catch (const EnforcementError& e) {
    result.outcome = Outcome::failed;
    result.error = std::string("SQLite: ") + e.what();
  }
  result.finished_at = text::rfc3339_utc(std::chrono::system_clock::now());
  if (!options.dry_run && result.outcome != Outcome::policy_error) {
    if (const auto problem = record_enforcement(state_dir, result)) {
      log::error("cache ", cache.name, ": cannot record the enforcement evidence: ", problem.message());
    }
  }
  return result;
}

nlohmann::ordered_json to_json(const CacheEnforcement& r) {
  auto tables = nlohmann::ordered_json::array();
  for (const auto& t : r.figures.tables) tables.push_back(table_json(t));
  auto findings = nlohmann::ordered_json::array();
  for (const auto& f : r.figures.findings) {
    findings.push_back({{"kind", to_string(f.kind)},
                        {"brand", to_string(f.brand)},
                        {"masked", f.masked},
                        {"cache", r.cache},
                        {"table", f.table},
                        {"column", f.column},
                        {"rowid", f.rowid},
                        {"action", f.action}});
  }
  auto errors = nlohmann::ordered_json::array();
  for (const auto& e : r.policy_errors) errors.push_back(e.to_string());
  return {{"cache", r.cache},
          {"path", r.path.string()},
          {"policy", r.policy.string()},
          {"policy_sha256", r.policy_sha256},
          {"outcome", to_string(r.outcome)},
          {"error", r.error},
          {"policy_errors", errors},
          {"started_at", r.started_at},
          {"finished_at", r.finished_at},
          {"purged_rows", r.figures.purged_rows()},
          {"transformed_values", r.figures.transformed_values()},
          {"pan_findings", r.figures.pan_findings()},
          {"pans_left", r.figures.pans_left},
          {"auto_vacuum_converted", r.figures.auto_vacuum_converted},
          {"freed_pages", r.figures.freed_pages},
          {"vacuum_error", r.figures.vacuum_error},
          {"tables", tables},
          {"findings", findings},
          {"findings_not_listed", r.figures.findings_not_listed}};
}

}  // namespace postured::privacy
