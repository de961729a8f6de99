// A POS loyalty cache with personal data, timestamps and card numbers in it, encrypted by the vault,
// with a minimization policy and a config that declares both: for the enforcement tests.
#pragma once

#include <sqlite3.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include "cache/cache_vault.hpp"
#include "cache/key_hierarchy.hpp"
#include "core/key_store.hpp"
#include "support/cache_fixture.hpp"
#include "support/fixture_root.hpp"
#include "support/process.hpp"

namespace postured::test {

// ISO 8601 text for `days` days before now, with the given zone suffix ("Z", "+02:00" or "").
inline std::string iso_days_ago(int days, const std::string& zone = "Z") {
  const std::time_t t = std::time(nullptr) - static_cast<std::time_t>(days) * 86400;
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  if (zone == "+02:00") {
    // The same instant written in UTC+2.
    const std::time_t shifted = t + 2 * 3600;
    gmtime_r(&shifted, &utc);
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  }
  return std::string(text) + zone;
}

// The policy the enforcement tests use: every transform, retention on text and on Unix seconds,
// a delete condition, and both defaults for unlisted columns.
inline constexpr const char* kLoyaltyPolicy = R"(# test policy
unlisted_columns = "report"

[[table]]
name = "customers"
columns.id = "keep"
columns.name = { transform = "mask", keep_first = 1 }
columns.email = "hmac"
columns.phone = { transform = "mask", keep_last = 4 }
columns.birth_date = { transform = "generalize", to = "year" }
columns.postcode = { transform = "generalize", to = "prefix", length = 3 }
columns.age = { transform = "generalize", to = "age_band", width = 10 }
columns.card = "truncate_pan"
columns.status = "keep"

[table.retention]
column = "last_seen"
keep_days = 730

[[table.delete_row_if]]
column = "status"
equals = "cancelled"

[[table]]
name = "receipts"
unlisted_columns = "null"
columns.customer_id = "keep"
columns.total_cents = "keep"

[table.retention]
column = "created_at"
format = "unix_seconds"
keep_days = 365
)";

class MinimizationRig {
 public:
  FixtureRoot dir;
  std::filesystem::path db = dir.path() / "pos" / "loyalty.db";
  std::filesystem::path state = dir.path() / "state";
  std::filesystem::path policy = dir.path() / "policies" / "loyalty.toml";
  std::filesystem::path config = dir.path() / "postured.toml";
  SecretKey master;

  explicit MinimizationRig(const std::string& policy_text = kLoyaltyPolicy) {
    std::filesystem::create_directories(db.parent_path());
    std::filesystem::create_directories(policy.parent_path());
    master = *open_master_key_store(state)->load(true).key;
    write_policy(policy_text);
    std::ofstream(config) << "[agent]\nstore_id = \"s\"\nstate_dir = \"" << state.string()
                          << "\"\n[[cache]]\nname = \"loyalty\"\npath = \"" << db.string() << "\"\npolicy = \""
                          << policy.string() << "\"\n";
  }

  void write_policy(const std::string& text) const { std::ofstream(policy, std::ios::trunc) << text; }

  CacheConfig cache() const { return CacheConfig{"loyalty", db, {}, -1, policy}; }
  SecretKey key() const { return derive_cache_key(master, "loyalty", 0); }

