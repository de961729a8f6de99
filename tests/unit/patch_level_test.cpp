#include <catch2/catch_test_macros.hpp>

#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "patch/inventory.hpp"
#include "patch/patch_level.hpp"
#include "support/fixture_root.hpp"

using namespace postured::patch;
using postured::test::FixtureRoot;

namespace {

constexpr const char* kStatus =
    "Package: openssl\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n"
    "Version: 3.0.11-1~deb12u2\nDescription: Secure Sockets Layer toolkit\n multi-line: not a field\n\n"
    "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\n"
    "Package: libssl3\nStatus: install ok installed\nArchitecture: i386\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\n"
    "Package: libfoo1\nStatus: hold ok installed\nArchitecture: amd64\nSource: foo (1.2-3)\nVersion: 1.2-3+b1\n\n"
    "Package: removed\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n\n"
    "Package: broken\nStatus: install reinstreq half-installed\nArchitecture: amd64\nVersion: 1.0\n\n"
    "Package: unpacked\nStatus: install ok unpacked\nArchitecture: amd64\nVersion: 1.0\n";

Baseline baseline_of(const std::string& toml) {
  auto load = parse_baseline(toml, "b.toml");
  REQUIRE(load.baseline);
  return *load.baseline;
}

}  // namespace

TEST_CASE("dpkg status: installed packages only, with source and source version", "[patch][inventory]") {
  const auto packages = parse_dpkg_status(kStatus);
  REQUIRE(packages.size() == 4);
  CHECK(packages[0].name == "openssl");
  CHECK(packages[0].source == "openssl");
  CHECK(packages[0].version == "3.0.11-1~deb12u2");
  CHECK(packages[1].source == "openssl");
  CHECK(packages[2].arch == "i386");
  CHECK(packages[3].name == "libfoo1");  // held: still installed
  CHECK(packages[3].source == "foo");
  CHECK(packages[3].source_version == "1.2-3");
  CHECK(packages[3].version == "1.2-3+b1");
  CHECK(parse_dpkg_status("").empty());
  CHECK(parse_dpkg_status("Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\n").size() == 1);
}

TEST_CASE("inventory: dpkg, a broken rpm database, none at all", "[patch][inventory]") {
  FixtureRoot root;
  root.write("/var/lib/dpkg/status", kStatus);
  auto read = read_inventory(*root.host());
  REQUIRE(read.inventory);
  CHECK(read.inventory->format == PackageFormat::dpkg);
  CHECK(read.inventory->packages.size() == 4);

  // rpm's database is read only where dpkg's is absent (tests/unit/rpm_inventory_test.cpp); a
  // file that is not SQLite is an error, never an empty inventory.
  FixtureRoot rpm;
  rpm.write("/var/lib/rpm/rpmdb.sqlite", "SQLite format 3");
  read = read_inventory(*rpm.host());
  CHECK(!read.inventory);
  CHECK(read.error.starts_with("cannot read /var/lib/rpm/rpmdb.sqlite: "));

  FixtureRoot none;
  read = read_inventory(*none.host());
  CHECK(!read.inventory);
  CHECK(read.error.starts_with("no package database found"));

  FixtureRoot unreadable;
  unreadable.mkdir("/var/lib/dpkg/status");
  read = read_inventory(*unreadable.host());
  CHECK(read.error.starts_with("cannot read /var/lib/dpkg/status: "));
}

