// posturectl policy check, and policies in doctor and the daemon, run as real processes.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "support/fixture_root.hpp"
#include "support/process.hpp"

using Catch::Matchers::ContainsSubstring;
using postured::test::bin;
using postured::test::FixtureRoot;
using postured::test::run;

namespace {

const std::string kBaseline = POSTURED_SOURCE_DIR "/config/policies/pos-linux-baseline.toml";

const std::string kSmallPolicy =
    "[policy]\nid = \"store\"\ntitle = \"Store\"\n"
    "[[check]]\nid = \"store.forward\"\ntitle = \"No forwarding\"\nrationale = \"R\"\nremediation = \"F\"\n"
    "severity = \"high\"\nreferences = [\"PCI DSS 4.0 1.3.1\"]\nrule = {sysctl = \"net.ipv4.ip_forward\", equals = "
    "\"0\"}\n";

std::string write(const FixtureRoot& dir, const std::string& name, const std::string& text) {
  const auto path = (dir.path() / name).string();
  std::ofstream(path) << text;
  return path;
}

std::string config_with(const FixtureRoot& dir, const std::string& policies, const std::string& disabled = "[]") {
  return write(dir, "postured.toml",
               "[agent]\nstore_id = \"s\"\nstate_dir = \"" + (dir.path() / "state").string() + "\"\nruntime_dir = \"" +
                   (dir.path() / "run").string() + "\"\n[checks]\npolicies = " + policies + "\ndisabled = " + disabled +
                   "\n");
}

const nlohmann::json* find_check(const nlohmann::json& doc, const std::string& id) {
  for (const auto& c : doc["checks"]) {
    if (c["id"] == id) return &c;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("posturectl policy check accepts the shipped baseline", "[cli][policy]") {
  const auto ran = run({bin("posturectl"), "policy", "check", kBaseline});
  CHECK(ran.exit_code == 0);
  CHECK_THAT(ran.out, ContainsSubstring("pos-linux-baseline.toml: ok, 44 checks"));
}

TEST_CASE("posturectl policy check prints FILE:LINE:COL and exits 2; --json lists each file", "[cli][policy]") {
  FixtureRoot dir;
  auto bad = kSmallPolicy;
  bad.replace(bad.find("equals"), 6, "equal");
  const auto path = write(dir, "bad.toml", bad);
  const auto ran = run({bin("posturectl"), "policy", "check", path});
  CHECK(ran.exit_code == 2);
  CHECK(ran.err == path + ":11:8: 'check 'store.forward'.rule' needs 'equals' or 'compare' with 'value'\n" + path +
                       ":11:41: unknown key 'equal' in check 'store.forward'.rule; did you mean 'equals'?\n");
  const auto json = run({bin("posturectl"), "policy", "check", "--json", kBaseline, path});
  CHECK(json.exit_code == 2);
  const auto doc = nlohmann::json::parse(json.out);
  CHECK(doc["files"][0]["valid"] == true);
  CHECK(doc["files"][1]["valid"] == false);
  CHECK(doc["files"][1]["errors"][0]["line"] == 11);
  // A compiled check's id cannot be claimed.
  auto clash = kSmallPolicy;
  clash.replace(clash.find("store.forward"), 13, "linux.ssh.permit_root_login");
  CHECK(run({bin("posturectl"), "policy", "check", write(dir, "clash.toml", clash)}).exit_code == 2);
}

TEST_CASE("doctor runs policy checks after the compiled ones; disabled applies to them", "[cli][policy][doctor]") {
  FixtureRoot root;
  root.write("/proc/sys/net/ipv4/ip_forward", "1\n");
  FixtureRoot dir;
  const auto policy = write(dir, "store.toml", kSmallPolicy);
  const auto ran = run({bin("posturectl"), "doctor", "--json", "--root", root.path().string(), "--config",
                        config_with(dir, "[\"" + policy + "\"]")});
  CHECK(ran.exit_code == 1);
  const auto doc = nlohmann::json::parse(ran.out);
  const auto* check = find_check(doc, "store.forward");
  REQUIRE(check);
  CHECK((*check)["status"] == "fail");
  CHECK((*check)["evidence"] == "net.ipv4.ip_forward = 1 (expected \"0\")");
  CHECK((*check)["references"] == nlohmann::json::array({"PCI DSS 4.0 1.3.1"}));
  CHECK(doc["checks"].back()["id"] == "store.forward");

  const auto off = run({bin("posturectl"), "doctor", "--json", "--root", root.path().string(), "--config",
                        config_with(dir, "[\"" + policy + "\"]", "[\"store.forward\"]")});
  CHECK(!find_check(nlohmann::json::parse(off.out), "store.forward"));
  const auto typo = run({bin("posturectl"), "doctor", "--json", "--config",
                         config_with(dir, "[\"" + policy + "\"]", "[\"store.forwrd\"]")});
  CHECK(typo.exit_code == 2);
  CHECK_THAT(typo.err, ContainsSubstring("did you mean 'store.forward'?"));
}

TEST_CASE("doctor reports a refused policy as an error check and on stderr; the others still run",
          "[cli][policy][doctor]") {
  FixtureRoot root;
  root.write("/proc/sys/net/ipv4/ip_forward", "0\n");
  FixtureRoot dir;
  const auto good = write(dir, "store.toml", kSmallPolicy);
  const auto broken = write(dir, "broken.toml", "[policy]\nid = \"x\"\ntitle = \"x\"\n[[check]]\nid = 1\n");
  const auto ran = run({bin("posturectl"), "doctor", "--json", "--root", root.path().string(), "--config",
                        config_with(dir, "[\"" + broken + "\", \"" + good + "\"]")});
  CHECK(ran.exit_code == 1);
  CHECK_THAT(ran.err, ContainsSubstring(broken + ":5:6: 'check.id' must be a string, not an integer"));
  const auto doc = nlohmann::json::parse(ran.out);
  const auto* refused = find_check(doc, "policy.broken");
  REQUIRE(refused);
  CHECK((*refused)["status"] == "error");
  CHECK_THAT((*refused)["evidence"].get<std::string>(), ContainsSubstring("none of its checks ran"));
  REQUIRE(find_check(doc, "store.forward"));
  CHECK((*find_check(doc, "store.forward"))["status"] == "pass");
}

TEST_CASE("postured --once runs the policy checks in its cycle", "[cli][policy][daemon]") {
  FixtureRoot root;
  root.write("/proc/sys/net/ipv4/ip_forward", "0\n");
  FixtureRoot dir;
  const auto policy = write(dir, "store.toml", kSmallPolicy);
  const auto config = config_with(dir, "[\"" + policy + "\"]", "[\"store.forward\"]");
  CHECK(run({bin("postured"), "--check-config", "--config", config}).exit_code == 0);
  const auto enabled = config_with(dir, "[\"" + policy + "\"]");
  const auto ran = run({bin("postured"), "--once", "--root", root.path().string(), "--config", enabled});
  CHECK((ran.exit_code == 0 || ran.exit_code == 1));
  std::ifstream in(dir.path() / "state" / "last-report.json");
  const auto report = nlohmann::json::parse(in);
  const auto* check = find_check(report, "store.forward");
  REQUIRE(check);
  CHECK((*check)["status"] == "pass");
}
