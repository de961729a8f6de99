// Storage conformance: every test body runs against both backends, SQLite (a fresh file) and PostgreSQL
// (a real server: scripts/postgres-for-tests; a fresh schema per test, dropped at the end), and expects
// the same answers. An unreachable PostgreSQL fails these tests; it never skips them.
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "storage/schema.hpp"
#include "storage/storage.hpp"

using namespace postured::console;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;

namespace {

const char* const default_pg_url = "postgresql://postured:postured-test@127.0.0.1:5432/postured_test";

std::string pg_base_url() {
  const char* url = std::getenv("POSTURED_TEST_PG_URL");
  return url && *url ? url : default_pg_url;
}

// A throw-away database for one test: a temporary SQLite file, or a fresh PostgreSQL schema.
class TestDatabase {
 public:
  explicit TestDatabase(std::string backend) : backend_(std::move(backend)) {
    static std::atomic<int> counter{0};
    std::random_device random;
    const std::string tag =
        std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + std::to_string(random() % 1000000);
    if (backend_ == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() / ("postured-storage-" + tag);
      std::filesystem::create_directories(dir_);
      url_ = "sqlite:" + (dir_ / "console.db").string();
    } else {
      schema_ = "storage_test_" + tag;
      admin("CREATE SCHEMA " + schema_);
      const std::string base = pg_base_url();
      // application_name marks this test's connections, so that one test can cut only its own.
      url_ = base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema_ +
             "&application_name=" + schema_;
    }
  }
  ~TestDatabase() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    if (!schema_.empty()) {
      try {
        admin("SET client_min_messages = warning; DROP SCHEMA " + schema_ + " CASCADE");
      } catch (...) {
      }
    }
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  std::unique_ptr<Storage> open() const { return open_storage(url_); }

  // Ends this test's server-side PostgreSQL sessions, as a server restart or failover would; how many.
  int cut_connections() const {
    PGconn* conn = connect();
    const std::string sql =
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '" + schema_ + "'";
    PGresult* result = PQexec(conn, sql.c_str());
    const int cut = PQresultStatus(result) == PGRES_TUPLES_OK ? std::atoi(PQgetvalue(result, 0, 0)) : -1;
    PQclear(result);
    PQfinish(conn);
    return cut;
  }

  // Runs `sql` directly on the database, behind the storage's back (to fake a newer schema).
  void raw(const std::string& sql) const {
    if (backend_ == "sqlite") {
      sqlite3* db = nullptr;
      REQUIRE(sqlite3_open((dir_ / "console.db").string().c_str(), &db) == SQLITE_OK);
      char* error = nullptr;
      const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
      const std::string message = error ? error : "";
      sqlite3_free(error);
      sqlite3_close(db);
      INFO(message);
      REQUIRE(rc == SQLITE_OK);
    } else {
      admin("SET search_path TO " + schema_ + "; " + sql);
    }
  }

 private:
  static PGconn* connect() {
    PGconn* conn = PQconnectdb(pg_base_url().c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
      const std::string why = PQerrorMessage(conn);
      PQfinish(conn);
      FAIL(
          "PostgreSQL for the storage tests is unreachable (run scripts/postgres-for-tests and export "
          "POSTURED_TEST_PG_URL): "
          << why);
    }
    return conn;
  }

  static void admin(const std::string& sql) {
    PGconn* conn = connect();
    PGresult* result = PQexec(conn, sql.c_str());
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK || PQresultStatus(result) == PGRES_TUPLES_OK;
    const std::string why = PQerrorMessage(conn);
    PQclear(result);
    PQfinish(conn);
    if (!ok) FAIL("PostgreSQL: " << sql << ": " << why);
  }

