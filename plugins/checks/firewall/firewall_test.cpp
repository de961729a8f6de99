#include <catch2/catch_test_macros.hpp>

#include "support/check_runner.hpp"

using postured::Status;
using postured::test::FixtureRoot;
using postured::test::run_check;

namespace {

constexpr const char* kId = "linux.firewall.active";

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Enables `unit` the way systemctl does: a link in a target's .wants folder.
void enable(FixtureRoot& root, const std::string& unit, const std::string& target = "multi-user.target") {
  root.symlink("/lib/systemd/system/" + unit, "/etc/systemd/system/" + target + ".wants/" + unit);
}

// Debian 12's shipped /etc/nftables.conf: an input chain that accepts everything.
constexpr const char* kDebianDefault = R"(#!/usr/sbin/nft -f

flush ruleset

table inet filter {
	chain input {
		type filter hook input priority filter;
	}
	chain forward {
		type filter hook forward priority filter;
	}
	chain output {
		type filter hook output priority filter;
	}
}
)";

constexpr const char* kPolicyDrop = R"(#!/usr/sbin/nft -f
flush ruleset
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		tcp dport { 22, 443 } accept
	}
}
)";

}  // namespace

TEST_CASE("firewall: nothing configured fails and says what was looked at", "[firewall]") {
  FixtureRoot root;
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(outcome.evidence ==
        "no ufw, nftables, iptables or firewalld configuration that drops inbound traffic is enabled");
}

TEST_CASE("firewall: Debian's default nftables.conf does not filter, enabled or not", "[firewall]") {
  FixtureRoot root;
  root.write("/etc/nftables.conf", kDebianDefault);
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "/etc/nftables.conf exists but nftables.service is not enabled"));
  enable(root, "nftables.service", "sysinit.target");
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "nftables chain inet filter input (/etc/nftables.conf:6) accepts by default"));
}

TEST_CASE("firewall: an enabled nftables input chain with policy drop passes", "[firewall]") {
  FixtureRoot root;
  root.write("/etc/nftables.conf", kPolicyDrop);
  enable(root, "nftables.service", "sysinit.target");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(outcome.evidence ==
        "nftables.service is enabled and chain inet filter input (/etc/nftables.conf:4) has policy drop");
}

TEST_CASE("firewall: a masked nftables.service does not count", "[firewall]") {
  FixtureRoot root;
  root.write("/etc/nftables.conf", kPolicyDrop);
  enable(root, "nftables.service", "sysinit.target");
  root.symlink("/dev/null", "/etc/systemd/system/nftables.service");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "nftables.service is not enabled"));
}

TEST_CASE("firewall: a policy in a comment or in another hook's chain does not count", "[firewall]") {
  FixtureRoot root;
  enable(root, "nftables.service", "sysinit.target");
  root.write("/etc/nftables.conf",
             "table inet filter {\n  chain input {\n    type filter hook input priority 0; # policy drop;\n  }\n"
             "  chain forward { type filter hook forward priority 0; policy drop; }\n}\n"
             "table arp guard {\n  chain input { type filter hook input priority 0; policy drop; }\n}\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "chain inet filter input (/etc/nftables.conf:2) accepts by default"));
}

TEST_CASE("firewall: an unconditional final drop or reject rule counts, a conditional one does not", "[firewall]") {
  FixtureRoot root;
  enable(root, "nftables.service", "sysinit.target");
  const auto with_last_rule = [](const std::string& rule) {
    return "table ip filter {\n  chain INPUT {\n    type filter hook input priority 0; policy accept;\n"
           "    tcp dport {\n      22,\n      443\n    } accept\n    " +
           rule + "\n  }\n}\n";
  };
  root.write("/etc/nftables.conf", with_last_rule("counter log prefix \"in drop: \" level info drop"));
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "chain ip filter INPUT (/etc/nftables.conf:2) ends with an unconditional drop rule"));
  root.write("/etc/nftables.conf", with_last_rule("reject with icmp type admin-prohibited comment \"default\""));
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "unconditional reject rule"));
  root.write("/etc/nftables.conf", with_last_rule("tcp dport 23 drop"));
  CHECK(run_check(kId, root).status == Status::fail);
  root.write("/etc/nftables.conf", with_last_rule("drop\n    udp dport 53 accept"));
  CHECK(run_check(kId, root).status == Status::fail);
}

TEST_CASE("firewall: nftables includes are read, relative ones from /etc", "[firewall]") {
  FixtureRoot root;
  enable(root, "nftables.service", "sysinit.target");
  root.write("/etc/nftables.conf", "flush ruleset\ninclude \"/etc/nftables.d/*.nft\"\n")
      .write("/etc/nftables.d/10-table.nft", "table inet filter {\n  include \"nftables.d/input.chain\"\n}\n")
      .write("/etc/nftables.d/input.chain", "chain input {\n  type filter hook input priority 0\n  policy drop\n}\n");
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "chain inet filter input (/etc/nftables.d/input.chain:1) has policy drop"));

  root.write("/etc/nftables.d/20-missing.nft", "include \"/etc/nftables.d/nope.nft\"\n");
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence,
            "nft would refuse /etc/nftables.conf: include of missing /etc/nftables.d/nope.nft at "
            "/etc/nftables.d/20-missing.nft:1"));

  root.write("/etc/nftables.d/20-missing.nft", "include \"/etc/nftables.conf\"\n");
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "include nesting deeper than 16"));
}

