#include <catch2/catch_test_macros.hpp>

#include "support/check_runner.hpp"

using postured::Status;
using postured::test::FixtureRoot;
using postured::test::run_check;

namespace {

constexpr const char* kId = "linux.time.sync_active";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("no time daemon running or enabled fails", "[time_sync]") {
  FixtureRoot root;
  root.process(1, "systemd").process(200, "sshd");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(contains(outcome.evidence, "no time daemon"));
}

TEST_CASE("running timesyncd passes and names the NTP servers, drop-ins included", "[time_sync]") {
  FixtureRoot root;
  root.process(310, "systemd-timesyn")
      .write("/etc/systemd/timesyncd.conf", "[Time]\n#NTP=commented.example\nNTP=ntp1.store.example\n")
      .write("/etc/systemd/timesyncd.conf.d/50-store.conf", "[Time]\nNTP=ntp2.store.example ntp3.store.example\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "systemd-timesyncd is running"));
  CHECK(contains(outcome.evidence, "ntp1.store.example, ntp2.store.example, ntp3.store.example"));
  CHECK(contains(outcome.evidence, "50-store.conf"));
  CHECK_FALSE(contains(outcome.evidence, "commented"));
}

TEST_CASE("timesyncd: an empty NTP= resets the list, other sections do not count", "[time_sync]") {
  FixtureRoot root;
  root.process(310, "systemd-timesyn")
      .write("/etc/systemd/timesyncd.conf", "[Other]\nNTP=wrong.example\n[Time]\nNTP=old.example\n")
      .write("/etc/systemd/timesyncd.conf.d/90-reset.conf", "[Time]\nNTP=\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "no servers configured, using the package default"));
}

TEST_CASE("timesyncd with only FallbackNTP= reports the fallback servers", "[time_sync]") {
  FixtureRoot root;
  root.process(310, "systemd-timesyn").write("/etc/systemd/timesyncd.conf", "[Time]\nFallbackNTP=fb.example\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "fallback servers fb.example"));
}

TEST_CASE("running chronyd passes with servers from chrony.conf and sources.d", "[time_sync]") {
  FixtureRoot root;
  root.process(400, "chronyd")
      .write("/etc/chrony/chrony.conf",
             "# pool 2.debian.pool.ntp.org iburst\n! server bang.example\npool pool.store.example iburst\n"
             "sourcedir /etc/chrony/sources.d\n")
      .write("/etc/chrony/sources.d/hq.sources", "server ntp.hq.example iburst\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "chronyd is running"));
  CHECK(contains(outcome.evidence, "pool.store.example, ntp.hq.example"));
  CHECK_FALSE(contains(outcome.evidence, "debian.pool"));
  CHECK_FALSE(contains(outcome.evidence, "bang"));
}

TEST_CASE("chronyd without any server line says the package default is used", "[time_sync]") {
  FixtureRoot root;
  root.process(400, "chronyd");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "no servers configured, using the package default"));
}

TEST_CASE("many servers are cut short to keep the evidence one line", "[time_sync]") {
  FixtureRoot root;
  root.process(400, "chronyd")
      .write("/etc/chrony/chrony.conf", "server a\nserver b\nserver c\nserver d\nserver e\nserver f\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "a, b, c, d and 2 more"));
}

TEST_CASE("running ntpd (ntpsec) passes with servers from /etc/ntpsec/ntp.conf", "[time_sync]") {
  FixtureRoot root;
  root.process(500, "ntpd").write("/etc/ntpsec/ntp.conf", "pool 0.debian.pool.ntp.org iburst\n#server x\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "ntpd is running"));
  CHECK(contains(outcome.evidence, "0.debian.pool.ntp.org (/etc/ntpsec/ntp.conf)"));
}

TEST_CASE("an ntpd process with only OpenNTPD's config is OpenNTPD", "[time_sync]") {
  FixtureRoot root;
  root.process(500, "ntpd").write("/etc/openntpd/ntpd.conf", "servers pool.ntp.org\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "openntpd is running"));
  CHECK(contains(outcome.evidence, "pool.ntp.org"));
}

TEST_CASE("two different time daemons running fail, they fight", "[time_sync]") {
  FixtureRoot root;
  root.process(310, "systemd-timesyn").process(400, "chronyd");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(contains(outcome.evidence, "systemd-timesyncd and chronyd are both running"));
  CHECK(contains(outcome.evidence, "fight"));
}

TEST_CASE("several ntpd processes are still one daemon", "[time_sync]") {
  FixtureRoot root;
  root.process(500, "ntpd").process(501, "ntpd").write("/etc/openntpd/ntpd.conf", "server a.example\n");
  CHECK(run_check(kId, root).status == Status::pass);
}

TEST_CASE("an enabled but stopped daemon fails and names the unit", "[time_sync]") {
  FixtureRoot root;
  root.symlink("/lib/systemd/system/systemd-timesyncd.service",
               "/etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(outcome.evidence == "systemd-timesyncd.service is enabled but not running");
}

TEST_CASE("a masked unit does not count as enabled", "[time_sync]") {
  FixtureRoot root;
  root.symlink("/lib/systemd/system/chrony.service", "/etc/systemd/system/multi-user.target.wants/chrony.service")
      .symlink("/dev/null", "/etc/systemd/system/chrony.service");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(contains(outcome.evidence, "no time daemon"));
}

TEST_CASE("an unreadable server config does not hide a running daemon", "[time_sync]") {
  FixtureRoot root;
  root.process(400, "chronyd").mkdir("/etc/chrony/chrony.conf");  // a folder where the file should be
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(outcome.evidence ==
        "chronyd is running; servers unknown (could not read /etc/chrony/chrony.conf: is a directory)");
}