  std::string backend_;
  std::string url_;
  std::filesystem::path dir_;
  std::string schema_;
};

const Clock::time_point t0 = Clock::time_point(std::chrono::seconds(1'800'000'000));  // 2027-01-15

TokenRecord token(const std::string& hash, const std::string& store, int uses, Clock::time_point expires) {
  return {hash, store, uses, uses, t0 - 1h, expires};
}

EnrolledCertificate certificate(const std::string& device, const std::string& store, const std::string& serial,
                                Clock::time_point issued = t0 - 48h) {
  return {device, store, serial, issued + 90 * 24h, issued};
}

CheckState check(const std::string& id, const std::string& status, const std::string& severity = "high") {
  return {id, "Title of " + id, status, severity};
}

IncomingReport report(const std::string& id, const std::string& device, const std::string& store,
                      Clock::time_point generated, std::vector<CheckState> checks = {check("a.one", "pass")}) {
  IncomingReport r;
  r.report_id = id;
  r.device_id = device;
  r.generated_at = generated;
  r.received_at = generated + 1s;
  r.json = R"({"schema":"postured.report/v1","report_id":")" + id + R"(","device":{"id":")" + device + "\"}}";
  DeviceState& s = r.state;
  s.device_id = device;
  s.store_id = store;
  s.hostname = "host-" + device;
  s.os_pretty_name = "Debian GNU/Linux 12 (bookworm)";
  s.agent_version = "0.1.0";
  s.checks = std::move(checks);
  for (const auto& c : s.checks) {
    s.checks_pass += c.status == "pass";
    s.checks_fail += c.status == "fail";
    s.checks_error += c.status == "error";
  }
  s.status = s.checks_fail ? "fail" : s.checks_error ? "error" : "pass";
  return r;
}

// DeviceFilter{} with some fields set (designated initializers trip -Wmissing-field-initializers).
struct Filter {
  DeviceFilter f;
  Filter& store(std::string v) { return f.store_id = std::move(v), *this; }
  Filter& status(std::string v) { return f.status = std::move(v), *this; }
  Filter& failing(std::string v) { return f.check_id = std::move(v), *this; }
  Filter& search(std::string v) { return f.search = std::move(v), *this; }
  Filter& stale_after(Clock::duration v) { return f.stale_after = v, *this; }
  Filter& page(std::size_t limit, std::size_t offset) { return f.limit = limit, f.offset = offset, *this; }
  operator DeviceFilter() const { return f; }
};

std::vector<std::string> ids(const std::vector<DeviceSummary>& list) {
  std::vector<std::string> out;
  for (const auto& d : list) out.push_back(d.state.device_id);
  return out;
}

}  // namespace

TEST_CASE("storage: a new database is migrated to this build's schema version, once", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  {
    auto storage = db.open();
    CHECK(storage->backend() == backend);
    CHECK(storage->schema_version() == schema::latest_version);
  }
  auto again = db.open();  // reopening finds nothing to migrate
  CHECK(again->schema_version() == schema::latest_version);
}

TEST_CASE("storage: a new SQLite file is in WAL mode and readable by its owner only", "[storage]") {
  TestDatabase db("sqlite");
  db.open()->store_reports({report("r1", "pos-1", "s", t0)});
  const std::filesystem::path file = db.url().substr(std::string("sqlite:").size());
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &statement, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0))) == "wal");
  sqlite3_finalize(statement);
  sqlite3_close(raw);
}

TEST_CASE("storage: a schema newer than this build is a clear error", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  db.open();
  db.raw("INSERT INTO schema_migrations (version, applied_at) VALUES (" + std::to_string(schema::latest_version + 1) +
         ", 0)");
  try {
    db.open();
    FAIL("opening a newer schema succeeded");
  } catch (const StorageError& e) {
    CHECK_THAT(e.what(), ContainsSubstring("newer than this build"));
    CHECK_THAT(e.what(), ContainsSubstring(backend));
  }
}

TEST_CASE("storage: a bad storage URL is a clear error that never shows the password", "[storage]") {
  CHECK_THROWS_WITH(open_storage(""), ContainsSubstring("empty storage URL"));
  CHECK_THROWS_WITH(open_storage("mysql://root:pw@localhost/console"), ContainsSubstring("unsupported storage URL"));
  CHECK_THROWS_WITH(open_storage("sqlite:"), ContainsSubstring("without a file path"));
  CHECK_THROWS_WITH(open_storage("sqlite::memory:"), ContainsSubstring("plain file path"));
  CHECK_THROWS_WITH(open_storage("/nonexistent-folder/console.db"), ContainsSubstring("sqlite: cannot open"));
  // A wrong password and an unreachable port: the error names the backend, never the password.
  for (const std::string& url : {std::string("postgresql://postured:not-the-Secret-42@127.0.0.1:5432/postured_test"),
                                 std::string("postgres://postured:not-the-Secret-42@127.0.0.1:1/postured_test")}) {
    CAPTURE(url);
    try {
      open_storage(url);
      FAIL("opened " << url);
    } catch (const StorageError& e) {
      CHECK_THAT(e.what(), ContainsSubstring("postgresql"));
      CHECK_THAT(e.what(), !ContainsSubstring("not-the-Secret-42"));
    }
  }
}

TEST_CASE("storage: tokens are accepted, unknown, expired or used up", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  auto storage = db.open();
  storage->add_token(token("two-uses", "store-1", 2, t0 + 1h));
  storage->add_token(token("expired", "store-1", 5, t0 - 1s));
  std::string store;
  CHECK(storage->use_token("two-uses", t0, store) == TokenUse::accepted);
  CHECK(store == "store-1");
  store.clear();
  CHECK(storage->use_token("two-uses", t0, store) == TokenUse::accepted);
  CHECK(storage->use_token("two-uses", t0, store) == TokenUse::exhausted);
  CHECK(storage->use_token("nobody-knows", t0, store) == TokenUse::unknown);
  CHECK(storage->use_token("expired", t0, store) == TokenUse::expired);
  storage->add_token(token("until-t0", "store-2", 1, t0));
  CHECK(storage->use_token("until-t0", t0, store) == TokenUse::expired);  // expires_at is exclusive
  CHECK_THROWS_AS(storage->add_token(token("two-uses", "store-9", 1, t0 + 1h)), StorageError);  // no overwrite
}

