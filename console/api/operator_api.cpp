#include "api/operator_api.hpp"

#include <atomic>
#include <charconv>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include <mbedtls/sha256.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "api/api_limits.hpp"
#include "api/views.hpp"
#include "api/web_assets.hpp"
#include "core/log.hpp"
#include "core/secret.hpp"
#include "core/text.hpp"
#include "transport/tls_config.hpp"
#include "transport/tls_stream.hpp"

namespace postured::console {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

// Sent with every answer. The dashboard loads nothing but its own three files and calls only this
// origin, so the policy can forbid everything else (inline scripts and styles included).
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

struct Answer {
  http::status status = http::status::ok;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<http::field, std::string>> headers;
};

Answer json_answer(const json& document, http::status status = http::status::ok) {
  Answer answer;
  answer.status = status;
  answer.body = document.dump();
  answer.body += '\n';
  return answer;
}

Answer error_answer(http::status status, std::string_view code, std::string_view message) {
  return json_answer({{"error", code}, {"message", message}}, status);
}

std::string hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xf];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[32];
  if (mbedtls_sha256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, 0) != 0)
    throw std::runtime_error("SHA-256 failed");
  return hex(digest, sizeof digest);
}

// Equal length strings compared without an early exit, so that the time taken says nothing about
// how much of a guess was right.
bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  return difference == 0;
}

// %XX and (in queries) '+' decoding; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      unsigned value = 0;
      const auto result = std::from_chars(in.data() + i + 1, in.data() + i + 3, value, 16);
      if (result.ec != std::errc() || result.ptr != in.data() + i + 3) return std::nullopt;
      out += static_cast<char>(value);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};

std::optional<Target> parse_target(std::string_view target) {
  Target out;
  const auto question = target.find('?');
  auto path = percent_decode(target.substr(0, question), false);
  if (!path) return std::nullopt;
  out.path = std::move(*path);
  if (question == std::string_view::npos) return out;
  std::string_view rest = target.substr(question + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto equals = pair.find('=');
    auto key = percent_decode(pair.substr(0, equals), true);
    auto value = percent_decode(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1), true);
    if (!key || !value) return std::nullopt;
    out.query[*key] = std::move(*value);
  }
  return out;
}

// A query parameter as a count; `fallback` when absent. Throws std::invalid_argument with a message.
std::size_t count_parameter(const Target& target, const std::string& name, std::size_t fallback, std::size_t max) {
  const auto found = target.query.find(name);
  if (found == target.query.end() || found->second.empty()) return fallback;
  std::size_t value = 0;
  const std::string& text = found->second;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec != std::errc() || result.ptr != text.data() + text.size())
    throw std::invalid_argument(name + " must be a non-negative integer, not '" + text + "'");
  if (value > max) throw std::invalid_argument(name + " must be at most " + std::to_string(max));
  return value;
}

}  // namespace

// ---- request handling ------------------------------------------------------------------------------------

struct OperatorApi::Impl : std::enable_shared_from_this<OperatorApi::Impl> {
  Impl(asio::io_context& context, Storage& store, const Metrics& counters, ApiConfig settings)
      : io(context),
        storage(store),
        metrics(counters),
        config(std::move(settings)),
        acceptor(asio::make_strand(context)) {
    for (auto& hash : config.operator_token_hashes) hash = text::lower(text::trim(hash));
  }

  asio::io_context& io;
  Storage& storage;
  const Metrics& metrics;
  ApiConfig config;
  tcp::acceptor acceptor;
  unsigned short bound_port = 0;
  std::atomic<bool> stopped{false};
  std::atomic<std::size_t> connections{0};

  std::shared_ptr<const transport::TlsConfig> tls;  // set: HTTPS

  // Open connections, so that stop() can close them.
  struct Connection {
    virtual ~Connection() = default;
    virtual void close() = 0;
  };
  std::mutex connections_mutex;
  std::map<Connection*, std::weak_ptr<Connection>> open_connections;
  void forget(Connection* connection) {
    --connections;
    std::lock_guard lock(connections_mutex);
    open_connections.erase(connection);
  }

