#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <algorithm>
#include <set>

#include "patch/dpkg_version.hpp"
#include "patch/inventory.hpp"

using postured::patch::compare_dpkg_versions;

namespace {

int sign(int value) {
  return (value > 0) - (value < 0);
}

// A valid Debian version: digit first, optional epoch and revision, with the characters that matter
// for ordering ('~', '+', '.', letters, digit runs with leading zeros).
std::string random_version(std::mt19937& rng) {
  const auto pick = [&rng](std::string_view from) {
    return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(rng)];
  };
  const auto chance = [&rng](int percent) { return std::uniform_int_distribution<int>(0, 99)(rng) < percent; };
  std::string version;
  if (chance(20)) version += std::string(1, pick("0012")) + ":";
  version += pick("0123456789");
  const auto upstream_length = std::uniform_int_distribution<int>(0, 7)(rng);
  for (int k = 0; k < upstream_length; ++k) version += pick("000123456789.+~aazAZ");
  if (chance(60)) {
    version += '-';
    version += pick("0123456789abz.+~");
    const auto revision_length = std::uniform_int_distribution<int>(0, 4)(rng);
    for (int k = 0; k < revision_length; ++k) version += pick("00123456789abz.+~");
  }
  return version;
}

// A small edit of `version`, so that pairs are close enough to exercise the tie-breaking rules.
std::string mutate(std::string version, std::mt19937& rng) {
  static const std::vector<std::string> suffixes = {"~", "~rc1", "~~", ".0", "0", "a", "+b1", "~bpo12+1", "+deb12u1"};
  const auto upstream_end = [&version] {
    const auto hyphen = version.rfind('-');
    return hyphen == std::string::npos ? version.size() : hyphen;
  };
  switch (std::uniform_int_distribution<int>(0, 4)(rng)) {
    case 0:
      version.insert(upstream_end(), suffixes[std::uniform_int_distribution<std::size_t>(0, suffixes.size() - 1)(rng)]);
      break;
    case 1: version += suffixes[std::uniform_int_distribution<std::size_t>(0, suffixes.size() - 1)(rng)]; break;
    case 2: {
      // Change the last digit up or down.
      const auto digit = version.find_last_of("0123456789");
      if (digit != std::string::npos)
        version[digit] = version[digit] == '9' ? '8' : static_cast<char>(version[digit] + 1);
      break;
    }
    case 3:
      version.insert(version.find(':') == std::string::npos ? 0 : version.find(':') + 1, "0");  // a leading zero
      break;
    default:
      version = version.find(':') == std::string::npos ? "1:" + version : version.substr(version.find(':') + 1);
      break;
  }
  return version;
}

}  // namespace

TEST_CASE("dpkg version ordering on known pairs", "[patch][dpkg_version]") {
  // {a, b, expected sign of compare(a, b)}; from deb-version(7) and dpkg's own test suite.
  const std::vector<std::tuple<std::string, std::string, int>> pairs = {
      {"1.0", "1.0", 0},
      {"1.0-0", "1.0", 0},  // an empty revision equals "0"
      {"0:1.0", "1.0", 0},
      {"1.001", "1.1", 0},  // digit runs compare numerically
      {"1:1.0", "2.0", 1},  // the epoch decides first
      {"1:0.4", "10.3", 1},
      {"1.10", "1.9", 1},
      {"1.0~rc1", "1.0", -1},  // '~' sorts before the end of the part
      {"1.0~~", "1.0~~a", -1},
      {"1.0~~a", "1.0~", -1},
      {"1.0~", "1.0", -1},
      {"1.0", "1.0a", -1},   // the end sorts before a letter
      {"1.0a", "1.0+", -1},  // letters sort before non-letters
      {"1.0+", "1.0.", -1},  // non-letters by ASCII
      {"1.0A", "1.0a", -1},  // letters by ASCII
      {"2.6.32-5", "2.6.32-48squeeze1", -1},
      {"6.1.0-18", "6.1.0-20", -1},
      {"6.1.76-1", "6.1.90-1", -1},
      {"6.1.76-1", "6.1.76-1+deb12u1", -1},
      {"6.5.10-1~bpo12+1", "6.5.10-1", -1},
      {"1.2.3-1", "1.2.3-1.1", -1},
      {"7.6p2-4", "7.6-0", 1},
      {"1.2-3-4", "1.2-3-5", -1},  // the revision is after the last hyphen
      {"5.15.0-91.101", "5.15.0-101.111", -1},
      {"1:6.6.31-1+rpt1", "1:6.6.20-1+rpt1", 1},
  };
  for (const auto& [a, b, expected] : pairs) {
    INFO(a << " vs " << b);
    CHECK(sign(compare_dpkg_versions(a, b)) == expected);
    CHECK(sign(compare_dpkg_versions(b, a)) == -expected);
  }
}

