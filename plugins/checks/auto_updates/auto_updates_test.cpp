#include <catch2/catch_test_macros.hpp>

#include "auto_updates/apt_config.hpp"
#include "support/check_runner.hpp"

using postured::Status;
using postured::checks::apt_reads_part;
using postured::checks::AptConfig;
using postured::checks::parse_apt_config;
using postured::test::FixtureRoot;
using postured::test::run_check;

namespace {

constexpr const char* kId = "linux.updates.automatic_security";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Debian 12's files as `dpkg-reconfigure -plow unattended-upgrades` leaves them (trimmed).
constexpr const char* kAutoUpgrades =
    "APT::Periodic::Update-Package-Lists \"1\";\n"
    "APT::Periodic::Unattended-Upgrade \"1\";\n";
constexpr const char* kUnattendedUpgrades =
    "Unattended-Upgrade::Origins-Pattern {\n"
    "        // Codename based matching:\n"
    "//      \"origin=Debian,codename=${distro_codename}-updates\";\n"
    "        \"origin=Debian,codename=${distro_codename},label=Debian\";\n"
    "        \"origin=Debian,codename=${distro_codename},label=Debian-Security\";\n"
    "        \"origin=Debian,codename=${distro_codename}-security,label=Debian-Security\";\n"
    "};\n"
    "Unattended-Upgrade::Package-Blacklist {\n"
    "};\n"
    "//Unattended-Upgrade::Mail \"\";\n";

// A Debian terminal with unattended-upgrades installed and configured the stock way.
void debian_with_unattended_upgrades(FixtureRoot& root) {
  root.write("/usr/bin/apt-get", "")
      .write("/usr/bin/unattended-upgrade", "")
      .write("/etc/apt/apt.conf.d/20auto-upgrades", kAutoUpgrades)
      .write("/etc/apt/apt.conf.d/50unattended-upgrades", kUnattendedUpgrades)
      .write("/lib/systemd/system/apt-daily-upgrade.timer", "[Timer]\nOnCalendar=*-*-* 6:00\n")
      .symlink("/lib/systemd/system/apt-daily-upgrade.timer",
               "/etc/systemd/system/timers.target.wants/apt-daily-upgrade.timer");
}

AptConfig parse(std::string_view content) {
  AptConfig config;
  parse_apt_config(content, "test.conf", config);
  return config;
}

}  // namespace

TEST_CASE("neither apt nor dnf is not applicable", "[auto_updates]") {
  FixtureRoot root;
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::not_applicable);
  CHECK(outcome.evidence == "no apt or dnf found");
}

TEST_CASE("stock Debian unattended-upgrades passes and names the files", "[auto_updates]") {
  FixtureRoot root;
  debian_with_unattended_upgrades(root);
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "APT::Periodic::Unattended-Upgrade \"1\" (/etc/apt/apt.conf.d/20auto-upgrades:2)"));
  CHECK(contains(outcome.evidence, "50unattended-upgrades:5"));
}

TEST_CASE("unattended-upgrades not installed fails", "[auto_updates]") {
  FixtureRoot root;
  root.write("/usr/bin/apt-get", "")
      .write("/var/lib/dpkg/status",
             "Package: unattended-upgrades\nStatus: deinstall ok config-files\nVersion: 2.9.1+nmu3\n\n"
             "Package: unattended-upgrades-extra\nStatus: install ok installed\n\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(outcome.evidence == "unattended-upgrades is not installed");
}

TEST_CASE("dpkg status alone proves unattended-upgrades is installed", "[auto_updates]") {
  FixtureRoot root;
  debian_with_unattended_upgrades(root);
  root.remove("/usr/bin/unattended-upgrade");
  std::string status;
  for (int i = 0; i < 2000; ++i) status += "Package: pkg" + std::to_string(i) + "\nStatus: install ok installed\n\n";
  status += "Package: unattended-upgrades\nPriority: optional\nStatus: install ok installed\nVersion: 2.9.1\n";
  root.write("/var/lib/dpkg/status", status);
  CHECK(run_check(kId, root).status == Status::pass);
}

TEST_CASE("an unreadable dpkg status file is an error", "[auto_updates]") {
  FixtureRoot root;
  root.write("/usr/bin/apt-get", "").mkdir("/var/lib/dpkg/status");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::error);
  CHECK(contains(outcome.evidence, "/var/lib/dpkg/status: is a directory"));
}

