// The agent's reporting against the real posture-console (ca init, token create, serve on 127.0.0.1):
// enrollment and its refusals, the sealed key file, renewal, reports through postured --once and the
// daemon, the spool across a kill -9 and a console that is down for a while; and 503 + Retry-After
// against a Python (OpenSSL) TLS server, since the console's overload answer cannot be provoked on
// demand. Every peer is a real process speaking TLS.
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include "console/endpoint_harness.hpp"
#include "core/key_store.hpp"
#include "support/openssl_pki.hpp"
#include "support/process.hpp"
#include "transport/client_identity.hpp"
#include "transport/enrollment.hpp"
#include "transport/http_message.hpp"

namespace {

using namespace std::chrono_literals;
using postured::test::Child;
using postured::test::ConsoleUnderTest;
using postured::test::read_text;
using postured::test::run;
using postured::test::write_text;
namespace fs = std::filesystem;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// A console on a port of our choosing, so that it can be stopped and started again at the same address.
void pin_console_port(ConsoleUnderTest& console, int port) {
  auto text = read_text(console.config());
  const auto at = text.find("listen = \"127.0.0.1:0\"");
  REQUIRE(at != std::string::npos);
  text.replace(at, std::string("listen = \"127.0.0.1:0\"").size(),
               "listen = \"127.0.0.1:" + std::to_string(port) + "\"");
  write_text(console.config(), text);
}

// A device's folder: postured.toml, state and runtime directories.
struct Device {
  fs::path dir;
  explicit Device(const std::string& url, const std::string& ca_file, const std::string& extra = "") {
    std::string pattern = (fs::temp_directory_path() / "postured-device-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir = pattern;
    write_text(config(), "[agent]\nstore_id = \"store-7\"\ndevice_id = \"device-1\"\nstate_dir = \"" +
                             (dir / "state").string() + "\"\nruntime_dir = \"" + (dir / "run").string() +
                             "\"\nsocket_group = \"\"\n[schedule]\njitter = 0\n[console]\nurl = \"" + url +
                             "\"\nca_file = \"" + ca_file + "\"\nretry_min = \"1s\"\nretry_max = \"2s\"\n" + extra);
  }
  ~Device() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string config() const { return (dir / "postured.toml").string(); }
  fs::path state() const { return dir / "state"; }
  postured::test::Ran ctl(std::vector<std::string> args) const {
    args.insert(args.begin(), postured::test::bin("posturectl"));
    args.push_back("--config");
    args.push_back(config());
    return run(args);
  }
  postured::test::Ran once() const { return run({postured::test::bin("postured"), "--once", "--config", config()}); }
  nlohmann::json status() const { return nlohmann::json::parse(ctl({"status", "--json"}).out); }
};

std::string console_url(int port) {
  return "https://127.0.0.1:" + std::to_string(port);
}

// Rows in the console's reports table, by report_id (the console's own SQLite database).
std::vector<std::string> stored_report_ids(const ConsoleUnderTest& console) {
  const auto ran = run({"/usr/bin/sqlite3", console.database(), "SELECT report_id FROM reports ORDER BY report_id"});
  std::vector<std::string> ids;
  std::istringstream lines(ran.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) ids.push_back(line);
  }
  return ids;
}

std::string last_report_id(const Device& device) {
  return nlohmann::json::parse(read_text(device.state() / "last-report.json")).at("report_id").get<std::string>();
}

}  // namespace

