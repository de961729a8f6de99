// Benchmark (issue 4): `posturectl scan FILE --json` on a generated log corpus in the page cache,
// against `grep -cE` with a PAN-shaped regex (candidates only, no Luhn check) and against
// `cat FILE > /dev/null`, in the same run. Prints each one's MB/s and the two ratios the issue asks
// for: scan/grep (target: above 1, faster than grep) and scan/cat (target: at least 0.5). Not a timed
// test: it reports, it does not judge, except that every command must run.
//
//   scan_vs_grep --posturectl build/bin/posturectl [--size-mib 1024] [--rounds 3] [--small] [--dir DIR]
// --small is a 16 MiB corpus and one round, so that CI proves the bench works in seconds.
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

#include "support/pan_corpus.hpp"

namespace {

// The PAN-shaped regex: 13-19 digits with optional single space or dash separators.
constexpr const char* kRegex = "[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{1,7}";
// About this many card numbers or tracks per MiB: a log that leaks a few, among digits everywhere.
constexpr std::size_t kPansPerMib = 4;
// The nice value posturectl scan gives itself; the baselines run at the same one so none is favoured.
constexpr int kScanNice = 10;

struct Measured {
  double seconds = 0;
  long peak_rss_kib = 0;
  int exit_code = -1;
};

// Runs argv with stdout sent to `out` and stderr to /dev/null; wall time and the child's peak RSS.
Measured measure(const std::vector<std::string>& argv, const std::string& out = "/dev/null") {
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int stdout_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(stdout_fd, 1);
    ::dup2(null, 2);
    ::setenv("LC_ALL", "C", 1);  // grep's fastest mode: bytes, not UTF-8 characters
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

struct Corpus {
  std::uint64_t bytes = 0, lines = 0, planted = 0;
};

// Log-like lines with digits everywhere (timestamps, ids, amounts, IBANs, barcodes, near-miss numbers)
// and a few card numbers and tracks per MiB, up to `target` bytes (whole lines only).
Corpus write_corpus(const std::filesystem::path& path, std::uint64_t target) {
  postured::test::PanCorpus generator(20261125);
  const std::size_t lines_per_pan = (1u << 20) / 70 / kPansPerMib;  // lines average about 70 bytes
  std::ofstream out(path, std::ios::binary);
  std::string buffer;
  Corpus corpus;
  for (;;) {
    auto line = generator.below(lines_per_pan) == 0 ? generator.pan_line() : generator.decoy_line();
    if (corpus.bytes + buffer.size() + line.text.size() + 1 > target) break;
    buffer += line.text;
    buffer += '\n';
    ++corpus.lines;
    corpus.planted += line.truth.size();
    if (buffer.size() >= (1u << 20)) {
      out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      corpus.bytes += buffer.size();
      buffer.clear();
    }
  }
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  corpus.bytes += buffer.size();
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
  return corpus;
}

// Reads the file once so that every measured command finds it in the page cache.
void warm(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  std::vector<char> buffer(1 << 20);
  while (::read(fd, buffer.data(), buffer.size()) > 0) {
  }
  ::close(fd);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string posturectl = "posturectl";
  std::uint64_t size_mib = 1024;
  int rounds = 3;
  bool small = false;
  std::filesystem::path dir = std::filesystem::temp_directory_path();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--posturectl" && i + 1 < argc)
      posturectl = argv[++i];
    else if (arg == "--size-mib" && i + 1 < argc)
      size_mib = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--rounds" && i + 1 < argc)
      rounds = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else if (arg == "--small")
      small = true;
    else {
      std::fprintf(stderr, "usage: %s --posturectl PATH [--size-mib N] [--rounds N] [--small] [--dir DIR]\n", argv[0]);
      return 2;
    }
  }
  if (small) size_mib = 16, rounds = 1;
  ::setpriority(PRIO_PROCESS, 0, kScanNice);  // inherited by every command measured

  std::string pattern = (dir / "postured-scan-bench-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) {
    std::perror("mkdtemp");
    return 3;
  }
  const std::filesystem::path work = pattern;
  const auto file = work / "corpus.log";
  const auto config = work / "postured.toml";
  const auto grep_out = work / "grep.out";
  const std::uint64_t target = size_mib << 20;
  // Its own config, so that the host's /etc/postured does not decide the size limit or the test cards.
  std::ofstream(config) << "[agent]\nstore_id = \"bench\"\n[scan]\nmax_file_bytes = " << target << "\n";

  int status = 0;
  try {
    const auto generate_start = std::chrono::steady_clock::now();
    const auto corpus = write_corpus(file, target);
    const double generate_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - generate_start).count();
    warm(file);

    std::vector<double> scan_times, grep_times, cat_times;
    long scan_rss = 0;
    int scan_exit = 0;
    std::string grep_count;
    for (int round = 0; round < rounds && status == 0; ++round) {
      // posturectl exits 1 when it finds something (the corpus has PANs): a result, not a failure.
      const auto scan = measure({posturectl, "scan", file.string(), "--json", "--config", config.string()});
      const auto grep = measure({"grep", "-cE", kRegex, file.string()}, grep_out.string());
      const auto cat = measure({"cat", file.string()});
      if (scan.exit_code != 0 && scan.exit_code != 1) {
        std::fprintf(stderr, "posturectl scan failed with exit code %d\n", scan.exit_code);
        status = 3;
      } else if (grep.exit_code > 1 || cat.exit_code != 0) {
        std::fprintf(stderr, "grep or cat failed (exit codes %d, %d)\n", grep.exit_code, cat.exit_code);
        status = 3;
      }
      scan_times.push_back(scan.seconds);
      grep_times.push_back(grep.seconds);
      cat_times.push_back(cat.seconds);
      scan_rss = std::max(scan_rss, scan.peak_rss_kib);
      scan_exit = scan.exit_code;
    }
    std::getline(std::ifstream(grep_out), grep_count);

    if (status == 0) {
      const double mb = static_cast<double>(corpus.bytes) / 1e6;
      const double scan = median(scan_times), grep = median(grep_times), cat = median(cat_times);
      std::printf("scan_vs_grep (%s: %llu MiB, %d round%s, median; all at nice %d, file in the page cache)\n",
                  small ? "small" : "full", static_cast<unsigned long long>(size_mib), rounds, rounds == 1 ? "" : "s",
                  kScanNice);
      std::printf("  corpus: %llu bytes, %llu lines, %llu PANs and tracks planted (generated in %.1f s)\n",
                  static_cast<unsigned long long>(corpus.bytes), static_cast<unsigned long long>(corpus.lines),
                  static_cast<unsigned long long>(corpus.planted), generate_seconds);
      std::printf("  posturectl scan --json  %8.3f s  %8.1f MB/s  peak RSS %.1f MiB, exit %d (%s)\n", scan, mb / scan,
                  static_cast<double>(scan_rss) / 1024, scan_exit, scan_exit == 1 ? "found" : "nothing found");
      std::printf("  grep -cE (LC_ALL=C)     %8.3f s  %8.1f MB/s  %s candidate lines\n", grep, mb / grep,
                  grep_count.c_str());
      std::printf("  cat > /dev/null         %8.3f s  %8.1f MB/s\n", cat, mb / cat);
      std::printf("  ratio scan/grep = %.2f (target: above 1, faster than grep)\n", grep / scan);
      std::printf("  ratio scan/cat  = %.2f (target: at least 0.5 of cat's speed)\n", cat / scan);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scan_vs_grep: %s\n", e.what());
    status = 3;
  }
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  return status;
}
