// agent/policy: the policy format's validation (file:line:col) and each rule kind's semantics.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>

#include "policy/host_facts.hpp"
#include "policy/policy_checks.hpp"
#include "policy/rule_evaluator.hpp"
#include "support/fixture_root.hpp"

namespace {

using postured::Status;
using postured::test::FixtureRoot;
namespace policy = postured::policy;

const std::string kHeader = "[policy]\nid = \"test\"\ntitle = \"Test policy\"\n";

// One check around `rule_line` (e.g. "rule = {...}"), starting at line 5 of the file.
std::string one_check(const std::string& rule_line, const std::string& header = kHeader) {
  return header +
         "[[check]]\nid = \"t.one\"\ntitle = \"T\"\nrationale = \"R\"\nremediation = \"F\"\nseverity = \"low\"\n"
         "references = [\"PCI DSS 4.0 2.2.6\"]\n" +
         rule_line + "\n";
}

std::vector<std::string> errors_of(const std::string& text, const std::vector<std::string>& taken = {}) {
  std::vector<std::string> out;
  for (const auto& e : policy::parse_policy(text, "p.toml", taken).errors) out.push_back(e.to_string());
  return out;
}

postured::Outcome evaluate(const FixtureRoot& root, const std::string& rule_line, policy::CommandRunner commands = {},
                           const std::string& header = kHeader) {
  const auto load = policy::parse_policy(one_check(rule_line, header), "p.toml");
  for (const auto& e : load.errors) FAIL(e.to_string());
  const auto host = root.host();
  policy::HostFacts facts(*host);
  return policy::evaluate_check(load.policy->checks.front(), facts, commands);
}

}  // namespace

TEST_CASE("a valid policy parses into its checks", "[policy]") {
  const auto load =
      policy::parse_policy(one_check("rule = {file = \"/etc/passwd\", max_mode = \"0644\", owner = 0}"), "p.toml");
  REQUIRE(load.policy);
  REQUIRE(load.policy->checks.size() == 1);
  CHECK(load.policy->checks[0].info.id == "t.one");
  CHECK(load.policy->checks[0].info.severity == postured::Severity::low);
  CHECK(load.declared_ids == std::vector<std::string>{"t.one"});
}

TEST_CASE("policy errors name file, line and column, with suggestions", "[policy]") {
  CHECK(
      errors_of(one_check("rule = {file = \"/etc/passwd\", max_mod = \"0644\"}")) ==
      std::vector<std::string>{"p.toml:11:31: unknown key 'max_mod' in check 't.one'.rule; did you mean 'max_mode'?"});
  CHECK(errors_of(one_check("rule = {file = \"/etc/passwd\", max_mode = 644}")) ==
        std::vector<std::string>{"p.toml:11:42: 'check 't.one'.rule.max_mode' must be an octal string like \"0640\" (a "
                                 "TOML integer would be read as decimal)"});
  CHECK(errors_of(one_check("rule = {file = \"etc/passwd\"}")) ==
        std::vector<std::string>{"p.toml:11:16: 'check 't.one'.rule.file' must be an absolute path"});
  const auto regex = errors_of(one_check("rule = {file = \"/etc/x\", line = '^(unclosed'}"));
  REQUIRE(regex.size() == 1);
  CHECK(regex[0].rfind("p.toml:11:33: 'check 't.one'.rule.line' is not a valid regex", 0) == 0);
  CHECK(errors_of(one_check("rule = {sysctl = \"kernel.x\", compare = \"=<\", value = 1}")) ==
        std::vector<std::string>{"p.toml:11:40: 'check 't.one'.rule.compare' is \"=<\"; did you mean '<'?"});
  CHECK(errors_of(one_check("rule = {file = \"/etc/x\", line = 'a', compare = \">\", value = 1}")) ==
        std::vector<std::string>{
            "p.toml:11:33: 'check 't.one'.rule.line' needs a capture group ( ... ) for 'equals' or 'compare' to test"});
  CHECK(errors_of(one_check("rule = {package = \"x\", sysctl = \"y\"}")).size() == 1);
  CHECK(errors_of("[policy]\nid = \"x\"\n") == std::vector<std::string>{"p.toml:1:1: missing key 'title' in policy",
                                                                        "p.toml:1:1: the policy has no [[check]]"});
  CHECK(errors_of("[polcy]\n") ==
        std::vector<std::string>{"p.toml:1:1: missing [policy] table (id and title of the policy)",
                                 "p.toml:1:1: the policy has no [[check]]",
                                 "p.toml:1:2: unknown section 'polcy'; did you mean 'policy'?"});
  CHECK(errors_of("[policy\n").front().rfind("p.toml:1:8: ", 0) == 0);
}

