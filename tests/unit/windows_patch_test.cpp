// agent/patch/windows_*: the Windows patch level (version, hotfixes, programs, reboot) read through an
// in-memory registry, the Windows baseline's validation, and days behind. tests/windows/patch_level_test.cpp
// reads the same layout from Wine's real registry.
#include <catch2/catch_test_macros.hpp>

#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/text.hpp"
#include "patch/patch_level.hpp"
#include "patch/windows_baseline.hpp"
#include "patch/windows_patch.hpp"
#include "support/fixture_root.hpp"
#include "support/memory_registry.hpp"

namespace {

namespace patch = postured::patch;
using postured::RegistryBits;
using postured::test::MemoryRegistry;
using namespace std::chrono;

std::vector<std::string> errors_of(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& e : patch::parse_windows_baseline(text, "b.toml").errors) out.push_back(e.to_string());
  return out;
}

// A CBS package with its state and, when installed, its install time as FILETIME halves.
void package(MemoryRegistry& registry, const std::string& name, std::uint32_t state,
             std::optional<sys_seconds> installed = std::nullopt) {
  const auto key = std::string(patch::kCbsPackagesKey) + "\\" + name;
  registry.dword(key, "CurrentState", state);
  if (installed) {
    const auto ticks =
        static_cast<std::uint64_t>(installed->time_since_epoch().count()) * 10000000ULL + 116444736000000000ULL;
    registry.dword(key, "InstallTimeHigh", ticks >> 32).dword(key, "InstallTimeLow", ticks & 0xffffffffULL);
  }
}

void program(MemoryRegistry& registry, const std::string& id, const std::string& name, const std::string& version,
             RegistryBits bits = RegistryBits::native64) {
  const auto key = std::string(patch::kUninstallKey) + "\\" + id;
  registry.string(key, "DisplayName", name, bits).string(key, "DisplayVersion", version, bits);
  registry.string(key, "Publisher", "Example Ltd", bits);
}

// Windows 10 22H2 at 19045.3570 (October 2023), with a few packages and programs.
MemoryRegistry a_terminal() {
  MemoryRegistry registry;
  const std::string v(patch::kWindowsVersionKey);
  registry.string(v, "CurrentBuild", "19045").dword(v, "UBR", 3570).string(v, "DisplayVersion", "22H2");
  registry.string(v, "ProductName", "Windows 10 Enterprise LTSC 2021").string(v, "EditionID", "EnterpriseS");
  const auto october = sys_days(2023y / October / 12) + 9h;
  package(registry, "Package_for_KB5031356~31bf3856ad364e35~amd64~~19041.3570.1.11", 0x70, october);
  package(registry, "Package_1_for_KB5031356~31bf3856ad364e35~amd64~~19041.3570.1.11", 0x70, october + 2min);
  package(registry, "Package_for_RollupFix~31bf3856ad364e35~amd64~~19041.3570.1.11", 0x70, october);
  package(registry, "Package_for_KB890830~31bf3856ad364e35~amd64~~10.0.1.0", 0x50, sys_days(2023y / May / 1));
  package(registry, "Microsoft-Windows-Printing-PremiumTools-Package~31bf3856ad364e35~amd64~~10.0.19041.1", 0x70);
  program(registry, "7-Zip", "7-Zip 23.01 (x64)", "23.01");
  program(registry, "{A1B2}", "POS Till Application", "4.2.0");
  program(registry, "Notepad++", "Notepad++ (32-bit x86)", "8.5.8", RegistryBits::wow32);
  registry.dword(std::string(patch::kUninstallKey) + "\\{Hidden}", "SystemComponent", 1)
      .string(std::string(patch::kUninstallKey) + "\\{Hidden}", "DisplayName", "Runtime part");
  registry.string(std::string(patch::kUninstallKey) + "\\KB123", "DisplayName", "Update for POS Till")
      .string(std::string(patch::kUninstallKey) + "\\KB123", "ParentKeyName", "{A1B2}");
  registry.add_key(std::string(patch::kUninstallKey) + "\\NoName");
  return registry;
}

const std::string kBaseline = R"(
[[update]]
build = 19045
ubr = 3693
published = 2023-11-14
kb = "KB5032189"
name = "Windows 10 22H2"

[[update]]
build = 19045
ubr = 5131
published = 2024-11-12
kb = "KB5046613"
name = "Windows 10 22H2"
severity = "critical"

[[update]]
build = 22631
ubr = 4460
published = "2024-11-12"
)";

}  // namespace

