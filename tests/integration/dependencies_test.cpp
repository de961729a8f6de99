// The versions that matter at run time, not only at build time.
#include <catch2/catch_test_macros.hpp>

#include <mbedtls/version.h>
#include <sqlite3.h>

#include <string>

TEST_CASE("SQLCipher reports cipher_version 4.x", "[deps]") {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
  std::string version;
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA cipher_version;", -1, &stmt, nullptr) == SQLITE_OK);
  if (sqlite3_step(stmt) == SQLITE_ROW) version = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  INFO("cipher_version: " << version);
  REQUIRE_FALSE(version.empty());  // plain SQLite answers nothing
  CHECK(version.rfind("4.", 0) == 0);
}

TEST_CASE("mbedTLS at run time is at least 3.6.6", "[deps]") {
  const unsigned number = mbedtls_version_get_number();  // 0xMMNNPP00
  INFO("mbedTLS " << (number >> 24) << "." << ((number >> 16) & 0xff) << "." << ((number >> 8) & 0xff));
  CHECK(number >= 0x03060600u);
  CHECK(number < 0x04000000u);
}
