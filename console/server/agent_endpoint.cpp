#include "server/agent_endpoint.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/asio.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "core/log.hpp"
#include "core/text.hpp"
#include "server/report_model.hpp"
#include "server/storage_worker.hpp"
#include "server/tokens.hpp"
#include "transport/http_message.hpp"
#include "transport/tls_stream.hpp"

namespace postured::console {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using namespace std::chrono_literals;
using transport::TlsStream;

// Limits and timings of the endpoint; console.toml sets the body limits and the queue, these are fixed.
struct EndpointLimits {
  // Request line and headers together: agents send a handful of short headers.
  static constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
  // A request must arrive whole within this from the moment the endpoint waits for it (an idle
  // keep-alive connection included): a slowloris client that trickles bytes is cut off here.
  static constexpr auto kRequestTimeout = 30s;
  // The TLS handshake in all, and each write of an answer.
  static constexpr auto kHandshakeTimeout = 10s;
  static constexpr auto kWriteTimeout = 30s;
  // What 503 answers ask agents to wait: a full queue drains in seconds; a storage failure may last.
  static constexpr auto kOverloadedRetryAfter = 5s;
  static constexpr auto kStorageRetryAfter = 30s;
  // After refusing a body it did not read, the endpoint drains what the client still sends for this
  // long before closing: closing with unread bytes sends a TCP reset, which can destroy the refusal
  // before the client reads it.
  static constexpr auto kLingerTimeout = 2s;
  // Enrollment bodies carry a token and a CSR (under 2 KiB); anything much larger is not an agent.
  static constexpr std::size_t kMaxEnrollBody = 64 * 1024;
  // Pending connections the kernel keeps before accept().
  static constexpr int kListenBacklog = 1024;
  // Open connections at most; one more is closed at once. Each costs a TLS context and buffers
  // (~50 KiB); a store's terminals keep one each, so this is far above a fleet's steady load but
  // keeps a flood from exhausting memory or file descriptors.
  static constexpr std::size_t kMaxConnections = 10000;
  // After accept() fails (EMFILE, ENFILE, ENOBUFS) the endpoint waits this long before trying again:
  // retrying at once would spin a core while nothing has freed a descriptor.
  static constexpr auto kAcceptRetryDelay = 100ms;
};

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

std::string now_text() {
  return text::rfc3339_utc(Clock::now());
}

// An answer, ready to be written.
struct Answer {
  http::status status = http::status::ok;
  json body;
  std::optional<std::chrono::seconds> retry_after;
};

Answer error_answer(http::status status, const std::string& code, const std::string& message) {
  return {status, json{{"error", code}, {"message", message}, {"server_time", now_text()}}, std::nullopt};
}

Answer certificate_answer(const IssuedCertificate& issued, const std::string& ca_pem) {
  return {http::status::ok,
          json{{"certificate_pem", issued.certificate_pem},
               {"ca_pem", ca_pem},
               {"not_after", text::rfc3339_utc(issued.not_after)},
               {"server_time", now_text()}},
          std::nullopt};
}

Answer storage_failed(const std::string& what) {
  Answer answer = error_answer(http::status::service_unavailable, "storage", what);
  answer.retry_after = std::chrono::duration_cast<std::chrono::seconds>(EndpointLimits::kStorageRetryAfter);
  return answer;
}

}  // namespace

struct AgentEndpoint::Impl {
  Impl(const ConsoleConfig& settings, Storage& storage, Metrics& counters, const CertificateAuthority& authority,
       const transport::TlsIdentity& server)
      : config(settings),
        metrics(counters),
        ca(authority),
        revoked(std::make_shared<transport::RevokedSerials>()),
        tls(transport::TlsConfig::server(authority.certificate_pem(), server, {true, revoked})),
        acceptor(io),
        accept_retry(io),
        worker(storage, {settings.server.ingest_queue, settings.server.ingest_queue_bytes,
                         std::chrono::hours(24) * settings.storage.raw_report_days, revoked}) {}

  class Connection;

  void accept();

  ConsoleConfig config;
  Metrics& metrics;
  const CertificateAuthority& ca;
  std::shared_ptr<transport::RevokedSerials> revoked;
  std::shared_ptr<const transport::TlsConfig> tls;
  std::atomic<std::size_t> open_connections{0};  // Connection objects alive (before io: they outlive it)
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  // After io: destroyed first, so that whatever its queued jobs and callbacks hold (connections, their
  // strands) is released while io still exists.
  StorageWorker worker;
  std::vector<std::thread> threads;
  std::mutex connections_mutex;
  std::vector<std::weak_ptr<Connection>> connections;
  std::atomic<bool> stopped{false};
};

