#include "policy/policy.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "core/text.hpp"
#include "core/toml.hpp"

namespace postured::policy {
namespace {

using Names = std::vector<std::string_view>;
using text::suggestion;

const Names kSections{"policy", "check"};
const Names kPolicyKeys{"id", "title", "description", "allow_commands"};
const Names kCheckKeys{"id",       "title", "rationale", "remediation", "severity", "references",
                       "requires", "rule",  "all",       "any",         "none"};
const Names kSeverities{"low", "medium", "high", "critical"};
const Names kComparisons{"<", "<=", "==", ">=", ">"};
const Names kOccurrences{"all", "first", "last"};
// The key that says what a rule is; exactly one per rule table.
const Names kRuleKinds{"file",     "sysctl",         "service", "package", "command",
                       "registry", "account_policy", "all",     "any",     "none"};
const Names kRegistryViews{"64", "32"};
const Names kWhenMissing{"fail", "pass", "not_applicable"};
const Names kLineKeys{"line", "occurrence", "equals", "compare", "value", "ignore_case"};

Names keys_of(std::string_view kind) {
  Names keys{kind};
  const auto add = [&](const Names& more) { keys.insert(keys.end(), more.begin(), more.end()); };
  if (kind == "file")
    add({"exists", "max_mode", "owner", "group"}), add(kLineKeys);
  else if (kind == "sysctl")
    add({"equals", "compare", "value"});
  else if (kind == "service")
    add({"enabled", "running"});
  else if (kind == "package")
    add({"installed"});
  else if (kind == "command")
    add(kLineKeys);
  else if (kind == "registry")
    add({"name", "equals", "one_of", "compare", "value", "view", "missing"});
  else if (kind == "account_policy")
    add({"equals", "one_of", "compare", "value"});
  return keys;
}

bool contains(const Names& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

template <typename Choice>
Choice choice_at(const Names& names, std::string_view name) {
  return static_cast<Choice>(std::find(names.begin(), names.end(), name) - names.begin());
}

// A dotted, lowercase id: "pos.ssh.x11_forwarding".
bool valid_check_id(std::string_view id) {
  if (id.empty() || id.size() > 128 || id.front() == '.' || id.back() == '.') return false;
  if (id.find('.') == std::string_view::npos || id.find("..") != std::string_view::npos) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

// Collects errors while turning TOML nodes into rules; every message names the key's dotted path.
class PolicyReader {
 public:
  PolicyReader(std::string_view source, const std::vector<std::string>& taken) : source_(source), taken_(taken) {}

  void error(const toml::node& where, std::string message) { error(where.source(), std::move(message)); }
  void error(const toml::source_region& where, std::string message) {
    errors_.push_back({source_, static_cast<int>(std::max<toml::source_index>(where.begin.line, 1)),
                       static_cast<int>(std::max<toml::source_index>(where.begin.column, 1)), std::move(message)});
  }
  std::vector<ConfigError> take_errors() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return std::move(errors_);
  }
  std::vector<std::string> declared_ids() const { return declared_; }

  void read_root(const toml::table& root, Policy& policy) {
    for (auto&& [key, node] : root) {
      if (!contains(kSections, key.str())) {
        error(key.source(), "unknown section '" + std::string(key.str()) + "'" + suggestion(key.str(), kSections));
      }
    }
    const auto* header = root.get("policy");
    if (!header) {
      error(toml::source_region{}, "missing [policy] table (id and title of the policy)");
    } else if (const auto* table = header->as_table()) {
      read_header(*table, policy);
    } else {
      error(*header, "'policy' must be a table, not " + std::string(toml_type_name(*header)));
    }
    const auto* checks = root.get("check");
    if (!checks) {
      error(toml::source_region{}, "the policy has no [[check]]");
      return;
    }
    const auto* array = checks->as_array();
    if (!array || !array->is_array_of_tables()) {
      error(*checks, "'check' must be an array of tables ([[check]]), not " + std::string(toml_type_name(*checks)));
      return;
    }
    for (const auto& element : *array) {
      if (auto check = read_check(*element.as_table(), "check")) policy.checks.push_back(std::move(*check));
    }
  }

 private:
  void read_header(const toml::table& table, Policy& policy) {
    reject_unknown(table, "policy", kPolicyKeys);
    policy.id = required_string(table, "policy", "id").value_or("");
    policy.title = required_string(table, "policy", "title").value_or("");
    optional_string(table, "policy", "description");  // for people reading the file; type-checked only
    if (const auto* node = table.get("allow_commands")) {
      if (const auto* b = node->as_boolean())
        policy.allow_commands = b->get();
      else
        error(*node, "'policy.allow_commands' must be a boolean, not " + std::string(toml_type_name(*node)));
    }
    allow_commands_ = policy.allow_commands;
  }

  std::optional<PolicyCheckSpec> read_check(const toml::table& table, const std::string& path) {
    const auto before = errors_.size();
    reject_unknown(table, path, kCheckKeys);
    PolicyCheckSpec spec;
    const auto id = required_string(table, path, "id");
    if (id) {
      declared_.push_back(*id);
      const auto* node = table.get("id");
      if (!valid_check_id(*id)) {
        error(*node, "check id '" + *id +
                         "' must be dotted lowercase letters, digits, '_' and '-', e.g. \"pos.ssh.x11_forwarding\"");
      } else if (std::count(declared_.begin(), declared_.end(), *id) > 1) {
        error(*node, "check id '" + *id + "' is used twice in this policy");
      } else if (std::find(taken_.begin(), taken_.end(), *id) != taken_.end()) {
        error(*node, "check id '" + *id + "' is already taken by a compiled check or an earlier policy");
      }
      spec.info.id = *id;
    }
    const std::string named = path + (id ? " '" + *id + "'" : "");
    spec.info.title = required_string(table, named, "title").value_or("");
    spec.rationale = required_string(table, named, "rationale").value_or("");
    spec.info.remediation = required_string(table, named, "remediation").value_or("");
    if (const auto severity = required_string(table, named, "severity")) {
      if (contains(kSeverities, *severity))
        spec.info.severity = choice_at<Severity>(kSeverities, *severity);
      else
        error(*table.get("severity"), "'severity' is \"" + *severity + "\"" + suggestion(*severity, kSeverities));
    }
    read_references(table, named, spec.info.references);
    if (const auto* requires_node = table.get("requires")) {
      spec.requires_rule = read_rule(*requires_node, named + ".requires", 1);
    }
    // The check's rule: `rule = {...}`, or its all/any/none written on the check itself.
    std::vector<std::string_view> given;
    for (const auto* key : {"rule", "all", "any", "none"}) {
      if (table.contains(key)) given.push_back(key);
    }
    if (given.size() != 1) {
      error(table.source(), named + " needs exactly one of 'rule', 'all', 'any' or 'none'" +
                                (given.empty() ? std::string() : ", not " + std::to_string(given.size())));
    } else if (given.front() == "rule") {
      if (auto rule = read_rule(*table.get("rule"), named + ".rule", 1)) spec.rule = std::move(*rule);
    } else if (auto group = read_group(given.front(), *table.get(given.front()), named, 1)) {
      spec.rule.kind = std::move(*group);
    }
    if (errors_.size() != before) return std::nullopt;
    return spec;
  }

  void read_references(const toml::table& table, const std::string& path, std::vector<std::string>& out) {
    const auto* node = table.get("references");
    if (!node) {
      error(table.source(),
            "missing key 'references' in " + path + " (e.g. [\"CIS Debian 12 5.1.4\", \"PCI DSS 4.0 2.2.6\"])");
      return;
    }
    const auto* array = node->as_array();
    if (!array || array->empty()) {
      error(*node, "'references' must be a non-empty array of strings");
      return;
    }
    for (const auto& element : *array) {
      if (const auto* s = element.as_string(); s && !s->get().empty())
        out.push_back(s->get());
      else
        error(element, "'references' must hold only non-empty strings, not " + std::string(toml_type_name(element)));
    }
  }

  std::optional<RuleGroup> read_group(std::string_view op, const toml::node& node, const std::string& path, int depth) {
    const std::string full = path + "." + std::string(op);
    const auto* array = node.as_array();
    if (!array || array->empty()) {
      error(node, "'" + std::string(op) + "' must be a non-empty array of rules, not " +
                      (array ? std::string("an empty array") : std::string(toml_type_name(node))));
      return std::nullopt;
    }
    if (depth > kMaxRuleDepth) {
      error(node, "rules are nested deeper than " + std::to_string(kMaxRuleDepth) + " levels");
      return std::nullopt;
    }
    RuleGroup group;
    group.op = op == "all" ? Combinator::all : op == "any" ? Combinator::any : Combinator::none;
    bool ok = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
      auto rule = read_rule(*array->get(i), full + "[" + std::to_string(i) + "]", depth + 1);
      if (rule)
        group.rules.push_back(std::move(*rule));
      else
        ok = false;
    }
    if (!ok) return std::nullopt;
    return group;
  }

  std::optional<Rule> read_rule(const toml::node& node, const std::string& path, int depth) {
    const auto* table = node.as_table();
    if (!table) {
      error(node, "'" + path + "' must be a rule table, e.g. {file = \"/etc/shadow\", max_mode = \"0640\"}, not " +
                      std::string(toml_type_name(node)));
      return std::nullopt;
    }
    std::vector<std::string_view> kinds;
    for (auto&& [key, value] : *table) {
      if (contains(kRuleKinds, key.str())) kinds.push_back(key.str());
    }
    if (kinds.size() != 1) {
      error(node, "'" + path +
                      "' needs exactly one of file, sysctl, service, package, command, registry, account_policy, "
                      "all, any or none" +
                      (kinds.empty() ? std::string() : ", not " + std::to_string(kinds.size())));
      return std::nullopt;
    }
    const auto kind = kinds.front();
    const auto before = errors_.size();
    reject_unknown(*table, path, keys_of(kind));
    Rule rule;
    if (kind == "all" || kind == "any" || kind == "none") {
      if (auto group = read_group(kind, *table->get(kind), path, depth)) rule.kind = std::move(*group);
    } else if (kind == "file") {
      rule.kind = read_file_rule(*table, path);
    } else if (kind == "sysctl") {
      rule.kind = read_sysctl_rule(*table, path);
    } else if (kind == "service") {
      rule.kind = read_service_rule(*table, path);
    } else if (kind == "package") {
      rule.kind = read_package_rule(*table, path);
    } else if (kind == "command") {
      rule.kind = read_command_rule(*table, path);
    } else if (kind == "registry") {
      rule.kind = read_registry_rule(*table, path);
    } else {
      rule.kind = read_account_policy_rule(*table, path);
    }
    if (errors_.size() != before) return std::nullopt;
    return rule;
  }

  FileRule read_file_rule(const toml::table& table, const std::string& path) {
    FileRule rule;
    rule.path = absolute_path(table, path, "file");
    if (const auto exists = optional_bool(table, path, "exists")) rule.must_exist = *exists;
    if (const auto* node = table.get("max_mode")) rule.max_mode = read_mode(*node, path);
    if (const auto* node = table.get("owner")) rule.owner = read_principal(*node, path + ".owner");
    if (const auto* node = table.get("group")) rule.group = read_principal(*node, path + ".group");
    if (table.contains("line"))
      rule.line = read_line_test(table, path);
    else
      reject_without_line(table, path);
    if (!rule.must_exist && (rule.max_mode || rule.owner || rule.group || rule.line)) {
      error(*table.get("exists"), "'" + path + "' with exists = false cannot also test mode, owner, group or lines");
    }
    return rule;
  }

  SysctlRule read_sysctl_rule(const toml::table& table, const std::string& path) {
    SysctlRule rule;
    rule.name = required_string(table, path, "sysctl").value_or("");
    const bool valid = !rule.name.empty() && rule.name.find("..") == std::string::npos &&
                       std::all_of(rule.name.begin(), rule.name.end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                c == '_' || c == '.' || c == '-' || c == '/';
                       });
    if (!valid && table.get("sysctl")->is_string()) {
      error(*table.get("sysctl"), "'" + path + ".sysctl' must be a name like \"net.ipv4.ip_forward\"");
    }
    read_value_test(table, path, rule.equals, rule.compare, true);
    return rule;
  }