TEST_CASE("check ids must be unique, free and well-formed; every field is required", "[policy]") {
  const auto text =
      one_check("rule = {package = \"a\"}") +
      "[[check]]\nid = \"t.one\"\ntitle = \"T\"\nrationale = \"R\"\nremediation = \"F\"\nseverity = \"low\"\n"
      "references = [\"x\"]\nrule = {package = \"b\"}\n";
  CHECK(errors_of(text) == std::vector<std::string>{"p.toml:13:6: check id 't.one' is used twice in this policy"});
  CHECK(errors_of(one_check("rule = {package = \"a\"}"), {"t.one"}) ==
        std::vector<std::string>{
            "p.toml:5:6: check id 't.one' is already taken by a compiled check or an earlier policy"});
  const auto bad_id = errors_of(kHeader + "[[check]]\nid = \"Bad Id\"\n");
  CHECK(std::any_of(bad_id.begin(), bad_id.end(), [](const std::string& e) {
    return e.find("p.toml:5:6: check id 'Bad Id' must be dotted lowercase") == 0;
  }));
  CHECK(bad_id.size() == 7);  // and title, rationale, remediation, severity, references, and a rule are missing
}

TEST_CASE("commands are refused unless the policy allows them", "[policy]") {
  const auto errors = errors_of(one_check("rule = {command = [\"/usr/sbin/sshd\", \"-T\"], line = 'x'}"));
  CHECK(errors == std::vector<std::string>{"p.toml:11:19: commands are off for this policy; set allow_commands = true "
                                           "in [policy] to let it run programs"});
  CHECK(errors_of(one_check("rule = {command = [\"sshd\"], line = 'x'}", kHeader + "allow_commands = true\n")) ==
        std::vector<std::string>{"p.toml:12:20: the program in 'check 't.one'.rule.command' must be an absolute path "
                                 "(no shell, no PATH lookup)"});
}

TEST_CASE("rules nest at most 8 deep", "[policy]") {
  std::string rule = "{package = \"a\"}";
  for (int i = 0; i < 9; ++i) rule = "{all = [" + rule + "]}";
  CHECK(errors_of(one_check("rule = " + rule)).size() == 1);
}

TEST_CASE("file rules: exists, mode, owner and group by name or id, globs", "[policy]") {
  FixtureRoot root;
  root.write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
      .write("/etc/group", "root:x:0:\n")
      .write("/etc/x.conf", "a\n");
  std::filesystem::permissions(root.real("/etc/x.conf"), std::filesystem::perms(0640),
                               std::filesystem::perm_options::replace);
  CHECK(evaluate(root, "rule = {file = \"/etc/x.conf\", max_mode = \"0640\"}").evidence == "/etc/x.conf: mode 0640");
  const auto loose = evaluate(root, "rule = {file = \"/etc/x.conf\", max_mode = \"0600\"}");
  CHECK(loose.status == Status::fail);
  CHECK(loose.evidence == "/etc/x.conf: mode 0640 (at most 0600 allowed)");
  CHECK(evaluate(root, "rule = {file = \"/etc/none\"}").evidence == "/etc/none: not found");
  CHECK(evaluate(root, "rule = {file = \"/etc/none\", exists = false}").status == Status::pass);
  CHECK(evaluate(root, "rule = {file = \"/etc/*.conf\", exists = false}").status == Status::fail);
  // A glob that matches nothing has no file with a wrong mode; a literal path must exist.
  CHECK(evaluate(root, "rule = {file = \"/etc/*.none\", max_mode = \"0600\"}").status == Status::pass);
  if (::geteuid() == 0) {
    CHECK(evaluate(root, "rule = {file = \"/etc/x.conf\", owner = \"root\", group = 0}").status == Status::pass);
    const auto owner = evaluate(root, "rule = {file = \"/etc/x.conf\", owner = \"pos\"}");
    CHECK(owner.evidence == "/etc/x.conf: owner root (pos required)");
  }
}

