// patch.security_updates_age: no security fix stays uninstalled longer than patch.security_window.
#include <algorithm>
#include <string>

#include "core/check.hpp"
#include "core/config.hpp"
#include "core/host.hpp"
#include "core/registry_view.hpp"
#include "patch/apt_security.hpp"
#include "patch/baseline.hpp"
#include "patch/patch_level.hpp"
#include "patch/windows_patch.hpp"

namespace postured::checks {
namespace {

long long days(std::chrono::system_clock::duration span) {
  return std::chrono::duration_cast<std::chrono::days>(span).count();
}

std::string describe(const patch::BelowBaseline& fix, std::chrono::system_clock::time_point now) {
  auto out = fix.name + " " + fix.installed + " < " + fix.required;
  if (!fix.cves.empty()) out += " (" + fix.cves.front() + (fix.cves.size() > 1 ? " +" + std::to_string(fix.cves.size() - 1) : "") + ")";
  return out + ", published " + patch::format_date(*fix.published) + ", " +
         std::to_string(days(now - std::chrono::system_clock::time_point(*fix.published))) + " days ago";
}

// ", 2 pending security updates (apt)" or nothing when apt's lists say nothing.
std::string pending_note(const Host& host, const patch::Inventory& inventory) {
  if (inventory.format != patch::PackageFormat::dpkg) return {};
  const auto security = patch::read_security_index(host);
  if (!security.index) return {};
  const auto pending = patch::pending_security_updates(inventory, *security.index).size();
  return "; " + std::to_string(pending) + " pending security update" + (pending == 1 ? "" : "s") +
         " in apt's lists (publication dates unknown, not timed)";
}

// Windows: the cumulative updates of the Windows baseline for the device's build; the oldest one it
// lacks must not be older than the window.
Outcome run_windows(const RegistryView& registry, const Config& config, std::chrono::system_clock::time_point now) {
  const auto window_days = std::chrono::duration_cast<std::chrono::days>(config.patch.security_window).count();
  const auto load = patch::load_windows_baseline_file(config.patch.baseline);
  if (!load.baseline) {
    auto evidence = "invalid Windows patch baseline: " + load.errors.front().to_string();
    if (load.errors.size() > 1) evidence += " (+" + std::to_string(load.errors.size() - 1) + " more)";
    return Outcome::error(evidence);
  }
  const auto level = patch::inspect_windows_patch_level(registry, load.baseline, now);
  if (!level.version)
    return Outcome::error(level.errors.empty() ? "the Windows build is unknown" : level.errors.front());
  const auto& standing = *level.standing;
  const auto build = "build " + level.version->os_version();
  if (!standing.build_known)
    return Outcome::not_applicable(build + ": " + load.baseline->source.string() + " lists no update for build " +
                                   std::to_string(level.version->build));
  if (!standing.oldest_missing)
    return Outcome::pass(build + " has every update of " + load.baseline->source.string() + " (" +
                         std::to_string(standing.required->build) + "." + std::to_string(standing.required->ubr) + ")");
  const auto& missing = *standing.oldest_missing;
  const auto& required = *standing.required;
  const auto evidence =
      build + " < " + std::to_string(required.build) + "." + std::to_string(required.ubr) +
      "; oldest missing: " + (missing.kb.empty() ? std::string("UBR ") + std::to_string(missing.ubr) : missing.kb) +
      ", published " + patch::format_date(missing.published) + ", " + std::to_string(*standing.days_behind) +
      " days ago";
  if (*standing.days_behind > window_days)
    return Outcome::fail(evidence + " (window " + std::to_string(window_days) + " days)");
  return Outcome::pass(evidence + ", within the " + std::to_string(window_days) + "-day window");
}

class SecurityUpdatesAgeCheck final : public Check {
 public:
  using Check::Check;

  Outcome run(const Context& context) const override {
    const auto config = context.config ? *context.config : default_config();
    const auto window = config.patch.security_window;
    const auto window_days = std::to_string(std::chrono::duration_cast<std::chrono::days>(window).count());
    if (config.patch.baseline.empty()) {
      return Outcome::not_applicable("no patch baseline configured (patch.baseline): no fix has a publication date to time");
    }
    if (const auto* registry = context.host.registry()) return run_windows(*registry, config, context.now);
    const auto load = patch::load_baseline_file(config.patch.baseline);
    if (!load.baseline) {
      auto evidence = "invalid patch baseline: " + load.errors.front().to_string();
      if (load.errors.size() > 1) evidence += " (+" + std::to_string(load.errors.size() - 1) + " more)";
      return Outcome::error(evidence);
    }
    const auto inventory = patch::read_inventory(context.host);
    if (!inventory.inventory) return Outcome::error(inventory.error);

    const auto below = patch::compare_with_baseline(*inventory.inventory, *load.baseline);
    std::vector<const patch::BelowBaseline*> overdue;
    std::size_t undated = 0;
    for (const auto& fix : below) {
      if (!fix.published) {
        ++undated;
      } else if (context.now - std::chrono::system_clock::time_point(*fix.published) > window) {
        overdue.push_back(&fix);
      }
    }
    const auto pending = pending_note(context.host, *inventory.inventory);
    if (!overdue.empty()) {
      const auto oldest = *std::min_element(overdue.begin(), overdue.end(),
                                            [](const auto* a, const auto* b) { return *a->published < *b->published; });
      return Outcome::fail(std::to_string(overdue.size()) + " security fix" + (overdue.size() == 1 ? "" : "es") +
                           " missing for longer than " + window_days + " days; oldest: " +
                           describe(*oldest, context.now) + pending);
    }
    auto evidence = "no fix of " + load.baseline->source.string() + " missing for longer than " + window_days + " days";
    if (below.size() > undated) evidence += "; " + std::to_string(below.size() - undated) + " below the baseline within the window";
    if (undated > 0) evidence += "; " + std::to_string(undated) + " below the baseline without a published date (not timed)";
    return Outcome::pass(evidence + pending);
  }
};

}  // namespace

CheckList make_patch_checks() {
  CheckList checks;
  checks.push_back(std::make_unique<SecurityUpdatesAgeCheck>(CheckInfo{
      "patch.security_updates_age",
      "Security fixes are installed within the patch window",
      Severity::high,
      "Install the missing updates (sudo apt-get update && sudo apt-get upgrade, or let unattended-upgrades run), "
      "reboot if the kernel or libc changed, then run posturectl patch again.",
      {"PCI DSS 4.0 6.3.3", "CIS Debian 12: Ensure updates, patches, and additional security software are installed"}}));
  return checks;
}

}  // namespace postured::checks