  ServiceRule read_service_rule(const toml::table& table, const std::string& path) {
    ServiceRule rule;
    rule.unit = required_string(table, path, "service").value_or("");
    // A bare name means a service unit, as systemctl reads it.
    if (!rule.unit.empty() && rule.unit.find('.') == std::string::npos) rule.unit += ".service";
    if (rule.unit.find('/') != std::string::npos)
      error(*table.get("service"), "'" + path + ".service' must be a unit name, not a path");
    rule.enabled = optional_bool(table, path, "enabled");
    rule.running = optional_bool(table, path, "running");
    if (!rule.enabled && !rule.running)
      error(table.source(), "'" + path + "' needs 'enabled' or 'running' (true or false)");
    return rule;
  }

  PackageRule read_package_rule(const toml::table& table, const std::string& path) {
    PackageRule rule;
    rule.name = required_string(table, path, "package").value_or("");
    rule.installed = optional_bool(table, path, "installed").value_or(true);
    return rule;
  }

  CommandRule read_command_rule(const toml::table& table, const std::string& path) {
    CommandRule rule;
    const auto* node = table.get("command");
    const auto* array = node->as_array();
    if (!array || array->empty()) {
      error(*node,
            "'" + path +
                ".command' must be a non-empty array of strings (argv, no shell), e.g. [\"/usr/sbin/sshd\", \"-T\"]");
    } else {
      for (const auto& element : *array) {
        if (const auto* s = element.as_string())
          rule.argv.push_back(s->get());
        else
          error(element, "'" + path + ".command' must hold only strings, not " + std::string(toml_type_name(element)));
      }
      if (!rule.argv.empty() && (rule.argv.front().empty() || rule.argv.front().front() != '/')) {
        error(*array->get(0),
              "the program in '" + path + ".command' must be an absolute path (no shell, no PATH lookup)");
      }
    }
    if (!allow_commands_) {
      error(*node, "commands are off for this policy; set allow_commands = true in [policy] to let it run programs");
    }
    if (table.contains("line")) {
      if (auto line = read_line_test(table, path)) rule.line = std::move(*line);
    } else {
      error(table.source(), "'" + path + "' needs 'line', the regex the command's output must match");
    }
    return rule;
  }

