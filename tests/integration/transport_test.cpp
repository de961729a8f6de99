// The transport against a TLS peer no one here wrote (`openssl s_server`, client certificates
// required, TLS 1.3 and 1.2), and, for what s_server cannot do (HTTP/1.1 keep-alive, 429/503,
// gzip answers, huge or missing answers), against an in-process Beast server on the same TlsStream.
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "support/openssl_pki.hpp"
#include "support/process.hpp"
#include "transport/https_client.hpp"

using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
using postured::SecretString;
using postured::test::Child;
using postured::test::OpensslPki;
using namespace postured::transport;
using namespace std::chrono_literals;
namespace http = boost::beast::http;

namespace {

const OpensslPki& pki() {
  static const OpensslPki instance;
  return instance;
}

TlsIdentity identity(const std::string& name) {
  return TlsIdentity{pki().read(pki().cert(name)), SecretString(pki().read(pki().key(name)))};
}

std::shared_ptr<const TlsConfig> agent_tls(const std::string& client = "client") {
  const auto id = identity(client);
  return TlsConfig::client(pki().read(pki().cert("ca")), &id);
}

// `openssl s_server` on a free loopback port, in `dir` (where -WWW finds its files).
class SServer {
 public:
  SServer(const std::string& server_cert, std::vector<std::string> options, const std::string& dir = "/")
      : child_(command(server_cert, options, dir)) {
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < end && child_.running()) {
      const auto& out = child_.result().out;
      const auto at = out.find("ACCEPT 127.0.0.1:");
      if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
        port_ = static_cast<std::uint16_t>(std::stoi(out.substr(at + 17)));
        return;
      }
      std::this_thread::sleep_for(10ms);
    }
    throw std::runtime_error("openssl s_server did not start: " + child_.result().err);
  }
  std::uint16_t port() const { return port_; }
  // Everything s_server printed so far (the client's certificate and "verify return" go to stderr).
  std::string output() {
    child_.running();
    return child_.result().out + child_.result().err;
  }
  bool wait_for(const std::string& text) { return child_.wait_for_stderr(text, 5s); }

 private:
  static std::vector<std::string> command(const std::string& cert, const std::vector<std::string>& options,
                                          const std::string& dir) {
    std::string line = "cd '" + dir + "' && exec /usr/bin/openssl s_server -accept 127.0.0.1:0 -cert '" + cert +
                       "' -key '" + cert.substr(0, cert.size() - 4) + ".key' -CAfile '" + pki().cert("ca") +
                       "' -Verify 1 -verify_return_error";
    for (const auto& option : options) line += " " + option;
    return {"/bin/sh", "-c", line};
  }

  Child child_;
  std::uint16_t port_ = 0;
};

HttpsClientSettings quick_settings() {
  HttpsClientSettings settings;
  settings.tls.handshake = 5s;
  settings.tls.read = 5s;
  settings.tls.write = 5s;
  settings.request_timeout = 20s;
  return settings;
}

// The error a connection to `server_cert` ends with, the agent trusting only the test CA.
TransportError refused(const std::string& server_cert, const std::string& version, const std::string& host) {
  SServer server(pki().cert(server_cert), {"-www", version});
  HttpsClient client({host, server.port()}, agent_tls(), quick_settings());
  auto result = client.request(http::verb::get, "/");
  REQUIRE_FALSE(result.ok());
  return result.error();
}

}  // namespace

TEST_CASE("s_server with client certificates required accepts the agent over TLS 1.3", "[transport][openssl]") {
  SServer server(pki().cert("server"), {"-www", "-tls1_3"});
  HttpsClient client({"127.0.0.1", server.port()}, agent_tls(), quick_settings());

  auto result = client.request(http::verb::get, "/");
  INFO(server.output());
  REQUIRE(result.ok());
  CHECK(result.response().status == 200);
  CHECK(client.protocol() == "TLSv1.3");
  CHECK_THAT(client.ciphersuite(), ContainsSubstring("GCM") || ContainsSubstring("CHACHA20"));
  // s_server verified the agent's certificate and says whose it was.
  CHECK(server.wait_for("depth=0 CN = device-1, O = store-7\nverify return:1"));
  CHECK_THAT(result.response().body, ContainsSubstring("TLSv1.3"));
  CHECK_THAT(result.response().body, ContainsSubstring("Subject: CN=device-1, O=store-7"));
  REQUIRE(client.server_certificate());
  CHECK(client.server_certificate()->subject == "CN=console, O=Postured Tests");

  // s_server -www answers HTTP/1.0 and closes: the next request opens a new connection by itself.
  auto again = client.request(http::verb::get, "/");
  REQUIRE(again.ok());
  CHECK(again.response().status == 200);
  CHECK(client.connections_opened() == 2);
}