// One client connection: handshake, then requests one after the other (HTTP/1.1 keep-alive). Every
// handler runs on the connection's strand; the storage thread's answers are posted onto it.
class AgentEndpoint::Impl::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Impl& endpoint, asio::any_io_executor strand)
      : endpoint_(endpoint),
        stream_(strand, endpoint.tls, "",
                transport::TlsTimeouts{EndpointLimits::kHandshakeTimeout, EndpointLimits::kRequestTimeout,
                                       EndpointLimits::kWriteTimeout}),
        deadline_(strand) {
    ++endpoint_.open_connections;
  }
  ~Connection() { --endpoint_.open_connections; }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  tcp::socket& socket() { return stream_.next_layer(); }

  void start() {
    stream_.async_handshake([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) {
        self->endpoint_.metrics.handshake_failed();
        const auto& problem = self->stream_.engine().certificate_problem();
        log::debug("agent endpoint: handshake with ", self->peer_address(),
                   " failed: ", problem.empty() ? ec.message() : problem);
        return self->close();
      }
      self->read_request();
    });
  }

  // From stop(): ends whatever the connection is doing.
  void abort() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->close(); });
  }

 private:
  std::string peer_address() {
    boost::system::error_code ec;
    const auto remote = socket().remote_endpoint(ec);
    return ec ? std::string("?") : remote.address().to_string() + ":" + std::to_string(remote.port());
  }

  void close() {
    deadline_.cancel();
    boost::system::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  void arm_deadline() {
    deadline_.expires_after(EndpointLimits::kRequestTimeout);
    deadline_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->close();
    });
  }

  void read_request() {
    parser_.emplace();
    parser_->header_limit(EndpointLimits::kMaxHeaderBytes);
    parser_->body_limit(endpoint_.config.server.max_body_bytes);
    arm_deadline();
    // The header on its own first: Boost 1.74's eager read loses a Content-Length above the body limit.
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(const boost::system::error_code& ec) {
    // Beast refuses a Content-Length above the body limit as soon as the header is complete.
    if (ec == http::error::body_limit) return refuse_too_large();
    if (ec) {
      if (ec == http::error::header_limit) {
        return respond(error_answer(http::status::request_header_fields_too_large, "too_large",
                                    "the request headers are larger than " +
                                        std::to_string(EndpointLimits::kMaxHeaderBytes) + " bytes"),
                       true);
      }
      return close();  // closed, timed out, or not HTTP
    }
    const auto& header = parser_->get();
    const auto length = parser_->content_length();
    if (length && *length > endpoint_.config.server.max_body_bytes) return refuse_too_large();
    const auto target = header.target();
    // Reports and renewals need the device certificate: refuse before reading (and buffering) a body.
    if ((target == "/v1/reports" || target == "/v1/renew") && !stream_.engine().peer_identity()) {
      if (target == "/v1/reports") endpoint_.metrics.report_rejected("no_client_certificate");
      return respond(no_client_certificate(target == "/v1/reports"), true);
    }
    if (target == "/v1/enroll") {
      if (length && *length > EndpointLimits::kMaxEnrollBody) {
        return respond(error_answer(http::status::payload_too_large, "too_large",
                                    "enrollment bodies are small JSON (at most " +
                                        std::to_string(EndpointLimits::kMaxEnrollBody) + " bytes)"),
                       true);
      }
      // A chunked body has no Content-Length: the parser stops it at the same limit.
      parser_->body_limit(EndpointLimits::kMaxEnrollBody);
    }
    if (beast::iequals(header[http::field::expect], "100-continue")) {
      continue_ = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      return http::async_write(stream_, *continue_,
                               [self = shared_from_this()](const boost::system::error_code& wec, std::size_t) {
                                 if (wec) return self->close();
                                 self->read_body();
                               });
    }
    read_body();
  }

  static Answer no_client_certificate(bool report) {
    return error_answer(http::status::forbidden, "no_client_certificate",
                        report ? "reports need the device certificate from enrollment (mutual TLS)"
                               : "renewal needs the device's current certificate (mutual TLS)");
  }

  // A device revoked while this connection stays open (keep-alive): the handshake checked the serial
  // only once, so every request checks it again against the set the storage thread refreshes.
  bool serial_revoked(const transport::PeerIdentity& identity) const {
    return endpoint_.revoked && endpoint_.revoked->contains(identity.serial);
  }
  void refuse_revoked() {
    respond(error_answer(http::status::forbidden, "device_revoked", "this device's certificate is revoked"), true);
  }

  // The console binds a device to its certificate's CN and its store to the OU: both must be there.
  bool identity_incomplete(const transport::PeerIdentity& identity) {
    if (!identity.common_name.empty() && !identity.organizational_unit.empty()) return false;
    respond(error_answer(http::status::forbidden, "bad_certificate",
                         "the client certificate must name the device (CN) and its store (OU)"),
            false);
    return true;
  }

  // 413 for a body over max_body_bytes, which is not read: the connection ends after the answer.
  void refuse_too_large() {
    const auto target = parser_->get().target();
    if (target == "/v1/reports") endpoint_.metrics.report_rejected("too_large");
    const std::size_t limit =
        target == "/v1/enroll" ? EndpointLimits::kMaxEnrollBody : endpoint_.config.server.max_body_bytes;
    respond(error_answer(http::status::payload_too_large, "too_large",
                         "the body is larger than " + std::to_string(limit) + " bytes" +
                             (target == "/v1/enroll" ? "" : " (server.max_body_bytes)")),
            true);
  }

  void read_body() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) { self->on_request(ec); });
  }

  void on_request(const boost::system::error_code& ec) {
    if (ec) {
      if (ec == http::error::body_limit) return refuse_too_large();
      return close();
    }
    deadline_.cancel();
    request_ = parser_->release();
    received_at_ = std::chrono::steady_clock::now();
    route();
  }

  void route() {
    const auto target = request_.target();
    const bool post = request_.method() == http::verb::post;
    if (target == "/v1/reports" || target == "/v1/enroll" || target == "/v1/renew") {
      if (!post) {
        Answer answer = error_answer(http::status::method_not_allowed, "method_not_allowed", "use POST");
        return respond(std::move(answer), false);
      }
      if (target == "/v1/reports") return handle_report();
      if (target == "/v1/enroll") return handle_enroll();
      return handle_renew();
    }
    respond(error_answer(http::status::not_found, "not_found", "no such endpoint"), false);
  }

  // The body, gunzipped when it says so; nullopt after answering when it cannot be.
  std::optional<std::string> decoded_body(bool count_as_report) {
    const auto encoding = request_[http::field::content_encoding];
    if (encoding.empty() || beast::iequals(encoding, "identity")) return std::move(request_.body());
    if (!beast::iequals(encoding, "gzip")) {
      if (count_as_report) endpoint_.metrics.report_rejected("malformed_json");
      respond(error_answer(http::status::unsupported_media_type, "unsupported_encoding",
                           "Content-Encoding must be gzip or absent"),
              false);
      return std::nullopt;
    }
    std::string error;
    auto body = transport::gzip_decompress(request_.body(), endpoint_.config.server.max_inflated_bytes, error);
    if (body) return body;
    const bool bomb = error.rfind("it inflates to more than", 0) == 0;
    if (count_as_report) endpoint_.metrics.report_rejected(bomb ? "gzip_bomb" : "malformed_json");
    if (bomb) {
      respond(error_answer(http::status::payload_too_large, "gzip_bomb",
                           "the body inflates to more than " +
                               std::to_string(endpoint_.config.server.max_inflated_bytes) + " bytes"),
              false);
    } else {
      respond(error_answer(http::status::bad_request, "malformed_json", "the body says gzip, but " + error), false);
    }
    return std::nullopt;
  }

  void handle_report() {
    auto& metrics = endpoint_.metrics;
    const auto& identity = stream_.engine().peer_identity();
    if (!identity) {
      metrics.report_rejected("no_client_certificate");
      return respond(no_client_certificate(true), true);
    }
    if (serial_revoked(*identity)) {
      metrics.report_rejected("device_revoked");
      return refuse_revoked();
    }
    if (identity_incomplete(*identity)) return metrics.report_rejected("bad_certificate");
    auto body = decoded_body(true);
    if (!body) return;
    auto validated = validate_report(*body);
    if (auto* problem = std::get_if<ReportProblem>(&validated)) {
      metrics.report_rejected(problem->code);
      return respond(error_answer(http::status::bad_request, problem->code, problem->message), false);
    }
    auto& report = std::get<ValidatedReport>(validated);
    // A clock far ahead would make this report the device's latest for as long as the clock says.
    const auto ahead = report.generated_at - Clock::now();
    if (ahead > endpoint_.config.enroll.max_clock_skew) {
      metrics.report_rejected("schema");
      return respond(error_answer(http::status::bad_request, "schema",
                                  "generated_at is " +
                                      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(ahead).count()) +
                                      " s ahead of the console's clock (server_time); at most " +
                                      std::to_string(endpoint_.config.enroll.max_clock_skew.count()) +
                                      " s are allowed (enroll.max_clock_skew). Set the device's clock (NTP)"),
                     false);
    }
    if (report.device_id != identity->common_name) {
      metrics.report_rejected("device_mismatch");
      return respond(error_answer(http::status::forbidden, "device_mismatch",
                                  "device.id in the report is not the device the client certificate names (" +
                                      identity->common_name + ")"),
                     false);
    }
    IncomingReport incoming;
    incoming.report_id = report.report_id;
    incoming.device_id = identity->common_name;
    incoming.generated_at = report.generated_at;
    incoming.received_at = Clock::now();
    incoming.json = std::move(*body);
    incoming.state = std::move(report.state);
    incoming.state.device_id = identity->common_name;
    // The store is the one the device enrolled into, as its certificate says (never the body's).
    incoming.state.store_id = identity->organizational_unit;
    const std::string report_id = incoming.report_id;

    auto done = [self = shared_from_this(), report_id](std::optional<IngestOutcome> outcome, const std::string& error) {
      asio::post(self->stream_.get_executor(), [self, report_id, outcome, error] {
        auto& m = self->endpoint_.metrics;
        if (!outcome) {
          m.report_rejected("storage");
          return self->respond(storage_failed("the report could not be stored; send it again later"), false);
        }
        if (*outcome == IngestOutcome::conflict) {
          m.report_rejected("report_id_conflict");
          return self->respond(
              error_answer(http::status::conflict, "report_id_conflict",
                           "report_id " + report_id + " is already stored for another device; send it with a new id"),
              false);
        }
        if (*outcome == IngestOutcome::stored)
          m.report_ingested();
        else
          m.report_duplicate();
        self->respond(
            {http::status::ok,
             json{{"report_id", report_id}, {"status", *outcome == IngestOutcome::stored ? "stored" : "duplicate"}},
             std::nullopt},
            false);
      });
    };
    if (!endpoint_.worker.submit_report(std::move(incoming), std::move(done))) {
      metrics.report_rejected("overloaded");
      Answer answer = error_answer(http::status::service_unavailable, "overloaded",
                                   "the console's ingest queue is full (or the console is stopping); "
                                   "send the report again later");
      answer.retry_after = std::chrono::duration_cast<std::chrono::seconds>(EndpointLimits::kOverloadedRetryAfter);
      respond(std::move(answer), false);
    }
  }

  // The JSON object of an enroll or renew body with its device_time checked; nullopt after answering.
  std::optional<json> certificate_request_body() {
    if (request_.body().size() > EndpointLimits::kMaxEnrollBody) {
      respond(error_answer(http::status::payload_too_large, "too_large", "enrollment bodies are small JSON"), false);
      return std::nullopt;
    }
    json body = json::parse(request_.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      respond(error_answer(http::status::bad_request, "malformed_json", "the body is not a JSON object"), false);
      return std::nullopt;
    }
    const auto device_time = body.find("device_time");
    const auto parsed = device_time != body.end() && device_time->is_string()
                            ? parse_rfc3339(device_time->get<std::string>())
                            : std::nullopt;
    if (!parsed) {
      respond(error_answer(http::status::bad_request, "clock_skew",
                           "device_time must be the device's clock as an RFC 3339 date-time"),
              false);
      return std::nullopt;
    }
    const auto skew = *parsed - Clock::now();
    const auto limit = endpoint_.config.enroll.max_clock_skew;
    if (skew > limit || skew < -limit) {
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(skew).count();
      respond(error_answer(http::status::bad_request, "clock_skew",
                           "the device's clock is " + std::to_string(seconds < 0 ? -seconds : seconds) + " s " +
                               (seconds < 0 ? "behind" : "ahead of") + " the console's (server_time); at most " +
                               std::to_string(limit.count()) + " s are allowed. Set the clock (NTP) and enroll again"),
              false);
      return std::nullopt;
    }
    return body;
  }

  std::optional<CertificateRequest> parse_csr(const json& body) {
    const auto csr = body.find("csr_pem");
    if (csr == body.end() || !csr->is_string()) {
      respond(error_answer(http::status::bad_request, "bad_csr", "csr_pem is missing"), false);
      return std::nullopt;
    }
    try {
      return CertificateRequest::parse(csr->get<std::string>());
    } catch (const CsrError& e) {
      respond(error_answer(http::status::bad_request, "bad_csr", e.what()), false);
    } catch (const std::exception& e) {
      respond(error_answer(http::status::bad_request, "bad_csr", e.what()), false);
    }
    return std::nullopt;
  }

  void handle_enroll() {
    auto body = certificate_request_body();
    if (!body) return;
    const auto token = body->find("token");
    if (token == body->end() || !token->is_string() || token->get<std::string>().empty()) {
      endpoint_.metrics.enrollment(false);
      return respond(error_answer(http::status::unauthorized, "token_unknown", "token is missing"), false);
    }
    auto csr = parse_csr(*body);
    if (!csr) return endpoint_.metrics.enrollment(false);
    auto request = std::make_shared<CertificateRequest>(std::move(*csr));
    const std::string token_hash = sha256_hex(token->get<std::string>());
    const bool queued = endpoint_.worker.submit_job([self = shared_from_this(), request, token_hash](Storage& storage) {
      Answer answer = self->enroll(storage, *request, token_hash);
      self->endpoint_.metrics.enrollment(answer.status == http::status::ok);
      asio::post(self->stream_.get_executor(),
                 [self, answer = std::move(answer)]() mutable { self->respond(std::move(answer), false); });
    });
    if (!queued) {
      endpoint_.metrics.enrollment(false);
      respond(stopping_answer(), false);
    }
  }

  static Answer stopping_answer() {
    Answer answer =
        error_answer(http::status::service_unavailable, "stopping", "the console is stopping; try again later");
    answer.retry_after = std::chrono::duration_cast<std::chrono::seconds>(EndpointLimits::kOverloadedRetryAfter);
    return answer;
  }

  // On the storage thread.
  Answer enroll(Storage& storage, const CertificateRequest& request, const std::string& token_hash) {
    try {
      const auto now = Clock::now();
      const std::string& device = request.common_name();
      switch (storage.enrollment_state(device)) {
        case EnrollmentState::unknown:
        case EnrollmentState::released: break;
        case EnrollmentState::revoked:
          return error_answer(http::status::forbidden, "device_revoked",
                              "device " + device + " is revoked and may not enroll again");
        case EnrollmentState::active:
          // Enrolling again would hand the device id (and its history) to whoever holds a token.
          return error_answer(http::status::conflict, "device_exists",
                              "this device already holds a valid certificate; if it was reinstalled, ask central "
                              "IT to run `posture-console device release " +
                                  device + "`");
      }
      // Checked without spending a use: a CSR for the wrong store must not burn a one-use token.
      const auto token = storage.find_token(token_hash);
      if (!token) return token_refused(TokenUse::unknown);
      if (token->expires_at <= now) return token_refused(TokenUse::expired);
      if (token->uses_left <= 0) return token_refused(TokenUse::exhausted);
      const std::string store = token->store_id;
      if (request.organizational_unit() != store) {
        return error_answer(
            http::status::bad_request, "wrong_store",
            "the CSR's OU is \"" + request.organizational_unit() + "\" but the token is for store \"" + store + "\"");
      }
      const IssuedCertificate issued = ca().sign(request, endpoint_.config.server.certificate_days, now);
      // Spent only now, atomically: another enrollment may have taken the last use meanwhile.
      std::string used_store;
      const TokenUse use = storage.use_token(token_hash, now, used_store);
      if (use != TokenUse::accepted) return token_refused(use);
      storage.record_enrollment({device, store, issued.serial, issued.not_after, now});
      log::info("enrolled device ", device, " of store ", store, " (certificate ", issued.serial, ")");
      return certificate_answer(issued, ca().certificate_pem());
    } catch (const StorageError& e) {
      log::error("enrollment: ", e.what());
      return storage_failed("enrollment could not be recorded; try again later");
    } catch (const std::exception& e) {
      log::error("enrollment: ", e.what());
      return error_answer(http::status::internal_server_error, "internal", "the certificate could not be issued");
    }
  }

  static Answer token_refused(TokenUse use) {
    switch (use) {
      case TokenUse::expired:
        return error_answer(http::status::unauthorized, "token_expired", "the enrollment token has expired");
      case TokenUse::exhausted:
        return error_answer(http::status::unauthorized, "token_used_up", "the enrollment token is used up");
      case TokenUse::unknown:
      case TokenUse::accepted: break;
    }
    return error_answer(http::status::unauthorized, "token_unknown", "the enrollment token is not known");
  }

  void handle_renew() {
    const auto identity = stream_.engine().peer_identity();
    if (!identity) return respond(no_client_certificate(false), true);
    if (serial_revoked(*identity)) return refuse_revoked();
    if (identity_incomplete(*identity)) return;
    auto body = certificate_request_body();
    if (!body) return;
    auto csr = parse_csr(*body);
    if (!csr) return;
    if (csr->common_name() != identity->common_name || csr->organizational_unit() != identity->organizational_unit) {
      return respond(error_answer(http::status::bad_request, "bad_csr",
                                  "the CSR's subject must be CN=" + identity->common_name +
                                      ", OU=" + identity->organizational_unit + " as in the presented certificate"),
                     false);
    }
    auto request = std::make_shared<CertificateRequest>(std::move(*csr));
    const bool queued = endpoint_.worker.submit_job([self = shared_from_this(), request](Storage& storage) {
      Answer answer;
      try {
        const auto now = Clock::now();
        if (storage.is_revoked(request->common_name())) {
          answer = error_answer(http::status::forbidden, "device_revoked", "this device is revoked");
        } else {
          const IssuedCertificate issued =
              self->ca().sign(*request, self->endpoint_.config.server.certificate_days, now);
          storage.record_enrollment(
              {request->common_name(), request->organizational_unit(), issued.serial, issued.not_after, now});
          log::info("renewed the certificate of device ", request->common_name(), " (", issued.serial, ")");
          answer = certificate_answer(issued, self->ca().certificate_pem());
        }
      } catch (const StorageError& e) {
        log::error("renewal: ", e.what());
        answer = storage_failed("renewal could not be recorded; try again later");
      } catch (const std::exception& e) {
        log::error("renewal: ", e.what());
        answer = error_answer(http::status::internal_server_error, "internal", "the certificate could not be issued");
      }
      asio::post(self->stream_.get_executor(),
                 [self, answer = std::move(answer)]() mutable { self->respond(std::move(answer), false); });
    });
    if (!queued) respond(stopping_answer(), false);
  }

  const CertificateAuthority& ca() const { return endpoint_.ca; }

  // `close_after`: the body was not read (too large, no certificate) or the device is revoked; the
  // connection ends after the answer.
  void respond(Answer answer, bool close_after) {
    if (request_.target() == "/v1/reports" && received_at_.time_since_epoch().count() != 0) {
      endpoint_.metrics.observe_ingest_latency(std::chrono::steady_clock::now() - received_at_);
    }
    received_at_ = {};
    const bool keep_alive = !close_after && request_.keep_alive();
    response_ = std::make_shared<Response>(answer.status, 11);
    response_->set(http::field::content_type, "application/json");
    response_->set(http::field::cache_control, "no-store");
    if (answer.retry_after) response_->set(http::field::retry_after, std::to_string(answer.retry_after->count()));
    response_->body() = answer.body.dump();
    response_->keep_alive(keep_alive);
    response_->prepare_payload();
    http::async_write(
        stream_, *response_,
        [self = shared_from_this(), keep_alive, close_after](const boost::system::error_code& ec, std::size_t) {
          if (ec) return self->close();
          if (close_after) return self->linger();
          if (!keep_alive) return self->finish();
          self->request_ = {};
          self->read_request();
        });
  }

  // Sends close_notify, stops sending, and reads and drops what the client still sends (the body that
  // was refused) until it closes too or kLingerTimeout passes.
  void linger() {
    stream_.async_shutdown([self = shared_from_this()](const boost::system::error_code&) {
      boost::system::error_code ignored;
      self->socket().shutdown(tcp::socket::shutdown_send, ignored);
      self->deadline_.expires_after(EndpointLimits::kLingerTimeout);
      self->deadline_.async_wait([weak = self->weak_from_this()](const boost::system::error_code& ec) {
        if (ec) return;
        if (auto connection = weak.lock()) connection->close();
      });
      self->drain();
    });
  }
  void drain() {
    if (!drain_buffer_) drain_buffer_ = std::make_unique<std::array<char, 16384>>();
    socket().async_read_some(asio::buffer(*drain_buffer_),
                             [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                               if (ec) return self->close();
                               self->drain();
                             });
  }

  // Sends close_notify, then closes.
  void finish() {
    stream_.async_shutdown([self = shared_from_this()](const boost::system::error_code&) { self->close(); });
  }

  Impl& endpoint_;
  TlsStream stream_;
  asio::steady_timer deadline_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request request_;
  std::shared_ptr<Response> response_;
  std::shared_ptr<http::response<http::empty_body>> continue_;
  std::chrono::steady_clock::time_point received_at_{};
  std::unique_ptr<std::array<char, 16384>> drain_buffer_;
};

