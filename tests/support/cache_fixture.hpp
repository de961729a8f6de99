// Real SQLite/SQLCipher cache files for tests: made through the SQLCipher library itself.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "cache/key_hierarchy.hpp"
#include "core/secret.hpp"

namespace postured::test {

inline void sql(sqlite3* db, const std::string& statements) {
  char* message = nullptr;
  if (sqlite3_exec(db, statements.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string why = message ? message : "?";
    sqlite3_free(message);
    throw std::runtime_error("sql failed: " + why + " in: " + statements.substr(0, 120));
  }
}

// A plaintext POS cache: `rows` loyalty customers (name, email, postcode, points) and a receipts table.
inline void make_plain_cache(const std::filesystem::path& path, int rows, const std::string& journal_mode = "wal",
                             int user_version = 7) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error("cannot create " + path.string());
  sql(db, "PRAGMA journal_mode = " + journal_mode + "; PRAGMA user_version = " + std::to_string(user_version) + ";");
  sql(db,
      "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, postcode TEXT,"
      " points INTEGER NOT NULL DEFAULT 0);"
      "CREATE TABLE receipts (id INTEGER PRIMARY KEY, customer_id INTEGER, total_cents INTEGER, created_at TEXT);"
      "CREATE INDEX receipts_by_customer ON receipts(customer_id);");
  sql(db, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows) +
              ") INSERT INTO customers SELECT i, 'Customer Name ' || i, 'customer' || i || '@example.com', "
              "printf('%05d', i % 100000), i % 1000 FROM n;"
              "INSERT INTO receipts (customer_id, total_cents, created_at) SELECT id, id * 7 % 10000, "
              "'2026-11-01T10:00:00Z' FROM customers WHERE id % 4 = 0; COMMIT;");
  sqlite3_close(db);
}

// Opens `path` with `key` (or none) and returns count(*) of `table`, or -1 when it cannot be read.
inline long long count_rows_with(const std::filesystem::path& path, const std::string& table, const SecretKey* key) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  if (key) {
    const auto literal = sqlcipher_key_literal(*key);
    sqlite3_key(db, literal.str().data(), static_cast<int>(literal.str().size()));
  }
  long long count = -1;
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, ("SELECT count(*) FROM " + table).c_str(), -1, &statement, nullptr) == SQLITE_OK &&
      sqlite3_step(statement) == SQLITE_ROW) {
    count = sqlite3_column_int64(statement, 0);
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return count;
}

inline long long count_rows(const std::filesystem::path& path, const std::string& table) {
  return count_rows_with(path, table, nullptr);
}
inline long long count_rows(const std::filesystem::path& path, const std::string& table, const SecretKey& key) {
  return count_rows_with(path, table, &key);
}

// The master key the agent keeps in <state_dir>/keys/master.key.
inline SecretKey read_master_key(const std::filesystem::path& state_dir) {
  std::ifstream in(state_dir / "keys" / "master.key", std::ios::binary);
  SecretKey key;
  in.read(reinterpret_cast<char*>(key.data()), static_cast<std::streamsize>(key.size()));
  if (in.gcount() != static_cast<std::streamsize>(key.size())) throw std::runtime_error("no master key");
  return key;
}

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace postured::test