TEST_CASE("firewall: add chain / add rule commands, flush ruleset and dormant tables", "[firewall]") {
  FixtureRoot root;
  enable(root, "nftables.service", "sysinit.target");
  root.write("/etc/nftables.conf",
             "add table inet fw\nadd chain inet fw in { type filter hook input priority 0 ; }\n"
             "add rule inet fw in ct state established accept\nadd rule inet fw in counter drop\n");
  CHECK(run_check(kId, root).status == Status::pass);
  // `insert` puts the rule first, so the last rule is still the drop.
  root.write("/etc/nftables.conf",
             "add table fw\nadd chain fw in { type filter hook input priority 0 ; }\nadd rule fw in drop\n"
             "insert rule fw in iif lo accept\n");
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "chain ip fw in"));

  root.write("/etc/nftables.conf", std::string(kPolicyDrop) + "flush ruleset\n");
  CHECK(run_check(kId, root).status == Status::fail);
  root.write("/etc/nftables.conf", std::string(kPolicyDrop) + "table inet filter { flags dormant; }\n");
  CHECK(run_check(kId, root).status == Status::fail);
  root.write("/etc/nftables.conf", std::string(kPolicyDrop) + "delete table inet filter\n");
  CHECK(run_check(kId, root).status == Status::fail);
}

TEST_CASE("firewall: unbalanced braces make nft refuse the file", "[firewall]") {
  FixtureRoot root;
  enable(root, "nftables.service", "sysinit.target");
  root.write("/etc/nftables.conf", std::string(kPolicyDrop) + "}\n");
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "unexpected '}' at /etc/nftables.conf:11"));
  root.write("/etc/nftables.conf",
             "table inet filter {\n chain input { type filter hook input priority 0; policy drop;\n");
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "unclosed '{'"));
  // A pathological file must not exhaust the parser's stack.
  root.write("/etc/nftables.conf", std::string(200000, '{') + std::string(200000, '}'));
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "braces nested deeper than 64"));
}

TEST_CASE("firewall: ufw counts when enabled, started at boot and not accepting by default", "[firewall]") {
  FixtureRoot root;
  root.write("/etc/ufw/ufw.conf", "# /etc/ufw/ufw.conf\nENABLED=no\nLOGLEVEL=low\n");
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "ufw is installed but /etc/ufw/ufw.conf has ENABLED=no"));

  root.write("/etc/ufw/ufw.conf", "ENABLED=no\n#ENABLED=no\nENABLED=yes\n");
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "ufw.service is not enabled"));

  enable(root, "ufw.service");
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(outcome.evidence ==
        "ufw is enabled (ENABLED=yes in /etc/ufw/ufw.conf, ufw.service enabled, incoming policy DROP)");

  root.write("/etc/default/ufw", "IPV6=yes\nDEFAULT_INPUT_POLICY=\"ACCEPT\"\n");
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "DEFAULT_INPUT_POLICY=\"ACCEPT\""));
  root.write("/etc/default/ufw", "DEFAULT_INPUT_POLICY=\"REJECT\"\n");
  CHECK(has(run_check(kId, root).evidence, "incoming policy REJECT"));
}

TEST_CASE("firewall: iptables-persistent rules that drop inbound traffic, restored at boot", "[firewall]") {
  FixtureRoot root;
  const auto rules = [](const std::string& policy, const std::string& last) {
    return "# Generated by iptables-save\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT DROP [0:0]\nCOMMIT\n*filter\n:INPUT " +
           policy + " [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n" + last +
           "\nCOMMIT\n";
  };
  root.write("/etc/iptables/rules.v4", rules("DROP", "-A INPUT -p tcp --dport 22 -j ACCEPT"));
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "neither netfilter-persistent.service nor iptables.service is enabled"));

  enable(root, "netfilter-persistent.service");
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "/etc/iptables/rules.v4 has :INPUT DROP (line 7)"));

  root.write(
      "/etc/iptables/rules.v4",
      rules("ACCEPT", "-A INPUT -m comment --comment \"default deny\" -j REJECT --reject-with icmp-host-prohibited"));
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "a final -A INPUT -j REJECT (line 11)"));

  root.write("/etc/iptables/rules.v4", rules("ACCEPT", "-A INPUT -p tcp --dport 23 -j DROP"));
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "/etc/iptables/rules.v4 accepts inbound traffic by default"));
}

TEST_CASE("firewall: firewalld counts unless its default zone is trusted", "[firewall]") {
  FixtureRoot root;
  enable(root, "firewalld.service");
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(outcome.evidence == "firewalld.service is enabled (default zone public)");
  root.write("/etc/firewalld/firewalld.conf", "# firewalld config\nDefaultZone=trusted\n");
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "default zone is trusted"));
}

TEST_CASE("firewall: an unreadable configuration is an error unless another firewall passes", "[firewall]") {
  FixtureRoot root;
  enable(root, "nftables.service", "sysinit.target");
  root.mkdir("/etc/nftables.conf");
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::error);
  CHECK(has(outcome.evidence, "cannot read /etc/nftables.conf: is a directory"));
  root.write("/etc/ufw/ufw.conf", "ENABLED=yes\n");
  enable(root, "ufw.service");
  CHECK(run_check(kId, root).status == Status::pass);
}

TEST_CASE("firewall: legacy iptables tables loaded at run time are named but do not pass", "[firewall]") {
  FixtureRoot root;
  root.write("/proc/net/ip_tables_names", "filter\nnat\n").write("/proc/net/ip6_tables_names", "");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "legacy iptables tables loaded now (/proc/net/ip_tables_names: filter,nat)"));
  CHECK(!has(outcome.evidence, "ip6_tables_names"));
}
