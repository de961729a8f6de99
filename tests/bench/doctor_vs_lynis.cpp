// Benchmark: `posturectl doctor --json` against `lynis audit system --quick`, in the same run.
// Prints wall time and peak RSS of each and the ratio; targets (issue 2): doctor < 1/100 of Lynis's
// time, doctor's peak RSS < 16 MiB. Not a timed test: it reports, it does not judge, except that
// every run must succeed.
//
//   doctor_vs_lynis --posturectl build/bin/posturectl [--rounds 20] [--small]
// --small runs Lynis on only the tests that match doctor's checks, so CI proves the bench works fast.
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

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

}  // namespace

int main(int argc, char** argv) {
  std::string posturectl = "posturectl";
  int rounds = 20;
  bool small = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--posturectl" && i + 1 < argc) posturectl = argv[++i];
    else if (arg == "--rounds" && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--small") small = true;
    else {
      std::fprintf(stderr, "usage: %s --posturectl PATH [--rounds N] [--small]\n", argv[0]);
      return 2;
    }
  }
  if (small) rounds = std::min(rounds, 3);

  // Lynis tests that look at what doctor's checks look at: SSH, reboot, firewall, USB, time, updates, audit.
  const std::string matching = "SSH-7408 KRNL-5830 FIRE-4512 FIRE-4513 USB-1000 TIME-3104 PKGS-7420 ACCT-9628";
  std::vector<std::string> lynis{"lynis", "audit", "system", "--quick", "--no-colors", "--no-log"};
  if (small) lynis.insert(lynis.end(), {"--tests", matching});

  std::vector<double> doctor_times;
  long doctor_rss = 0;
  for (int i = 0; i < rounds; ++i) {
    const auto m = measure({posturectl, "doctor", "--json"});
    // doctor exits 1 when a check fails: that is a result, not a broken run.
    if (m.exit_code != 0 && m.exit_code != 1) {
      std::fprintf(stderr, "posturectl doctor failed with exit code %d\n", m.exit_code);
      return 3;
    }
    doctor_times.push_back(m.seconds);
    doctor_rss = std::max(doctor_rss, m.peak_rss_kib);
  }
  std::sort(doctor_times.begin(), doctor_times.end());
  const double doctor = doctor_times[doctor_times.size() / 2];

  const auto peer = measure(lynis);
  if (peer.exit_code == 127) {
    std::fprintf(stderr, "lynis is not installed (scripts/bootstrap installs it)\n");
    return 3;
  }

  std::printf("doctor_vs_lynis (%s)\n", small ? "small: Lynis limited to the matching tests" : "full");
  std::printf("  posturectl doctor --json   median %8.1f ms over %d runs, peak RSS %6.1f MiB (target < 16 MiB)\n",
              doctor * 1000, rounds, static_cast<double>(doctor_rss) / 1024);
  std::printf("  lynis audit system --quick        %8.1f ms (1 run), peak RSS %6.1f MiB\n", peer.seconds * 1000,
              static_cast<double>(peer.peak_rss_kib) / 1024);
  std::printf("  ratio doctor/lynis = 1/%.0f (target: below 1/100)\n", peer.seconds / doctor);
  return 0;
}
