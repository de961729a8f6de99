// Patch level of a Windows device, read from its registry: the OS build and UBR, the installed
// hotfixes (Component Based Servicing packages), the installed programs (Uninstall keys, 64- and
// 32-bit views), whether a reboot is pending, and the standing against a Windows baseline.
// Portable: everything goes through RegistryView, so it is tested on Linux with an in-memory
// registry and under Wine with the real one.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/config.hpp"
#include "core/registry_view.hpp"
#include "patch/windows_baseline.hpp"

namespace postured::patch {

// Where Windows keeps what this reads.
inline constexpr std::string_view kWindowsVersionKey = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion";
inline constexpr std::string_view kCbsPackagesKey =
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\Packages";
// Present while servicing waits for a restart to finish installing.
inline constexpr std::string_view kCbsRebootPendingKey =
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\RebootPending";
// Present while Windows Update waits for a restart.
inline constexpr std::string_view kWindowsUpdateRebootKey =
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update\\RebootRequired";
inline constexpr std::string_view kUninstallKey = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall";
// The first Windows 11 build: CurrentVersion's ProductName still says "Windows 10" there.
inline constexpr unsigned kFirstWindows11Build = 22000;

struct WindowsVersion {
  std::string product_name;     // ProductName, as the registry says it
  std::string edition_id;       // EditionID: "Enterprise", "EnterpriseS" (LTSC), "IoTEnterpriseS"
  std::string display_version;  // DisplayVersion ("22H2"), or ReleaseId on builds before 20H2
  unsigned build = 0;           // CurrentBuild (CurrentBuildNumber on old builds)
  unsigned ubr = 0;             // UBR: the revision that cumulative updates raise

  std::string os_version() const { return std::to_string(build) + "." + std::to_string(ubr); }  // "19045.5131"
  // "Windows 11 Enterprise" on builds from 22000 on, where ProductName says "Windows 10 ...".
  std::string product() const;
};

// The state of a servicing package (CurrentState, as CBS writes it in hex).
enum class CbsState { installed, permanent, superseded, install_pending, uninstall_pending, staged, other };

// A servicing package's identity: name~publicKeyToken~arch~language~version.
struct CbsPackageName {
  std::string kb;       // "KB5031356" when the name carries one, else empty
  bool rollup = false;  // Package_for_RollupFix: the latest cumulative update
  std::string arch;     // "amd64", "wow64", "x86", ...
  std::string version;  // "19041.3570.1.11"
};
// Parses a package key's name; nullopt when it is not name~token~arch~language~version.
std::optional<CbsPackageName> parse_cbs_package_name(std::string_view name);
CbsState cbs_state(std::uint64_t current_state);
std::string_view to_string(CbsState state);

// One KB: the union of its packages (a KB ships several: Package_for_KB..., Package_1_for_KB...).
struct Hotfix {
  std::string kb;
  CbsState state = CbsState::other;                                   // the most installed of its packages' states
  std::optional<std::chrono::system_clock::time_point> installed_at;  // InstallTimeHigh/Low, latest
};

struct WindowsProgram {
  std::string name;       // DisplayName
  std::string version;    // DisplayVersion
  std::string publisher;  // Publisher
  std::string arch;       // "x64" (64-bit view) or "x86" (32-bit view)
};

struct WindowsPatchLevel {
  std::optional<WindowsVersion> version;                                // nullopt: see errors
  std::vector<Hotfix> hotfixes;                                         // sorted by KB
  std::optional<std::vector<WindowsProgram>> programs;                  // nullopt: the Uninstall key could not be read
  std::optional<std::chrono::system_clock::time_point> last_update_at;  // latest install of a KB or rollup
  std::optional<bool> reboot_required;
  std::optional<std::string> baseline_source;
  std::optional<WindowsBaselineStanding> standing;  // with a baseline and a known version
  std::optional<WindowsBaseline> baseline;          // owns what standing points into
  std::vector<std::string> errors;
  std::vector<std::string> notes;

  WindowsPatchLevel() = default;
  WindowsPatchLevel(const WindowsPatchLevel&) = delete;  // standing points into baseline
  WindowsPatchLevel& operator=(const WindowsPatchLevel&) = delete;
  WindowsPatchLevel(WindowsPatchLevel&&) = default;
  WindowsPatchLevel& operator=(WindowsPatchLevel&&) = default;
};

WindowsVersion read_windows_version(const RegistryView& registry, std::string* why);
// Every KB among the servicing packages, and whether a package waits for a restart.
std::vector<Hotfix> read_hotfixes(const RegistryView& registry, bool* pending, std::string* why);
// Programs from both views' Uninstall keys, without system components and updates of other programs.
std::optional<std::vector<WindowsProgram>> read_programs(const RegistryView& registry, std::string* why);

// Inspects the device through `registry`; `baseline` may be empty (nothing to compare with).
WindowsPatchLevel inspect_windows_patch_level(const RegistryView& registry, std::optional<WindowsBaseline> baseline,
                                              std::chrono::system_clock::time_point now);

// The report's `patch` block (DESIGN.md's fields first: packages_total, packages, below_baseline,
// last_security_update_at, pending_security_updates, reboot_required), plus package_manager
// "windows", baseline, a `windows` block (build, UBR, hotfixes, days behind), errors and notes.
nlohmann::ordered_json to_json(const WindowsPatchLevel& level);

// A table for a person (posturectl patch on Windows): version, baseline standing, hotfixes, reboot.
std::string render_windows_patch_table(const WindowsPatchLevel& level, bool color);

// What exit code 1 means for `posturectl patch` on Windows: below the baseline, or a reboot due.
bool has_problems(const WindowsPatchLevel& level);

// For the daemon's report on Windows: inspects `registry` against config.patch.baseline (a Windows
// baseline, read from this machine's file system). An invalid baseline is reported in the block's
// errors, never thrown. Without `packages`, like the Linux block.
nlohmann::ordered_json windows_patch_report(const RegistryView& registry, const Config& config);

}  // namespace postured::patch
