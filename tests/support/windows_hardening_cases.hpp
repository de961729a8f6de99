// The cases that config/policies/windows-hardening.toml is tested with: a hardened registry and
// account policy, and for each check the changes that must make it pass, fail or not apply. Data
// only: tests/unit applies them to an in-memory registry, tests/windows to the real one under Wine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/check.hpp"

namespace postured::test {

// One registry value (REG_DWORD), or its removal (value nullopt).
struct RegistryChange {
  std::string key;
  std::string name;
  std::optional<std::uint32_t> value;
};

// One account policy setting, as core/registry_view.hpp names it.
struct AccountChange {
  std::string setting;
  long long value = 0;
};

struct HardeningCase {
  std::string check_id;
  std::string what;  // for the test's output
  std::vector<RegistryChange> registry;
  std::vector<AccountChange> account;
  Status expected = Status::fail;
};

namespace windows_keys {
inline const std::string kFirewallPolicy = "HKLM\\SOFTWARE\\Policies\\Microsoft\\WindowsFirewall\\";
inline const std::string kFirewallLocal =
    "HKLM\\SYSTEM\\CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\";
inline const std::string kUsbstor = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\USBSTOR";
inline const std::string kRemovable = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\RemovableStorageDevices";
inline const std::string kExplorer = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer";
inline const std::string kLanman = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters";
inline const std::string kSrv = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\srv";
inline const std::string kMrxsmb10 = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\mrxsmb10";
inline const std::string kTerminalServer = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server";
inline const std::string kRdpTcp = kTerminalServer + "\\WinStations\\RDP-Tcp";
inline const std::string kRdpPolicy = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services";
inline const std::string kAutoUpdate = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU";
inline const std::string kDefenderPolicy = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender";
inline const std::string kDefenderLocal = "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Real-Time Protection";
inline const std::string kSystemPolicy = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System";
}  // namespace windows_keys

// A terminal configured as the policy asks.
inline std::vector<RegistryChange> hardened_registry() {
  using namespace windows_keys;
  return {
      {kFirewallPolicy + "DomainProfile", "EnableFirewall", 1},
      {kFirewallPolicy + "PrivateProfile", "EnableFirewall", 1},
      {kFirewallPolicy + "PublicProfile", "EnableFirewall", 1},
      {kFirewallLocal + "DomainProfile", "EnableFirewall", 1},
      {kFirewallLocal + "StandardProfile", "EnableFirewall", 1},
      {kFirewallLocal + "PublicProfile", "EnableFirewall", 1},
      {kUsbstor, "Start", 4},
      {kExplorer, "NoDriveTypeAutoRun", 255},
      {kExplorer, "NoAutorun", 1},
      {kLanman, "SMB1", 0},
      {kSrv, "Start", 3},
      {kMrxsmb10, "Start", 4},
      {kTerminalServer, "fDenyTSConnections", 0},
      {kRdpPolicy, "UserAuthentication", 1},
      {kRdpTcp, "UserAuthentication", 1},
      {kAutoUpdate, "NoAutoUpdate", 0},
      {kDefenderPolicy, "DisableAntiSpyware", 0},
      {kDefenderPolicy + "\\Real-Time Protection", "DisableRealtimeMonitoring", 0},
      {kDefenderLocal, "DisableRealtimeMonitoring", 0},
      {kSystemPolicy, "InactivityTimeoutSecs", 600},
  };
}

inline std::vector<AccountChange> hardened_accounts() {
  return {{"EnableGuestAccount", 0}, {"MinimumPasswordLength", 14}, {"LockoutBadCount", 5}, {"LockoutDuration", 30}};
}

// Each case starts from the hardened terminal.
inline std::vector<HardeningCase> hardening_cases() {
  using namespace windows_keys;
  const auto pass = Status::pass, fail = Status::fail;
  std::vector<HardeningCase> cases;
  // Firewall: Group Policy wins; without it the local (SharedAccess) setting counts.
  const std::vector<std::pair<std::string, std::string>> profiles{
      {"domain", "DomainProfile"}, {"private", "PrivateProfile"}, {"public", "PublicProfile"}};
  for (const auto& [profile, policy_key] : profiles) {
    const auto id = "win.firewall." + profile + "_enabled";
    const auto local_key = kFirewallLocal + (profile == "private" ? "StandardProfile" : policy_key);
    cases.push_back({id, "hardened", {}, {}, pass});
    cases.push_back({id, "policy off, local on", {{kFirewallPolicy + policy_key, "EnableFirewall", 0}}, {}, fail});
    cases.push_back(
        {id, "no policy, local on", {{kFirewallPolicy + policy_key, "EnableFirewall", std::nullopt}}, {}, pass});
    cases.push_back({id,
                     "no policy, local off",
                     {{kFirewallPolicy + policy_key, "EnableFirewall", std::nullopt}, {local_key, "EnableFirewall", 0}},
                     {},
                     fail});
    cases.push_back({id, "policy on, local off", {{local_key, "EnableFirewall", 0}}, {}, pass});
  }
  const auto usb = "win.usb.storage_blocked";
  cases.push_back({usb, "hardened", {}, {}, pass});
  cases.push_back({usb, "USBSTOR on demand", {{kUsbstor, "Start", 3}}, {}, fail});
  cases.push_back(
      {usb, "USBSTOR on demand, Deny_All policy", {{kUsbstor, "Start", 3}, {kRemovable, "Deny_All", 1}}, {}, pass});
  cases.push_back(
      {usb, "USBSTOR on demand, Deny_All 0", {{kUsbstor, "Start", 3}, {kRemovable, "Deny_All", 0}}, {}, fail});

  const auto autorun = "win.autorun.disabled";
  cases.push_back({autorun, "hardened", {}, {}, pass});
  cases.push_back({autorun, "Windows' default 0x91", {{kExplorer, "NoDriveTypeAutoRun", 0x91}}, {}, fail});
  cases.push_back({autorun, "NoAutorun absent", {{kExplorer, "NoAutorun", std::nullopt}}, {}, fail});

  const auto smb1 = "win.smb.v1_server_disabled";
  cases.push_back({smb1, "hardened", {}, {}, pass});
  cases.push_back({smb1, "SMB1 = 1", {{kLanman, "SMB1", 1}}, {}, fail});
  cases.push_back({smb1, "SMB1 not set, srv installed", {{kLanman, "SMB1", std::nullopt}}, {}, fail});
  cases.push_back({smb1,
                   "SMB1 not set, srv not installed",
                   {{kLanman, "SMB1", std::nullopt}, {kSrv, "Start", std::nullopt}},
                   {},
                   pass});

  const auto client = "win.smb.v1_client_disabled";
  cases.push_back({client, "hardened", {}, {}, pass});
  cases.push_back({client, "mrxsmb10 on demand", {{kMrxsmb10, "Start", 3}}, {}, fail});
  cases.push_back({client, "mrxsmb10 not installed", {{kMrxsmb10, "Start", std::nullopt}}, {}, pass});

  const auto rdp = "win.rdp.nla_required";
  cases.push_back({rdp, "hardened", {}, {}, pass});
  cases.push_back({rdp, "policy turns NLA off", {{kRdpPolicy, "UserAuthentication", 0}}, {}, fail});
  cases.push_back({rdp, "no policy, local NLA on", {{kRdpPolicy, "UserAuthentication", std::nullopt}}, {}, pass});
  cases.push_back({rdp,
                   "no policy, local NLA off",
                   {{kRdpPolicy, "UserAuthentication", std::nullopt}, {kRdpTcp, "UserAuthentication", 0}},
                   {},
                   fail});
  cases.push_back({rdp,
                   "Remote Desktop off",
                   {{kTerminalServer, "fDenyTSConnections", 1}, {kRdpPolicy, "UserAuthentication", 0}},
                   {},
                   Status::not_applicable});

  const auto updates = "win.updates.automatic";
  cases.push_back({updates, "hardened", {}, {}, pass});
  cases.push_back({updates, "NoAutoUpdate = 1", {{kAutoUpdate, "NoAutoUpdate", 1}}, {}, fail});
  cases.push_back({updates, "not configured", {{kAutoUpdate, "NoAutoUpdate", std::nullopt}}, {}, pass});

  const auto defender = "win.defender.realtime_protection";
  cases.push_back({defender, "hardened", {}, {}, pass});
  cases.push_back({defender,
                   "policy disables real-time",
                   {{kDefenderPolicy + "\\Real-Time Protection", "DisableRealtimeMonitoring", 1}},
                   {},
                   fail});
  cases.push_back(
      {defender, "local setting disables real-time", {{kDefenderLocal, "DisableRealtimeMonitoring", 1}}, {}, fail});
  cases.push_back({defender, "policy disables Defender", {{kDefenderPolicy, "DisableAntiSpyware", 1}}, {}, fail});
  cases.push_back({defender,
                   "nothing configured",
                   {{kDefenderPolicy, "DisableAntiSpyware", std::nullopt},
                    {kDefenderPolicy + "\\Real-Time Protection", "DisableRealtimeMonitoring", std::nullopt},
                    {kDefenderLocal, "DisableRealtimeMonitoring", std::nullopt}},
                   {},
                   pass});

  const auto lock = "win.session.inactivity_lock";
  cases.push_back({lock, "hardened", {}, {}, pass});
  cases.push_back({lock, "exactly 900", {{kSystemPolicy, "InactivityTimeoutSecs", 900}}, {}, pass});
  cases.push_back({lock, "20 minutes", {{kSystemPolicy, "InactivityTimeoutSecs", 1200}}, {}, fail});
  cases.push_back({lock, "0 (never)", {{kSystemPolicy, "InactivityTimeoutSecs", 0}}, {}, fail});
  cases.push_back({lock, "not set", {{kSystemPolicy, "InactivityTimeoutSecs", std::nullopt}}, {}, fail});

  cases.push_back({"win.accounts.guest_disabled", "hardened", {}, {}, pass});
  cases.push_back({"win.accounts.guest_disabled", "Guest enabled", {}, {{"EnableGuestAccount", 1}}, fail});
  cases.push_back({"win.accounts.min_password_length", "hardened", {}, {}, pass});
  cases.push_back({"win.accounts.min_password_length", "8 characters", {}, {{"MinimumPasswordLength", 8}}, fail});
  cases.push_back({"win.accounts.lockout_threshold", "hardened", {}, {}, pass});
  cases.push_back({"win.accounts.lockout_threshold", "never locks", {}, {{"LockoutBadCount", 0}}, fail});
  cases.push_back({"win.accounts.lockout_threshold", "10 attempts", {}, {{"LockoutBadCount", 10}}, fail});
  cases.push_back({"win.accounts.lockout_duration", "hardened", {}, {}, pass});
  cases.push_back({"win.accounts.lockout_duration", "until unlocked", {}, {{"LockoutDuration", -1}}, pass});
  cases.push_back({"win.accounts.lockout_duration", "15 minutes", {}, {{"LockoutDuration", 15}}, fail});
  return cases;
}

}  // namespace postured::test
