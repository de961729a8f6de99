#include <iostream>

#include "cli/commands.hpp"

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
  auto load = load_config_file(path, check_ids(checks));
  for (const auto& e : load.errors) std::cerr << e.to_string() << "\n";
  return load.config;
}

}  // namespace postured::cli