TEST_CASE("storage: two consoles racing on a one-use token spend it once", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  // Two Storage objects: two writer connections, as two console processes on one database would have.
  auto first = db.open();
  auto second = db.open();
  constexpr int tokens = 40;
  for (int i = 0; i < tokens; ++i) first->add_token(token("t" + std::to_string(i), "store-1", 1, t0 + 1h));
  std::atomic<int> accepted{0}, exhausted{0};
  auto race = [&](Storage& storage) {
    for (int i = 0; i < tokens; ++i) {
      std::string store;
      const auto outcome = storage.use_token("t" + std::to_string(i), t0, store);
      (outcome == TokenUse::accepted ? accepted : exhausted)++;
    }
  };
  std::thread a(race, std::ref(*first));
  std::thread b(race, std::ref(*second));
  a.join();
  b.join();
  CHECK(accepted == tokens);
  CHECK(exhausted == tokens);
}

TEST_CASE("storage: enrollment, re-enrollment and revocation", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  auto storage = db.open();
  storage->record_enrollment(certificate("pos-1", "store-1", "0a01"));
  storage->record_enrollment(certificate("pos-2", "store-1", "0a02"));
  storage->record_enrollment(certificate("pos-1", "store-1", "0a03", t0 - 1h));  // renewal: new row, same device
  CHECK_THROWS_AS(storage->record_enrollment(certificate("pos-3", "store-1", "0a01")), StorageError);  // serial reuse

  auto detail = storage->device("pos-1", 10);
  REQUIRE(detail);
  CHECK(detail->summary.state.store_id == "store-1");
  CHECK(detail->summary.enrolled_at == t0 - 48h);                      // the first enrollment
  CHECK(detail->summary.certificate_not_after == t0 - 1h + 90 * 24h);  // the newest certificate
  CHECK_FALSE(detail->summary.last_seen_at);
  CHECK(detail->summary.state.status.empty());
  CHECK(detail->history.empty());
  CHECK_FALSE(storage->device("pos-unknown", 10));

  CHECK_FALSE(storage->is_revoked("pos-1"));
  CHECK(storage->revoked_serials().empty());
  CHECK(storage->revoke_device("pos-1", t0));
  CHECK(storage->revoke_device("pos-1", t0 + 1h));  // again: still known, still revoked
  CHECK_FALSE(storage->revoke_device("pos-unknown", t0));
  CHECK(storage->is_revoked("pos-1"));
  CHECK_FALSE(storage->is_revoked("pos-2"));
  CHECK_FALSE(storage->is_revoked("pos-unknown"));
  CHECK(storage->revoked_serials() == std::vector<std::string>{"0a01", "0a03"});
  CHECK_THROWS_WITH(storage->record_enrollment(certificate("pos-1", "store-1", "0a04")), ContainsSubstring("revoked"));
  CHECK(storage->device("pos-1", 10)->summary.revoked);
}

TEST_CASE("storage: find_token reads a token without spending a use", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  auto storage = db.open();
  storage->add_token(token("one-use", "store-4", 1, t0 + 1h));
  for (int i = 0; i < 3; ++i) {
    const auto found = storage->find_token("one-use");
    REQUIRE(found);
    CHECK(found->token_hash == "one-use");
    CHECK(found->store_id == "store-4");
    CHECK(found->uses_allowed == 1);
    CHECK(found->uses_left == 1);
    CHECK(found->created_at == t0 - 1h);
    CHECK(found->expires_at == t0 + 1h);
  }
  CHECK_FALSE(storage->find_token("nobody-knows"));
  std::string store;
  CHECK(storage->use_token("one-use", t0, store) == TokenUse::accepted);
  REQUIRE(storage->find_token("one-use"));
  CHECK(storage->find_token("one-use")->uses_left == 0);
}

