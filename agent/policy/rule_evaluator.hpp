// Evaluates a policy rule against a host: pass, fail, not_applicable or error, with evidence that
// says what was found (a matched line at most, never a file's contents).
#pragma once

#include "core/check.hpp"
#include "policy/command_runner.hpp"
#include "policy/host_facts.hpp"
#include "policy/policy.hpp"

namespace postured::policy {

// `commands` may be empty: command rules are then not_applicable.
Outcome evaluate(const Rule& rule, HostFacts& facts, const CommandRunner& commands);

// The check's outcome: its `requires` first (not passing → not_applicable), then its rule.
Outcome evaluate_check(const PolicyCheckSpec& spec, HostFacts& facts, const CommandRunner& commands);

}  // namespace postured::policy
