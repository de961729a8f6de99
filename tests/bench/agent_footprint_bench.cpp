// Benchmark (issue 6): what the agent costs a terminal once reporting is on, against a real
// posture-console on loopback.
//   1. idle RSS of the daemon (enrolled, reporting configured, its first report confirmed), read from
//      /proc/PID/status VmRSS after it settles, next to `sleep`'s VmRSS as the baseline;
//   2. a full cycle with its report (`postured --once`: checks, caches, patch, spool, TLS, send): CPU
//      time and peak RSS from wait4(), next to `posturectl doctor --json` (the same checks, no report)
//      in the same run.
//
//   agent_footprint_bench --bin DIR [--rounds 10] [--small]
// DIR holds postured, posturectl and posture-console. --small is 3 rounds and a short settle.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Usage {
  int status = -1;
  double cpu_ms = 0;
  double max_rss_mib = 0;
};

pid_t spawn(const std::vector<std::string>& argv, const std::string& out_file = "/dev/null",
            const std::string& err_file = "/dev/null") {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

Usage wait_usage(pid_t pid) {
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  const auto ms = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ms(usage.ru_utime) + ms(usage.ru_stime),
          usage.ru_maxrss / 1024.0};
}

Usage run(const std::vector<std::string>& argv, const std::string& out_file = "/dev/null") {
  return wait_usage(spawn(argv, out_file));
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// A field of /proc/PID/status in MiB ("VmRSS", "RssAnon", "RssFile"); -1 when the process is gone.
double status_mib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  }
  return -1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int fail(const std::string& why) {
  std::fprintf(stderr, "agent_footprint_bench: %s\n", why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bin;
  int rounds = 10;
  auto settle = 10s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--bin" && i + 1 < argc)
      bin = argv[++i];
    else if (arg == "--rounds" && i + 1 < argc)
      rounds = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--small") {
      rounds = 3;
      settle = 3s;
    } else {
      std::fprintf(stderr, "usage: agent_footprint_bench --bin DIR [--rounds N] [--small]\n");
      return 2;
    }
  }
  if (bin.empty()) return fail("--bin DIR is required");
  std::string pattern = (fs::temp_directory_path() / "postured-footprint-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) return fail("mkdtemp");
  const fs::path dir = pattern;
  struct Cleanup {
    fs::path dir;
    std::vector<pid_t> pids;
    ~Cleanup() {
      for (const auto pid : pids) {
        ::kill(pid, SIGTERM);
        ::waitpid(pid, nullptr, 0);
      }
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir, {}};

  // The console: CA, token, serve on a free port (it prints "(port N" when listening).
  const auto console_toml = dir / "console.toml";
  write_text(console_toml, "[server]\nlisten = \"127.0.0.1:0\"\nnames = [\"127.0.0.1\"]\ndata_dir = \"" +
                               (dir / "console").string() + "\"\n[api]\nlisten = \"127.0.0.1:0\"\n");
  const std::string console = bin + "/posture-console";
  if (run({console, "ca", "init", "--config", console_toml.string()}).status != 0) return fail("ca init failed");
  const auto serve =
      spawn({console, "serve", "--config", console_toml.string()}, "/dev/null", (dir / "serve.err").string());
  cleanup.pids.push_back(serve);
  int port = 0;
  for (int i = 0; i < 200 && port == 0; ++i) {
    std::this_thread::sleep_for(50ms);
    const auto err = read_text(dir / "serve.err");
    if (const auto at = err.find("(port "); at != std::string::npos) port = std::atoi(err.c_str() + at + 6);
  }
  if (port == 0) return fail("posture-console serve did not start: " + read_text(dir / "serve.err"));
  run({console, "token", "create", "--store", "store-7", "--config", console_toml.string()}, (dir / "token").string());

  // The device: enrolled, reporting to the console.
  const auto config = dir / "postured.toml";
  write_text(config, "[agent]\nstore_id = \"store-7\"\ndevice_id = \"bench-device\"\nstate_dir = \"" +
                         (dir / "state").string() + "\"\nruntime_dir = \"" + (dir / "run").string() +
                         "\"\nsocket_group = \"\"\nlog_level = \"warn\"\n[schedule]\njitter = 0\n[console]\nurl = "
                         "\"https://127.0.0.1:" +
                         std::to_string(port) + "\"\nca_file = \"" + (dir / "console" / "ca" / "ca.crt").string() +
                         "\"\n");
  if (run({bin + "/posturectl", "enroll", "--token-file", (dir / "token").string(), "--config", config.string()})
          .status != 0) {
    return fail("posturectl enroll failed");
  }

  // 2. Full cycles with their report, alternating with doctor (the same checks, nothing else).
  std::vector<double> cycle_cpu, cycle_rss, doctor_cpu, doctor_rss;
  for (int i = 0; i < rounds; ++i) {
    const auto cycle = run({bin + "/postured", "--once", "--config", config.string()});
    if (cycle.status != 0 && cycle.status != 1) return fail("postured --once exited " + std::to_string(cycle.status));
    cycle_cpu.push_back(cycle.cpu_ms);
    cycle_rss.push_back(cycle.max_rss_mib);
    const auto doctor = run({bin + "/posturectl", "doctor", "--json", "--config", config.string()});
    doctor_cpu.push_back(doctor.cpu_ms);
    doctor_rss.push_back(doctor.max_rss_mib);
  }
  const auto report_bytes = read_text(dir / "state" / "last-report.json").size();

  // 1. Idle daemon: started, first cycle and report done, then left to settle.
  const auto daemon = spawn({bin + "/postured", "--config", config.string()});
  cleanup.pids.push_back(daemon);
  const auto sleeper = spawn({"/bin/sleep", "600"});
  cleanup.pids.push_back(sleeper);
  std::this_thread::sleep_for(settle);
  const double daemon_rss = status_mib(daemon, "VmRSS");
  const double daemon_anon = status_mib(daemon, "RssAnon");
  const double daemon_file = status_mib(daemon, "RssFile");
  const double sleep_rss = status_mib(sleeper, "VmRSS");
  if (daemon_rss < 0) return fail("postured exited: see its configuration");

  std::printf("agent_footprint_bench: postured against posture-console on loopback, %d rounds (medians)\n", rounds);
  std::printf("report: %zu bytes of JSON\n", report_bytes);
  std::printf("%-46s %8.1f ms CPU  peak RSS %6.1f MiB\n", "full cycle with report (postured --once)", median(cycle_cpu),
              median(cycle_rss));
  std::printf("%-46s %8.1f ms CPU  peak RSS %6.1f MiB\n", "baseline: posturectl doctor --json", median(doctor_cpu),
              median(doctor_rss));
  std::printf("%-46s CPU ratio %.2f   peak RSS ratio %.2f\n", "cycle with report / doctor",
              median(cycle_cpu) / median(doctor_cpu), median(cycle_rss) / median(doctor_rss));
  std::printf("%-46s %6.2f MiB VmRSS (target <= 10 MiB)\n", "idle daemon, enrolled, after the first report",
              daemon_rss);
  std::printf("%-46s %6.2f MiB heap and stacks (RssAnon), %.2f MiB mapped files (RssFile: libraries, shared)\n",
              "  of which", daemon_anon, daemon_file);
  std::printf("%-46s %6.2f MiB VmRSS   ratio %.1f\n", "baseline: sleep", sleep_rss, daemon_rss / sleep_rss);
  return 0;
}
