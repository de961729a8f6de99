// kill -9 of `posturectl cache encrypt` / `rotate-key` at random points: afterwards the cache is
// always either the intact plaintext or the complete encrypted copy, never neither, never lost rows;
// and the next run finishes the job and leaves nothing behind.
#include <catch2/catch_test_macros.hpp>

#include <csignal>
#include <fstream>
#include <random>
#include <thread>

#include "cache/cache_vault.hpp"
#include "support/cache_fixture.hpp"
#include "support/fixture_root.hpp"
#include "support/process.hpp"

using postured::test::bin;
using postured::test::FixtureRoot;

namespace {

constexpr int kCustomers = 60000;
constexpr int kReceipts = kCustomers / 4;

struct CrashRig {
  FixtureRoot dir;
  std::filesystem::path db = dir.path() / "pos" / "loyalty.db";
  std::filesystem::path template_db = dir.path() / "template.db";
  std::filesystem::path config = dir.path() / "postured.toml";
  std::filesystem::path state = dir.path() / "state";

  CrashRig() {
    std::filesystem::create_directories(db.parent_path());
    postured::test::make_plain_cache(template_db, kCustomers);
    std::ofstream(config) << "[agent]\nstore_id = \"s\"\nstate_dir = \"" << state.string()
                          << "\"\n[[cache]]\nname = \"loyalty\"\npath = \"" << db.string() << "\"\n";
  }

  // A fresh plaintext cache, and no record of earlier runs (the master key stays).
  void reset() {
    for (const auto& entry : std::filesystem::directory_iterator(db.parent_path())) std::filesystem::remove(entry);
    std::filesystem::remove_all(state / "caches");
    std::filesystem::copy_file(template_db, db);
  }

  std::vector<std::string> command(const char* action) const {
    return {bin("posturectl"), "cache", action, "loyalty", "--config", config.string()};
  }

  // Runs the command to completion; its wall time.
  std::chrono::steady_clock::duration timed(const char* action) const {
    const auto start = std::chrono::steady_clock::now();
    const auto r = postured::test::run(command(action));
    REQUIRE(r.exit_code == 0);
    return std::chrono::steady_clock::now() - start;
  }

  void kill_after(const char* action, std::chrono::microseconds delay) const {
    postured::test::Child child(command(action));
    std::this_thread::sleep_for(delay);
    child.signal(SIGKILL);
    child.wait();
  }

  // "plaintext" or "encrypted N" for an intact cache; anything else is a failure.
  std::string state_of_cache(unsigned generation) const {
    if (!std::filesystem::exists(db)) return "missing";
    if (postured::is_plaintext_sqlite(db)) {
      const bool intact = postured::test::count_rows(db, "customers") == kCustomers &&
                          postured::test::count_rows(db, "receipts") == kReceipts;
      return intact ? "plaintext" : "damaged plaintext";
    }
    const auto master = postured::test::read_master_key(state);
    for (unsigned g = generation; g <= generation + 1; ++g) {
      const auto key = postured::derive_cache_key(master, "loyalty", g);
      if (postured::test::count_rows(db, "customers", key) == kCustomers &&
          postured::test::count_rows(db, "receipts", key) == kReceipts) {
        return "encrypted " + std::to_string(g);
      }
    }
    return "unreadable";
  }

  bool leftovers() const {
    return std::filesystem::exists(db.string() + ".postured-tmp") ||
           std::filesystem::exists(db.string() + ".postured-plain");
  }
};

}  // namespace

TEST_CASE("kill -9 during migration never loses the cache or a row (50 random kill points)", "[cache][crash]") {
  CrashRig rig;
  rig.reset();
  const auto full = rig.timed("encrypt");
  REQUIRE(rig.state_of_cache(0) == "encrypted 0");

  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<long long> pick(0, std::chrono::duration_cast<std::chrono::microseconds>(full).count() * 11 / 10);
  int plaintext = 0;
  int encrypted = 0;
  for (int trial = 0; trial < 50; ++trial) {
    rig.reset();
    const auto delay = std::chrono::microseconds(pick(random));
    rig.kill_after("encrypt", delay);
    const auto after_kill = rig.state_of_cache(0);
    INFO("trial " << trial << ", killed after " << delay.count() << " us: " << after_kill);
    REQUIRE((after_kill == "plaintext" || after_kill == "encrypted 0"));
    (after_kill == "plaintext" ? plaintext : encrypted) += 1;
    // The next run completes the migration and cleans up whatever the killed one left.
    REQUIRE(postured::test::run(rig.command("encrypt")).exit_code == 0);
    REQUIRE(rig.state_of_cache(0) == "encrypted 0");
    REQUIRE_FALSE(rig.leftovers());
  }
  INFO("full migration " << std::chrono::duration_cast<std::chrono::milliseconds>(full).count() << " ms; " << plaintext
                         << " trials left the plaintext, " << encrypted << " the encrypted copy");
  CHECK(plaintext + encrypted == 50);
  CHECK(plaintext > 0);  // the kill points really fell inside the migration
}

TEST_CASE("kill -9 during key rotation never loses the cache or a row (30 random kill points)", "[cache][crash]") {
  CrashRig rig;
  rig.reset();
  REQUIRE(postured::test::run(rig.command("encrypt")).exit_code == 0);
  const auto encrypted_template = rig.dir.path() / "encrypted-template.db";
  std::filesystem::copy_file(rig.db, encrypted_template);
  const auto full = rig.timed("rotate-key");

  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<long long> pick(0, std::chrono::duration_cast<std::chrono::microseconds>(full).count() * 11 / 10);
  for (int trial = 0; trial < 30; ++trial) {
    for (const auto& entry : std::filesystem::directory_iterator(rig.db.parent_path())) std::filesystem::remove(entry);
    std::filesystem::copy_file(encrypted_template, rig.db);
    std::ofstream(rig.state / "caches" / "loyalty.json", std::ios::trunc) << "{\"key_generation\": 0}\n";
    const auto delay = std::chrono::microseconds(pick(random));
    rig.kill_after("rotate-key", delay);
    const auto after_kill = rig.state_of_cache(0);
    INFO("trial " << trial << ", killed after " << delay.count() << " us: " << after_kill);
    REQUIRE((after_kill == "encrypted 0" || after_kill == "encrypted 1"));
    // Whatever generation survived, the vault finds it and can rotate again.
    REQUIRE(postured::test::run(rig.command("rotate-key")).exit_code == 0);
    const auto after_retry = rig.state_of_cache(1);
    REQUIRE((after_retry == "encrypted 1" || after_retry == "encrypted 2"));
    REQUIRE_FALSE(rig.leftovers());
  }
}
