// Benchmark (issue 4): retention purge of 50% of an N-row cache (default 1,000,000), encrypted with
// SQLCipher by the vault, against the same purge of a plaintext copy in the same run. Both go through
// the same code, privacy::purge_table on an open connection with secure_delete on, as enforcement
// runs it. Prints rows/s for each and the ratio of their times.
//
//   purge_bench [--rows N] [--rounds N] [--small]
#include <sqlite3.h>
#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "cache/cache_vault.hpp"
#include "cache/key_hierarchy.hpp"
#include "privacy/enforcer.hpp"
#include "support/cache_fixture.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ISO 8601 UTC text for `days` days before now.
std::string iso_days_ago(int days) {
  const std::time_t t = std::time(nullptr) - static_cast<std::time_t>(days) * 86400;
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// A loyalty cache of `rows` customers, odd ids last seen 1000 days ago (past a 365-day retention),
// even ids 10 days ago: the purged rows are spread over every page, as old customers are in a real cache.
void make_cache(const fs::path& path, int rows) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) std::exit(3);
  postured::test::sql(db, "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL;");
  postured::test::sql(db,
                      "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE,"
                      " postcode TEXT, points INTEGER NOT NULL DEFAULT 0, last_seen TEXT);");
  const auto old = iso_days_ago(1000);
  const auto recent = iso_days_ago(10);
  postured::test::sql(db, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
                              std::to_string(rows) +
                              ") INSERT INTO customers SELECT i, 'Customer Name ' || i, 'customer' || i || "
                              "'@example.com', printf('%05d', i % 100000), i % 1000, CASE WHEN i % 2 = 1 THEN '" +
                              old + "' ELSE '" + recent + "' END FROM n; COMMIT;");
  sqlite3_close(db);
}

struct Purge {
  double seconds = 0;
  double vacuum_seconds = 0;
  long long purged = 0;
};

// Opens `path` (with `key`, or none), then purges and reclaims as enforcement does.
Purge purge(const fs::path& path, const postured::SecretKey* key) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  if (key) {
    const auto literal = postured::sqlcipher_key_literal(*key);
    sqlite3_key(db, literal.str().data(), static_cast<int>(literal.str().size()));
  }
  postured::test::sql(db, "PRAGMA secure_delete = ON;");
  const auto schema = postured::privacy::read_schema(db);
  const auto table = std::find_if(schema.begin(), schema.end(), [](const auto& t) { return t.name == "customers"; });
  postured::privacy::TablePolicy rules;
  rules.name = "customers";
  rules.retention = postured::privacy::RetentionRule{"last_seen", postured::privacy::TimestampFormat::iso8601, 365, {}};
  postured::privacy::TableFigures figures;
  Purge result;
  auto start = Clock::now();
  postured::privacy::purge_table(db, *table, rules, postured::privacy::EnforceOptions{}, figures);
  result.seconds = seconds_since(start);
  result.purged = figures.retention_purged;
  start = Clock::now();
  postured::test::sql(db, "PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);");
  result.vacuum_seconds = seconds_since(start);
  sqlite3_close(db);
  return result;
}

double mib(const fs::path& path) {
  return static_cast<double>(fs::file_size(path)) / (1024.0 * 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  int rows = 1000000;
  int rounds = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--rows" && i + 1 < argc)
      rows = std::max(100, std::atoi(argv[++i]));
    else if (arg == "--rounds" && i + 1 < argc)
      rounds = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--small")
      rows = 20000;
    else {
      std::fprintf(stderr, "usage: %s [--rows N] [--rounds N] [--small]\n", argv[0]);
      return 2;
    }
  }
  char pattern[] = "/tmp/postured-purge-bench-XXXXXX";
  if (!::mkdtemp(pattern)) return 3;
  const fs::path dir = pattern;
  const auto plain_template = dir / "plain-template.db";
  const auto encrypted_template = dir / "encrypted-template.db";
  const auto work = dir / "work.db";

  auto start = Clock::now();
  make_cache(plain_template, rows);
  const double build = seconds_since(start);
  postured::SecretKey master;
  if (::getrandom(master.data(), master.size(), 0) != static_cast<ssize_t>(master.size())) return 3;
  fs::copy_file(plain_template, encrypted_template);
  postured::CacheVault vault(dir / "state", master);
  const auto migrated =
      vault.encrypt(postured::CacheConfig{"bench", encrypted_template, {}, -1, {}}, std::chrono::seconds(0));
  if (migrated.outcome != postured::CacheOperation::Outcome::done) {
    std::fprintf(stderr, "migration failed: %s\n", migrated.detail.c_str());
    return 3;
  }
  const auto key = postured::derive_cache_key(master, "bench", 0);
  std::printf("cache: %d rows (%.1f MiB plaintext, %.1f MiB encrypted), built in %.2f s\n", rows, mib(plain_template),
              mib(encrypted_template), build);

  // Alternating rounds on fresh copies; the median of each.
  std::vector<Purge> plain, encrypted;
  for (int round = 0; round < rounds; ++round) {
    for (const bool with_key : {false, true}) {
      fs::remove(work);
      fs::copy_file(with_key ? encrypted_template : plain_template, work);
      (with_key ? encrypted : plain).push_back(purge(work, with_key ? &key : nullptr));
    }
  }
  const auto median = [](std::vector<Purge> runs) {
    std::sort(runs.begin(), runs.end(), [](const Purge& a, const Purge& b) { return a.seconds < b.seconds; });
    return runs[runs.size() / 2];
  };
  const auto p = median(plain);
  const auto e = median(encrypted);
  if (p.purged != rows / 2 || e.purged != rows / 2) {
    std::fprintf(stderr, "purged %lld and %lld rows, expected %d\n", p.purged, e.purged, rows / 2);
    return 3;
  }
  std::printf("plaintext: purged %lld rows in %.2f s, %.0f rows/s (incremental_vacuum + checkpoint %.2f s)\n", p.purged,
              p.seconds, static_cast<double>(p.purged) / p.seconds, p.vacuum_seconds);
  std::printf("encrypted: purged %lld rows in %.2f s, %.0f rows/s (incremental_vacuum + checkpoint %.2f s)\n", e.purged,
              e.seconds, static_cast<double>(e.purged) / e.seconds, e.vacuum_seconds);
  std::printf("ratio encrypted/plaintext: %.2fx\n", e.seconds / p.seconds);
  fs::remove_all(dir);
  return 0;
}
