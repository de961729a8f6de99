#include <catch2/catch_test_macros.hpp>

#include "support/check_runner.hpp"

using postured::Status;
using postured::test::FixtureRoot;
using postured::test::run_check;

namespace {

constexpr const char* kId = "linux.audit.auditd_enabled";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// auditd installed, enabled by systemd and running; rules are up to each test.
void running_auditd(FixtureRoot& root) {
  root.write("/usr/sbin/auditd", "")
      .symlink("/lib/systemd/system/auditd.service", "/etc/systemd/system/multi-user.target.wants/auditd.service")
      .process(612, "auditd");
}

}  // namespace

TEST_CASE("auditd not installed is a failure, not N/A", "[auditd]") {
  FixtureRoot root;
  root.process(612, "auditd");  // a process alone does not make it installed
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(outcome.evidence == "auditd is not installed");
}

TEST_CASE("auditd enabled, running and with rules passes", "[auditd]") {
  FixtureRoot root;
  running_auditd(root);
  root.write("/etc/audit/rules.d/50-pci.rules",
             "## PCI DSS 10.2\n-D\n-b 8192\n-w /etc/passwd -p wa -k identity\n"
             "  -a always,exit -F arch=b64 -S settimeofday -k time-change\n-e 2\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(outcome.evidence == "auditd is enabled and running with 2 rules in /etc/audit/rules.d/50-pci.rules");
}

TEST_CASE("rules in the compiled audit.rules count, /sbin/auditd counts as installed", "[auditd]") {
  FixtureRoot root;
  root.write("/sbin/auditd", "")
      .symlink("/lib/systemd/system/auditd.service", "/etc/systemd/system/multi-user.target.wants/auditd.service")
      .process(612, "auditd")
      .write("/etc/audit/audit.rules", "-A exit,always -S mount\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "1 rule in /etc/audit/audit.rules"));
}

TEST_CASE("auditd running with only comments and controls fails: no rules", "[auditd]") {
  FixtureRoot root;
  running_auditd(root);
  root.write("/etc/audit/rules.d/audit.rules", "## First rule - delete all\n-D\n# -w /etc/shadow -p wa\n-b 8192\n")
      .write("/etc/audit/rules.d/notes.txt", "-w /etc/passwd -p wa\n");  // not *.rules: augenrules skips it
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(contains(outcome.evidence, "auditd runs with no rules"));
}

TEST_CASE("installed but not enabled and not running fails with both reasons", "[auditd]") {
  FixtureRoot root;
  root.write("/usr/sbin/auditd", "").write("/etc/audit/rules.d/a.rules", "-w /etc/sudoers -p wa\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(contains(outcome.evidence, "auditd.service is not enabled"));
  CHECK(contains(outcome.evidence, "no auditd process is running"));
  CHECK(contains(outcome.evidence, "1 rule in /etc/audit/rules.d/a.rules"));
}

TEST_CASE("running but masked auditd fails as not enabled", "[auditd]") {
  FixtureRoot root;
  running_auditd(root);
  root.symlink("/dev/null", "/etc/systemd/system/auditd.service").write("/etc/audit/audit.rules", "-w /etc/group\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(outcome.evidence == "auditd.service is not enabled; 1 rule in /etc/audit/audit.rules");
}

TEST_CASE("enabled but not running names the missing process and the missing rules", "[auditd]") {
  FixtureRoot root;
  root.write("/usr/sbin/auditd", "")
      .symlink("/lib/systemd/system/auditd.service", "/etc/systemd/system/multi-user.target.wants/auditd.service");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(outcome.evidence == "no auditd process is running; no rules are configured");
}

TEST_CASE("an unreadable rules file is an error when auditd is otherwise fine", "[auditd]") {
  FixtureRoot root;
  running_auditd(root);
  root.mkdir("/etc/audit/audit.rules");  // a folder where the file should be
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::error);
  CHECK(contains(outcome.evidence, "/etc/audit/audit.rules: is a directory"));
}

TEST_CASE("an unreadable rules file does not hide a stopped auditd", "[auditd]") {
  FixtureRoot root;
  root.write("/usr/sbin/auditd", "").mkdir("/etc/audit/audit.rules");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(contains(outcome.evidence, "rules unknown (cannot read /etc/audit/audit.rules: is a directory)"));
}

TEST_CASE("SysV start links count as enabled", "[auditd]") {
  FixtureRoot root;
  root.write("/usr/sbin/auditd", "")
      .symlink("../init.d/auditd", "/etc/rc2.d/S01auditd")
      .process(612, "auditd")
      .write("/etc/audit/audit.rules", "-w /var/log/audit/ -k auditlog\n");
  CHECK(run_check(kId, root).status == Status::pass);
}
