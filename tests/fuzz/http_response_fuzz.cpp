// libFuzzer target: the agent's HTTP response handling (agent/transport/http_message.cpp) on arbitrary
// bytes: Beast's parser as the client configures it (status line, headers, chunked and until-EOF
// bodies, size limits), Content-Encoding gzip, and Retry-After. The first byte picks how the bytes are
// cut into pieces (as a socket delivers them) and a small body limit, so both paths get exercised.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "transport/http_message.hpp"

using namespace postured::transport;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1795000000));  // fixed: reproducible

  ResponseLimits limits;
  limits.max_body = (control & 0x80) ? 64 : 4096;
  limits.max_header = 2048;
  const std::size_t piece = 1 + (control & 0x3F);

  const auto parsed = parse_response(bytes, limits, now, piece);
  if (const auto* response = std::get_if<HttpResponse>(&parsed)) {
    require(response->status >= 100 && response->status <= 599);
    require(response->body.size() <= limits.max_body);
    if (response->retry_after) {
      require(response->retry_after->count() >= 0);
      require(*response->retry_after <= limits::kMaxRetryAfter);
    }
    // One pass and many small pieces must agree: the client reads whatever the socket gives.
    const auto whole = parse_response(bytes, limits, now, bytes.size() + 1);
    require(std::holds_alternative<HttpResponse>(whole));
    require(std::get<HttpResponse>(whole).body == response->body);
    require(std::get<HttpResponse>(whole).status == response->status);
  } else {
    require(!std::get<std::string>(parsed).empty());
  }

  // The same bytes as a Retry-After value and as a gzip body.
  if (const auto wait = parse_retry_after(bytes, now)) {
    require(wait->count() >= 0 && *wait <= limits::kMaxRetryAfter);
  }
  std::string error;
  if (const auto inflated = gzip_decompress(bytes, limits.max_body, error)) {
    require(inflated->size() <= limits.max_body);
  } else {
    require(!error.empty());
  }
  return 0;
}