void AgentEndpoint::Impl::accept() {
  auto connection = std::make_shared<Connection>(*this, asio::make_strand(io));
  acceptor.async_accept(connection->socket(), [this, connection](const boost::system::error_code& ec) {
    if (stopped) return;
    if (!ec && open_connections > EndpointLimits::kMaxConnections) {
      // Over the cap: closed without a handshake (the agent retries with backoff).
      // Debug, not warn: a flood would otherwise flood the log as well.
      log::debug("agent endpoint: more than ", EndpointLimits::kMaxConnections, " connections; closing a new one");
      boost::system::error_code ignored;
      connection->socket().close(ignored);
    } else if (!ec) {
      {
        std::lock_guard lock(connections_mutex);
        // Forget finished connections now and then so the list stays as long as the open ones.
        if (connections.size() > 64) {
          std::erase_if(connections, [](const std::weak_ptr<Connection>& c) { return c.expired(); });
        }
        connections.push_back(connection);
      }
      connection->start();
    } else {
      log::warn("agent endpoint: accept: ", ec.message());
      if (ec == asio::error::operation_aborted) return;
      accept_retry.expires_after(EndpointLimits::kAcceptRetryDelay);
      return accept_retry.async_wait([this](const boost::system::error_code& wait_ec) {
        if (!wait_ec && !stopped) accept();
      });
    }
    accept();
  });
}

