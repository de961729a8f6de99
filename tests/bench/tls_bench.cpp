// Benchmark (issue 6): a TLS 1.3 handshake with a client certificate plus one small POST on loopback,
// against `openssl s_server`, timed for postured's TlsStream (mbedTLS on Asio, the request written by
// Beast) and for `openssl s_client` doing the same handshake and sending the same bytes, alternating,
// in the same run. Prints the medians and their ratio. s_server -www answers GET but not POST, so the
// POST rounds end when the request is written and close_notify sent; a second pair of rounds does a
// GET and reads s_server's answer to the end, the HttpsClient path end to end.
//
//   tls_bench [--rounds 50] [--small]
// --small is 5 rounds, so that CI proves the bench works in seconds.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/openssl_pki.hpp"
#include "support/process.hpp"
#include "transport/https_client.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using namespace postured::transport;
namespace http = boost::beast::http;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs argv with stdin from `input` and its output thrown away; wall time in ms.
double time_process(const std::vector<std::string>& argv, const std::string& input) {
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int in = ::open(input.c_str(), O_RDONLY);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(in, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const double elapsed = ms_since(start);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "tls_bench: %s exited with status %d\n", argv[0].c_str(), status);
    std::exit(3);
  }
  return elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 50;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--small")
      rounds = 5;
    else if (arg == "--rounds" && i + 1 < argc)
      rounds = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: tls_bench [--rounds N] [--small]\n");
      return 2;
    }
  }

  const postured::test::OpensslPki pki;
  postured::test::Child server({"/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", pki.cert("server"),
                                "-key", pki.key("server"), "-CAfile", pki.cert("ca"), "-Verify", "1", "-www",
                                "-tls1_3"});
  std::uint16_t port = 0;
  for (int i = 0; i < 500 && port == 0 && server.running(); ++i) {
    const auto& out = server.result().out;
    if (const auto at = out.find("ACCEPT 127.0.0.1:");
        at != std::string::npos && out.find('\n', at) != std::string::npos) {
      port = static_cast<std::uint16_t>(std::stoi(out.substr(at + 17)));
    }
    std::this_thread::sleep_for(10ms);
  }
  if (port == 0) {
    std::fprintf(stderr, "tls_bench: openssl s_server did not start: %s\n", server.result().err.c_str());
    return 3;
  }

  const TlsIdentity identity{pki.read(pki.cert("client")), postured::SecretString(pki.read(pki.key("client")))};
  const auto tls = TlsConfig::client(pki.read(pki.cert("ca")), &identity);

  // The POST both sides send: a small report, gzip-compressed, as the agent will send it.
  std::string report = R"({"schema":"postured.report/v1","report_id":"6f1c2a8e-1b7d-4a53-9a55-3f0e6f4f2b11",)"
                       R"("device":{"id":"pos-0001","store_id":"store-7"},"checks":[)";
  for (int i = 0; i < 10; ++i) {
    report += std::string(i ? "," : "") + R"({"id":"linux.check.)" + std::to_string(i) + R"(","status":"pass"})";
  }
  report += "]}";
  http::request<http::string_body> post{http::verb::post, "/v1/reports", 11};
  post.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  post.set(http::field::content_type, "application/json");
  post.set(http::field::content_encoding, "gzip");
  post.body() = gzip_compress(report);
  post.prepare_payload();
  std::ostringstream wire;
  wire << post;
  const std::string post_file = (pki.dir() / "post.http").string();
  std::ofstream(post_file, std::ios::binary) << wire.str();
  const std::string get_file = (pki.dir() / "get.http").string();
  std::ofstream(get_file, std::ios::binary) << "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

  const std::string connect = "127.0.0.1:" + std::to_string(port);
  const std::vector<std::string> s_client = {
      "/usr/bin/openssl", "s_client",  "-connect",        connect,   "-tls1_3",      "-cert",
      pki.cert("client"), "-key",      pki.key("client"), "-CAfile", pki.cert("ca"), "-verify_return_error",
      "-verify_ip",       "127.0.0.1", "-brief"};
  auto s_client_get = s_client;
  s_client_get.push_back("-ign_eof");  // wait for s_server's answer and its close

  std::vector<double> ours_post, theirs_post, ours_get, theirs_get, exec_only;
  for (int round = 0; round < rounds + 1; ++round) {  // round 0 warms caches and is not counted
    // postured: connect, handshake, write the POST, close_notify.
    auto start = Clock::now();
    {
      boost::asio::io_context io;
      TlsStream stream(io.get_executor(), tls, "127.0.0.1");
      stream.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port});
      boost::system::error_code failure;
      stream.async_handshake([&](const boost::system::error_code& ec) {
        if (ec) return void(failure = ec);
        http::async_write(stream, post, [&](const boost::system::error_code& wec, std::size_t) {
          if (wec) return void(failure = wec);
          stream.async_shutdown([&](const boost::system::error_code& sec) { failure = sec; });
        });
      });
      io.run();
      if (failure) {
        std::fprintf(stderr, "tls_bench: postured round failed: %s %s\n", failure.message().c_str(),
                     stream.engine().certificate_problem().c_str());
        return 3;
      }
    }
    const double ours = ms_since(start);
    const double theirs = time_process(s_client, post_file);

    start = Clock::now();
    {
      HttpsClient client({"127.0.0.1", port}, tls);
      auto result = client.request(http::verb::get, "/");
      if (!result.ok() || result.response().status != 200) {
        std::fprintf(stderr, "tls_bench: GET failed: %s\n", result.ok() ? "status" : result.error().message.c_str());
        return 3;
      }
    }
    const double ours_round_trip = ms_since(start);
    const double theirs_round_trip = time_process(s_client_get, get_file);
    const double exec = time_process({"/usr/bin/openssl", "version"}, "/dev/null");
    server.running();  // drains s_server's output so that its pipe never fills
    if (round == 0) continue;
    ours_post.push_back(ours);
    theirs_post.push_back(theirs);
    ours_get.push_back(ours_round_trip);
    theirs_get.push_back(theirs_round_trip);
    exec_only.push_back(exec);
  }

  const double exec = median(exec_only);
  const auto line = [&](const char* what, double ours, double theirs) {
    std::printf("%-44s postured %7.2f ms   s_client %7.2f ms (%.2f ms without its start-up)   ratio %.2f (%.2f)\n",
                what, ours, theirs, theirs - exec, ours / theirs, ours / (theirs - exec));
  };
  std::printf("tls_bench: TLS 1.3, client certificate, loopback, openssl s_server -www, median of %d rounds\n", rounds);
  std::printf("POST body: %zu bytes of JSON, %zu gzip-compressed; request %zu bytes\n", report.size(),
              post.body().size(), wire.str().size());
  line("handshake + POST written + close_notify:", median(ours_post), median(theirs_post));
  line("handshake + GET + whole answer read:", median(ours_get), median(theirs_get));
  std::printf("`openssl version` (s_client's process start-up without TLS): %.2f ms\n", exec);
  return 0;
}
