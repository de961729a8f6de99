// Every key derives from the device master key with HKDF-SHA256: cache keys from the cache name and
// generation, purpose keys (e.g. the minimization HMAC key) from a purpose label. Each family has its
// own salt, so a purpose key never equals a cache key whatever the names.
#pragma once

#include <string_view>

#include "core/secret.hpp"

namespace postured {

// The raw SQLCipher key of cache `name` at key generation `generation`. Deterministic: the same
// master key, name and generation always give the same key, so nothing but the master is stored.
SecretKey derive_cache_key(const SecretKey& master, std::string_view name, unsigned generation);

// The key for one purpose other than opening a cache, e.g. kMinimizationHmacPurpose. Deterministic,
// like cache keys: stable across runs, so keyed hashes of the same value always match on this device.
SecretKey derive_purpose_key(const SecretKey& master, std::string_view purpose);

// The purpose label of the key that `hmac` minimization transforms use.
inline constexpr std::string_view kMinimizationHmacPurpose = "minimization hmac v1";

// The SQLCipher raw-key literal for `key`: x'<64 hex digits>' (no PBKDF2 on every open).
SecretString sqlcipher_key_literal(const SecretKey& key);

}  // namespace postured
