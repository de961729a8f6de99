// Read-only access to a Windows registry and to the local account policy, for policy rules and the
// Windows patch level. Portable: platform/windows reads the real registry (RegOpenKeyExW and friends,
// NetUserModalsGet), tests may use an in-memory one. Key paths are written as people write them:
// HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion (also HKEY_LOCAL_MACHINE\..., HKU\...).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postured {

// Which keys a 64-bit Windows shows: the native ones, or the WOW64 redirected ones that 32-bit
// programs see (KEY_WOW64_64KEY / KEY_WOW64_32KEY). On 32-bit Windows both are the same keys.
enum class RegistryBits { native64, wow32 };

// The hives a rule or a reader may name. HKCU and HKCR are left out on purpose: the agent runs as
// LocalSystem, whose HKCU is its own profile, not the cashier's (name HKU\<SID> instead).
enum class RegistryHive { local_machine, users };

struct RegistryPath {
  RegistryHive hive = RegistryHive::local_machine;
  std::string_view subkey;  // below the hive, without a leading backslash; may be empty
};

// "HKLM\SOFTWARE\X" (or "HKEY_LOCAL_MACHINE\...", "HKU\...", "HKEY_USERS\...", the hive in any
// case) → its hive and subkey; nullopt for another hive, forward slashes, empty components or a
// trailing backslash.
inline std::optional<RegistryPath> split_registry_path(std::string_view key) {
  struct Prefix {
    std::string_view name;
    RegistryHive hive;
  };
  static constexpr Prefix kPrefixes[] = {{"HKLM", RegistryHive::local_machine},
                                         {"HKEY_LOCAL_MACHINE", RegistryHive::local_machine},
                                         {"HKU", RegistryHive::users},
                                         {"HKEY_USERS", RegistryHive::users}};
  const auto upper = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; };
  for (const auto& prefix : kPrefixes) {
    if (key.size() < prefix.name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < prefix.name.size() && same; ++i) same = upper(key[i]) == prefix.name[i];
    if (!same) continue;
    auto rest = key.substr(prefix.name.size());
    if (!rest.empty() && rest.front() != '\\') continue;  // "HKLMX"
    if (!rest.empty()) rest.remove_prefix(1);
    if (rest.find('/') != std::string_view::npos || rest.find("\\\\") != std::string_view::npos) return std::nullopt;
    if (!rest.empty() && (rest.front() == '\\' || rest.back() == '\\')) return std::nullopt;
    return RegistryPath{prefix.hive, rest};
  }
  return std::nullopt;
}

struct RegistryValue {
  enum class Type { dword, qword, string, expand_string, multi_string, binary, other };
  Type type = Type::other;
  std::uint64_t number = 0;          // dword, qword
  std::string text;                  // string, expand_string (UTF-8, not expanded)
  std::vector<std::string> strings;  // multi_string
  std::size_t size = 0;              // bytes of a binary or other value
};

// What a read found. A missing key or value is expected (a setting nobody configured), not an error.
struct RegistryRead {
  enum class Found { value, no_key, no_value, error };
  Found found = Found::error;
  RegistryValue value;  // when found == value
  std::string error;    // when found == error: what Windows said, e.g. "access denied (5)"
};

struct RegistrySubkeys {
  bool key_exists = false;
  std::vector<std::string> names;  // sorted
  std::string error;               // not empty: the key could not be enumerated
};

class RegistryView {
 public:
  virtual ~RegistryView() = default;
  // The value `name` of `key` in the `bits` view; "" names the key's default value.
  virtual RegistryRead read(std::string_view key, std::string_view name,
                            RegistryBits bits = RegistryBits::native64) const = 0;
  // The names of `key`'s subkeys, sorted.
  virtual RegistrySubkeys subkeys(std::string_view key, RegistryBits bits = RegistryBits::native64) const = 0;
};

// The value `name` of `key` if it is text (REG_SZ or REG_EXPAND_SZ, not expanded); nullopt when it is
// missing or of another type.
inline std::optional<std::string> read_registry_text(const RegistryView& registry, std::string_view key,
                                                     std::string_view name,
                                                     RegistryBits bits = RegistryBits::native64) {
  const auto read = registry.read(key, name, bits);
  if (read.found != RegistryRead::Found::value) return std::nullopt;
  if (read.value.type == RegistryValue::Type::string || read.value.type == RegistryValue::Type::expand_string)
    return read.value.text;
  return std::nullopt;
}

// A setting of the local account policy, named as `secedit /export` names it in [System Access]
// (MinimumPasswordLength, LockoutBadCount, EnableGuestAccount, ...): a whole number, or why not.
struct AccountPolicyRead {
  std::optional<long long> value;
  std::string error;
};

class AccountPolicyView {
 public:
  virtual ~AccountPolicyView() = default;
  // The current value of `setting` (one of kAccountPolicySettings).
  virtual AccountPolicyRead read(std::string_view setting) const = 0;
};

// The settings an AccountPolicyView knows, in secedit's own units, so that values from CIS
// benchmarks and `secedit /export` files can be written as they are.
struct AccountPolicySetting {
  std::string_view name;
  std::string_view meaning;
};
inline constexpr AccountPolicySetting kAccountPolicySettings[] = {
    {"MinimumPasswordLength", "characters (NetUserModalsGet level 0, usrmod0_min_passwd_len)"},
    {"PasswordHistorySize", "remembered passwords (usrmod0_password_hist_len)"},
    {"MaximumPasswordAge", "days, -1 never (usrmod0_max_passwd_age)"},
    {"MinimumPasswordAge", "days (usrmod0_min_passwd_age)"},
    {"LockoutBadCount", "failed logons before lockout, 0 never (level 3, usrmod3_lockout_threshold)"},
    {"LockoutDuration", "minutes, -1 until an administrator unlocks (usrmod3_lockout_duration)"},
    {"ResetLockoutCount", "minutes until the failed-logon count resets (usrmod3_lockout_observation_window)"},
    {"EnableGuestAccount", "1 when the built-in Guest account (RID 501) is enabled (NetUserGetInfo level 1)"},
    {"EnableAdminAccount", "1 when the built-in Administrator account (RID 500) is enabled"},
};

}  // namespace postured