AgentEndpoint::AgentEndpoint(const ConsoleConfig& config, Storage& storage, Metrics& metrics,
                             const CertificateAuthority& ca, const transport::TlsIdentity& server)
    : impl_(std::make_unique<Impl>(config, storage, metrics, ca, server)) {}

AgentEndpoint::~AgentEndpoint() {
  stop();
}

void AgentEndpoint::start() {
  const auto address = parse_listen_address(impl_->config.server.listen);
  if (!address) throw std::runtime_error("server.listen is not host:port: " + impl_->config.server.listen);
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(address->host == "localhost" ? "127.0.0.1" : address->host, ec);
  if (ec) throw std::runtime_error("server.listen: " + address->host + " is not an IP address");
  const tcp::endpoint endpoint(ip, address->port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(EndpointLimits::kListenBacklog, ec);
  if (ec) throw std::runtime_error("cannot listen on " + impl_->config.server.listen + ": " + ec.message());

  impl_->worker.start();
  impl_->accept();
  for (int i = 0; i < impl_->config.server.threads; ++i) {
    impl_->threads.emplace_back([this] {
      for (;;) {
        try {
          impl_->io.run();
          return;
        } catch (const std::exception& e) {
          log::error("agent endpoint: ", e.what());
        }
      }
    });
  }
}

unsigned short AgentEndpoint::port() const {
  boost::system::error_code ec;
  const auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void AgentEndpoint::stop() {
  if (impl_->stopped.exchange(true)) return;
  asio::post(impl_->io, [this] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->accept_retry.cancel();
  });
  {
    std::lock_guard lock(impl_->connections_mutex);
    for (auto& weak : impl_->connections) {
      if (auto connection = weak.lock()) connection->abort();
    }
    impl_->connections.clear();
  }
  // I/O first: once its threads are joined no handler submits work any more, and the worker's stop
  // (which calls back the reports still queued) posts only into an io_context that still exists.
  impl_->io.stop();
  for (auto& thread : impl_->threads) {
    if (thread.joinable()) thread.join();
  }
  impl_->threads.clear();
  impl_->worker.stop();
}

}  // namespace postured::console