TEST_CASE("storage: enrollment state: an active device keeps its store, release lets it enroll once", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  auto storage = db.open();
  const auto now = Clock::now();
  CHECK(storage->enrollment_state("pos-1") == EnrollmentState::unknown);
  storage->record_enrollment(certificate("pos-1", "store-1", "0b01", now - 1h));
  CHECK(storage->enrollment_state("pos-1") == EnrollmentState::active);

  // A token holder of another store cannot take the device over; a renewal in its own store is recorded.
  CHECK_THROWS_WITH(storage->record_enrollment(certificate("pos-1", "store-2", "0b02", now)),
                    ContainsSubstring("may not move"));
  CHECK(storage->device("pos-1", 1)->summary.state.store_id == "store-1");
  CHECK(storage->revoked_serials().empty());
  storage->record_enrollment(certificate("pos-1", "store-1", "0b03", now));
  CHECK(storage->enrollment_state("pos-1") == EnrollmentState::active);
  CHECK(storage->store_reports({report("r1", "pos-1", "store-1", now - 30min)})[0] == IngestOutcome::stored);

  // Released: every certificate revoked, one new enrollment (in any store) allowed, history kept.
  CHECK_FALSE(storage->release_device("pos-unknown", now));
  CHECK(storage->release_device("pos-1", now));
  CHECK(storage->enrollment_state("pos-1") == EnrollmentState::released);
  CHECK_FALSE(storage->is_revoked("pos-1"));
  CHECK(storage->revoked_serials() == std::vector<std::string>{"0b01", "0b03"});
  storage->record_enrollment(certificate("pos-1", "store-2", "0b04", now));
  CHECK(storage->enrollment_state("pos-1") == EnrollmentState::active);
  auto detail = storage->device("pos-1", 10);
  REQUIRE(detail);
  CHECK(detail->summary.state.store_id == "store-2");
  CHECK(detail->summary.enrolled_at == now - 1h);  // the first enrollment
  CHECK(detail->summary.certificate_not_after == now + 90 * 24h);
  CHECK_FALSE(detail->summary.revoked);
  REQUIRE(detail->history.size() == 1);
  CHECK(detail->history[0].report_id == "r1");
  CHECK(storage->revoked_serials() == std::vector<std::string>{"0b01", "0b03"});  // the new one is valid
  // Active again: the release was used up.
  CHECK_THROWS_AS(storage->record_enrollment(certificate("pos-1", "store-3", "0b05", now)), StorageError);

  // Revoked for good, until released.
  CHECK(storage->revoke_device("pos-1", now));
  CHECK(storage->enrollment_state("pos-1") == EnrollmentState::revoked);
  CHECK_THROWS_WITH(storage->record_enrollment(certificate("pos-1", "store-2", "0b06", now)),
                    ContainsSubstring("revoked"));
  CHECK(storage->release_device("pos-1", now));
  CHECK(storage->enrollment_state("pos-1") == EnrollmentState::released);
  CHECK_FALSE(storage->is_revoked("pos-1"));
  storage->record_enrollment(certificate("pos-1", "store-2", "0b07", now));
  CHECK(storage->enrollment_state("pos-1") == EnrollmentState::active);
  CHECK(storage->revoked_serials() == std::vector<std::string>{"0b01", "0b03", "0b04"});

  // A device whose certificates all expired can no longer renew: it may enroll again.
  storage->record_enrollment(certificate("pos-old", "store-1", "0b08", now - 100 * 24h));
  CHECK(storage->enrollment_state("pos-old") == EnrollmentState::released);
  storage->record_enrollment(certificate("pos-old", "store-5", "0b09", now));
  CHECK(storage->enrollment_state("pos-old") == EnrollmentState::active);
  CHECK(storage->device("pos-old", 1)->summary.state.store_id == "store-5");

  // A device known only from its reports (a database restore) holds a certificate we did not record.
  CHECK(storage->store_reports({report("x1", "pos-restored", "store-7", now)})[0] == IngestOutcome::stored);
  CHECK(storage->enrollment_state("pos-restored") == EnrollmentState::active);
  CHECK_THROWS_AS(storage->record_enrollment(certificate("pos-restored", "store-8", "0b10", now)), StorageError);
  CHECK(storage->device("pos-restored", 1)->summary.state.store_id == "store-7");
}

TEST_CASE("storage: a report id stored for another device is a conflict, never acknowledged", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  auto storage = db.open();
  CHECK(storage->store_reports({report("r1", "pos-1", "store-1", t0 - 2h)})[0] == IngestOutcome::stored);
  // Across batches, and within one: the id belongs to whoever stored it first.
  const auto outcomes =
      storage->store_reports({report("r1", "pos-2", "store-1", t0 - 1h), report("r1", "pos-1", "store-1", t0 - 2h),
                              report("r2", "pos-2", "store-1", t0 - 1h), report("r2", "pos-3", "store-1", t0 - 1h),
                              report("r2", "pos-2", "store-1", t0 - 1h)});
  CHECK(outcomes == std::vector<IngestOutcome>{IngestOutcome::conflict, IngestOutcome::duplicate, IngestOutcome::stored,
                                               IngestOutcome::conflict, IngestOutcome::duplicate});
  // The conflicting reports changed nothing: pos-2's state is its own report's, pos-3 has none.
  CHECK(storage->device("pos-1", 10)->history.size() == 1);
  CHECK(storage->device("pos-2", 10)->summary.last_report_id == "r2");
  const auto pos3 = storage->device("pos-3", 10);
  CHECK((!pos3 || pos3->history.empty()));
  CHECK(storage->summary(t0, 24h).reports_stored == 2);
}

