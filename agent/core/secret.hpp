// Key material that wipes itself: never copied implicitly, zeroized on destruction.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace postured {

// Overwrites memory in a way the compiler cannot optimise away (mbedtls_platform_zeroize).
void wipe(void* data, std::size_t size);

// A std::string for secrets (hex keys, SQL that carries a key): wiped when it goes away.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string text) : text_(std::move(text)) {}
  ~SecretString() { wipe(text_.data(), text_.size()); }
  SecretString(SecretString&& other) noexcept : text_(std::move(other.text_)) { other.text_.clear(); }
  SecretString& operator=(SecretString&&) = delete;
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;

  const std::string& str() const { return text_; }
  void append(std::string_view more) {
    // Reserve first so that growing never leaves an unwiped copy behind in freed memory.
    if (text_.capacity() < text_.size() + more.size()) {
      std::string bigger;
      bigger.reserve(2 * (text_.size() + more.size()));
      bigger = text_;
      wipe(text_.data(), text_.size());
      text_.swap(bigger);
    }
    text_.append(more);
  }

 private:
  std::string text_;
};

// A 256-bit key.
class SecretKey {
 public:
  static constexpr std::size_t kSize = 32;

  SecretKey() { bytes_.fill(0); }
  ~SecretKey() { wipe(bytes_.data(), bytes_.size()); }
  SecretKey(const SecretKey& other) = default;
  SecretKey& operator=(const SecretKey& other) = default;

  std::uint8_t* data() { return bytes_.data(); }
  const std::uint8_t* data() const { return bytes_.data(); }
  static constexpr std::size_t size() { return kSize; }

  // Lower-case hex, as SQLCipher's raw key syntax x'...' wants it.
  SecretString hex() const;

 private:
  std::array<std::uint8_t, kSize> bytes_;
};

}  // namespace postured
