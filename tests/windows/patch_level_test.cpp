// agent/patch/windows_*: the Windows patch level read from a registry the test prepared with
// RegSetValueExW (build, UBR, CBS packages, Uninstall keys in both views), and from Wine's own registry.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <nlohmann/json.hpp>

#include "core/text.hpp"
#include "patch/windows_baseline.hpp"
#include "patch/windows_patch.hpp"
#include "registry_prepared.hpp"

namespace {

namespace patch = postured::patch;
using Catch::Matchers::ContainsSubstring;
using postured::RegistryBits;
using postured::test::PreparedRegistry;
using namespace std::chrono;

void package(PreparedRegistry& registry, const std::string& name, DWORD state,
             std::optional<sys_seconds> installed = std::nullopt) {
  const auto key = std::string(patch::kCbsPackagesKey) + "\\" + name;
  registry.dword(key, "CurrentState", state);
  if (installed) {
    const auto ticks =
        static_cast<std::uint64_t>(installed->time_since_epoch().count()) * 10000000ULL + 116444736000000000ULL;
    registry.dword(key, "InstallTimeHigh", static_cast<DWORD>(ticks >> 32))
        .dword(key, "InstallTimeLow", static_cast<DWORD>(ticks & 0xffffffffULL));
  }
}

void program(PreparedRegistry& registry, const std::string& id, const std::string& name, const std::string& version,
             RegistryBits bits) {
  const auto key = std::string(patch::kUninstallKey) + "\\" + id;
  registry.string(key, "DisplayName", name, bits).string(key, "DisplayVersion", version, bits);
  registry.string(key, "Publisher", "Example Ltd", bits);
}

void prepare_terminal(PreparedRegistry& registry) {
  const std::string v(patch::kWindowsVersionKey);
  registry.string(v, "CurrentBuild", "19045").dword(v, "UBR", 3570).string(v, "DisplayVersion", "22H2");
  registry.string(v, "ProductName", "Windows 10 Enterprise").string(v, "EditionID", "Enterprise");
  const auto october = sys_days(2023y / October / 12) + 9h;
  package(registry, "Package_for_KB5031356~31bf3856ad364e35~amd64~~19041.3570.1.11", 0x70, october);
  package(registry, "Package_for_RollupFix~31bf3856ad364e35~amd64~~19041.3570.1.11", 0x70, october);
  package(registry, "Package_for_KB5030841~31bf3856ad364e35~amd64~~19041.3448.1.5", 0x50, october - days(30));
  package(registry, "Microsoft-Windows-Client-Features-Package~31bf3856ad364e35~amd64~~10.0.19041.3570", 0x70);
  program(registry, "7-Zip", "7-Zip 23.01 (x64)", "23.01", RegistryBits::native64);
  program(registry, "{0C0A1B2C}", "POS Till Application", "4.2.0", RegistryBits::native64);
  program(registry, "Notepad++", "Notepad++ (32-bit x86)", "8.5.8", RegistryBits::wow32);
  registry.string(std::string(patch::kUninstallKey) + "\\{Hidden}", "DisplayName", "Runtime part")
      .dword(std::string(patch::kUninstallKey) + "\\{Hidden}", "SystemComponent", 1);
}

}  // namespace

TEST_CASE("patch: build and UBR and hotfixes and programs from a prepared registry", "[patch]") {
  PreparedRegistry registry;
  prepare_terminal(registry);
  const auto baseline = patch::parse_windows_baseline(
      "[[update]]\nbuild = 19045\nubr = 3693\npublished = 2023-11-14\nkb = \"KB5032189\"\n"
      "[[update]]\nbuild = 19045\nubr = 5131\npublished = 2024-11-12\nkb = \"KB5046613\"\nname = \"Windows 10 22H2\"\n",
      "baseline.toml");
  REQUIRE(baseline.baseline);
  const auto now = sys_days(2026y / November / 26) + 8h;
  const auto level = patch::inspect_windows_patch_level(registry, baseline.baseline, now);
  CHECK(level.errors.empty());
  REQUIRE(level.version);
  CHECK(level.version->os_version() == "19045.3570");
  CHECK(level.version->display_version == "22H2");
  REQUIRE(level.hotfixes.size() == 2);
  CHECK(level.hotfixes[0].kb == "KB5030841");
  CHECK(level.hotfixes[0].state == patch::CbsState::superseded);
  CHECK(level.hotfixes[1].kb == "KB5031356");
  REQUIRE(level.programs);
  REQUIRE(level.programs->size() == 3);
  CHECK((*level.programs)[2].arch == "x86");
  CHECK(level.reboot_required == false);
  REQUIRE(level.standing);
  CHECK(level.standing->days_behind == (sys_days(2026y / November / 26) - sys_days(2023y / November / 14)).count());

  const auto block = patch::to_json(level);
  CHECK(block["below_baseline"][0]["installed"] == "19045.3570");
  CHECK(block["below_baseline"][0]["required"] == "19045.5131");
  CHECK(block["last_security_update_at"] == "2023-10-12T09:00:00Z");

  // A package waiting for a restart.
  package(registry, "Package_for_KB5032189~31bf3856ad364e35~amd64~~19041.3693.1.5", 0x60);
  CHECK(patch::inspect_windows_patch_level(registry, std::nullopt, now).reboot_required == true);
}

TEST_CASE("patch: Wine's own registry gives a version and says what it lacks", "[patch]") {
  const auto level =
      patch::inspect_windows_patch_level(postured::windows::live_registry(), std::nullopt, system_clock::now());
  REQUIRE(level.version);
  CHECK(level.version->build > 0);
  if (postured::test::running_under_wine()) {
    // Wine has no Component Based Servicing: named as an error, not an empty list passed off as "no hotfixes".
    REQUIRE_FALSE(level.errors.empty());
    CHECK_THAT(level.errors.front(), ContainsSubstring("Component Based Servicing\\Packages: not found"));
  }
}