TEST_CASE("storage: reports are stored once, duplicates within and across batches are acknowledged", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  auto storage = db.open();
  storage->record_enrollment(certificate("pos-1", "store-1", "01"));
  const auto first =
      storage->store_reports({report("r1", "pos-1", "store-1", t0 - 3h), report("r2", "pos-1", "store-1", t0 - 2h),
                              report("r1", "pos-1", "store-1", t0 - 3h)});
  CHECK(first == std::vector<IngestOutcome>{IngestOutcome::stored, IngestOutcome::stored, IngestOutcome::duplicate});
  const auto second = storage->store_reports(
      {report("r2", "pos-1", "store-1", t0 - 2h),
       report("r3", "pos-1", "store-1", t0 - 1h, {check("a.one", "fail"), check("b.two", "error", "low")})});
  CHECK(second == std::vector<IngestOutcome>{IngestOutcome::duplicate, IngestOutcome::stored});
  CHECK(storage->store_reports({}).empty());

  auto detail = storage->device("pos-1", 10);
  REQUIRE(detail);
  const auto& s = detail->summary.state;
  CHECK(s.status == "fail");
  CHECK(s.checks_fail == 1);
  CHECK(s.checks_error == 1);
  CHECK(s.hostname == "host-pos-1");
  REQUIRE(s.checks.size() == 2);
  CHECK(s.checks[0].id == "a.one");
  CHECK(s.checks[0].status == "fail");
  CHECK(s.checks[1].severity == "low");
  CHECK(detail->summary.last_report_id == "r3");
  CHECK(detail->summary.last_seen_at == t0 - 1h + 1s);
  REQUIRE(detail->latest_report_json);
  CHECK_THAT(*detail->latest_report_json, ContainsSubstring("\"r3\""));
  REQUIRE(detail->history.size() == 3);
  CHECK(detail->history[0].report_id == "r3");
  CHECK(detail->history[0].status == "fail");
  CHECK(detail->history[2].report_id == "r1");
  CHECK(detail->history[2].generated_at == t0 - 3h);
  CHECK(storage->device("pos-1", 2)->history.size() == 2);

  // A spooled report generated before the latest arrives late: stored and in the history, but the
  // device's state stays the newer one; it was still seen now.
  auto late = report("r0", "pos-1", "store-1", t0 - 10h);
  late.received_at = t0;
  CHECK(storage->store_reports({late}) == std::vector<IngestOutcome>{IngestOutcome::stored});
  detail = storage->device("pos-1", 10);
  CHECK(detail->summary.state.status == "fail");
  CHECK(detail->summary.last_report_id == "r3");
  CHECK(detail->summary.last_seen_at == t0);
  CHECK(detail->history.size() == 4);
  CHECK(detail->history.back().report_id == "r0");

  // A report from a device this database never enrolled still lands.
  CHECK(storage->store_reports({report("x1", "pos-restored", "store-7", t0)})[0] == IngestOutcome::stored);
  CHECK(storage->device("pos-restored", 1)->summary.state.store_id == "store-7");
  CHECK(storage->summary(t0, 24h).reports_stored == 5);
}

TEST_CASE("storage: a device's checks follow its latest report, added, changed and dropped", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  auto storage = db.open();
  storage->store_reports(
      {report("r1", "pos-1", "s", t0 - 2h, {check("a", "pass"), check("b", "fail"), check("c", "pass")})});
  // b is fixed, c is no longer reported, d is new, and a appears twice (the last one counts).
  storage->store_reports({report("r2", "pos-1", "s", t0 - 1h,
                                 {check("a", "pass"), check("b", "pass"), check("d", "error"), check("a", "fail")})});
  const auto checks = storage->device("pos-1", 1)->summary.state.checks;
  REQUIRE(checks.size() == 3);
  CHECK(checks[0].id == "a");
  CHECK(checks[0].status == "fail");
  CHECK(checks[1].id == "b");
  CHECK(checks[1].status == "pass");
  CHECK(checks[2].id == "d");
  CHECK(checks[2].status == "error");
  const auto failing = storage->summary(t0, 24h).failing_checks;
  REQUIRE(failing.size() == 2);
  CHECK(failing[0].id == "a");
  CHECK(failing[1].id == "d");
  // A report without checks leaves none.
  storage->store_reports({report("r3", "pos-1", "s", t0, {})});
  CHECK(storage->device("pos-1", 1)->summary.state.checks.empty());
  CHECK(storage->devices(Filter().failing("a"), t0).empty());
}

