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

#include "kernel_reboot/dpkg_version.hpp"

using postured::checks::compare_dpkg_versions;

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

TEST_CASE("dpkg version ordering on known pairs", "[kernel_reboot][dpkg_version]") {
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

TEST_CASE("dpkg version ordering agrees with dpkg --compare-versions", "[kernel_reboot][dpkg_version]") {
  if (::access("/usr/bin/dpkg", X_OK) != 0) SKIP("/usr/bin/dpkg is not installed");

  std::mt19937 rng(20240601);  // fixed seed: the same pairs on every run
  std::vector<std::pair<std::string, std::string>> pairs;
  while (pairs.size() < 300) {
    auto a = random_version(rng);
    auto b = pairs.size() % 2 == 0 ? random_version(rng) : mutate(a, rng);
    pairs.emplace_back(std::move(a), std::move(b));
  }

  // One shell runs dpkg for every pair: "lt-status gt-status" per line (0 true, 1 false, 2 error).
  const auto input = std::filesystem::temp_directory_path() / ("postured-dpkg-pairs-" + std::to_string(::getpid()));
  {
    std::ofstream out(input);
    for (const auto& [a, b] : pairs) out << a << ' ' << b << '\n';
  }
  const auto script =
      "while read a b; do /usr/bin/dpkg --compare-versions \"$a\" lt \"$b\" 2>/dev/null; lt=$?; "
      "/usr/bin/dpkg --compare-versions \"$a\" gt \"$b\" 2>/dev/null; echo \"$lt $?\"; done < '" +
      input.string() + "'";
  FILE* pipe = ::popen(script.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::vector<int> oracle;
  int lt = 0, gt = 0;
  while (std::fscanf(pipe, "%d %d", &lt, &gt) == 2) {
    REQUIRE(lt != 2);
    REQUIRE(gt != 2);
    oracle.push_back(lt == 0 ? -1 : gt == 0 ? 1 : 0);
  }
  const int status = ::pclose(pipe);
  std::filesystem::remove(input);
  REQUIRE(WIFEXITED(status));
  REQUIRE(oracle.size() == pairs.size());

  int equal = 0, less = 0, greater = 0;
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    INFO(pairs[k].first << " vs " << pairs[k].second);
    CHECK(sign(compare_dpkg_versions(pairs[k].first, pairs[k].second)) == oracle[k]);
    (oracle[k] == 0 ? equal : oracle[k] < 0 ? less : greater)++;
  }
  // The generated pairs must exercise every outcome, or the agreement proves little.
  CHECK(equal > 0);
  CHECK(less > 50);
  CHECK(greater > 50);
}
