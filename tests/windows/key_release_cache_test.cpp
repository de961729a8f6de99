// Key release on Windows end to end: a real SQLCipher cache encrypted by the CacheVault, the daemon's
// own answer_key_request deciding over the named pipe, and the POS side played by real processes
// (this test program as the configured owner_exe, and a copy of it at another path) using the C key
// client (include/postured/key_client.h, platform/windows/key_client.c).
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "cache/key_release_server.hpp"

#include <sqlite3.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "cache/cache_vault.hpp"
#include "cache/key_release.hpp"
#include "local_pipe.hpp"
#include "postured/key_client.h"
#include "self_process.hpp"
#include "utf16.hpp"

using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::Matches;
using Catch::Matchers::StartsWith;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr int kRows = 50;

void exec_sql(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  INFO((message ? message : ""));
  sqlite3_free(message);
  REQUIRE(rc == SQLITE_OK);
}

void make_plaintext_cache(const fs::path& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.string().c_str(), &db) == SQLITE_OK);
  exec_sql(db, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL);");
  exec_sql(db, "BEGIN;");
  for (int i = 1; i <= kRows; ++i) {
    exec_sql(db, "INSERT INTO customers VALUES (" + std::to_string(i) + ", 'customer " + std::to_string(i) + "');");
  }
  exec_sql(db, "COMMIT;");
  sqlite3_close(db);
}

// Rows of the encrypted cache read with `key_hex`; -1 when the key does not open it.
int count_rows(const fs::path& path, const std::string& key_hex) {
  sqlite3* db = nullptr;
  int rows = -1;
  if (sqlite3_open_v2(path.string().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    const std::string pragma = "PRAGMA cipher_log_level = NONE; PRAGMA key = \"x'" + key_hex + "'\";";
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_exec(db, pragma.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM customers;", -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      rows = sqlite3_column_int(statement, 0);
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return rows;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

// The POS program's side, run as a second process: the C client asks for cache "loyalty".
TEST_CASE("key release C client process", "[.][key-client-process]") {
  const auto pipe = postured::windows::to_utf8(postured::test::environment(L"POSTURED_TEST_PIPE"));
  const fs::path reply_file = postured::test::environment(L"POSTURED_TEST_REPLY");
  char key[POSTURED_KEY_HEX_SIZE];
  char error[256];
  const int rc = postured_fetch_cache_key(pipe.c_str(), "loyalty", key, error, sizeof error);
  std::ofstream out(reply_file, std::ios::binary);
  out << (rc == 0 ? std::string("KEY ") + key : std::string("ERROR ") + error);
}

TEST_CASE("key release on Windows: the owner program gets the key that opens the encrypted cache, a copy is refused",
          "[windows][pipe][key-release]") {
  postured::test::TempFolder dir("key-release-cache");
  const auto owner = postured::test::own_executable();
  postured::Config config;
  config.agent.state_dir = dir.path() / "state";
  config.agent.runtime_dir = dir.path() / "run";
  fs::create_directories(config.agent.state_dir);
  postured::CacheConfig loyalty;
  loyalty.name = "loyalty";
  loyalty.path = dir.path() / "loyalty.db";
  loyalty.owner_exe = owner;
  loyalty.owner_uid = postured::test::own_account_rid();
  config.caches.push_back(loyalty);
  postured::CacheConfig offline;  // no owner: nobody gets its key
  offline.name = "offline";
  offline.path = dir.path() / "offline.db";
  config.caches.push_back(offline);
  make_plaintext_cache(loyalty.path);

  postured::SecretKey master;
  for (std::size_t i = 0; i < master.size(); ++i) master.data()[i] = static_cast<std::uint8_t>(i * 7 + 1);
  postured::CacheVault vault(config.agent.state_dir, master);
  // Before encryption, the daemon gives no key.
  CHECK(postured::answer_key_request("KEY loyalty\n", {1, loyalty.owner_uid, owner}, config, vault).str() ==
        "ERR cache not encrypted yet\n");
  const auto encrypted = vault.encrypt(loyalty, 10s);
  INFO(encrypted.detail);
  REQUIRE(encrypted.outcome == postured::CacheOperation::Outcome::done);
  CHECK(count_rows(loyalty.path, std::string(64, '0')) == -1);

  boost::asio::io_context io;
  auto start = postured::start_key_release_server(io, config.agent.runtime_dir, "",
                                                  [&](std::string_view request, const postured::PeerIdentity& peer) {
                                                    return postured::answer_key_request(request, peer, config, vault);
                                                  });
  INFO(start.error);
  REQUIRE(start.server);
  std::thread loop([&] { io.run(); });
  const auto pipe = postured::windows::key_release_pipe_name(config.agent.runtime_dir);

  const auto ask = [&](const fs::path& exe, const std::string& name) {
    const auto reply_file = dir.path() / (name + ".reply");
    const auto child =
        postured::test::run_test_case(exe, "key release C client process",
                                      {{L"POSTURED_TEST_PIPE", pipe}, {L"POSTURED_TEST_REPLY", reply_file}}, 60s);
    CHECK(child.finished);
    return read_all(reply_file);
  };
  const auto granted = ask(owner, "owner");
  const auto copy = dir.path() / "not-the-pos" / owner.filename();
  fs::create_directories(copy.parent_path());
  fs::copy_file(owner, copy);
  const auto refused = ask(copy, "copy");

  // In this process: the right program, but a cache nobody owns, and one that does not exist.
  char key[POSTURED_KEY_HEX_SIZE];
  char error[256];
  const auto pipe_name = postured::windows::to_utf8(pipe);
  CHECK(postured_fetch_cache_key(pipe_name.c_str(), "offline", key, error, sizeof error) == -1);
  CHECK(std::string(error) == "no program may fetch this key");
  CHECK(postured_fetch_cache_key(pipe_name.c_str(), "nosuch", key, error, sizeof error) == -1);
  CHECK(std::string(error) == "unknown cache");

  boost::asio::post(io, [&] { start.server.reset(); });
  loop.join();

  INFO(granted);
  REQUIRE_THAT(granted, Matches("KEY [0-9a-f]{64}"));
  // The released key opens the cache SQLCipher encrypted: every row is there.
  CHECK(count_rows(loyalty.path, granted.substr(4)) == kRows);
  CHECK_THAT(refused, StartsWith("ERROR program "));
  CHECK_THAT(refused, ContainsSubstring("not-the-pos"));
  CHECK_THAT(refused, ContainsSubstring("is not the owner"));
}
