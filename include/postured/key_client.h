/*
 * postured key client: fetches a customer cache's SQLCipher key from the local postured daemon.
 *
 * Link the static library postured_key_client (plain C11, libc only). The daemon gives a cache's key
 * only to the program named by the cache's owner_exe in postured.toml, running as its owner_uid; the
 * protocol is described in agent/cache/KEY_RELEASE.md.
 *
 * Use the key as SQLCipher's raw key, then wipe it:
 *
 *   char key[65], error[256];
 *   if (postured_fetch_cache_key(NULL, "loyalty", key, error, sizeof error) != 0) { log(error); ... }
 *   // PRAGMA key = "x'<key>'";  (or sqlite3_key with the text x'<key>')
 *   explicit_bzero(key, sizeof key);
 *
 * Fetch the key each time the database is opened rather than keeping it: `posturectl cache rotate-key`
 * changes it, and the daemon always answers with the key that opens the file now.
 */
#ifndef POSTURED_KEY_CLIENT_H
#define POSTURED_KEY_CLIENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where the daemon listens with the default agent.runtime_dir. */
#define POSTURED_KEY_SOCKET_DEFAULT "/run/postured/postured.sock"

/* Room for a key: 64 lowercase hex digits and the terminating NUL. */
#define POSTURED_KEY_HEX_SIZE 65

/* How long the client waits for the daemon's reply, in milliseconds. The daemon answers between
 * cycles' work, and a cycle verifying a large cache can keep it busy for a few seconds. */
#define POSTURED_KEY_TIMEOUT_MS 10000

/*
 * Asks the daemon at `socket_path` (NULL: POSTURED_KEY_SOCKET_DEFAULT) for the key of the cache named
 * `cache_name` (1 to 64 letters, digits, '.', '_' or '-', as in postured.toml).
 *
 * Returns 0 and the key in `key_hex` (64 lowercase hex digits, NUL-terminated).
 * Returns -1 when the daemon refused or the exchange failed; `key_hex` is then all zero bytes and
 * `error` (when not NULL and `error_size` > 0) holds the reason, NUL-terminated and truncated to fit:
 * the daemon's own words for a refusal, e.g. "uid 1002 is not the owner", "cache not encrypted yet",
 * or what failed locally, e.g. "cannot connect to /run/postured/postured.sock: No such file or directory".
 *
 * Thread-safe (no shared state), does not raise SIGPIPE, and wipes its own buffers before returning.
 */
int postured_fetch_cache_key(const char* socket_path, const char* cache_name, char key_hex[POSTURED_KEY_HEX_SIZE],
                             char* error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif /* POSTURED_KEY_CLIENT_H */
