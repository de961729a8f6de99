#include "policy/rule_evaluator.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace postured::policy {
namespace {

// Where the lines a line test reads come from.
struct TextSource {
  std::string label;  // a file path, or the command's program
  std::string text;
  bool quotable = true;  // false: a file others may not read; evidence names line numbers only
};

struct MatchedLine {
  const TextSource* source = nullptr;
  std::size_t number = 0;
  std::string_view line;
  std::string group;  // capture group 1, or empty
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::string octal(unsigned mode) {
  std::string digits;
  for (int shift = 9; shift >= 0; shift -= 3) digits += static_cast<char>('0' + ((mode >> shift) & 7));
  return digits;
}

bool has_wildcard(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

std::string_view comparison_text(Comparison op) {
  switch (op) {
    case Comparison::lt: return "<";
    case Comparison::le: return "<=";
    case Comparison::eq: return "==";
    case Comparison::ge: return ">=";
    case Comparison::gt: return ">";
  }
  return "==";
}

bool compare(long long found, const NumberTest& test) {
  switch (test.op) {
    case Comparison::lt: return found < test.value;
    case Comparison::le: return found <= test.value;
    case Comparison::eq: return found == test.value;
    case Comparison::ge: return found >= test.value;
    case Comparison::gt: return found > test.value;
  }
  return false;
}

std::optional<long long> whole_number(std::string_view text) {
  text = trim(text);
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool equal_text(std::string_view a, std::string_view b, bool ignore_case) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = ignore_case ? static_cast<char>(std::tolower(static_cast<unsigned char>(a[i]))) : a[i];
    const auto y = ignore_case ? static_cast<char>(std::tolower(static_cast<unsigned char>(b[i]))) : b[i];
    if (x != y) return false;
  }
  return true;
}

// "value" judged by equals or compare; nullopt when it passes, else why not.
std::optional<std::string> judge_value(std::string_view value, const std::optional<std::string>& equals,
                                       const std::optional<NumberTest>& test, bool ignore_case) {
  if (equals && !equal_text(value, *equals, ignore_case)) return "expected \"" + *equals + "\"";
  if (test) {
    const auto number = whole_number(value);
    if (!number) return "not a whole number";
    if (!compare(*number, *test))
      return "expected " + std::string(comparison_text(test->op)) + " " + std::to_string(test->value);
  }
  return std::nullopt;
}

// "PASS_MAX_DAYS 99999 (/etc/login.defs:160)", or "line 3 of /etc/shadow" for a file others may not read.
std::string describe(const MatchedLine& m) {
  const auto where = m.source->label + ":" + std::to_string(m.number);
  if (!m.source->quotable) return "line " + std::to_string(m.number) + " of " + m.source->label;
  auto line = std::string(trim(m.line));
  if (line.size() > kMaxQuotedChars) line = line.substr(0, kMaxQuotedChars) + "...";
  return "\"" + line + "\" (" + where + ")";
}

Outcome judge_lines(const LineTest& test, const std::vector<TextSource>& sources) {
  std::vector<MatchedLine> matches;
  std::size_t skipped = 0;
  for (const auto& source : sources) {
    std::string_view text = source.text;
    std::size_t number = 0;
    while (!text.empty()) {
      const auto end = text.find('\n');
      const auto line = text.substr(0, end);
      text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
      ++number;
      if (line.size() > kMaxLineBytes) {
        ++skipped;
        continue;
      }
      std::match_results<std::string_view::const_iterator> match;
      if (!std::regex_search(line.begin(), line.end(), match, test.regex)) continue;
      matches.push_back({&source, number, line, match.size() > 1 && match[1].matched ? match[1].str() : std::string()});
    }
  }
  std::string scope = sources.size() == 1 ? sources.front().label : std::to_string(sources.size()) + " files";
  if (matches.empty()) {
    return Outcome::fail("no line matches /" + test.pattern + "/ in " + scope +
                         (skipped ? " (" + std::to_string(skipped) + " lines longer than " +
                                        std::to_string(kMaxLineBytes) + " bytes skipped)"
                                  : ""));
  }
  if (test.occurrence == Occurrence::first) matches.erase(matches.begin() + 1, matches.end());
  if (test.occurrence == Occurrence::last) matches.erase(matches.begin(), matches.end() - 1);
  for (const auto& m : matches) {
    if (auto why = judge_value(m.group, test.equals, test.compare, test.ignore_case)) {
      return Outcome::fail(describe(m) + ": " + *why);
    }
  }
  const auto more = matches.size() > 1 ? " and " + std::to_string(matches.size() - 1) + " more" : std::string();
  return Outcome::pass(describe(matches.front()) + more);
}

// "4", "4 or 255", "0, 1 or 2".
std::string numbers_text(const std::vector<long long>& numbers) {
  std::string out;
  for (std::size_t i = 0; i < numbers.size(); ++i)
    out += (i == 0 ? "" : i + 1 == numbers.size() ? " or " : ", ") + std::to_string(numbers[i]);
  return out;
}

std::string_view registry_type_name(RegistryValue::Type type) {
  switch (type) {
    case RegistryValue::Type::dword: return "REG_DWORD";
    case RegistryValue::Type::qword: return "REG_QWORD";
    case RegistryValue::Type::string: return "REG_SZ";
    case RegistryValue::Type::expand_string: return "REG_EXPAND_SZ";
    case RegistryValue::Type::multi_string: return "REG_MULTI_SZ";
    case RegistryValue::Type::binary: return "REG_BINARY";
    case RegistryValue::Type::other: break;
  }
  return "another type";
}

// A registry value against the rule's expectation. Numbers are quoted in the evidence; a text is
// quoted only when it is one the policy itself names, since values such as Winlogon's
// DefaultPassword hold secrets.
Outcome judge_registry_value(const std::string& where, const RegistryValue& value, const RegistryRule& rule) {
  std::optional<long long> number;
  std::optional<std::string> text;
  switch (value.type) {
    case RegistryValue::Type::dword:
    case RegistryValue::Type::qword: number = static_cast<long long>(value.number); break;
    case RegistryValue::Type::string:
    case RegistryValue::Type::expand_string:
      text = value.text;
      number = whole_number(value.text);
      break;
    default:
      return Outcome::error(where + " is " + std::string(registry_type_name(value.type)) +
                            "; registry rules compare numbers and texts");
  }
  const auto shown = number && !text ? " = " + std::to_string(*number) : std::string();
  const auto matches = [&](const RegistryExpected& expected) {
    if (const auto* n = std::get_if<long long>(&expected)) return number && *number == *n;
    const auto& wanted = std::get<std::string>(expected);
    return text ? equal_text(*text, wanted, true) : number && std::to_string(*number) == wanted;
  };
  const auto expected_text = [&] {
    std::string out;
    for (std::size_t i = 0; i < rule.one_of.size(); ++i) {
      const auto& e = rule.one_of[i];
      out += (i == 0                        ? ""
              : i + 1 == rule.one_of.size() ? " or "
                                            : ", ") +
             (std::holds_alternative<long long>(e) ? std::to_string(std::get<long long>(e))
                                                   : "\"" + std::get<std::string>(e) + "\"");
    }
    return out;
  };
  // A text that holds a number is shown only to a rule that tests numbers: `equals = ""` on
  // Winlogon's DefaultPassword must not print a numeric password.
  const bool numeric_rule = rule.compare || std::all_of(rule.one_of.begin(), rule.one_of.end(), [](const auto& e) {
                              return std::holds_alternative<long long>(e);
                            });
  const auto found_text = [&] {
    if (!text) return where + shown;
    return where + " is " + std::string(registry_type_name(value.type)) +
           (number && numeric_rule ? " " + std::to_string(*number)
                                   : " of " + std::to_string(text->size()) + " characters");
  };
  if (!rule.one_of.empty()) {
    const auto hit = std::find_if(rule.one_of.begin(), rule.one_of.end(), matches);
    if (hit == rule.one_of.end()) return Outcome::fail(found_text() + " (expected " + expected_text() + ")");
    if (text && !number && std::holds_alternative<std::string>(*hit))
      return Outcome::pass(where + " = \"" + std::get<std::string>(*hit) + "\"");
    return Outcome::pass(found_text());
  }
  if (rule.compare) {
    if (!number) return Outcome::fail(found_text() + ", not a whole number");
    if (!compare(*number, *rule.compare))
      return Outcome::fail(found_text() + " (expected " + std::string(comparison_text(rule.compare->op)) + " " +
                           std::to_string(rule.compare->value) + ")");
  }
  return Outcome::pass(found_text());
}

class Evaluator {
 public:
  Evaluator(HostFacts& facts, const CommandRunner& commands)
      : facts_(facts), host_(facts.host()), commands_(commands) {}