  bool authorized(const http::request<http::string_body>& request) const {
    const auto field = request[http::field::authorization];
    const std::string_view header(field.data(), field.size());
    static constexpr std::string_view kScheme = "bearer ";
    if (header.size() <= kScheme.size() || !text::iequals(header.substr(0, kScheme.size()), kScheme)) return false;
    const std::string presented = sha256_hex(text::trim(header.substr(kScheme.size())));
    bool match = false;
    for (const auto& hash : config.operator_token_hashes) match |= equal_constant_time(presented, hash);
    return match;
  }

  DeviceFilter device_filter(const Target& target, std::size_t default_limit) const {
    DeviceFilter filter;
    auto text_parameter = [&](const char* name) {
      const auto found = target.query.find(name);
      return found == target.query.end() ? std::string() : found->second;
    };
    filter.store_id = text_parameter("store");
    filter.status = text_parameter("status");
    filter.check_id = text_parameter("check");
    filter.search = text_parameter("q");
    if (!filter.status.empty() && filter.status != "pass" && filter.status != "fail" && filter.status != "error" &&
        filter.status != "stale")
      throw std::invalid_argument("status must be one of pass, fail, error, stale; not '" + filter.status + "'");
    filter.stale_after = config.stale_after;
    filter.limit = count_parameter(target, "limit", default_limit, api_limits::kMaxDeviceLimit);
    filter.offset = count_parameter(target, "offset", 0, std::numeric_limits<std::size_t>::max());
    return filter;
  }

  Answer route(const http::request<http::string_body>& request) {
    const auto target = parse_target(std::string_view(request.target().data(), request.target().size()));
    if (!target)
      return error_answer(http::status::bad_request, "bad_request", "the request target has a malformed %-escape");
    const std::string& path = target->path;
    const bool read_only = request.method() == http::verb::get || request.method() == http::verb::head;

    auto method_not_allowed = [] {
      Answer answer =
          error_answer(http::status::method_not_allowed, "method_not_allowed", "only GET and HEAD are served");
      answer.headers.emplace_back(http::field::allow, "GET, HEAD");
      return answer;
    };

    // Public: the dashboard's files (their API calls carry the operator's token) and the health check.
    if (path == "/healthz") {
      if (!read_only) return method_not_allowed();
      return json_answer({{"status", "ok"}});
    }
    const std::string_view asset_path = path == "/" ? std::string_view("/index.html") : std::string_view(path);
    for (const auto& asset : web_assets()) {
      if (asset.path != asset_path) continue;
      if (!read_only) return method_not_allowed();
      Answer answer;
      answer.content_type = asset.content_type;
      answer.body = asset.body;
      return answer;
    }

    const bool protected_path = path == "/metrics" || path.starts_with("/api/");
    if (!protected_path) return error_answer(http::status::not_found, "not_found", "no such path: " + path);
    // Authentication before anything else: without a token, the API does not say which paths exist.
    if (!authorized(request)) {
      Answer answer = error_answer(http::status::unauthorized, "unauthorized",
                                   "send an operator token: Authorization: Bearer <token> "
                                   "(made by `posture-console operator-token create`)");
      answer.headers.emplace_back(http::field::www_authenticate, "Bearer realm=\"posture-console\"");
      return answer;
    }

    const auto now = Clock::now();
    const Clock::duration stale_after = config.stale_after;
    static constexpr std::string_view kDevicePrefix = "/api/v1/devices/";
    const bool known = path == "/metrics" || path == "/api/v1/summary" || path == "/api/v1/devices" ||
                       path == "/api/v1/devices.csv" || path == "/api/v1/stores" ||
                       (path.starts_with(kDevicePrefix) && path.size() > kDevicePrefix.size());
    if (!known) return error_answer(http::status::not_found, "not_found", "no such path: " + path);
    if (!read_only) return method_not_allowed();

    try {
      if (path == "/metrics") {
        Answer answer;
        answer.content_type = "text/plain; version=0.0.4; charset=utf-8";
        answer.body = views::metrics_text(metrics.snapshot(), storage.summary(now, stale_after));
        return answer;
      }
      if (path == "/api/v1/summary")
        return json_answer(views::summary(storage.summary(now, stale_after), now, stale_after));
      if (path == "/api/v1/stores") {
        json stores = json::array();
        for (const auto& store : storage.stores(now, stale_after)) stores.push_back(views::store_summary(store));
        return json_answer({{"stores", std::move(stores)}, {"generated_at", text::rfc3339_utc(now)}});
      }
      if (path == "/api/v1/devices" || path == "/api/v1/devices.csv") {
        const bool csv = path.ends_with(".csv");
        const DeviceFilter filter =
            device_filter(*target, csv ? api_limits::kMaxDeviceLimit : api_limits::kDefaultDeviceLimit);
        const auto devices = storage.devices(filter, now);
        if (csv) {
          Answer answer;
          answer.content_type = "text/csv; charset=utf-8; header=present";
          answer.body = views::devices_csv(devices, now, stale_after);
          answer.headers.emplace_back(http::field::content_disposition, "attachment; filename=\"devices.csv\"");
          return answer;
        }
        json list = json::array();
        for (const auto& device : devices) list.push_back(views::device_summary(device, now, stale_after));
        return json_answer({{"devices", std::move(list)},
                            {"count", devices.size()},
                            {"limit", filter.limit},
                            {"offset", filter.offset},
                            {"generated_at", text::rfc3339_utc(now)}});
      }
      const std::string device_id = path.substr(kDevicePrefix.size());
      const auto detail = storage.device(device_id, api_limits::kDeviceHistory);
      if (!detail) return error_answer(http::status::not_found, "device_unknown", "no device with id " + device_id);
      json document = views::device_detail(*detail, now, stale_after);
      document["generated_at"] = text::rfc3339_utc(now);
      return json_answer(document);
    } catch (const std::invalid_argument& e) {
      return error_answer(http::status::bad_request, "bad_request", e.what());
    } catch (const StorageError& e) {
      log::error("operator API: ", e.what());
      Answer answer = error_answer(http::status::service_unavailable, "storage", e.what());
      answer.headers.emplace_back(http::field::retry_after, "5");
      return answer;
    }
  }

