// The agent's side of HTTP/1.1 messages, apart from any connection: what a response must look like
// to be taken (size limits, Content-Encoding), gzip for bodies, and Retry-After. HttpsClient reads
// with these; the fuzz target feeds them arbitrary bytes.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/asio.hpp"

#include <boost/beast/http.hpp>

#include "transport/limits.hpp"

namespace postured::transport {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  unsigned status = 0;
  std::string reason;
  Headers headers;
  std::string body;  // decoded: gunzipped when the peer sent Content-Encoding: gzip
  bool keep_alive = false;
  // From Retry-After (seconds or an HTTP-date), capped at limits::kMaxRetryAfter. The console sends
  // it with 429 and 503; it is taken from any status that carries it.
  std::optional<std::chrono::seconds> retry_after;

  // The first header of that name (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

struct ResponseLimits {
  std::size_t max_body = limits::kMaxResponseBody;      // after decoding, and before it
  std::size_t max_header = limits::kMaxResponseHeader;  // status line and headers
};

using ResponseParser = boost::beast::http::response_parser<boost::beast::http::string_body>;

// One gzip member holding `data`.
std::string gzip_compress(std::string_view data);
// What gzip data (every member) inflates to; nullopt with `error` set when it is not gzip or would
// inflate past `max_size` (a decompression bomb stops there, not at the end).
std::optional<std::string> gzip_decompress(std::string_view data, std::size_t max_size, std::string& error);

// Retry-After's value: delta-seconds, or an HTTP-date in any of RFC 9110's three forms, as a wait from
// `now` (0 for a date in the past), capped at limits::kMaxRetryAfter. nullopt if it is neither.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

// What a parse error from Beast means for the agent, as a sentence ("the response body is larger ...").
std::string describe_parse_error(const boost::system::error_code& ec, const ResponseLimits& limits);
// Applies `limits` to a parser before it reads anything. The header must then be read on its own
// (async_read_header, or put() until is_header_done()) before the body: Boost 1.74's parser, when eager,
// loses the error of a Content-Length above the body limit and goes on reading (and reserving) the body.
void apply_limits(ResponseParser& parser, const ResponseLimits& limits);
// The response a finished parser holds, with the body decoded; a sentence saying what is wrong otherwise.
std::variant<HttpResponse, std::string> finish_response(ResponseParser& parser, const ResponseLimits& limits,
                                                        std::chrono::system_clock::time_point now);
// One response from raw bytes, fed in pieces of at most `piece` bytes as a socket delivers them, the
// end of `bytes` being the end of the stream.
std::variant<HttpResponse, std::string> parse_response(std::string_view bytes, const ResponseLimits& limits,
                                                       std::chrono::system_clock::time_point now,
                                                       std::size_t piece = 4096);

}  // namespace postured::transport
