#include "storage/postgres_storage.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "storage/batch_plan.hpp"
#include "storage/schema.hpp"
#include "storage/storage_limits.hpp"

namespace postured::console {
namespace {

// Statements only PostgreSQL runs: a whole batch's rows in one round trip, as arrays (unnest).
// Duplicates inside a batch are removed before; ON CONFLICT catches the ones already stored.
constexpr const char* ensure_devices =
    "INSERT INTO devices (device_id, store_id, enrolled_at)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT (device_id) DO NOTHING";
constexpr const char* insert_reports =
    "INSERT INTO reports (report_id, device_id, generated_at, received_at, status, body)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[])"
    " ON CONFLICT (report_id) DO NOTHING RETURNING report_id";
// schema::apply_state for every device of the batch at once (one row per device: its newest report).
constexpr const char* apply_states =
    "UPDATE devices AS d SET hostname = n.hostname, os_pretty_name = n.os_pretty_name,"
    " agent_version = n.agent_version, status = n.status, checks_pass = n.checks_pass,"
    " checks_fail = n.checks_fail, checks_error = n.checks_error, caches_total = n.caches_total,"
    " caches_unencrypted = n.caches_unencrypted, pan_findings = n.pan_findings,"
    " packages_below_baseline = n.packages_below_baseline, pending_security_updates = n.pending_security_updates,"
    " last_security_update_at = n.last_security_update_at, reboot_required = n.reboot_required,"
    " last_report_id = n.report_id, last_generated_at = n.generated_at,"
    " last_seen_at = GREATEST(d.last_seen_at, n.received_at)"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::integer[],"
    "  $8::integer[], $9::integer[], $10::integer[], $11::bigint[], $12::integer[], $13::integer[], $14::bigint[],"
    "  $15::integer[], $16::text[], $17::bigint[], $18::bigint[])"
    " AS n(device_id, hostname, os_pretty_name, agent_version, status, checks_pass, checks_fail, checks_error,"
    "  caches_total, caches_unencrypted, pan_findings, packages_below_baseline, pending_security_updates,"
    "  last_security_update_at, reboot_required, report_id, generated_at, received_at)"
    " WHERE d.device_id = n.device_id AND (d.last_generated_at IS NULL OR d.last_generated_at <= n.generated_at)"
    " RETURNING d.device_id";
// schema::touch_device for the devices whose newest report here is older than their state.
constexpr const char* touch_devices =
    "UPDATE devices AS d SET last_seen_at = GREATEST(d.last_seen_at, n.received_at)"
    " FROM unnest($1::text[], $2::bigint[]) AS n(device_id, received_at) WHERE d.device_id = n.device_id";
// The device of each report id of the batch that was already stored (duplicate or conflict).
constexpr const char* report_owners = "SELECT report_id, device_id FROM reports WHERE report_id = ANY($1::text[])";
constexpr const char* checks_of_devices =
    "SELECT device_id, check_id, title, status, severity FROM device_checks WHERE device_id = ANY($1::text[])";
constexpr const char* delete_checks =
    "DELETE FROM device_checks AS c USING unnest($1::text[], $2::text[]) AS x(device_id, check_id)"
    " WHERE c.device_id = x.device_id AND c.check_id = x.check_id";
// (device, check) pairs are unique in the arrays (diff_checks per device): DO UPDATE may not touch a row
// twice in one statement.
constexpr const char* upsert_checks =
    "INSERT INTO device_checks (device_id, check_id, title, status, severity)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])"
    " ON CONFLICT (device_id, check_id) DO UPDATE SET title = excluded.title, status = excluded.status,"
    " severity = excluded.severity";

// The shared SQL's `?` placeholders as $1, $2, ... (a `?` inside a quoted literal is left alone).
std::string numbered(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  bool quoted = false;
  for (const char c : sql) {
    if (c == '\'') quoted = !quoted;
    if (c == '?' && !quoted) {
      out += '$';
      out += std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

// A text-format array literal ({"a","b"}) for unnest: every element quoted, \ and " escaped.
// An element that text_of gives as std::nullopt is NULL.
template <class Range, class Text>
std::string array_literal(const Range& items, Text&& text_of) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    const auto& value = text_of(item);  // may be a temporary: bound here, it lives through the loop
    std::string_view text;
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::optional<std::string>>) {
      if (!value) {
        out += "NULL";
        continue;
      }
      text = *value;
    } else {
      text = value;
    }
    out += '"';
    for (const char c : text) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

// Parameters in text format, in placeholder order; nullopt is SQL NULL.
class Params {
 public:
  Params& add(std::string value) {
    values_.emplace_back(std::move(value));
    return *this;
  }
  Params& add(std::string_view value) { return add(std::string(value)); }
  Params& add(const char* value) { return add(std::string(value)); }
  Params& add(std::int64_t value) { return add(std::to_string(value)); }
  Params& add(int value) { return add(std::to_string(value)); }
  Params& add(bool value) { return add(std::string(value ? "1" : "0")); }  // INTEGER 0/1, as in SQLite
  Params& add(Clock::time_point value) { return add(to_unix_ns(value)); }
  Params& add(const std::optional<Clock::time_point>& value) {
    if (value) return add(*value);
    values_.emplace_back(std::nullopt);
    return *this;
  }
  Params& add(const schema::Param& value) {
    std::visit([this](const auto& v) { add(v); }, value);
    return *this;
  }
  std::vector<const char*> pointers() const {
    std::vector<const char*> p;
    for (const auto& v : values_) p.push_back(v ? v->c_str() : nullptr);
    return p;
  }
  int size() const { return static_cast<int>(values_.size()); }

 private:
  std::vector<std::optional<std::string>> values_;
};

class Result {
 public:
  explicit Result(PGresult* result) : result_(result) {}
  ~Result() { PQclear(result_); }
  Result(Result&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
  Result& operator=(Result&&) = delete;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  // A statement that succeeded (with or without rows)?
  bool ok() const {
    const auto status = PQresultStatus(result_);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
  }
  // The primary message only: DETAIL lines can quote row values, such as a key that already exists.
  std::string error() const {
    const char* primary = result_ ? PQresultErrorField(result_, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    return primary ? primary : "";
  }
  int rows() const { return PQntuples(result_); }
  // Rows changed by INSERT/UPDATE/DELETE.
  int changed() const {
    const char* n = PQcmdTuples(result_);
    return n && *n ? std::stoi(n) : 0;
  }
  bool null(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }
  std::string text(int row, int column) const {
    return std::string(PQgetvalue(result_, row, column), static_cast<std::size_t>(PQgetlength(result_, row, column)));
  }
  std::int64_t i64(int row, int column) const {
    // SUM() over BIGINT is NUMERIC ("123"); every value read here is integral.
    return null(row, column) ? 0 : std::stoll(PQgetvalue(result_, row, column));
  }

 private:
  PGresult* result_;
};

// One row of a Result, in the shape schema::read_device_summary expects.
struct Row {
  const Result& result;
  int row;
  bool null(int column) const { return result.null(row, column); }
  std::string text(int column) const { return result.text(row, column); }
  std::int64_t i64(int column) const { return result.i64(row, column); }
};

// One connection with its prepared statements. Used by one thread at a time.
class Connection {
 public:
  explicit Connection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (!conn_) throw StorageError("postgresql: out of memory connecting");
    where_ = std::string(PQhost(conn_) ? PQhost(conn_) : "?") + ":" + (PQport(conn_) ? PQport(conn_) : "?") + "/" +
             (PQdb(conn_) ? PQdb(conn_) : "?");
    if (PQstatus(conn_) != CONNECTION_OK) {
      const std::string why = trimmed(PQerrorMessage(conn_));
      PQfinish(conn_);
      conn_ = nullptr;
      throw StorageError("postgresql: cannot connect to " + where_ + ": " + why);
    }
    // Notices (e.g. "relation already exists, skipping") are not the console's log's business.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
  }
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& where() const { return where_; }
  bool lost() const { return PQstatus(conn_) == CONNECTION_BAD; }
  // Back in the pool only when no transaction is left open (a failed ROLLBACK would leave one).
  bool reusable() const { return !lost() && PQtransactionStatus(conn_) == PQTRANS_IDLE; }
  // Reconnects with the same parameters; prepared statements died with the old session.
  void reset() {
    prepared_.clear();
    PQreset(conn_);
  }

  // Whether a statement that commits (a COMMIT, or any statement outside a transaction) was handed to
  // libpq since forget_commits(): if the connection broke after that, the server may have committed it.
  bool may_have_committed() const { return commit_sent_; }
  void forget_commits() { commit_sent_ = false; }
  void mark_commit_sent() { commit_sent_ = true; }

  // Runs `sql` (shared `?` SQL or PostgreSQL's own $n SQL) as a prepared statement.
  Result run(const std::string& sql, const Params& params, std::string_view doing) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "s" + std::to_string(prepared_.size() + 1);
      Result prepared(PQprepare(conn_, name.c_str(), numbered(sql).c_str(), 0, nullptr));
      check(prepared, doing);
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    const auto values = params.pointers();
    if (PQtransactionStatus(conn_) == PQTRANS_IDLE) commit_sent_ = true;  // autocommit: this statement commits
    Result result(PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(), nullptr, nullptr, 0));
    check(result, doing);
    return result;
  }
  Result run(const std::string& sql, std::string_view doing) { return run(sql, Params(), doing); }

  // Runs parameterless statements (transaction control, migrations' DDL) in one simple query.
  void script(const char* sql, std::string_view doing) {
    if (PQtransactionStatus(conn_) == PQTRANS_IDLE && !starts_transaction(sql)) commit_sent_ = true;
    Result result(PQexec(conn_, sql));
    check(result, doing);
  }

 private:
  static bool starts_transaction(std::string_view sql) { return sql.substr(0, 5) == "BEGIN"; }
  static std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }
  void check(const Result& result, std::string_view doing) {
    if (result.ok()) return;
    std::string why = result.error();
    if (why.empty()) why = trimmed(PQerrorMessage(conn_));  // no result: the connection's own error
    throw StorageError("postgresql: " + std::string(doing) + " on " + where_ + ": " + why);
  }

  PGconn* conn_ = nullptr;
  std::string where_;
  bool commit_sent_ = false;
  std::unordered_map<std::string, std::string> prepared_;
};

// BEGIN on construction; ROLLBACK unless commit() ran, while the connection still stands.
class Transaction {
 public:
  Transaction(Connection& connection, const char* begin = "BEGIN") : connection_(connection) {
    connection_.script(begin, "beginning a transaction");
  }
  ~Transaction() {
    if (done_ || connection_.lost()) return;
    try {
      connection_.script("ROLLBACK", "rolling back");
    } catch (const StorageError&) {
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    connection_.mark_commit_sent();
    connection_.script("COMMIT", "committing");
    done_ = true;
  }

 private:
  Connection& connection_;
  bool done_ = false;
};

// Reads that take several statements see one snapshot.
constexpr const char* begin_snapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

class PostgresStorage final : public Storage {
 public:
  explicit PostgresStorage(const std::string& url) : conninfo_(with_connect_timeout(url)) {
    auto lease = this->lease();
    migrate(*lease);
  }

