// linux.audit.auditd_enabled: the Linux audit daemon is installed, starts at boot, runs and has rules.
#include <string>
#include <string_view>
#include <vector>

#include "core/check.hpp"
#include "core/host.hpp"
#include "core/text.hpp"

namespace postured::checks {
namespace {

constexpr const char* kUnit = "auditd.service";
constexpr const char* kProcess = "auditd";
// augenrules compiles rules.d into audit.rules at boot; auditd loads audit.rules. Either one counts.
constexpr const char* kRulesGlob = "/etc/audit/rules.d/*.rules";
constexpr const char* kCompiledRules = "/etc/audit/audit.rules";

// Audit rules found on disk, or the first file that could not be read.
struct RuleCount {
  int rules = 0;
  std::vector<std::string> files;  // files holding at least one rule
  std::string unreadable;          // "path: why"
};

// A line that adds a rule: a syscall rule (-a, -A) or a file watch (-w), as auditctl reads it.
bool adds_rule(std::string_view line) {
  line = text::trim(line);
  return line.size() >= 2 && line[0] == '-' && (line[1] == 'a' || line[1] == 'A' || line[1] == 'w');
}

RuleCount count_rules(const Host& host) {
  RuleCount count;
  auto paths = host.glob(kRulesGlob);
  if (host.exists(kCompiledRules)) paths.emplace_back(kCompiledRules);
  for (const auto& path : paths) {
    std::string why;
    const auto content = host.read_file(path, &why);
    if (!content) {
      if (count.unreadable.empty()) count.unreadable = path + ": " + why;
      continue;
    }
    int here = 0;
    for (const auto line : text::lines(*content)) here += adds_rule(line) ? 1 : 0;
    if (here > 0) count.files.push_back(path);
    count.rules += here;
  }
  return count;
}

std::string describe(const RuleCount& count) {
  std::string files;
  for (const auto& file : count.files) files += (files.empty() ? "" : ", ") + file;
  return std::to_string(count.rules) + (count.rules == 1 ? " rule" : " rules") + " in " + files;
}

class AuditdCheck final : public Check {
 public:
  AuditdCheck()
      : Check(CheckInfo{
            "linux.audit.auditd_enabled",
            "The audit daemon runs with rules",
            Severity::medium,
            "Run 'apt-get install auditd audispd-plugins' and 'systemctl enable --now auditd', then put "
            "the store's audit rules in /etc/audit/rules.d/*.rules and load them with 'augenrules --load'.",
            {"PCI DSS 4.0 10.2.1", "PCI DSS 4.0 10.2.2", "CIS Debian 12: Ensure auditd packages are installed",
             "CIS Debian 12: Ensure auditd service is enabled and active"}}) {}

  Outcome run(const Context& context) const override {
    const Host& host = context.host;
    if (!host.exists("/sbin/auditd") && !host.exists("/usr/sbin/auditd")) {
      return Outcome::fail("auditd is not installed");
    }
    const bool enabled = host.service_enabled(kUnit);
    const bool running = host.process_running(kProcess);
    const auto rules = count_rules(host);

    std::vector<std::string> problems;
    if (!enabled) problems.emplace_back("auditd.service is not enabled");
    if (!running) problems.emplace_back("no auditd process is running");
    if (!problems.empty()) {
      // Already failing: a rule file we cannot read changes nothing, so it is told, not raised.
      std::string rule_state = !rules.unreadable.empty() ? "rules unknown (cannot read " + rules.unreadable + ")"
                               : rules.rules == 0        ? "no rules are configured"
                                                         : describe(rules);
      std::string evidence;
      for (const auto& problem : problems) evidence += problem + "; ";
      return Outcome::fail(evidence + rule_state);
    }
    if (!rules.unreadable.empty()) return Outcome::error("cannot read audit rules: " + rules.unreadable);
    if (rules.rules == 0) {
      return Outcome::fail(std::string("auditd runs with no rules (none in ") + kRulesGlob + " or " + kCompiledRules +
                           ")");
    }
    return Outcome::pass("auditd is enabled and running with " + describe(rules));
  }
};

}  // namespace

CheckList make_auditd_checks() {
  CheckList checks;
  checks.push_back(std::make_unique<AuditdCheck>());
  return checks;
}

}  // namespace postured::checks
