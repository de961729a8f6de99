#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/host.hpp"
#include "core/registry_view.hpp"
#include "patch/patch_level.hpp"
#include "patch/windows_patch.hpp"

namespace postured::cli {
namespace {

// Windows: the registry instead of a package database, and the baseline is a Windows baseline.
int run_windows_patch(const CommonOptions& options, const RegistryView& registry, const std::filesystem::path& path) {
  std::optional<patch::WindowsBaseline> baseline;
  if (!path.empty()) {
    auto load = patch::load_windows_baseline_file(path);
    for (const auto& e : load.errors) std::cerr << e.to_string() << "\n";
    if (!load.baseline) return 2;
    baseline = std::move(load.baseline);
  }
  const auto level =
      patch::inspect_windows_patch_level(registry, std::move(baseline), std::chrono::system_clock::now());
  if (options.json) {
    std::cout << patch::to_json(level).dump(2) << "\n";
  } else {
    std::cout << patch::render_windows_patch_table(level, ::isatty(STDOUT_FILENO) == 1);
  }
  std::cout.flush();
  if (!std::cout) return 3;
  if (!level.version) {
    for (const auto& e : level.errors) std::cerr << "posturectl patch: " << e << "\n";
    return 3;
  }
  return patch::has_problems(level) ? 1 : 0;
}

}  // namespace

int run_patch(const CommonOptions& options, const std::string& baseline_path) {
  const auto config = resolve_config(options, builtin_checks());
  if (!config) return 2;

  // --baseline overrides patch.baseline; a bad baseline is a usage error, like a bad config.
  const auto path = baseline_path.empty() ? config->patch.baseline : std::filesystem::path(baseline_path);
  if (const auto windows = open_host(options.root); windows->registry()) {
    return run_windows_patch(options, *windows->registry(), path);
  }
  std::optional<patch::Baseline> baseline;
  if (!path.empty()) {
    auto load = patch::load_baseline_file(path);
    for (const auto& e : load.errors) std::cerr << e.to_string() << "\n";
    if (!load.baseline) return 2;
    baseline = std::move(load.baseline);
  }

  const auto host = open_host(options.root);
  const auto level = patch::inspect_patch_level(*host, baseline ? &*baseline : nullptr);
  if (options.json) {
    std::cout << patch::to_json(level).dump(2) << "\n";
  } else {
    std::cout << patch::render_patch_table(level, ::isatty(STDOUT_FILENO) == 1);
  }
  std::cout.flush();
  if (!std::cout) return 3;
  // Without an inventory nothing could be compared: a runtime failure, not a clean bill of health.
  if (!level.inventory) {
    for (const auto& e : level.errors) std::cerr << "posturectl patch: " << e << "\n";
    return 3;
  }
  return level.has_problems() ? 1 : 0;
}

}  // namespace postured::cli
