#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/host.hpp"
#include "patch/patch_level.hpp"

namespace postured::cli {

int run_patch(const CommonOptions& options, const std::string& baseline_path) {
  const auto config = resolve_config(options, builtin_checks());
  if (!config) return 2;

  // --baseline overrides patch.baseline; a bad baseline is a usage error, like a bad config.
  const auto path = baseline_path.empty() ? config->patch.baseline : std::filesystem::path(baseline_path);
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
