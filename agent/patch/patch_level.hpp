// The report's `patch` block: inventory, baseline comparison, security updates, reboot.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/config.hpp"
#include "patch/apt_security.hpp"
#include "patch/baseline.hpp"
#include "patch/inventory.hpp"

namespace postured {
class Host;
}

namespace postured::patch {

// An installed package older than a baseline entry's fixed version.
struct BelowBaseline {
  std::string name;       // the installed (binary) package
  std::string installed;  // the version compared: the package's, or its source's when the entry names the source
  std::string required;   // the entry's fixed version
  std::vector<std::string> cves;
  std::optional<Severity> severity;
  std::optional<std::chrono::sys_days> published;
};

struct PatchLevel {
  std::optional<Inventory> inventory;                  // nullopt: see errors
  std::vector<BelowBaseline> below_baseline;           // empty without a baseline
  std::optional<std::string> baseline_source;          // the baseline compared with, if any
  std::optional<std::chrono::system_clock::time_point> last_security_update_at;  // nullopt: unknown
  std::optional<std::vector<PendingUpdate>> pending_security;  // nullopt: unknown (no readable security lists)
  std::optional<bool> reboot_required;                 // nullopt: cannot tell (see errors)
  std::vector<std::string> errors;                     // what could not be read
  std::vector<std::string> notes;                      // why a field is unknown, when that is not an error

  // What exit code 1 means for `posturectl patch`: something below the baseline, or a reboot due.
  bool has_problems() const { return !below_baseline.empty() || reboot_required.value_or(false); }
};

// Every installed package below an entry of `baseline`: matched by binary name (its version compared)
// or by source name (the source version compared), with the package manager's own ordering.
std::vector<BelowBaseline> compare_with_baseline(const Inventory& inventory, const Baseline& baseline);

// Inspects the device. `baseline` may be null (nothing to compare with).
PatchLevel inspect_patch_level(const Host& host, const Baseline* baseline);

// The `patch` block (DESIGN.md): {packages_total, packages, below_baseline, last_security_update_at,
// pending_security_updates, reboot_required}, plus baseline, errors and notes.
nlohmann::ordered_json to_json(const PatchLevel& level);

// A table for a person: the summary, then what is below the baseline and what is pending.
std::string render_patch_table(const PatchLevel& level, bool color);

// For the daemon's report: inspects the device against config.patch.baseline (read from this
// machine's file system). An invalid baseline is reported in the block's errors, never thrown.
// Without `packages`: the inventory stays on the device (`posturectl patch --json`).
nlohmann::ordered_json patch_report(const Host& host, const Config& config);

}  // namespace postured::patch
