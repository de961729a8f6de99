// Benchmark (issue 7): posture-console's agent endpoint under load from simulated devices, against
// nginx terminating the same mutual TLS and answering 204 with no work (the ceiling), in the same run.
//
//   console_load_bench --console PATH/posture-console [--devices N] [--connections C]
//                      [--duration SECONDS | --reports-per-device R] [--reports-per-connection K]
//                      [--pg-url URL] [--no-nginx] [--no-sqlite] [--keep]
//   console_load_bench --console PATH --small     # what CI runs: 50 devices, 8 connections, 2 s
//   console_load_bench --small                     # without a console: nginx only, a local CA
//
// With a console, it makes a data directory, runs `ca init`, `token create --uses N` (one token per
// store of 100 devices), starts `serve`, enrolls every device through the real POST /v1/enroll (a
// P-256 key and CSR each, made here), and then drives the load (console_load_driver.hpp). Afterwards it
// opens the console's storage (the same code the console uses, console_storage) and checks each
// device's history against what the console acknowledged: nothing lost, nothing stored twice, nothing
// refused stored. PostgreSQL runs too when --pg-url or POSTURED_TEST_PG_URL names a server.
// Exit: 0 ok, 1 when a report was lost or duplicated or any request failed, 2 usage, 3 setup failure.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "console_load_driver.hpp"
#include "console_load_pki.hpp"

#if POSTURED_LOAD_HAS_STORAGE
#include "storage/storage.hpp"
#endif

namespace {

using namespace postured;
using namespace postured::bench;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Sizes and waits of the bench itself, each with why.
struct BenchDefaults {
  // A store has about this many terminals; one enrollment token per store (`token create --uses N`).
  static constexpr std::size_t kDevicesPerStore = 100;
  // Enrollment runs on this many connections at most: it is a one-off, not the measured load.
  static constexpr std::size_t kEnrollConnections = 16;
  // How long a server under test may take to listen after it was started.
  static constexpr auto kStartTimeout = 20s;
  // The console's [server] threads, and nginx's worker_processes: the same cores for both.
  static constexpr unsigned kServerThreads = 2;
  // --small: enough devices and connections to exercise rotation, keep-alive and verification.
  static constexpr std::size_t kSmallDevices = 50;
  static constexpr std::size_t kSmallConnections = 8;
  static constexpr auto kSmallDuration = 2s;
};

[[noreturn]] void fail_setup(const std::string& message) {
  std::fprintf(stderr, "console_load_bench: %s\n", message.c_str());
  std::exit(3);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_setup("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) fail_setup("cannot write " + path.string());
}

// A port nobody listens on now (bound to 0, then closed): the servers are told which port to take.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    fail_setup("cannot find a free port");
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool accepts_connections(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// CPU seconds (user + system) from /proc of the processes `wanted(pid, ppid, comm)` picks; with
// `reaped`, also what their exited children used (PostgreSQL's postmaster reaps its backends).
template <typename Wanted>
double cpu_seconds_of(Wanted wanted, bool reaped) {
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double total = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto open = stat.find('(');
    const auto close = stat.rfind(')');  // the command name may hold spaces
    if (open == std::string::npos || close == std::string::npos || close + 2 > stat.size()) continue;
    const std::string comm = stat.substr(open + 1, close - open - 1);
    std::istringstream fields(stat.substr(close + 2));
    std::string state, skip;
    long ppid = 0;
    fields >> state >> ppid;
    if (!wanted(std::stol(name), ppid, comm)) continue;
    for (int i = 0; i < 9; ++i) fields >> skip;  // pgrp .. cmajflt
    unsigned long long utime = 0, stime = 0, cutime = 0, cstime = 0;
    fields >> utime >> stime >> cutime >> cstime;
    total += static_cast<double>(utime + stime + (reaped ? cutime + cstime : 0)) / tick;
  }
  return total;
}

// The server under test: process `root` and its direct children (nginx's workers).
double process_tree_cpu_seconds(pid_t root) {
  return cpu_seconds_of([root](long pid, long ppid, const std::string&) { return pid == root || ppid == root; }, false);
}

// Every PostgreSQL process on the machine (the cluster may serve other work too: an upper bound).
double postgres_cpu_seconds() {
  return cpu_seconds_of([](long, long, const std::string& comm) { return comm == "postgres"; }, true);
}

double own_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// A server under test, its output going to a log file (a pipe nobody reads would fill and stall it).
class ServerProcess {
 public:
  ServerProcess(std::string name, const std::vector<std::string>& argv, const fs::path& log)
      : name_(std::move(name)), log_(log) {
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) fail_setup("cannot write " + log.string());
    pid_ = ::fork();
    if (pid_ < 0) fail_setup("fork failed");
    if (pid_ == 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(out);
  }
  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits until `port` accepts TCP connections; a server that exits or stays deaf fails the setup.
  void wait_listening(std::uint16_t port) {
    const auto end = std::chrono::steady_clock::now() + BenchDefaults::kStartTimeout;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        fail_setup(name_ + " exited at start-up; its output:\n" + read_file(log_));
      }
      if (accepts_connections(port)) return;
      std::this_thread::sleep_for(50ms);
    }
    fail_setup(name_ + " did not listen on port " + std::to_string(port) + " in time; its output:\n" + read_file(log_));
  }
  // SIGTERM (nginx: fast shutdown; the console: drain and close), SIGKILL after 15 s.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 300; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(50ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  std::string name_;
  fs::path log_;
  pid_t pid_ = -1;
};