  std::string backend() const override { return "postgresql"; }

  int schema_version() override {
    return with_connection([&](Connection& c) {
      return static_cast<int>(c.run(schema::current_version, "reading the schema version").i64(0, 0));
    });
  }

  void add_token(const TokenRecord& token) override {
    with_connection(
        [&](Connection& c) {
          Transaction tx(c);
          c.run(schema::insert_token,
                Params()
                    .add(token.token_hash)
                    .add(token.store_id)
                    .add(token.uses_allowed)
                    .add(token.uses_left)
                    .add(token.created_at)
                    .add(token.expires_at),
                "adding a token");
          tx.commit();
        },
        Rerun::before_commit_only);  // a second run would fail on the row the first one added
  }

  TokenUse use_token(const std::string& token_hash, Clock::time_point now, std::string& store_id) override {
    // In a transaction, not autocommit: a connection that breaks before the COMMIT went out is retried,
    // one that breaks during it is not (the use may be spent). The row lock makes a racing second use
    // wait and then see 0 left.
    return with_connection(
        [&](Connection& c) {
          Transaction tx(c);
          const auto spent = c.run(schema::spend_token, Params().add(token_hash).add(now), "using a token");
          if (spent.rows() == 1) {
            tx.commit();
            store_id = spent.text(0, 0);
            return TokenUse::accepted;
          }
          const auto state = c.run(schema::token_state, Params().add(token_hash), "reading a token");
          if (state.rows() == 0) return TokenUse::unknown;
          return state.i64(0, 0) <= to_unix_ns(now) ? TokenUse::expired : TokenUse::exhausted;
        },
        Rerun::before_commit_only);
  }