  // `customers` rows: even ids were seen 10 days ago (kept), odd ids 1000 days ago (purged), except
  // that id % 10 == 3 has no last_seen and id % 10 == 5 an unreadable one (both kept); id % 14 == 0
  // is cancelled (purged). Row 2 holds a card number in `card`, row 4 one in `notes` (not in the
  // policy), row 6 a track 2 in `card`. Receipts: one per customer with id % 4 == 0, half of them
  // older than a year, each with a memo (not in the policy) that row 8's receipt fills with a PAN.
  void make_plain(int customers, const std::string& journal_mode = "wal") const {
    sqlite3* handle = nullptr;
    if (sqlite3_open(db.c_str(), &handle) != SQLITE_OK) throw std::runtime_error("cannot create the cache");
    sql(handle, "PRAGMA journal_mode = " + journal_mode + ";");
    sql(handle,
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, phone TEXT,"
        " birth_date TEXT, postcode TEXT, age INTEGER, card TEXT, notes TEXT, status TEXT, last_seen TEXT);"
        "CREATE TABLE receipts (id INTEGER PRIMARY KEY, customer_id INTEGER, total_cents INTEGER,"
        " created_at INTEGER, memo TEXT);"
        "CREATE INDEX customers_by_last_seen ON customers(last_seen);");
    const std::string recent = iso_days_ago(10, "+02:00");
    const std::string old = iso_days_ago(1000);
    const std::string n = std::to_string(customers);
    const std::string now = std::to_string(std::time(nullptr));
    sql(handle,
        "BEGIN; WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < " + n +
            ") INSERT INTO customers SELECT i, 'Customer ' || i, 'customer' || i || '@example.com',"
            " '+44 7700 9' || printf('%05d', i), printf('19%02d-%02d-%02d', 40 + i % 60, 1 + i % 12, 1 + i % 28),"
            " 'SW' || (i % 20) || 'A ' || (i % 10) || 'AA', 18 + i % 70, NULL, 'regular customer',"
            " CASE WHEN i % 14 = 0 THEN 'cancelled' ELSE 'active' END,"
            " CASE WHEN i % 10 = 3 THEN NULL WHEN i % 10 = 5 THEN 'last winter' WHEN i % 2 = 0 THEN '" +
            recent + "' ELSE '" + old +
            "' END FROM k;"
            "UPDATE customers SET card = '4111111111111111' WHERE id = 2;"
            "UPDATE customers SET notes = 'paid with 5555 5555 5555 4444 yesterday' WHERE id = 4;"
            "UPDATE customers SET card = ';4012888888881881=29121010000012345678?' WHERE id = 6;"
            "INSERT INTO receipts (customer_id, total_cents, created_at, memo) SELECT id, id * 7 % 10000,"
            " CASE WHEN id % 8 = 0 THEN " +
            now + " - 400 * 86400 ELSE " + now +
            " - 30 * 86400 END,"
            " 'till 3' FROM customers WHERE id % 4 = 0;"
            "UPDATE receipts SET memo = 'refund to 378282246310005' WHERE customer_id = 4;"
            "COMMIT;");
    sqlite3_close(handle);
  }

  // A plaintext cache made and migrated by the vault.
  void make_encrypted(int customers, const std::string& journal_mode = "wal") const {
    make_plain(customers, journal_mode);
    CacheVault vault(state, master);
    const auto result = vault.encrypt(cache(), std::chrono::seconds(5));
    if (result.outcome != CacheOperation::Outcome::done) throw std::runtime_error("encrypt failed: " + result.detail);
  }

  // The first column of the first row of `statement`, read with the key; "<error>" when it fails.
  std::string query(const std::string& statement) const {
    sqlite3* handle = nullptr;
    sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READWRITE, nullptr);
    const auto literal = sqlcipher_key_literal(key());
    sqlite3_key(handle, literal.str().data(), static_cast<int>(literal.str().size()));
    sqlite3_stmt* s = nullptr;
    std::string value = "<error>";
    if (sqlite3_prepare_v2(handle, statement.c_str(), -1, &s, nullptr) == SQLITE_OK) {
      const int rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) {
        const auto* text = sqlite3_column_text(s, 0);
        value = text ? reinterpret_cast<const char*>(text) : "<null>";
      } else if (rc == SQLITE_DONE) {
        value = "<none>";
      }
    }
    sqlite3_finalize(s);
    sqlite3_close(handle);
    return value;
  }
  long long number(const std::string& statement) const { return std::stoll(query(statement)); }

  Ran enforce(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> argv{bin("posturectl"), "cache", "enforce"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--config", config.string()});
    return run(argv);
  }
};

}  // namespace postured::test