// Runs a command to its end; its stdout, or a failed setup naming the command and its output.
std::string run_command(const std::vector<std::string>& argv, const fs::path& scratch) {
  const fs::path log = scratch / "command.log";
  const fs::path out_path = scratch / "command.out";
  const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::string command;
  for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail_setup("`" + command + "` failed (status " + std::to_string(status) + "):\n" + read_file(out_path) +
               read_file(log));
  return read_file(out_path);
}

// posture-console with its own data directory: CA, tokens, serve.
class ConsoleUnderTest {
 public:
  ConsoleUnderTest(std::string binary, fs::path data_dir)
      : binary_(std::move(binary)), data_dir_(std::move(data_dir)) {}

  // Writes console.toml for this storage URL (empty: SQLite in the data directory) on a fresh port.
  void configure(const std::string& storage_url) {
    port_ = free_port();
    config_ = data_dir_ / ("console-" + std::to_string(port_) + ".toml");
    std::ostringstream toml;
    toml << "[server]\nlisten = \"127.0.0.1:" << port_ << "\"\nnames = [\"localhost\", \"127.0.0.1\"]\n"
         << "data_dir = \"" << data_dir_.string() << "\"\nthreads = " << BenchDefaults::kServerThreads << "\n"
         << "[storage]\nurl = \"" << storage_url << "\"\n"
         << "[api]\nlisten = \"127.0.0.1:" << free_port() << "\"\n"
         << "[enroll]\ntoken_ttl = \"7d\"\n";
    write_file(config_, toml.str());
  }
  void initialise_ca() { run_command({binary_, "ca", "init", "--config", config_.string()}, data_dir_); }
  // A token for `uses` enrollments into `store_id`, as `token create --json` prints it.
  std::string create_token(const std::string& store_id, std::size_t uses) {
    const std::string out = run_command({binary_, "token", "create", "--store", store_id, "--uses",
                                         std::to_string(uses), "--ttl", "1d", "--json", "--config", config_.string()},
                                        data_dir_);
    const auto doc = nlohmann::json::parse(out, nullptr, false);
    if (!doc.is_object() || !doc.contains("token") || !doc["token"].is_string())
      fail_setup("`token create --json` printed no token: " + out);
    return doc["token"].get<std::string>();
  }
  void start() {
    server_ = std::make_unique<ServerProcess>("posture-console serve",
                                              std::vector<std::string>{binary_, "serve", "--config", config_.string()},
                                              data_dir_ / ("serve-" + std::to_string(port_) + ".log"));
    server_->wait_listening(port_);
  }
  void stop() { server_.reset(); }