TEST_CASE("enroll against posture-console: certificate stored, key sealed, not PEM, not in the clear",
          "[reporting][enroll]") {
  ConsoleUnderTest console;
  console.start();
  Device device(console_url(console.port()), console.ca());
  const auto token = console.token("store-7");
  const auto enrolled = device.ctl({"enroll", "--token", token, "--json"});
  INFO(enrolled.out << enrolled.err);
  REQUIRE(enrolled.exit_code == 0);
  const auto result = nlohmann::json::parse(enrolled.out);
  CHECK(result["enrolled"] == true);
  CHECK(result["subject"] == "CN=device-1, OU=store-7");

  // The identity file: the certificate in PEM, the key sealed.
  const auto file = read_text(device.state() / "client-identity.json");
  CHECK(file.find("BEGIN CERTIFICATE") != std::string::npos);
  CHECK(file.find("PRIVATE KEY") == std::string::npos);
  CHECK((fs::status(device.state() / "client-identity.json").permissions() & fs::perms::group_all) == fs::perms::none);
  // The key's secret scalar: from the DER that the sealed PEM carries (ECPrivateKey: 30 77 02 01 01 04 20 <32>).
  const auto master = postured::open_master_key_store(device.state())->load(false);
  REQUIRE(master.key);
  postured::transport::ClientIdentityStore store(device.state(), *master.key);
  std::string error;
  const auto identity = store.load(error);
  REQUIRE(identity);
  const auto& pem = identity->identity.private_key_pem.str();
  const auto begin = pem.find('\n') + 1;
  const auto end = pem.find("-----END");
  std::string b64 = pem.substr(begin, end - begin);
  b64.erase(std::remove(b64.begin(), b64.end(), '\n'), b64.end());
  const auto der = run({"/usr/bin/bash", "-c", "echo " + b64 + " | base64 -d | od -An -tx1 -v | tr -d ' \\n'"}).out;
  REQUIRE(der.substr(0, 14) ==
          "307702010104"
          "20");
  const auto scalar_hex = der.substr(14, 64);
  const auto file_hex =
      run({"/usr/bin/bash", "-c",
           "od -An -tx1 -v '" + (device.state() / "client-identity.json").string() + "' | tr -d ' \\n'"})
          .out;
  CHECK(file_hex.find(scalar_hex) == std::string::npos);
  CHECK(file.find(b64.substr(0, 40)) == std::string::npos);
  const auto sealed = nlohmann::json::parse(file)["sealed_key"].get<std::string>();
  const auto sealed_hex =
      run({"/usr/bin/bash", "-c", "echo " + sealed + " | base64 -d | od -An -tx1 -v | tr -d ' \\n'"}).out;
  CHECK(sealed_hex.find(scalar_hex) == std::string::npos);

  // Status without a daemon: says so (exit 3) and still shows the certificate.
  const auto status = device.ctl({"status", "--json"});
  CHECK(status.exit_code == 3);
  const auto s = nlohmann::json::parse(status.out);
  CHECK(s["daemon"]["running"] == false);
  CHECK(s["enrollment"]["subject"] == "CN=device-1, OU=store-7");

  // Enrolling again needs --force; the console then refuses a second certificate for a device that
  // holds a valid one (409 device_exists) until central IT releases it.
  CHECK(device.ctl({"enroll", "--token", token}).exit_code == 2);
  const auto again = device.ctl({"enroll", "--token", console.token("store-7"), "--force"});
  CHECK(again.exit_code == 2);
  CHECK(again.err.find("already has a valid certificate for this device") != std::string::npos);
  CHECK(again.err.find("`posture-console device release device-1`") != std::string::npos);
  const auto again_json = device.ctl({"enroll", "--token", console.token("store-7"), "--force", "--json"});
  CHECK(nlohmann::json::parse(again_json.out)["error"] == "device_exists");
  REQUIRE(console.cli({"device", "release", "device-1"}).exit_code == 0);
  const auto released = device.ctl({"enroll", "--token", console.token("store-7"), "--force"});
  INFO(released.err);
  CHECK(released.exit_code == 0);
}