TEST_CASE("s_server with client certificates required accepts the agent over TLS 1.2, AEAD suite",
          "[transport][openssl]") {
  SServer server(pki().cert("server"), {"-www", "-tls1_2"});
  HttpsClient client({"localhost", server.port()}, agent_tls(), quick_settings());
  auto result = client.request(http::verb::get, "/");
  INFO(server.output());
  REQUIRE(result.ok());
  CHECK(client.protocol() == "TLSv1.2");
  CHECK_THAT(client.ciphersuite(), StartsWith("TLS-ECDHE-ECDSA-WITH-"));
  CHECK_THAT(client.ciphersuite(), ContainsSubstring("GCM") || ContainsSubstring("CHACHA20-POLY1305"));
  CHECK(server.wait_for("depth=0 CN = device-1, O = store-7\nverify return:1"));
}

TEST_CASE("s_server -WWW serves a file to the agent", "[transport][openssl]") {
  const auto dir = pki().dir() / "www";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "policy.json") << R"({"schema":"test","interval":300})";
  SServer server(pki().cert("server"), {"-WWW", "-tls1_3"}, dir.string());
  HttpsClient client({"127.0.0.1", server.port()}, agent_tls(), quick_settings());
  auto result = client.request(http::verb::get, "/policy.json");
  REQUIRE(result.ok());
  CHECK(result.response().status == 200);
  CHECK(result.response().body == R"({"schema":"test","interval":300})");
}

