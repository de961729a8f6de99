#include "storage/sqlite_storage.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "storage/batch_plan.hpp"
#include "storage/schema.hpp"
#include "storage/storage_limits.hpp"

namespace postured::console {
namespace {

// One connection, used by one thread at a time, with its prepared statements kept for reuse.
class Connection {
 public:
  Connection(const std::filesystem::path& path, bool writer) : path_(path.string()) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw StorageError("sqlite: cannot open " + path_ + ": " + why);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, storage_limits::sqlite_busy_timeout_ms);
    exec("PRAGMA foreign_keys = ON", "enabling foreign keys");
    if (writer) {
      // WAL lets the API's readers run while the ingest thread writes. synchronous = FULL syncs the WAL at
      // every commit: a report acknowledged with 200 survives a power cut, not only a crash of the console
      // (NORMAL would only promise the latter). Batching many reports per commit keeps that affordable.
      if (text_of("PRAGMA journal_mode = WAL") != "wal")
        throw StorageError("sqlite: " + path_ + " cannot use WAL journal mode (a network file system?)");
      exec("PRAGMA synchronous = FULL", "setting synchronous");
      exec(("PRAGMA journal_size_limit = " + std::to_string(storage_limits::sqlite_wal_size_limit)).c_str(),
           "limiting the WAL file");
    } else {
      exec("PRAGMA query_only = ON", "making a reader connection read-only");
    }
  }
  ~Connection() {
    for (auto& [sql, statement] : statements_) sqlite3_finalize(statement);
    for (auto& [sql, statement] : constant_statements_) sqlite3_finalize(statement);
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* handle() { return db_; }
  const std::string& path() const { return path_; }

  [[noreturn]] void fail(std::string_view doing) {
    throw StorageError("sqlite: " + std::string(doing) + " in " + path_ + ": " + sqlite3_errmsg(db_));
  }

  // The cached prepared statement for `sql`, reset and unbound. The schema's constant statements are
  // found by address (no hashing of the text on every call); built ones by text.
  sqlite3_stmt* prepare(const char* sql, std::string_view doing) {
    auto it = constant_statements_.find(sql);
    if (it != constant_statements_.end()) return it->second;
    return constant_statements_.emplace(sql, prepare_new(sql, doing)).first->second;
  }
  sqlite3_stmt* prepare(const std::string& sql, std::string_view doing) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    return statements_.emplace(sql, prepare_new(sql.c_str(), doing)).first->second;
  }

  // Runs statements without results (DDL, pragmas, migrations).
  void exec(const char* sql, std::string_view doing) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string why = message ? message : sqlite3_errmsg(db_);
      sqlite3_free(message);
      throw StorageError("sqlite: " + std::string(doing) + " in " + path_ + ": " + why);
    }
  }

 private:
  sqlite3_stmt* prepare_new(const char* sql, std::string_view doing) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) fail(doing);
    return statement;
  }

  std::string text_of(const char* sql) {
    sqlite3_stmt* statement = nullptr;
    std::string value;
    if (sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr) != SQLITE_OK) fail(sql);
    if (sqlite3_step(statement) == SQLITE_ROW) {
      if (const auto* text = sqlite3_column_text(statement, 0)) value.assign(reinterpret_cast<const char*>(text));
    }
    sqlite3_finalize(statement);
    return value;
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
  std::unordered_map<const char*, sqlite3_stmt*> constant_statements_;
};