  pid_t pid() const { return server_ ? server_->pid() : -1; }
  std::uint16_t port() const { return port_; }
  fs::path ca_dir() const { return data_dir_ / "ca"; }
  std::string sqlite_url() const { return "sqlite:" + (data_dir_ / "console.db").string(); }

 private:
  std::string binary_;
  fs::path data_dir_;
  fs::path config_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ServerProcess> server_;
};

// nginx from tests/bench/nginx/nginx.conf.in, in its own prefix directory.
class NginxCeiling {
 public:
  NginxCeiling(const fs::path& prefix, const fs::path& ca, const fs::path& cert, const fs::path& key)
      : prefix_(prefix) {
    fs::create_directories(prefix_);
    port_ = free_port();
    std::string conf = read_file(fs::path(POSTURED_SOURCE_DIR) / "tests/bench/nginx/nginx.conf.in");
    const std::vector<std::pair<std::string, std::string>> fields = {
        {"@PREFIX@", prefix_.string()},
        {"@PORT@", std::to_string(port_)},
        {"@WORKERS@", std::to_string(BenchDefaults::kServerThreads)},
        {"@CA_CERT@", ca.string()},
        {"@SERVER_CERT@", cert.string()},
        {"@SERVER_KEY@", key.string()}};
    for (const auto& [name, value] : fields) {
      for (auto at = conf.find(name); at != std::string::npos; at = conf.find(name, at + value.size()))
        conf.replace(at, name.size(), value);
    }
    write_file(prefix_ / "nginx.conf", conf);
    server_ = std::make_unique<ServerProcess>(
        "nginx",
        std::vector<std::string>{"/usr/sbin/nginx", "-p", prefix_.string(), "-c", (prefix_ / "nginx.conf").string(),
                                 "-e", (prefix_ / "error.log").string()},
        prefix_ / "nginx.out");
    server_->wait_listening(port_);
  }
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return server_->pid(); }

 private:
  fs::path prefix_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ServerProcess> server_;
};

// ---- enrollment --------------------------------------------------------------------------------------

// Enrolls every device through POST /v1/enroll on a few keep-alive connections (server-authenticated
// TLS, no client certificate), storing each certificate in its device. Returns the errors.
class Enrollment {
 public:
  Enrollment(std::vector<SimulatedDevice>& devices, const std::string& ca_pem, std::uint16_t port,
             const std::unordered_map<std::string, std::string>& token_by_store)
      : devices_(devices), tls_(transport::TlsConfig::client(ca_pem, nullptr)), port_(port), tokens_(token_by_store) {}

  std::size_t run() {
    const std::size_t workers = std::min(BenchDefaults::kEnrollConnections, devices_.size());
    for (std::size_t w = 0; w < workers; ++w) {
      asio::co_spawn(io_, worker(w, workers), [this](std::exception_ptr failure) {
        if (!failure) return;
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          note_error(std::string("enrollment worker stopped: ") + e.what());
        }
      });
    }
    io_.run();
    return errors_;
  }

 private:
  void note_error(const std::string& what) {
    if (errors_++ < 5) std::fprintf(stderr, "console_load_bench: enrollment: %s\n", what.c_str());
  }

  asio::awaitable<void> worker(std::size_t first, std::size_t workers) {
    const auto executor = co_await asio::this_coro::executor;
    std::size_t next = first;
    int failures = 0;
    while (next < devices_.size() && failures < LoadLimits::kMaxConnectionFailures) {
      transport::TlsStream stream(executor, tls_, "127.0.0.1");
      try {
        co_await stream.next_layer().async_connect({asio::ip::make_address("127.0.0.1"), port_}, asio::use_awaitable);
        co_await stream.async_handshake(asio::use_awaitable);
        boost::beast::flat_buffer buffer;
        bool keep_alive = true;
        for (; keep_alive && next < devices_.size(); next += workers) {
          SimulatedDevice& device = devices_[next];
          nlohmann::json body = {{"token", tokens_.at(device.store_id)},
                                 {"csr_pem", device.csr_pem},
                                 {"device_time", text::rfc3339_utc(std::chrono::system_clock::now())}};
          http::request<http::string_body> request{http::verb::post, "/v1/enroll", 11};
          request.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
          request.set(http::field::content_type, "application/json");
          request.keep_alive(true);
          request.body() = body.dump();
          request.prepare_payload();
          co_await http::async_write(stream, request, asio::use_awaitable);
          http::response_parser<http::string_body> parser;
          parser.body_limit(LoadLimits::kMaxResponseBody);
          co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
          auto response = parser.release();
          keep_alive = response.keep_alive();
          failures = 0;
          const auto answer = nlohmann::json::parse(response.body(), nullptr, false);
          if (response.result_int() != 200 || !answer.is_object() || !answer.contains("certificate_pem")) {
            note_error(device.id + ": HTTP " + std::to_string(response.result_int()) + " " + response.body());
            continue;
          }
          device.certificate_pem = answer["certificate_pem"].get<std::string>();
        }
      } catch (const boost::system::system_error& e) {
        ++failures;
        note_error("connection: " + e.code().message() + " " + stream.engine().certificate_problem());
      }
    }
    while (next < devices_.size()) {  // gave up: every device left is an error
      note_error(devices_[next].id + ": not enrolled, the console kept failing");
      next += workers;
    }
  }

  std::vector<SimulatedDevice>& devices_;
  std::shared_ptr<const transport::TlsConfig> tls_;
  std::uint16_t port_;
  const std::unordered_map<std::string, std::string>& tokens_;
  std::size_t errors_ = 0;
  asio::io_context io_;
};

