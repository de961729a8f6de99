// A real posture-console for endpoint tests: a throw-away data_dir, `ca init`, `serve` as a child
// process on a free port, and the peers the agent endpoint must work with (curl and openssl, a second
// TLS stack). Nothing here stands in for the console: the tests talk to the built binary over TCP.
#pragma once

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

namespace postured::test {

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// What curl got back: the HTTP status (0 when there was no answer), headers, body and curl's stderr.
struct CurlResult {
  int exit_code = -1;
  int status = 0;
  std::string headers;
  std::string body;
  std::string err;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// A report in the shape postured.report/v1 has, for `device` (a UUID made from `n`).
inline std::string report_id(int n) {
  char id[40];
  std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", n);
  return id;
}

inline nlohmann::json sample_report(const std::string& device, int n, const std::string& store = "store-7") {
  return {
      {"schema", "postured.report/v1"},
      {"report_id", report_id(n)},
      {"generated_at", "2026-11-20T09:15:00Z"},  // in the past: a report from the future is refused
      {"agent_version", "0.1.0"},
      {"device",
       {{"id", device},
        {"store_id", store},
        {"hostname", "pos-" + device},
        {"os", {{"id", "debian"}, {"version_id", "12"}, {"pretty_name", "Debian GNU/Linux 12"}, {"kernel", "6.1.0"}}},
        {"agent_version", "0.1.0"}}},
      {"checks",
       {{{"id", "linux.ssh.permit_root_login"},
         {"title", "SSH refuses root logins"},
         {"status", "fail"},
         {"severity", "high"},
         {"evidence", "PermitRootLogin yes"},
         {"remediation", "set PermitRootLogin no"},
         {"references", {"PCI DSS 4.0 2.2.6"}}},
        {{"id", "linux.fs.tmp_noexec"},
         {"title", "/tmp is noexec"},
         {"status", "pass"},
         {"severity", "medium"},
         {"evidence", ""},
         {"remediation", ""},
         {"references", nlohmann::json::array()}}}},
      {"summary", {{"pass", 1}, {"fail", 1}, {"error", 0}, {"not_applicable", 0}}},
      {"patch",
       {{"packages_total", 812},
        {"below_baseline", {{{"name", "openssl"}, {"installed", "3.0.11-1"}, {"required", "3.0.15-1"}}}},
        {"last_security_update_at", "2026-11-20T03:00:00Z"},
        {"pending_security_updates", 2},
        {"reboot_required", false}}},
      {"caches",
       {{{"name", "loyalty"},
         {"path", "/var/lib/pos/loyalty.db"},
         {"encrypted", false},
         {"cipher_version", ""},
         {"rows", 10},
         {"purged_rows", 0},
         {"transformed_values", 0},
         {"pan_findings", 1},
         {"last_enforced_at", ""}}}},
      {"scan",
       {{"files_scanned", 3}, {"bytes_scanned", 4096}, {"pan_findings", 2}, {"locations", nlohmann::json::array()}}}};
}

class ConsoleUnderTest {
 public:
  // `extra_server` is appended to [server] (e.g. "ingest_queue = 1\n").
  explicit ConsoleUnderTest(const std::string& extra_server = "") {
    std::string pattern = (std::filesystem::temp_directory_path() / "posture-console-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    std::filesystem::create_directories(dir_ / "data");
    write_text(config(),
               "[server]\nlisten = \"127.0.0.1:0\"\nnames = [\"localhost\", \"127.0.0.1\"]\n"
               "data_dir = \"" +
                   (dir_ / "data").string() + "\"\n" + extra_server + "[api]\nlisten = \"127.0.0.1:0\"\n");
    const auto init = cli({"ca", "init"});
    if (init.exit_code != 0) throw std::runtime_error("ca init failed: " + init.err);
  }
  ~ConsoleUnderTest() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ConsoleUnderTest(const ConsoleUnderTest&) = delete;
  ConsoleUnderTest& operator=(const ConsoleUnderTest&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::string config() const { return (dir_ / "console.toml").string(); }
  std::string ca() const { return (dir_ / "data" / "ca" / "ca.crt").string(); }
  std::string ca_key() const { return (dir_ / "data" / "ca" / "ca.key").string(); }
  std::string database() const { return (dir_ / "data" / "console.db").string(); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  int port() const { return port_; }
  std::string url(const std::string& path) const { return "https://127.0.0.1:" + std::to_string(port_) + path; }

  Ran cli(std::vector<std::string> args) const {
    args.insert(args.begin(), bin("posture-console"));
    args.push_back("--config");
    args.push_back(config());
    return run(args);
  }

  void start() {
    server_ = std::make_unique<Child>(std::vector<std::string>{bin("posture-console"), "serve", "--config", config()});
    if (!server_->wait_for_stderr("(port ", std::chrono::seconds(20))) {
      throw std::runtime_error("posture-console serve did not start: " + server_->result().err);
    }
    const auto& err = server_->result().err;
    port_ = std::stoi(err.substr(err.find("(port ") + 6));
  }
  void stop() {
    if (!server_) return;
    server_->signal(SIGTERM);
    server_->wait(std::chrono::seconds(15));
  }
  Child& server() { return *server_; }

  // A new enrollment token for `store`.
  std::string token(const std::string& store, int uses = 1, const std::string& ttl = "") const {
    std::vector<std::string> args{"token", "create", "--store", store, "--uses", std::to_string(uses), "--json"};
    if (!ttl.empty()) {
      args.push_back("--ttl");
      args.push_back(ttl);
    }
    const auto made = cli(args);
    if (made.exit_code != 0) throw std::runtime_error("token create failed: " + made.err);
    return nlohmann::json::parse(made.out).at("token").get<std::string>();
  }

  // A P-256 key and CSR made by openssl: <name>.key and <name>.csr in the test folder.
  std::string csr(const std::string& name, const std::string& subject) const {
    const auto made = run({"/usr/bin/openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-nodes", "-keyout", file(name + ".key"), "-subj", subject, "-out", file(name + ".csr")});
    if (made.exit_code != 0) throw std::runtime_error("openssl req failed: " + made.err);
    return read_text(file(name + ".csr"));
  }

  // POSTs `body` (a file's bytes) with curl; `extra` are more curl arguments (--cert, -H ...).
  CurlResult post(const std::string& path, const std::string& body, std::vector<std::string> extra = {}) {
    const std::string n = std::to_string(++calls_);
    write_text(file("body-" + n), body);
    std::vector<std::string> args{"/usr/bin/curl",
                                  "-sS",
                                  "--max-time",
                                  "30",
                                  "--cacert",
                                  ca(),
                                  "-H",
                                  "Content-Type: application/json",
                                  "-D",
                                  file("headers-" + n),
                                  "-o",
                                  file("answer-" + n),
                                  "-w",
                                  "%{http_code}",
                                  "--data-binary",
                                  "@" + file("body-" + n)};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(url(path));
    const auto ran = run(args);
    CurlResult result;
    result.exit_code = ran.exit_code;
    result.status = ran.out.empty() ? 0 : std::atoi(ran.out.c_str());
    result.headers = read_text(file("headers-" + n));
    result.body = read_text(file("answer-" + n));
    result.err = ran.err;
    return result;
  }

  // Enrolls `device` of `store` with a fresh token; leaves <device>.key and <device>.crt.
  void enroll(const std::string& device, const std::string& store = "store-7") {
    const std::string request = csr(device, "/CN=" + device + "/OU=" + store);
    const auto answer =
        post("/v1/enroll",
             nlohmann::json{{"token", token(store)}, {"csr_pem", request}, {"device_time", now_rfc3339()}}.dump());
    if (answer.status != 200) throw std::runtime_error("enrollment failed: " + answer.body + answer.err);
    write_text(file(device + ".crt"), answer.json().at("certificate_pem").get<std::string>());
  }
  std::vector<std::string> client_cert(const std::string& device) const {
    return {"--cert", file(device + ".crt"), "--key", file(device + ".key")};
  }

  static std::string now_rfc3339(std::chrono::seconds offset = std::chrono::seconds(0)) {
    const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + offset);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Child> server_;
  int port_ = 0;
  int calls_ = 0;
};

}  // namespace postured::test
