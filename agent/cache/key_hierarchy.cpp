#include "cache/key_hierarchy.hpp"

#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>

#include <stdexcept>
#include <string>

namespace postured {

SecretKey derive_cache_key(const SecretKey& master, std::string_view name, unsigned generation) {
  // The salt names the purpose; the info binds the key to one cache and one generation.
  static constexpr std::string_view kSalt = "postured cache key v1";
  const std::string info = std::string(name) + '\0' + std::to_string(generation);
  SecretKey key;
  const int rc = mbedtls_hkdf(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                              reinterpret_cast<const unsigned char*>(kSalt.data()), kSalt.size(), master.data(),
                              master.size(), reinterpret_cast<const unsigned char*>(info.data()), info.size(),
                              key.data(), key.size());
  if (rc != 0) throw std::runtime_error("HKDF-SHA256 failed: " + std::to_string(rc));
  return key;
}

SecretString sqlcipher_key_literal(const SecretKey& key) {
  SecretString literal(std::string("x'"));
  literal.append(key.hex().str());
  literal.append("'");
  return literal;
}

}  // namespace postured
