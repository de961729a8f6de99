// Policy files → checks that run next to the compiled ones, in doctor and in the daemon's cycles.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/check.hpp"
#include "core/config.hpp"
#include "policy/command_runner.hpp"
#include "policy/policy.hpp"

namespace postured::policy {

struct PolicyChecks {
  // Every check of every accepted policy, in file order; a refused policy is one check,
  // `policy.<file stem>`, whose status is always error and whose evidence names its first problem.
  CheckList checks;
  std::vector<ConfigError> errors;        // every problem of every refused policy
  std::vector<std::string> declared_ids;  // every check id the files declare, accepted or not
  bool all_parsed = true;                 // false: a file was unreadable or not TOML, its ids unknown
};

// Loads `files` in order. A policy is refused as a whole when it has any problem, including a check
// id that a compiled check (`compiled_ids`) or an earlier policy already uses; the others still load.
PolicyChecks load_policy_checks(const std::vector<std::filesystem::path>& files,
                                const std::vector<std::string>& compiled_ids, CommandRunner commands);

// Policy checks may run programs only on the live system: not when inspecting an image below `root`.
CommandRunner command_runner_for(const std::filesystem::path& root);

// `compiled` followed by the checks of config.checks.policies (see load_policy_checks); each
// problem of a refused policy is printed to stderr as FILE:LINE:COL: message.
CheckList with_policy_checks(CheckList compiled, const Config& config, const std::filesystem::path& root);

// Loads postured.toml so that checks.disabled may name the compiled checks and every check its
// policies declare. When a policy cannot even be parsed, its ids are unknown and checks.disabled
// is not checked against the list (the refused policy is reported by the checks instead).
ConfigLoad load_config_with_policies(const std::filesystem::path& path, const std::vector<std::string>& compiled_ids);

// The id of the error check that stands for a refused policy file: "policy." + its lowercase stem.
std::string refused_policy_id(const std::filesystem::path& file);

}  // namespace postured::policy