namespace {

// A fleet for the query tests: store-1 has pos-1 (fail), pos-2 (pass), pos-3 (never reported);
// store-2 has pos-4 (error, stale), pos-5 (pass, revoked).
std::unique_ptr<Storage> fleet(const TestDatabase& db) {
  auto storage = db.open();
  for (const auto& [device, store] : std::vector<std::pair<std::string, std::string>>{{"pos-1", "store-1"},
                                                                                      {"pos-2", "store-1"},
                                                                                      {"pos-3", "store-1"},
                                                                                      {"pos-4", "store-2"},
                                                                                      {"pos-5", "store-2"}})
    storage->record_enrollment(certificate(device, store, "serial-" + device));
  auto one = report("r-1", "pos-1", "store-1", t0 - 1h,
                    {check("ssh.root", "fail", "critical"), check("fw.on", "fail"), check("disk.enc", "pass")});
  one.state.caches_total = 3;
  one.state.caches_unencrypted = 2;
  one.state.pan_findings = 7;
  one.state.pending_security_updates = 4;
  one.state.reboot_required = true;
  one.state.last_security_update_at = t0 - 72h;
  one.state.hostname = "Till-ONE";
  auto two = report("r-2", "pos-2", "store-1", t0 - 2h, {check("ssh.root", "pass"), check("fw.on", "pass")});
  two.state.caches_total = 1;
  two.state.pending_security_updates = 0;
  two.state.hostname = "till_two%";
  auto four = report("r-4", "pos-4", "store-2", t0 - 30h, {check("ssh.root", "error"), check("fw.on", "pass")});
  four.state.packages_below_baseline = 2;
  auto five = report("r-5", "pos-5", "store-2", t0 - 1h, {check("ssh.root", "fail")});
  storage->store_reports({one, two, four, five});
  storage->revoke_device("pos-5", t0 - 30min);
  return storage;
}

}  // namespace

TEST_CASE("storage: device lists filter by store, status, stale, failing check and search", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  auto storage = fleet(db);
  auto list = [&](DeviceFilter f) { return ids(storage->devices(f, t0)); };
  using V = std::vector<std::string>;

  CHECK(list({}) == V{"pos-1", "pos-2", "pos-3", "pos-4", "pos-5"});
  CHECK(list(Filter().store("store-2")) == V{"pos-4", "pos-5"});
  CHECK(list(Filter().status("fail")) == V{"pos-1"});  // pos-5 failed too, but it is revoked
  CHECK(list(Filter().status("pass")) == V{"pos-2"});
  CHECK(list(Filter().status("error")) == V{"pos-4"});
  CHECK(list(Filter().status("stale")) == V{"pos-3", "pos-4"});  // never reported, and 30 h old
  CHECK(list(Filter().status("stale").stale_after(48h)) == V{"pos-3"});
  CHECK(list(Filter().failing("ssh.root")) == V{"pos-1", "pos-4", "pos-5"});
  CHECK(list(Filter().failing("fw.on")) == V{"pos-1"});
  CHECK(list(Filter().store("store-1").failing("ssh.root")) == V{"pos-1"});
  CHECK(list(Filter().search("till-one")) == V{"pos-1"});  // hostname, any case
  CHECK(list(Filter().search("POS-4")) == V{"pos-4"});     // device id
  CHECK(list(Filter().search("_two%")) == V{"pos-2"});     // LIKE's wildcards are plain characters here
  CHECK(list(Filter().search("%")) == V{"pos-2"});
  CHECK(list(Filter().page(2, 1)) == V{"pos-2", "pos-3"});
  CHECK_THROWS_AS(storage->devices(Filter().status("green"), t0), std::invalid_argument);

  const auto all = storage->devices({}, t0);
  const auto& one = all[0];
  CHECK(one.state.hostname == "Till-ONE");
  CHECK(one.state.caches_unencrypted == 2);
  CHECK(one.state.pan_findings == 7);
  CHECK(one.state.pending_security_updates == 4);
  CHECK(one.state.last_security_update_at == t0 - 72h);
  CHECK(one.state.reboot_required);
  CHECK(one.state.checks.empty());
  CHECK(one.last_report_id == "r-1");
  CHECK_FALSE(all[2].last_seen_at);
  CHECK(all[2].state.pending_security_updates == -1);  // unknown until the first report
  CHECK(all[4].revoked);
}

