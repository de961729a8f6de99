// posturectl cache enforce and postured --once on real SQLCipher caches: purges, transforms, PAN
// findings, idempotence, dry run, refusals, evidence, and the sqlcipher CLI reading the result.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "privacy/enforcer.hpp"
#include "support/minimization_fixture.hpp"

using Catch::Matchers::ContainsSubstring;
using namespace postured;
using postured::test::MinimizationRig;

namespace {

// 1400 customers (see MinimizationRig::make_plain): 100 cancelled, 420 past retention, 140 with no
// last_seen and 140 with an unreadable one; 880 remain. 350 receipts, 175 past retention.
constexpr int kCustomers = 1400;
constexpr long long kCustomersLeft = 880;
constexpr long long kReceiptsLeft = 175;
constexpr long long kTransformed = kCustomersLeft * 6 + 2 + kReceiptsLeft;

const nlohmann::json& table(const nlohmann::json& cache, const std::string& name) {
  for (const auto& t : cache["tables"]) {
    if (t["table"] == name) return t;
  }
  throw std::runtime_error("no table " + name);
}

// Nothing of a row's content, nor a full card number, in what the command printed.
void check_no_row_content(const postured::test::Ran& r) {
  for (const auto* text : {&r.out, &r.err}) {
    for (const char* secret : {"4111111111111111", "5555 5555 5555 4444", "5555555555554444", "378282246310005",
                               "4012888888881881", "@example.com", "Customer 1", "regular customer", "+44 7700"}) {
      INFO(secret);
      CHECK(text->find(secret) == std::string::npos);
    }
  }
}

unsigned mode_of(const std::filesystem::path& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("cache enforce purges, transforms and reports PANs masked; a second run changes nothing",
          "[privacy][enforce]") {
  MinimizationRig rig;
  rig.make_encrypted(kCustomers);
  const auto first = rig.enforce({"--json"});
  check_no_row_content(first);
  CHECK(first.exit_code == 1);  // a PAN is left in customers.notes, which the policy only reports
  const auto doc = nlohmann::json::parse(first.out);
  CHECK(doc["schema"] == "postured.cache_enforce/v1");
  CHECK(doc["dry_run"] == false);
  const auto& cache = doc["caches"][0];
  CHECK(cache["outcome"] == "enforced");
  CHECK(cache["purged_rows"] == 100 + 420 + 175);
  CHECK(cache["transformed_values"] == kTransformed);
  CHECK(cache["pan_findings"] == 4);
  CHECK(cache["pans_left"] == 1);
  const auto& customers = table(cache, "customers");
  CHECK(customers["condition_purged"] == 100);
  CHECK(customers["retention_purged"] == 420);
  CHECK(customers["null_timestamps"] == 140);
  CHECK(customers["unparseable_timestamps"] == 140);
  CHECK(customers["transformed_by_column"]["email"] == kCustomersLeft);
  CHECK(customers["transformed_by_column"]["card"] == 2);
  CHECK(customers["unlisted_columns"] == nlohmann::json::array({"notes"}));
  CHECK(table(cache, "receipts")["retention_purged"] == 175);
  CHECK(table(cache, "receipts")["transformed_by_column"]["memo"] == kReceiptsLeft);

  // Findings: masked, located, and what was done with each.
  std::map<std::string, std::string> actions;
  for (const auto& f : cache["findings"]) {
    CHECK(f["cache"] == "loyalty");
    actions[f["table"].get<std::string>() + "." + f["column"].get<std::string>() + ":" +
            std::to_string(f["rowid"].get<long long>())] =
        f["kind"].get<std::string>() + " " + f["masked"].get<std::string>() + " " + f["action"].get<std::string>();
  }
  CHECK(actions == std::map<std::string, std::string>{{"customers.card:2", "pan 411111******1111 truncated"},
                                                      {"customers.notes:4", "pan 555555******4444 reported"},
                                                      {"customers.card:6", "track2 401288******1881 truncated"},
                                                      {"receipts.memo:1", "pan 378282*****0005 nulled"}});

  // The cache: every row the policy keeps is there, in the policy's form.
  CHECK(rig.number("SELECT count(*) FROM customers;") == kCustomersLeft);
  CHECK(rig.number("SELECT count(*) FROM receipts;") == kReceiptsLeft);
  CHECK(rig.number("SELECT count(*) FROM customers WHERE id % 2 = 0 AND id % 14 <> 0;") == 600);
  CHECK(rig.number("SELECT count(*) FROM customers WHERE last_seen IS NULL OR last_seen = 'last winter';") == 280);
  CHECK(rig.number("SELECT count(*) FROM customers WHERE email LIKE 'hmac:%' AND length(email) = 69;") ==
        kCustomersLeft);
  CHECK(rig.query("SELECT name FROM customers WHERE id = 12;") == "C**********");
  CHECK(rig.query("SELECT phone FROM customers WHERE id = 12;") == "***********0012");
  CHECK(rig.query("SELECT birth_date FROM customers WHERE id = 12;") == "1952");
  CHECK(rig.query("SELECT postcode FROM customers WHERE id = 12;") == "SW1");
  CHECK(rig.query("SELECT age FROM customers WHERE id = 12;") == "30-39");
  CHECK(rig.query("SELECT card FROM customers WHERE id = 2;") == "411111******1111");
  CHECK(rig.query("SELECT card FROM customers WHERE id = 6;") == "401288******1881");
  CHECK(rig.query("SELECT notes FROM customers WHERE id = 4;") == "paid with 5555 5555 5555 4444 yesterday");
  CHECK(rig.query("SELECT count(*) FROM receipts WHERE memo IS NOT NULL;") == "0");
  CHECK(rig.query("PRAGMA auto_vacuum;") == "2");
  CHECK(rig.query("PRAGMA integrity_check;") == "ok");
  CHECK(rig.query("PRAGMA cipher_integrity_check;") == "<none>");

  // Evidence: one line per run, counts only; the last run's figures for the report.
  const auto evidence = rig.state / "evidence" / "loyalty.jsonl";
  REQUIRE(std::filesystem::exists(evidence));
  CHECK(mode_of(evidence) == 0600);
  CHECK(mode_of(evidence.parent_path()) == 0700);
  auto lines = postured::test::read_bytes(evidence);
  CHECK(std::count(lines.begin(), lines.end(), '\n') == 1);
  const auto line = nlohmann::json::parse(lines.substr(0, lines.find('\n')));
  CHECK(line["schema"] == "postured.enforcement_evidence/v1");
  CHECK(line["purged_rows"] == 695);
  CHECK(line["policy_sha256"].get<std::string>().size() == 64);
  CHECK(lines.find("@example.com") == std::string::npos);
  CHECK(lines.find("411111") == std::string::npos);  // not even masked numbers: counts only

  // A second run finds nothing to do and writes nothing to the cache.
  const auto before = postured::test::read_bytes(rig.db);
  const auto second = rig.enforce({"--json"});
  CHECK(second.exit_code == 1);
  const auto again = nlohmann::json::parse(second.out)["caches"][0];
  CHECK(again["purged_rows"] == 0);
  CHECK(again["transformed_values"] == 0);
  CHECK(again["pan_findings"] == 1);
  CHECK(again["auto_vacuum_converted"] == false);
  CHECK(postured::test::read_bytes(rig.db) == before);
  lines = postured::test::read_bytes(evidence);
  CHECK(std::count(lines.begin(), lines.end(), '\n') == 2);
}

TEST_CASE("cache enforce --dry-run changes nothing and reports exactly what a run would do", "[privacy][enforce]") {
  MinimizationRig rig;
  rig.make_encrypted(kCustomers, "delete");
  const auto before = postured::test::read_bytes(rig.db);
  const auto dry = rig.enforce({"--dry-run", "--json"});
  check_no_row_content(dry);
  CHECK(dry.exit_code == 1);
  const auto planned = nlohmann::json::parse(dry.out)["caches"][0];
  CHECK(planned["outcome"] == "dry_run");
  CHECK(postured::test::read_bytes(rig.db) == before);
  CHECK_FALSE(std::filesystem::exists(rig.state / "evidence" / "loyalty.jsonl"));

  const auto done = nlohmann::json::parse(rig.enforce({"--json"}).out)["caches"][0];
  for (const char* figure :
       {"purged_rows", "transformed_values", "pan_findings", "pans_left", "auto_vacuum_converted"}) {
    INFO(figure);
    CHECK(planned[figure] == done[figure]);
  }
  CHECK(planned["tables"] == done["tables"]);

  // The table for a person says the same, and that nothing changed.
  const auto table_out = rig.enforce({"--dry-run"});
  CHECK_THAT(table_out.out, ContainsSubstring("loyalty: dry run, nothing changed"));
  CHECK_THAT(table_out.out,
             ContainsSubstring("pan mastercard 555555******4444 in customers.notes (rowid 4): would be reported"));
  check_no_row_content(table_out);
}

TEST_CASE("cache enforce --dry-run shows a policy table or column the cache lacks, as FILE:LINE:COL",
          "[privacy][enforce]") {
  MinimizationRig rig(R"([[table]]
name = "customers"
columns.emial = "hmac"
columns.name = "null"

[[table]]
name = "recipts"
)");
  rig.make_encrypted(20);
  const auto before = postured::test::read_bytes(rig.db);
  const auto r = rig.enforce({"--dry-run"});
  CHECK(r.exit_code == 2);
  const auto file = rig.policy.string();
  CHECK_THAT(r.err, ContainsSubstring(file + ":3:9: table 'customers' has no column 'emial'; did you mean 'email'?"));
  CHECK_THAT(r.err, ContainsSubstring(file + ":4:9: column 'name' is NOT NULL, so it cannot be nulled"));
  CHECK_THAT(r.err, ContainsSubstring(file + ":7:8: the cache has no table 'recipts'; did you mean 'receipts'?"));
  // A real run refuses the same way and touches nothing.
  CHECK(rig.enforce().exit_code == 2);
  CHECK(postured::test::read_bytes(rig.db) == before);
}

TEST_CASE("cache enforce reports policy file errors as FILE:LINE:COL and exits 2", "[privacy][enforce]") {
  MinimizationRig rig("[[table]]\nname = \"customers\"\ncolumns.email = \"hash\"\n");
  rig.make_encrypted(20);
  const auto r = rig.enforce();
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, ContainsSubstring(rig.policy.string() + ":3:17: 'table.customers.columns.email' is \"hash\""));
  CHECK(rig.enforce({"nosuch"}).exit_code == 2);
}

TEST_CASE("cache enforce refuses a cache that is not encrypted", "[privacy][enforce]") {
  MinimizationRig rig;
  rig.make_plain(100);
  const auto before = postured::test::read_bytes(rig.db);
  const auto r = rig.enforce({"loyalty"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err,
             ContainsSubstring("loyalty: the cache is not encrypted; enforcement runs only on encrypted caches"));
  CHECK(postured::test::read_bytes(rig.db) == before);
  CHECK(postured::test::count_rows(rig.db, "customers") == 100);
  CHECK_FALSE(std::filesystem::exists(rig.state / "evidence" / "loyalty.jsonl"));
}

TEST_CASE("the sqlcipher CLI opens an enforced cache with its key", "[privacy][enforce][interop]") {
  MinimizationRig rig;
  rig.make_encrypted(kCustomers);
  REQUIRE(rig.enforce().exit_code == 1);
  const auto script = rig.dir.path() / "script.sql";
  std::ofstream(script) << "PRAGMA key = \"" << sqlcipher_key_literal(rig.key()).str()
                        << "\";\nSELECT count(*) FROM customers;\nSELECT card FROM customers WHERE id = 2;\n"
                           "PRAGMA integrity_check;\n";
  const auto r =
      postured::test::run({"/bin/sh", "-c", "exec sqlcipher -batch \"$0\" < \"$1\"", rig.db.string(), script.string()});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "ok\n880\n411111******1111\nok\n");
}

TEST_CASE("retention on a real cache: the boundary, time zones, NULL and unreadable timestamps, Unix millis",
          "[privacy][enforce][retention]") {
  MinimizationRig rig(R"([[table]]
name = "visits"
[table.retention]
column = "at"
keep_days = 30

[[table]]
name = "events"
[table.retention]
column = "at_ms"
format = "unix_millis"
keep_days = 1
)");
  {
    sqlite3* handle = nullptr;
    sqlite3_open(rig.db.c_str(), &handle);
    // now = 2026-11-26T12:00:00Z; the boundary is 2026-10-27T12:00:00Z.
    postured::test::sql(
        handle,
        "CREATE TABLE visits (id INTEGER PRIMARY KEY, at TEXT);"
        "INSERT INTO visits (id, at) VALUES"
        " (1, '2026-10-27T12:00:00Z'), (2, '2026-10-27T11:59:59.999Z'), (3, '2026-10-27T14:00:00+02:00'),"
        " (4, '2026-10-27T13:59:59+02:00'), (5, '2026-10-27T12:00:00'), (6, '2026-10-27'),"
        " (7, '2026-10-28'), (8, NULL), (9, 'soon'), (10, 1700000000), (11, '2026-10-27T07:00:00-05:00'),"
        " (12, '2026-10-27T06:59:59-05:00');"
        "CREATE TABLE events (id INTEGER PRIMARY KEY, at_ms INTEGER);"
        "INSERT INTO events VALUES (1, 1795608000000), (2, 1795607999999), (3, NULL), (4, 'x');");
    sqlite3_close(handle);
    CacheVault vault(rig.state, rig.master);
    REQUIRE(vault.encrypt(rig.cache(), std::chrono::seconds(5)).outcome == CacheOperation::Outcome::done);
  }
  privacy::EnforceOptions options;
  options.now = std::chrono::system_clock::time_point(std::chrono::seconds(1795694400));  // 2026-11-26T12:00:00Z
  const privacy::PanDetector detector;
  const auto result = privacy::enforce_cache(rig.cache(), rig.state, rig.master, detector, options);
  REQUIRE(result.outcome == privacy::CacheEnforcement::Outcome::enforced);
  const auto& events = result.figures.tables[0];
  const auto& visits = result.figures.tables[1];
  CHECK(visits.retention_purged == 4);  // rows 2, 4, 6 and 12: a millisecond or more past the boundary
  CHECK(visits.null_timestamps == 1);
  CHECK(visits.unparseable_timestamps == 2);  // 'soon', and an INTEGER in an ISO 8601 column
  CHECK(rig.query("SELECT group_concat(id) FROM (SELECT id FROM visits ORDER BY id);") == "1,3,5,7,8,9,10,11");
  CHECK(events.retention_purged == 1);
  CHECK(events.null_timestamps == 1);
  CHECK(events.unparseable_timestamps == 1);
  CHECK(rig.query("SELECT group_concat(id) FROM (SELECT id FROM events ORDER BY id);") == "1,3,4");
}

TEST_CASE("postured --once enforces the policies and reports each cache's figures", "[privacy][enforce][daemon]") {
  MinimizationRig rig;
  rig.make_encrypted(kCustomers);
  const auto r = postured::test::run({postured::test::bin("postured"), "--once", "--config", rig.config.string()});
  CHECK(r.exit_code == 1);  // the PAN the policy leaves in customers.notes is a problem
  check_no_row_content(r);
  const auto report = nlohmann::json::parse(postured::test::read_bytes(rig.state / "last-report.json"));
  REQUIRE(report["caches"].size() == 1);
  const auto& cache = report["caches"][0];
  CHECK(cache["name"] == "loyalty");
  CHECK(cache["encrypted"] == true);
  CHECK(cache["rows"] == kCustomersLeft + kReceiptsLeft);
  CHECK(cache["purged_rows"] == 695);
  CHECK(cache["transformed_values"] == kTransformed);
  CHECK(cache["pan_findings"] == 4);
  CHECK(cache["pans_left"] == 1);
  CHECK(cache["last_enforced_at"].get<std::string>().size() == 20);
  CHECK_THAT(r.err, ContainsSubstring("cache loyalty: policy enforced: 695 rows purged"));
}

TEST_CASE("a cache without incremental auto-vacuum is switched to it once, by a VACUUM", "[privacy][enforce]") {
  MinimizationRig rig;
  rig.make_encrypted(kCustomers);
  {
    sqlite3* handle = nullptr;
    sqlite3_open(rig.db.c_str(), &handle);
    const auto literal = sqlcipher_key_literal(rig.key());
    sqlite3_key(handle, literal.str().data(), static_cast<int>(literal.str().size()));
    postured::test::sql(
        handle,
        "PRAGMA auto_vacuum = NONE; VACUUM;");  // as caches migrated before the vault set incremental auto-vacuum
    sqlite3_close(handle);
  }
  REQUIRE(rig.query("PRAGMA auto_vacuum;") == "0");
  const auto first = nlohmann::json::parse(rig.enforce({"--json"}).out)["caches"][0];
  CHECK(first["auto_vacuum_converted"] == true);
  CHECK(rig.query("PRAGMA auto_vacuum;") == "2");
  CHECK(rig.query("PRAGMA freelist_count;") == "0");
  CHECK(rig.number("SELECT count(*) FROM customers;") == kCustomersLeft);
  const auto second = nlohmann::json::parse(rig.enforce({"--json"}).out)["caches"][0];
  CHECK(second["auto_vacuum_converted"] == false);
  CHECK(second["transformed_values"] == 0);
}