  std::optional<TokenRecord> find_token(const std::string& token_hash) override {
    return with_connection([&](Connection& c) -> std::optional<TokenRecord> {
      const auto r = c.run(schema::find_token, Params().add(token_hash), "reading a token");
      if (r.rows() == 0) return std::nullopt;
      return TokenRecord{r.text(0, 0),
                         r.text(0, 1),
                         static_cast<int>(r.i64(0, 2)),
                         static_cast<int>(r.i64(0, 3)),
                         from_unix_ns(r.i64(0, 4)),
                         from_unix_ns(r.i64(0, 5))};
    });
  }

  void record_enrollment(const EnrolledCertificate& certificate) override {
    with_connection(
        [&](Connection& c) {
          Transaction tx(c);
          const auto enrolled = c.run(schema::enroll_device,
                                      Params()
                                          .add(certificate.device_id)
                                          .add(certificate.store_id)
                                          .add(certificate.issued_at)
                                          .add(certificate.not_after)
                                          .add(certificate.issued_at),
                                      "recording an enrollment");
          if (enrolled.changed() == 0) {
            const auto row =
                c.run(schema::device_enrollment, Params().add(certificate.device_id), "reading a device's enrollment");
            if (row.rows() == 1 && !row.null(0, 0))
              throw StorageError("postgresql: device '" + certificate.device_id +
                                 "' is revoked and may not enroll again");
            throw StorageError("postgresql: device '" + certificate.device_id +
                               "' is enrolled with a valid certificate in another store and may not move to store '" +
                               certificate.store_id + "' (release it first)");
          }
          c.run(schema::insert_certificate,
                Params()
                    .add(certificate.serial)
                    .add(certificate.device_id)
                    .add(certificate.store_id)
                    .add(certificate.issued_at)
                    .add(certificate.not_after),
                "recording a certificate");
          tx.commit();
        },
        Rerun::before_commit_only);  // a second run would fail on the serial the first one recorded
  }