TEST_CASE("storage: fleet summary and stores count what the devices' latest reports said", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  auto storage = fleet(db);
  const auto f = storage->summary(t0, 24h);
  CHECK(f.devices == 4);  // revoked devices are counted only as revoked
  CHECK(f.revoked == 1);
  CHECK(f.passing == 1);
  CHECK(f.failing == 1);
  CHECK(f.erroring == 1);
  CHECK(f.never_reported == 1);
  CHECK(f.stale == 2);
  CHECK(f.caches_unencrypted == 2);
  CHECK(f.devices_with_unencrypted_caches == 1);
  CHECK(f.pan_findings == 7);
  CHECK(f.devices_with_pan_findings == 1);
  CHECK(f.devices_behind_on_patches == 2);  // pos-1 pending updates, pos-4 below baseline
  CHECK(f.reboot_required == 1);
  CHECK(f.reports_stored == 4);
  REQUIRE(f.failing_checks.size() == 2);
  CHECK(f.failing_checks[0].id == "ssh.root");  // pos-1 fail + pos-4 error (pos-5 revoked)
  CHECK(f.failing_checks[0].devices == 2);
  CHECK(f.failing_checks[0].title == "Title of ssh.root");
  CHECK(f.failing_checks[1].id == "fw.on");
  CHECK(f.failing_checks[1].devices == 1);
  CHECK(storage->summary(t0, 48h).stale == 1);

  const auto stores = storage->stores(t0, 24h);
  REQUIRE(stores.size() == 2);
  CHECK(stores[0].store_id == "store-1");
  CHECK(stores[0].devices == 3);
  CHECK(stores[0].passing == 1);
  CHECK(stores[0].failing == 1);
  CHECK(stores[0].erroring == 0);
  CHECK(stores[0].stale == 1);
  CHECK(stores[0].caches_unencrypted == 2);
  CHECK(stores[0].pan_findings == 7);
  CHECK(stores[1].store_id == "store-2");
  CHECK(stores[1].devices == 1);
  CHECK(stores[1].erroring == 1);
  CHECK(stores[1].stale == 1);

  TestDatabase empty(backend);
  const auto none = empty.open()->summary(t0, 24h);
  CHECK(none.devices == 0);
  CHECK(none.pan_findings == 0);
  CHECK(none.failing_checks.empty());
}

TEST_CASE("storage: retention drops old raw reports but keeps each device's latest", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  auto storage = db.open();
  storage->store_reports({report("old-1", "pos-1", "s", t0 - 50 * 24h), report("old-2", "pos-1", "s", t0 - 40 * 24h),
                          report("new-1", "pos-1", "s", t0 - 1h), report("only", "pos-2", "s", t0 - 60 * 24h)});
  CHECK(storage->apply_retention(t0 - 30 * 24h) == 2);  // old-1, old-2; "only" is pos-2's latest
  CHECK(storage->apply_retention(t0 - 30 * 24h) == 0);
  const auto one = storage->device("pos-1", 10);
  REQUIRE(one->latest_report_json);
  CHECK(one->history.size() == 3);  // the history keeps the metadata of cleared reports
  REQUIRE(storage->device("pos-2", 10)->latest_report_json);
  // A cleared report is still known: sent again, it is a duplicate, not a new report.
  CHECK(storage->store_reports({report("old-1", "pos-1", "s", t0 - 50 * 24h)})[0] == IngestOutcome::duplicate);

  // More old bodies than one retention transaction clears (5000): all go, over several transactions.
  std::vector<IncomingReport> many;
  for (int i = 0; i < 5100; ++i)
    many.push_back(report("bulk-" + std::to_string(i), "pos-3", "s", t0 - 90 * 24h + std::chrono::minutes(i), {}));
  storage->store_reports(many);
  CHECK(storage->apply_retention(t0 - 30 * 24h) == 5099);  // all but pos-3's latest
  CHECK(storage->device("pos-3", 1)->latest_report_json);
}

TEST_CASE("storage: a batch store_reports acknowledged survives the process being killed", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  db.open();  // migrated before the fork, and closed: the child opens its own
  std::vector<IncomingReport> batch;
  for (int i = 0; i < 100; ++i)
    batch.push_back(
        report("r" + std::to_string(i), "pos-" + std::to_string(i % 10), "s", t0 - std::chrono::minutes(100 - i)));
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // no Catch macros here: only the parent reports
    char acknowledged = 'n';
    try {
      auto storage = db.open();
      if (storage->store_reports(batch).size() == batch.size()) acknowledged = 'y';
    } catch (...) {
    }
    if (::write(ready[1], &acknowledged, 1) != 1) ::_exit(1);
    ::pause();  // killed here, with the storage open and nothing closed cleanly
    ::_exit(0);
  }
  ::close(ready[1]);
  char acknowledged = 0;
  const auto got = ::read(ready[0], &acknowledged, 1);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  REQUIRE(got == 1);
  REQUIRE(acknowledged == 'y');
  auto storage = db.open();
  CHECK(storage->summary(t0, 24h).reports_stored == 100);
  CHECK(storage->device("pos-9", 20)->history.size() == 10);
  CHECK(storage->device("pos-9", 20)->summary.last_report_id == "r99");
}

TEST_CASE("storage: data survives closing and reopening", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  {
    auto storage = db.open();
    storage->add_token(token("tok", "store-1", 3, t0 + 1h));
    storage->record_enrollment(certificate("pos-1", "store-1", "aa"));
    storage->store_reports({report("r1", "pos-1", "store-1", t0 - 1h)});
    storage->revoke_device("pos-1", t0);
  }
  auto storage = db.open();
  std::string store;
  CHECK(storage->use_token("tok", t0, store) == TokenUse::accepted);
  CHECK(store == "store-1");
  const auto detail = storage->device("pos-1", 10);
  REQUIRE(detail);
  CHECK(detail->summary.last_report_id == "r1");
  CHECK(detail->summary.revoked);
  CHECK(storage->revoked_serials() == std::vector<std::string>{"aa"});
  CHECK(storage->summary(t0, 24h).reports_stored == 1);
}