TEST_CASE("a server offering only CBC suites is refused", "[transport][openssl]") {
  SServer server(pki().cert("server"), {"-www", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"});
  HttpsClient client({"127.0.0.1", server.port()}, agent_tls(), quick_settings());
  auto result = client.request(http::verb::get, "/");
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind == TransportError::Kind::tls);
  CHECK_THAT(result.error().message, ContainsSubstring("share no TLS version (1.2 or 1.3) or AEAD cipher suite"));
}

TEST_CASE("an expired console certificate is explained", "[transport][openssl][certificate]") {
  const auto version = GENERATE(as<std::string>{}, "-tls1_3", "-tls1_2");
  const auto error = refused("expired", version, "127.0.0.1");
  INFO(error.message);
  CHECK(error.kind == TransportError::Kind::certificate);
  CHECK(error.message ==
        "The console's certificate \"CN=console, O=Postured Tests\" expired on 2021-01-01 00:00:00 UTC "
        "(it was valid from 2020-01-01 00:00:00 UTC).");
}

TEST_CASE("a console certificate that is not valid yet is explained", "[transport][openssl][certificate]") {
  const auto version = GENERATE(as<std::string>{}, "-tls1_3", "-tls1_2");
  const auto error = refused("future", version, "127.0.0.1");
  INFO(error.message);
  CHECK(error.kind == TransportError::Kind::certificate);
  CHECK_THAT(error.message, StartsWith("The console's certificate \"CN=console, O=Postured Tests\" is not valid until "
                                       "2099-01-01 00:00:00 UTC; this device's clock reads "));
}

TEST_CASE("a console certificate from another CA is explained", "[transport][openssl][certificate]") {
  const auto version = GENERATE(as<std::string>{}, "-tls1_3", "-tls1_2");
  const auto error = refused("other-server", version, "127.0.0.1");
  INFO(error.message);
  CHECK(error.kind == TransportError::Kind::certificate);
  CHECK(error.message ==
        "The console's certificate \"CN=console, O=Someone Else\" was issued by \"CN=Other CA, O=Someone Else\", "
        "which is not the pinned CA \"CN=Postured Test CA, O=Postured Tests\" and is not signed by it.");
}

TEST_CASE("a console certificate for another host is explained", "[transport][openssl][certificate]") {
  const auto version = GENERATE(as<std::string>{}, "-tls1_3", "-tls1_2");
  const auto error = refused("wrong-host", version, "127.0.0.1");
  INFO(error.message);
  CHECK(error.kind == TransportError::Kind::certificate);
  CHECK(error.message ==
        "The console's certificate \"CN=wrong.example\" is for wrong.example and www.wrong.example, not for "
        "\"127.0.0.1\", the host this agent connected to.");
}

TEST_CASE("the host name is checked too: localhost and 127.0.0.1 pass, another name does not",
          "[transport][openssl][certificate]") {
  // "127.0.0.2" reaches no server; only the name check matters, so connect by a name the certificate lacks.
  SServer server(pki().cert("server"), {"-www", "-tls1_3"});
  auto tls = agent_tls();
  HttpsClient by_name({"localhost", server.port()}, tls, quick_settings());
  CHECK(by_name.request(http::verb::get, "/").ok());
  HttpsClient by_address({"127.0.0.1", server.port()}, tls, quick_settings());
  CHECK(by_address.request(http::verb::get, "/").ok());
}

TEST_CASE("s_server refuses an agent without a certificate or with one from another CA", "[transport][openssl]") {
  const auto version = GENERATE(as<std::string>{}, "-tls1_3", "-tls1_2");
  SECTION("no client certificate") {
    SServer server(pki().cert("server"), {"-www", version});
    HttpsClient client({"127.0.0.1", server.port()}, TlsConfig::client(pki().read(pki().cert("ca")), nullptr),
                       quick_settings());
    auto result = client.request(http::verb::get, "/");
    REQUIRE_FALSE(result.ok());
    INFO(result.error().message);
    CHECK(result.error().kind == TransportError::Kind::tls);
    CHECK_THAT(result.error().message, ContainsSubstring("refused this device's client certificate, or got none"));
  }
  SECTION("a client certificate from another CA") {
    SServer server(pki().cert("server"), {"-www", version});
    HttpsClient client({"127.0.0.1", server.port()}, agent_tls("other-client"), quick_settings());
    auto result = client.request(http::verb::get, "/");
    REQUIRE_FALSE(result.ok());
    INFO(result.error().message);
    CHECK(result.error().kind == TransportError::Kind::tls);
    CHECK_THAT(result.error().message, ContainsSubstring("refused this device's client certificate, or got none"));
    CHECK(server.wait_for("verify error:num=20:unable to get local issuer certificate"));
  }
}

TEST_CASE("bad key material is refused when the configuration is built", "[transport]") {
  CHECK_THROWS_AS(TlsConfig::client("not a certificate", nullptr), TlsConfigError);
  TlsIdentity mismatched{pki().read(pki().cert("client")), SecretString(pki().read(pki().key("server")))};
  CHECK_THROWS_WITH(TlsConfig::client(pki().read(pki().cert("ca")), &mismatched),
                    "the private key does not belong to the certificate");
  CHECK_THROWS_AS(read_pem_file((pki().dir() / "missing.pem").string()), TlsConfigError);
}

// ---- An in-process HTTP/1.1 server (Beast on the same TlsStream, server role), for keep-alive and
// the answers s_server cannot give. It requires the agent's client certificate too.
namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

class BeastServer {
 public:
  // `handler` answers a request; an empty optional means "never answer". With `close_after_each` the
  // server drops the connection after each answer without saying so (an idle timeout on its side).
  BeastServer(std::function<std::optional<Response>(const Request&)> handler, bool close_after_each = false)
      : handler_(std::move(handler)),
        close_after_each_(close_after_each),
        tls_(TlsConfig::server(pki().read(pki().cert("ca")), identity("server"))),
        acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  // Closing every socket ends every pending operation, so the server's run() returns by itself.
  ~BeastServer() {
    boost::asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      for (auto& session : sessions_) session->stream.lowest_layer().close(ignored);
      sessions_.clear();
    });
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int connections() const { return connections_; }
  int requests() const { return requests_; }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mutex_);
    return bodies_;
  }

 private:
  struct Session {
    Session(boost::asio::io_context& io, std::shared_ptr<const TlsConfig> tls) : stream(io.get_executor(), tls, "") {}
    TlsStream stream;
    boost::beast::flat_buffer buffer;
    Request request;
    Response response;
  };

  void accept() {
    auto session = std::make_shared<Session>(io_, tls_);
    acceptor_.async_accept(session->stream.next_layer(), [this, session](const boost::system::error_code& ec) {
      if (ec) return;
      ++connections_;
      sessions_.push_back(session);
      session->stream.async_handshake([this, session](const boost::system::error_code& hs) {
        if (!hs) read(session);
      });
      accept();
    });
  }
  void read(const std::shared_ptr<Session>& session) {
    session->request = {};
    http::async_read(session->stream, session->buffer, session->request,
                     [this, session](const boost::system::error_code& ec, std::size_t) {
                       if (ec) return;
                       ++requests_;
                       std::string body = session->request.body();
                       if (session->request[http::field::content_encoding] == "gzip") {
                         std::string error;
                         body = gzip_decompress(body, 1 << 20, error).value_or("(bad gzip: " + error + ")");
                       }
                       {
                         std::lock_guard lock(mutex_);
                         bodies_.push_back(body);
                       }
                       auto answer = handler_(session->request);
                       if (!answer) return;  // never answers; the session stays open in sessions_
                       session->response = std::move(*answer);
                       session->response.version(11);
                       session->response.keep_alive(!close_after_each_ && session->request.keep_alive());
                       session->response.prepare_payload();
                       http::async_write(session->stream, session->response,
                                         [this, session](const boost::system::error_code& wec, std::size_t) {
                                           if (wec) return;
                                           if (close_after_each_) {
                                             boost::system::error_code ignored;
                                             session->stream.lowest_layer().close(ignored);
                                             return;
                                           }
                                           read(session);
                                         });
                     });
  }

  std::function<std::optional<Response>(const Request&)> handler_;
  bool close_after_each_;
  std::shared_ptr<const TlsConfig> tls_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<Session>> sessions_;
  std::thread thread_;
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::mutex mutex_;
  std::vector<std::string> bodies_;
};