TEST_CASE("CBS package names: KB, rollup, arch, version", "[patch][windows]") {
  const auto kb = patch::parse_cbs_package_name("Package_for_KB5031356~31bf3856ad364e35~amd64~~19041.3570.1.11");
  REQUIRE(kb);
  CHECK(kb->kb == "KB5031356");
  CHECK_FALSE(kb->rollup);
  CHECK(kb->arch == "amd64");
  CHECK(kb->version == "19041.3570.1.11");
  CHECK(patch::parse_cbs_package_name("Package_12_for_KB5031356~31bf3856ad364e35~wow64~~19041.3570.1.11")->kb ==
        "KB5031356");
  const auto rollup = patch::parse_cbs_package_name("Package_for_RollupFix~31bf3856ad364e35~amd64~~19041.3570.1.11");
  CHECK(rollup->rollup);
  CHECK(rollup->kb.empty());
  CHECK(patch::parse_cbs_package_name("Microsoft-Windows-Foo-Package~31bf3856ad364e35~amd64~en-US~10.0.1")->kb.empty());
  CHECK_FALSE(patch::parse_cbs_package_name("Package_for_KB5031356"));
  CHECK_FALSE(patch::parse_cbs_package_name("a~b~c~d"));
  CHECK(patch::parse_cbs_package_name("Package_for_KBx~31bf3856ad364e35~amd64~~1")->kb.empty());
  CHECK(patch::cbs_state(0x70) == patch::CbsState::installed);
  CHECK(patch::cbs_state(0x50) == patch::CbsState::superseded);
  CHECK(patch::cbs_state(0x60) == patch::CbsState::install_pending);
  CHECK(patch::cbs_state(0xffffffff) == patch::CbsState::other);
}

TEST_CASE("the Windows version, hotfixes and programs are read from the registry", "[patch][windows]") {
  auto registry = a_terminal();
  std::string why;
  const auto version = patch::read_windows_version(registry, &why);
  CHECK(why.empty());
  CHECK(version.os_version() == "19045.3570");
  CHECK(version.edition_id == "EnterpriseS");
  CHECK(version.product() == "Windows 10 Enterprise LTSC 2021");

  bool pending = false;
  const auto hotfixes = patch::read_hotfixes(registry, &pending, &why);
  REQUIRE(hotfixes.size() == 2);
  CHECK(hotfixes[0].kb == "KB890830");  // numeric order
  CHECK(hotfixes[0].state == patch::CbsState::superseded);
  CHECK(hotfixes[1].kb == "KB5031356");
  CHECK(hotfixes[1].state == patch::CbsState::installed);
  REQUIRE(hotfixes[1].installed_at);
  CHECK(postured::text::rfc3339_utc(*hotfixes[1].installed_at) == "2023-10-12T09:02:00Z");  // the later package
  CHECK_FALSE(pending);

  const auto programs = patch::read_programs(registry, &why);
  REQUIRE(programs);
  REQUIRE(programs->size() == 3);
  CHECK((*programs)[0].name == "7-Zip 23.01 (x64)");
  CHECK((*programs)[0].arch == "x64");
  CHECK((*programs)[2].name == "Notepad++ (32-bit x86)");
  CHECK((*programs)[2].arch == "x86");

  // Windows 11 still calls itself "Windows 10" in ProductName.
  registry.string(std::string(patch::kWindowsVersionKey), "CurrentBuild", "22631");
  registry.string(std::string(patch::kWindowsVersionKey), "ProductName", "Windows 10 Enterprise");
  CHECK(patch::read_windows_version(registry, &why).product() == "Windows 11 Enterprise");
}

TEST_CASE("a pending servicing package or a reboot key means a reboot is required", "[patch][windows]") {
  const auto now = sys_days(2026y / November / 26) + 8h;
  auto registry = a_terminal();
  CHECK(patch::inspect_windows_patch_level(registry, std::nullopt, now).reboot_required == false);
  package(registry, "Package_for_KB5032189~31bf3856ad364e35~amd64~~19041.3693.1.5", 0x60);
  auto level = patch::inspect_windows_patch_level(registry, std::nullopt, now);
  CHECK(level.reboot_required == true);
  CHECK(level.hotfixes.size() == 3);

  auto other = a_terminal();
  other.add_key(std::string(patch::kCbsRebootPendingKey));
  CHECK(patch::inspect_windows_patch_level(other, std::nullopt, now).reboot_required == true);
  auto third = a_terminal();
  third.add_key(std::string(patch::kWindowsUpdateRebootKey));
  CHECK(patch::inspect_windows_patch_level(third, std::nullopt, now).reboot_required == true);
}