  EnrollmentState enrollment_state(const std::string& device_id) override {
    return with_connection([&](Connection& c) {
      const auto r = c.run(schema::device_enrollment, Params().add(device_id), "reading a device's enrollment");
      if (r.rows() == 0) return EnrollmentState::unknown;
      return enrollment_state_of(!r.null(0, 0), !r.null(0, 1), r.null(0, 2) ? std::nullopt : std::optional(r.i64(0, 2)),
                                 Clock::now());
    });
  }

  bool release_device(const std::string& device_id, Clock::time_point now) override {
    return with_connection([&](Connection& c) {
      Transaction tx(c);
      const bool known =
          c.run(schema::release_device, Params().add(now).add(device_id), "releasing a device").changed() > 0;
      c.run(schema::revoke_certificates, Params().add(now).add(device_id), "revoking certificates");
      tx.commit();
      return known;
    });
  }

  bool revoke_device(const std::string& device_id, Clock::time_point now) override {
    return with_connection([&](Connection& c) {
      Transaction tx(c);
      const bool known =
          c.run(schema::revoke_device, Params().add(now).add(device_id), "revoking a device").changed() > 0;
      c.run(schema::revoke_certificates, Params().add(now).add(device_id), "revoking certificates");
      tx.commit();
      return known;
    });
  }

  bool is_revoked(const std::string& device_id) override {
    return with_connection([&](Connection& c) {
      const auto r = c.run(schema::device_revoked_at, Params().add(device_id), "reading a revocation");
      return r.rows() == 1 && !r.null(0, 0);
    });
  }

  std::vector<std::string> revoked_serials() override {
    return with_connection([&](Connection& c) {
      const auto r = c.run(schema::revoked_serials, "listing revoked serials");
      std::vector<std::string> serials;
      for (int i = 0; i < r.rows(); ++i) serials.push_back(r.text(i, 0));
      return serials;
    });
  }

