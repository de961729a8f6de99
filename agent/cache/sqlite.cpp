#include "cache/sqlite.hpp"

#include <sqlite3.h>

#include <cstdio>
#include <mutex>

#include "cache/key_hierarchy.hpp"

namespace postured {

std::optional<Database> Database::open(const std::filesystem::path& path, std::string& error) {
  sqlite3* db = nullptr;
  // CREATE in the flags lets ATTACH create the vault's new file; mode=rw keeps this open from creating.
  const int rc = sqlite3_open_v2(file_uri(path, "rw").c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                                 nullptr);
  if (rc != SQLITE_OK) {
    error = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return std::nullopt;
  }
  // Process-wide SQLCipher settings, made once on the first connection: wipe freed memory (keys and
  // pages), and no SQLCipher log on stderr, where a wrong-key probe would print an "hmac check failed"
  // error for every try; the vault reports failures itself.
  static std::once_flag settings;
  std::call_once(settings, [db] {
    sqlite3_exec(db, "PRAGMA cipher_memory_security = ON; PRAGMA cipher_log_level = NONE;", nullptr, nullptr, nullptr);
  });
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  return Database(db);
}

Database::~Database() { close(); }

Database::Database(Database&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }

void Database::close() {
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

bool Database::key(const SecretKey& key) {
  const auto literal = sqlcipher_key_literal(key);
  return sqlite3_key(db_, literal.str().data(), static_cast<int>(literal.str().size())) == SQLITE_OK;
}

bool Database::exec(const std::string& sql, std::string* error) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK && error) *error = message ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return rc == SQLITE_OK;
}

std::optional<std::vector<std::string>> Database::column(const std::string& sql, std::string* error) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    if (error) *error = sqlite3_errmsg(db_);
    return std::nullopt;
  }
  std::vector<std::string> values;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    const auto* text = sqlite3_column_text(statement, 0);
    values.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
  }
  if (rc != SQLITE_DONE) {
    if (error) *error = sqlite3_errmsg(db_);
    sqlite3_finalize(statement);
    return std::nullopt;
  }
  sqlite3_finalize(statement);
  return values;
}

std::optional<std::string> Database::scalar(const std::string& sql, std::string* error) {
  auto values = column(sql, error);
  if (!values || values->empty()) return std::nullopt;
  return values->front();
}

bool Database::readable(std::string* error) {
  return scalar("SELECT count(*) FROM sqlite_schema;", error).has_value();
}

std::optional<std::vector<std::string>> Database::tables(std::string* error) {
  return column("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                "ORDER BY name;",
                error);
}

std::optional<std::vector<std::pair<std::string, long long>>> Database::row_counts(std::string* error) {
  const auto names = tables(error);
  if (!names) return std::nullopt;
  std::vector<std::pair<std::string, long long>> counts;
  for (const auto& name : *names) {
    const auto count = scalar("SELECT count(*) FROM " + quote_identifier(name) + ";", error);
    if (!count) return std::nullopt;
    counts.emplace_back(name, std::stoll(*count));
  }
  return counts;
}

std::string file_uri(const std::filesystem::path& path, std::string_view mode) {
  std::string uri = "file:";
  // SQLite wants UTF-8 and forward slashes; on POSIX this is the path's bytes as they are.
  for (const auto u : path.generic_u8string()) {
    const auto c = static_cast<unsigned char>(u);
    if (c == '?' || c == '#' || c == '%' || c == '\'' || c < 0x20 || c >= 0x7F) {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", c);
      uri += escaped;
    } else {
      uri += static_cast<char>(c);
    }
  }
  return uri + "?mode=" + std::string(mode);
}

std::string quote_identifier(const std::string& name) {
  std::string quoted = "\"";
  for (char c : name) {
    quoted += c;
    if (c == '"') quoted += '"';
  }
  return quoted + "\"";
}

}  // namespace postured