TEST_CASE("the Windows baseline is validated with file:line:col", "[patch][windows]") {
  const auto load = patch::parse_windows_baseline(kBaseline, "b.toml");
  for (const auto& e : load.errors) FAIL(e.to_string());
  REQUIRE(load.baseline);
  CHECK(load.baseline->updates.size() == 3);
  CHECK(load.baseline->updates[1].severity == postured::Severity::critical);

  CHECK(errors_of("[[update]]\nbuild = 19045\nubr = 5131\n") ==
        std::vector<std::string>{"b.toml:1:1: missing required key 'update.published' (the day the update came out)"});
  CHECK(errors_of("[[update]]\nbuild = \"19045\"\nubr = 5131\npublished = 2024-11-12\n") ==
        std::vector<std::string>{
            "b.toml:2:9: 'update.build' must be a whole number from 0 to 999999 (the Windows build, e.g. 19045)"});
  CHECK(errors_of("[[update]]\nbuild = 19045\nubr = 5131\npublished = 2024-02-30\n").size() == 1);
  CHECK(errors_of("[[update]]\nbuild = 19045\nubr = 5131\npublished = 2024-11-12\nkb = \"5046613\"\n") ==
        std::vector<std::string>{"b.toml:5:6: 'update.kb' must be a string like \"KB5046613\""});
  CHECK(errors_of("[[update]]\nbuild = 19045\nubr = 5131\npublished = 2024-11-12\nfixed = 1\n") ==
        std::vector<std::string>{"b.toml:5:1: unknown key 'update.fixed' (expected one of build, ubr, published, kb, "
                                 "name, cves, severity)"});
  CHECK(errors_of("[[update]]\nbuild = 19045\nubr = 5131\npublished = 2024-11-12\n"
                  "[[update]]\nbuild = 19045\nubr = 5131\npublished = 2024-11-12\n") ==
        std::vector<std::string>{
            "b.toml:5:1: a second [[update]] for build 19045 and UBR 5131 (the first is at line 1)"});
  CHECK(errors_of("[[package]]\nname = \"x\"\n") ==
        std::vector<std::string>{"b.toml:1:3: unknown key 'package' (a Windows baseline holds [[update]] tables: "
                                 "build, ubr, published, ...)"});
  CHECK(errors_of("[[update]\n").size() == 1);
}

TEST_CASE("days behind count from the oldest missing cumulative update", "[patch][windows]") {
  const auto baseline = *patch::parse_windows_baseline(kBaseline, "b.toml").baseline;
  const auto today = sys_days(2026y / November / 26);
  auto standing = patch::standing_of(baseline, 19045, 3570, today);
  CHECK(standing.build_known);
  CHECK(standing.required->ubr == 5131);
  CHECK(standing.oldest_missing->ubr == 3693);
  CHECK(standing.days_behind == (today - sys_days(2023y / November / 14)).count());
  standing = patch::standing_of(baseline, 19045, 4000, today);
  CHECK(standing.oldest_missing->ubr == 5131);
  CHECK(standing.days_behind == (today - sys_days(2024y / November / 12)).count());
  standing = patch::standing_of(baseline, 19045, 5131, today);
  CHECK(standing.oldest_missing == nullptr);
  CHECK(standing.days_behind == 0);
  standing = patch::standing_of(baseline, 19045, 6000, today);
  CHECK(standing.days_behind == 0);
  standing = patch::standing_of(baseline, 17763, 1, today);
  CHECK_FALSE(standing.build_known);
  CHECK_FALSE(standing.days_behind);
  // An update published after "today" (a baseline from the future) is not negative days.
  CHECK(patch::standing_of(baseline, 22631, 1, sys_days(2024y / November / 1)).days_behind == 0);
}