  Outcome operator()(const FileRule& rule) {
    std::vector<std::string> paths;
    const bool glob = has_wildcard(rule.path);
    if (glob)
      paths = host_.glob(rule.path);
    else if (host_.exists(rule.path))
      paths.push_back(rule.path);
    if (!rule.must_exist) {
      if (paths.empty()) return Outcome::pass(rule.path + (glob ? ": no file matches" : ": not present"));
      return Outcome::fail(paths.front() + " exists" +
                           (paths.size() > 1 ? " (and " + std::to_string(paths.size() - 1) + " more)" : ""));
    }
    const bool attributes = rule.max_mode || rule.owner || rule.group;
    if (paths.empty()) {
      // A glob names every file that matches: attributes of no files hold; a literal path must exist.
      if (glob && attributes && !rule.line) return Outcome::pass("no file matches " + rule.path + "; nothing to check");
      return Outcome::fail(rule.path + (glob ? ": no file matches" : ": not found"));
    }
    std::vector<TextSource> sources;
    std::string found;
    for (const auto& path : paths) {
      const auto status = host_.file_status(path);
      if (!status) return Outcome::error(path + ": cannot examine it");
      if (attributes) {
        const auto attrs = judge_attributes(rule, *status);
        if (!attrs.second) return Outcome::fail(path + ": " + attrs.first);
        if (found.empty())
          found =
              (paths.size() == 1 ? path : std::to_string(paths.size()) + " files like " + path) + ": " + attrs.first;
      }
      if (rule.line) {
        std::string why;
        auto text = host_.read_file(path, &why);
        if (!text) return Outcome::error(path + ": " + why);
        if (text->size() > kMaxContentBytes)
          return Outcome::error(path + ": larger than " + std::to_string(kMaxContentBytes >> 20) + " MiB");
        sources.push_back({path, std::move(*text), (status->mode & 0004) != 0});
      }
    }
    if (rule.line) {
      auto lines = judge_lines(*rule.line, sources);
      if (!found.empty()) lines.evidence = found + "; " + lines.evidence;
      return lines;
    }
    if (found.empty())
      found =
          paths.size() == 1 ? paths.front() + " exists" : std::to_string(paths.size()) + " files match " + rule.path;
    return Outcome::pass(found);
  }

