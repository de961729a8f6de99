#include <iostream>

#include "cli/commands.hpp"
#include "policy/policy_checks.hpp"

namespace postured::cli {

std::optional<Config> resolve_config(const CommonOptions& options, const CheckList& checks) {
  std::filesystem::path path;
  if (options.config) {
    path = *options.config;
  } else {
    std::error_code ec;
    if (!std::filesystem::exists(kDefaultConfigPath, ec)) return default_config();
    path = kDefaultConfigPath;
  }
  // checks.disabled may also name the checks of the policies the file lists.
  auto load = policy::load_config_with_policies(path, check_ids(checks));
  for (const auto& e : load.errors) std::cerr << e.to_string() << "\n";
  return load.config;
}

}  // namespace postured::cli
