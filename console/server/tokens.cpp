#include "server/tokens.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>
#include <psa/crypto.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "core/secret.hpp"
#include "core/text.hpp"
#include "transport/tls_config.hpp"

namespace postured::console {
namespace {

// 256 bits: not guessable within a token's lifetime, however many attempts.
constexpr std::size_t kTokenBytes = 32;

bool is_hex_hash(std::string_view text) {
  if (text.size() != 64) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string new_token() {
  transport::ensure_psa_initialised();
  std::array<unsigned char, kTokenBytes> bytes{};
  if (psa_generate_random(bytes.data(), bytes.size()) != PSA_SUCCESS) {
    throw std::runtime_error("psa_generate_random failed");
  }
  std::array<unsigned char, 2 * kTokenBytes> encoded{};
  std::size_t length = 0;
  const int rc = mbedtls_base64_encode(encoded.data(), encoded.size(), &length, bytes.data(), bytes.size());
  wipe(bytes.data(), bytes.size());
  if (rc != 0) throw std::runtime_error("base64 encoding failed");
  std::string token;
  for (std::size_t i = 0; i < length; ++i) {
    const char c = static_cast<char>(encoded[i]);
    if (c == '=') break;
    token += c == '+' ? '-' : c == '/' ? '_' : c;
  }
  wipe(encoded.data(), encoded.size());
  return token;
}

std::string sha256_hex(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  mbedtls_sha256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data(), 0);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (const unsigned char b : digest) {
    hex += kDigits[b >> 4];
    hex += kDigits[b & 0x0f];
  }
  return hex;
}

void append_operator_token_hash(const std::filesystem::path& file, const std::string& hash) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + file.string() + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  const std::string line = hash + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot write " + file.string() + ": " + std::strerror(saved));
}

std::vector<std::string> read_operator_token_hashes(const std::filesystem::path& file) {
  std::vector<std::string> hashes;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return hashes;
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string_view trimmed = text::trim(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    if (!is_hex_hash(trimmed)) {
      throw std::runtime_error(file.string() + ":" + std::to_string(number) +
                               ": not a SHA-256 hex digest (made by `posture-console operator-token create`)");
    }
    hashes.emplace_back(trimmed);
  }
  return hashes;
}

}  // namespace postured::console
