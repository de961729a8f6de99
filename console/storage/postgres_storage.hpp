// The PostgreSQL backend (libpq): a pool of connections, parameterised statements only, one transaction
// per call, and one reconnect when the server dropped the connection.
#pragma once

#include <memory>
#include <string>

#include "storage/storage.hpp"

namespace postured::console {

// Opens (migrating as needed) the database named by a libpq URI ("postgresql://user:pw@host/db?...").
// Throws StorageError; its message names host, port and database, never the password.
std::unique_ptr<Storage> open_postgres_storage(const std::string& url);

}  // namespace postured::console