TEST_CASE("enroll: unknown and expired tokens are explained", "[reporting][enroll]") {
  ConsoleUnderTest console;
  console.start();
  Device device(console_url(console.port()), console.ca());
  const auto unknown = device.ctl({"enroll", "--token", "not-a-token-the-console-made"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("does not know this enrollment token") != std::string::npos);
  const auto short_lived = console.token("store-7", 1, "1s");
  std::this_thread::sleep_for(2200ms);
  const auto expired = device.ctl({"enroll", "--token", short_lived, "--json"});
  CHECK(expired.exit_code == 2);
  CHECK(nlohmann::json::parse(expired.out)["error"] == "token_expired");
  // A token for another store.
  const auto other = device.ctl({"enroll", "--token", console.token("store-8")});
  CHECK(other.exit_code == 2);
  CHECK(other.err.find("another store") != std::string::npos);
  CHECK_FALSE(fs::exists(device.state() / "client-identity.json"));
}

TEST_CASE("enroll: a console with a certificate from another CA, or for another host, is refused and explained",
          "[reporting][enroll]") {
  postured::test::OpensslPki pki;
  ConsoleUnderTest console;
  console.start();
  Device wrong_ca(console_url(console.port()), pki.cert("ca"));
  const auto refused = wrong_ca.ctl({"enroll", "--token", console.token("store-7")});
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find("is not the pinned CA \"CN=Postured Test CA, O=Postured Tests\"") != std::string::npos);

  // The same console with a server certificate for another name only.
  console.stop();
  auto text = read_text(console.config());
  text.replace(text.find("names = [\"localhost\", \"127.0.0.1\"]"),
               std::string("names = [\"localhost\", \"127.0.0.1\"]").size(), "names = [\"elsewhere.example\"]");
  write_text(console.config(), text);
  REQUIRE(console.cli({"ca", "init", "--force"}).exit_code == 0);
  console.start();
  Device wrong_host(console_url(console.port()), console.ca());
  const auto host = wrong_host.ctl({"enroll", "--token", console.token("store-7")});
  CHECK(host.exit_code == 3);
  CHECK(host.err.find("is for elsewhere.example") != std::string::npos);
  CHECK(host.err.find("not for \"127.0.0.1\"") != std::string::npos);
}

TEST_CASE("renewal over mTLS: a new key and certificate replace the old ones, then reports go out with them",
          "[reporting][renew]") {
  ConsoleUnderTest console;
  console.start();
  Device device(console_url(console.port()), console.ca());
  REQUIRE(device.ctl({"enroll", "--token", console.token("store-7")}).exit_code == 0);
  const auto master = postured::open_master_key_store(device.state())->load(false);
  REQUIRE(master.key);
  postured::transport::ClientIdentityStore store(device.state(), *master.key);
  std::string error;
  const auto before = store.load(error);
  REQUIRE(before);
  // 90-day certificates: renewal is due at day 60, not now (the threshold itself is a unit test).
  CHECK_FALSE(postured::transport::renewal_due(before->facts, std::chrono::system_clock::now()));
  CHECK(postured::transport::renewal_due(before->facts, before->facts.not_before + std::chrono::hours(24 * 61)));

  postured::transport::EnrollmentTarget target;
  target.endpoint = {"127.0.0.1", static_cast<std::uint16_t>(console.port())};
  target.ca_pem = read_text(console.ca());
  const auto renewed = postured::transport::renew(target, *before, store);
  INFO(renewed.message);
  REQUIRE(renewed.ok());
  const auto after = store.load(error);
  REQUIRE(after);
  CHECK(after->facts.serial != before->facts.serial);
  CHECK(after->facts.subject == before->facts.subject);
  CHECK(after->identity.private_key_pem.str() != before->identity.private_key_pem.str());

  const auto sent = device.once();
  INFO(sent.err);
  CHECK((sent.exit_code == 0 || sent.exit_code == 1));
  CHECK(sent.err.find("report sent to") != std::string::npos);
  const auto ids = stored_report_ids(console);
  CHECK(ids == std::vector<std::string>{last_report_id(device)});
}

TEST_CASE("a certificate for another store or device is not used: status says why, console.token_file enrolls anew",
          "[reporting][enroll]") {
  ConsoleUnderTest console;
  console.start();
  Device device(console_url(console.port()), console.ca());
  REQUIRE(device.ctl({"enroll", "--token", console.token("store-7")}).exit_code == 0);
  const auto replace_line = [&](const std::string& from, const std::string& to) {
    auto text = read_text(device.config());
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    write_text(device.config(), text);
  };

  // The terminal was moved to store-8 in the configuration; the certificate still says store-7.
  replace_line("store_id = \"store-7\"", "store_id = \"store-8\"");
  const auto refused = device.once();
  INFO(refused.err);
  const std::string problem =
      "certificate issued for device device-1 / store store-7, configured device device-1 / store store-8";
  CHECK(refused.err.find(problem) != std::string::npos);
  CHECK(refused.err.find("posturectl enroll --force --token") != std::string::npos);
  CHECK(refused.err.find("report sent to") == std::string::npos);
  CHECK(stored_report_ids(console).empty());
  const auto status = device.status();
  CHECK(status["enrollment"]["problem"].get<std::string>().find(problem) == 0);
  const auto shown = device.ctl({"status"});
  CHECK(shown.out.find(problem) != std::string::npos);

  // A new device id and console.token_file: postured enrolls again with a new key, then sends.
  replace_line("device_id = \"device-1\"", "device_id = \"device-2\"");
  write_text(device.dir / "token", console.token("store-8") + "\n");
  auto text = read_text(device.config());
  text.replace(text.find("[console]\n"), std::string("[console]\n").size(),
               "[console]\ntoken_file = \"" + (device.dir / "token").string() + "\"\n");
  write_text(device.config(), text);
  const auto enrolled = device.once();
  INFO(enrolled.err);
  CHECK(enrolled.err.find("certificate issued for device device-1 / store store-7, configured device device-2") !=
        std::string::npos);
  CHECK(enrolled.err.find("enrolled with") != std::string::npos);
  const auto after = device.status();
  CHECK(after["enrollment"]["subject"] == "CN=device-2, OU=store-8");
  CHECK(after["enrollment"]["problem"] == "");
  // The spool still holds the report made as device-1, which device-2's certificate may not send
  // (403 device_mismatch); what the sender does with it is report_sender's business, not this test's.
}

