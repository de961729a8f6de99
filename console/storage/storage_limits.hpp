// The storage backends' constants, one table with the reason for each.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace postured::console::storage_limits {

// How long a SQLite statement waits for another connection's lock before SQLITE_BUSY. Writes come from
// one writer connection per process, so a wait means a second process (a CLI command) or a checkpoint.
inline constexpr int sqlite_busy_timeout_ms = 5000;
// Idle connections a pool keeps. API threads are few (console.toml [server] threads); more connections
// than that are closed when handed back instead of piling up.
inline constexpr std::size_t idle_connections_kept = 8;
// libpq connect_timeout (seconds) added when the URL has none: a console that cannot reach its database
// should say so, not hang.
inline constexpr int postgres_connect_timeout_s = 10;
// Raw report bodies cleared per retention transaction; the ingest thread's batches run in between.
inline constexpr std::int64_t retention_chunk = 5000;
// SQLite truncates the WAL file to this after a checkpoint, so that one burst does not keep a huge file.
inline constexpr std::int64_t sqlite_wal_size_limit = 64 * 1024 * 1024;
// pg_advisory_xact_lock key that serialises migrations between consoles sharing one database
// ("postured" in ASCII).
inline constexpr std::int64_t postgres_migration_lock = 0x706f737475726564;

}  // namespace postured::console::storage_limits
