// Benchmark (issue 3): a cache of N customer rows (default 1,000,000).
//  1. migration throughput of CacheVault::encrypt in rows/s;
//  2. a typical POS read/update workload on the encrypted cache against the same workload on the
//     plaintext original, in the same run: the overhead ratio (target <= 1.3; SQLCipher claims 5-15%).
//
//   cache_bench [--rows N] [--ops N] [--small]
#include <sqlite3.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "cache/cache_vault.hpp"
#include "cache/key_hierarchy.hpp"
#include "support/cache_fixture.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// How a workload picks customers and how much page cache its connection has.
struct Access {
  const char* name;
  double hot_share;  // share of customers that get 90% of the lookups; 1.0 = uniform over all
  int cache_kib;     // PRAGMA cache_size in KiB; SQLite's default is 2000
  const char* synchronous;  // FULL is SQLite's default: each commit waits for the disk
  bool warm;                // the same number of operations first, untimed: a connection kept open
};

// One POS "transaction": look up customers by id and by e-mail, then add points and a receipt.
enum class Mix { lookups, writes, both };

double run_workload(const std::filesystem::path& path, const postured::SecretKey* key, int customers, int ops,
                    unsigned seed, const Access& access, Mix mix) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  if (key) {
    const auto literal = postured::sqlcipher_key_literal(*key);
    sqlite3_key(db, literal.str().data(), static_cast<int>(literal.str().size()));
  }
  sqlite3_exec(db,
               ("PRAGMA synchronous = " + std::string(access.synchronous) + "; PRAGMA cache_size = -" +
                std::to_string(access.cache_kib) + ";")
                   .c_str(),
               nullptr, nullptr, nullptr);
  sqlite3_stmt *by_id = nullptr, *by_email = nullptr, *add_points = nullptr, *add_receipt = nullptr;
  sqlite3_prepare_v2(db, "SELECT name, points FROM customers WHERE id = ?", -1, &by_id, nullptr);
  sqlite3_prepare_v2(db, "SELECT id FROM customers WHERE email = ?", -1, &by_email, nullptr);
  sqlite3_prepare_v2(db, "UPDATE customers SET points = points + ? WHERE id = ?", -1, &add_points, nullptr);
  sqlite3_prepare_v2(db, "INSERT INTO receipts (customer_id, total_cents, created_at) VALUES (?, ?, '2026-11-25')", -1,
                     &add_receipt, nullptr);
  if (!by_id || !by_email || !add_points || !add_receipt) {
    std::fprintf(stderr, "cannot prepare the workload: %s\n", sqlite3_errmsg(db));
    std::exit(3);
  }
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> any(1, customers);
  std::uniform_int_distribution<int> hot(1, std::max(1, static_cast<int>(customers * access.hot_share)));
  std::bernoulli_distribution in_hot_set(access.hot_share < 1.0 ? 0.9 : 0.0);
  // Regulars: the hot set is spread over the whole id range, as loyalty ids are assigned over years.
  const auto pick = [&](std::mt19937& r) {
    if (!in_hot_set(r)) return any(r);
    const long long spread = static_cast<long long>(hot(r)) * 7919 % customers;
    return static_cast<int>(spread) + 1;
  };
  const auto run_ops = [&](std::mt19937& r) {
    for (int op = 0; op < ops; ++op) {
      for (int i = 0; i < 8 && mix != Mix::writes; ++i) {
        sqlite3_bind_int(by_id, 1, pick(r));
        while (sqlite3_step(by_id) == SQLITE_ROW) {
        }
        sqlite3_reset(by_id);
      }
      const std::string email = "customer" + std::to_string(pick(r)) + "@example.com";
      sqlite3_bind_text(by_email, 1, email.c_str(), -1, SQLITE_TRANSIENT);
      while (mix != Mix::writes && sqlite3_step(by_email) == SQLITE_ROW) {
      }
      sqlite3_reset(by_email);
      if (mix == Mix::lookups) continue;
      const int customer = pick(r);
      sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
      sqlite3_bind_int(add_points, 1, 10);
      sqlite3_bind_int(add_points, 2, customer);
      sqlite3_step(add_points);
      sqlite3_reset(add_points);
      sqlite3_bind_int(add_receipt, 1, customer);
      sqlite3_bind_int(add_receipt, 2, 1234);
      sqlite3_step(add_receipt);
      sqlite3_reset(add_receipt);
      if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
        std::fprintf(stderr, "workload commit failed: %s\n", sqlite3_errmsg(db));
        std::exit(3);
      }
    }
  };
  if (access.warm) {
    std::mt19937 warm_up(seed + 7777);
    run_ops(warm_up);
  }
  const auto start = Clock::now();
  run_ops(random);
  const double elapsed = seconds_since(start);
  for (auto* s : {by_id, by_email, add_points, add_receipt}) sqlite3_finalize(s);
  sqlite3_close(db);
  return elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  int rows = 1000000;
  int ops = 20000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--rows" && i + 1 < argc) rows = std::max(100, std::atoi(argv[++i]));
    else if (arg == "--ops" && i + 1 < argc) ops = std::max(10, std::atoi(argv[++i]));
    else if (arg == "--small") rows = 20000, ops = 2000;
    else {
      std::fprintf(stderr, "usage: %s [--rows N] [--ops N] [--small]\n", argv[0]);
      return 2;
    }
  }
  char pattern[] = "/tmp/postured-cache-bench-XXXXXX";
  if (!::mkdtemp(pattern)) return 3;
  const std::filesystem::path dir = pattern;
  const auto encrypted = dir / "loyalty.db";
  const auto plain = dir / "loyalty-plain.db";

  auto start = Clock::now();
  postured::test::make_plain_cache(encrypted, rows);
  const double build = seconds_since(start);
  std::filesystem::copy_file(encrypted, plain);

  postured::SecretKey master;
  if (::getrandom(master.data(), master.size(), 0) != static_cast<ssize_t>(master.size())) return 3;
  // The migration runs in a child process: the vault turns on SQLCipher's process-wide memory
  // wiping, which a POS program's own connections would not have, so the workload below must not.
  struct Migration {
    double seconds;
    long long rows;
  } migration{};
  int channel[2];
  if (::pipe(channel) != 0) return 3;
  const pid_t child = ::fork();
  if (child == 0) {
    postured::CacheVault vault(dir / "state", master);
    postured::CacheConfig cache{"loyalty", encrypted, {}, -1, {}};
    const auto child_start = Clock::now();
    const auto result = vault.encrypt(cache, std::chrono::seconds(0));
    Migration done{seconds_since(child_start), result.rows};
    if (result.outcome != postured::CacheOperation::Outcome::done) {
      std::fprintf(stderr, "migration failed: %s\n", result.detail.c_str());
      ::_exit(3);
    }
    ::_exit(::write(channel[1], &done, sizeof done) == sizeof done ? 0 : 3);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || ::read(channel[0], &migration, sizeof migration) != sizeof migration) {
    return 3;
  }
  const double migrate = migration.seconds;
  const auto key = postured::derive_cache_key(master, "loyalty", 0);

  // "typical": 90% of lookups go to the 10% most active customers, the connection has a 32 MiB page
  // cache (SQLCipher's guidance: keep decrypted pages in memory) and SQLite's default durability.
  // "no-fsync": the same with synchronous=NORMAL, which shows the CPU cost of the cipher alone.
  // "uniform": every customer equally likely, SQLite's default 2 MB cache, synchronous=NORMAL: the
  // worst case, where nearly every lookup decrypts pages and nothing hides the cipher's cost.
  // "long-lived": typical, but the POS program keeps its connection open (warmed by as many
  // operations first) with a 128 MiB page cache, which holds this cache's hot pages decrypted.
  const Access accesses[] = {{"typical", 0.10, 32768, "FULL", false},
                             {"no-fsync", 0.10, 32768, "NORMAL", false},
                             {"uniform", 1.0, 2000, "NORMAL", false},
                             {"long-lived", 0.10, 131072, "FULL", true}};
  const std::pair<Mix, const char*> mixes[] = {
      {Mix::both, "mixed"}, {Mix::lookups, "lookups only"}, {Mix::writes, "writes only"}};
  struct Figures {
    std::string label;
    double plain, encrypted;
  };
  std::vector<Figures> figures;
  for (const auto& access : accesses) {
    for (const auto& [mix, mix_name] : mixes) {
      // Alternate plaintext and encrypted rounds with the same seeds; the median of each side.
      std::vector<double> plain_times, encrypted_times;
      for (unsigned round = 0; round < 3; ++round) {
        plain_times.push_back(run_workload(plain, nullptr, rows, ops, 1000 + round, access, mix));
        encrypted_times.push_back(run_workload(encrypted, &key, rows, ops, 1000 + round, access, mix));
      }
      std::sort(plain_times.begin(), plain_times.end());
      std::sort(encrypted_times.begin(), encrypted_times.end());
      figures.push_back({std::string(access.name) + ", " + mix_name, plain_times[1], encrypted_times[1]});
    }
  }

  std::printf("cache_bench: %d customers + %d receipts (%.1f MiB), built in %.1f s\n", rows, rows / 4,
              static_cast<double>(std::filesystem::file_size(plain)) / (1 << 20), build);
  std::printf("  migration to SQLCipher: %.2f s, %.0f rows/s (%lld rows, verified)\n", migrate,
              static_cast<double>(migration.rows) / migrate, migration.rows);
  std::printf("  workload: %d ops of 8 id lookups + 1 e-mail lookup + 1 update/insert transaction, median of 3\n", ops);
  for (std::size_t i = 0; i < figures.size(); ++i) {
    const auto& f = figures[i];
    std::printf("    %-24s plaintext %7.3f s, encrypted %7.3f s, overhead ratio %.2fx%s\n", f.label.c_str(), f.plain,
                f.encrypted, f.encrypted / f.plain, i == 0 ? "  (target <= 1.3x)" : "");
  }
  std::filesystem::remove_all(dir);
  return 0;
}
