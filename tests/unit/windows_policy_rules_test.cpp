// agent/policy: registry and account_policy rules (format and semantics) against an in-memory
// registry. This tests the evaluator; tests/windows runs the same rules against the real registry.
#include <catch2/catch_test_macros.hpp>

#include "core/registry_view.hpp"
#include "policy/host_facts.hpp"
#include "policy/policy_checks.hpp"
#include "policy/rule_evaluator.hpp"
#include "support/fixture_root.hpp"
#include "support/memory_registry.hpp"

namespace {

using postured::RegistryBits;
using postured::Status;
using postured::test::FixtureRoot;
using postured::test::HostWithRegistry;
using postured::test::MemoryRegistry;
namespace policy = postured::policy;

const std::string kHeader = "[policy]\nid = \"test\"\ntitle = \"Test policy\"\n";

std::string one_check(const std::string& rule_line) {
  return kHeader +
         "[[check]]\nid = \"t.one\"\ntitle = \"T\"\nrationale = \"R\"\nremediation = \"F\"\nseverity = \"low\"\n"
         "references = [\"PCI DSS 4.0 2.2.6\"]\n" +
         rule_line + "\n";
}

std::vector<std::string> errors_of(const std::string& rule_line) {
  std::vector<std::string> out;
  for (const auto& e : policy::parse_policy(one_check(rule_line), "p.toml").errors) out.push_back(e.to_string());
  return out;
}

postured::Outcome evaluate(const MemoryRegistry& registry, const std::string& rule_line) {
  const auto load = policy::parse_policy(one_check(rule_line), "p.toml");
  for (const auto& e : load.errors) FAIL(e.to_string());
  FixtureRoot root;
  HostWithRegistry host(root.host(), registry);
  policy::HostFacts facts(host);
  return policy::evaluate_check(load.policy->checks.front(), facts, {});
}

const std::string kUsb = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\USBSTOR";

}  // namespace

TEST_CASE("registry paths: hives, backslashes, no HKCU", "[policy][windows]") {
  const auto split = postured::split_registry_path("hklm\\SOFTWARE\\Policies");
  REQUIRE(split);
  CHECK(split->hive == postured::RegistryHive::local_machine);
  CHECK(split->subkey == "SOFTWARE\\Policies");
  CHECK(postured::split_registry_path("HKEY_USERS\\S-1-5-18")->hive == postured::RegistryHive::users);
  CHECK(postured::split_registry_path("HKLM")->subkey.empty());
  CHECK_FALSE(postured::split_registry_path("HKCU\\Software"));
  CHECK_FALSE(postured::split_registry_path("HKLM/SOFTWARE"));
  CHECK_FALSE(postured::split_registry_path("HKLM\\SOFTWARE\\\\X"));
  CHECK_FALSE(postured::split_registry_path("HKLM\\SOFTWARE\\"));
  CHECK_FALSE(postured::split_registry_path("HKLMX\\SOFTWARE"));
}

