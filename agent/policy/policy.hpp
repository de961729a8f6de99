// Declarative hardening policies: policy TOML → validated structs. agent/policy/README.md is the
// reference for the format; every limit it states is read from the table below.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/check.hpp"
#include "core/config.hpp"
#include "core/registry_view.hpp"

namespace postured::policy {

// Limits, each with why. README.md states the same values.
inline constexpr std::size_t kMaxPolicyBytes = 1u << 20;   // a policy is text written by people
inline constexpr std::size_t kMaxContentBytes = 4u << 20;  // content rules read config files, not logs
inline constexpr std::size_t kMaxLineBytes = 4096;     // longer lines are skipped: std::regex recurses per character
inline constexpr std::size_t kMaxQuotedChars = 120;    // of a matched line in evidence
inline constexpr std::size_t kMaxEvidenceChars = 400;  // of one check's evidence
inline constexpr int kMaxRuleDepth = 8;                // nesting of all/any/none
inline constexpr std::chrono::milliseconds kCommandTimeout{10000};  // a hung program must not stall a cycle
inline constexpr std::size_t kMaxCommandOutput = 1u << 20;          // stdout kept from a command

enum class Comparison { lt, le, eq, ge, gt };

// `compare = ">=", value = 2`: the captured or read number against `value`.
struct NumberTest {
  Comparison op = Comparison::eq;
  long long value = 0;
};

// A user or group by name (resolved through the host's /etc/passwd or /etc/group) or by id.
struct Principal {
  std::optional<unsigned> id;
  std::string name;
};

// Which matching lines a line test judges.
enum class Occurrence { all, first, last };

// A regex applied to each line (ECMAScript, `regex_search`), with an optional test of its group 1.
struct LineTest {
  std::string pattern;  // as written, for evidence
  std::regex regex;
  Occurrence occurrence = Occurrence::all;
  std::optional<std::string> equals;  // group 1 must equal this (with ignore_case: in any case)
  std::optional<NumberTest> compare;  // group 1 as a whole number
  bool ignore_case = false;
};

// `file`: exists or not, mode, owner, group, content. `path` may be a glob.
struct FileRule {
  std::string path;
  bool must_exist = true;            // exists = false: no file may match
  std::optional<unsigned> max_mode;  // no permission bits beyond these
  std::optional<Principal> owner;
  std::optional<Principal> group;
  std::optional<LineTest> line;
};

struct SysctlRule {
  std::string name;                   // "net.ipv4.ip_forward"
  std::optional<std::string> equals;  // whitespace-normalized value
  std::optional<NumberTest> compare;
};

struct ServiceRule {
  std::string unit;  // "ssh.service"
  std::optional<bool> enabled;
  std::optional<bool> running;
};

struct PackageRule {
  std::string name;
  bool installed = true;
};

struct CommandRule {
  std::vector<std::string> argv;
  LineTest line;
};

// What a registry rule does when the value (or its key) is not there: on Windows an absent policy
// value usually means the default, which may or may not be the hardened state.
enum class WhenMissing { fail, pass, not_applicable };

// A number (REG_DWORD, REG_QWORD, or a REG_SZ holding a whole number) or a text (REG_SZ, REG_EXPAND_SZ).
using RegistryExpected = std::variant<long long, std::string>;

// Windows registry value (`registry`, `name`); not_applicable where the host has no registry.
struct RegistryRule {
  std::string key;                             // "HKLM\\SOFTWARE\\...", as written
  std::string value;                           // the value's name
  RegistryBits bits = RegistryBits::native64;  // view = "64" | "32"
  WhenMissing missing = WhenMissing::fail;
  std::vector<RegistryExpected> one_of;  // `equals = x` is `one_of = [x]`; text compares ignoring case
  std::optional<NumberTest> compare;
};

// A setting of the Windows local account policy (core/registry_view.hpp's kAccountPolicySettings),
// compared as a whole number; not_applicable where the host has none.
struct AccountPolicyRule {
  std::string setting;  // "MinimumPasswordLength"
  std::vector<long long> one_of;
  std::optional<NumberTest> compare;
};

struct Rule;
enum class Combinator { all, any, none };
struct RuleGroup {
  Combinator op = Combinator::all;
  std::vector<Rule> rules;
};

struct Rule {
  std::variant<FileRule, SysctlRule, ServiceRule, PackageRule, CommandRule, RegistryRule, AccountPolicyRule, RuleGroup>
      kind;
};

// One [[check]] of a policy.
struct PolicyCheckSpec {
  CheckInfo info;
  std::string rationale;
  std::optional<Rule> requires_rule;  // when it does not pass, the check is not_applicable
  Rule rule;
};

struct Policy {
  std::string source;  // the file, as named in errors
  std::string id;      // [policy] id
  std::string title;
  bool allow_commands = false;
  std::vector<PolicyCheckSpec> checks;
};

struct PolicyLoad {
  std::optional<Policy> policy;           // set only when there are no errors
  std::vector<ConfigError> errors;        // every problem, in file order
  std::vector<std::string> declared_ids;  // every check id the file declares, even when refused
};

// Parses and validates policy TOML. `taken_ids` are ids already in use (compiled checks, earlier
// policies); a check claiming one is an error.
PolicyLoad parse_policy(std::string_view text, std::string_view source_name,
                        const std::vector<std::string>& taken_ids = {});
// Reads and validates a file. A missing, unreadable or oversized file is one error at 1:1.
PolicyLoad load_policy_file(const std::filesystem::path& path, const std::vector<std::string>& taken_ids = {});

}  // namespace postured::policy
