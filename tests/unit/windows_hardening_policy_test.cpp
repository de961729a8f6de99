// config/policies/windows-hardening.toml: it parses, every check passes on a hardened terminal and
// fails (or does not apply) for each weakening in support/windows_hardening_cases.hpp, here against an
// in-memory registry. tests/windows/hardening_policy_test.cpp runs the same cases on Wine's registry.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <set>

#include "policy/host_facts.hpp"
#include "policy/policy.hpp"
#include "policy/rule_evaluator.hpp"
#include "support/fixture_root.hpp"
#include "support/memory_registry.hpp"
#include "support/windows_hardening_cases.hpp"

namespace {

using postured::Status;
namespace policy = postured::policy;
namespace test = postured::test;

const std::string kPolicyFile = std::string(POSTURED_SOURCE_DIR) + "/config/policies/windows-hardening.toml";

void apply_changes(test::MemoryRegistry& registry, const std::vector<test::RegistryChange>& changes) {
  for (const auto& change : changes) {
    if (change.value)
      registry.dword(change.key, change.name, *change.value);
    else
      registry.remove(change.key, change.name);
  }
}

}  // namespace

TEST_CASE("the Windows hardening policy is valid and every check has a failing case", "[policy][windows]") {
  const auto load = policy::load_policy_file(kPolicyFile);
  for (const auto& e : load.errors) FAIL(e.to_string());
  REQUIRE(load.policy);
  CHECK(load.policy->checks.size() >= 11);
  std::set<std::string> failing;
  for (const auto& c : test::hardening_cases()) {
    if (c.expected == Status::fail) failing.insert(c.check_id);
  }
  for (const auto& check : load.policy->checks) {
    INFO(check.info.id);
    CHECK(failing.count(check.info.id) == 1);
    const auto has = [&](std::string_view prefix) {
      for (const auto& r : check.info.references)
        if (r.rfind(prefix, 0) == 0) return true;
      return false;
    };
    CHECK(has("CIS Microsoft Windows"));
    CHECK(has("PCI DSS 4.0 "));
  }
}

TEST_CASE("each Windows hardening check passes hardened and fails weakened (in-memory registry)", "[policy][windows]") {
  const auto load = policy::load_policy_file(kPolicyFile);
  REQUIRE(load.policy);
  test::FixtureRoot root;
  for (const auto& c : test::hardening_cases()) {
    test::MemoryRegistry registry;
    apply_changes(registry, test::hardened_registry());
    apply_changes(registry, c.registry);
    for (const auto& a : test::hardened_accounts()) registry.account(a.setting, a.value);
    for (const auto& a : c.account) registry.account(a.setting, a.value);
    test::HostWithRegistry host(root.host(), registry);
    policy::HostFacts facts(host);
    const auto spec = std::find_if(load.policy->checks.begin(), load.policy->checks.end(),
                                   [&](const policy::PolicyCheckSpec& s) { return s.info.id == c.check_id; });
    REQUIRE(spec != load.policy->checks.end());
    const auto outcome = policy::evaluate_check(*spec, facts, {});
    INFO(c.check_id << ": " << c.what << " -> " << outcome.evidence);
    CHECK(outcome.status == c.expected);
  }
}

TEST_CASE("on Linux the Windows hardening checks do not apply", "[policy][windows]") {
  const auto load = policy::load_policy_file(kPolicyFile);
  REQUIRE(load.policy);
  test::FixtureRoot root;
  const auto host = root.host();
  policy::HostFacts facts(*host);
  for (const auto& check : load.policy->checks) {
    INFO(check.info.id);
    CHECK(policy::evaluate_check(check, facts, {}).status == Status::not_applicable);
  }
}