  http::response<http::string_body> respond(const http::request<http::string_body>& request) {
    Answer answer;
    try {
      answer = route(request);
    } catch (const std::exception& e) {
      log::error("operator API: ", request.method_string(), " ", request.target(), ": ", e.what());
      answer =
          error_answer(http::status::internal_server_error, "internal", "the console failed to answer; see its log");
    }
    http::response<http::string_body> response{answer.status, request.version()};
    response.set(http::field::server, "posture-console");
    response.set(http::field::content_type, answer.content_type);
    response.set("Content-Security-Policy", std::string(kContentSecurityPolicy));
    response.set("X-Content-Type-Options", "nosniff");
    response.set("Referrer-Policy", "no-referrer");
    response.set("X-Frame-Options", "DENY");
    // Posture data and tokens in flight: nothing of it belongs in a shared or browser cache.
    response.set(http::field::cache_control, "no-store");
    for (auto& [field, value] : answer.headers) response.set(field, value);
    response.keep_alive(request.keep_alive());
    const std::size_t length = answer.body.size();
    if (request.method() != http::verb::head) response.body() = std::move(answer.body);
    response.content_length(length);
    log::debug("operator API: ", request.method_string(), " ", request.target(), " -> ", response.result_int());
    return response;
  }

  // An answer to a request that could not be read in full (too large, malformed); the connection closes.
  static http::response<http::string_body> refuse(http::status status, std::string_view code,
                                                  std::string_view message) {
    const Answer answer = error_answer(status, code, message);
    http::response<http::string_body> response{status, 11};
    response.set(http::field::content_type, answer.content_type);
    response.set("Content-Security-Policy", std::string(kContentSecurityPolicy));
    response.keep_alive(false);
    response.body() = answer.body;
    response.prepare_payload();
    return response;
  }

  void accept();
  template <typename Stream>
  class Session;
  template <typename Stream>
  void open(tcp::socket socket);
};