  Outcome operator()(const SysctlRule& rule) {
    auto path = rule.name;
    if (path.find('/') == std::string::npos) std::replace(path.begin(), path.end(), '.', '/');
    path = "/proc/sys/" + path;
    if (!host_.exists(path)) return Outcome::fail(rule.name + " is not available on this kernel");
    std::string why;
    const auto text = host_.read_file(path, &why);
    if (!text) return Outcome::error(rule.name + ": " + why);
    // Multi-field values ("1\t0") are compared with single spaces.
    std::string value;
    for (const char c : trim(*text)) {
      const bool space = c == ' ' || c == '\t' || c == '\n';
      if (!space)
        value += c;
      else if (!value.empty() && value.back() != ' ')
        value += ' ';
    }
    const auto evidence = rule.name + " = " + value;
    if (auto problem = judge_value(value, rule.equals, rule.compare, false))
      return Outcome::fail(evidence + " (" + *problem + ")");
    return Outcome::pass(evidence);
  }

  Outcome operator()(const ServiceRule& rule) {
    std::string evidence;
    if (rule.enabled) {
      const bool enabled = host_.service_enabled(rule.unit);
      evidence = rule.unit + (enabled ? " is enabled" : " is not enabled");
      if (enabled != *rule.enabled) return Outcome::fail(evidence);
    }
    if (rule.running) {
      const auto running = unit_running(rule.unit);
      if (!running)
        return Outcome::error("cannot tell whether " + rule.unit +
                              " runs: no systemd cgroup hierarchy under /sys/fs/cgroup");
      evidence += (evidence.empty() ? rule.unit : std::string(",")) + (*running ? " is running" : " is not running");
      if (*running != *rule.running) return Outcome::fail(evidence);
    }
    return Outcome::pass(evidence);
  }