TEST_CASE("line rules: first, last or every match; equals and number comparisons", "[policy]") {
  FixtureRoot root;
  root.write("/etc/a.conf", "# MaxSessions 1\nMaxSessions 4\nmaxsessions 12\n");
  const auto rule = [](const std::string& extra) {
    return "rule = {file = \"/etc/a.conf\", line = '^\\s*MaxSessions\\s+(\\d+)', ignore_case = true" + extra + "}";
  };
  CHECK(evaluate(root, rule("")).status == Status::pass);
  CHECK(evaluate(root, rule(", compare = \"<=\", value = 10")).evidence ==
        "\"maxsessions 12\" (/etc/a.conf:3): expected <= 10");
  CHECK(evaluate(root, rule(", occurrence = \"first\", compare = \"<=\", value = 10")).status == Status::pass);
  CHECK(evaluate(root, rule(", occurrence = \"last\", compare = \">\", value = 11")).status == Status::pass);
  CHECK(evaluate(root, rule(", occurrence = \"last\", equals = \"12\"")).status == Status::pass);
  CHECK(evaluate(root, "rule = {file = \"/etc/a.conf\", line = '^Port'}").evidence ==
        "no line matches /^Port/ in /etc/a.conf");
  root.write("/etc/a.conf", "MaxSessions many\n");
  CHECK(evaluate(root, "rule = {file = \"/etc/a.conf\", line = '^MaxSessions\\s+(\\S+)', compare = \"<=\", value = 10}")
            .evidence == "\"MaxSessions many\" (/etc/a.conf:1): not a whole number");
}

TEST_CASE("sysctl, service and package rules read the host below its root", "[policy]") {
  FixtureRoot root;
  root.write("/proc/sys/net/ipv4/ip_forward", "1\n").write("/proc/sys/net/ipv4/ping_group_range", "1\t0\n");
  CHECK(evaluate(root, "rule = {sysctl = \"net.ipv4.ip_forward\", equals = \"0\"}").evidence ==
        "net.ipv4.ip_forward = 1 (expected \"0\")");
  CHECK(evaluate(root, "rule = {sysctl = \"net.ipv4.ping_group_range\", equals = \"1 0\"}").status == Status::pass);
  CHECK(evaluate(root, "rule = {sysctl = \"kernel.none\", compare = \">=\", value = 1}").evidence ==
        "kernel.none is not available on this kernel");

  root.symlink("/lib/systemd/system/ssh.service", "/etc/systemd/system/multi-user.target.wants/ssh.service");
  CHECK(evaluate(root, "rule = {service = \"ssh\", enabled = true}").evidence == "ssh.service is enabled");
  CHECK(evaluate(root, "rule = {service = \"ssh\", running = true}").status == Status::error);
  root.write("/sys/fs/cgroup/system.slice/ssh.service/cgroup.procs", "812\n")
      .mkdir("/sys/fs/cgroup/system.slice/cron.service");
  CHECK(evaluate(root, "rule = {service = \"ssh.service\", enabled = true, running = true}").evidence ==
        "ssh.service is enabled, is running");
  CHECK(evaluate(root, "rule = {service = \"cron\", running = true}").status == Status::fail);

  CHECK(evaluate(root, "rule = {package = \"telnet\", installed = false}").status == Status::error);
  root.write(
      "/var/lib/dpkg/status",
      "Package: telnet\nStatus: install ok installed\n\nPackage: rsh-client\nStatus: deinstall ok config-files\n");
  CHECK(evaluate(root, "rule = {package = \"telnet\", installed = false}").evidence == "package telnet is installed");
  CHECK(evaluate(root, "rule = {package = \"rsh-client\", installed = false}").status == Status::pass);
}

TEST_CASE("combinators: all, any, none; requires makes a check not applicable", "[policy]") {
  FixtureRoot root;
  root.write("/etc/a", "x\n");
  const std::string yes = "{file = \"/etc/a\"}", no = "{file = \"/etc/b\"}",
                    na = "{registry = 'HKLM\\X', name = \"V\", equals = \"1\"}";
  CHECK(evaluate(root, "all = [" + yes + ", " + no + "]").status == Status::fail);
  CHECK(evaluate(root, "any = [" + yes + ", " + no + "]").status == Status::pass);
  CHECK(evaluate(root, "none = [" + no + "]").status == Status::pass);
  CHECK(evaluate(root, "none = [" + yes + "]").status == Status::fail);
  CHECK(evaluate(root, "rule = {all = [" + yes + ", {none = [" + no + "]}]}").status == Status::pass);
  // Rules that do not apply are left out; a group of only those does not apply.
  CHECK(evaluate(root, "all = [" + yes + ", " + na + "]").status == Status::pass);
  CHECK(evaluate(root, "rule = " + na).evidence == "registry rules apply to Windows only (HKLM\\X)");
  const auto skipped = evaluate(root, "requires = " + no + "\nrule = " + yes);
  CHECK(skipped.status == Status::not_applicable);
  CHECK(skipped.evidence == "requirement not met: /etc/b: not found");
  CHECK(evaluate(root, "requires = " + yes + "\nrule = " + no).status == Status::fail);
}

