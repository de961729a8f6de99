#include "cache/key_hierarchy.hpp"

#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>

#include <stdexcept>
#include <string>

namespace postured {

namespace {

SecretKey hkdf_sha256(const SecretKey& master, std::string_view salt, std::string_view info) {
  SecretKey key;
  const int rc = mbedtls_hkdf(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                              reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), master.data(),
                              master.size(), reinterpret_cast<const unsigned char*>(info.data()), info.size(),
                              key.data(), key.size());
  if (rc != 0) throw std::runtime_error("HKDF-SHA256 failed: " + std::to_string(rc));
  return key;
}

}  // namespace

SecretKey derive_cache_key(const SecretKey& master, std::string_view name, unsigned generation) {
  // The salt names the purpose; the info binds the key to one cache and one generation.
  const std::string info = std::string(name) + '\0' + std::to_string(generation);
  return hkdf_sha256(master, "postured cache key v1", info);
}

SecretKey derive_purpose_key(const SecretKey& master, std::string_view purpose) {
  // A salt of its own: no purpose label can collide with a cache name and generation.
  return hkdf_sha256(master, "postured purpose key v1", purpose);
}

SecretString sqlcipher_key_literal(const SecretKey& key) {
  SecretString literal(std::string("x'"));
  literal.append(key.hex().str());
  literal.append("'");
  return literal;
}

}  // namespace postured