TEST_CASE("storage: readers run while a writer stores batches", "[storage]") {
  const std::string backend = GENERATE("sqlite", "postgresql");
  CAPTURE(backend);
  TestDatabase db(backend);
  auto storage = db.open();
  constexpr int batches = 20, per_batch = 50;
  std::atomic<bool> writing{true};
  std::atomic<int> reads{0}, torn{0};
  std::thread reader([&] {  // no Catch assertions off the main thread: it counts, the main thread checks
    try {
      while (writing) {
        const auto f = storage->summary(t0, 24h);
        if (f.reports_stored % per_batch != 0) ++torn;  // a batch is all or nothing to a reader
        storage->devices(Filter().status("pass"), t0);
        ++reads;
      }
    } catch (const std::exception&) {
      reads = -1'000'000;  // a failed read fails the test below
    }
  });
  auto write_all = [&] {
    for (int b = 0; b < batches; ++b) {
      std::vector<IncomingReport> batch;
      for (int i = 0; i < per_batch; ++i)
        batch.push_back(report("r" + std::to_string(b) + "-" + std::to_string(i), "pos-" + std::to_string(i), "s",
                               t0 - std::chrono::minutes(batches - b)));
      storage->store_reports(batch);
    }
  };
  std::exception_ptr failure;
  try {
    write_all();
  } catch (...) {
    failure = std::current_exception();
  }
  writing = false;
  reader.join();
  if (failure) std::rethrow_exception(failure);
  CHECK(reads > 0);
  CHECK(torn == 0);
  CHECK(storage->summary(t0, 24h).reports_stored == batches * per_batch);
  CHECK(storage->summary(t0, 24h).devices == per_batch);
}

TEST_CASE("storage: PostgreSQL reconnects once when the server dropped the connection", "[storage]") {
  TestDatabase db("postgresql");
  auto storage = db.open();
  storage->add_token(token("tok", "store-1", 5, t0 + 1h));
  CHECK(storage->store_reports({report("r1", "pos-1", "s", t0 - 1h)})[0] == IngestOutcome::stored);
  REQUIRE(db.cut_connections() >= 1);
  // The pooled connection is dead; the next call finds out, reconnects and succeeds.
  CHECK(storage->store_reports({report("r2", "pos-1", "s", t0)})[0] == IngestOutcome::stored);
  REQUIRE(db.cut_connections() >= 1);
  std::string store;
  CHECK(storage->use_token("tok", t0, store) == TokenUse::accepted);
  REQUIRE(db.cut_connections() >= 1);
  CHECK(storage->summary(t0, 24h).reports_stored == 2);
  CHECK(storage->device("pos-1", 10)->summary.last_report_id == "r2");
}

TEST_CASE("storage: PostgreSQL does not run a token use again when the connection broke during its COMMIT",
          "[storage]") {
  TestDatabase db("postgresql");
  auto storage = db.open();
  storage->add_token(token("tok", "store-1", 5, t0 + 1h));
  // The first COMMIT that spends a use ends its own session, as a server crash right then would. The
  // sequence is not transactional, so only the first attempt dies.
  db.raw(
      "CREATE SEQUENCE commits_seen;"
      "CREATE FUNCTION die_at_first_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
      " IF nextval('commits_seen') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;"
      " RETURN NULL; END $$;"
      "CREATE CONSTRAINT TRIGGER die_at_commit AFTER UPDATE ON tokens DEFERRABLE INITIALLY DEFERRED"
      " FOR EACH ROW EXECUTE FUNCTION die_at_first_commit()");
  std::string store;
  // Whether the use was spent is unknown to the console: it says so instead of spending another.
  CHECK_THROWS_WITH(storage->use_token("tok", t0, store), ContainsSubstring("may or may not"));
  REQUIRE(storage->find_token("tok"));
  CHECK(storage->find_token("tok")->uses_left == 5);  // this server rolled it back; it was not run twice
  CHECK(storage->use_token("tok", t0, store) == TokenUse::accepted);
  CHECK(storage->find_token("tok")->uses_left == 4);
  // A break before the COMMIT went out is retried (the pooled connection died while idle).
  REQUIRE(db.cut_connections() >= 1);
  storage->record_enrollment(certificate("pos-1", "store-1", "0c01"));
  REQUIRE(db.cut_connections() >= 1);
  CHECK(storage->use_token("tok", t0, store) == TokenUse::accepted);
  CHECK(storage->find_token("tok")->uses_left == 3);
  CHECK(storage->enrollment_state("pos-1") != EnrollmentState::unknown);
}