  std::vector<IngestOutcome> store_reports(const std::vector<IncomingReport>& reports) override {
    if (reports.empty()) return {};
    const auto firsts = first_occurrences(reports);
    std::vector<bool> stored(reports.size(), false);
    std::unordered_map<std::string, std::string> owners;  // report ids stored before -> their device
    with_connection([&](Connection& c) {
      std::fill(stored.begin(), stored.end(), false);  // a retry after a reconnect starts over
      owners.clear();
      Transaction tx(c);
      std::vector<const IncomingReport*> device_rows;
      std::unordered_set<std::string_view> seen;
      for (const auto& r : reports)
        if (seen.insert(r.device_id).second) device_rows.push_back(&r);
      c.run(ensure_devices,
            Params()
                .add(array_literal(device_rows,
                                   [](const IncomingReport* r) -> const std::string& { return r->device_id; }))
                .add(array_literal(device_rows,
                                   [](const IncomingReport* r) -> const std::string& { return r->state.store_id; }))
                .add(array_literal(device_rows,
                                   [](const IncomingReport* r) { return std::to_string(to_unix_ns(r->received_at)); })),
            "adding reporting devices");

      std::vector<const IncomingReport*> rows;
      for (const std::size_t i : firsts) rows.push_back(&reports[i]);
      const auto inserted = c.run(
          insert_reports,
          Params()
              .add(array_literal(rows, [](const IncomingReport* r) -> const std::string& { return r->report_id; }))
              .add(array_literal(rows, [](const IncomingReport* r) -> const std::string& { return r->device_id; }))
              .add(array_literal(rows,
                                 [](const IncomingReport* r) { return std::to_string(to_unix_ns(r->generated_at)); }))
              .add(array_literal(rows,
                                 [](const IncomingReport* r) { return std::to_string(to_unix_ns(r->received_at)); }))
              .add(array_literal(rows, [](const IncomingReport* r) -> const std::string& { return r->state.status; }))
              .add(array_literal(rows, [](const IncomingReport* r) -> const std::string& { return r->json; })),
          "storing reports");
      std::unordered_set<std::string> new_ids;
      for (int i = 0; i < inserted.rows(); ++i) new_ids.insert(inserted.text(i, 0));
      std::vector<const std::string*> known_ids;
      for (const std::size_t i : firsts) {
        stored[i] = new_ids.count(reports[i].report_id) > 0;
        if (!stored[i]) known_ids.push_back(&reports[i].report_id);
      }
      if (!known_ids.empty()) {
        const auto known = c.run(
            report_owners,
            Params().add(array_literal(known_ids, [](const std::string* id) -> const std::string& { return *id; })),
            "reading reports' devices");
        for (int i = 0; i < known.rows(); ++i) owners.emplace(known.text(i, 0), known.text(i, 1));
      }

      apply_states_of(c, reports, newest_per_device(reports, stored));
      if (!new_ids.empty())
        c.run(schema::count_stored, Params().add(static_cast<std::int64_t>(new_ids.size())), "counting reports");
      tx.commit();
    });
    return ingest_outcomes(reports, stored, owners);
  }

  std::vector<DeviceSummary> devices(const DeviceFilter& filter, Clock::time_point now) override {
    const auto built = schema::device_list(filter, now);
    Params params;
    for (const auto& p : built.params) params.add(p);
    return with_connection([&](Connection& c) {
      const auto r = c.run(built.sql, params, "listing devices");
      std::vector<DeviceSummary> list;
      for (int i = 0; i < r.rows(); ++i) list.push_back(schema::read_device_summary(Row{r, i}));
      return list;
    });
  }

  std::optional<DeviceDetail> device(const std::string& device_id, std::size_t history_limit) override {
    return with_connection([&](Connection& c) -> std::optional<DeviceDetail> {
      Transaction snapshot(c, begin_snapshot);
      DeviceDetail detail;
      {
        const auto r = c.run(std::string("SELECT ") + schema::device_columns + " FROM devices d WHERE d.device_id = ?",
                             Params().add(device_id), "reading a device");
        if (r.rows() == 0) return std::nullopt;
        detail.summary = schema::read_device_summary(Row{r, 0});
      }
      {
        const auto r = c.run(schema::device_checks, Params().add(device_id), "reading a device's checks");
        for (int i = 0; i < r.rows(); ++i)
          detail.summary.state.checks.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3)});
      }
      if (!detail.summary.last_report_id.empty()) {
        const auto r =
            c.run(schema::report_body, Params().add(detail.summary.last_report_id), "reading a device's latest report");
        if (r.rows() == 1) detail.latest_report_json = r.text(0, 0);
      }
      {
        const auto limit = static_cast<std::int64_t>(std::min<std::size_t>(history_limit, 1u << 30));
        const auto r = c.run(schema::report_history, Params().add(device_id).add(limit), "reading a device's history");
        for (int i = 0; i < r.rows(); ++i)
          detail.history.push_back({r.text(i, 0), from_unix_ns(r.i64(i, 1)), from_unix_ns(r.i64(i, 2)), r.text(i, 3)});
      }
      snapshot.commit();
      return detail;
    });
  }