  RegistryRule read_registry_rule(const toml::table& table, const std::string& path) {
    RegistryRule rule;
    rule.key = required_string(table, path, "registry").value_or("");
    if (!rule.key.empty() && !split_registry_path(rule.key)) {
      const bool user_hive = rule.key.rfind("HKCU", 0) == 0 || rule.key.rfind("HKEY_CURRENT_USER", 0) == 0 ||
                             rule.key.rfind("HKCR", 0) == 0 || rule.key.rfind("HKEY_CLASSES_ROOT", 0) == 0;
      error(*table.get("registry"),
            user_hive ? "'" + path +
                            ".registry': HKCU and HKCR are the agent's own (LocalSystem) view, not a user's; use "
                            "HKLM\\... or HKU\\<SID>\\..."
                      : "'" + path +
                            ".registry' must be a key below HKLM or HKU with backslashes, e.g. "
                            "'HKLM\\SOFTWARE\\Policies\\...' (a TOML literal string keeps single backslashes)");
    }
    rule.value = required_string(table, path, "name").value_or("");
    if (const auto view = optional_choice(table, path, "view", kRegistryViews))
      rule.bits = *view == "32" ? RegistryBits::wow32 : RegistryBits::native64;
    if (const auto missing = optional_choice(table, path, "missing", kWhenMissing))
      rule.missing = choice_at<WhenMissing>(kWhenMissing, *missing);
    read_expectation(table, path, true, rule.one_of, rule.compare);
    return rule;
  }

