// kill -9 of `posturectl cache enforce` at random points: afterwards the cache passes its integrity
// checks, every row the policy keeps is there (in its original or its minimized form, never
// anything else), and the next run completes the job.
#include <catch2/catch_test_macros.hpp>

#include <csignal>
#include <random>
#include <thread>

#include "support/minimization_fixture.hpp"

using postured::test::MinimizationRig;

namespace {

constexpr int kCustomers = 10000;  // even ids are kept, odd ones are past retention
constexpr int kTrials = 15;

constexpr const char* kPolicy = R"([[table]]
name = "customers"
columns.email = "hmac"
columns.phone = { transform = "mask", keep_last = 4 }
[table.retention]
column = "last_seen"
keep_days = 365
)";

struct Snapshot {
  long long kept = 0;       // even ids, each with its email original or hashed and its phone original or masked
  long long old_left = 0;   // odd ids not purged yet
  long long minimized = 0;  // kept rows already in the policy's form
};

Snapshot snapshot(const MinimizationRig& rig) {
  return {rig.number("SELECT count(*) FROM customers WHERE id % 2 = 0 AND (email = 'customer' || id || '@example.com' "
                     "OR (email LIKE 'hmac:%' AND length(email) = 69)) AND (phone = '+44 7700 9' || printf('%05d', id) "
                     "OR phone = '***********' || substr(printf('%05d', id), 2));"),
          rig.number("SELECT count(*) FROM customers WHERE id % 2 = 1;"),
          rig.number("SELECT count(*) FROM customers WHERE id % 2 = 0 AND email LIKE 'hmac:%';")};
}

}  // namespace

TEST_CASE("kill -9 during enforcement leaves a consistent cache and loses no kept row", "[privacy][enforce][crash]") {
  MinimizationRig rig(kPolicy);
  // Without NULL or unreadable timestamps: every odd row is past retention.
  rig.make_plain(kCustomers, "delete");
  {
    sqlite3* handle = nullptr;
    sqlite3_open(rig.db.c_str(), &handle);
    postured::test::sql(
        handle,
        "UPDATE customers SET last_seen = '" + postured::test::iso_days_ago(1000) +
            "' WHERE id % 2 = 1; UPDATE customers SET card = NULL, notes = NULL; UPDATE receipts SET memo = NULL;");
    sqlite3_close(handle);
  }
  postured::CacheVault vault(rig.state, rig.master);
  REQUIRE(vault.encrypt(rig.cache(), std::chrono::seconds(5)).outcome == postured::CacheOperation::Outcome::done);
  const auto encrypted_template = rig.dir.path() / "template.db";
  std::filesystem::copy_file(rig.db, encrypted_template);
  const auto restore = [&] {
    for (const auto& entry : std::filesystem::directory_iterator(rig.db.parent_path())) std::filesystem::remove(entry);
    std::filesystem::copy_file(encrypted_template, rig.db);
  };

  const auto start = std::chrono::steady_clock::now();
  REQUIRE(rig.enforce().exit_code == 0);
  const auto full = std::chrono::steady_clock::now() - start;
  REQUIRE(snapshot(rig).kept == kCustomers / 2);
  REQUIRE(snapshot(rig).minimized == kCustomers / 2);

  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<long long> pick(
      0, std::chrono::duration_cast<std::chrono::microseconds>(full).count() * 11 / 10);
  int interrupted = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    restore();
    const auto delay = std::chrono::microseconds(pick(random));
    {
      postured::test::Child child(
          {postured::test::bin("posturectl"), "cache", "enforce", "loyalty", "--config", rig.config.string()});
      std::this_thread::sleep_for(delay);
      child.signal(SIGKILL);
      child.wait();
    }
    INFO("trial " << trial << ", killed after " << delay.count() << " us");
    REQUIRE(rig.query("PRAGMA integrity_check;") == "ok");
    REQUIRE(rig.query("PRAGMA cipher_integrity_check;") == "<none>");
    const auto after_kill = snapshot(rig);
    REQUIRE(after_kill.kept == kCustomers / 2);  // no kept row lost, none half-transformed into something else
    if (after_kill.old_left > 0 || after_kill.minimized < kCustomers / 2) ++interrupted;

    const auto rerun = rig.enforce();  // finishes the job
    INFO(rerun.out << rerun.err);
    REQUIRE(rerun.exit_code == 0);
    const auto after_rerun = snapshot(rig);
    REQUIRE(after_rerun.kept == kCustomers / 2);
    REQUIRE(after_rerun.minimized == kCustomers / 2);
    REQUIRE(after_rerun.old_left == 0);
    REQUIRE(rig.query("PRAGMA auto_vacuum;") == "2");
    REQUIRE_FALSE(std::filesystem::exists(rig.db.string() + "-journal"));
  }
  INFO("full run " << std::chrono::duration_cast<std::chrono::milliseconds>(full).count() << " ms");
  CHECK(interrupted > 0);  // the kill points really fell inside enforcement
}
