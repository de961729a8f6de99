#include "transport/tls_stream.hpp"

#include <mbedtls/error.h>

namespace postured::transport {
namespace {

// Boost 1.74's error_category has a public non-virtual destructor; the category is a static, never deleted.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class TlsCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "mbedtls"; }
  std::string message(int value) const override {
    char text[200];
    mbedtls_strerror(-value, text, sizeof text);
    return text;
  }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& tls_category() {
  static const TlsCategory category;
  return category;
}

}  // namespace postured::transport