  AccountPolicyRule read_account_policy_rule(const toml::table& table, const std::string& path) {
    AccountPolicyRule rule;
    rule.setting = required_string(table, path, "account_policy").value_or("");
    Names settings;
    for (const auto& known : kAccountPolicySettings) settings.push_back(known.name);
    if (!rule.setting.empty() && !contains(settings, rule.setting)) {
      error(*table.get("account_policy"),
            "'" + path + ".account_policy' is \"" + rule.setting + "\"" + suggestion(rule.setting, settings));
    }
    std::vector<RegistryExpected> one_of;
    read_expectation(table, path, false, one_of, rule.compare);
    for (const auto& expected : one_of) rule.one_of.push_back(std::get<long long>(expected));
    return rule;
  }

  // What a registry value or account setting must be: `equals = 4` (or a text, where `text` allows),
  // `one_of = [...]`, or `compare` with `value`; exactly one of them.
  void read_expectation(const toml::table& table, const std::string& path, bool text,
                        std::vector<RegistryExpected>& one_of, std::optional<NumberTest>& compare) {
    const auto what = std::string(text ? "an integer or a string" : "an integer");
    const auto expected = [&](const toml::node& node, const std::string& key) -> std::optional<RegistryExpected> {
      if (const auto* i = node.as_integer()) return i->get();
      if (const auto* s = node.as_string(); s && text) return s->get();
      error(node, "'" + path + "." + key + "' must be " + what + ", not " + std::string(toml_type_name(node)));
      return std::nullopt;
    };
    int given = 0;
    if (const auto* node = table.get("equals")) {
      ++given;
      if (auto value = expected(*node, "equals")) one_of.push_back(std::move(*value));
    }
    if (const auto* node = table.get("one_of")) {
      ++given;
      const auto* array = node->as_array();
      if (!array || array->empty()) {
        error(*node,
              "'" + path + ".one_of' must be a non-empty array of " + (text ? "integers or strings" : "integers"));
      } else {
        for (const auto& element : *array) {
          if (auto value = expected(element, "one_of")) one_of.push_back(std::move(*value));
        }
      }
    }
    const auto op = optional_choice(table, path, "compare", kComparisons);
    const auto* value = table.get("value");
    if (table.contains("compare")) ++given;
    if (op && !value) error(*table.get("compare"), "'" + path + ".compare' needs 'value', the number to compare with");
    if (value && !table.contains("compare")) error(*value, "'" + path + ".value' needs 'compare' (<, <=, ==, >= or >)");
    if (value && !value->is_integer())
      error(*value, "'" + path + ".value' must be an integer, not " + std::string(toml_type_name(*value)));
    if (op && value && value->is_integer())
      compare = NumberTest{choice_at<Comparison>(kComparisons, *op), value->as_integer()->get()};
    if (given == 0) error(table.source(), "'" + path + "' needs 'equals', 'one_of', or 'compare' with 'value'");
    if (given > 1)
      error(table.source(), "'" + path + "' has more than one of 'equals', 'one_of' and 'compare'; use one");
  }