TEST_CASE("the last assignment in lexical file order wins", "[auto_updates]") {
  FixtureRoot root;
  debian_with_unattended_upgrades(root);
  root.write("/etc/apt/apt.conf.d/99-store-off", "APT::Periodic::Unattended-Upgrade \"0\";\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(contains(outcome.evidence, "APT::Periodic::Unattended-Upgrade \"0\" (/etc/apt/apt.conf.d/99-store-off:1)"));

  // Files apt skips do not count.
  root.write("/etc/apt/apt.conf.d/10-on", "APT::Periodic::Unattended-Upgrade \"1\";\n")
      .write("/etc/apt/apt.conf.d/99-store-off", "APT::Periodic::Unattended-Upgrade \"1\";\n")
      .write("/etc/apt/apt.conf.d/99-zz.disabled", "APT::Periodic::Unattended-Upgrade \"0\";\n")
      .write("/etc/apt/apt.conf.d/99-zz.dpkg-old", "APT::Periodic::Unattended-Upgrade \"0\";\n");
  CHECK(run_check(kId, root).status == Status::pass);

  // /etc/apt/apt.conf is read after every part.
  root.write("/etc/apt/apt.conf", "APT::Periodic::Update-Package-Lists \"0\";\n");
  const auto main_file = run_check(kId, root);
  CHECK(main_file.status == Status::fail);
  CHECK(contains(main_file.evidence, "Update-Package-Lists \"0\" (/etc/apt/apt.conf:1)"));
}

TEST_CASE("missing periodic settings fail and name the key", "[auto_updates]") {
  FixtureRoot root;
  debian_with_unattended_upgrades(root);
  root.write("/etc/apt/apt.conf.d/20auto-upgrades",
             "// APT::Periodic::Unattended-Upgrade \"1\";\n# APT::Periodic::Update-Package-Lists \"1\";\n"
             "/* APT::Periodic::Unattended-Upgrade \"1\";\n   still a comment */\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(contains(outcome.evidence, "APT::Periodic::Update-Package-Lists is not set"));
  CHECK(contains(outcome.evidence, "APT::Periodic::Unattended-Upgrade is not set"));
}

TEST_CASE("the nested form and other intervals count", "[auto_updates]") {
  FixtureRoot root;
  debian_with_unattended_upgrades(root);
  root.write("/etc/apt/apt.conf.d/20auto-upgrades",
             "APT {\n  Periodic {\n    Update-Package-Lists \"always\";\n    Unattended-Upgrade \"7\"; // weekly\n"
             "  };\n};\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "Unattended-Upgrade \"7\" (/etc/apt/apt.conf.d/20auto-upgrades:4)"));

  root.write("/etc/apt/apt.conf.d/20auto-upgrades",
             "apt::periodic { update-package-lists \"12h\"; unattended-upgrade 1; };");
  CHECK(run_check(kId, root).status == Status::pass);
}

TEST_CASE("APT::Periodic::Enable 0 turns everything off", "[auto_updates]") {
  FixtureRoot root;
  debian_with_unattended_upgrades(root);
  root.write("/etc/apt/apt.conf.d/10periodic", "APT::Periodic::Enable \"0\";\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(contains(outcome.evidence, "APT::Periodic::Enable \"0\" (/etc/apt/apt.conf.d/10periodic:1)"));
}