TEST_CASE("console down, daemon killed with -9, console up: every report arrives exactly once", "[reporting][spool]") {
  ConsoleUnderTest console;
  const int port = free_port();
  pin_console_port(console, port);
  console.start();
  Device device(console_url(port), console.ca());
  REQUIRE(device.ctl({"enroll", "--token", console.token("store-7")}).exit_code == 0);
  console.stop();

  // Two one-shot cycles with the console down: each report stays in the spool.
  std::vector<std::string> made;
  for (int i = 0; i < 2; ++i) {
    const auto ran = device.once();
    INFO(ran.err);
    CHECK(ran.err.find("report not sent (it stays in the spool)") != std::string::npos);
    made.push_back(last_report_id(device));
  }
  CHECK(device.status()["spool"]["depth"] == 2);

  // The daemon makes a third report, fails to send it, and is killed with -9.
  {
    Child daemon({postured::test::bin("postured"), "--config", device.config()});
    // Its first cycle runs at start (jitter 0); wait until its report is in the spool.
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < until) {
      daemon.wait_for_stderr("\x01", 250ms);
      const auto s = device.status();
      if (s["daemon"]["running"] == true && s["spool"]["depth"] == 3 && !s["last_error"].get<std::string>().empty())
        break;
    }
    const auto status = device.status();
    CHECK(status["daemon"]["running"] == true);
    CHECK(status["spool"]["depth"] == 3);
    CHECK_FALSE(status["last_error"].get<std::string>().empty());
    daemon.signal(SIGKILL);
    daemon.wait(5s);
  }
  made.push_back(last_report_id(device));
  const auto offline = device.ctl({"status", "--json"});
  CHECK(offline.exit_code == 3);
  CHECK(nlohmann::json::parse(offline.out)["spool"]["depth"] == 3);
  // The next report tells the console about the backlog it comes after.
  CHECK(nlohmann::json::parse(read_text(device.state() / "last-report.json"))["transport"]["spool_depth"] == 2);

  // Console back on the same port, daemon restarted: the backlog and the new report arrive.
  console.start();
  Child daemon({postured::test::bin("postured"), "--config", device.config()});
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline && stored_report_ids(console).size() < 4) {
    daemon.wait_for_stderr("\x01", 250ms);  // keeps its stderr pipe drained
  }
  made.push_back(last_report_id(device));
  std::sort(made.begin(), made.end());
  CHECK(stored_report_ids(console) == made);
  const auto status = device.status();
  CHECK(status["spool"]["depth"] == 0);
  CHECK(status["spool"]["sent_reports"] == 4);
  CHECK(status["spool"]["dropped_reports"] == 0);
  CHECK_FALSE(status["last_success_at"].get<std::string>().empty());
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(30s).exit_code == 0);
}

TEST_CASE("spool bounds through postured --once: the oldest report is dropped and the drop is reported",
          "[reporting][spool]") {
  postured::test::OpensslPki pki;
  // Nothing listens on this port: every send fails at once.
  Device device(console_url(free_port()), pki.cert("ca"), "[spool]\nmax_reports = 2\n");
  std::vector<std::string> made;
  for (int i = 0; i < 3; ++i) {
    device.once();
    made.push_back(last_report_id(device));
  }
  const auto status = device.status();
  CHECK(status["spool"]["depth"] == 2);
  CHECK(status["spool"]["dropped_reports"] == 1);
  // The third report was made before the drop, so the fourth one carries it.
  device.once();
  const auto report = nlohmann::json::parse(read_text(device.state() / "last-report.json"));
  CHECK(report["transport"]["dropped_reports"] == 1);
  CHECK(report["schema"] == "postured.report/v1");
}