TEST_CASE("command rules run through the runner, and do not apply below --root", "[policy]") {
  FixtureRoot root;
  const auto header = kHeader + "allow_commands = true\n";
  const std::string rule =
      "rule = {command = [\"/usr/sbin/sshd\", \"-T\"], line = '^permitrootlogin\\s+(\\S+)', equals = \"no\"}";
  std::vector<std::string> seen;
  const policy::CommandRunner fake = [&](const std::vector<std::string>& argv) {
    seen = argv;
    policy::CommandOutput out;
    out.started = true;
    out.exit_status = 0;
    out.out = "port 22\npermitrootlogin no\n";
    return out;
  };
  CHECK(evaluate(root, rule, fake, header).status == Status::pass);
  CHECK(seen == std::vector<std::string>{"/usr/sbin/sshd", "-T"});
  CHECK(evaluate(root, rule, {}, header).status == Status::not_applicable);
  CHECK(!policy::command_runner_for(root.path()));
  CHECK(policy::command_runner_for("/"));
}

TEST_CASE("the command runner uses no shell, caps output and kills at the time limit", "[policy]") {
  const auto echo = policy::run_command({"/bin/echo", "a;", "$HOME"}, std::chrono::seconds(5), 1024);
  CHECK(echo.started);
  CHECK(echo.exit_status == 0);
  CHECK(echo.out == "a; $HOME\n");
  const auto big = policy::run_command({"/usr/bin/seq", "100000"}, std::chrono::seconds(5), 100);
  CHECK(big.out.size() == 100);
  CHECK(big.truncated);
  const auto slow = policy::run_command({"/bin/sleep", "10"}, std::chrono::milliseconds(200), 100);
  CHECK(slow.timed_out);
  CHECK(!policy::run_command({"/nonexistent"}, std::chrono::seconds(1), 10).started);
  CHECK(!policy::run_command({"echo"}, std::chrono::seconds(1), 10).started);
}

TEST_CASE("a refused policy becomes one error check; the others still load", "[policy]") {
  FixtureRoot root;
  root.write("/p/good.toml", one_check("rule = {file = \"/etc/a\"}"))
      .write("/p/Bad File.toml", one_check("rule = {file = \"/etc/a\", mode = \"0600\"}"));
  const auto loaded = policy::load_policy_checks(
      {root.real("/p/Bad File.toml"), root.real("/p/good.toml"), root.real("/p/none.toml")}, {}, {});
  REQUIRE(loaded.checks.size() == 3);
  CHECK(loaded.checks[0]->info().id == "policy.bad_file");
  CHECK(loaded.checks[1]->info().id == "t.one");
  CHECK(loaded.checks[2]->info().id == "policy.none");
  CHECK(loaded.errors.size() == 2);
  CHECK(!loaded.all_parsed);
  const auto host = root.host();
  const auto outcome = loaded.checks[0]->run(postured::Context{*host, std::chrono::system_clock::now()});
  CHECK(outcome.status == Status::error);
  INFO(outcome.evidence);
  CHECK(outcome.evidence.find("1 problem, none of its checks ran; first: ") == 0);
  CHECK(outcome.evidence.find("Bad File.toml:11:26: unknown key 'mode'") != std::string::npos);
}

TEST_CASE("dpkg status: only packages in state installed count", "[policy]") {
  const auto installed = policy::parse_dpkg_installed(
      "Package: a\nStatus: install ok installed\n\nPackage: b\nStatus: deinstall ok config-files\n\n"
      "Package: c\nStatus: install ok half-configured\n\nPackage: d\nStatus: hold ok installed");
  CHECK(installed == std::set<std::string>{"a", "d"});
}