TEST_CASE("a missing 50unattended-upgrades fails", "[auto_updates]") {
  FixtureRoot root;
  debian_with_unattended_upgrades(root);
  root.remove("/etc/apt/apt.conf.d/50unattended-upgrades");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(contains(outcome.evidence, "50unattended-upgrades is missing"));
}

TEST_CASE("origins without security fail; commented-out security lines do not count", "[auto_updates]") {
  FixtureRoot root;
  debian_with_unattended_upgrades(root);
  root.write("/etc/apt/apt.conf.d/50unattended-upgrades",
             "Unattended-Upgrade::Origins-Pattern {\n"
             "  \"origin=Debian,codename=${distro_codename},label=Debian\";\n"
             "  // \"origin=Debian,codename=${distro_codename}-security,label=Debian-Security\";\n"
             "  # \"origin=Debian,label=Debian-Security\";\n"
             "};\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(contains(outcome.evidence, "no security origin"));
}

TEST_CASE("Allowed-Origins with a -security suite passes", "[auto_updates]") {
  FixtureRoot root;
  debian_with_unattended_upgrades(root);
  root.write("/etc/apt/apt.conf.d/50unattended-upgrades",
             "Unattended-Upgrade::Allowed-Origins {\n  \"${distro_id}:${distro_codename}-security\";\n};\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "50unattended-upgrades:2"));
}

TEST_CASE("#clear removes the origins set before it", "[auto_updates]") {
  FixtureRoot root;
  debian_with_unattended_upgrades(root);
  root.write("/etc/apt/apt.conf.d/90-store",
             "#clear Unattended-Upgrade::Origins-Pattern;\n"
             "Unattended-Upgrade::Origins-Pattern:: \"origin=Store\";\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(contains(outcome.evidence, "no security origin"));
}

TEST_CASE("a masked or disabled apt-daily-upgrade.timer fails", "[auto_updates]") {
  FixtureRoot root;
  debian_with_unattended_upgrades(root);
  root.symlink("/dev/null", "/etc/systemd/system/apt-daily-upgrade.timer");
  const auto masked = run_check(kId, root);
  CHECK(masked.status == Status::fail);
  CHECK(masked.evidence == "apt-daily-upgrade.timer is masked");

  root.remove("/etc/systemd/system");
  const auto disabled = run_check(kId, root);
  CHECK(disabled.status == Status::fail);
  CHECK(disabled.evidence == "apt-daily-upgrade.timer is not enabled");
}

TEST_CASE("an APT syntax error is an error that names file and line", "[auto_updates]") {
  FixtureRoot root;
  debian_with_unattended_upgrades(root);
  root.write("/etc/apt/apt.conf.d/60broken", "APT::Periodic::Unattended-Upgrade \"1\" junk;\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::error);
  CHECK(contains(outcome.evidence, "/etc/apt/apt.conf.d/60broken:1"));
}

TEST_CASE("dnf-automatic with the install timer passes", "[auto_updates]") {
  FixtureRoot root;
  root.write("/usr/bin/dnf", "")
      .write("/etc/dnf/automatic.conf", "[commands]\nupgrade_type = security\napply_updates = no\n")
      .symlink("/usr/lib/systemd/system/dnf-automatic-install.timer",
               "/etc/systemd/system/timers.target.wants/dnf-automatic-install.timer");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "security updates via dnf-automatic-install.timer"));
}

TEST_CASE("dnf-automatic.timer needs apply_updates = yes", "[auto_updates]") {
  FixtureRoot root;
  root.write("/usr/bin/dnf", "")
      .write("/etc/dnf/automatic.conf", "[commands]\n# apply_updates = yes\napply_updates = no\n[emitters]\n")
      .symlink("/usr/lib/systemd/system/dnf-automatic.timer",
               "/etc/systemd/system/timers.target.wants/dnf-automatic.timer");
  const auto only_download = run_check(kId, root);
  CHECK(only_download.status == Status::fail);
  CHECK(contains(only_download.evidence, "apply_updates is not yes"));

  root.write("/etc/dnf/automatic.conf", "[commands]\napply_updates = yes\n[other]\napply_updates = no\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(contains(outcome.evidence, "default updates"));
}

TEST_CASE("dnf-automatic problems fail: not installed, no timer, odd upgrade_type", "[auto_updates]") {
  FixtureRoot root;
  root.write("/usr/bin/dnf", "");
  const auto missing = run_check(kId, root);
  CHECK(missing.status == Status::fail);
  CHECK(contains(missing.evidence, "dnf-automatic is not installed"));

  root.write("/etc/dnf/automatic.conf", "[commands]\nupgrade_type = minimal\napply_updates = yes\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(contains(outcome.evidence, "upgrade_type = minimal"));
  CHECK(contains(outcome.evidence, "neither dnf-automatic.timer nor dnf-automatic-install.timer"));

  root.remove("/etc/dnf/automatic.conf");
  root.mkdir("/etc/dnf/automatic.conf");
  CHECK(run_check(kId, root).status == Status::error);
}

TEST_CASE("apt.conf parser: scopes, lists, quotes and comments", "[auto_updates]") {
  const auto config = parse(
      "Dir \"/\" { Etc \"etc/apt/\"; };  // value and scope at once\n"
      "Acquire::http::Proxy \"http://proxy.example:3128\"; # a comment after a URL\n"
      "DPkg::Pre-Install-Pkgs {\"/usr/sbin/dpkg-preconfigure --apt\";};\n"
      "A { B { C \"1\"; }; D:: \"x\"; named \"y\"; };\n"
      "/* multi\n line */ E \"2\";\n");
  REQUIRE(config.error.empty());
  REQUIRE(config.find("dir"));
  CHECK(config.find("dir")->value == "/");
  CHECK(config.find("dir::etc")->value == "etc/apt/");
  CHECK(config.find("acquire::http::proxy")->value == "http://proxy.example:3128");
  REQUIRE(config.list("DPkg::Pre-Install-Pkgs").size() == 1);
  CHECK(config.list("DPkg::Pre-Install-Pkgs")[0].value == "/usr/sbin/dpkg-preconfigure --apt");
  CHECK(config.find("A::B::C")->value == "1");
  const auto d = config.list("a::d");
  REQUIRE(d.size() == 1);
  CHECK(d[0].value == "x");
  const auto a = config.list("a");  // direct children only: "named", not b::c
  REQUIRE(a.size() == 1);
  CHECK(a[0].value == "y");
  REQUIRE(config.find("E"));
  CHECK(config.find("E")->origin == "test.conf:6");
}

TEST_CASE("apt.conf parser: syntax errors carry file and line", "[auto_updates]") {
  CHECK(parse("A \"1\"").error == "test.conf:1: statement without ';' at end of file");
  CHECK(parse("\n{ \"x\"; };").error == "test.conf:2: block starts with no name");
  CHECK(parse("A { #clear B; };").error == "test.conf:1: directives are only allowed at the top level");
  CHECK(parse("#frobnicate X;").error.empty());  // '#' without a known directive starts a comment
  CHECK(parse("\"#frobnicate\" X;").error == "test.conf:1: unsupported directive '#frobnicate'");
  CHECK(parse("#clear;").error == "test.conf:1: #clear needs the name of an option tree");
  CHECK(parse("}; A \"1\";").error.empty());  // a stray brace is harmless to apt
}

TEST_CASE("apt reads only well-named parts", "[auto_updates]") {
  CHECK(apt_reads_part("20auto-upgrades"));
  CHECK(apt_reads_part("99local.conf"));
  CHECK(apt_reads_part("docker_clean"));
  CHECK_FALSE(apt_reads_part("50unattended-upgrades.ucf-dist"));
  CHECK_FALSE(apt_reads_part("20auto-upgrades~"));
  CHECK_FALSE(apt_reads_part("my settings"));
  CHECK_FALSE(apt_reads_part(""));
}
