#include <unistd.h>

#include <catch2/catch_test_macros.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "patch/rpm_version.hpp"

using postured::patch::compare_rpm_versions;
using postured::patch::rpmvercmp;

namespace {

// A version in the alphabet that matters to rpmvercmp: digit and letter runs, leading zeros,
// separators ('.', '_', '+'), '~' and '^'; sometimes with an epoch and a release.
std::string random_rpm_version(std::mt19937& rng, bool evr) {
  const auto pick = [&rng](std::string_view from) {
    return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(rng)];
  };
  const auto chance = [&rng](int percent) { return std::uniform_int_distribution<int>(0, 99)(rng) < percent; };
  const auto part = [&](int max_length) {
    std::string out(1, pick("0123456789abz"));
    const auto length = std::uniform_int_distribution<int>(0, max_length)(rng);
    for (int k = 0; k < length; ++k) out += pick("0001123456789abzAZ.._+~^");
    return out;
  };
  std::string version;
  if (evr && chance(25)) version += std::string(1, pick("0012")) + ":";
  version += part(7);
  if (evr && chance(60)) version += "-" + part(4);
  return version;
}

std::string mutate(std::string version, std::mt19937& rng) {
  static const std::vector<std::string> edits = {"~", "^", "~rc1", "^git1", ".0", "0", "a", ".1", "_1", "+"};
  const auto edit = edits[std::uniform_int_distribution<std::size_t>(0, edits.size() - 1)(rng)];
  const auto hyphen = version.rfind('-');
  const auto at = std::uniform_int_distribution<int>(0, 1)(rng) == 0 || hyphen == std::string::npos ? version.size() : hyphen;
  version.insert(at, edit);
  return version;
}

}  // namespace

TEST_CASE("rpmvercmp on the cases of rpm's own test suite", "[patch][rpm_version]") {
  // From rpm's tests/rpmvercmp.at: {a, b, rpmvercmp(a, b)}.
  const std::vector<std::tuple<std::string, std::string, int>> cases = {
      {"1.0", "1.0", 0}, {"1.0", "2.0", -1}, {"2.0", "1.0", 1}, {"2.0.1", "2.0.1", 0}, {"2.0", "2.0.1", -1},
      {"2.0.1", "2.0", 1}, {"2.0.1a", "2.0.1a", 0}, {"2.0.1a", "2.0.1", 1}, {"2.0.1", "2.0.1a", -1},
      {"5.5p1", "5.5p1", 0}, {"5.5p1", "5.5p2", -1}, {"5.5p2", "5.5p1", 1}, {"5.5p10", "5.5p10", 0},
      {"5.5p1", "5.5p10", -1}, {"5.5p10", "5.5p1", 1}, {"10xyz", "10.1xyz", -1}, {"10.1xyz", "10xyz", 1},
      {"xyz10", "xyz10", 0}, {"xyz10", "xyz10.1", -1}, {"xyz10.1", "xyz10", 1}, {"xyz.4", "xyz.4", 0},
      {"xyz.4", "8", -1}, {"8", "xyz.4", 1}, {"xyz.4", "2", -1}, {"2", "xyz.4", 1}, {"5.5p2", "5.6p1", -1},
      {"5.6p1", "5.5p2", 1}, {"5.6p1", "6.5p1", -1}, {"6.5p1", "5.6p1", 1}, {"6.0.rc1", "6.0", 1},
      {"6.0", "6.0.rc1", -1}, {"10b2", "10a1", 1}, {"10a2", "10b2", -1}, {"1.0aa", "1.0aa", 0},
      {"1.0a", "1.0aa", -1}, {"1.0aa", "1.0a", 1}, {"10.0001", "10.0001", 0}, {"10.0001", "10.1", 0},
      {"10.1", "10.0001", 0}, {"10.0001", "10.0039", -1}, {"10.0039", "10.0001", 1}, {"4.999.9", "5.0", -1},
      {"5.0", "4.999.9", 1}, {"20101121", "20101121", 0}, {"20101121", "20101122", -1}, {"20101122", "20101121", 1},
      {"2_0", "2_0", 0}, {"2.0", "2_0", 0}, {"2_0", "2.0", 0}, {"a", "a", 0}, {"a+", "a+", 0}, {"a+", "a_", 0},
      {"a_", "a+", 0}, {"+a", "+a", 0}, {"+a", "_a", 0}, {"_a", "+a", 0}, {"+_", "+_", 0}, {"_+", "+_", 0},
      {"_+", "_+", 0}, {"+", "_", 0}, {"_", "+", 0}, {"1.0~rc1", "1.0~rc1", 0}, {"1.0~rc1", "1.0", -1},
      {"1.0", "1.0~rc1", 1}, {"1.0~rc1", "1.0~rc2", -1}, {"1.0~rc2", "1.0~rc1", 1},
      {"1.0~rc1~git123", "1.0~rc1~git123", 0}, {"1.0~rc1~git123", "1.0~rc1", -1}, {"1.0~rc1", "1.0~rc1~git123", 1},
      {"1.0^", "1.0^", 0}, {"1.0^", "1.0", 1}, {"1.0", "1.0^", -1}, {"1.0^git1", "1.0^git1", 0},
      {"1.0^git1", "1.0", 1}, {"1.0", "1.0^git1", -1}, {"1.0^git1", "1.0^git2", -1}, {"1.0^git2", "1.0^git1", 1},
      {"1.0^git1", "1.01", -1}, {"1.01", "1.0^git1", 1}, {"1.0^20160101", "1.0^20160101", 0},
      {"1.0^20160101", "1.0.1", -1}, {"1.0.1", "1.0^20160101", 1}, {"1.0^20160101^git1", "1.0^20160101^git1", 0},
      {"1.0^20160102", "1.0^20160101^git1", 1}, {"1.0^20160101^git1", "1.0^20160102", -1},
      {"1.0~rc1^git1", "1.0~rc1^git1", 0}, {"1.0~rc1^git1", "1.0~rc1", 1}, {"1.0~rc1", "1.0~rc1^git1", -1},
      {"1.0^git1~pre", "1.0^git1~pre", 0}, {"1.0^git1", "1.0^git1~pre", 1}, {"1.0^git1~pre", "1.0^git1", -1},
      {"1b.fc17", "1b.fc17", 0}, {"1b.fc17", "1.fc17", -1}, {"1.fc17", "1b.fc17", 1}, {"1g.fc17", "1g.fc17", 0},
      {"1g.fc17", "1.fc17", 1}, {"1.fc17", "1g.fc17", -1},
  };
  for (const auto& [a, b, expected] : cases) {
    INFO(a << " vs " << b);
    CHECK(rpmvercmp(a, b) == expected);
  }
}

