#include "policy/policy_checks.hpp"

#include <iostream>
#include <mutex>
#include <optional>

#include "core/host.hpp"
#include "policy/host_facts.hpp"
#include "policy/rule_evaluator.hpp"

namespace postured::policy {
namespace {

// Host facts for the run in progress. Every check of one run gets the same Context (host and
// time), so the facts are read once per run and never carried into the next run.
class SharedFacts {
 public:
  template <typename Use>
  Outcome with(const Context& context, Use&& use) {
    std::lock_guard lock(mutex_);
    if (!facts_ || host_ != &context.host || now_ != context.now) {
      facts_.emplace(context.host);
      host_ = &context.host;
      now_ = context.now;
    }
    return use(*facts_);
  }

 private:
  std::mutex mutex_;
  std::optional<HostFacts> facts_;
  const Host* host_ = nullptr;
  std::chrono::system_clock::time_point now_{};
};

class PolicyCheck final : public Check {
 public:
  PolicyCheck(PolicyCheckSpec spec, std::shared_ptr<SharedFacts> facts, CommandRunner commands)
      : Check(spec.info), spec_(std::move(spec)), facts_(std::move(facts)), commands_(std::move(commands)) {}

  Outcome run(const Context& context) const override {
    return facts_->with(context, [&](HostFacts& facts) { return evaluate_check(spec_, facts, commands_); });
  }

 private:
  PolicyCheckSpec spec_;
  std::shared_ptr<SharedFacts> facts_;
  CommandRunner commands_;
};

// Stands for a refused policy in every report, so that a broken file is never silently skipped.
class RefusedPolicy final : public Check {
 public:
  RefusedPolicy(const std::filesystem::path& file, const std::vector<ConfigError>& errors)
      : Check(CheckInfo{refused_policy_id(file),
                        "Policy " + file.filename().string() + " is refused",
                        Severity::high,
                        "Fix the problems that `posturectl policy check " + file.string() +
                            "` lists, or remove the file from checks.policies.",
                        {}}),
        evidence_(std::to_string(errors.size()) + (errors.size() == 1 ? " problem" : " problems") +
                  ", none of its checks ran; first: " + errors.front().to_string()) {}

  Outcome run(const Context&) const override { return Outcome::error(evidence_); }

 private:
  std::string evidence_;
};

}  // namespace

std::string refused_policy_id(const std::filesystem::path& file) {
  std::string id = "policy.";
  for (const char c : file.stem().string()) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    id += keep ? c : (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : '_';
  }
  return id;
}

PolicyChecks load_policy_checks(const std::vector<std::filesystem::path>& files,
                                const std::vector<std::string>& compiled_ids, CommandRunner commands) {
  PolicyChecks result;
  auto taken = compiled_ids;
  const auto facts = std::make_shared<SharedFacts>();
  for (const auto& file : files) {
    auto load = load_policy_file(file, taken);
    result.declared_ids.insert(result.declared_ids.end(), load.declared_ids.begin(), load.declared_ids.end());
    if (!load.policy) {
      if (load.declared_ids.empty()) result.all_parsed = false;
      result.checks.push_back(std::make_unique<RefusedPolicy>(file, load.errors));
      result.errors.insert(result.errors.end(), load.errors.begin(), load.errors.end());
      continue;
    }
    for (auto& spec : load.policy->checks) {
      taken.push_back(spec.info.id);
      result.checks.push_back(std::make_unique<PolicyCheck>(std::move(spec), facts, commands));
    }
  }
  return result;
}

CommandRunner command_runner_for(const std::filesystem::path& root) {
  std::error_code ec;
  if (!std::filesystem::equivalent(root, "/", ec)) return {};
  return [](const std::vector<std::string>& argv) { return run_command(argv, kCommandTimeout, kMaxCommandOutput); };
}

CheckList with_policy_checks(CheckList compiled, const Config& config, const std::filesystem::path& root) {
  auto policies = load_policy_checks(config.checks.policies, check_ids(compiled), command_runner_for(root));
  for (const auto& e : policies.errors) std::cerr << e.to_string() << "\n";
  for (auto& check : policies.checks) compiled.push_back(std::move(check));
  return compiled;
}

ConfigLoad load_config_with_policies(const std::filesystem::path& path, const std::vector<std::string>& compiled_ids) {
  // First without the id check, to learn which policies the file names; then with every id known.
  auto first = load_config_file(path);
  if (!first.config || first.config->checks.policies.empty()) return load_config_file(path, compiled_ids);
  const auto policies = load_policy_checks(first.config->checks.policies, compiled_ids, {});
  if (!policies.all_parsed) return first;
  auto known = compiled_ids;
  known.insert(known.end(), policies.declared_ids.begin(), policies.declared_ids.end());
  for (const auto& file : first.config->checks.policies) known.push_back(refused_policy_id(file));
  return load_config_file(path, known);
}

}  // namespace postured::policy
