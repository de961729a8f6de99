// Key release policy and protocol (agent/cache/key_release.hpp), with a real vault on temporary files.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <sqlite3.h>

#include <string>

#include "cache/cache_vault.hpp"
#include "cache/key_hierarchy.hpp"
#include "cache/key_release.hpp"
#include "support/fixture_root.hpp"

using Catch::Matchers::StartsWith;
using postured::CacheConfig;
using postured::CacheVault;
using postured::Config;
using postured::PeerIdentity;
using postured::SecretKey;
using postured::test::FixtureRoot;

namespace {

constexpr const char* kOwnerExe = "/opt/pos/bin/posd";
constexpr long long kOwnerUid = 1001;

SecretKey test_master() {
  SecretKey master;
  for (std::size_t i = 0; i < master.size(); ++i) master.data()[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return master;
}

void make_plaintext_cache(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "CREATE TABLE customers(id INTEGER PRIMARY KEY, points INTEGER); "
                       "INSERT INTO customers(points) VALUES (10), (20), (30);",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

// A vault with caches for every branch of decide(): owned, without an exe, without a uid.
struct Rig {
  FixtureRoot dir;
  Config config;
  CacheVault vault{dir.path() / "state", test_master()};

  Rig() {
    const auto db = dir.path() / "loyalty.db";
    make_plaintext_cache(db);
    config.agent.state_dir = dir.path() / "state";
    config.caches.push_back({"loyalty", db, kOwnerExe, kOwnerUid, {}});
    config.caches.push_back({"receipts", dir.path() / "receipts.db", "", kOwnerUid, {}});
    config.caches.push_back({"offline", dir.path() / "offline.db", kOwnerExe, -1, {}});
    config.caches.push_back({"gone", dir.path() / "gone.db", kOwnerExe, kOwnerUid, {}});
  }
  void encrypt() {
    REQUIRE(vault.encrypt(config.caches[0], std::chrono::seconds(0)).outcome ==
            postured::CacheOperation::Outcome::done);
  }
  postured::KeyReleaseDecision ask(const std::string& name, PeerIdentity peer = {4321, kOwnerUid, kOwnerExe}) {
    return postured::decide(config, vault, peer, name);
  }
};

}  // namespace

TEST_CASE("key release: decide gives the owner the key that opens the cache now", "[key_release]") {
  Rig rig;
  rig.encrypt();
  const auto decision = rig.ask("loyalty");
  REQUIRE(decision.granted());
  CHECK(decision.refusal.empty());
  const auto expected = postured::derive_cache_key(test_master(), "loyalty", 0);
  CHECK(decision.key->hex().str() == expected.hex().str());

  REQUIRE(rig.vault.rotate_key(rig.config.caches[0], std::chrono::seconds(0)).outcome ==
          postured::CacheOperation::Outcome::done);
  const auto rotated = rig.ask("loyalty");
  REQUIRE(rotated.granted());
  CHECK(rotated.key->hex().str() == postured::derive_cache_key(test_master(), "loyalty", 1).hex().str());
}

TEST_CASE("key release: decide refuses unknown caches and caches without an owner", "[key_release]") {
  Rig rig;
  rig.encrypt();
  CHECK(rig.ask("nosuch").refusal == "unknown cache");
  CHECK(rig.ask("Loyalty").refusal == "unknown cache");  // names are case-sensitive, as in the config
  CHECK(rig.ask("receipts").refusal == "no program may fetch this key");
  CHECK(rig.ask("offline").refusal == "no program may fetch this key");
  // With no uid declared, even a peer whose uid could not be read (-1) does not match.
  CHECK(rig.ask("offline", {1, -1, kOwnerExe}).refusal == "no program may fetch this key");
  CHECK_FALSE(rig.ask("offline", {1, -1, kOwnerExe}).granted());
}

TEST_CASE("key release: decide needs both the owner's uid and its exact program", "[key_release]") {
  Rig rig;
  rig.encrypt();
  CHECK(rig.ask("loyalty", {10, 1002, kOwnerExe}).refusal == "uid 1002 is not the owner");
  CHECK(rig.ask("loyalty", {10, 0, kOwnerExe}).refusal == "uid 0 is not the owner");
  CHECK(rig.ask("loyalty", {10, kOwnerUid, "/usr/bin/x"}).refusal == "program /usr/bin/x is not the owner");
  CHECK(rig.ask("loyalty", {10, 1002, "/usr/bin/x"}).refusal == "uid 1002 is not the owner");
  // What /proc/PID/exe reads for a program replaced on disk since it started.
  CHECK(rig.ask("loyalty", {10, kOwnerUid, "/opt/pos/bin/posd (deleted)"}).refusal ==
        "program /opt/pos/bin/posd (deleted) is not the owner");
  CHECK(rig.ask("loyalty", {10, kOwnerUid, "/opt/pos/bin/posd/"}).refusal ==
        "program /opt/pos/bin/posd/ is not the owner");
  CHECK(rig.ask("loyalty", {10, kOwnerUid, "/opt/pos/bin/../bin/posd"}).refusal ==
        "program /opt/pos/bin/../bin/posd is not the owner");
  CHECK(rig.ask("loyalty", {10, kOwnerUid, ""}).refusal == "the program cannot be identified");
  CHECK(rig.ask("loyalty", {10, kOwnerUid, kOwnerExe}).granted());
}

TEST_CASE("key release: decide gives no key for a cache that is not encrypted or not there", "[key_release]") {
  Rig rig;
  CHECK(rig.ask("loyalty").refusal == "cache not encrypted yet");
  CHECK_THAT(rig.ask("gone").refusal, StartsWith("no key: "));
  CHECK_FALSE(rig.ask("gone").granted());
}

TEST_CASE("key release: parse_key_request takes exactly one well-formed line", "[key_release]") {
  using postured::parse_key_request;
  CHECK(parse_key_request("KEY loyalty\n") == "loyalty");
  CHECK(parse_key_request("KEY a.b_c-D9\n") == "a.b_c-D9");
  CHECK(parse_key_request("KEY loyalty\ntrailing bytes") == "loyalty");
  const std::string longest(64, 'n');
  CHECK(parse_key_request("KEY " + longest + "\n") == longest);

  CHECK_FALSE(parse_key_request("KEY " + longest + "n\n"));
  CHECK_FALSE(parse_key_request("KEY loyalty"));  // no newline: cut short or timed out
  CHECK_FALSE(parse_key_request(""));
  CHECK_FALSE(parse_key_request("\n"));
  CHECK_FALSE(parse_key_request("KEY \n"));
  CHECK_FALSE(parse_key_request("KEY loyalty\r\n"));
  CHECK_FALSE(parse_key_request("KEY  loyalty\n"));
  CHECK_FALSE(parse_key_request("KEY loyalty \n"));
  CHECK_FALSE(parse_key_request("key loyalty\n"));
  CHECK_FALSE(parse_key_request("KEYloyalty\n"));
  CHECK_FALSE(parse_key_request("GET loyalty\n"));
  CHECK_FALSE(parse_key_request("KEY ../etc/passwd\n"));
  CHECK_FALSE(parse_key_request(std::string("KEY loy\0alty\n", 13)));
  CHECK_FALSE(parse_key_request(std::string(200, 'K') + "\n"));
  // The newline must fall within the first kMaxRequestBytes bytes.
  const std::string padded = "KEY x\n";
  CHECK(parse_key_request(padded + std::string(postured::key_release::kMaxRequestBytes, 'z')) == "x");
}

TEST_CASE("key release: replies are one line: OK with 64 lowercase hex digits, or ERR with a clean reason",
          "[key_release]") {
  const auto key = test_master();
  const auto ok = postured::key_reply(key);
  CHECK(ok.str() == "OK " + key.hex().str() + "\n");
  CHECK(ok.str().size() == 68);
  CHECK(postured::refusal_reply("unknown cache") == "ERR unknown cache\n");
  CHECK(postured::refusal_reply("no key: bad\nline\r\x01") == "ERR no key: bad line  \n");
  const auto long_reply = postured::refusal_reply(std::string(1000, 'r'));
  CHECK(long_reply.size() == 4 + postured::key_release::kMaxReasonLength + 1);
  CHECK(long_reply.back() == '\n');
}

TEST_CASE("key release: answer_key_request turns a request into the reply", "[key_release]") {
  Rig rig;
  rig.encrypt();
  const PeerIdentity owner{4321, kOwnerUid, kOwnerExe};
  const auto granted = postured::answer_key_request("KEY loyalty\n", owner, rig.config, rig.vault);
  CHECK(granted.str() == "OK " + postured::derive_cache_key(test_master(), "loyalty", 0).hex().str() + "\n");
  CHECK(postured::answer_key_request("HELLO\n", owner, rig.config, rig.vault).str() == "ERR bad request\n");
  CHECK(postured::answer_key_request("KEY loyalty", owner, rig.config, rig.vault).str() == "ERR bad request\n");
  CHECK(postured::answer_key_request("KEY nosuch\n", owner, rig.config, rig.vault).str() == "ERR unknown cache\n");
  CHECK(postured::answer_key_request("KEY loyalty\n", {1, 1002, kOwnerExe}, rig.config, rig.vault).str() ==
        "ERR uid 1002 is not the owner\n");
}
