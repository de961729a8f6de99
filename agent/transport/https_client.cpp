#include "transport/https_client.hpp"

#include "core/version.hpp"

namespace postured::transport {
namespace http = boost::beast::http;
using boost::asio::ip::tcp;
namespace {

std::string seconds_text(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

bool is_closed(const boost::system::error_code& ec) {
  return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset ||
         ec == boost::asio::error::broken_pipe || ec == http::error::end_of_stream ||
         ec == boost::asio::error::connection_aborted;
}

bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_version).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace

HttpsClient::HttpsClient(HttpsEndpoint endpoint, std::shared_ptr<const TlsConfig> tls, HttpsClientSettings settings)
    : endpoint_(std::move(endpoint)), tls_(std::move(tls)), settings_(settings), request_timer_(io_) {}

HttpsClient::~HttpsClient() {
  close();
}

void HttpsClient::run_until(const bool& done) {
  while (!done) {
    if (io_.stopped()) io_.restart();
    if (io_.run_one() == 0 && !done) {
      // Nothing left to run and not done: a handler was lost. Should not happen; do not spin.
      break;
    }
  }
}

void HttpsClient::settle() {
  io_.restart();
  io_.poll();
}

std::optional<TransportError> HttpsClient::connect() {
  auto stream = std::make_unique<TlsStream>(io_.get_executor(), tls_, endpoint_.host, settings_.tls);
  tcp::resolver resolver(io_);
  boost::asio::steady_timer timer(io_);
  bool timed_out = false, done = false;
  boost::system::error_code resolve_ec, connect_ec;

  timer.expires_after(settings_.connect_timeout);
  timer.async_wait([&](const boost::system::error_code& ec) {
    if (ec) return;
    timed_out = true;
    resolver.cancel();
    boost::system::error_code ignored;
    stream->lowest_layer().close(ignored);
  });
  resolver.async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                         [&](const boost::system::error_code& ec, tcp::resolver::results_type results) {
                           if (ec || timed_out) {
                             resolve_ec = ec;
                             done = true;
                             timer.cancel();
                             return;
                           }
                           boost::asio::async_connect(stream->next_layer(), results,
                                                      [&](const boost::system::error_code& ec2, const tcp::endpoint&) {
                                                        connect_ec = ec2;
                                                        done = true;
                                                        timer.cancel();
                                                      });
                         });
  run_until(done);
  settle();
  const std::string where = endpoint_.host + ":" + std::to_string(endpoint_.port);
  if (timed_out) {
    return TransportError{TransportError::Kind::connect,
                          "no connection to " + where + " within " + seconds_text(settings_.connect_timeout) + "."};
  }
  if (resolve_ec) {
    return TransportError{TransportError::Kind::resolve,
                          "cannot resolve " + endpoint_.host + ": " + resolve_ec.message() + "."};
  }
  if (connect_ec) {
    return TransportError{TransportError::Kind::connect,
                          "cannot connect to " + where + ": " + connect_ec.message() + "."};
  }
  boost::system::error_code ignored;
  stream->next_layer().set_option(tcp::no_delay(true), ignored);

  boost::system::error_code handshake_ec = boost::asio::error::operation_aborted;
  done = false;
  stream->async_handshake([&](const boost::system::error_code& ec) {
    handshake_ec = ec;
    done = true;
  });
  run_until(done);
  settle();
  server_certificate_ = stream->engine().peer_certificate();
  if (handshake_ec) {
    if (!stream->engine().certificate_problem().empty()) {
      return TransportError{TransportError::Kind::certificate, stream->engine().certificate_problem()};
    }
    return describe(handshake_ec, "the TLS handshake", stream->engine().peer_alert());
  }
  ++connections_opened_;
  protocol_ = stream->engine().protocol();
  ciphersuite_ = stream->engine().ciphersuite();
  stream_ = std::move(stream);
  buffer_.clear();
  return std::nullopt;
}

TransportError HttpsClient::describe(const boost::system::error_code& ec, const char* during, int alert) const {
  const std::string where = "the server at " + endpoint_.host + ":" + std::to_string(endpoint_.port);
  if (ec == boost::asio::error::timed_out) {
    return {TransportError::Kind::timeout, where + " did not answer in time during " + during + "."};
  }
  if (request_timed_out_ && ec == boost::asio::error::operation_aborted) {
    return {TransportError::Kind::timeout,
            "the request to " + where + " took longer than " + seconds_text(settings_.request_timeout) + "."};
  }
  if (ec.category() == tls_category()) {
    const int rc = -ec.value();
    if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
      // Without a certificate of its own the agent takes handshake_failure as the server wanting one,
      // which is what OpenSSL sends under TLS 1.2 (TLS 1.3 has certificate_required).
      if (alert == 40 && !tls_->has_identity()) alert = 116;
      switch (alert) {
        case 40:
        case 70:
        case 71:  // handshake_failure, protocol_version, insufficient_security
          return {TransportError::Kind::tls, where +
                                                 " and this agent share no TLS version (1.2 or 1.3) or AEAD"
                                                 " cipher suite (TLS alert " +
                                                 std::to_string(alert) + ")."};
        case 42:
        case 43:
        case 44:
        case 45:
        case 46:
        case 48:
        case 116:
          // bad, unsupported, revoked, expired, unknown certificate; unknown_ca; certificate_required
          return {TransportError::Kind::tls, where +
                                                 " refused this device's client certificate, or got none"
                                                 " (TLS alert " +
                                                 std::to_string(alert) + " during " + during + ")."};
        default:
          return {TransportError::Kind::tls,
                  where + " ended the connection with TLS alert " + std::to_string(alert) + " during " + during + "."};
      }
    }
    if (rc == MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE || rc == MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION) {
      return {TransportError::Kind::tls, where +
                                             " and this agent share no TLS version (1.2 or 1.3) or AEAD cipher"
                                             " suite (" +
                                             ec.message() + ")."};
    }
    return {TransportError::Kind::tls, "TLS with " + where + " failed during " + during + ": " + ec.message() + "."};
  }
  if (is_closed(ec)) {
    return {TransportError::Kind::closed, where + " closed the connection during " + during + "."};
  }
  if (is_parse_error(ec)) {
    return {TransportError::Kind::http,
            "the answer of " + where + " was refused: " + describe_parse_error(ec, settings_.response) + "."};
  }
  return {TransportError::Kind::connect,
          "the connection to " + where + " failed during " + during + ": " + ec.message() + "."};
}