TEST_CASE("503 with Retry-After: the daemon waits as long as the server says, then sends", "[reporting][retry]") {
  postured::test::OpensslPki pki;
  const int port = free_port();
  // A TLS 1.3 server (Python's ssl, i.e. OpenSSL) that requires a client certificate from the CA and
  // answers the first POST with 503 Retry-After: 3, the next with the report id; it logs each arrival.
  const auto script = pki.dir() / "server.py";
  write_text(script.string(), R"py(
import gzip, http.server, json, ssl, sys, time
count = 0
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers["Content-Length"]))
        report = json.loads(gzip.decompress(body))
        count += 1
        print("arrival %d %.3f %s" % (count, time.monotonic(), report["report_id"]), file=sys.stderr, flush=True)
        if count == 1:
            out, status, extra = b'{"error":"overloaded","message":"busy"}', 503, [("Retry-After", "3")]
        else:
            out, status, extra = json.dumps({"report_id": report["report_id"], "status": "stored"}).encode(), 200, []
        self.send_response(status)
        for k, v in extra: self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *args): pass
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
context.load_verify_locations(sys.argv[4])
context.verify_mode = ssl.CERT_REQUIRED
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("listening", file=sys.stderr, flush=True)
server.serve_forever()
)py");
  Child server({"/usr/bin/python3", script.string(), std::to_string(port), pki.cert("server"), pki.key("server"),
                pki.cert("ca")});
  REQUIRE(server.wait_for_stderr("listening", 10s));

  Device device(console_url(port), pki.cert("ca"));
  {
    // The device's identity, as enrollment would have stored it (the openssl-made client certificate).
    const auto master = postured::open_master_key_store(device.state())->load(true);
    REQUIRE(master.key);
    postured::transport::ClientIdentityStore store(device.state(), *master.key);
    // The agent uses a certificate only for its configured device and store (CN=device-1, OU=store-7);
    // the shared PKI's client certificate names the store in O, so this one is made here.
    const auto d = pki.dir().string();
    const auto made = run({"/usr/bin/bash", "-c",
                           "cd '" + d + "' && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                           "-keyout device.key -subj /CN=device-1/OU=store-7 -out device.csr 2>/dev/null && "
                           "printf 'extendedKeyUsage=clientAuth\\n' > device.ext && openssl x509 -req -in device.csr "
                           "-CA '" + pki.cert("ca") + "' -CAkey '" + pki.key("ca") +
                           "' -set_serial 77 -days 30 -extfile device.ext -out device.crt 2>/dev/null"});
    REQUIRE(made.exit_code == 0);
    REQUIRE(store.store(read_text(pki.dir() / "device.crt"), postured::SecretString(read_text(pki.dir() / "device.key")))
                .empty());
  }
  Child daemon({postured::test::bin("postured"), "--config", device.config()});
  REQUIRE(server.wait_for_stderr("arrival 2 ", 30s));
  const auto err = server.result().err;
  const std::regex arrival("arrival (\\d) ([0-9.]+) (\\S+)");
  std::vector<double> times;
  std::vector<std::string> ids;
  for (std::sregex_iterator it(err.begin(), err.end(), arrival), stop; it != stop; ++it) {
    times.push_back(std::stod((*it)[2]));
    ids.push_back((*it)[3]);
  }
  REQUIRE(times.size() == 2);
  CHECK(ids[0] == ids[1]);  // the same report, sent again
  const double gap = times[1] - times[0];
  INFO("gap " << gap << " s");
  CHECK(gap >= 3.0);
  CHECK(gap < 4.5);  // not the backoff's 1-2 s, and no long extra wait
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline && device.status()["spool"]["depth"] != 0) {
    daemon.wait_for_stderr("\x01", 200ms);
  }
  CHECK(device.status()["spool"]["depth"] == 0);
  daemon.signal(SIGTERM);
  daemon.wait(20s);
  server.signal(SIGTERM);
}
