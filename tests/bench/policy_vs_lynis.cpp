// Benchmark: the shipped hardening policy (config/policies/pos-linux-baseline.toml) against
// `lynis audit system --quick`, in the same run. Prints the policy's time in process (load, parse
// and run every check on this machine) and through `posturectl doctor --json` with a config that
// lists only that policy, then Lynis's, and the ratios. Target (issue 5): a fraction of Lynis's time.
// Not a timed test: it reports, it does not judge, except that every run must succeed.
//
//   policy_vs_lynis --posturectl build/bin/posturectl --policy config/policies/pos-linux-baseline.toml [--rounds 20]
//   [--small]
// --small runs Lynis on only the tests that look at what the policy looks at, so CI proves the bench works fast.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/host.hpp"
#include "policy/policy_checks.hpp"

namespace {

struct Measured {
  double seconds = 0;
  long peak_rss_kib = 0;
  int exit_code = -1;
};

// Runs argv with stdout and stderr sent to /dev/null; wall time and the child's peak RSS (wait4).
Measured measure(const std::vector<std::string>& argv) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  Measured m;
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m.peak_rss_kib = usage.ru_maxrss;
  m.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return m;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Loads the policy and runs each of its checks on this machine, as one doctor run does; seconds.
double run_policy_in_process(const std::filesystem::path& policy, std::size_t& checks_run) {
  const auto start = std::chrono::steady_clock::now();
  const auto loaded = postured::policy::load_policy_checks({policy}, {}, postured::policy::command_runner_for("/"));
  const auto host = postured::open_host("/");
  const postured::Context context{*host, std::chrono::system_clock::now()};
  for (const auto& check : loaded.checks) (void)check->run(context);
  checks_run = loaded.checks.size();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string posturectl = "posturectl";
  std::filesystem::path policy = "config/policies/pos-linux-baseline.toml";
  int rounds = 20;
  bool small = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--posturectl" && i + 1 < argc)
      posturectl = argv[++i];
    else if (arg == "--policy" && i + 1 < argc)
      policy = argv[++i];
    else if (arg == "--rounds" && i + 1 < argc)
      rounds = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--small")
      small = true;
    else {
      std::fprintf(stderr, "usage: %s --posturectl PATH --policy FILE [--rounds N] [--small]\n", argv[0]);
      return 2;
    }
  }
  if (small) rounds = std::min(rounds, 3);
  policy = std::filesystem::absolute(policy);
  const auto check = postured::policy::load_policy_file(policy);
  if (!check.policy) {
    for (const auto& e : check.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    return 3;
  }

  // doctor with a config of its own, so that the host's /etc/postured does not add or disable checks.
  const auto config =
      std::filesystem::temp_directory_path() / ("policy_vs_lynis-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(config) << "[agent]\nstore_id = \"bench\"\n[checks]\npolicies = [\"" << policy.string() << "\"]\n";

  std::vector<double> in_process, doctor;
  long doctor_rss = 0;
  std::size_t checks_run = 0;
  for (int i = 0; i < rounds; ++i) {
    in_process.push_back(run_policy_in_process(policy, checks_run));
    const auto m = measure({posturectl, "doctor", "--json", "--config", config.string()});
    // doctor exits 1 when a check fails: that is a result, not a broken run.
    if (m.exit_code != 0 && m.exit_code != 1) {
      std::fprintf(stderr, "posturectl doctor failed with exit code %d\n", m.exit_code);
      std::filesystem::remove(config);
      return 3;
    }
    doctor.push_back(m.seconds);
    doctor_rss = std::max(doctor_rss, m.peak_rss_kib);
  }
  std::filesystem::remove(config);

  // Lynis tests on what the policy looks at: accounts, SSH, sysctl, file permissions, time, USB,
  // logging, packages.
  const std::string matching =
      "AUTH-9230 AUTH-9286 AUTH-9328 SSH-7408 KRNL-6000 FILE-7524 TIME-3104 USB-1000 LOGG-2190 PKGS-7420";
  std::vector<std::string> lynis{"lynis", "audit", "system", "--quick", "--no-colors", "--no-log"};
  if (small) lynis.insert(lynis.end(), {"--tests", matching});
  const auto peer = measure(lynis);
  if (peer.exit_code == 127) {
    std::fprintf(stderr, "lynis is not installed (scripts/bootstrap installs it)\n");
    return 3;
  }

  const double policy_time = median(in_process), doctor_time = median(doctor);
  std::printf("policy_vs_lynis (%s)\n", small ? "small: Lynis limited to the matching tests" : "full");
  std::printf("  policy in process (%zu checks)          median %8.2f ms over %d runs\n", checks_run,
              policy_time * 1000, rounds);
  std::printf("  posturectl doctor --json (compiled + policy) median %8.1f ms, peak RSS %6.1f MiB\n",
              doctor_time * 1000, static_cast<double>(doctor_rss) / 1024);
  std::printf("  lynis audit system --quick                     %8.1f ms (1 run), peak RSS %6.1f MiB\n",
              peer.seconds * 1000, static_cast<double>(peer.peak_rss_kib) / 1024);
  std::printf("  ratio policy/lynis = 1/%.0f, doctor/lynis = 1/%.0f\n", peer.seconds / policy_time,
              peer.seconds / doctor_time);
  return 0;
}