std::variant<HttpResponse, TransportError> HttpsClient::exchange(const http::request<http::string_body>& request,
                                                                 bool& received_any) {
  received_any = false;
  bool done = false;
  // Until a handler says otherwise: a step whose handler never ran must not look like success.
  boost::system::error_code write_ec = boost::asio::error::operation_aborted;
  http::async_write(*stream_, request, [&](const boost::system::error_code& ec, std::size_t) {
    write_ec = ec;
    done = true;
  });
  run_until(done);
  if (write_ec) return describe(write_ec, "sending the request", stream_->engine().peer_alert());

  ResponseParser parser;
  apply_limits(parser, settings_.response);
  done = false;
  boost::system::error_code read_ec = boost::asio::error::operation_aborted;
  // The header on its own first, so that the body limit holds (see apply_limits), then the body.
  http::async_read_header(*stream_, buffer_, parser, [&](const boost::system::error_code& ec, std::size_t) {
    read_ec = ec;
    done = true;
  });
  run_until(done);
  if (!read_ec && !parser.is_done()) {
    done = false;
    http::async_read(*stream_, buffer_, parser, [&](const boost::system::error_code& ec, std::size_t) {
      read_ec = ec;
      done = true;
    });
    run_until(done);
  }
  received_any = parser.got_some();
  if (read_ec) return describe(read_ec, "reading the response", stream_->engine().peer_alert());
  auto finished = finish_response(parser, settings_.response, std::chrono::system_clock::now());
  if (auto* problem = std::get_if<std::string>(&finished)) {
    return TransportError{TransportError::Kind::http, "the answer of the server at " + endpoint_.host + ":" +
                                                          std::to_string(endpoint_.port) + " was refused: " + *problem +
                                                          "."};
  }
  return std::get<HttpResponse>(std::move(finished));
}

RequestResult HttpsClient::request(http::verb method, std::string_view target, std::string_view body,
                                   const Headers& headers, BodyEncoding encoding) {
  http::request<http::string_body> message{method, boost::beast::string_view(target.data(), target.size()), 11};
  const bool ipv6 = endpoint_.host.find(':') != std::string::npos;
  std::string host = ipv6 ? "[" + endpoint_.host + "]" : endpoint_.host;
  if (endpoint_.port != 443) host += ":" + std::to_string(endpoint_.port);
  message.set(http::field::host, host);
  message.set(http::field::user_agent, std::string("postured/") + kAgentVersion);
  message.set(http::field::accept_encoding, "gzip");
  for (const auto& [name, value] : headers) message.insert(name, value);
  if (encoding == BodyEncoding::gzip && !body.empty()) {
    message.body() = gzip_compress(body);
    message.set(http::field::content_encoding, "gzip");
  } else {
    message.body() = std::string(body);
  }
  message.keep_alive(true);
  message.prepare_payload();

  // One deadline over the whole request, connection and retry included.
  request_timed_out_ = false;
  request_timer_.expires_after(settings_.request_timeout);
  request_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    request_timed_out_ = true;
    if (stream_) {
      boost::system::error_code ignored;
      stream_->lowest_layer().cancel(ignored);
    }
  });

  std::variant<HttpResponse, TransportError> outcome = TransportError{TransportError::Kind::closed, ""};
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = stream_ != nullptr;
    if (!stream_) {
      if (auto error = connect()) {
        outcome = std::move(*error);
        break;
      }
    }
    bool received_any = false;
    outcome = exchange(message, received_any);
    if (auto* response = std::get_if<HttpResponse>(&outcome)) {
      // Bytes beyond the response would be read as the next one: start afresh instead.
      if (!response->keep_alive || buffer_.size() > 0) close();
      break;
    }
    drop_connection();
    const auto& error = std::get<TransportError>(outcome);
    // A kept-alive connection the server had already closed: the request never reached it.
    if (!(reused && !received_any && error.kind == TransportError::Kind::closed) || request_timed_out_) break;
  }
  request_timer_.cancel();
  settle();
  if (auto* error = std::get_if<TransportError>(&outcome)) return std::move(*error);
  return std::get<HttpResponse>(std::move(outcome));
}

void HttpsClient::drop_connection() {
  if (!stream_) return;
  boost::system::error_code ignored;
  stream_->lowest_layer().close(ignored);
  settle();
  stream_.reset();
  buffer_.clear();
}

void HttpsClient::close() {
  if (!stream_) return;
  bool done = false;
  stream_->async_shutdown([&](const boost::system::error_code&) { done = true; });
  run_until(done);
  drop_connection();
}

}  // namespace postured::transport