TEST_CASE("the Windows patch block has the report's shape", "[patch][windows]") {
  const auto now = sys_days(2026y / November / 26) + 8h;
  auto baseline = patch::parse_windows_baseline(kBaseline, "b.toml").baseline;
  const auto level = patch::inspect_windows_patch_level(a_terminal(), std::move(baseline), now);
  const auto block = patch::to_json(level);
  CHECK(block["packages_total"] == 3);
  REQUIRE(block["below_baseline"].size() == 1);
  const auto& row = block["below_baseline"][0];
  CHECK(row["name"] == "Windows 10 22H2");
  CHECK(row["installed"] == "19045.3570");
  CHECK(row["required"] == "19045.5131");
  CHECK(row["published"] == "2023-11-14");
  CHECK(row["kb"] == "KB5046613");
  CHECK(row["severity"] == "critical");
  CHECK(row["days_behind"] == (sys_days(2026y / November / 26) - sys_days(2023y / November / 14)).count());
  CHECK(block["last_security_update_at"] == "2023-10-12T09:02:00Z");
  CHECK(block["pending_security_updates"].is_null());
  CHECK(block["reboot_required"] == false);
  CHECK(block["package_manager"] == "windows");
  CHECK(block["windows"]["os_version"] == "19045.3570");
  CHECK(block["windows"]["hotfixes"].size() == 2);
  CHECK(block["errors"].empty());

  // A registry without the keys: errors that say what is missing, and nulls, never zeros.
  const auto empty = patch::to_json(patch::inspect_windows_patch_level(MemoryRegistry{}, std::nullopt, now));
  CHECK(empty["packages_total"].is_null());
  CHECK(empty["errors"].size() == 3);
  CHECK(empty["errors"][0] == "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\CurrentBuild: not set");
  CHECK(empty["windows"]["days_behind"].is_null());
}

TEST_CASE("the shipped Windows baseline example is valid", "[patch][windows]") {
  const auto load = patch::load_windows_baseline_file(std::string(POSTURED_SOURCE_DIR) +
                                                      "/config/windows-patch-baseline.example.toml");
  for (const auto& e : load.errors) FAIL(e.to_string());
  REQUIRE(load.baseline);
  CHECK(load.baseline->updates.size() == 5);
  CHECK(patch::load_windows_baseline_file("/nonexistent/baseline.toml").errors.front().to_string() ==
        "/nonexistent/baseline.toml:1:1: cannot read the Windows patch baseline");
}

TEST_CASE("posturectl patch's Windows table says how far behind the terminal is", "[patch][windows]") {
  const auto now = sys_days(2026y / November / 26) + 8h;
  const auto level = patch::inspect_windows_patch_level(
      a_terminal(), patch::parse_windows_baseline(kBaseline, "b.toml").baseline, now);
  CHECK(patch::has_problems(level));
  const auto table = patch::render_windows_patch_table(level, false);
  CHECK(table.find("  windows           Windows 10 Enterprise LTSC 2021 22H2 (EnterpriseS)\n") != std::string::npos);
  CHECK(table.find("  build             19045.3570\n") != std::string::npos);
  CHECK(table.find("  baseline          below: requires 19045.5131 (KB5046613) (b.toml)\n") != std::string::npos);
  CHECK(table.find("  days behind       1108 (since KB5032189 of 2023-11-14)\n") != std::string::npos);
  CHECK(table.find("  hotfixes          2 KBs, 1 installed\n") != std::string::npos);
  CHECK(table.find("  reboot required   no\n") != std::string::npos);
  auto registry = a_terminal();
  registry.dword(std::string(patch::kWindowsVersionKey), "UBR", 5131);
  const auto current =
      patch::inspect_windows_patch_level(registry, patch::parse_windows_baseline(kBaseline, "b.toml").baseline, now);
  CHECK_FALSE(patch::has_problems(current));
  CHECK(patch::render_windows_patch_table(current, false).find("  baseline          met (b.toml)\n") !=
        std::string::npos);
}

TEST_CASE("the report's patch block comes from the registry on a host that has one", "[patch][windows]") {
  postured::test::FixtureRoot root;
  const auto registry = a_terminal();
  postured::test::HostWithRegistry host(root.host(), registry);
  auto config = postured::default_config();
  config.patch.baseline = std::string(POSTURED_SOURCE_DIR) + "/config/windows-patch-baseline.example.toml";
  const auto block = patch::patch_report(host, config);
  CHECK(block["package_manager"] == "windows");
  CHECK_FALSE(block.contains("packages"));  // programs stay on the device, as the Linux inventory does
  CHECK(block["packages_total"] == 3);
  CHECK(block["below_baseline"][0]["required"] == "19045.5131");
  CHECK(block["errors"].empty());
  // An invalid baseline is reported in the block, never thrown.
  config.patch.baseline = "/nonexistent/windows-baseline.toml";
  CHECK(patch::patch_report(host, config)["errors"][0] ==
        "/nonexistent/windows-baseline.toml:1:1: cannot read the Windows patch baseline");
  // The same host without a registry is read as Linux.
  const auto linux_host = root.host();
  CHECK(patch::patch_report(*linux_host, postured::default_config())["package_manager"].is_null());
}
