// posturectl patch against fixture roots: the JSON block, the table, and the exit codes.
#include <catch2/catch_test_macros.hpp>

#include <nlohmann/json.hpp>

#include "support/fixture_root.hpp"
#include "support/process.hpp"

using postured::test::bin;
using postured::test::FixtureRoot;
using postured::test::run;

namespace {

constexpr const char* kStatus =
    "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u2\n\n"
    "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-10+deb12u14\n";

// A config of its own, so that the machine's /etc/postured does not decide the baseline.
std::string config_in(FixtureRoot& root, const std::string& patch_section = "") {
  root.write("/cfg/postured.toml", "[agent]\nstore_id = \"store-1\"\n" + patch_section);
  return root.real("/cfg/postured.toml");
}

}  // namespace

TEST_CASE("posturectl patch --json: the patch block, exit 0 when nothing is due", "[patch][cli]") {
  FixtureRoot root;
  root.write("/var/lib/dpkg/status", kStatus);
  const auto ran = run({bin("posturectl"), "patch", "--json", "--root", root.path(), "--config", config_in(root)});
  INFO(ran.err);
  REQUIRE(ran.exit_code == 0);
  const auto block = nlohmann::json::parse(ran.out);
  CHECK(block["packages_total"] == 2);
  CHECK(block["below_baseline"].empty());
  CHECK(block["pending_security_updates"].is_null());
  CHECK(block["reboot_required"] == false);
}

TEST_CASE("posturectl patch --baseline: below the baseline exits 1, --baseline beats patch.baseline", "[patch][cli]") {
  FixtureRoot root;
  root.write("/var/lib/dpkg/status", kStatus)
      .write("/b/ok.toml", "[[package]]\nname = \"curl\"\nfixed = \"7.88.1-10+deb12u14\"\n")
      .write("/b/due.json", R"({"package": [{"name": "openssl", "fixed": "3.0.15-1~deb12u1", "severity": "high"}]})");
  const auto config = config_in(root, "[patch]\nbaseline = \"" + root.real("/b/ok.toml").string() + "\"\n");
  auto ran = run({bin("posturectl"), "patch", "--json", "--root", root.path(), "--config", config});
  CHECK(ran.exit_code == 0);

  ran = run({bin("posturectl"), "patch", "--root", root.path(), "--config", config, "--baseline", root.real("/b/due.json")});
  CHECK(ran.exit_code == 1);
  CHECK(ran.out.find("openssl  3.0.11-1~deb12u2  3.0.15-1~deb12u1  high") != std::string::npos);
}

TEST_CASE("posturectl patch: a reboot due exits 1; a bad baseline 2; no inventory 3", "[patch][cli]") {
  FixtureRoot root;
  root.write("/var/lib/dpkg/status", kStatus).write("/run/reboot-required", "");
  const auto config = config_in(root);
  auto ran = run({bin("posturectl"), "patch", "--json", "--root", root.path(), "--config", config});
  CHECK(ran.exit_code == 1);
  CHECK(nlohmann::json::parse(ran.out)["reboot_required"] == true);

  root.write("/b/bad.toml", "[[package]]\nname = \"curl\"\nfixed = \"1\"\npublished = \"soon\"\n");
  ran = run({bin("posturectl"), "patch", "--root", root.path(), "--config", config, "--baseline", root.real("/b/bad.toml")});
  CHECK(ran.exit_code == 2);
  CHECK(ran.err.find("bad.toml:4:13: 'package.published' must be a date as YYYY-MM-DD, not 'soon'") != std::string::npos);
  CHECK(ran.out.empty());

  root.remove("/var/lib/dpkg");
  ran = run({bin("posturectl"), "patch", "--json", "--root", root.path(), "--config", config});
  CHECK(ran.exit_code == 3);
  CHECK(ran.err.find("no package database found") != std::string::npos);
}