TEST_CASE("registry rule errors name file, line and column", "[policy][windows]") {
  CHECK(errors_of("rule = {registry = 'HKCU\\Software\\X', name = \"V\", equals = 1}") ==
        std::vector<std::string>{"p.toml:11:20: 'check 't.one'.rule.registry': HKCU and HKCR are the agent's own "
                                 "(LocalSystem) view, not a user's; use HKLM\\... or HKU\\<SID>\\..."});
  CHECK(errors_of("rule = {registry = 'HKLM/SOFTWARE', name = \"V\", equals = 1}").size() == 1);
  CHECK(errors_of("rule = {registry = 'HKLM\\X', name = \"V\"}") ==
        std::vector<std::string>{
            "p.toml:11:8: 'check 't.one'.rule' needs 'equals', 'one_of', or 'compare' with 'value'"});
  CHECK(errors_of("rule = {registry = 'HKLM\\X', name = \"V\", equals = 1, one_of = [1, 2]}") ==
        std::vector<std::string>{
            "p.toml:11:8: 'check 't.one'.rule' has more than one of 'equals', 'one_of' and 'compare'; use one"});
  CHECK(errors_of("rule = {registry = 'HKLM\\X', name = \"V\", equals = 1, view = \"46\"}") ==
        std::vector<std::string>{"p.toml:11:61: 'check 't.one'.rule.view' is \"46\"; did you mean '64'?"});
  CHECK(errors_of("rule = {registry = 'HKLM\\X', name = \"V\", equals = 1, missing = \"passes\"}") ==
        std::vector<std::string>{"p.toml:11:64: 'check 't.one'.rule.missing' is \"passes\"; did you mean 'pass'?"});
  CHECK(errors_of("rule = {registry = 'HKLM\\X', name = \"V\", one_of = []}") ==
        std::vector<std::string>{
            "p.toml:11:51: 'check 't.one'.rule.one_of' must be a non-empty array of integers or strings"});
  CHECK(errors_of("rule = {registry = 'HKLM\\X', name = \"V\", equals = 1.5}") ==
        std::vector<std::string>{
            "p.toml:11:51: 'check 't.one'.rule.equals' must be an integer or a string, not a float"});
  CHECK(errors_of("rule = {registry = 'HKLM\\X', nme = \"V\", equals = 1}").size() == 2);  // unknown key, no name
  CHECK(errors_of("rule = {account_policy = \"MinimumPasswordLenght\", compare = \">=\", value = 14}") ==
        std::vector<std::string>{"p.toml:11:26: 'check 't.one'.rule.account_policy' is \"MinimumPasswordLenght\"; "
                                 "did you mean 'MinimumPasswordLength'?"});
  CHECK(errors_of("rule = {account_policy = \"LockoutBadCount\", equals = \"5\"}") ==
        std::vector<std::string>{"p.toml:11:54: 'check 't.one'.rule.equals' must be an integer, not a string"});
}

TEST_CASE("registry rules: numbers, texts, one_of, compare", "[policy][windows]") {
  MemoryRegistry registry;
  registry.dword(kUsb, "Start", 3)
      .string("HKLM\\SOFTWARE\\Pos", "Mode", "Locked")
      .string("HKLM\\SOFTWARE\\Pos", "Timeout", "600");
  CHECK(evaluate(registry, "rule = {registry = '" + kUsb + "', name = \"Start\", equals = 4}").evidence ==
        kUsb + "\\Start = 3 (expected 4)");
  registry.dword(kUsb, "Start", 4);
  const auto pass = evaluate(registry, "rule = {registry = '" + kUsb + "', name = \"Start\", equals = 4}");
  CHECK(pass.status == Status::pass);
  CHECK(pass.evidence == kUsb + "\\Start = 4");
  CHECK(evaluate(registry, "rule = {registry = '" + kUsb + "', name = \"start\", one_of = [3, 4]}").status ==
        Status::pass);
  CHECK(evaluate(registry, "rule = {registry = '" + kUsb + "', name = \"Start\", compare = \"<=\", value = 3}")
            .evidence == kUsb + "\\Start = 4 (expected <= 3)");
  // Texts compare ignoring case and are quoted only when the policy names them.
  CHECK(
      evaluate(registry, "rule = {registry = 'HKLM\\SOFTWARE\\Pos', name = \"Mode\", equals = \"locked\"}").evidence ==
      "HKLM\\SOFTWARE\\Pos\\Mode = \"locked\"");
  CHECK(evaluate(registry, "rule = {registry = 'HKLM\\SOFTWARE\\Pos', name = \"Mode\", equals = \"open\"}").evidence ==
        "HKLM\\SOFTWARE\\Pos\\Mode is REG_SZ of 6 characters (expected \"open\")");
  // A REG_SZ that holds a whole number compares as one.
  CHECK(
      evaluate(registry, "rule = {registry = 'HKLM\\SOFTWARE\\Pos', name = \"Timeout\", compare = \"<=\", value = 900}")
          .evidence == "HKLM\\SOFTWARE\\Pos\\Timeout is REG_SZ 600");
  CHECK(evaluate(registry, "rule = {registry = 'HKLM\\SOFTWARE\\Pos', name = \"Mode\", compare = \"<=\", value = 900}")
            .evidence == "HKLM\\SOFTWARE\\Pos\\Mode is REG_SZ of 6 characters, not a whole number");
  // A secret that happens to be digits is not shown to a rule that tests texts.
  registry.string("HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon", "DefaultPassword", "482916");
  CHECK(evaluate(registry,
                 "rule = {registry = 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon', name = "
                 "\"DefaultPassword\", equals = \"\", missing = \"pass\"}")
            .evidence ==
        "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon\\DefaultPassword is REG_SZ of 6 characters "
        "(expected \"\")");
  postured::RegistryValue binary;
  binary.type = postured::RegistryValue::Type::binary;
  registry.set("HKLM\\SOFTWARE\\Pos", "Blob", binary);
  CHECK(evaluate(registry, "rule = {registry = 'HKLM\\SOFTWARE\\Pos', name = \"Blob\", equals = 1}").status ==
        Status::error);
}

