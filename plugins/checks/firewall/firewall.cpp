// linux.firewall.active: a host firewall that filters inbound traffic is set up to start at boot.
#include <optional>
#include <string>
#include <vector>

#include "core/check.hpp"
#include "core/host.hpp"
#include "core/text.hpp"
#include "firewall/nftables_ruleset.hpp"

namespace postured::checks {
namespace {

constexpr const char* kUfwConf = "/etc/ufw/ufw.conf";
constexpr const char* kUfwDefaults = "/etc/default/ufw";
constexpr const char* kNftablesConf = "/etc/nftables.conf";
constexpr const char* kIptablesRules = "/etc/iptables/rules.v4";  // iptables-persistent's saved rules
constexpr const char* kFirewalldConf = "/etc/firewalld/firewalld.conf";
// Legacy (x_tables) iptables tables in use right now; iptables-nft and nft leave these empty.
constexpr const char* kRuntimeTables[] = {"/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"};

// What one firewall front end says: it filters (evidence), or a near miss worth telling the
// technician (note), or a file it could not read (error).
struct Verdict {
  bool filters = false;
  std::string evidence;
  std::string note;
  std::string error;
};

Verdict filters(std::string evidence) {
  return {true, std::move(evidence), {}, {}};
}
Verdict near_miss(std::string note) {
  return {false, {}, std::move(note), {}};
}
Verdict unreadable(const std::string& path, const std::string& why) {
  return {false, {}, {}, path + ": " + why};
}

// The last `key=value` in a shell-style file (ufw.conf, /etc/default/ufw, firewalld.conf), unquoted.
std::optional<std::string> assignment(std::string_view content, std::string_view key) {
  std::optional<std::string> value;
  for (const auto raw : text::lines(content)) {
    const auto line = text::trim(raw);
    if (line.empty() || line.front() == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string_view::npos || text::trim(line.substr(0, eq)) != key) continue;
    auto v = text::trim(line.substr(eq + 1));
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
      v = v.substr(1, v.size() - 2);
    } else if (const auto hash = v.find(" #"); hash != std::string_view::npos) {
      v = text::trim(v.substr(0, hash));
    }
    value = std::string(v);
  }
  return value;
}

// ufw: ENABLED=yes, its boot unit enabled, and an incoming policy other than ACCEPT.
Verdict judge_ufw(const Host& host) {
  if (!host.exists(kUfwConf)) return {};
  std::string why;
  const auto conf = host.read_file(kUfwConf, &why);
  if (!conf) return unreadable(kUfwConf, why);
  const auto enabled = assignment(*conf, "ENABLED");
  if (!enabled || !text::iequals(*enabled, "yes")) {
    return near_miss("ufw is installed but " + std::string(kUfwConf) + " has ENABLED=" + enabled.value_or("(unset)"));
  }
  if (!host.service_enabled("ufw.service")) return near_miss("ufw.conf has ENABLED=yes but ufw.service is not enabled");
  std::string policy = "DROP";  // ufw's shipped default
  if (host.exists(kUfwDefaults)) {
    const auto defaults = host.read_file(kUfwDefaults, &why);
    if (!defaults) return unreadable(kUfwDefaults, why);
    policy = assignment(*defaults, "DEFAULT_INPUT_POLICY").value_or(policy);
    if (text::iequals(policy, "ACCEPT"))
      return near_miss("ufw is enabled but DEFAULT_INPUT_POLICY=\"ACCEPT\" in /etc/default/ufw");
  }
  return filters("ufw is enabled (ENABLED=yes in /etc/ufw/ufw.conf, ufw.service enabled, incoming policy " + policy +
                 ")");
}

// nftables: the unit that loads /etc/nftables.conf at boot, and an input chain that drops by default.
Verdict judge_nftables(const Host& host) {
  const bool service = host.service_enabled("nftables.service");
  if (!host.exists(kNftablesConf)) {
    return service ? near_miss("nftables.service is enabled but /etc/nftables.conf is missing") : Verdict{};
  }
  if (!service) return near_miss("/etc/nftables.conf exists but nftables.service is not enabled");
  const auto ruleset = read_nftables_config(host, kNftablesConf);
  if (!ruleset.error.empty()) return {false, {}, {}, ruleset.error};
  if (!ruleset.broken.empty()) return near_miss("nft would refuse /etc/nftables.conf: " + ruleset.broken);
  const NftChain* accepting = nullptr;
  for (const auto& chain : ruleset.chains) {
    if (chain.hook != "input" || (chain.family != "ip" && chain.family != "ip6" && chain.family != "inet")) continue;
    if (chain.dormant) continue;
    // A packet must pass every base chain on the hook, so one chain that drops is enough.
    if (chain.policy == "drop") {
      return filters("nftables.service is enabled and chain " + chain.display() + " (" + chain.origin +
                     ") has policy drop");
    }
    if (const auto verdict = chain.final_drop(); !verdict.empty()) {
      return filters("nftables.service is enabled and chain " + chain.display() + " (" + chain.origin +
                     ") ends with an unconditional " + verdict + " rule");
    }
    if (!accepting) accepting = &chain;
  }
  if (accepting) {
    return near_miss("nftables chain " + accepting->display() + " (" + accepting->origin + ") accepts by default");
  }
  return near_miss("/etc/nftables.conf defines no active input chain");
}

// iptables-save's format: where the filter table's INPUT chain drops, or empty if it accepts.
std::string iptables_input_drop(std::string_view rules) {
  std::string table, policy_at, last_rule_at;
  std::vector<std::string_view> last_rule;
  int number = 0;
  for (const auto raw : text::lines(rules)) {
    ++number;
    const auto line = text::trim(raw);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '*') {
      table = std::string(line.substr(1));
      continue;
    }
    if (table != "filter") continue;
    auto words = text::words(line);
    if (!words.empty() && words.front().front() == '[') words.erase(words.begin());  // iptables-save -c counters
    if (words.size() >= 2 && words[0] == ":INPUT") {
      policy_at = words[1] == "DROP" ? ":INPUT DROP (line " + std::to_string(number) + ")" : "";
    } else if (words.size() >= 2 && (words[0] == "-A" || words[0] == "--append") && words[1] == "INPUT") {
      last_rule.assign(words.begin() + 2, words.end());
      last_rule_at = std::to_string(number);
    }
  }
  if (!policy_at.empty()) return policy_at;
  // The last INPUT rule must match everything: only a target and perhaps a comment.
  std::string target;
  for (std::size_t k = 0; k < last_rule.size(); ++k) {
    const auto word = last_rule[k];
    if ((word == "-j" || word == "--jump") && k + 1 < last_rule.size()) {
      target = std::string(last_rule[++k]);
    } else if (word == "--reject-with" && k + 1 < last_rule.size()) {
      ++k;
    } else if (word == "-m" && k + 1 < last_rule.size() && last_rule[k + 1] == "comment") {
      ++k;
    } else if (word == "--comment") {
      while (k + 1 < last_rule.size() && !last_rule[k + 1].starts_with("-")) ++k;
    } else {
      return {};  // a match: the rule is conditional
    }
  }
  if (target == "DROP" || target == "REJECT") return "a final -A INPUT -j " + target + " (line " + last_rule_at + ")";
  return {};
}

