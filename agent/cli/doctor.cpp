#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/host.hpp"
#include "core/report.hpp"

namespace postured::cli {
namespace {

// The config named on the command line, else the installed one, else built-in defaults: a
// technician must be able to run doctor on a terminal where the agent was never configured.
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

}  // namespace

int run_doctor(const CommonOptions& options) {
  const auto checks = builtin_checks();
  const auto config = resolve_config(options, checks);
  if (!config) return 2;
  const auto host = open_host(options.root);
  const auto report = inspect_device(checks, *host, *config, std::chrono::system_clock::now());
  if (options.json) {
    std::cout << to_doctor_json(report).dump(2) << "\n";
  } else {
    std::cout << render_table(report, ::isatty(STDOUT_FILENO) == 1);
  }
  std::cout.flush();
  if (!std::cout) return 3;
  return report.has_problems() ? 1 : 0;
}

}  // namespace postured::cli
