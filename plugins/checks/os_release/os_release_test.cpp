#include <catch2/catch_test_macros.hpp>

#include <chrono>

#include "support/check_runner.hpp"

using postured::Status;
using postured::test::FixtureRoot;
using postured::test::run_check;

namespace {

constexpr const char* kId = "linux.os.supported_release";

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Noon UTC on a calendar day.
std::chrono::system_clock::time_point on(int y, unsigned m, unsigned d) {
  return std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}} +
         std::chrono::hours{12};
}

std::string os_release(const std::string& id, const std::string& version_id, const std::string& pretty) {
  return "PRETTY_NAME=\"" + pretty + "\"\nNAME=\"whatever\"\n" +
         (version_id.empty() ? "" : "VERSION_ID=\"" + version_id + "\"\n") + "ID=" + id + "\n";
}

}  // namespace

TEST_CASE("os: a supported Debian release passes with its end date", "[os_release]") {
  FixtureRoot root;
  root.write("/etc/os-release", os_release("debian", "12", "Debian GNU/Linux 12 (bookworm)"));
  const auto outcome = run_check(kId, root, on(2025, 1, 15));
  CHECK(outcome.status == Status::pass);
  CHECK(outcome.evidence == "Debian GNU/Linux 12 (bookworm) is supported until 2028-06-30 (end of Debian LTS)");
}

TEST_CASE("os: within 90 days of the end it still passes but counts down", "[os_release]") {
  FixtureRoot root;
  root.write("/etc/os-release", os_release("debian", "11", "Debian GNU/Linux 11 (bullseye)"));
  auto outcome = run_check(kId, root, on(2026, 6, 1));
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "until 2026-08-31"));
  CHECK(has(outcome.evidence, "ends in 91 days") == false);
  outcome = run_check(kId, root, on(2026, 6, 2));
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "ends in 90 days"));
  outcome = run_check(kId, root, on(2026, 8, 31));
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "ends today"));
}

TEST_CASE("os: the day after the end of support fails", "[os_release]") {
  FixtureRoot root;
  root.write("/etc/os-release", os_release("debian", "10", "Debian GNU/Linux 10 (buster)"));
  CHECK(run_check(kId, root, on(2024, 6, 30)).status == Status::pass);
  const auto outcome = run_check(kId, root, on(2024, 7, 1));
  CHECK(outcome.status == Status::fail);
  CHECK(outcome.evidence == "Debian GNU/Linux 10 (buster) is out of support since 2024-06-30 (end of Debian LTS)");
}

TEST_CASE("os: Ubuntu LTS releases end with standard support", "[os_release]") {
  FixtureRoot root;
  root.write("/etc/os-release", os_release("ubuntu", "20.04", "Ubuntu 20.04.6 LTS"));
  const auto outcome = run_check(kId, root, on(2025, 9, 1));
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "Ubuntu 20.04.6 LTS is out of support since 2025-05-31"));
  root.write("/etc/os-release", os_release("ubuntu", "24.04", "Ubuntu 24.04.1 LTS"));
  CHECK(run_check(kId, root, on(2025, 9, 1)).status == Status::pass);
  root.write("/etc/os-release", os_release("ubuntu", "22.04", "Ubuntu 22.04.4 LTS"));
  CHECK(has(run_check(kId, root, on(2027, 5, 1)).evidence, "ends in 30 days"));
}

TEST_CASE("os: Raspbian is judged as Debian", "[os_release]") {
  FixtureRoot root;
  root.write("/etc/os-release", os_release("raspbian", "11", "Raspbian GNU/Linux 11 (bullseye)"));
  CHECK(run_check(kId, root, on(2025, 1, 1)).status == Status::pass);
  CHECK(run_check(kId, root, on(2026, 9, 1)).status == Status::fail);
}

TEST_CASE("os: Debian testing or sid has no VERSION_ID and fails", "[os_release]") {
  FixtureRoot root;
  root.write("/etc/os-release",
             "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=trixie\n"
             "ID=debian\n");
  const auto outcome = run_check(kId, root, on(2025, 1, 1));
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "trixie/sid"));
  CHECK(has(outcome.evidence, "rolling release without security support"));
}

TEST_CASE("os: releases older than the table fail, unknown ones are an error", "[os_release]") {
  FixtureRoot root;
  root.write("/etc/os-release", os_release("debian", "9", "Debian GNU/Linux 9 (stretch)"));
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "older than every release"));
  root.write("/etc/os-release", os_release("ubuntu", "16.04", "Ubuntu 16.04.7 LTS"));
  CHECK(run_check(kId, root).status == Status::fail);

  root.write("/etc/os-release", os_release("ubuntu", "23.10", "Ubuntu 23.10"));  // an interim release
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::error);
  CHECK(has(outcome.evidence, "cannot tell whether Ubuntu 23.10 is supported: not in postured's release table"));
  root.write("/etc/os-release", os_release("debian", "14", "Debian GNU/Linux 14 (forky)"));
  CHECK(run_check(kId, root).status == Status::error);
  root.write("/etc/os-release", os_release("fedora", "40", "Fedora Linux 40 (Workstation Edition)"));
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::error);
  CHECK(has(outcome.evidence, "Fedora Linux 40"));
  CHECK(has(outcome.evidence, "ID=fedora"));
}

TEST_CASE("os: /usr/lib/os-release is read when /etc/os-release is missing", "[os_release]") {
  FixtureRoot root;
  root.write("/usr/lib/os-release", "# vendor file\nID='debian'\nVERSION_ID=13\nNAME=\"Debian GNU/Linux\"\n");
  const auto outcome = run_check(kId, root, on(2026, 1, 1));
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "Debian GNU/Linux 13 is supported until 2030-06-30"));  // no PRETTY_NAME
  // /etc/os-release is a symlink to ../usr/lib/os-release on Debian.
  root.symlink("../usr/lib/os-release", "/etc/os-release");
  CHECK(run_check(kId, root, on(2026, 1, 1)).status == Status::pass);
}

TEST_CASE("os: no readable os-release is an error naming both files", "[os_release]") {
  FixtureRoot root;
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::error);
  CHECK(has(outcome.evidence, "/etc/os-release (not found)"));
  CHECK(has(outcome.evidence, "/usr/lib/os-release (not found)"));
  root.mkdir("/etc/os-release");
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::error);
  CHECK(has(outcome.evidence, "is a directory"));
}
