// The SQLite backend: one file in WAL mode, one writer connection behind a mutex and a pool of reader
// connections, so that API reads never wait for the ingest thread's transactions.
#pragma once

#include <filesystem>
#include <memory>

#include "storage/storage.hpp"

namespace postured::console {

// Opens (creating and migrating as needed) the SQLite database at `path`. Throws StorageError.
std::unique_ptr<Storage> open_sqlite_storage(const std::filesystem::path& path);

}  // namespace postured::console