TEST_CASE("registry rules: missing values follow `missing`; errors and views", "[policy][windows]") {
  MemoryRegistry registry;
  registry.add_key("HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender");
  const std::string defender = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\Real-Time Protection";
  const auto rule = "{registry = '" + defender + "', name = \"DisableRealtimeMonitoring\", equals = 0";
  CHECK(evaluate(registry, "rule = " + rule + "}").evidence ==
        defender + "\\DisableRealtimeMonitoring: the key does not exist");
  CHECK(evaluate(registry, "rule = " + rule + "}").status == Status::fail);
  const auto absent = evaluate(registry, "rule = " + rule + ", missing = \"pass\"}");
  CHECK(absent.status == Status::pass);
  CHECK(absent.evidence == defender +
                               "\\DisableRealtimeMonitoring: the key does not exist (the default applies, "
                               "which is compliant)");
  registry.add_key(defender);
  CHECK(evaluate(registry, "rule = " + rule + ", missing = \"not_applicable\"}").evidence ==
        defender + "\\DisableRealtimeMonitoring: not set");
  registry.dword(defender, "DisableRealtimeMonitoring", 1);
  CHECK(evaluate(registry, "rule = " + rule + ", missing = \"pass\"}").status == Status::fail);
  registry.deny(defender);
  CHECK(evaluate(registry, "rule = " + rule + "}").evidence ==
        defender + "\\DisableRealtimeMonitoring: access denied (5)");

  // The 32-bit view is its own set of keys.
  registry.dword("HKLM\\SOFTWARE\\Pos", "Level", 2, RegistryBits::wow32);
  CHECK(evaluate(registry, "rule = {registry = 'HKLM\\SOFTWARE\\Pos', name = \"Level\", equals = 2}").status ==
        Status::fail);
  CHECK(evaluate(registry, "rule = {registry = 'HKLM\\SOFTWARE\\Pos', name = \"Level\", equals = 2, view = \"32\"}")
            .evidence == "HKLM\\SOFTWARE\\Pos\\Level (32-bit view) = 2");
}

TEST_CASE("account_policy rules compare the local account policy", "[policy][windows]") {
  MemoryRegistry registry;
  registry.account("MinimumPasswordLength", 8).account("LockoutBadCount", 0);
  CHECK(evaluate(registry, "rule = {account_policy = \"MinimumPasswordLength\", compare = \">=\", value = 12}")
            .evidence == "MinimumPasswordLength = 8 (expected >= 12)");
  CHECK(evaluate(registry, "rule = {account_policy = \"LockoutBadCount\", one_of = [1, 2, 3, 4, 5]}").evidence ==
        "LockoutBadCount = 0 (expected 1, 2, 3, 4 or 5)");
  registry.account("LockoutBadCount", 5);
  CHECK(evaluate(registry, "rule = {account_policy = \"LockoutBadCount\", one_of = [1, 2, 3, 4, 5]}").status ==
        Status::pass);
  CHECK(evaluate(registry, "rule = {account_policy = \"EnableGuestAccount\", equals = 0}").evidence ==
        "EnableGuestAccount: not in the test's account policy");
}

TEST_CASE("registry and account_policy rules do not apply on a host without a registry", "[policy][windows]") {
  const auto load = policy::parse_policy(
      one_check("any = [{registry = 'HKLM\\X', name = \"V\", equals = 1}, {account_policy = \"LockoutBadCount\", "
                "compare = \"<=\", value = 5}]"),
      "p.toml");
  REQUIRE(load.policy);
  FixtureRoot root;
  const auto host = root.host();
  policy::HostFacts facts(*host);
  const auto outcome = policy::evaluate_check(load.policy->checks.front(), facts, {});
  CHECK(outcome.status == Status::not_applicable);
  CHECK(outcome.evidence ==
        "registry rules apply to Windows only (HKLM\\X); account policy rules apply to Windows only (LockoutBadCount)");
}
