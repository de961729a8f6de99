// Benchmark: the agent's dpkg inventory (read and parse /var/lib/dpkg/status through Host) against
// `dpkg-query -W -f '${Package} ${Version}\n'`, alternating in the same run. Prints the median wall
// time of each and the ratio; target (issue 5): at least 5x faster than dpkg-query. It reports, it
// does not judge, except that every run must succeed and both must see packages.
//
//   inventory_bench [--rounds 50] [--small]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/host.hpp"
#include "patch/inventory.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Runs dpkg-query and reads all of its output, as a caller that wanted the list would; the number of lines.
long dpkg_query_lines() {
  int out[2];
  if (::pipe(out) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::close(out[1]);
    ::execlp("dpkg-query", "dpkg-query", "-W", "-f", "${Package} ${Version}\n", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  long lines = 0;
  char buffer[65536];
  for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) lines += std::count(buffer, buffer + n, '\n');
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? lines : -1;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 50;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--small") {
      rounds = 3;
    } else {
      std::fprintf(stderr, "usage: %s [--rounds N] [--small]\n", argv[0]);
      return 2;
    }
  }
  const auto host = postured::open_host("/");
  if (!host->exists(postured::patch::kDpkgStatusPath)) {
    std::printf("inventory_bench: no %s here, nothing to measure\n", postured::patch::kDpkgStatusPath);
    return 0;
  }

  std::vector<double> ours, theirs;
  std::size_t packages = 0;
  long listed = 0;
  for (int round = 0; round < rounds; ++round) {
    auto start = Clock::now();
    const auto read = postured::patch::read_inventory(*host);
    ours.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (!read.inventory) {
      std::fprintf(stderr, "inventory_bench: %s\n", read.error.c_str());
      return 1;
    }
    packages = read.inventory->packages.size();

    start = Clock::now();
    listed = dpkg_query_lines();
    theirs.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (listed <= 0) {
      std::fprintf(stderr, "inventory_bench: dpkg-query failed\n");
      return 1;
    }
  }
  const double a = median(ours), b = median(theirs);
  std::printf("inventory of %s, median of %d rounds each, alternating\n", postured::patch::kDpkgStatusPath, rounds);
  std::printf("  postured  %8.3f ms  %zu installed packages\n", a, packages);
  std::printf("  dpkg-query %7.3f ms  %ld lines (every package dpkg knows, config-files ones too)\n", b, listed);
  std::printf("  ratio: postured is %.1fx faster (target >= 5x)\n", b / a);
  return 0;
}