namespace {

// Versions chosen to hit every rule: epochs, '~' (alone, doubled, at the end), '+', '.', letters
// against digits and non-letters, upper case, leading zeros, revisions (and hyphens inside upstream).
const std::vector<std::string> kTricky = {
    "0", "0:0", "00:0", "1", "1.0", "1.00", "1.0.0", "1..0", "1.0.", "1.0-0", "1.0-0.0", "1.0-1", "1.0-1~",
    "1.0~", "1.0~~", "1.0~~a", "1.0~a", "1.0~rc1", "1.0~rc1-1", "1.0a", "1.0A", "1.0+", "1.0+a", "1.0.a", "1.0a0",
    "1.0-a", "1.0-+", "1:0.1", "2:0", "10:0~", "1.01", "1.001", "1.1", "1.10", "1.9", "1.0-1-1", "1.0-1-2",
    "1.0+dfsg-1", "1.0+dfsg1-1", "1.0-1+deb12u1", "1.0-1~deb12u1", "1.0-1+b1", "9.2p1-2", "9.2-2", "3.0.11-1~deb12u2"};

// dpkg's verdict on every pair: -1, 0 or 1. Two shells share the pairs, as the machine has two cores.
std::vector<int> dpkg_oracle(const std::vector<std::pair<std::string, std::string>>& pairs) {
  const auto base = std::filesystem::temp_directory_path() / ("postured-dpkg-pairs-" + std::to_string(::getpid()));
  const std::size_t half = pairs.size() / 2;
  std::vector<FILE*> pipes;
  std::vector<std::filesystem::path> inputs;
  for (int part = 0; part < 2; ++part) {
    inputs.push_back(base.string() + "-" + std::to_string(part));
    std::ofstream out(inputs.back());
    for (std::size_t k = part == 0 ? 0 : half; k < (part == 0 ? half : pairs.size()); ++k)
      out << pairs[k].first << ' ' << pairs[k].second << '\n';
    out.close();
    const auto script =
        "while read a b; do if /usr/bin/dpkg --compare-versions \"$a\" lt \"$b\" 2>/dev/null; then echo -1; "
        "elif /usr/bin/dpkg --compare-versions \"$a\" eq \"$b\" 2>/dev/null; then echo 0; "
        "elif /usr/bin/dpkg --compare-versions \"$a\" gt \"$b\" 2>/dev/null; then echo 1; else echo 9; fi; done < '" +
        inputs.back().string() + "'";
    pipes.push_back(::popen(script.c_str(), "r"));
  }
  std::vector<int> oracle;
  for (auto* pipe : pipes) {
    int verdict = 0;
    while (pipe && std::fscanf(pipe, "%d", &verdict) == 1) oracle.push_back(verdict);
    if (pipe) ::pclose(pipe);
  }
  for (const auto& input : inputs) std::filesystem::remove(input);
  return oracle;
}

}  // namespace

TEST_CASE("dpkg version ordering agrees with dpkg --compare-versions on thousands of pairs",
          "[patch][dpkg_version]") {
  if (::access("/usr/bin/dpkg", X_OK) != 0) SKIP("/usr/bin/dpkg is not installed");

  std::vector<std::pair<std::string, std::string>> pairs;
  // 1. Every pair of the tricky versions.
  for (std::size_t i = 0; i < kTricky.size(); ++i)
    for (std::size_t j = i + 1; j < kTricky.size(); ++j) pairs.emplace_back(kTricky[i], kTricky[j]);

  // 2. Every version in this machine's dpkg database (installed or not, binary and source), sorted:
  // each with its neighbour (the closest calls), and as many random pairs.
  std::mt19937 rng(20261126);  // fixed seed: the same pairs on every run
  std::set<std::string> real;
  if (std::ifstream in("/var/lib/dpkg/status"); in) {
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("Version: ")) real.insert(line.substr(9));
      if (line.starts_with("Source: ") && line.find('(') != std::string::npos)
        real.insert(line.substr(line.find('(') + 1, line.find(')') - line.find('(') - 1));
    }
  }
  std::vector<std::string> sorted(real.begin(), real.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return compare_dpkg_versions(a, b) < 0; });
  for (std::size_t k = 1; k < sorted.size(); ++k) pairs.emplace_back(sorted[k - 1], sorted[k]);
  std::uniform_int_distribution<std::size_t> any(0, sorted.empty() ? 0 : sorted.size() - 1);
  for (std::size_t k = 0; k < sorted.size(); ++k) pairs.emplace_back(sorted[any(rng)], sorted[any(rng)]);

  // 3. Generated versions, half of them paired with a small edit of themselves.
  for (int k = 0; k < 1600; ++k) {
    auto a = random_version(rng);
    auto b = k % 2 == 0 ? random_version(rng) : mutate(a, rng);
    pairs.emplace_back(std::move(a), std::move(b));
  }

  const auto oracle = dpkg_oracle(pairs);
  REQUIRE(oracle.size() == pairs.size());
  int disagreements = 0, equal = 0, less = 0, greater = 0;
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    INFO(pairs[k].first << " vs " << pairs[k].second);
    REQUIRE(oracle[k] != 9);  // dpkg refused a version: the generator made an invalid one
    const int ours = sign(compare_dpkg_versions(pairs[k].first, pairs[k].second));
    if (ours != oracle[k]) ++disagreements;
    CHECK(ours == oracle[k]);
    (oracle[k] == 0 ? equal : oracle[k] < 0 ? less : greater)++;
  }
  WARN("dpkg ordering: " << pairs.size() << " pairs (" << sorted.size() << " versions from /var/lib/dpkg/status), "
                         << disagreements << " disagreements; " << less << " less, " << equal << " equal, " << greater
                         << " greater");
  CHECK(disagreements == 0);
  CHECK(pairs.size() >= 3000);
  // The pairs must exercise every outcome, or the agreement proves little.
  CHECK(equal > 20);
  CHECK(less > 500);
  CHECK(greater > 500);
}
