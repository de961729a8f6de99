#include "transport/report_spool.hpp"

#include <sqlite3.h>

#include <stdexcept>

#include "cache/key_hierarchy.hpp"
#include "core/text.hpp"
#include "transport/http_message.hpp"

namespace postured::transport {
namespace {

// WAL with synchronous=FULL: a report is on disk when add() returns, and a kill -9 or a power cut
// right after loses nothing that was confirmed to the caller. A 256 KiB page cache (not SQLite's
// 2 MiB default): the spool is read oldest first, once, and the daemon's idle RSS is budgeted.
constexpr const char* kSchema = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA cache_size = -256;
CREATE TABLE IF NOT EXISTS reports (
  sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  report_id TEXT NOT NULL UNIQUE,
  body BLOB NOT NULL,
  bytes INTEGER NOT NULL,
  spooled_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS facts (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('dropped_reports', 0), ('rejected_reports', 0), ('sent_reports', 0);
)sql";

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("spool: ") + sqlite3_errmsg(db));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& text(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& blob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& integer(int i, long long v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW or SQLITE_DONE; throws on an error.
  int step() {
    const int rc = sqlite3_step(stmt_);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      throw std::runtime_error(std::string("spool: ") + sqlite3_errmsg(sqlite3_db_handle(stmt_)));
    }
    return rc;
  }
  long long column_integer(int i) { return sqlite3_column_int64(stmt_, i); }
  std::string column_text(int i) {
    const auto* p = sqlite3_column_blob(stmt_, i);
    std::string out;
    if (p) out.assign(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)));
    return out;
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

std::unique_ptr<ReportSpool> ReportSpool::open(const std::filesystem::path& state_dir, const SecretKey& master,
                                               SpoolLimits limits, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  const auto path = state_dir / kSpoolFileName;
  sqlite3* db = nullptr;
  const auto name = path.u8string();  // SQLite takes UTF-8 names; on POSIX the path's bytes as they are
  const int rc = sqlite3_open_v2(reinterpret_cast<const char*>(name.c_str()), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    error = "cannot open " + path.string() + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return nullptr;
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  // The raw-key literal x'...': a derived key needs no PBKDF2 on every open.
  const auto key = sqlcipher_key_literal(derive_purpose_key(master, kSpoolKeyPurpose));
  char* message = nullptr;
  if (sqlite3_key(db, key.str().data(), static_cast<int>(key.str().size())) != SQLITE_OK ||
      sqlite3_exec(db, kSchema, nullptr, nullptr, &message) != SQLITE_OK) {
    error = path.string() + " cannot be opened with this device's key (" + (message ? message : sqlite3_errmsg(db)) +
            "); move it aside and the agent starts a new spool";
    sqlite3_free(message);
    sqlite3_close(db);
    return nullptr;
  }
  return std::unique_ptr<ReportSpool>(new ReportSpool(db, limits));
}

ReportSpool::ReportSpool(sqlite3* db, SpoolLimits limits) : db_(db), limits_(limits) {}

ReportSpool::~ReportSpool() {
  sqlite3_close(db_);
}

void ReportSpool::set_limits(SpoolLimits limits) {
  std::lock_guard lock(mutex_);
  limits_ = limits;
}

void ReportSpool::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    throw std::runtime_error("spool: " + text);
  }
}

long long ReportSpool::add(std::string_view report_id, std::string_view json) {
  const auto body = gzip_compress(json);
  std::lock_guard lock(mutex_);
  exec("BEGIN IMMEDIATE");
  try {
    Statement insert(db_, "INSERT OR IGNORE INTO reports (report_id, body, bytes, spooled_at) VALUES (?, ?, ?, ?)");
    insert.text(1, report_id)
        .blob(2, body)
        .integer(3, static_cast<long long>(body.size()))
        .text(4, text::rfc3339_utc(std::chrono::system_clock::now()));
    insert.step();
    // Oldest first, never the newest: a report that alone exceeds max_bytes is still kept.
    long long dropped = 0;
    while (true) {
      Statement totals(db_, "SELECT count(*), coalesce(sum(bytes), 0) FROM reports");
      totals.step();
      const long long count = totals.column_integer(0);
      const long long bytes = totals.column_integer(1);
      if (count <= 1 || (count <= limits_.max_reports && bytes <= limits_.max_bytes)) break;
      Statement drop(db_, "DELETE FROM reports WHERE sequence = (SELECT min(sequence) FROM reports)");
      drop.step();
      ++dropped;
    }
    if (dropped > 0) {
      Statement count(db_, "UPDATE counters SET value = value + ? WHERE name = 'dropped_reports'");
      count.integer(1, dropped).step();
    }
    exec("COMMIT");
    return dropped;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<SpooledReport> ReportSpool::oldest(std::size_t n) {
  std::lock_guard lock(mutex_);
  Statement select(db_, "SELECT sequence, report_id, body, spooled_at FROM reports ORDER BY sequence LIMIT ?");
  select.integer(1, static_cast<long long>(n));
  std::vector<SpooledReport> out;
  while (select.step() == SQLITE_ROW) {
    out.push_back({select.column_integer(0), select.column_text(1), select.column_text(2), select.column_text(3)});
  }
  return out;
}

bool ReportSpool::remove(std::string_view report_id, std::string_view counter) {
  std::lock_guard lock(mutex_);
  exec("BEGIN IMMEDIATE");
  try {
    Statement erase(db_, "DELETE FROM reports WHERE report_id = ?");
    erase.text(1, report_id).step();
    const bool removed = sqlite3_changes(db_) > 0;
    if (removed) {
      Statement count(db_, "UPDATE counters SET value = value + 1 WHERE name = ?");
      count.text(1, counter).step();
    }
    if (counter == "sent_reports") {
      Statement fact(db_,
                     "INSERT INTO facts VALUES ('last_success_at', ?), ('last_error', ''), ('last_error_at', '') "
                     "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
      fact.text(1, text::rfc3339_utc(std::chrono::system_clock::now())).step();
    }
    exec("COMMIT");
    return removed;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

bool ReportSpool::confirm(std::string_view report_id) {
  return remove(report_id, "sent_reports");
}

bool ReportSpool::reject(std::string_view report_id) {
  return remove(report_id, "rejected_reports");
}

void ReportSpool::note_error(std::string_view message) {
  std::lock_guard lock(mutex_);
  Statement fact(db_,
                 "INSERT INTO facts VALUES ('last_error', ?), ('last_error_at', ?) "
                 "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
  fact.text(1, message).text(2, text::rfc3339_utc(std::chrono::system_clock::now())).step();
}

SpoolStats ReportSpool::stats() {
  std::lock_guard lock(mutex_);
  SpoolStats stats;
  {
    Statement totals(db_, "SELECT count(*), coalesce(sum(bytes), 0) FROM reports");
    totals.step();
    stats.depth = totals.column_integer(0);
    stats.bytes = totals.column_integer(1);
  }
  {
    Statement counters(db_, "SELECT name, value FROM counters");
    while (counters.step() == SQLITE_ROW) {
      const auto name = counters.column_text(0);
      const auto value = counters.column_integer(1);
      if (name == "dropped_reports")
        stats.dropped_reports = value;
      else if (name == "rejected_reports")
        stats.rejected_reports = value;
      else if (name == "sent_reports")
        stats.sent_reports = value;
    }
  }
  Statement facts(db_, "SELECT name, value FROM facts");
  while (facts.step() == SQLITE_ROW) {
    const auto name = facts.column_text(0);
    if (name == "last_success_at")
      stats.last_success_at = facts.column_text(1);
    else if (name == "last_error")
      stats.last_error = facts.column_text(1);
    else if (name == "last_error_at")
      stats.last_error_at = facts.column_text(1);
  }
  return stats;
}

}  // namespace postured::transport
