// A thin RAII handle over a SQLCipher connection, for the vault's few statements.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/secret.hpp"

struct sqlite3;

namespace postured {

class Database {
 public:
  // Opens an existing file read-write (never creates one); `error` says why when it returns nullopt.
  static std::optional<Database> open(const std::filesystem::path& path, std::string& error);
  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&&) = delete;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Gives the connection its raw key (sqlite3_key); the key is checked on the first read.
  bool key(const SecretKey& key);
  // Runs statements; false with `error` set on failure.
  bool exec(const std::string& sql, std::string* error = nullptr);
  // The first column of every row of `sql`; nullopt (and `error`) on failure.
  std::optional<std::vector<std::string>> column(const std::string& sql, std::string* error = nullptr);
  // The first column of the first row; nullopt when there is no row or on failure.
  std::optional<std::string> scalar(const std::string& sql, std::string* error = nullptr);
  // True when the key (or no key) reads the schema: what "the key opens the cache" means.
  bool readable(std::string* error = nullptr);
  // User tables, without SQLite's own.
  std::optional<std::vector<std::string>> tables(std::string* error = nullptr);
  // Row count per user table, in table order.
  std::optional<std::vector<std::pair<std::string, long long>>> row_counts(std::string* error = nullptr);
  void close();

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// A file: URI with the given mode ("rw", or "rwc" to create), percent-encoded so that it is also
// safe inside a single-quoted SQL string.
std::string file_uri(const std::filesystem::path& path, std::string_view mode);

// "name" quoted as an SQL identifier.
std::string quote_identifier(const std::string& name);

}  // namespace postured