// One execution of a cached statement: bind in order, step, read columns; reset when it goes.
class Query {
 public:
  Query(Connection& connection, const char* sql, std::string_view doing)
      : connection_(connection), statement_(connection.prepare(sql, doing)), doing_(doing) {}
  Query(Connection& connection, const std::string& sql, std::string_view doing)
      : connection_(connection), statement_(connection.prepare(sql, doing)), doing_(doing) {}
  ~Query() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(std::string_view value) {
    check(sqlite3_bind_text64(statement_, ++bound_, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    return *this;
  }
  // Binds without copying: `value` must stay unchanged until the statement has run (report bodies).
  Query& bind_unchanged(std::string_view value) {
    check(sqlite3_bind_text64(statement_, ++bound_, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8));
    return *this;
  }
  Query& bind(const char* value) { return bind(std::string_view(value)); }
  Query& bind(const std::string& value) { return bind(std::string_view(value)); }
  Query& bind(std::int64_t value) {
    check(sqlite3_bind_int64(statement_, ++bound_, value));
    return *this;
  }
  Query& bind(int value) { return bind(static_cast<std::int64_t>(value)); }
  Query& bind(bool value) { return bind(static_cast<std::int64_t>(value ? 1 : 0)); }
  Query& bind(Clock::time_point value) { return bind(to_unix_ns(value)); }
  Query& bind(const std::optional<Clock::time_point>& value) {
    if (value) return bind(*value);
    check(sqlite3_bind_null(statement_, ++bound_));
    return *this;
  }
  Query& bind(const schema::Param& value) {
    std::visit([this](const auto& v) { bind(v); }, value);
    return *this;
  }

  // True while there is a row to read.
  bool step() {
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    connection_.fail(doing_);
  }
  // Runs a statement that returns no rows; the number of rows it changed.
  int run() {
    while (step()) {
    }
    return sqlite3_changes(connection_.handle());
  }

  bool null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  std::int64_t i64(int column) const { return sqlite3_column_int64(statement_, column); }
  std::string text(int column) const {
    const auto* text = sqlite3_column_text(statement_, column);
    std::string value;
    if (text)
      value.assign(reinterpret_cast<const char*>(text),
                   static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
    return value;
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) connection_.fail(doing_);
  }
  Connection& connection_;
  sqlite3_stmt* statement_;
  std::string_view doing_;
  int bound_ = 0;
};

// BEGIN on construction; ROLLBACK unless commit() ran (an exception leaves nothing half-written).
class Transaction {
 public:
  // Writers take the write lock up front (IMMEDIATE), so a busy database waits at BEGIN, not mid-way.
  Transaction(Connection& connection, bool write) : connection_(connection) {
    Query(connection_, write ? "BEGIN IMMEDIATE" : "BEGIN", "beginning a transaction").run();
  }
  ~Transaction() {
    if (!done_) sqlite3_exec(connection_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    Query(connection_, "COMMIT", "committing").run();
    done_ = true;
  }

 private:
  Connection& connection_;
  bool done_ = false;
};

class SqliteStorage final : public Storage {
 public:
  explicit SqliteStorage(const std::filesystem::path& path)
      : path_(path), created_(!std::filesystem::exists(path)), writer_(path, true) {
    // Owner only: the file holds device inventories and token hashes. SQLite gives the -wal and -shm
    // files the main file's mode.
    std::error_code ec;
    if (created_)
      std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
    migrate();
  }

  std::string backend() const override { return "sqlite"; }

  int schema_version() override {
    auto reader = lease();
    Query q(*reader, schema::current_version, "reading the schema version");
    q.step();
    return static_cast<int>(q.i64(0));
  }

  void add_token(const TokenRecord& token) override {
    write([&](Connection& c) {
      Query(c, schema::insert_token, "adding a token")
          .bind(token.token_hash)
          .bind(token.store_id)
          .bind(token.uses_allowed)
          .bind(token.uses_left)
          .bind(token.created_at)
          .bind(token.expires_at)
          .run();
    });
  }

  TokenUse use_token(const std::string& token_hash, Clock::time_point now, std::string& store_id) override {
    TokenUse outcome = TokenUse::unknown;
    write([&](Connection& c) {
      {
        Query spend(c, schema::spend_token, "using a token");
        spend.bind(token_hash).bind(now);
        if (spend.step()) {
          store_id = spend.text(0);
          outcome = TokenUse::accepted;
          return;
        }
      }
      Query state(c, schema::token_state, "reading a token");
      state.bind(token_hash);
      if (!state.step()) {
        outcome = TokenUse::unknown;
      } else {
        outcome = state.i64(0) <= to_unix_ns(now) ? TokenUse::expired : TokenUse::exhausted;
      }
    });
    return outcome;
  }

  std::optional<TokenRecord> find_token(const std::string& token_hash) override {
    auto reader = lease();
    Query q(*reader, schema::find_token, "reading a token");
    q.bind(token_hash);
    if (!q.step()) return std::nullopt;
    return TokenRecord{q.text(0),
                       q.text(1),
                       static_cast<int>(q.i64(2)),
                       static_cast<int>(q.i64(3)),
                       from_unix_ns(q.i64(4)),
                       from_unix_ns(q.i64(5))};
  }

  void record_enrollment(const EnrolledCertificate& certificate) override {
    write([&](Connection& c) {
      const int changed = Query(c, schema::enroll_device, "recording an enrollment")
                              .bind(certificate.device_id)
                              .bind(certificate.store_id)
                              .bind(certificate.issued_at)
                              .bind(certificate.not_after)
                              .bind(certificate.issued_at)
                              .run();
      if (changed == 0) {
        Query q(c, schema::device_enrollment, "reading a device's enrollment");
        q.bind(certificate.device_id);
        if (q.step() && !q.null(0))
          throw StorageError("sqlite: device '" + certificate.device_id + "' is revoked and may not enroll again");
        throw StorageError("sqlite: device '" + certificate.device_id +
                           "' is enrolled with a valid certificate in another store and may not move to store '" +
                           certificate.store_id + "' (release it first)");
      }
      Query(c, schema::insert_certificate, "recording a certificate")
          .bind(certificate.serial)
          .bind(certificate.device_id)
          .bind(certificate.store_id)
          .bind(certificate.issued_at)
          .bind(certificate.not_after)
          .run();
    });
  }

  bool revoke_device(const std::string& device_id, Clock::time_point now) override {
    bool known = false;
    write([&](Connection& c) {
      known = Query(c, schema::revoke_device, "revoking a device").bind(now).bind(device_id).run() > 0;
      Query(c, schema::revoke_certificates, "revoking certificates").bind(now).bind(device_id).run();
    });
    return known;
  }

  EnrollmentState enrollment_state(const std::string& device_id) override {
    auto reader = lease();
    Query q(*reader, schema::device_enrollment, "reading a device's enrollment");
    q.bind(device_id);
    if (!q.step()) return EnrollmentState::unknown;
    return enrollment_state_of(!q.null(0), !q.null(1), q.null(2) ? std::nullopt : std::optional(q.i64(2)),
                               Clock::now());
  }

  bool release_device(const std::string& device_id, Clock::time_point now) override {
    bool known = false;
    write([&](Connection& c) {
      known = Query(c, schema::release_device, "releasing a device").bind(now).bind(device_id).run() > 0;
      Query(c, schema::revoke_certificates, "revoking certificates").bind(now).bind(device_id).run();
    });
    return known;
  }

  bool is_revoked(const std::string& device_id) override {
    auto reader = lease();
    Query q(*reader, schema::device_revoked_at, "reading a revocation");
    q.bind(device_id);
    return q.step() && !q.null(0);
  }

  std::vector<std::string> revoked_serials() override {
    auto reader = lease();
    Query q(*reader, schema::revoked_serials, "listing revoked serials");
    std::vector<std::string> serials;
    while (q.step()) serials.push_back(q.text(0));
    return serials;
  }

  std::vector<IngestOutcome> store_reports(const std::vector<IncomingReport>& reports) override {
    std::vector<bool> stored(reports.size(), false);
    std::unordered_map<std::string, std::string> owners;  // report ids stored before -> their device
    if (reports.empty()) return {};
    write([&](Connection& c) {
      std::fill(stored.begin(), stored.end(), false);
      owners.clear();
      std::unordered_set<std::string_view> known;
      for (const auto& r : reports)
        if (known.insert(r.device_id).second)
          Query(c, schema::ensure_device, "adding a reporting device")
              .bind(r.device_id)
              .bind(r.state.store_id)
              .bind(r.received_at)
              .run();
      std::int64_t count = 0;
      for (const std::size_t i : first_occurrences(reports)) {
        const auto& r = reports[i];
        stored[i] = Query(c, schema::insert_report, "storing a report")
                        .bind(r.report_id)
                        .bind(r.device_id)
                        .bind(r.generated_at)
                        .bind(r.received_at)
                        .bind(r.state.status)
                        .bind_unchanged(r.json)
                        .run() == 1;
        count += stored[i] ? 1 : 0;
        if (!stored[i]) {
          Query owner(c, schema::report_owner, "reading a report's device");
          owner.bind(r.report_id);
          if (owner.step()) owners.emplace(r.report_id, owner.text(0));
        }
      }
      for (const std::size_t i : newest_per_device(reports, stored)) apply_state(c, reports[i]);
      if (count > 0) Query(c, schema::count_stored, "counting reports").bind(count).run();
    });
    return ingest_outcomes(reports, stored, owners);
  }

  std::vector<DeviceSummary> devices(const DeviceFilter& filter, Clock::time_point now) override {
    const auto built = schema::device_list(filter, now);
    auto reader = lease();
    Query q(*reader, built.sql, "listing devices");
    for (const auto& p : built.params) q.bind(p);
    std::vector<DeviceSummary> list;
    while (q.step()) list.push_back(schema::read_device_summary(q));
    return list;
  }

  std::optional<DeviceDetail> device(const std::string& device_id, std::size_t history_limit) override {
    auto reader = lease();
    Transaction snapshot(*reader, false);  // one consistent view across the four reads
    DeviceDetail detail;
    {
      Query q(*reader, std::string("SELECT ") + schema::device_columns + " FROM devices d WHERE d.device_id = ?",
              "reading a device");
      q.bind(device_id);
      if (!q.step()) return std::nullopt;
      detail.summary = schema::read_device_summary(q);
    }
    {
      Query q(*reader, schema::device_checks, "reading a device's checks");
      q.bind(device_id);
      while (q.step()) detail.summary.state.checks.push_back({q.text(0), q.text(1), q.text(2), q.text(3)});
    }
    if (!detail.summary.last_report_id.empty()) {
      Query q(*reader, schema::report_body, "reading a device's latest report");
      q.bind(detail.summary.last_report_id);
      if (q.step()) detail.latest_report_json = q.text(0);
    }
    {
      Query q(*reader, schema::report_history, "reading a device's history");
      q.bind(device_id).bind(static_cast<std::int64_t>(std::min<std::size_t>(history_limit, 1u << 30)));
      while (q.step()) detail.history.push_back({q.text(0), from_unix_ns(q.i64(1)), from_unix_ns(q.i64(2)), q.text(3)});
    }
    snapshot.commit();
    return detail;
  }

  std::vector<StoreSummary> stores(Clock::time_point now, Clock::duration stale_after) override {
    auto reader = lease();
    Query q(*reader, schema::store_counts, "summarising stores");
    q.bind(to_unix_ns(now) - to_ns(stale_after));
    std::vector<StoreSummary> list;
    while (q.step()) {
      StoreSummary s;
      s.store_id = q.text(0);
      s.devices = static_cast<int>(q.i64(1));
      s.passing = static_cast<int>(q.i64(2));
      s.failing = static_cast<int>(q.i64(3));
      s.erroring = static_cast<int>(q.i64(4));
      s.stale = static_cast<int>(q.i64(5));
      s.caches_unencrypted = static_cast<int>(q.i64(6));
      s.pan_findings = q.i64(7);
      list.push_back(std::move(s));
    }
    return list;
  }

  FleetSummary summary(Clock::time_point now, Clock::duration stale_after) override {
    auto reader = lease();
    Transaction snapshot(*reader, false);
    FleetSummary f;
    {
      Query q(*reader, schema::fleet_counts, "summarising the fleet");
      q.bind(to_unix_ns(now) - to_ns(stale_after));
      q.step();
      f.devices = static_cast<int>(q.i64(0));
      f.passing = static_cast<int>(q.i64(1));
      f.failing = static_cast<int>(q.i64(2));
      f.erroring = static_cast<int>(q.i64(3));
      f.never_reported = static_cast<int>(q.i64(4));
      f.stale = static_cast<int>(q.i64(5));
      f.caches_unencrypted = static_cast<int>(q.i64(6));
      f.devices_with_unencrypted_caches = static_cast<int>(q.i64(7));
      f.pan_findings = q.i64(8);
      f.devices_with_pan_findings = static_cast<int>(q.i64(9));
      f.devices_behind_on_patches = static_cast<int>(q.i64(10));
      f.reboot_required = static_cast<int>(q.i64(11));
    }
    {
      Query q(*reader, schema::revoked_devices, "counting revoked devices");
      q.step();
      f.revoked = static_cast<int>(q.i64(0));
    }
    {
      Query q(*reader, schema::failing_checks, "ranking failing checks");
      while (q.step()) f.failing_checks.push_back({q.text(0), q.text(1), q.text(2), static_cast<int>(q.i64(3))});
    }
    {
      Query q(*reader, schema::reports_stored, "counting reports");
      if (q.step()) f.reports_stored = q.i64(0);
    }
    snapshot.commit();
    return f;
  }

  std::size_t apply_retention(Clock::time_point cutoff) override {
    std::size_t cleared = 0;
    for (;;) {
      int chunk = 0;
      write([&](Connection& c) {
        chunk = Query(c, schema::clear_old_bodies, "applying retention")
                    .bind(cutoff)
                    .bind(storage_limits::retention_chunk)
                    .run();
      });
      cleared += static_cast<std::size_t>(chunk);
      if (chunk < storage_limits::retention_chunk) return cleared;
    }
  }

 private:
  // A reader connection for the duration of one call, back to the pool afterwards.
  class Lease {
   public:
    Lease(SqliteStorage& owner, std::unique_ptr<Connection> connection)
        : owner_(owner), connection_(std::move(connection)) {}
    ~Lease() { owner_.give_back(std::move(connection_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() { return *connection_; }

   private:
    SqliteStorage& owner_;
    std::unique_ptr<Connection> connection_;
  };

  Lease lease() {
    {
      std::lock_guard lock(pool_mutex_);
      if (!idle_.empty()) {
        auto connection = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(connection));
      }
    }
    return Lease(*this, std::make_unique<Connection>(path_, false));
  }

  void give_back(std::unique_ptr<Connection> connection) {
    std::lock_guard lock(pool_mutex_);
    if (idle_.size() < storage_limits::idle_connections_kept) idle_.push_back(std::move(connection));
  }

  // Runs `body` in one write transaction on the writer connection.
  template <class Body>
  void write(Body&& body) {
    std::lock_guard lock(writer_mutex_);
    Transaction tx(writer_, true);
    body(writer_);
    tx.commit();
  }

  void apply_state(Connection& c, const IncomingReport& r) {
    const DeviceState& s = r.state;
    const int applied = Query(c, schema::apply_state, "updating a device's state")
                            .bind(s.hostname)
                            .bind(s.os_pretty_name)
                            .bind(s.agent_version)
                            .bind(s.status)
                            .bind(s.checks_pass)
                            .bind(s.checks_fail)
                            .bind(s.checks_error)
                            .bind(s.caches_total)
                            .bind(s.caches_unencrypted)
                            .bind(s.pan_findings)
                            .bind(s.packages_below_baseline)
                            .bind(s.pending_security_updates)
                            .bind(s.last_security_update_at)
                            .bind(s.reboot_required)
                            .bind(r.report_id)
                            .bind(r.generated_at)
                            .bind(r.received_at)
                            .bind(r.received_at)
                            .bind(r.device_id)
                            .bind(r.generated_at)
                            .run();
    if (applied == 0) {
      Query(c, schema::touch_device, "updating a device's last contact")
          .bind(r.received_at)
          .bind(r.received_at)
          .bind(r.device_id)
          .run();
      return;
    }
    std::vector<CheckState> had;
    {
      Query q(c, schema::device_checks, "reading a device's checks");
      q.bind(r.device_id);
      while (q.step()) had.push_back({q.text(0), q.text(1), q.text(2), q.text(3)});
    }
    const auto changes = diff_checks(had, s.checks);
    for (const auto& id : changes.removals)
      Query(c, schema::delete_check, "replacing a device's checks").bind(r.device_id).bind(id).run();
    for (const CheckState* check : changes.upserts)
      Query(c, schema::upsert_check, "replacing a device's checks")
          .bind(r.device_id)
          .bind(check->id)
          .bind(check->title)
          .bind(check->status)
          .bind(check->severity)
          .run();
  }

  void migrate() {
    std::lock_guard lock(writer_mutex_);
    writer_.exec(schema::create_migrations_table, "creating schema_migrations");
    for (const auto& migration : schema::migrations) {
      Transaction tx(writer_, true);  // IMMEDIATE: a second process migrating waits here, then sees our rows
      const int current = version_in(writer_);
      if (current > schema::latest_version) too_new(current);
      if (migration.version <= current) continue;
      writer_.exec(migration.sql, std::string("migrating to schema version ") + std::to_string(migration.version));
      Query(writer_, schema::record_version, "recording a migration").bind(migration.version).bind(Clock::now()).run();
      tx.commit();
    }
    const int current = version_in(writer_);
    if (current > schema::latest_version) too_new(current);
  }

  static int version_in(Connection& c) {
    Query q(c, schema::current_version, "reading the schema version");
    q.step();
    return static_cast<int>(q.i64(0));
  }

  [[noreturn]] void too_new(int version) const {
    throw StorageError("sqlite: " + path_.string() + " has schema version " + std::to_string(version) +
                       ", newer than this build knows (" + std::to_string(schema::latest_version) +
                       "); run a posture-console at least as new as the one that migrated it");
  }

  std::filesystem::path path_;
  bool created_;
  std::mutex writer_mutex_;
  Connection writer_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace

std::unique_ptr<Storage> open_sqlite_storage(const std::filesystem::path& path) {
  return std::make_unique<SqliteStorage>(path);
}

}  // namespace postured::console
