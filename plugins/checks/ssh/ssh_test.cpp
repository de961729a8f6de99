#include <catch2/catch_test_macros.hpp>

#include "support/check_runner.hpp"

using postured::Status;
using postured::test::FixtureRoot;
using postured::test::run_check;

TEST_CASE("ssh checks are not applicable without an OpenSSH server", "[ssh]") {
  FixtureRoot root;
  CHECK(run_check("linux.ssh.permit_root_login", root).status == Status::not_applicable);
  CHECK(run_check("linux.ssh.password_authentication", root).status == Status::not_applicable);
  CHECK(run_check("linux.ssh.max_auth_tries", root).status == Status::not_applicable);
}

TEST_CASE("ssh checks judge OpenSSH's defaults when nothing is set", "[ssh]") {
  FixtureRoot root;
  root.write("/usr/sbin/sshd", "").write("/etc/ssh/sshd_config", "# only comments\nPort 22\n");
  const auto root_login = run_check("linux.ssh.permit_root_login", root);
  CHECK(root_login.status == Status::fail);
  CHECK(root_login.evidence.find("prohibit-password") != std::string::npos);
  CHECK(run_check("linux.ssh.password_authentication", root).status == Status::fail);
  CHECK(run_check("linux.ssh.max_auth_tries", root).status == Status::fail);
}

TEST_CASE("ssh checks pass on a hardened configuration, with keyword=value and any case", "[ssh]") {
  FixtureRoot root;
  root.write("/etc/ssh/sshd_config",
             "permitrootlogin no\nPasswordAuthentication=no\nMaxAuthTries 3 # CIS\n");
  CHECK(run_check("linux.ssh.permit_root_login", root).status == Status::pass);
  CHECK(run_check("linux.ssh.password_authentication", root).status == Status::pass);
  const auto tries = run_check("linux.ssh.max_auth_tries", root);
  CHECK(tries.status == Status::pass);
  CHECK(tries.evidence == "MaxAuthTries 3 (set in /etc/ssh/sshd_config:3)");
}

TEST_CASE("the first value wins, and Includes are read in place and in lexical order", "[ssh]") {
  FixtureRoot root;
  root.write("/etc/ssh/sshd_config", "Include sshd_config.d/*.conf\nPermitRootLogin no\nMaxAuthTries 3\n")
      .write("/etc/ssh/sshd_config.d/20-late.conf", "MaxAuthTries 10\n")
      .write("/etc/ssh/sshd_config.d/10-vendor.conf", "PermitRootLogin yes\nMaxAuthTries 2\n");
  const auto root_login = run_check("linux.ssh.permit_root_login", root);
  CHECK(root_login.status == Status::fail);
  CHECK(root_login.evidence.find("10-vendor.conf:1") != std::string::npos);
  const auto tries = run_check("linux.ssh.max_auth_tries", root);
  CHECK(tries.status == Status::pass);
  CHECK(tries.evidence.find("10-vendor.conf:2") != std::string::npos);
}

TEST_CASE("settings inside a Match block do not count as global", "[ssh]") {
  FixtureRoot root;
  root.write("/etc/ssh/sshd_config", "Match User backup\n  PermitRootLogin no\nMatch all\nPasswordAuthentication no\n");
  CHECK(run_check("linux.ssh.permit_root_login", root).status == Status::fail);
  CHECK(run_check("linux.ssh.password_authentication", root).status == Status::pass);
}

TEST_CASE("MaxAuthTries that is not a small positive number fails", "[ssh]") {
  FixtureRoot root;
  for (const char* value : {"0", "5", "4x", "-1", ""}) {
    root.write("/etc/ssh/sshd_config", std::string("MaxAuthTries ") + value + "\n");
    CHECK(run_check("linux.ssh.max_auth_tries", root).status == Status::fail);
  }
}

TEST_CASE("an Include loop is an error, not a hang", "[ssh]") {
  FixtureRoot root;
  root.write("/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config\n");
  const auto outcome = run_check("linux.ssh.permit_root_login", root);
  CHECK(outcome.status == Status::error);
  CHECK(outcome.evidence.find("Include nesting") != std::string::npos);
}

TEST_CASE("an unreadable sshd_config is an error with the reason", "[ssh]") {
  FixtureRoot root;
  root.mkdir("/etc/ssh/sshd_config");  // a folder where the file should be
  const auto outcome = run_check("linux.ssh.password_authentication", root);
  CHECK(outcome.status == Status::error);
  CHECK(outcome.evidence.find("is a directory") != std::string::npos);
}
