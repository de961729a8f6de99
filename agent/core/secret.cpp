#include "core/secret.hpp"

#include <mbedtls/platform_util.h>

namespace postured {

void wipe(void* data, std::size_t size) {
  if (data && size) mbedtls_platform_zeroize(data, size);
}

SecretString SecretKey::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(2 * kSize, '0');
  for (std::size_t i = 0; i < kSize; ++i) {
    text[2 * i] = kDigits[bytes_[i] >> 4];
    text[2 * i + 1] = kDigits[bytes_[i] & 0xF];
  }
  return SecretString(std::move(text));
}

}  // namespace postured