  // `line` with its options; `occurrence`, `equals` and `compare` need a capture group where they test it.
  std::optional<LineTest> read_line_test(const toml::table& table, const std::string& path) {
    const auto pattern = required_string(table, path, "line");
    if (!pattern) return std::nullopt;
    LineTest test;
    test.pattern = *pattern;
    test.ignore_case = optional_bool(table, path, "ignore_case").value_or(false);
    auto flags = std::regex::ECMAScript | std::regex::optimize;
    if (test.ignore_case) flags |= std::regex::icase;
    try {
      test.regex = std::regex(*pattern, flags);
    } catch (const std::regex_error& e) {
      error(*table.get("line"), "'" + path + ".line' is not a valid regex (ECMAScript): " + e.what());
      return std::nullopt;
    }
    if (const auto occurrence = optional_choice(table, path, "occurrence", kOccurrences)) {
      test.occurrence = choice_at<Occurrence>(kOccurrences, *occurrence);
    }
    read_value_test(table, path, test.equals, test.compare, false);
    if ((test.equals || test.compare) && test.regex.mark_count() < 1) {
      error(*table.get("line"), "'" + path + ".line' needs a capture group ( ... ) for 'equals' or 'compare' to test");
    }
    return test;
  }

  // equals = "..." or compare = "<=" with value = N; `required`: one of them must be given.
  void read_value_test(const toml::table& table, const std::string& path, std::optional<std::string>& equals,
                       std::optional<NumberTest>& compare, bool required) {
    equals = optional_string(table, path, "equals");
    const auto op = optional_choice(table, path, "compare", kComparisons);
    const auto* value = table.get("value");
    if (op && !value) error(*table.get("compare"), "'" + path + ".compare' needs 'value', the number to compare with");
    if (value && !table.contains("compare")) error(*value, "'" + path + ".value' needs 'compare' (<, <=, ==, >= or >)");
    if (value && !value->is_integer())
      error(*value, "'" + path + ".value' must be an integer, not " + std::string(toml_type_name(*value)));
    if (op && value && value->is_integer())
      compare = NumberTest{choice_at<Comparison>(kComparisons, *op), value->as_integer()->get()};
    if (equals && table.contains("compare"))
      error(*table.get("compare"), "'" + path + "' has both 'equals' and 'compare'; use one");
    if (required && !equals && !table.contains("compare"))
      error(table.source(), "'" + path + "' needs 'equals' or 'compare' with 'value'");
  }

