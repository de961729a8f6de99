// A second SQLCipher client, the sqlcipher CLI (4.6 from bookworm-backports), against what the agent
// encrypts: it reads every row with the key and nothing without it; no customer value is in the file.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "support/cache_fixture.hpp"
#include "support/fixture_root.hpp"
#include "support/process.hpp"

using Catch::Matchers::ContainsSubstring;
using postured::test::bin;
using postured::test::FixtureRoot;
using postured::test::run;

namespace {

// Runs the sqlcipher CLI with `script` on stdin, so the key never appears in its argv.
postured::test::Ran sqlcipher(const FixtureRoot& dir, const std::filesystem::path& db, const std::string& script) {
  const auto script_file = dir.path() / "script.sql";
  std::ofstream(script_file, std::ios::trunc) << script;
  return run({"/bin/sh", "-c", "exec sqlcipher -batch \"$0\" < \"$1\"", db.string(), script_file.string()});
}

bool contains_bytes(const std::filesystem::path& file, const std::string& needle) {
  return postured::test::read_bytes(file).find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("the sqlcipher CLI reads an agent-encrypted cache with the key, and nothing without it", "[cache][interop]") {
  FixtureRoot dir;
  const auto db = dir.path() / "loyalty.db";
  postured::test::make_plain_cache(db, 3000);
  const auto config = dir.path() / "postured.toml";
  std::ofstream(config) << "[agent]\nstore_id = \"s\"\nstate_dir = \"" << (dir.path() / "state").string()
                        << "\"\n[[cache]]\nname = \"loyalty\"\npath = \"" << db.string() << "\"\n";
  const auto encrypted = run({bin("posturectl"), "cache", "encrypt", "loyalty", "--config", config.string()});
  REQUIRE(encrypted.exit_code == 0);
  CHECK_THAT(encrypted.out, ContainsSubstring("loyalty: encrypted with SQLCipher, 3750 rows verified"));

  const auto key = postured::derive_cache_key(postured::test::read_master_key(dir.path() / "state"), "loyalty", 0);
  const std::string pragma = "PRAGMA key = \"" + postured::sqlcipher_key_literal(key).str() + "\";\n";
  const auto with_key = sqlcipher(dir, db,
                                  pragma + "SELECT count(*) FROM customers;\nSELECT count(*) FROM receipts;\n"
                                           "SELECT email FROM customers WHERE id = 2999;\nPRAGMA user_version;\n");
  CHECK(with_key.exit_code == 0);
  CHECK(with_key.out == "ok\n3000\n750\ncustomer2999@example.com\n7\n");  // "ok" answers PRAGMA key

  const auto without_key = sqlcipher(dir, db, "SELECT count(*) FROM customers;\n");
  CHECK(without_key.out.find("3000") == std::string::npos);
  CHECK_THAT(without_key.err, ContainsSubstring("file is not a database"));

  auto other = key;
  other.data()[0] ^= 1;
  const auto wrong_key = sqlcipher(dir, db, "PRAGMA key = \"" + postured::sqlcipher_key_literal(other).str() +
                                                "\";\nSELECT count(*) FROM customers;\n");
  CHECK(wrong_key.out.find("3000") == std::string::npos);
  CHECK_THAT(wrong_key.err, ContainsSubstring("file is not a database"));

  // The POS software writes through the key in WAL mode: neither the file nor its WAL shows the value.
  const auto wrote = sqlcipher(dir, db, pragma + "PRAGMA wal_autocheckpoint = 0;\n"
                                                 "INSERT INTO customers (name, email) VALUES ('Zebediah Quux', "
                                                 "'zebediah.quux@example.com');\n"
                                                 "SELECT count(*) FROM customers;\n");
  CHECK(wrote.out == "ok\n0\n3001\n");
  for (const auto& file : {db, std::filesystem::path(db.string() + "-wal")}) {
    if (!std::filesystem::exists(file)) continue;
    INFO(file.string());
    CHECK_FALSE(contains_bytes(file, "Customer Name 1"));
    CHECK_FALSE(contains_bytes(file, "customer2999@example.com"));
    CHECK_FALSE(contains_bytes(file, "Zebediah Quux"));
    CHECK_FALSE(contains_bytes(file, "CREATE TABLE"));
  }
  // strings(1), as an auditor would run it.
  const auto strings = run({"/bin/sh", "-c", "strings \"$0\" | grep -c -e 'Customer Name' -e '@example.com' || true",
                            db.string()});
  CHECK(strings.out == "0\n");

  // After PRAGMA rekey (posturectl cache rotate-key), the CLI reads every row with the next
  // generation's key, and the previous key reads nothing.
  REQUIRE(run({bin("posturectl"), "cache", "rotate-key", "loyalty", "--config", config.string()}).exit_code == 0);
  const auto next = postured::derive_cache_key(postured::test::read_master_key(dir.path() / "state"), "loyalty", 1);
  const auto rotated = sqlcipher(dir, db, "PRAGMA key = \"" + postured::sqlcipher_key_literal(next).str() +
                                              "\";\nSELECT count(*) FROM customers;\nPRAGMA cipher_integrity_check;\n");
  CHECK(rotated.out == "ok\n3001\n");
  const auto previous = sqlcipher(dir, db, pragma + "SELECT count(*) FROM customers;\n");
  CHECK(previous.out.find("3001") == std::string::npos);
}

TEST_CASE("posturectl cache status reports each cache and exits 1 while one is unencrypted", "[cache][cli]") {
  FixtureRoot dir;
  const auto plain = dir.path() / "receipts.db";
  const auto other = dir.path() / "loyalty.db";
  postured::test::make_plain_cache(plain, 10);
  postured::test::make_plain_cache(other, 20);
  const auto config = dir.path() / "postured.toml";
  std::ofstream(config) << "[agent]\nstore_id = \"s\"\nstate_dir = \"" << (dir.path() / "state").string()
                        << "\"\n[[cache]]\nname = \"receipts\"\npath = \"" << plain.string()
                        << "\"\n[[cache]]\nname = \"loyalty\"\npath = \"" << other.string()
                        << "\"\n[[cache]]\nname = \"offline\"\npath = \"" << (dir.path() / "none.db").string() << "\"\n";
  REQUIRE(run({bin("posturectl"), "cache", "encrypt", "loyalty", "--config", config.string()}).exit_code == 0);
  auto r = run({bin("posturectl"), "cache", "status", "--json", "--config", config.string()});
  CHECK(r.exit_code == 1);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["schema"] == "postured.cache_status/v1");
  REQUIRE(doc["caches"].size() == 3);
  CHECK(doc["caches"][0]["name"] == "receipts");
  CHECK(doc["caches"][0]["encrypted"] == false);
  CHECK(doc["caches"][0]["rows"] == 12);  // 10 customers, 2 receipts
  CHECK(doc["caches"][1]["encrypted"] == true);
  CHECK(doc["caches"][1]["rows"] == 25);
  CHECK(doc["caches"][1]["cipher_version"].get<std::string>().rfind("4.", 0) == 0);
  CHECK(doc["caches"][1]["key_generation"] == 0);
  CHECK_FALSE(doc["caches"][1]["last_verified_at"].get<std::string>().empty());
  CHECK(doc["caches"][2]["exists"] == false);
  for (const char* key : {"name", "path", "encrypted", "cipher_version", "rows", "size_bytes", "key_generation",
                          "last_verified_at"}) {
    CHECK(doc["caches"][0].contains(key));
  }
  // The table names no row content either.
  r = run({bin("posturectl"), "cache", "status", "--config", config.string()});
  CHECK_THAT(r.out, ContainsSubstring("receipts         NO"));
  CHECK(r.out.find("example.com") == std::string::npos);

  REQUIRE(run({bin("posturectl"), "cache", "encrypt", "receipts", "--config", config.string()}).exit_code == 0);
  CHECK(run({bin("posturectl"), "cache", "status", "--config", config.string()}).exit_code == 0);
  CHECK(run({bin("posturectl"), "cache", "rotate-key", "receipts", "--config", config.string()}).exit_code == 0);
  CHECK(run({bin("posturectl"), "cache", "verify", "receipts", "--config", config.string()}).exit_code == 0);
  CHECK(run({bin("posturectl"), "cache", "encrypt", "nosuch", "--config", config.string()}).exit_code == 2);
}