// ---- verification ------------------------------------------------------------------------------------

struct Verification {
  std::size_t acknowledged = 0;
  std::size_t stored = 0;              // rows in the devices' histories
  std::size_t lost = 0;                // acknowledged, not stored
  std::size_t duplicated = 0;          // stored more than once
  std::size_t unexpected = 0;          // stored but refused, or never sent by this run
  std::size_t unconfirmed_stored = 0;  // no answer came, but the console had stored it (not an error)
  bool ok() const { return lost == 0 && duplicated == 0 && unexpected == 0; }
};

#if POSTURED_LOAD_HAS_STORAGE
Verification verify_storage(const std::string& url, const std::vector<SimulatedDevice>& devices,
                            const std::vector<DeviceLedger>& ledgers) {
  auto storage = console::open_storage(url);
  Verification v;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const auto& ledger = ledgers[i];
    v.acknowledged += ledger.acknowledged.size();
    const std::size_t sent = ledger.acknowledged.size() + ledger.unconfirmed.size() + ledger.refused.size();
    std::multiset<std::string> stored;
    if (const auto detail = storage->device(devices[i].id, sent + 16)) {
      for (const auto& meta : detail->history) stored.insert(meta.report_id);
    }
    v.stored += stored.size();
    for (const auto& id : ledger.acknowledged) {
      const auto n = stored.count(id);
      if (n == 0) ++v.lost;
      if (n > 1) v.duplicated += n - 1;
    }
    for (const auto& id : ledger.unconfirmed) {
      const auto n = stored.count(id);
      if (n > 0) ++v.unconfirmed_stored;
      if (n > 1) v.duplicated += n - 1;
    }
    const std::set<std::string> known(ledger.acknowledged.begin(), ledger.acknowledged.end());
    const std::set<std::string> maybe(ledger.unconfirmed.begin(), ledger.unconfirmed.end());
    for (const auto& id : stored)
      if (!known.count(id) && !maybe.count(id)) ++v.unexpected;
  }
  return v;
}
#endif

// ---- the run -----------------------------------------------------------------------------------------

