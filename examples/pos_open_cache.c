/* How a POS program opens its encrypted cache: fetch the key from postured, key the SQLCipher
 * connection, use it, wipe the key.
 *
 *   pos_open_cache [--socket PATH] CACHE_NAME DATABASE TABLE
 *
 * Prints the number of rows in TABLE. Exit 0 on success, 1 when there is no key (postured refused it
 * or cannot be reached), 2 on a usage error, 3 when the database cannot be opened or read.
 *
 * postured gives the key only to the cache's owner_exe running as owner_uid, so declare this
 * program's installed path there to try it. */
#define _DEFAULT_SOURCE /* explicit_bzero */

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postured/key_client.h"

/* "PRAGMA key = \"x'" + 64 hex digits + "'\";" and its NUL. */
#define KEY_PRAGMA_SIZE 96
/* "SELECT count(*) FROM \"" + a table name with every '"' doubled + "\";" */
#define MAX_TABLE_NAME 256

static int open_keyed(const char* path, const char* key_hex, sqlite3** db) {
  char pragma[KEY_PRAGMA_SIZE];
  int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE, NULL);
  if (rc != SQLITE_OK) return rc;
  /* The raw-key form x'...': the key is used as is, with no PBKDF2 on every open. */
  snprintf(pragma, sizeof pragma, "PRAGMA key = \"x'%s'\";", key_hex);
  rc = sqlite3_exec(*db, pragma, NULL, NULL, NULL);
  explicit_bzero(pragma, sizeof pragma);
  return rc;
}

static int print_row_count(sqlite3* db, const char* table) {
  char sql[2 * MAX_TABLE_NAME + 32];
  size_t used = 0;
  const char* c;
  sqlite3_stmt* statement = NULL;
  int rc;
  if (strlen(table) > MAX_TABLE_NAME) {
    fprintf(stderr, "pos_open_cache: table name too long\n");
    return 3;
  }
  used += (size_t)snprintf(sql, sizeof sql, "SELECT count(*) FROM \"");
  for (c = table; *c != '\0'; ++c) {
    if (*c == '"') sql[used++] = '"';
    sql[used++] = *c;
  }
  snprintf(sql + used, sizeof sql - used, "\";");
  /* A wrong key shows here, on the first read: SQLCipher checks it only when a page is decrypted. */
  rc = sqlite3_prepare_v2(db, sql, -1, &statement, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(statement);
  if (rc != SQLITE_ROW) {
    fprintf(stderr, "pos_open_cache: cannot count the rows of %s: %s\n", table, sqlite3_errmsg(db));
    sqlite3_finalize(statement);
    return 3;
  }
  printf("%lld\n", (long long)sqlite3_column_int64(statement, 0));
  sqlite3_finalize(statement);
  return 0;
}

int main(int argc, char** argv) {
  const char* socket_path = NULL;
  char key_hex[POSTURED_KEY_HEX_SIZE];
  char error[256];
  sqlite3* db = NULL;
  int code;
  int first = 1;
  if (argc > 2 && strcmp(argv[1], "--socket") == 0) {
    socket_path = argv[2];
    first = 3;
  }
  if (argc - first != 3) {
    fprintf(stderr, "usage: pos_open_cache [--socket PATH] CACHE_NAME DATABASE TABLE\n");
    return 2;
  }

  if (postured_fetch_cache_key(socket_path, argv[first], key_hex, error, sizeof error) != 0) {
    fprintf(stderr, "pos_open_cache: no key for %s: %s\n", argv[first], error);
    return 1;
  }
  if (open_keyed(argv[first + 1], key_hex, &db) != SQLITE_OK) {
    fprintf(stderr, "pos_open_cache: cannot open %s: %s\n", argv[first + 1], db ? sqlite3_errmsg(db) : "out of memory");
    code = 3;
  } else {
    code = print_row_count(db, argv[first + 2]);
  }
  /* The connection keeps its own copy of the key (wiped by SQLCipher on close); this one goes now. */
  explicit_bzero(key_hex, sizeof key_hex);
  sqlite3_close(db);
  return code;
}