// iptables-persistent: rules.v4 restored at boot by netfilter-persistent (or iptables.service).
Verdict judge_iptables(const Host& host) {
  const bool service = host.service_enabled("netfilter-persistent.service") || host.service_enabled("iptables.service");
  if (!host.exists(kIptablesRules)) return {};
  if (!service) {
    return near_miss(
        "/etc/iptables/rules.v4 exists but neither netfilter-persistent.service nor iptables.service is "
        "enabled");
  }
  std::string why;
  const auto rules = host.read_file(kIptablesRules, &why);
  if (!rules) return unreadable(kIptablesRules, why);
  const auto drop = iptables_input_drop(*rules);
  if (drop.empty()) return near_miss("/etc/iptables/rules.v4 accepts inbound traffic by default");
  return filters("iptables rules restored at boot, /etc/iptables/rules.v4 has " + drop);
}

// firewalld: any default zone except "trusted" rejects what it does not allow.
Verdict judge_firewalld(const Host& host) {
  if (!host.service_enabled("firewalld.service")) {
    return host.exists(kFirewalldConf) ? near_miss("firewalld is installed but firewalld.service is not enabled")
                                       : Verdict{};
  }
  std::string zone = "public";  // firewalld's shipped default
  if (host.exists(kFirewalldConf)) {
    std::string why;
    const auto conf = host.read_file(kFirewalldConf, &why);
    if (!conf) return unreadable(kFirewalldConf, why);
    zone = assignment(*conf, "DefaultZone").value_or(zone);
    if (zone == "trusted") return near_miss("firewalld's default zone is trusted, which accepts everything");
  }
  return filters("firewalld.service is enabled (default zone " + zone + ")");
}

class FirewallCheck final : public Check {
 public:
  using Check::Check;

  Outcome run(const Context& context) const override {
    const auto& host = context.host;
    std::vector<std::string> notes, errors;
    for (const auto judge : {judge_ufw, judge_nftables, judge_iptables, judge_firewalld}) {
      auto verdict = judge(host);
      if (verdict.filters) return Outcome::pass(verdict.evidence);
      if (!verdict.note.empty()) notes.push_back(std::move(verdict.note));
      if (!verdict.error.empty()) errors.push_back(std::move(verdict.error));
    }
    if (!errors.empty())
      return Outcome::error("cannot tell whether a firewall is enabled: cannot read " + errors.front());
    for (const auto* path : kRuntimeTables) {
      const auto tables = host.read_file(path);
      if (!tables || text::trim(*tables).empty()) continue;
      std::string names;
      for (const auto name : text::words(*tables)) names += (names.empty() ? "" : ",") + std::string(name);
      notes.push_back("legacy iptables tables loaded now (" + std::string(path) + ": " + names +
                      "), but runtime rules are not judged and are lost at reboot");
    }
    std::string evidence =
        "no ufw, nftables, iptables or firewalld configuration that drops inbound traffic is enabled";
    for (std::size_t k = 0; k < notes.size(); ++k) evidence += (k == 0 ? ": " : "; ") + notes[k];
    return Outcome::fail(evidence);
  }
};

}  // namespace

CheckList make_firewall_checks() {
  CheckList checks;
  checks.push_back(std::make_unique<FirewallCheck>(CheckInfo{
      "linux.firewall.active",
      "A host firewall filters inbound traffic",
      Severity::high,
      "Enable one firewall that drops inbound traffic by default, e.g. sudo apt install ufw && sudo ufw allow "
      "<management port>/tcp && sudo ufw enable; or give /etc/nftables.conf an input chain with 'policy drop;' and "
      "run sudo systemctl enable --now nftables.",
      {"PCI DSS 4.0 1.4.1", "PCI DSS 4.0 1.5.1", "CIS Debian 12: Ensure ufw default deny firewall policy",
       "CIS Debian 12: Ensure nftables default deny firewall policy",
       "CIS Debian 12: Ensure iptables default deny firewall policy"}}));
  return checks;
}

}  // namespace postured::checks