  std::vector<StoreSummary> stores(Clock::time_point now, Clock::duration stale_after) override {
    return with_connection([&](Connection& c) {
      const auto r =
          c.run(schema::store_counts, Params().add(to_unix_ns(now) - to_ns(stale_after)), "summarising stores");
      std::vector<StoreSummary> list;
      for (int i = 0; i < r.rows(); ++i) {
        StoreSummary s;
        s.store_id = r.text(i, 0);
        s.devices = static_cast<int>(r.i64(i, 1));
        s.passing = static_cast<int>(r.i64(i, 2));
        s.failing = static_cast<int>(r.i64(i, 3));
        s.erroring = static_cast<int>(r.i64(i, 4));
        s.stale = static_cast<int>(r.i64(i, 5));
        s.caches_unencrypted = static_cast<int>(r.i64(i, 6));
        s.pan_findings = r.i64(i, 7);
        list.push_back(std::move(s));
      }
      return list;
    });
  }

  FleetSummary summary(Clock::time_point now, Clock::duration stale_after) override {
    return with_connection([&](Connection& c) {
      Transaction snapshot(c, begin_snapshot);
      FleetSummary f;
      {
        const auto r =
            c.run(schema::fleet_counts, Params().add(to_unix_ns(now) - to_ns(stale_after)), "summarising the fleet");
        f.devices = static_cast<int>(r.i64(0, 0));
        f.passing = static_cast<int>(r.i64(0, 1));
        f.failing = static_cast<int>(r.i64(0, 2));
        f.erroring = static_cast<int>(r.i64(0, 3));
        f.never_reported = static_cast<int>(r.i64(0, 4));
        f.stale = static_cast<int>(r.i64(0, 5));
        f.caches_unencrypted = static_cast<int>(r.i64(0, 6));
        f.devices_with_unencrypted_caches = static_cast<int>(r.i64(0, 7));
        f.pan_findings = r.i64(0, 8);
        f.devices_with_pan_findings = static_cast<int>(r.i64(0, 9));
        f.devices_behind_on_patches = static_cast<int>(r.i64(0, 10));
        f.reboot_required = static_cast<int>(r.i64(0, 11));
      }
      f.revoked = static_cast<int>(c.run(schema::revoked_devices, "counting revoked devices").i64(0, 0));
      {
        const auto r = c.run(schema::failing_checks, "ranking failing checks");
        for (int i = 0; i < r.rows(); ++i)
          f.failing_checks.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), static_cast<int>(r.i64(i, 3))});
      }
      {
        const auto r = c.run(schema::reports_stored, "counting reports");
        if (r.rows() == 1) f.reports_stored = r.i64(0, 0);
      }
      snapshot.commit();
      return f;
    });
  }

  std::size_t apply_retention(Clock::time_point cutoff) override {
    std::size_t cleared = 0;
    for (;;) {
      const int chunk = with_connection([&](Connection& c) {
        return c
            .run(schema::clear_old_bodies, Params().add(cutoff).add(storage_limits::retention_chunk),
                 "applying retention")
            .changed();
      });
      cleared += static_cast<std::size_t>(chunk);
      if (chunk < storage_limits::retention_chunk) return cleared;
    }
  }

 private:
  // Adds libpq's connect_timeout when the URL has none.
  static std::string with_connect_timeout(const std::string& url) {
    if (url.find("connect_timeout=") != std::string::npos) return url;
    return url + (url.find('?') == std::string::npos ? "?" : "&") +
           "connect_timeout=" + std::to_string(storage_limits::postgres_connect_timeout_s);
  }

  class Lease {
   public:
    Lease(PostgresStorage& owner, std::unique_ptr<Connection> connection)
        : owner_(owner), connection_(std::move(connection)) {}
    ~Lease() { owner_.give_back(std::move(connection_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() { return *connection_; }
    Connection* operator->() { return connection_.get(); }

   private:
    PostgresStorage& owner_;
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
    return Lease(*this, std::make_unique<Connection>(conninfo_));
  }

  void give_back(std::unique_ptr<Connection> connection) {
    if (!connection->reusable()) return;
    std::lock_guard lock(pool_mutex_);
    if (idle_.size() < storage_limits::idle_connections_kept) idle_.push_back(std::move(connection));
  }

  // Whether a body may run again after the connection broke once it had sent a COMMIT.
  enum class Rerun {
    always,              // reads, and writes whose second run changes nothing (ON CONFLICT DO NOTHING, COALESCE)
    before_commit_only,  // spends or adds something: a second run after a commit would do it twice
  };

  // Runs `body` on a pooled connection. When the server dropped the connection (restart, failover, idle
  // timeout), reconnects once and runs `body` again from the start; its transaction had rolled back. With
  // Rerun::before_commit_only, that happens only when the break came before a COMMIT was sent: if it came
  // during the COMMIT, nobody knows whether it committed, and the caller gets a StorageError instead. Such
  // bodies run every statement inside a Transaction (an autocommit statement counts as a COMMIT).
  template <class Body>
  std::invoke_result_t<Body&, Connection&> with_connection(Body&& body, Rerun rerun = Rerun::always) {
    auto lease = this->lease();
    lease->forget_commits();
    try {
      return body(*lease);
    } catch (const StorageError& e) {
      if (!lease->lost()) throw;
      if (rerun == Rerun::before_commit_only && lease->may_have_committed())
        throw StorageError(std::string(e.what()) +
                           " (the connection broke while committing: it may or may not have been recorded)");
    }
    lease->reset();
    if (lease->lost())
      throw StorageError("postgresql: lost the connection to " + lease->where() + " and could not reconnect");
    return body(*lease);
  }

  // Moves each device's state to its newest stored report of the batch, in a fixed number of round trips
  // whatever the batch size (the per-report statements of the SQLite backend, as arrays).
  void apply_states_of(Connection& c, const std::vector<IncomingReport>& reports,
                       const std::vector<std::size_t>& newest) {
    if (newest.empty()) return;
    std::vector<const IncomingReport*> rows;
    for (const std::size_t i : newest) rows.push_back(&reports[i]);
    using R = const IncomingReport*;
    auto number = [](auto value) { return std::to_string(value); };
    const auto applied =
        c.run(apply_states,
              Params()
                  .add(array_literal(rows, [](R r) -> const std::string& { return r->device_id; }))
                  .add(array_literal(rows, [](R r) -> const std::string& { return r->state.hostname; }))
                  .add(array_literal(rows, [](R r) -> const std::string& { return r->state.os_pretty_name; }))
                  .add(array_literal(rows, [](R r) -> const std::string& { return r->state.agent_version; }))
                  .add(array_literal(rows, [](R r) -> const std::string& { return r->state.status; }))
                  .add(array_literal(rows, [&](R r) { return number(r->state.checks_pass); }))
                  .add(array_literal(rows, [&](R r) { return number(r->state.checks_fail); }))
                  .add(array_literal(rows, [&](R r) { return number(r->state.checks_error); }))
                  .add(array_literal(rows, [&](R r) { return number(r->state.caches_total); }))
                  .add(array_literal(rows, [&](R r) { return number(r->state.caches_unencrypted); }))
                  .add(array_literal(rows, [&](R r) { return number(r->state.pan_findings); }))
                  .add(array_literal(rows, [&](R r) { return number(r->state.packages_below_baseline); }))
                  .add(array_literal(rows, [&](R r) { return number(r->state.pending_security_updates); }))
                  .add(array_literal(rows,
                                     [&](R r) -> std::optional<std::string> {
                                       if (!r->state.last_security_update_at) return std::nullopt;
                                       return number(to_unix_ns(*r->state.last_security_update_at));
                                     }))
                  .add(array_literal(rows, [&](R r) { return number(r->state.reboot_required ? 1 : 0); }))
                  .add(array_literal(rows, [](R r) -> const std::string& { return r->report_id; }))
                  .add(array_literal(rows, [&](R r) { return number(to_unix_ns(r->generated_at)); }))
                  .add(array_literal(rows, [&](R r) { return number(to_unix_ns(r->received_at)); })),
              "updating devices' state");
    std::unordered_set<std::string> moved;
    for (int i = 0; i < applied.rows(); ++i) moved.insert(applied.text(i, 0));

    std::vector<R> stayed, changed;
    for (R r : rows) (moved.count(r->device_id) ? changed : stayed).push_back(r);
    if (!stayed.empty())
      c.run(touch_devices,
            Params()
                .add(array_literal(stayed, [](R r) -> const std::string& { return r->device_id; }))
                .add(array_literal(stayed, [&](R r) { return number(to_unix_ns(r->received_at)); })),
            "updating devices' last contact");
    if (changed.empty()) return;

    std::unordered_map<std::string, std::vector<CheckState>> had;
    {
      const auto stored =
          c.run(checks_of_devices,
                Params().add(array_literal(changed, [](R r) -> const std::string& { return r->device_id; })),
                "reading devices' checks");
      for (int i = 0; i < stored.rows(); ++i)
        had[stored.text(i, 0)].push_back({stored.text(i, 1), stored.text(i, 2), stored.text(i, 3), stored.text(i, 4)});
    }
    std::vector<std::pair<const std::string*, std::string>> removals;  // device, check
    std::vector<std::pair<const std::string*, const CheckState*>> upserts;
    for (R r : changed) {
      auto changes = diff_checks(had[r->device_id], r->state.checks);
      for (auto& id : changes.removals) removals.emplace_back(&r->device_id, std::move(id));
      for (const CheckState* check : changes.upserts) upserts.emplace_back(&r->device_id, check);
    }
    if (!removals.empty())
      c.run(delete_checks,
            Params()
                .add(array_literal(removals, [](const auto& x) -> const std::string& { return *x.first; }))
                .add(array_literal(removals, [](const auto& x) -> const std::string& { return x.second; })),
            "replacing devices' checks");
    if (!upserts.empty())
      c.run(upsert_checks,
            Params()
                .add(array_literal(upserts, [](const auto& x) -> const std::string& { return *x.first; }))
                .add(array_literal(upserts, [](const auto& x) -> const std::string& { return x.second->id; }))
                .add(array_literal(upserts, [](const auto& x) -> const std::string& { return x.second->title; }))
                .add(array_literal(upserts, [](const auto& x) -> const std::string& { return x.second->status; }))
                .add(array_literal(upserts, [](const auto& x) -> const std::string& { return x.second->severity; })),
            "replacing devices' checks");
  }

  void migrate(Connection& c) {
    const std::string lock =
        "SELECT pg_advisory_xact_lock(" + std::to_string(storage_limits::postgres_migration_lock) + ")";
    {
      Transaction tx(c);
      c.run(lock, "locking for migrations");
      c.script(schema::create_migrations_table, "creating schema_migrations");
      tx.commit();
    }
    for (const auto& migration : schema::migrations) {
      Transaction tx(c);  // the lock makes a second console wait here, then see our rows
      c.run(lock, "locking for migrations");
      const int current = static_cast<int>(c.run(schema::current_version, "reading the schema version").i64(0, 0));
      if (current > schema::latest_version) too_new(c, current);
      if (migration.version <= current) continue;
      c.script(migration.sql, "migrating to schema version " + std::to_string(migration.version));
      c.run(schema::record_version, Params().add(migration.version).add(Clock::now()), "recording a migration");
      tx.commit();
    }
    const int current = static_cast<int>(c.run(schema::current_version, "reading the schema version").i64(0, 0));
    if (current > schema::latest_version) too_new(c, current);
  }

  [[noreturn]] static void too_new(const Connection& c, int version) {
    throw StorageError("postgresql: " + c.where() + " has schema version " + std::to_string(version) +
                       ", newer than this build knows (" + std::to_string(schema::latest_version) +
                       "); run a posture-console at least as new as the one that migrated it");
  }

  std::string conninfo_;  // holds the password: never in a message
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace

std::unique_ptr<Storage> open_postgres_storage(const std::string& url) {
  return std::make_unique<PostgresStorage>(url);
}

}  // namespace postured::console