  // Rejects line options on a file rule that has no `line`.
  void reject_without_line(const toml::table& table, const std::string& path) {
    for (const auto key : kLineKeys) {
      if (key != "line" && table.contains(key))
        error(*table.get(key), "'" + path + "." + std::string(key) + "' needs 'line'");
    }
  }

  std::optional<unsigned> read_mode(const toml::node& node, const std::string& path) {
    const auto* s = node.as_string();
    const auto bad = [&] {
      error(node,
            "'" + path + ".max_mode' must be an octal string like \"0640\" (a TOML integer would be read as decimal)");
      return std::nullopt;
    };
    if (!s || s->get().size() < 3 || s->get().size() > 4) return bad();
    unsigned mode = 0;
    const auto& text = s->get();
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), mode, 8);
    if (ec != std::errc{} || end != text.data() + text.size()) return bad();
    return mode;
  }

  std::optional<Principal> read_principal(const toml::node& node, const std::string& path) {
    if (const auto* i = node.as_integer(); i && i->get() >= 0 && i->get() <= 4294967294LL) {
      return Principal{static_cast<unsigned>(i->get()), {}};
    }
    if (const auto* s = node.as_string(); s && !s->get().empty() && s->get().find(':') == std::string::npos) {
      return Principal{std::nullopt, s->get()};
    }
    error(node, "'" + path + "' must be a name (\"root\") or a numeric id (0)");
    return std::nullopt;
  }

  std::string absolute_path(const toml::table& table, const std::string& path, std::string_view key) {
    const auto text = required_string(table, path, key).value_or("");
    if (!text.empty() && text.front() != '/')
      error(*table.get(key), "'" + path + "." + std::string(key) + "' must be an absolute path");
    return text;
  }

  void reject_unknown(const toml::table& table, const std::string& path, const Names& allowed) {
    for (auto&& [key, value] : table) {
      if (contains(allowed, key.str())) continue;
      error(key.source(), "unknown key '" + std::string(key.str()) + "' in " + path + suggestion(key.str(), allowed));
    }
  }

  std::optional<std::string> optional_string(const toml::table& table, const std::string& path, std::string_view key) {
    const auto* node = table.get(key);
    if (!node) return std::nullopt;
    if (const auto* s = node->as_string()) return s->get();
    error(*node, "'" + path + "." + std::string(key) + "' must be a string, not " + std::string(toml_type_name(*node)));
    return std::nullopt;
  }

  std::optional<std::string> required_string(const toml::table& table, const std::string& path, std::string_view key) {
    if (!table.contains(key)) {
      error(table.source(), "missing key '" + std::string(key) + "' in " + path);
      return std::nullopt;
    }
    auto value = optional_string(table, path, key);
    if (value && value->empty()) {
      error(*table.get(key), "'" + path + "." + std::string(key) + "' must not be empty");
      return std::nullopt;
    }
    return value;
  }

  std::optional<bool> optional_bool(const toml::table& table, const std::string& path, std::string_view key) {
    const auto* node = table.get(key);
    if (!node) return std::nullopt;
    if (const auto* b = node->as_boolean()) return b->get();
    error(*node, "'" + path + "." + std::string(key) + "' must be a boolean, not " + std::string(toml_type_name(*node)));
    return std::nullopt;
  }

  std::optional<std::string> optional_choice(const toml::table& table, const std::string& path, std::string_view key,
                                             const Names& choices) {
    auto value = optional_string(table, path, key);
    if (value && !contains(choices, *value)) {
      error(*table.get(key),
            "'" + path + "." + std::string(key) + "' is \"" + *value + "\"" + suggestion(*value, choices));
      return std::nullopt;
    }
    return value;
  }

  std::string source_;
  const std::vector<std::string>& taken_;
  std::vector<ConfigError> errors_;
  std::vector<std::string> declared_;
  bool allow_commands_ = false;
};

}  // namespace

