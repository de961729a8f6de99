// CacheVault on real SQLCipher files: migration, verification, rotation, refusal and recovery.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "cache/cache_vault.hpp"
#include "core/key_store.hpp"
#include "support/cache_fixture.hpp"
#include "support/fixture_root.hpp"

using Catch::Matchers::ContainsSubstring;
using namespace postured;
using namespace std::chrono_literals;
using postured::test::count_rows;
using postured::test::FixtureRoot;
using postured::test::make_plain_cache;

namespace {

struct VaultFixture {
  FixtureRoot dir;
  CacheConfig cache;
  SecretKey master;

  VaultFixture() {
    cache.name = "loyalty";
    cache.path = dir.path() / "pos" / "loyalty.db";
    std::filesystem::create_directories(cache.path.parent_path());
    master = *open_master_key_store(state_dir())->load(true).key;
  }
  std::filesystem::path state_dir() const { return dir.path() / "state"; }
  CacheVault vault() const { return CacheVault(state_dir(), master); }
  SecretKey key(unsigned generation) const { return derive_cache_key(master, cache.name, generation); }
  std::string scalar(const std::string& statement, const SecretKey& key) const {
    sqlite3* db = nullptr;
    sqlite3_open(cache.path.c_str(), &db);
    const auto literal = sqlcipher_key_literal(key);
    sqlite3_key(db, literal.str().data(), static_cast<int>(literal.str().size()));
    sqlite3_stmt* s = nullptr;
    std::string value = "<error>";
    if (sqlite3_prepare_v2(db, statement.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return value;
  }
};

}  // namespace

TEST_CASE("a plaintext cache is migrated in place with every row, user_version and WAL mode", "[cache]") {
  VaultFixture f;
  make_plain_cache(f.cache.path, 5000, "wal", 42);
  auto vault = f.vault();
  CHECK(vault.status(f.cache).is_problem());  // unencrypted

  const auto result = vault.encrypt(f.cache, 5s);
  CHECK(result.outcome == CacheOperation::Outcome::done);
  CHECK(result.rows == 5000 + 1250);
  CHECK_FALSE(is_plaintext_sqlite(f.cache.path));
  CHECK(count_rows(f.cache.path, "customers") == -1);  // nothing without the key
  CHECK(count_rows(f.cache.path, "customers", f.key(0)) == 5000);
  CHECK(count_rows(f.cache.path, "receipts", f.key(0)) == 1250);
  CHECK(f.scalar("PRAGMA user_version;", f.key(0)) == "42");
  CHECK(f.scalar("PRAGMA journal_mode;", f.key(0)) == "wal");
  CHECK(f.scalar("SELECT email FROM customers WHERE id = 77;", f.key(0)) == "customer77@example.com");
  CHECK(f.scalar("PRAGMA auto_vacuum;", f.key(0)) == "2");  // incremental: retention can give pages back
  for (const char* leftover : {".postured-tmp", ".postured-plain", "-journal"}) {
    CHECK_FALSE(std::filesystem::exists(f.cache.path.string() + leftover));
  }

  const auto status = vault.status(f.cache);
  CHECK_FALSE(status.is_problem());
  CHECK(status.encrypted);
  CHECK(status.cipher_version.rfind("4.", 0) == 0);
  CHECK(status.rows == 6250);
  CHECK(status.key_generation == 0);
  CHECK_FALSE(status.last_verified_at.empty());
  CHECK(vault.encrypt(f.cache, 5s).outcome == CacheOperation::Outcome::nothing_to_do);
}

TEST_CASE("a rollback-journal cache keeps its journal mode", "[cache]") {
  VaultFixture f;
  make_plain_cache(f.cache.path, 100, "delete", 3);
  REQUIRE(f.vault().encrypt(f.cache, 5s).outcome == CacheOperation::Outcome::done);
  CHECK(f.scalar("PRAGMA journal_mode;", f.key(0)) == "delete");
  CHECK(f.scalar("PRAGMA user_version;", f.key(0)) == "3");
  // Rotation rekeys a private copy in rollback-journal mode, then sets the owner's mode back.
  REQUIRE(f.vault().rotate_key(f.cache, 5s).outcome == CacheOperation::Outcome::done);
  CHECK(f.scalar("PRAGMA journal_mode;", f.key(1)) == "delete");
  CHECK(f.scalar("PRAGMA user_version;", f.key(1)) == "3");
  CHECK(count_rows(f.cache.path, "customers", f.key(1)) == 100);
}

TEST_CASE("a cache that already reclaims free pages keeps auto_vacuum = FULL", "[cache]") {
  VaultFixture f;
  make_plain_cache(f.cache.path, 10, "delete", 0);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(f.cache.path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA auto_vacuum = FULL; VACUUM;", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  REQUIRE(f.vault().encrypt(f.cache, 5s).outcome == CacheOperation::Outcome::done);
  CHECK(f.scalar("PRAGMA auto_vacuum;", f.key(0)) == "1");
}

TEST_CASE("rotation moves the cache to the next key generation; the old key stops working", "[cache]") {
  VaultFixture f;
  make_plain_cache(f.cache.path, 1000);
  auto vault = f.vault();
  REQUIRE(vault.encrypt(f.cache, 5s).outcome == CacheOperation::Outcome::done);
  const auto rotated = vault.rotate_key(f.cache, 5s);
  CHECK(rotated.outcome == CacheOperation::Outcome::done);
  CHECK_THAT(rotated.detail, ContainsSubstring("key generation 1"));
  CHECK(count_rows(f.cache.path, "customers", f.key(0)) == -1);
  CHECK(count_rows(f.cache.path, "customers", f.key(1)) == 1000);
  CHECK(f.scalar("PRAGMA journal_mode;", f.key(1)) == "wal");
  CHECK(f.scalar("PRAGMA user_version;", f.key(1)) == "7");
  CHECK(f.scalar("PRAGMA auto_vacuum;", f.key(1)) == "2");
  CHECK(f.scalar("PRAGMA cipher_integrity_check;", f.key(1)) == "<error>");  // no row: nothing failed
  CHECK(vault.status(f.cache).key_generation == 1);
  for (const char* leftover : {".postured-tmp", ".postured-tmp-journal", ".postured-plain"}) {
    CHECK_FALSE(std::filesystem::exists(f.cache.path.string() + leftover));
  }
  std::string error;
  const auto current = vault.current_key(f.cache, error);
  REQUIRE(current);
  CHECK(std::equal(current->data(), current->data() + 32, f.key(1).data()));
}

TEST_CASE("a rotation killed before it recorded the new generation is found on the next open", "[cache]") {
  VaultFixture f;
  make_plain_cache(f.cache.path, 100);
  auto vault = f.vault();
  REQUIRE(vault.encrypt(f.cache, 5s).outcome == CacheOperation::Outcome::done);
  const auto state_file = f.state_dir() / "caches" / "loyalty.json";
  const auto before = postured::test::read_bytes(state_file);
  REQUIRE(vault.rotate_key(f.cache, 5s).outcome == CacheOperation::Outcome::done);
  std::ofstream(state_file, std::ios::trunc) << before;  // as if killed between rename and record
  const auto status = vault.status(f.cache);
  CHECK(status.error.empty());
  CHECK(status.key_generation == 1);
  CHECK_THAT(postured::test::read_bytes(state_file), ContainsSubstring("\"key_generation\": 1"));
}

TEST_CASE("a cache the key does not open is an error and is never recreated", "[cache]") {
  VaultFixture f;
  make_plain_cache(f.cache.path, 100);
  REQUIRE(f.vault().encrypt(f.cache, 5s).outcome == CacheOperation::Outcome::done);
  const auto bytes = postured::test::read_bytes(f.cache.path);
  SecretKey other;
  other.data()[0] = 1;
  CacheVault wrong(f.state_dir(), other);
  const auto status = wrong.status(f.cache);
  CHECK(status.is_problem());
  CHECK_THAT(status.error, ContainsSubstring("does not open it"));
  const auto attempt = wrong.encrypt(f.cache, 1s);
  CHECK(attempt.outcome == CacheOperation::Outcome::failed);
  CHECK_THAT(attempt.detail, ContainsSubstring("left untouched"));
  CHECK(wrong.rotate_key(f.cache, 1s).outcome == CacheOperation::Outcome::failed);
  CHECK(postured::test::read_bytes(f.cache.path) == bytes);
  CHECK(count_rows(f.cache.path, "customers", f.key(0)) == 100);
}

TEST_CASE("a file that is neither SQLite nor opened by the key is reported, not touched", "[cache]") {
  VaultFixture f;
  std::ofstream(f.cache.path, std::ios::binary) << std::string(8192, 'x');
  auto vault = f.vault();
  const auto status = vault.status(f.cache);
  CHECK(status.is_problem());
  CHECK_FALSE(status.error.empty());
  CHECK(vault.encrypt(f.cache, 1s).outcome == CacheOperation::Outcome::failed);
  CHECK(postured::test::read_bytes(f.cache.path) == std::string(8192, 'x'));
}

TEST_CASE("a missing cache is reported as missing, not as a problem", "[cache]") {
  VaultFixture f;
  const auto status = f.vault().status(f.cache);
  CHECK_FALSE(status.exists);
  CHECK_FALSE(status.is_problem());
  CHECK(f.vault().encrypt(f.cache, 1s).outcome == CacheOperation::Outcome::failed);
  CHECK_FALSE(std::filesystem::exists(f.cache.path));
}

TEST_CASE("migration waits for other processes to close the cache, then reports busy", "[cache]") {
  VaultFixture f;
  make_plain_cache(f.cache.path, 100);
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t holder = ::fork();
  if (holder == 0) {
    sqlite3* db = nullptr;
    sqlite3_open(f.cache.path.c_str(), &db);
    sqlite3_exec(db, "SELECT count(*) FROM customers;", nullptr, nullptr, nullptr);
    (void)::write(ready[1], "x", 1);
    ::pause();
    ::_exit(0);
  }
  char c;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  const auto busy = f.vault().encrypt(f.cache, 1s);
  CHECK(busy.outcome == CacheOperation::Outcome::busy);
  CHECK_THAT(busy.detail, ContainsSubstring("in use by pid " + std::to_string(holder)));
  CHECK(is_plaintext_sqlite(f.cache.path));
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  CHECK(f.vault().encrypt(f.cache, 5s).outcome == CacheOperation::Outcome::done);
  CHECK(count_rows(f.cache.path, "customers", f.key(0)) == 100);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_CASE("leftovers of an interrupted run are cleaned up without touching the cache's data", "[cache]") {
  VaultFixture f;
  make_plain_cache(f.cache.path, 300);
  std::ofstream(f.cache.path.string() + ".postured-tmp") << "half-written copy";
  REQUIRE(::link(f.cache.path.c_str(), (f.cache.path.string() + ".postured-plain").c_str()) == 0);
  CHECK(f.vault().encrypt(f.cache, 5s).outcome == CacheOperation::Outcome::done);
  CHECK(count_rows(f.cache.path, "customers", f.key(0)) == 300);
  CHECK_FALSE(std::filesystem::exists(f.cache.path.string() + ".postured-tmp"));
  CHECK_FALSE(std::filesystem::exists(f.cache.path.string() + ".postured-plain"));
}

TEST_CASE("the master key store refuses key files others could read, and wrong owners", "[cache][keys]") {
  FixtureRoot dir;
  const auto store = open_master_key_store(dir.path());
  CHECK_FALSE(store->load(false).key);  // no key yet, and none made
  CHECK_FALSE(std::filesystem::exists(dir.path() / "keys" / "master.key"));
  const auto made = store->load(true);
  REQUIRE(made.key);
  const auto again = store->load(false);
  REQUIRE(again.key);
  CHECK(std::equal(made.key->data(), made.key->data() + 32, again.key->data()));
  const auto file = dir.path() / "keys" / "master.key";
  ::chmod(file.c_str(), 0640);
  CHECK_THAT(store->load(true).error, ContainsSubstring("has mode 0640; it must be 0600 or 0400"));
  ::chmod(file.c_str(), 0400);
  CHECK(store->load(true).key);
  ::chmod((dir.path() / "keys").c_str(), 0755);
  CHECK_THAT(store->load(true).error, ContainsSubstring("has mode 0755; it must be 0700"));
  ::chmod((dir.path() / "keys").c_str(), 0700);
  if (::geteuid() == 0) {
    REQUIRE(::chown(file.c_str(), 65534, 65534) == 0);
    CHECK_THAT(store->load(true).error, ContainsSubstring("is not owned by uid 0"));
  }
}

TEST_CASE("cache keys are HKDF-SHA256 of the master key, the cache name and the generation", "[cache][keys]") {
  SecretKey master;
  for (std::size_t i = 0; i < master.size(); ++i) master.data()[i] = static_cast<std::uint8_t>(i);
  const auto a0 = derive_cache_key(master, "loyalty", 0);
  CHECK(a0.hex().str() == derive_cache_key(master, "loyalty", 0).hex().str());
  CHECK(a0.hex().str() != derive_cache_key(master, "loyalty", 1).hex().str());
  CHECK(a0.hex().str() != derive_cache_key(master, "receipts", 0).hex().str());
  // A second implementation (OpenSSL's HKDF) must give the same bytes.
  const std::string command =
      "openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:" + master.hex().str() +
      " -kdfopt salt:'postured cache key v1' -kdfopt hexinfo:6c6f79616c74790030 HKDF 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  char out[256] = {};
  const auto n = std::fread(out, 1, sizeof out - 1, pipe);
  ::pclose(pipe);
  std::string openssl(out, n);
  std::string hex;
  for (char ch : openssl) {
    if (std::isxdigit(static_cast<unsigned char>(ch))) hex += static_cast<char>(std::tolower(ch));
  }
  CHECK(hex == a0.hex().str());
  CHECK(sqlcipher_key_literal(a0).str() == "x'" + a0.hex().str() + "'");
}

TEST_CASE("a migrated cache keeps its owner and mode so that the POS program can still open it", "[cache]") {
  if (::geteuid() != 0) SKIP("giving the cache to another user needs root");
  VaultFixture f;
  make_plain_cache(f.cache.path, 200, "wal", 0);
  constexpr uid_t kPosUser = 65534;  // nobody: any account other than the agent's
  constexpr gid_t kPosGroup = 65534;
  REQUIRE(::chown(f.cache.path.c_str(), kPosUser, kPosGroup) == 0);
  REQUIRE(::chmod(f.cache.path.c_str(), 0640) == 0);

  REQUIRE(f.vault().encrypt(f.cache, 5s).outcome == CacheOperation::Outcome::done);
  struct stat st {};
  REQUIRE(::stat(f.cache.path.c_str(), &st) == 0);
  CHECK(st.st_uid == kPosUser);
  CHECK(st.st_gid == kPosGroup);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(count_rows(f.cache.path, "customers", f.key(0)) == 200);
}
