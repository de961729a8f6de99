// The cache vault in the Windows build: a real plaintext SQLite cache on the Windows file system,
// migrated in place to SQLCipher (libtomcrypt provider), reopened with its key and refused with
// another, locked across handles with LockFileEx.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

#include "cache/cache_vault.hpp"
#include "cache/key_hierarchy.hpp"
#include "cache/sqlite.hpp"
#include "core/file_system.hpp"

using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
using namespace std::chrono_literals;
using postured::CacheOperation;
using postured::CacheVault;
using postured::SecretKey;

namespace {

namespace fs = std::filesystem;

// SQLite's C API takes UTF-8 file names.
std::string utf8(const fs::path& path) {
  const auto text = path.u8string();
  return {text.begin(), text.end()};
}

void sql(sqlite3* db, const std::string& statements) {
  char* message = nullptr;
  if (sqlite3_exec(db, statements.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string why = message ? message : "?";
    sqlite3_free(message);
    throw std::runtime_error("sql failed: " + why);
  }
}

// A fresh folder under the Windows temporary folder: state dir and cache, removed afterwards.
struct VaultFolder {
  VaultFolder() {
    std::random_device random;
    root = fs::temp_directory_path() / ("postured-core-cache-" + std::to_string(random()));
    fs::create_directories(root / "state");
    cache.name = "loyalty";
    cache.path = root / "loyalty.db";
    master.data()[0] = 0x5a;
    master.data()[31] = 0xa5;
  }
  ~VaultFolder() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
  VaultFolder(const VaultFolder&) = delete;
  VaultFolder& operator=(const VaultFolder&) = delete;

  // A plaintext POS cache with `rows` customers, as the POS software leaves it.
  void make_plain_cache(int rows) const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(utf8(cache.path).c_str(), &db) == SQLITE_OK);
    sql(db, "PRAGMA journal_mode = wal; PRAGMA user_version = 9;"
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, points INTEGER);"
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows) +
            ") INSERT INTO customers SELECT i, 'customer' || i || '@example.com', i % 1000 FROM n;");
    sqlite3_close(db);
  }

  // count(*) of customers read with `key` (or none); -1 when the file cannot be read with it.
  long long count_with(const SecretKey* key) const {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(utf8(cache.path).c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      return -1;
    }
    if (key) {
      const auto literal = postured::sqlcipher_key_literal(*key);
      sqlite3_key(db, literal.str().data(), static_cast<int>(literal.str().size()));
    }
    long long count = -1;
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM customers", -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      count = sqlite3_column_int64(statement, 0);
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return count;
  }

  fs::path root;
  postured::CacheConfig cache;
  SecretKey master;
};

}  // namespace

TEST_CASE("core: a plaintext cache is encrypted in place and reopened with its key", "[core][cache]") {
  VaultFolder f;
  f.make_plain_cache(500);
  REQUIRE(f.count_with(nullptr) == 500);
  CacheVault vault(f.root / "state", f.master);
  CHECK(vault.status(f.cache).is_problem());  // not encrypted yet

  const auto result = vault.encrypt(f.cache, 5s);
  INFO(result.detail);
  REQUIRE(result.outcome == CacheOperation::Outcome::done);
  CHECK(result.rows == 500);
  CHECK_FALSE(postured::is_plaintext_sqlite(f.cache.path));
  CHECK(f.count_with(nullptr) == -1);  // nothing without the key
  const auto key = postured::derive_cache_key(f.master, f.cache.name, 0);
  CHECK(f.count_with(&key) == 500);
  for (const char* leftover : {".postured-tmp", ".postured-plain"}) {
    CHECK_FALSE(fs::exists(f.cache.path.string() + leftover));
  }

  // A second vault (as after a restart) opens it again with the same master key.
  CacheVault reopened(f.root / "state", f.master);
  const auto status = reopened.status(f.cache);
  INFO(status.error);
  CHECK_FALSE(status.is_problem());
  CHECK(status.encrypted);
  CHECK(status.rows == 500);
  CHECK_THAT(status.cipher_version, StartsWith("4.6"));
  CHECK(reopened.encrypt(f.cache, 5s).outcome == CacheOperation::Outcome::nothing_to_do);
}

TEST_CASE("core: an encrypted cache is refused with a wrong key and left untouched", "[core][cache]") {
  VaultFolder f;
  f.make_plain_cache(50);
  REQUIRE(CacheVault(f.root / "state", f.master).encrypt(f.cache, 5s).outcome == CacheOperation::Outcome::done);
  const auto size_before = fs::file_size(f.cache.path);

  SecretKey other = f.master;
  other.data()[0] ^= 1;
  CacheVault wrong(f.root / "state", other);
  const auto status = wrong.status(f.cache);
  CHECK(status.is_problem());
  CHECK_THAT(status.error, ContainsSubstring("does not open it"));
  CHECK(wrong.encrypt(f.cache, 1s).outcome == CacheOperation::Outcome::failed);
  const auto wrong_key = postured::derive_cache_key(other, f.cache.name, 0);
  CHECK(f.count_with(&wrong_key) == -1);
  CHECK(fs::file_size(f.cache.path) == size_before);
  const auto key = postured::derive_cache_key(f.master, f.cache.name, 0);
  CHECK(f.count_with(&key) == 50);
}

TEST_CASE("core: SQLCipher on Windows uses libtomcrypt and SQLCipher 4.6", "[core][cache]") {
  VaultFolder f;
  f.make_plain_cache(1);
  REQUIRE(CacheVault(f.root / "state", f.master).encrypt(f.cache, 5s).outcome == CacheOperation::Outcome::done);
  std::string error;
  auto db = postured::Database::open(f.cache.path, error);
  REQUIRE(db);
  REQUIRE(db->key(postured::derive_cache_key(f.master, f.cache.name, 0)));
  REQUIRE(db->readable());
  CHECK(db->scalar("PRAGMA cipher_provider;") == "libtomcrypt");
  const auto version = db->scalar("PRAGMA cipher_version;");
  REQUIRE(version);
  CHECK_THAT(*version, StartsWith("4.6"));
}

TEST_CASE("core: a lock file is exclusive across handles until released", "[core][cache]") {
  VaultFolder f;
  const auto path = f.root / "state" / "x.lock";
  postured::FileLock first(path);
  postured::FileLock second(path);
  REQUIRE(first.is_open());
  REQUIRE(second.is_open());
  CHECK(first.try_lock());
  CHECK_FALSE(second.try_lock());
  first.close();
  CHECK(second.try_lock());
}
