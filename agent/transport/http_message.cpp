#include "transport/http_message.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

namespace postured::transport {
namespace http = boost::beast::http;
namespace {

std::string_view std_view(boost::beast::string_view text) {
  return {text.data(), text.size()};
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The value of a fixed-width run of digits, or -1.
int number(std::string_view text) {
  if (!all_digits(text)) return -1;
  int value = 0;
  for (char c : text) value = value * 10 + (c - '0');
  return value;
}

int month(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (kMonths[i] == name) return static_cast<int>(i) + 1;
  }
  return -1;
}

bool weekday(std::string_view name, bool long_form) {
  static constexpr std::array<std::string_view, 7> kShort = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 7> kLong = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                            "Friday", "Saturday", "Sunday"};
  const auto& names = long_form ? kLong : kShort;
  return std::find(names.begin(), names.end(), name) != names.end();
}

// "HH:MM:SS" at `text`, as seconds into the day; -1 if malformed.
long time_of_day(std::string_view text) {
  if (text.size() != 8 || text[2] != ':' || text[5] != ':') return -1;
  const int h = number(text.substr(0, 2)), m = number(text.substr(3, 2)), s = number(text.substr(6, 2));
  if (h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 60) return -1;
  return h * 3600L + m * 60L + s;
}

// In whole seconds: system_clock's nanoseconds overflow for years outside 1678-2261, which a date
// header can name (the fuzz target found that).
std::optional<std::chrono::sys_seconds> to_time(int year, int mon, int day, long seconds) {
  using namespace std::chrono;
  if (year < 0 || mon < 1 || day < 1 || seconds < 0) return std::nullopt;
  const year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(mon)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) return std::nullopt;
  return sys_days{date} + std::chrono::seconds{seconds};
}

// RFC 9110 5.6.7: IMF-fixdate, the obsolete RFC 850 form and asctime's form.
std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view text) {
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (text.size() == 29 && text.substr(3, 2) == ", " && text[7] == ' ' && text[11] == ' ' && text[16] == ' ' &&
      text.substr(25) == " GMT" && weekday(text.substr(0, 3), false)) {
    return to_time(number(text.substr(12, 4)), month(text.substr(8, 3)), number(text.substr(5, 2)),
                   time_of_day(text.substr(17, 8)));
  }
  // asctime: "Sun Nov  6 08:49:37 1994"
  if (text.size() == 24 && text[3] == ' ' && text[7] == ' ' && text[10] == ' ' && text[19] == ' ' &&
      weekday(text.substr(0, 3), false)) {
    std::string_view day = text.substr(8, 2);
    if (day.front() == ' ') day.remove_prefix(1);
    return to_time(number(text.substr(20, 4)), month(text.substr(4, 3)), number(day), time_of_day(text.substr(11, 8)));
  }
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year is taken as 1970-2069.
  const auto comma = text.find(", ");
  if (comma != std::string_view::npos && weekday(text.substr(0, comma), true)) {
    const auto rest = text.substr(comma + 2);
    if (rest.size() == 22 && rest[2] == '-' && rest[6] == '-' && rest[9] == ' ' && rest.substr(18) == " GMT") {
      const int yy = number(rest.substr(7, 2));
      if (yy < 0) return std::nullopt;
      return to_time(yy < 70 ? 2000 + yy : 1900 + yy, month(rest.substr(3, 3)), number(rest.substr(0, 2)),
                     time_of_day(rest.substr(10, 8)));
    }
  }
  return std::nullopt;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string describe_parse_error(const boost::system::error_code& ec, const ResponseLimits& limits) {
  if (ec == http::error::body_limit) {
    return "the response body is larger than the limit of " + std::to_string(limits.max_body) + " bytes";
  }
  if (ec == http::error::header_limit) {
    return "the response headers are larger than the limit of " + std::to_string(limits.max_header) + " bytes";
  }
  if (ec == http::error::partial_message || ec == http::error::end_of_stream) {
    return "the connection ended before the response was complete";
  }
  return "the response is not valid HTTP/1.1 (" + ec.message() + ")";
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (boost::beast::iequals(key, boost::beast::string_view(name.data(), name.size()))) return value;
  }
  return {};
}

std::string gzip_compress(std::string_view data) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(data.size())) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  return out;
}

