#include <catch2/catch_test_macros.hpp>

#include <chrono>

#include "core/config.hpp"
#include "support/check_runner.hpp"
#include "support/memory_registry.hpp"

using postured::Config;
using postured::Status;
using postured::test::FixtureRoot;
using postured::test::run_check;

namespace {

constexpr const char* kId = "patch.security_updates_age";

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// 2026-11-26 12:00 UTC: the day the fixtures' dates are counted from.
std::chrono::system_clock::time_point today() {
  return std::chrono::sys_days(std::chrono::year(2026) / 11 / 26) + std::chrono::hours(12);
}

constexpr const char* kStatus =
    "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u2\n\n"
    "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\n"
    "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-10+deb12u14\n\n"
    "Package: sudo\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.9.13p3-1+deb12u1\n";

// A device with kStatus installed and a baseline file at /baseline.toml (outside the device's view).
Config with_baseline(FixtureRoot& root, const std::string& baseline, const std::string& window = "30d") {
  root.write("/var/lib/dpkg/status", kStatus).write("/baseline.toml", baseline);
  auto config = postured::default_config();
  config.patch.baseline = root.real("/baseline.toml");
  config.patch.security_window = *postured::parse_duration(window);
  return config;
}

}  // namespace

TEST_CASE("patch age: a fix missing for longer than the window fails and names the oldest", "[patch]") {
  FixtureRoot root;
  const auto config = with_baseline(root,
                                     "[[package]]\nname = \"openssl\"\nfixed = \"3.0.15-1~deb12u1\"\n"
                                     "cves = [\"CVE-2024-5535\", \"CVE-2024-9143\"]\nseverity = \"high\"\n"
                                     "published = 2024-10-26\n\n"
                                     "[[package]]\nname = \"curl\"\nfixed = \"7.88.1-10+deb12u15\"\npublished = 2026-10-01\n");
  const auto outcome = run_check(kId, root, today(), &config);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "3 security fixes missing for longer than 30 days"));  // openssl, libssl3, curl
  CHECK(has(outcome.evidence, "oldest: openssl 3.0.11-1~deb12u2 < 3.0.15-1~deb12u1 (CVE-2024-5535 +1), published "
                              "2024-10-26, 761 days ago"));
}

TEST_CASE("patch age: fixes within the window, or installed, pass", "[patch]") {
  FixtureRoot root;
  const auto config = with_baseline(root,
                                     "[[package]]\nname = \"curl\"\nfixed = \"7.88.1-10+deb12u15\"\npublished = "
                                     "\"2026-11-20\"\n\n"
                                     "[[package]]\nname = \"openssl\"\nfixed = \"3.0.11-1~deb12u1\"\npublished = 2020-01-01\n"
                                     "[[package]]\nname = \"sudo\"\nfixed = \"1.9.13p3-1+deb12u2\"\npublished = 2020-01-01\n");
  const auto outcome = run_check(kId, root, today(), &config);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "missing for longer than 30 days; 1 below the baseline within the window"));
}

TEST_CASE("patch age: the window comes from patch.security_window", "[patch]") {
  FixtureRoot root;
  const auto config = with_baseline(
      root, "[[package]]\nname = \"curl\"\nfixed = \"7.88.1-10+deb12u15\"\npublished = 2026-11-20\n", "3d");
  const auto outcome = run_check(kId, root, today(), &config);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "1 security fix missing for longer than 3 days; oldest: curl"));
}

TEST_CASE("patch age: a fix without a published date is counted but not timed", "[patch]") {
  FixtureRoot root;
  const auto config = with_baseline(root, "[[package]]\nname = \"openssl\"\nfixed = \"3.0.15-1~deb12u1\"\n");
  const auto outcome = run_check(kId, root, today(), &config);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "2 below the baseline without a published date (not timed)"));
}

TEST_CASE("patch age: pending security updates from apt's lists are reported", "[patch]") {
  FixtureRoot root;
  const auto config = with_baseline(root, "");
  root.write("/var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages",
             "Package: curl\nVersion: 7.88.1-10+deb12u15\nArchitecture: amd64\n\n"
             "Package: openssl\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\n");
  const auto outcome = run_check(kId, root, today(), &config);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "; 1 pending security update in apt's lists"));
}

TEST_CASE("patch age: without a baseline it does not apply", "[patch]") {
  FixtureRoot root;
  root.write("/var/lib/dpkg/status", kStatus);
  CHECK(run_check(kId, root, today()).status == Status::not_applicable);
}

TEST_CASE("patch age: a bad baseline or an unreadable inventory is an error", "[patch]") {
  FixtureRoot root;
  auto config = with_baseline(root, "[[package]]\nname = \"curl\"\nfixed = \"1\"\nseverity = \"urgent\"\nextra = 1\n");
  auto outcome = run_check(kId, root, today(), &config);
  CHECK(outcome.status == Status::error);
  CHECK(has(outcome.evidence, "baseline.toml:4:12: 'package.severity' must be one of low, medium, high, critical"));
  CHECK(has(outcome.evidence, "(+1 more)"));

  config = with_baseline(root, "");
  root.remove("/var/lib/dpkg");
  outcome = run_check(kId, root, today(), &config);
  CHECK(outcome.status == Status::error);
  CHECK(has(outcome.evidence, "no package database found"));
}

TEST_CASE("patch.security_updates_age on Windows times the oldest missing cumulative update", "[check][windows]") {
  FixtureRoot root;
  root.write("/baseline.toml",
             "[[update]]\nbuild = 19045\nubr = 3693\npublished = 2023-11-14\nkb = \"KB5032189\"\n"
             "[[update]]\nbuild = 19045\nubr = 5131\npublished = 2026-11-10\nkb = \"KB5099999\"\n");
  auto config = postured::default_config();
  config.patch.baseline = root.real("/baseline.toml");
  postured::test::MemoryRegistry registry;
  const std::string version = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion";
  registry.string(version, "CurrentBuild", "19045").dword(version, "UBR", 3570);
  const auto run = [&] {
    postured::test::HostWithRegistry host(root.host(), registry);
    for (const auto& check : postured::builtin_checks()) {
      if (check->info().id == kId) return check->run(postured::Context{host, today(), &config});
    }
    throw std::logic_error("no check");
  };
  auto outcome = run();
  CHECK(outcome.status == Status::fail);
  CHECK(outcome.evidence ==
        "build 19045.3570 < 19045.5131; oldest missing: KB5032189, published 2023-11-14, 1108 days "
        "ago (window 30 days)");
  // Only the newest update is missing, and it is 16 days old.
  registry.dword(version, "UBR", 3693);
  outcome = run();
  CHECK(outcome.status == Status::pass);
  CHECK(
      has(outcome.evidence, "oldest missing: KB5099999, published 2026-11-10, 16 days ago, within the 30-day window"));
  registry.dword(version, "UBR", 5131);
  CHECK(run().evidence == "build 19045.5131 has every update of " + config.patch.baseline.string() + " (19045.5131)");
  registry.string(version, "CurrentBuild", "22631");
  CHECK(run().status == Status::not_applicable);
  // A Linux package baseline is not a Windows baseline.
  root.write("/baseline.toml", "[[package]]\nname = \"openssl\"\nfixed = \"3.0.15-1~deb12u1\"\n");
  outcome = run();
  CHECK(outcome.status == Status::error);
  CHECK(has(outcome.evidence, "invalid Windows patch baseline: "));
}