struct Options {
  std::string console;
  std::size_t devices = 64;
  std::size_t connections = 64;
  std::chrono::milliseconds duration = 20s;
  std::size_t reports_per_device = 0;
  std::size_t reports_per_connection = 50;
  std::string pg_url;
  bool nginx = true;
  bool sqlite = true;
  bool keep = false;
  bool small = false;
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: console_load_bench [--console PATH] [--devices N] [--connections C]\n"
               "         [--duration SECONDS | --reports-per-device R] [--reports-per-connection K]\n"
               "         [--pg-url URL] [--no-nginx] [--no-sqlite] [--keep] [--small]\n");
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  if (const char* pg = std::getenv("POSTURED_TEST_PG_URL")) o.pg_url = pg;
  const auto number = [&](int& i) -> std::size_t {
    if (i + 1 >= argc) usage();
    char* end = nullptr;
    const auto value = std::strtoull(argv[++i], &end, 10);
    if (*end != '\0' || value == 0) usage();
    return static_cast<std::size_t>(value);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--console" && i + 1 < argc)
      o.console = argv[++i];
    else if (arg == "--devices")
      o.devices = number(i);
    else if (arg == "--connections")
      o.connections = number(i);
    else if (arg == "--duration")
      o.duration = std::chrono::seconds(number(i)), o.reports_per_device = 0;
    else if (arg == "--reports-per-device")
      o.reports_per_device = number(i), o.duration = 0s;
    else if (arg == "--reports-per-connection")
      o.reports_per_connection = number(i);
    else if (arg == "--pg-url" && i + 1 < argc)
      o.pg_url = argv[++i];
    else if (arg == "--no-nginx")
      o.nginx = false;
    else if (arg == "--no-sqlite")
      o.sqlite = false;
    else if (arg == "--keep")
      o.keep = true;
    else if (arg == "--small") {
      o.small = true;
      o.devices = BenchDefaults::kSmallDevices;
      o.connections = BenchDefaults::kSmallConnections;
      o.duration = BenchDefaults::kSmallDuration;
      o.reports_per_device = 0;
    } else
      usage();
  }
  return o;
}

struct Row {
  std::string label;
  LoadResult result;
  std::optional<Verification> verification;
  double server_cpu = 0;     // seconds, the server's process and its children, during the load
  double generator_cpu = 0;  // seconds, this process, during the load
  double database_cpu = -1;  // seconds, PostgreSQL's processes, during the load; -1: not measured
};

// Drives `target` (a server whose process is `server`) and measures the CPU both sides spent.
Row measure(const std::string& label, std::vector<SimulatedDevice>& devices, const std::string& ca_pem,
            const LoadTarget& target, pid_t server, const LoadPlan& plan, bool on_postgres) {
  const double server_before = process_tree_cpu_seconds(server);
  const double own_before = own_cpu_seconds();
  const double database_before = on_postgres ? postgres_cpu_seconds() : 0;
  Row row{label, LoadRun(devices, ca_pem, target, plan).run(), {}, 0, 0, -1};
  row.server_cpu = process_tree_cpu_seconds(server) - server_before;
  row.generator_cpu = own_cpu_seconds() - own_before;
  if (on_postgres) row.database_cpu = postgres_cpu_seconds() - database_before;
  return row;
}

