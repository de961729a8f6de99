// HTTP/1.1 over mutual TLS to one server (the console), with Boost.Beast on a TlsStream. One
// connection carries many requests; when the server has closed it, the next request opens a new one.
//
// The calls are synchronous: each runs the client's own io_context until the step is done, so the
// agent calls it from a worker thread. Not thread-safe: one request at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <boost/beast/core/flat_buffer.hpp>

#include "transport/http_message.hpp"
#include "transport/tls_stream.hpp"

namespace postured::transport {

// Why a request got no response. `message` is one or more sentences for logs and `posturectl status`.
struct TransportError {
  enum class Kind {
    resolve,      // the host name did not resolve
    connect,      // no TCP connection (refused, unreachable, timed out)
    certificate,  // the server's certificate was refused: `message` says why
    tls,          // any other TLS failure, the server refusing this device's certificate included
    timeout,      // the server took longer than a deadline
    closed,       // the server closed the connection before it answered
    http,         // the server's answer is not a response the agent takes (malformed, too large)
  };
  Kind kind;
  std::string message;
};

// A response (any status: 4xx and 5xx are responses, not transport errors) or why there is none.
class RequestResult {
 public:
  RequestResult(HttpResponse response) : value_(std::move(response)) {}
  RequestResult(TransportError error) : value_(std::move(error)) {}
  bool ok() const { return std::holds_alternative<HttpResponse>(value_); }
  const HttpResponse& response() const { return std::get<HttpResponse>(value_); }
  HttpResponse& response() { return std::get<HttpResponse>(value_); }
  const TransportError& error() const { return std::get<TransportError>(value_); }

 private:
  std::variant<HttpResponse, TransportError> value_;
};

struct HttpsEndpoint {
  std::string host;  // a DNS name or an IP address; verified in the server's certificate
  std::uint16_t port = 443;
};

struct HttpsClientSettings {
  TlsTimeouts tls;
  std::chrono::milliseconds connect_timeout = limits::kConnectTimeout;
  std::chrono::milliseconds request_timeout = limits::kRequestTimeout;
  ResponseLimits response;
};

enum class BodyEncoding { identity, gzip };

class HttpsClient {
 public:
  HttpsClient(HttpsEndpoint endpoint, std::shared_ptr<const TlsConfig> tls, HttpsClientSettings settings = {});
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends one request and reads its response. With BodyEncoding::gzip the body is compressed and sent
  // with Content-Encoding: gzip. If a kept-alive connection turns out closed before any response byte
  // arrives, the request is sent once more on a new connection (the console deduplicates reports).
  RequestResult request(boost::beast::http::verb method, std::string_view target, std::string_view body = {},
                        const Headers& headers = {}, BodyEncoding encoding = BodyEncoding::identity);

  // Sends close_notify and closes the connection, if there is one.
  void close();

  bool connected() const { return stream_ != nullptr; }
  // TCP+TLS connections opened so far: with keep-alive it stays at 1 across requests.
  std::size_t connections_opened() const { return connections_opened_; }
  // About the current or last connection: "TLSv1.3", the suite, the server's certificate.
  const std::string& protocol() const { return protocol_; }
  const std::string& ciphersuite() const { return ciphersuite_; }
  const std::optional<CertificateSummary>& server_certificate() const { return server_certificate_; }

 private:
  std::optional<TransportError> connect();
  // One request/response on the open connection. `received_any` tells whether the server answered at all.
  std::variant<HttpResponse, TransportError> exchange(
      const boost::beast::http::request<boost::beast::http::string_body>& request, bool& received_any);
  TransportError describe(const boost::system::error_code& ec, const char* during, int alert = -1) const;
  void drop_connection();
  // Runs the io_context until the started operations are done (the sync facade).
  void run_until(const bool& done);
  // Runs what is already queued (cancelled timers), so that nothing is left pending between requests.
  void settle();

  HttpsEndpoint endpoint_;
  std::shared_ptr<const TlsConfig> tls_;
  HttpsClientSettings settings_;
  boost::asio::io_context io_;
  std::unique_ptr<TlsStream> stream_;
  boost::beast::flat_buffer buffer_;
  boost::asio::steady_timer request_timer_;
  bool request_timed_out_ = false;
  std::size_t connections_opened_ = 0;
  std::string protocol_;
  std::string ciphersuite_;
  std::optional<CertificateSummary> server_certificate_;
};

}  // namespace postured::transport
