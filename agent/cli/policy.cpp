// posturectl policy check FILE...: validates policy files the way the agent loads them.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "policy/policy.hpp"

namespace postured::cli {

int run_policy_check(const CommonOptions& options, const std::vector<std::string>& files) {
  // Files are checked in order against the compiled checks and each other, as checks.policies loads them.
  auto taken = check_ids(builtin_checks());
  bool all_valid = true;
  auto documents = nlohmann::ordered_json::array();
  for (const auto& file : files) {
    const auto load = policy::load_policy_file(file, taken);
    if (load.policy) taken.insert(taken.end(), load.declared_ids.begin(), load.declared_ids.end());
    all_valid = all_valid && load.policy.has_value();
    auto errors = nlohmann::ordered_json::array();
    for (const auto& e : load.errors) {
      std::cerr << e.to_string() << "\n";
      errors.push_back({{"line", e.line}, {"column", e.column}, {"message", e.message}});
    }
    const auto count = load.policy ? load.policy->checks.size() : 0;
    if (options.json) {
      documents.push_back(
          {{"path", file}, {"valid", load.policy.has_value()}, {"checks", count}, {"errors", std::move(errors)}});
    } else if (load.policy) {
      std::cout << file << ": ok, " << count << (count == 1 ? " check" : " checks") << "\n";
    }
  }
  if (options.json)
    std::cout << nlohmann::ordered_json{{"schema", "postured.policy_check/v1"}, {"files", documents}}.dump(2) << "\n";
  std::cout.flush();
  if (!std::cout) return 3;
  return all_valid ? 0 : 2;
}

}  // namespace postured::cli