Response answer(http::status status, std::string body = "{}") {
  Response response{status, 11};
  response.set(http::field::content_type, "application/json");
  response.body() = std::move(body);
  return response;
}

}  // namespace

TEST_CASE("keep-alive: one connection carries many gzip-compressed requests", "[transport][beast]") {
  BeastServer server([](const Request& request) {
    auto response = answer(http::status::ok, R"({"ack":")" + std::string(request.target()) + "\"}");
    return std::optional<Response>(std::move(response));
  });
  HttpsClient client({"127.0.0.1", server.port()}, agent_tls(), quick_settings());
  for (int i = 0; i < 5; ++i) {
    const std::string report = R"({"schema":"postured.report/v1","n":)" + std::to_string(i) + "}";
    auto result = client.request(http::verb::post, "/v1/reports/" + std::to_string(i), report,
                                 {{"Content-Type", "application/json"}}, BodyEncoding::gzip);
    REQUIRE(result.ok());
    CHECK(result.response().status == 200);
    CHECK(result.response().body == R"({"ack":"/v1/reports/)" + std::to_string(i) + "\"}");
  }
  CHECK(client.connections_opened() == 1);
  CHECK(server.connections() == 1);
  CHECK(server.requests() == 5);
  const auto bodies = server.bodies();
  REQUIRE(bodies.size() == 5);
  CHECK(bodies[3] == R"({"schema":"postured.report/v1","n":3})");
  CHECK(client.protocol() == "TLSv1.3");
}

TEST_CASE("a connection the server closed is replaced without failing the request", "[transport][beast]") {
  BeastServer server([](const Request&) { return std::optional<Response>(answer(http::status::ok)); },
                     /*close_after_each=*/true);
  HttpsClient client({"127.0.0.1", server.port()}, agent_tls(), quick_settings());
  for (int i = 0; i < 3; ++i) {
    auto result = client.request(http::verb::post, "/v1/reports", "{}");
    INFO(i << ": " << (result.ok() ? "" : result.error().message));
    REQUIRE(result.ok());
    // Give the server's close time to arrive, so that the next request meets a closed connection.
    std::this_thread::sleep_for(50ms);
  }
  CHECK(server.requests() == 3);
  CHECK(client.connections_opened() == 3);
}