PolicyLoad parse_policy(std::string_view text, std::string_view source_name,
                        const std::vector<std::string>& taken_ids) {
  PolicyLoad load;
  toml::table root;
  try {
    root = toml::parse(text, std::string(source_name));
  } catch (const toml::parse_error& e) {
    const auto& where = e.source();
    load.errors.push_back(
        {std::string(source_name), static_cast<int>(std::max<toml::source_index>(where.begin.line, 1)),
         static_cast<int>(std::max<toml::source_index>(where.begin.column, 1)), std::string(e.description())});
    return load;
  }
  PolicyReader reader(source_name, taken_ids);
  Policy policy;
  policy.source = std::string(source_name);
  reader.read_root(root, policy);
  load.errors = reader.take_errors();
  load.declared_ids = reader.declared_ids();
  if (load.errors.empty()) load.policy = std::move(policy);
  return load;
}

PolicyLoad load_policy_file(const std::filesystem::path& path, const std::vector<std::string>& taken_ids) {
  const auto refuse = [&](std::string message) {
    PolicyLoad load;
    load.errors.push_back({path.string(), 1, 1, std::move(message)});
    return load;
  };
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return refuse(std::filesystem::exists(path, ec) ? "cannot read the file" : "no such file");
  if (size > kMaxPolicyBytes) return refuse("larger than " + std::to_string(kMaxPolicyBytes >> 20) + " MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) return refuse("cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_policy(text.str(), path.string(), taken_ids);
}

}  // namespace postured::policy
