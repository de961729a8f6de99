#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/device.hpp"
#include "core/report.hpp"
#include "support/fixture_root.hpp"

using Catch::Matchers::ContainsSubstring;
using postured::test::FixtureRoot;

namespace {

class FixedCheck final : public postured::Check {
 public:
  FixedCheck(std::string id, postured::Outcome outcome)
      : Check({std::move(id), "a fixed check", postured::Severity::low, "do the thing", {"PCI DSS 4.0 1.1.1"}}),
        outcome_(std::move(outcome)) {}
  postured::Outcome run(const postured::Context&) const override { return outcome_; }

 private:
  postured::Outcome outcome_;
};

class ThrowingCheck final : public postured::Check {
 public:
  ThrowingCheck() : Check({"test.throws", "throws", postured::Severity::high, "", {}}) {}
  postured::Outcome run(const postured::Context&) const override { throw std::runtime_error("boom"); }
};

}  // namespace

TEST_CASE("os-release values are unquoted and unescaped", "[device]") {
  const auto f = postured::parse_os_release(
      "# comment\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID='12'\n"
      "NAME=\"A \\\"quoted\\\" name\"\n=broken\nnoequals\n");
  CHECK(f.at("PRETTY_NAME") == "Debian GNU/Linux 12 (bookworm)");
  CHECK(f.at("ID") == "debian");
  CHECK(f.at("VERSION_ID") == "12");
  CHECK(f.at("NAME") == "A \"quoted\" name");
  CHECK(f.size() == 4);
}

TEST_CASE("device identity comes from the config, else machine-id", "[device]") {
  FixtureRoot root;
  root.write("/etc/machine-id", "0123456789abcdef0123456789abcdef\n")
      .write("/usr/lib/os-release", "ID=ubuntu\nVERSION_ID=\"24.04\"\nPRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\n");
  postured::AgentConfig agent;
  agent.store_id = "store-9";
  auto device = postured::identify_device(*root.host(), agent);
  CHECK(device.id == "0123456789abcdef0123456789abcdef");
  CHECK(device.store_id == "store-9");
  CHECK(device.hostname == "pos-test-01");
  CHECK(device.os.id == "ubuntu");  // from /usr/lib/os-release when /etc/os-release is absent
  CHECK(device.os.version_id == "24.04");
  CHECK(device.os.kernel == "6.1.0-18-amd64");
  CHECK(device.agent_version == "0.1.0");
  agent.device_id = "pos-9-01";
  CHECK(postured::identify_device(*root.host(), agent).id == "pos-9-01");
}

TEST_CASE("checks are run in order, disabled ones skipped, a throwing one reported as error", "[report]") {
  postured::CheckList checks;
  checks.push_back(std::make_unique<FixedCheck>("t.pass", postured::Outcome::pass("fine")));
  checks.push_back(std::make_unique<ThrowingCheck>());
  checks.push_back(std::make_unique<FixedCheck>("t.fail", postured::Outcome::fail("bad")));
  checks.push_back(std::make_unique<FixedCheck>("t.off", postured::Outcome::fail("never")));
  FixtureRoot root;
  const auto host = root.host();
  const auto results = postured::run_checks(checks, {*host, std::chrono::system_clock::now()}, {"t.off"});
  REQUIRE(results.size() == 3);
  CHECK(results[0].info.id == "t.pass");
  CHECK(results[1].outcome.status == postured::Status::error);
  CHECK_THAT(results[1].outcome.evidence, ContainsSubstring("boom"));
  CHECK(results[2].outcome.status == postured::Status::fail);

  postured::DoctorReport report;
  report.checks = results;
  CHECK(report.has_problems());
  const auto s = report.summary();
  CHECK((s.pass == 1 && s.fail == 1 && s.error == 1 && s.not_applicable == 0));
}

TEST_CASE("the doctor document has the postured.doctor/v1 shape", "[report]") {
  postured::DoctorReport report;
  report.device.id = "dev";
  report.device.os.kernel = "6.1.0";
  report.checks.push_back({{"t.x", "title", postured::Severity::critical, "fix it", {"PCI DSS 4.0 2.2.6"}},
                           postured::Outcome::not_applicable("no such thing")});
  const auto j = postured::to_doctor_json(report);
  CHECK(j["schema"] == "postured.doctor/v1");
  for (const auto* key : {"id", "store_id", "hostname", "os", "agent_version"}) CHECK(j["device"].contains(key));
  for (const auto* key : {"id", "version_id", "pretty_name", "kernel"}) CHECK(j["device"]["os"].contains(key));
  const auto& c = j["checks"][0];
  CHECK(c["status"] == "not_applicable");
  CHECK(c["severity"] == "critical");
  CHECK(c["references"][0] == "PCI DSS 4.0 2.2.6");
  for (const auto* key : {"id", "title", "evidence", "remediation"}) CHECK(c.contains(key));
  CHECK(j["summary"] == nlohmann::ordered_json{{"pass", 0}, {"fail", 0}, {"error", 0}, {"not_applicable", 1}});
  CHECK_FALSE(report.has_problems());
}

TEST_CASE("the table shows status, severity, evidence and how to fix; colour only when asked", "[report]") {
  postured::DoctorReport report;
  report.device.hostname = "pos-1";
  report.checks.push_back({{"t.ok", "ok", postured::Severity::low, "nothing", {}}, postured::Outcome::pass("all good")});
  report.checks.push_back(
      {{"t.bad", "bad thing", postured::Severity::high, "run fixit", {}}, postured::Outcome::fail("it is broken")});
  const auto plain = postured::render_table(report, false);
  CHECK(plain.find('\033') == std::string::npos);
  CHECK_THAT(plain, ContainsSubstring("PASS   low       t.ok"));
  CHECK_THAT(plain, ContainsSubstring("FAIL   high      t.bad  it is broken"));
  CHECK_THAT(plain, ContainsSubstring("How to fix\n  t.bad (bad thing): run fixit"));
  CHECK_THAT(plain, ContainsSubstring("1 passed, 1 failed, 0 errors, 0 not applicable"));
  CHECK_THAT(postured::render_table(report, true), ContainsSubstring("\033[31;1mFAIL"));
}
