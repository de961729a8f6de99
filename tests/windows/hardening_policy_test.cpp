// config/policies/windows-hardening.toml on Windows: every registry check passes on a hardened
// registry and fails (or does not apply) for each weakening of support/windows_hardening_cases.hpp,
// with the values written to the real registry by the test; the account-policy checks read the live
// local account policy (NetUserModalsGet, NetUserEnum).
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>

#include "core/host.hpp"
#include "policy/host_facts.hpp"
#include "policy/policy.hpp"
#include "policy/rule_evaluator.hpp"
#include "registry_prepared.hpp"
#include "support/windows_hardening_cases.hpp"

namespace {

using Catch::Matchers::ContainsSubstring;
using postured::Status;
namespace policy = postured::policy;
namespace test = postured::test;

const std::string kPolicyFile = std::string(POSTURED_SOURCE_DIR) + "/config/policies/windows-hardening.toml";

// A host that is only a registry and an account policy: what these checks read, nothing else.
class RegistryHost final : public postured::Host {
 public:
  RegistryHost(const postured::RegistryView& registry, const postured::AccountPolicyView& accounts)
      : registry_(registry), accounts_(accounts) {}
  std::optional<std::string> read_file(std::string_view, std::string* why) const override {
    if (why) *why = "not part of this test";
    return std::nullopt;
  }
  bool exists(std::string_view) const override { return false; }
  std::optional<postured::FileStatus> file_status(std::string_view) const override { return std::nullopt; }
  std::vector<std::string> list_dir(std::string_view) const override { return {}; }
  std::vector<std::string> glob(std::string_view) const override { return {}; }
  std::string kernel_release() const override { return {}; }
  std::string hostname() const override { return {}; }
  bool service_enabled(std::string_view) const override { return false; }
  bool process_running(std::string_view) const override { return false; }
  const postured::RegistryView* registry() const override { return &registry_; }
  const postured::AccountPolicyView* account_policy() const override { return &accounts_; }

 private:
  const postured::RegistryView& registry_;
  const postured::AccountPolicyView& accounts_;
};

void apply_changes(test::PreparedRegistry& registry, const std::vector<test::RegistryChange>& changes) {
  for (const auto& change : changes) {
    if (change.value)
      registry.dword(change.key, change.name, *change.value);
    else
      registry.remove(change.key, change.name);
  }
}

const policy::PolicyCheckSpec& check_named(const policy::Policy& loaded, const std::string& id) {
  const auto found = std::find_if(loaded.checks.begin(), loaded.checks.end(),
                                  [&](const policy::PolicyCheckSpec& s) { return s.info.id == id; });
  if (found == loaded.checks.end()) throw std::runtime_error("no check " + id);
  return *found;
}

}  // namespace

TEST_CASE("hardening: each registry check passes hardened and fails weakened in the real registry", "[hardening]") {
  const auto load = policy::load_policy_file(kPolicyFile);
  for (const auto& e : load.errors) FAIL(e.to_string());
  REQUIRE(load.policy);
  int ran = 0;
  for (const auto& c : test::hardening_cases()) {
    if (!c.account.empty() || c.check_id.rfind("win.accounts.", 0) == 0) continue;
    test::PreparedRegistry registry;
    apply_changes(registry, test::hardened_registry());
    apply_changes(registry, c.registry);
    RegistryHost host(registry, postured::windows::live_account_policy());
    policy::HostFacts facts(host);
    const auto outcome = policy::evaluate_check(check_named(*load.policy, c.check_id), facts, {});
    INFO(c.check_id << ": " << c.what << " -> " << outcome.evidence);
    CHECK(outcome.status == c.expected);
    ++ran;
  }
  CHECK(ran == 47);  // every case except the 10 account-policy ones
}

TEST_CASE("hardening: the evidence names the key and value and what was expected", "[hardening]") {
  const auto load = policy::load_policy_file(kPolicyFile);
  REQUIRE(load.policy);
  test::PreparedRegistry registry;
  apply_changes(registry, test::hardened_registry());
  registry.dword(test::windows_keys::kUsbstor, "Start", 3);
  RegistryHost host(registry, postured::windows::live_account_policy());
  policy::HostFacts facts(host);
  const auto outcome = policy::evaluate_check(check_named(*load.policy, "win.usb.storage_blocked"), facts, {});
  CHECK(outcome.status == Status::fail);
  CHECK(outcome.evidence ==
        "HKLM\\SYSTEM\\CurrentControlSet\\Services\\USBSTOR\\Start = 3 (expected 4); "
        "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\RemovableStorageDevices\\Deny_All: the key does not exist");
}

TEST_CASE("hardening: the account checks read the live account policy or say why they cannot", "[hardening]") {
  const auto load = policy::load_policy_file(kPolicyFile);
  REQUIRE(load.policy);
  test::PreparedRegistry registry;
  RegistryHost host(registry, postured::windows::live_account_policy());
  for (const auto* id : {"win.accounts.guest_disabled", "win.accounts.min_password_length",
                         "win.accounts.lockout_threshold", "win.accounts.lockout_duration"}) {
    policy::HostFacts facts(host);
    const auto outcome = policy::evaluate_check(check_named(*load.policy, id), facts, {});
    INFO(id << " -> " << outcome.evidence);
    if (test::running_under_wine()) {
      // Wine's netapi32 has no SAM: NetUserModalsGet fails and NetUserEnum lists no RID 500/501.
      CHECK(outcome.status == Status::error);
      CHECK((outcome.evidence.find("NetUserModalsGet") != std::string::npos ||
             outcome.evidence.find("no local account with RID 501") != std::string::npos));
    } else {
      CHECK(outcome.status != Status::error);
    }
  }
}