  Outcome operator()(const PackageRule& rule) {
    std::string why;
    const auto installed = facts_.package_installed(rule.name, &why);
    if (!installed) return Outcome::error("cannot tell whether " + rule.name + " is installed: " + why);
    const auto evidence = "package " + rule.name + (*installed ? " is installed" : " is not installed");
    return *installed == rule.installed ? Outcome::pass(evidence) : Outcome::fail(evidence);
  }

  Outcome operator()(const CommandRule& rule) {
    if (!commands_)
      return Outcome::not_applicable("commands run only on the live system, not on an image below --root");
    const auto ran = commands_(rule.argv);
    if (!ran.started) return Outcome::error(rule.argv.front() + ": " + ran.problem);
    if (ran.timed_out)
      return Outcome::error(rule.argv.front() + " did not finish within " +
                            std::to_string(kCommandTimeout.count() / 1000) + " s");
    if (!ran.problem.empty()) return Outcome::error(ran.problem);
    auto outcome = judge_lines(rule.line, {{rule.argv.front(), ran.out, true}});
    if (ran.exit_status != 0) outcome.evidence += " (exit status " + std::to_string(ran.exit_status) + ")";
    return outcome;
  }

  Outcome operator()(const RegistryRule& rule) {
    const auto* registry = host_.registry();
    if (!registry) return Outcome::not_applicable("registry rules apply to Windows only (" + rule.key + ")");
    const auto where =
        rule.key + "\\" + rule.value + (rule.bits == RegistryBits::wow32 ? " (32-bit view)" : std::string());
    const auto read = registry->read(rule.key, rule.value, rule.bits);
    if (read.found == RegistryRead::Found::error) return Outcome::error(where + ": " + read.error);
    if (read.found != RegistryRead::Found::value) {
      const auto evidence =
          where + (read.found == RegistryRead::Found::no_key ? ": the key does not exist" : ": not set");
      switch (rule.missing) {
        case WhenMissing::pass: return Outcome::pass(evidence + " (the default applies, which is compliant)");
        case WhenMissing::not_applicable: return Outcome::not_applicable(evidence);
        case WhenMissing::fail: break;
      }
      return Outcome::fail(evidence);
    }
    return judge_registry_value(where, read.value, rule);
  }

  Outcome operator()(const AccountPolicyRule& rule) {
    const auto* policy = host_.account_policy();
    if (!policy) return Outcome::not_applicable("account policy rules apply to Windows only (" + rule.setting + ")");
    const auto read = policy->read(rule.setting);
    if (!read.value) return Outcome::error(rule.setting + ": " + read.error);
    const auto evidence = rule.setting + " = " + std::to_string(*read.value);
    if (!rule.one_of.empty() && std::find(rule.one_of.begin(), rule.one_of.end(), *read.value) == rule.one_of.end())
      return Outcome::fail(evidence + " (expected " + numbers_text(rule.one_of) + ")");
    if (rule.compare && !compare(*read.value, *rule.compare))
      return Outcome::fail(evidence + " (expected " + std::string(comparison_text(rule.compare->op)) + " " +
                           std::to_string(rule.compare->value) + ")");
    return Outcome::pass(evidence);
  }

  Outcome operator()(const RuleGroup& group) {
    std::vector<Outcome> outcomes;
    for (const auto& rule : group.rules) outcomes.push_back(std::visit(*this, rule.kind));
    return combine(group.op, outcomes);
  }

 private:
  // "mode 0640, owner root, group shadow", and whether all of them are allowed.
  std::pair<std::string, bool> judge_attributes(const FileRule& rule, const FileStatus& status) {
    std::string found;
    bool ok = true;
    if (rule.max_mode) {
      const bool allowed = (status.mode & ~*rule.max_mode) == 0;
      found += "mode " + octal(status.mode) + (allowed ? "" : " (at most " + octal(*rule.max_mode) + " allowed)");
      ok = ok && allowed;
    }
    const auto principal = [&](const char* what, const Principal& want, unsigned id, std::optional<std::string> name) {
      const bool allowed = want.id ? *want.id == id : name == want.name;
      const auto shown = name ? *name : std::to_string(id);
      found += std::string(found.empty() ? "" : ", ") + what + " " + shown +
               (allowed ? "" : " (" + (want.id ? std::to_string(*want.id) : want.name) + " required)");
      ok = ok && allowed;
    };
    if (rule.owner) principal("owner", *rule.owner, status.uid, facts_.user_name(status.uid));
    if (rule.group) principal("group", *rule.group, status.gid, facts_.group_name(status.gid));
    return {found, ok};
  }