TEST_CASE("baseline comparison: by binary or source name, one row per package and fix", "[patch][inventory]") {
  const Inventory inventory{PackageFormat::dpkg, parse_dpkg_status(kStatus)};
  const auto baseline = baseline_of(
      "[[package]]\nname = \"openssl\"\nfixed = \"3.0.15-1~deb12u1\"\ncves = [\"CVE-2024-5535\"]\nseverity = \"high\"\n"
      "published = 2024-10-26\n"
      "[[package]]\nname = \"foo\"\nfixed = \"1.2-3\"\n"      // the source version equals: not below
      "[[package]]\nname = \"libfoo1\"\nfixed = \"1.2-3+b2\"\n"  // the binary version is below
      "[[package]]\nname = \"removed\"\nfixed = \"2.0\"\n"       // not installed
      "[[package]]\nname = \"openssl\"\nfixed = \"3.0.11-1~deb12u1\"\n");  // already fixed
  const auto below = compare_with_baseline(inventory, baseline);
  REQUIRE(below.size() == 3);
  CHECK(below[0].name == "openssl");
  CHECK(below[0].required == "3.0.15-1~deb12u1");
  CHECK(below[0].severity == postured::Severity::high);
  CHECK(below[1].name == "libssl3");  // amd64 and i386 alike: one row
  CHECK(below[2].name == "libfoo1");
  CHECK(below[2].installed == "1.2-3+b1");
}

TEST_CASE("patch level: the report's patch block", "[patch][report]") {
  FixtureRoot root;
  root.write("/var/lib/dpkg/status", kStatus)
      .write("/var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages",
             "Package: libssl3\nVersion: 3.0.17-1~deb12u3\nArchitecture: amd64\n")
      .write("/var/run/reboot-required", "")
      .write("/baseline.json", R"({"package": [{"name": "openssl", "fixed": "3.0.15-1~deb12u1"}]})");
  auto config = postured::default_config();
  config.patch.baseline = root.real("/baseline.json");
  const auto block = patch_report(*root.host(), config);

  CHECK(block["packages_total"] == 4);
  CHECK_FALSE(block.contains("packages"));  // the inventory stays on the device: posturectl patch --json
  REQUIRE(block["below_baseline"].size() == 2);
  CHECK(block["below_baseline"][0] == nlohmann::ordered_json{{"name", "openssl"},
                                                             {"installed", "3.0.11-1~deb12u2"},
                                                             {"required", "3.0.15-1~deb12u1"},
                                                             {"cves", nlohmann::ordered_json::array()},
                                                             {"severity", nullptr},
                                                             {"published", nullptr}});
  CHECK(block["last_security_update_at"].is_null());  // no logs
  CHECK(block["pending_security_updates"] == 1);
  CHECK(block["reboot_required"] == true);
  CHECK(block["package_manager"] == "dpkg");
  CHECK(block["baseline"] == config.patch.baseline.string());
  CHECK(block["errors"].empty());
  // The DESIGN.md fields first, in order.
  std::vector<std::string> keys;
  for (const auto& [key, value] : block.items()) keys.push_back(key);
  CHECK(std::vector<std::string>(keys.begin(), keys.begin() + 5) ==
        std::vector<std::string>{"packages_total", "below_baseline", "last_security_update_at",
                                 "pending_security_updates", "reboot_required"});
}

TEST_CASE("patch level: unknown stays null, and a bad baseline is an error in the block", "[patch][report]") {
  FixtureRoot root;
  root.write("/baseline.toml", "[[package]]\nname = 1\n");
  auto config = postured::default_config();
  config.patch.baseline = root.real("/baseline.toml");
  const auto block = patch_report(*root.host(), config);
  CHECK(block["packages_total"].is_null());
  CHECK(block["pending_security_updates"].is_null());
  CHECK(block["reboot_required"] == false);
  REQUIRE(block["errors"].size() == 3);  // two baseline problems, then the inventory
  CHECK(block["errors"][0].get<std::string>().ends_with("baseline.toml:1:1: missing required key 'package.fixed' (the first version with the fix)"));
  CHECK(block["errors"][2].get<std::string>().starts_with("no package database found"));

  root.write("/var/lib/dpkg/status", kStatus);
  const auto level = inspect_patch_level(*root.host(), nullptr);
  CHECK(!level.pending_security);
  CHECK(to_json(level)["pending_security_updates"].is_null());
  CHECK(!level.notes.empty());
  const auto table = render_patch_table(level, false);
  CHECK(table.find("pending security updates  unknown") != std::string::npos);
  CHECK(table.find("below baseline            no baseline") != std::string::npos);
}
