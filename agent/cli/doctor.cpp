#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/host.hpp"
#include "core/report.hpp"
#include "policy/policy_checks.hpp"

namespace postured::cli {

int run_doctor(const CommonOptions& options) {
  auto checks = builtin_checks();
  const auto config = resolve_config(options, checks);
  if (!config) return 2;
  // The checks of checks.policies run after the compiled ones; a refused policy shows as an error check.
  checks = policy::with_policy_checks(std::move(checks), *config, options.root);
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