  // Whether the unit's cgroup holds a process (systemd puts every process of a unit there); nullopt
  // when there is no systemd cgroup tree to look at (no systemd, or a container without it).
  std::optional<bool> unit_running(const std::string& unit) {
    const auto at = unit.find('@');
    // Instances of a template live in their own slice: system-getty.slice/getty@tty1.service.
    const auto slice = at == std::string::npos ? std::string("system.slice/")
                                               : "system.slice/system-" + unit.substr(0, at) + ".slice/";
    for (const auto* base : {"/sys/fs/cgroup/", "/sys/fs/cgroup/unified/", "/sys/fs/cgroup/systemd/"}) {
      if (!host_.exists(std::string(base) + "system.slice")) continue;
      const auto procs = host_.read_file(std::string(base) + slice + unit + "/cgroup.procs");
      return procs && !trim(*procs).empty();
    }
    return std::nullopt;
  }

  // The evidence of the rules with `status`, each distinct text once (six rules on one glob that
  // matches nothing say so once).
  static std::string join(const std::vector<Outcome>& outcomes, Status status) {
    std::vector<std::string_view> seen;
    std::string all;
    for (const auto& o : outcomes) {
      if (o.status != status || o.evidence.empty()) continue;
      if (std::find(seen.begin(), seen.end(), o.evidence) != seen.end()) continue;
      seen.push_back(o.evidence);
      all += (all.empty() ? "" : "; ") + o.evidence;
    }
    return all;
  }

  // all: a failure fails; any: a pass passes; none: any passing rule fails. Errors win over the
  // undecided rest; rules that do not apply are left out, and a group of only those does not apply.
  static Outcome combine(Combinator op, const std::vector<Outcome>& outcomes) {
    const auto count = [&](Status s) {
      return std::count_if(outcomes.begin(), outcomes.end(), [s](const Outcome& o) { return o.status == s; });
    };
    const auto passes = count(Status::pass), fails = count(Status::fail), errors = count(Status::error);
    if (op == Combinator::all && fails > 0) return Outcome::fail(join(outcomes, Status::fail));
    if (op == Combinator::any && passes > 0) return Outcome::pass(join(outcomes, Status::pass));
    if (op == Combinator::none && passes > 0) return Outcome::fail(join(outcomes, Status::pass));
    if (errors > 0) return Outcome::error(join(outcomes, Status::error));
    if (passes + fails == 0) return Outcome::not_applicable(join(outcomes, Status::not_applicable));
    if (op == Combinator::all) return Outcome::pass(join(outcomes, Status::pass));
    if (op == Combinator::any) return Outcome::fail(join(outcomes, Status::fail));
    return Outcome::pass(join(outcomes, Status::fail));
  }

  HostFacts& facts_;
  const Host& host_;
  const CommandRunner& commands_;
};

std::string capped(std::string evidence) {
  if (evidence.size() > kMaxEvidenceChars) evidence = evidence.substr(0, kMaxEvidenceChars - 3) + "...";
  return evidence;
}

}  // namespace

Outcome evaluate(const Rule& rule, HostFacts& facts, const CommandRunner& commands) {
  Evaluator evaluator(facts, commands);
  auto outcome = std::visit(evaluator, rule.kind);
  outcome.evidence = capped(std::move(outcome.evidence));
  return outcome;
}

Outcome evaluate_check(const PolicyCheckSpec& spec, HostFacts& facts, const CommandRunner& commands) {
  if (spec.requires_rule) {
    const auto requirement = evaluate(*spec.requires_rule, facts, commands);
    if (requirement.status == Status::error) return requirement;
    if (requirement.status != Status::pass)
      return Outcome::not_applicable(capped("requirement not met: " + requirement.evidence));
  }
  return evaluate(spec.rule, facts, commands);
}

}  // namespace postured::policy