TEST_CASE("Retry-After on 503 and 429 is read, in seconds and as an HTTP-date", "[transport][beast]") {
  BeastServer server([](const Request& request) {
    if (request.target() == "/busy") {
      auto response = answer(http::status::service_unavailable);
      response.set(http::field::retry_after, "120");
      return std::optional<Response>(std::move(response));
    }
    auto response = answer(http::status::too_many_requests);
    response.set(http::field::retry_after, "Fri, 31 Dec 2100 23:59:59 GMT");
    return std::optional<Response>(std::move(response));
  });
  HttpsClient client({"127.0.0.1", server.port()}, agent_tls(), quick_settings());
  auto busy = client.request(http::verb::post, "/busy", "{}");
  REQUIRE(busy.ok());
  CHECK(busy.response().status == 503);
  CHECK(busy.response().retry_after == std::chrono::seconds(120));
  auto slow_down = client.request(http::verb::post, "/slow-down", "{}");
  REQUIRE(slow_down.ok());
  CHECK(slow_down.response().status == 429);
  CHECK(slow_down.response().retry_after == limits::kMaxRetryAfter);  // a date 74 years away is capped
  CHECK(client.connections_opened() == 1);
}

TEST_CASE("gzip answers are decoded; oversized answers are refused", "[transport][beast]") {
  BeastServer server([](const Request& request) {
    if (request.target() == "/gzip") {
      auto response = answer(http::status::ok, gzip_compress(R"({"policy":"compressed"})"));
      response.set(http::field::content_encoding, "gzip");
      return std::optional<Response>(std::move(response));
    }
    if (request.target() == "/bomb") {  // 64 KiB on the wire, 8 MiB inflated
      auto response = answer(http::status::ok, gzip_compress(std::string(8u << 20, 'A')));
      response.set(http::field::content_encoding, "gzip");
      return std::optional<Response>(std::move(response));
    }
    return std::optional<Response>(answer(http::status::ok, std::string(2u << 20, 'x')));
  });
  HttpsClient client({"127.0.0.1", server.port()}, agent_tls(), quick_settings());
  auto gz = client.request(http::verb::get, "/gzip");
  REQUIRE(gz.ok());
  CHECK(gz.response().body == R"({"policy":"compressed"})");

  auto bomb = client.request(http::verb::get, "/bomb");
  REQUIRE_FALSE(bomb.ok());
  CHECK(bomb.error().kind == TransportError::Kind::http);
  CHECK_THAT(bomb.error().message, ContainsSubstring("it inflates to more than 1048576 bytes"));

  auto big = client.request(http::verb::get, "/big");
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().kind == TransportError::Kind::http);
  CHECK_THAT(big.error().message, ContainsSubstring("larger than the limit of 1048576 bytes"));
  // And the client recovers on a new connection.
  CHECK(client.request(http::verb::get, "/gzip").ok());
}

TEST_CASE("a server that does not answer runs into the read deadline", "[transport][beast]") {
  BeastServer server([](const Request&) { return std::optional<Response>(); });
  auto settings = quick_settings();
  settings.tls.read = 300ms;
  HttpsClient client({"127.0.0.1", server.port()}, agent_tls(), settings);
  const auto start = std::chrono::steady_clock::now();
  auto result = client.request(http::verb::post, "/v1/reports", "{}");
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind == TransportError::Kind::timeout);
  CHECK_THAT(result.error().message, ContainsSubstring("did not answer in time during reading the response"));
  CHECK(std::chrono::steady_clock::now() - start < 3s);
}

TEST_CASE("a peer that accepts TCP but never speaks TLS runs into the handshake deadline", "[transport]") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});  // never accepts
  auto settings = quick_settings();
  settings.tls.handshake = 300ms;
  HttpsClient client({"127.0.0.1", silent.local_endpoint().port()}, agent_tls(), settings);
  auto result = client.request(http::verb::get, "/");
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind == TransportError::Kind::timeout);
  CHECK_THAT(result.error().message, ContainsSubstring("during the TLS handshake"));
}