namespace {

// The per-connection operations that differ between plain TCP (Beast's tcp_stream, whose timer covers
// each operation) and TLS (the transport's TlsStream, which times each operation itself).
template <typename Stream>
struct StreamOps;

template <>
struct StreamOps<beast::tcp_stream> {
  static beast::tcp_stream make(tcp::socket socket, const std::shared_ptr<const transport::TlsConfig>&) {
    return beast::tcp_stream(std::move(socket));
  }
  static tcp::socket& socket(beast::tcp_stream& stream) { return stream.socket(); }
  static void expires_after(beast::tcp_stream& stream, std::chrono::seconds timeout) { stream.expires_after(timeout); }
};

template <>
struct StreamOps<transport::TlsStream> {
  static std::unique_ptr<transport::TlsStream> make(tcp::socket socket,
                                                    const std::shared_ptr<const transport::TlsConfig>& tls) {
    transport::TlsTimeouts timeouts;
    timeouts.handshake = api_limits::kHandshakeTimeout;
    timeouts.read = api_limits::kIdleTimeout;
    timeouts.write = api_limits::kWriteTimeout;
    auto stream = std::make_unique<transport::TlsStream>(socket.get_executor(), tls, "", timeouts);
    stream->next_layer() = std::move(socket);
    return stream;
  }
  static tcp::socket& socket(transport::TlsStream& stream) { return stream.next_layer(); }
  static void expires_after(transport::TlsStream&, std::chrono::seconds) {}  // TlsTimeouts apply
};

}  // namespace

// One connection: (TLS handshake,) read a request, answer, repeat while the client keeps it alive.
template <typename Stream>
class OperatorApi::Impl::Session : public Connection, public std::enable_shared_from_this<Session<Stream>> {
  using Ops = StreamOps<Stream>;
  static constexpr bool kTls = std::is_same_v<Stream, transport::TlsStream>;

 public:
  Session(std::shared_ptr<OperatorApi::Impl> api, tcp::socket socket)
      : api_(std::move(api)), holder_(Ops::make(std::move(socket), api_->tls)) {}
  ~Session() override { api_->forget(this); }

  void start() {
    auto self = this->shared_from_this();
    asio::dispatch(stream().get_executor(), [self] {
      if constexpr (kTls) {
        self->stream().async_handshake([self](beast::error_code ec) {
          if (ec) {
            log::debug("operator API: TLS handshake failed: ", ec.message());
            return self->finish();
          }
          self->read();
        });
      } else {
        self->read();
      }
    });
  }
  void close() override {
    asio::post(stream().get_executor(), [self = this->shared_from_this()] {
      beast::error_code ignored;
      Ops::socket(self->stream()).shutdown(tcp::socket::shutdown_both, ignored);
      Ops::socket(self->stream()).close(ignored);
    });
  }

 private:
  Stream& stream() {
    if constexpr (kTls)
      return *holder_;
    else
      return holder_;
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(api_limits::kMaxRequestHeader);
    parser_->body_limit(api_limits::kMaxRequestBody);
    Ops::expires_after(stream(), requests_ == 0 ? api_limits::kReadTimeout : api_limits::kIdleTimeout);
    http::async_read(stream(), buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof || ec == asio::error::timed_out)
      return finish();
    if (ec == http::error::body_limit)
      return write(OperatorApi::Impl::refuse(http::status::payload_too_large, "too_large",
                                             "the operator API takes no request body"),
                   true);
    if (ec == http::error::header_limit)
      return write(OperatorApi::Impl::refuse(http::status::request_header_fields_too_large, "too_large",
                                             "request headers too large"),
                   true);
    if (ec) {
      if (ec.category() != http::make_error_code(http::error::bad_target).category())
        return finish();  // a transport error
      return write(OperatorApi::Impl::refuse(http::status::bad_request, "bad_request", "malformed HTTP request"), true);
    }
    ++requests_;
    const auto& request = parser_->get();
    const bool last = !request.keep_alive() || requests_ >= api_limits::kMaxRequestsPerConnection;
    auto response = api_->respond(request);
    if (last) response.keep_alive(false);
    write(std::move(response), last);
  }

  void write(http::response<http::string_body> response, bool last) {
    response_ = std::move(response);
    Ops::expires_after(stream(), api_limits::kWriteTimeout);
    http::async_write(stream(), response_, [self = this->shared_from_this(), last](beast::error_code ec, std::size_t) {
      if (ec || last) return self->finish();
      self->read();
    });
  }