void print_row(Row& row) {
  auto& r = row.result;
  const double thousands = static_cast<double>(std::max<std::size_t>(r.acknowledged, 1)) / 1000.0;
  std::printf("%-22s %9zu %10.0f %8.2f %8.2f %7zu %6zu %6zu %9.3f %9.3f  %s %s\n", row.label.c_str(), r.acknowledged,
              r.reports_per_second(), r.percentile_ms(0.50), r.percentile_ms(0.99), r.errors, r.overloaded,
              r.connections, row.server_cpu / thousands, row.generator_cpu / thousands, r.protocol.c_str(),
              r.ciphersuite.c_str());
  if (row.database_cpu >= 0)
    std::printf("    PostgreSQL's processes: %.3f CPU s per 1000 reports\n", row.database_cpu / thousands);
  // What the machine's cores could carry if this server and the generator had them to themselves.
  const double per_report = (row.server_cpu + row.generator_cpu + std::max(row.database_cpu, 0.0)) / thousands / 1000;
  if (per_report > 0)
    std::printf("    CPU-bound estimate on %u cores: %.0f reports/s\n", std::thread::hardware_concurrency(),
                std::thread::hardware_concurrency() / per_report);
  for (const auto& [kind, count] : r.error_kinds) std::printf("    error x%zu: %s\n", count, kind.c_str());
  if (r.duplicate_answers) std::printf("    %zu reports sent once were answered \"duplicate\"\n", r.duplicate_answers);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows line by line when stdout is a log file
  transport::ensure_psa_initialised();

  std::string scratch_pattern = (fs::temp_directory_path() / "console-load-XXXXXX").string();
  if (!::mkdtemp(scratch_pattern.data())) fail_setup("mkdtemp failed");
  const fs::path scratch = scratch_pattern;
  fs::permissions(scratch, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);

  // Devices: ids unique to this run, so that a shared PostgreSQL database holds no earlier history
  // under the same ids.
  UuidSource uuids;
  const std::string run_tag = uuids.next().substr(0, 8);
  std::vector<SimulatedDevice> devices(options.devices);
  // Without a console: a CA of our own, which signs the devices' certificates directly.
  std::optional<LocalCa> local_ca;
  if (options.console.empty()) local_ca.emplace();
  auto started = LoadClock::now();
  for (std::size_t i = 0; i < devices.size(); ++i) {
    auto& d = devices[i];
    char id[64];
    std::snprintf(id, sizeof id, "pos-%s-%05zu", run_tag.c_str(), i);
    d.id = id;
    std::snprintf(id, sizeof id, "store-%s-%03zu", run_tag.c_str(), i / BenchDefaults::kDevicesPerStore);
    d.store_id = id;
    EcKey key;
    d.key_pem = key.pem();
    d.csr_pem = make_csr(key, "CN=" + d.id + ",OU=" + d.store_id);
    if (local_ca) d.certificate_pem = local_ca->sign_device(key, d.id, d.store_id);
    d.rest = compress_rest(report_rest(d.id, d.store_id, i));
  }
  const double keygen_seconds = std::chrono::duration<double>(LoadClock::now() - started).count();

  // The spliced gzip member must inflate to exactly the document (see console_load_report.hpp).
  {
    GzipSplicer splicer;
    const std::string prefix = report_prefix("00000000-0000-4000-8000-000000000000", "2026-11-26T00:00:00Z");
    std::string error;
    const auto inflated = transport::gzip_decompress(splicer.body(prefix, devices[0].rest), 1u << 24, error);
    const std::string expected = prefix + report_rest(devices[0].id, devices[0].store_id, 0);
    if (!inflated || *inflated != expected || !nlohmann::json::accept(expected))
      fail_setup("the spliced gzip body does not inflate to the report: " + error);
    std::printf("console_load_bench: report %zu bytes of JSON, %zu gzip-compressed, %zu checks\n", expected.size(),
                splicer.body(prefix, devices[0].rest).size(), kSimulatedChecks.size());
  }

  LoadPlan plan;
  plan.connections = options.connections;
  plan.duration = options.duration;
  plan.reports_per_device = options.reports_per_device;
  plan.reports_per_connection = options.reports_per_connection;
  const std::string mode = plan.duration.count() > 0
                               ? std::to_string(plan.duration.count() / 1000) + " s per target"
                               : std::to_string(plan.reports_per_device) + " reports per device, one connection each";
  std::printf("console_load_bench: %zu devices, %zu connections, %s; generator: 1 thread, sharing the %u cores\n",
              devices.size(), std::min(plan.connections, devices.size()), mode.c_str(),
              std::thread::hardware_concurrency());
  std::printf("key pairs and CSRs for %zu devices made in %.2f s (the generator's own work)\n", devices.size(),
              keygen_seconds);

  std::vector<Row> rows;
  bool failed = false;
  std::string ca_pem;
  fs::path ca_file, server_cert, server_key;

  if (!options.console.empty()) {
#if !POSTURED_LOAD_HAS_STORAGE
    fail_setup("built without console_storage: cannot verify what the console stored");
#else
    ConsoleUnderTest console(options.console, scratch / "console");
    fs::create_directories(scratch / "console");
    struct Backend {
      std::string label, url;
    };
    std::vector<Backend> backends;
    if (options.sqlite) backends.push_back({"console (sqlite)", ""});
    if (!options.pg_url.empty()) backends.push_back({"console (postgresql)", options.pg_url});
    bool ca_made = false;
    for (const auto& backend : backends) {
      console.configure(backend.url);
      if (!ca_made) {
        console.initialise_ca();
        ca_made = true;
        ca_file = console.ca_dir() / "ca.crt";
        server_cert = console.ca_dir() / "server.crt";
        server_key = console.ca_dir() / "server.key";
        ca_pem = read_file(ca_file);
      }
      std::unordered_map<std::string, std::string> tokens;
      std::map<std::string, std::size_t> per_store;
      for (const auto& d : devices) ++per_store[d.store_id];
      for (const auto& [store, count] : per_store) tokens[store] = console.create_token(store, count);
      console.start();
      started = LoadClock::now();
      const std::size_t enroll_errors = Enrollment(devices, ca_pem, console.port(), tokens).run();
      const double enroll_seconds = std::chrono::duration<double>(LoadClock::now() - started).count();
      std::printf("%s: enrolled %zu devices through POST /v1/enroll in %.2f s (%.0f/s), %zu errors\n",
                  backend.label.c_str(), devices.size() - enroll_errors, enroll_seconds,
                  static_cast<double>(devices.size()) / enroll_seconds, enroll_errors);
      if (enroll_errors) fail_setup("enrollment failed; the console's log: " + (scratch / "console").string());
      Row row = measure(backend.label, devices, ca_pem, {backend.label, console.port(), true}, console.pid(), plan,
                        !backend.url.empty());
      const std::string url = backend.url.empty() ? console.sqlite_url() : backend.url;
      row.verification = verify_storage(url, devices, row.result.ledgers);
      console.stop();
      rows.push_back(std::move(row));
    }
#endif
  }

  if (local_ca) {
    ca_pem = local_ca->ca_pem();
    ca_file = scratch / "ca.crt";
    server_cert = scratch / "server.crt";
    server_key = scratch / "server.key";
    write_file(ca_file, ca_pem);
    write_file(server_cert, local_ca->server_pem());
    write_file(server_key, local_ca->server_key_pem());
    std::printf("no --console: devices signed by a local CA; nginx only\n");
  }

  if (options.nginx) {
    NginxCeiling nginx(scratch / "nginx", ca_file, server_cert, server_key);
    rows.push_back(
        measure("nginx (204, no work)", devices, ca_pem, {"nginx", nginx.port(), false}, nginx.pid(), plan, false));
  }

  std::printf("\n%-22s %9s %10s %8s %8s %7s %6s %6s %9s %9s  %s\n", "target", "reports", "reports/s", "p50 ms",
              "p99 ms", "errors", "503s", "conns", "srv cpu", "gen cpu", "TLS");
  std::printf("(cpu: CPU seconds per 1000 reports, the server's processes and the generator's)\n");
  for (auto& row : rows) {
    print_row(row);
    if (row.result.errors || row.result.duplicate_answers || row.result.acknowledged == 0) failed = true;
  }
  const Row* ceiling = nullptr;
  for (const auto& row : rows)
    if (row.label.rfind("nginx", 0) == 0) ceiling = &row;
  if (ceiling && ceiling->result.reports_per_second() > 0) {
    for (const auto& row : rows) {
      if (&row == ceiling) continue;
      std::printf("ratio %s / nginx: %.2f\n", row.label.c_str(),
                  row.result.reports_per_second() / ceiling->result.reports_per_second());
    }
  }
  for (const auto& row : rows) {
    if (!row.verification) continue;
    const auto& v = *row.verification;
    std::printf(
        "verified %s: %zu acknowledged, %zu stored, %zu lost, %zu duplicated, %zu unexpected, "
        "%zu unanswered but stored -> %s\n",
        row.label.c_str(), v.acknowledged, v.stored, v.lost, v.duplicated, v.unexpected, v.unconfirmed_stored,
        v.ok() ? "ok" : "FAILED");
    if (!v.ok()) failed = true;
  }

  if (options.keep) {
    std::printf("kept %s\n", scratch.c_str());
  } else {
    std::error_code ec;
    fs::remove_all(scratch, ec);
  }
  return failed ? 1 : 0;
}