TEST_CASE("nothing listening is a connect error naming the address", "[transport]") {
  std::uint16_t port = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  HttpsClient client({"127.0.0.1", port}, agent_tls(), quick_settings());
  auto result = client.request(http::verb::get, "/");
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind == TransportError::Kind::connect);
  CHECK_THAT(result.error().message, StartsWith("cannot connect to 127.0.0.1:" + std::to_string(port)));
}

// ---- Response handling without a connection (what the fuzz target also drives).

TEST_CASE("Retry-After: seconds and the three HTTP-date forms", "[transport][http]") {
  using std::chrono::seconds;
  const auto now = std::chrono::sys_days{std::chrono::year{1994} / 11 / 6} + std::chrono::hours{8} +
                   std::chrono::minutes{49};  // 08:49:00, 37 s before the RFC's example date
  const std::chrono::system_clock::time_point at(now);
  CHECK(parse_retry_after("120", at) == seconds(120));
  CHECK(parse_retry_after(" 0 ", at) == seconds(0));
  CHECK(parse_retry_after("99999999999999999999999", at) == limits::kMaxRetryAfter);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at) == seconds(37));
  CHECK(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", at) == seconds(37));
  CHECK(parse_retry_after("Sun Nov  6 08:49:37 1994", at) == seconds(37));
  CHECK(parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", at) == seconds(0));  // in the past: now
  CHECK_FALSE(parse_retry_after("-5", at));
  CHECK_FALSE(parse_retry_after("1.5", at));
  CHECK_FALSE(parse_retry_after("Sun, 31 Feb 1994 08:49:37 GMT", at));
  CHECK_FALSE(parse_retry_after("soon", at));
  CHECK_FALSE(parse_retry_after("", at));
}

TEST_CASE("responses: chunked bodies, gzip, limits and truncation", "[transport][http]") {
  const auto now = std::chrono::system_clock::now();
  ResponseLimits limits;
  for (std::size_t piece : {1u, 7u, 4096u}) {
    const std::string chunked =
        "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\nRetry-After: 30\r\n\r\n"
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    auto parsed = parse_response(chunked, limits, now, piece);
    REQUIRE(std::holds_alternative<HttpResponse>(parsed));
    const auto& response = std::get<HttpResponse>(parsed);
    CHECK(response.status == 503);
    CHECK(response.body == "hello world");
    CHECK(response.retry_after == std::chrono::seconds(30));
    CHECK(response.keep_alive);
    CHECK(response.header("retry-after") == "30");
  }
  const std::string gz = gzip_compress("{\"ok\":true}");
  auto gzipped = parse_response(
      "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + std::to_string(gz.size()) + "\r\n\r\n" + gz,
      limits, now);
  REQUIRE(std::holds_alternative<HttpResponse>(gzipped));
  CHECK(std::get<HttpResponse>(gzipped).body == "{\"ok\":true}");

  auto until_eof = parse_response("HTTP/1.0 200 ok\r\n\r\nall of it", limits, now);
  REQUIRE(std::holds_alternative<HttpResponse>(until_eof));
  CHECK(std::get<HttpResponse>(until_eof).body == "all of it");
  CHECK_FALSE(std::get<HttpResponse>(until_eof).keep_alive);

  auto truncated = parse_response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", limits, now);
  REQUIRE(std::holds_alternative<std::string>(truncated));
  CHECK(std::get<std::string>(truncated) == "the connection ended before the response was complete");

  ResponseLimits tiny;
  tiny.max_body = 4;
  auto big = parse_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", tiny, now);
  REQUIRE(std::holds_alternative<std::string>(big));
  CHECK(std::get<std::string>(big) == "the response body is larger than the limit of 4 bytes");

  auto brotli = parse_response("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx", limits, now);
  REQUIRE(std::holds_alternative<std::string>(brotli));
  CHECK_THAT(std::get<std::string>(brotli), ContainsSubstring("Content-Encoding \"br\""));

  auto garbage = parse_response("SSH-2.0-OpenSSH_9.2\r\n", limits, now);
  REQUIRE(std::holds_alternative<std::string>(garbage));
  CHECK_THAT(std::get<std::string>(garbage), StartsWith("the response is not valid HTTP/1.1"));
}