std::optional<std::string> gzip_decompress(std::string_view data, std::size_t max_size, std::string& error) {
  if (data.empty()) {
    error = "it is empty";
    return std::nullopt;
  }
  if (data.size() > std::numeric_limits<uInt>::max()) {
    error = "it is too large";
    return std::nullopt;
  }
  std::string out;
  std::array<char, 16384> chunk;
  while (!data.empty()) {
    z_stream z{};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
      error = "zlib could not start";
      return std::nullopt;
    }
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    int rc = Z_OK;
    while (rc == Z_OK) {
      z.next_out = reinterpret_cast<Bytef*>(chunk.data());
      z.avail_out = static_cast<uInt>(chunk.size());
      rc = inflate(&z, Z_NO_FLUSH);
      const std::size_t produced = chunk.size() - z.avail_out;
      if (out.size() + produced > max_size) {
        inflateEnd(&z);
        error = "it inflates to more than " + std::to_string(max_size) + " bytes";
        return std::nullopt;
      }
      out.append(chunk.data(), produced);
      if (rc == Z_BUF_ERROR && z.avail_in == 0) break;   // input used up before the end of the member
      if (rc == Z_BUF_ERROR && produced > 0) rc = Z_OK;  // output was full: go on
    }
    const std::size_t used = data.size() - z.avail_in;
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
      error = rc == Z_BUF_ERROR ? "it is truncated" : "it is not valid gzip";
      return std::nullopt;
    }
    data.remove_prefix(used);
  }
  return out;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  using std::chrono::seconds;
  value = trim(value);
  if (all_digits(value)) {
    // Any number of digits: a value beyond the cap is the cap, without overflowing on the way.
    std::int64_t wait = 0;
    for (char c : value) {
      wait = wait * 10 + (c - '0');
      if (wait > limits::kMaxRetryAfter.count()) return limits::kMaxRetryAfter;
    }
    return seconds(wait);
  }
  const auto date = parse_http_date(value);
  if (!date) return std::nullopt;
  const auto wait = *date - std::chrono::floor<seconds>(now);
  if (wait <= seconds(0)) return seconds(0);
  return std::min<seconds>(wait, limits::kMaxRetryAfter);
}

void apply_limits(ResponseParser& parser, const ResponseLimits& limits) {
  parser.body_limit(limits.max_body);
  parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header, UINT32_MAX)));
  parser.eager(false);
}

std::variant<HttpResponse, std::string> finish_response(ResponseParser& parser, const ResponseLimits& limits,
                                                        std::chrono::system_clock::time_point now) {
  auto& message = parser.get();
  HttpResponse response;
  response.status = message.result_int();
  if (response.status < 100 || response.status > 599) {
    return "the response has status " + std::to_string(response.status) + ", outside HTTP's 100-599";
  }
  response.reason = std::string(message.reason());
  for (const auto& field : message) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.keep_alive = message.keep_alive();

  const std::string encoding = lower(trim(std_view(message[http::field::content_encoding])));
  if (encoding.empty() || encoding == "identity") {
    response.body = std::move(message.body());
  } else if (encoding == "gzip" || encoding == "x-gzip") {
    std::string error;
    auto body = gzip_decompress(message.body(), limits.max_body, error);
    if (!body) return "the response body says it is gzip, but " + error;
    response.body = std::move(*body);
  } else {
    return "the response body has Content-Encoding \"" + encoding + "\", which the agent does not accept";
  }

  if (const auto retry_after = message[http::field::retry_after]; !retry_after.empty()) {
    response.retry_after = parse_retry_after(std_view(retry_after), now);
  }
  return response;
}

std::variant<HttpResponse, std::string> parse_response(std::string_view bytes, const ResponseLimits& limits,
                                                       std::chrono::system_clock::time_point now, std::size_t piece) {
  ResponseParser parser;
  apply_limits(parser, limits);
  piece = std::max<std::size_t>(piece, 1);
  std::size_t consumed = 0;
  std::size_t available = std::min(bytes.size(), piece);
  while (!parser.is_done()) {
    boost::system::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(bytes.data() + consumed, available - consumed), ec);
    consumed += used;
    if (ec && ec != http::error::need_more) return describe_parse_error(ec, limits);
    if (parser.is_done()) break;
    if (parser.is_header_done()) parser.eager(true);  // the header was checked on its own: see apply_limits
    if (used > 0 && consumed < available) continue;
    if (used == 0 || consumed == available) {
      if (available == bytes.size()) break;  // the stream ends here
      available = std::min(bytes.size(), available + piece);
    }
  }
  if (!parser.is_done()) {
    boost::system::error_code ec;
    parser.put_eof(ec);
    if (ec) return describe_parse_error(ec, limits);
    if (!parser.is_done()) return describe_parse_error(http::error::partial_message, limits);
  }
  return finish_response(parser, limits, now);
}

}  // namespace postured::transport
