// Cache keys derive from the device master key: HKDF-SHA256(master, cache name, generation).
#pragma once

#include <string_view>

#include "core/secret.hpp"

namespace postured {

// The raw SQLCipher key of cache `name` at key generation `generation`. Deterministic: the same
// master key, name and generation always give the same key, so nothing but the master is stored.
SecretKey derive_cache_key(const SecretKey& master, std::string_view name, unsigned generation);

// The SQLCipher raw-key literal for `key`: x'<64 hex digits>' (no PBKDF2 on every open).
SecretString sqlcipher_key_literal(const SecretKey& key);

}  // namespace postured