TEST_CASE("rpm epoch:version-release ordering", "[patch][rpm_version]") {
  CHECK(compare_rpm_versions("1:1.0-1", "2.0-1") == 1);  // the epoch decides first
  CHECK(compare_rpm_versions("0:1.0-1", "1.0-1") == 0);  // a missing epoch is 0
  CHECK(compare_rpm_versions("3.0.7-27.el9", "3.0.7-24.el9_2") == 1);
  CHECK(compare_rpm_versions("3.0.7-27.el9", "3.0.7") == 1);  // a missing release sorts first, as rpm.vercmp() does
  CHECK(compare_rpm_versions("2.34-60.el9", "2.34-100.el9") == -1);
}

TEST_CASE("rpm ordering agrees with rpm's own rpm.vercmp() on thousands of pairs", "[patch][rpm_version]") {
  if (::access("/usr/bin/rpm", X_OK) != 0) SKIP("/usr/bin/rpm is not installed");
  std::mt19937 rng(20261126);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int k = 0; k < 4000; ++k) {
    const bool evr = k % 4 != 0;  // a quarter plain versions: rpmvercmp alone
    auto a = random_rpm_version(rng, evr);
    auto b = k % 2 == 0 ? random_rpm_version(rng, evr) : mutate(a, rng);
    pairs.emplace_back(std::move(a), std::move(b));
  }
  const auto input = std::filesystem::temp_directory_path() / ("postured-rpm-pairs-" + std::to_string(::getpid()));
  {
    std::ofstream out(input);
    for (const auto& [a, b] : pairs) out << a << ' ' << b << '\n';
  }
  // One rpm process runs every comparison through its embedded Lua.
  const auto command = "/usr/bin/rpm --eval \"%{lua: for l in io.lines('" + input.string() +
                       "') do local a, b = l:match('^(%S+) (%S+)$'); io.write(rpm.vercmp(a, b), '\\n') end}\"";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::vector<int> oracle;
  int verdict = 0;
  while (std::fscanf(pipe, "%d", &verdict) == 1) oracle.push_back(verdict);
  ::pclose(pipe);
  std::filesystem::remove(input);
  REQUIRE(oracle.size() == pairs.size());

  int disagreements = 0, equal = 0, less = 0, greater = 0;
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    INFO(pairs[k].first << " vs " << pairs[k].second);
    const int ours = compare_rpm_versions(pairs[k].first, pairs[k].second);
    if (ours != oracle[k]) ++disagreements;
    CHECK(ours == oracle[k]);
    (oracle[k] == 0 ? equal : oracle[k] < 0 ? less : greater)++;
  }
  WARN("rpm ordering: " << pairs.size() << " pairs, " << disagreements << " disagreements; " << less << " less, "
                        << equal << " equal, " << greater << " greater");
  CHECK(disagreements == 0);
  CHECK(equal > 20);
  CHECK(less > 500);
  CHECK(greater > 500);
}