  void finish() {
    if constexpr (kTls) {
      if (stream().engine().handshake_done()) {
        // close_notify, then close; the peer's own close_notify is not awaited.
        return stream().async_shutdown([self = this->shared_from_this()](beast::error_code) { self->close_socket(); });
      }
    }
    close_socket();
  }
  void close_socket() {
    beast::error_code ignored;
    Ops::socket(stream()).shutdown(tcp::socket::shutdown_send, ignored);
    Ops::socket(stream()).close(ignored);
  }

  std::shared_ptr<OperatorApi::Impl> api_;
  std::conditional_t<kTls, std::unique_ptr<Stream>, Stream> holder_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  unsigned requests_ = 0;
};

template <typename Stream>
void OperatorApi::Impl::open(tcp::socket socket) {
  auto session = std::make_shared<Session<Stream>>(shared_from_this(), std::move(socket));
  {
    std::lock_guard lock(connections_mutex);
    open_connections[session.get()] = session;
  }
  session->start();
}

void OperatorApi::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopped) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      log::warn("operator API: accept failed: ", ec.message());
    } else if (self->connections.load() >= api_limits::kMaxConnections) {
      log::warn("operator API: ", api_limits::kMaxConnections, " connections open; closing a new one");
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      ++self->connections;
      if (self->tls)
        self->open<transport::TlsStream>(std::move(socket));
      else
        self->open<beast::tcp_stream>(std::move(socket));
    }
    self->accept();
  });
}

// ---- the public class -------------------------------------------------------------------------------

OperatorApi::OperatorApi(asio::io_context& io, Storage& storage, const Metrics& metrics, ApiConfig config)
    : impl_(std::make_shared<Impl>(io, storage, metrics, std::move(config))) {}

OperatorApi::~OperatorApi() {
  stop();
}

void OperatorApi::start() {
  const std::string& listen = impl_->config.listen;
  const auto colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? std::string() : listen.substr(0, colon);
  const std::string port_text = colon == std::string::npos ? listen : listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned short port = 0;
  const auto parsed = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  beast::error_code ec;
  const auto address = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec || parsed.ec != std::errc() || parsed.ptr != port_text.data() + port_text.size())
    throw std::runtime_error("operator API: listen address '" + listen + "' is not IP:port (e.g. 127.0.0.1:8080)");
  const bool has_certificate = !impl_->config.tls_certificate_pem.empty();
  if (has_certificate != !impl_->config.tls_private_key_pem.empty())
    throw std::runtime_error("operator API: HTTPS needs both a certificate and its private key");
  if (has_certificate) {
    // Browsers and curl present no client certificate: asked for one optionally, they send none. The
    // certificate itself stands in as the (unused) client CA, which the server config requires.
    transport::TlsIdentity identity{impl_->config.tls_certificate_pem, SecretString(impl_->config.tls_private_key_pem)};
    transport::ServerOptions options;
    options.client_certificate_optional = true;
    try {
      impl_->tls = transport::TlsConfig::server(impl_->config.tls_certificate_pem, identity, options);
    } catch (const transport::TlsConfigError& e) {
      throw std::runtime_error(std::string("operator API: HTTPS certificate or key unusable: ") + e.what());
    }
  }

  const tcp::endpoint endpoint(address, port);
  auto& acceptor = impl_->acceptor;
  auto fail = [&](const char* what) {
    throw std::runtime_error("operator API cannot " + std::string(what) + " " + listen + ": " + ec.message());
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) fail("open a socket for");
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) fail("listen on");
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("listen on");
  impl_->bound_port = acceptor.local_endpoint().port();
  if (impl_->config.operator_token_hashes.empty())
    log::warn(
        "operator API: no operator tokens configured; every API request will be refused "
        "(make one with `posture-console operator-token create`)");
  asio::post(acceptor.get_executor(), [impl = impl_] { impl->accept(); });
}

unsigned short OperatorApi::port() const {
  return impl_->bound_port;
}

void OperatorApi::stop() {
  if (impl_->stopped.exchange(true)) return;
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<Impl::Connection>> open;
  {
    std::lock_guard lock(impl_->connections_mutex);
    for (auto& [raw, weak] : impl_->open_connections)
      if (auto connection = weak.lock()) open.push_back(std::move(connection));
  }
  for (auto& connection : open) connection->close();
}

}  // namespace postured::console
