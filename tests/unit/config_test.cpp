#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <fstream>
#include <regex>
#include <sstream>

#include "core/config.hpp"

using Catch::Matchers::ContainsSubstring;
using namespace std::chrono_literals;
using postured::parse_config;

namespace {

std::string only_error(const postured::ConfigLoad& load) {
  REQUIRE(load.errors.size() == 1);
  REQUIRE_FALSE(load.config);
  return load.errors.front().to_string();
}

}  // namespace

TEST_CASE("a minimal file gets every default", "[config]") {
  const auto load = parse_config("[agent]\nstore_id = \"s1\"\n", "p.toml");
  REQUIRE(load.errors.empty());
  REQUIRE(load.config);
  const auto& c = *load.config;
  CHECK(c.agent.store_id == "s1");
  CHECK(c.agent.device_id.empty());
  CHECK(c.agent.state_dir == "/var/lib/postured");
  CHECK(c.agent.runtime_dir == "/run/postured");
  CHECK(c.agent.log_level == postured::LogLevel::info);
  CHECK(c.schedule.check_interval == 15min);
  CHECK(c.schedule.jitter == 2min);
  CHECK(c.checks.disabled.empty());
}

TEST_CASE("every key is read into the structs", "[config]") {
  const auto load = parse_config(R"(
[agent]
store_id = "store-7"
device_id = "pos-7-01"
state_dir = "/srv/postured"
runtime_dir = "/run/p"
log_level = "debug"
[schedule]
check_interval = "1h30m"
jitter = 45
[checks]
disabled = ["linux.usb.storage_blocked", "linux.audit.auditd_enabled"]
)",
                                 "p.toml");
  REQUIRE(load.config);
  const auto& c = *load.config;
  CHECK(c.agent.device_id == "pos-7-01");
  CHECK(c.agent.state_dir == "/srv/postured");
  CHECK(c.agent.log_level == postured::LogLevel::debug);
  CHECK(c.schedule.check_interval == 90min);
  CHECK(c.schedule.jitter == 45s);
  CHECK(c.checks.disabled == std::vector<std::string>{"linux.usb.storage_blocked", "linux.audit.auditd_enabled"});
}

TEST_CASE("an unknown key is reported at its position with the nearest valid key", "[config]") {
  const auto text = only_error(parse_config("[agent]\nstore_id = \"s\"\nstor_idd = \"x\"\n", "p.toml"));
  CHECK(text == "p.toml:3:1: unknown key 'agent.stor_idd'; did you mean 'store_id'?");
}

TEST_CASE("an unknown key with no near match lists the valid keys", "[config]") {
  const auto text = only_error(parse_config("[agent]\nstore_id = \"s\"\nzzzzzzzzzzzz = 1\n", "p.toml"));
  CHECK_THAT(text, ContainsSubstring("expected one of: device_id, store_id, state_dir"));
}

TEST_CASE("an unknown section is reported with a suggestion", "[config]") {
  const auto text = only_error(parse_config("[agent]\nstore_id = \"s\"\n[schedul]\njitter = 1\n", "p.toml"));
  CHECK(text == "p.toml:3:2: unknown section 'schedul'; did you mean 'schedule'?");
}

TEST_CASE("wrong types name the key, what was expected and what was found", "[config]") {
  CHECK(only_error(parse_config("[agent]\nstore_id = 42\n", "p.toml")) ==
        "p.toml:2:12: 'agent.store_id' must be a string, not an integer");
  CHECK(only_error(parse_config("[agent]\nstore_id = \"s\"\n[checks]\ndisabled = \"x\"\n", "p.toml")) ==
        "p.toml:4:12: 'checks.disabled' must be an array of strings, not a string");
  CHECK_THAT(only_error(parse_config("[agent]\nstore_id = \"s\"\n[checks]\ndisabled = [\"a\", 1]\n", "p.toml")),
             ContainsSubstring("must hold only strings, not an integer"));
  CHECK_THAT(only_error(parse_config("agent = 3\n", "p.toml")),
             ContainsSubstring("p.toml:1:1: 'agent' must be a table, not an integer"));
}

TEST_CASE("values out of range are reported with the range", "[config]") {
  CHECK(only_error(parse_config("[agent]\nstore_id = \"s\"\n[schedule]\ncheck_interval = \"5s\"\n", "p.toml")) ==
        "p.toml:4:18: 'schedule.check_interval' is 5s, out of range [1m, 7d]");
  CHECK_THAT(only_error(parse_config("[agent]\nstore_id = \"s\"\n[schedule]\njitter = -1\n", "p.toml")),
             ContainsSubstring("out of range"));
  CHECK_THAT(only_error(parse_config("[agent]\nstore_id = \"\"\n", "p.toml")), ContainsSubstring("must not be empty"));
  CHECK_THAT(only_error(parse_config("[agent]\nstore_id = \"" + std::string(65, 'x') + "\"\n", "p.toml")),
             ContainsSubstring("longer than 64"));
}

TEST_CASE("a choice outside its set suggests the nearest", "[config]") {
  CHECK_THAT(only_error(parse_config("[agent]\nstore_id = \"s\"\nlog_level = \"warning\"\n", "p.toml")),
             ContainsSubstring("'agent.log_level' is \"warning\"; did you mean 'warn'?"));
}

TEST_CASE("malformed durations are reported", "[config]") {
  CHECK_THAT(only_error(parse_config("[agent]\nstore_id = \"s\"\n[schedule]\njitter = \"soon\"\n", "p.toml")),
             ContainsSubstring("'schedule.jitter' is \"soon\", not a duration"));
}

TEST_CASE("a missing required key is reported", "[config]") {
  CHECK_THAT(only_error(parse_config("[agent]\nlog_level = \"info\"\n", "p.toml")),
             ContainsSubstring("p.toml:1:1: missing required key 'agent.store_id'"));
  CHECK_THAT(only_error(parse_config("", "p.toml")), ContainsSubstring("missing required key 'agent.store_id'"));
}

TEST_CASE("every problem in a file is reported, in file order", "[config]") {
  const auto load = parse_config("[agent]\nstor_id = \"s\"\nlog_level = 3\n[schedule]\njitter = \"9d\"\n", "p.toml");
  REQUIRE(load.errors.size() == 4);
  CHECK(load.errors[0].line == 1);  // missing store_id, at the [agent] header
  CHECK(load.errors[1].line == 2);
  CHECK(load.errors[2].line == 3);
  CHECK(load.errors[3].line == 5);
}

TEST_CASE("TOML syntax errors carry line and column", "[config]") {
  const auto load = parse_config("[agent]\nstore_id = \"unterminated\n", "bad.toml");
  REQUIRE(load.errors.size() == 1);
  CHECK(load.errors[0].line == 2);
  CHECK(load.errors[0].to_string().rfind("bad.toml:2:", 0) == 0);
  CHECK_FALSE(load.config);
  CHECK(parse_config("[agent\n", "x").errors.size() == 1);
  CHECK(parse_config("\xff\xfe = 1", "x").errors.size() == 1);
  CHECK(parse_config("[agent]\nstore_id = \"a\"\nstore_id = \"b\"\n", "x").errors.size() == 1);  // redefinition
}

TEST_CASE("a missing file is one clear error", "[config]") {
  const auto load = postured::load_config_file("/nonexistent/postured.toml");
  CHECK(only_error(load) == "/nonexistent/postured.toml:1:1: no such file");
}

TEST_CASE("durations", "[config]") {
  using postured::parse_duration;
  CHECK(parse_duration("90") == 90s);
  CHECK(parse_duration("90s") == 90s);
  CHECK(parse_duration("15m") == 15min);
  CHECK(parse_duration("1h30m") == 90min);
  CHECK(parse_duration("7d") == std::chrono::hours(168));
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("1h30"));
  CHECK_FALSE(parse_duration("m"));
  CHECK_FALSE(parse_duration("-5s"));
  CHECK_FALSE(parse_duration("5w"));
  CHECK_FALSE(parse_duration("99999999999999999999s"));
  CHECK_FALSE(parse_duration("36500000d"));
}

TEST_CASE("the example config/postured.toml is valid", "[config]") {
  const auto load = postured::load_config_file(POSTURED_SOURCE_DIR "/config/postured.toml");
  for (const auto& e : load.errors) UNSCOPED_INFO(e.to_string());
  CHECK(load.errors.empty());
}

TEST_CASE("config/README.md states the defaults of the schema, key by key", "[config][docs]") {
  std::ifstream in(POSTURED_SOURCE_DIR "/config/README.md");
  std::stringstream doc;
  doc << in.rdbuf();
  const std::string text = doc.str();
  for (const auto& key : postured::config_schema()) {
    const std::string name = std::string(key.section) + "." + std::string(key.name);
    INFO(name);
    // The row: | `section.name` | type | default | ...
    const std::regex row("\\| `" + name + "` \\| [^|]+ \\| ([^|]+) \\|");
    std::smatch match;
    REQUIRE(std::regex_search(text, match, row));
    std::string stated = match[1];
    while (!stated.empty() && stated.back() == ' ') stated.pop_back();
    const std::string expected = key.required ? "required" : "`" + std::string(key.default_toml) + "`";
    CHECK(stated == expected);
  }
}

TEST_CASE("the schema's own defaults pass its checks", "[config]") {
  // A default that fails its own key's validation throws std::logic_error.
  postured::Config c;
  REQUIRE_NOTHROW(c = postured::default_config());
  CHECK(c.schedule.check_interval == 15min);
  CHECK(c.agent.state_dir == "/var/lib/postured");
  CHECK(c.agent.log_level == postured::LogLevel::info);
}

TEST_CASE("non-ASCII where the TOML parser expects whitespace is an error, not undefined behaviour", "[config]") {
  // Inputs our fuzz target found: tomlplusplus 3.3.0 reached __builtin_unreachable() on them
  // (see agent/core/config.cpp). Under UBSan (the asan preset) a regression aborts this test.
  for (const std::string& text : {std::string("o=-\"\xc9\xab"), std::string("stor_id\xcc\xbc = 1\n"),
                                  std::string("[agent]\nstore_id = \"s\" \xe2\xb1\xb0\n")}) {
    INFO(text);
    const auto load = parse_config(text, "u.toml");
    CHECK_FALSE(load.config);
    CHECK(load.errors.size() == 1);
  }
  // A line-ending backslash in a multi-line string followed by U+00A7: valid TOML, and the character is kept.
  const auto continued = parse_config("[agent]\nstore_id = \"\"\"\\\n\xc2\xa7\"\"\"\n", "u.toml");
  REQUIRE(continued.config);
  CHECK(continued.config->agent.store_id == "\xc2\xa7");
  // Non-ASCII inside strings and comments is fine.
  CHECK(parse_config("# Café Zürich\n[agent]\nstore_id = \"Zürich-Bahnhofstraße\"\n", "u.toml").config);
}

TEST_CASE("checks.disabled may name only known checks, with a suggestion for a typo", "[config]") {
  const std::vector<std::string> known{"linux.ssh.permit_root_login", "linux.usb.storage_blocked"};
  const auto text = "[agent]\nstore_id = \"s\"\n[checks]\ndisabled = [\"linux.usb.storage_blocked\", \"linux.ssh.permit_rot_login\"]\n";
  CHECK(only_error(parse_config(text, "p.toml", known)) ==
        "p.toml:4:42: 'checks.disabled' names unknown check 'linux.ssh.permit_rot_login'; did you mean "
        "'linux.ssh.permit_root_login'?");
  CHECK(parse_config(text, "p.toml").config);  // without a list of checks, any id is taken
}

TEST_CASE("[[cache]] tables are read with their defaults", "[config][cache]") {
  const auto load = parse_config(R"([agent]
store_id = "s"
[[cache]]
name = "loyalty"
path = "/var/lib/pos/loyalty.db"
owner_exe = "/opt/pos/bin/posd"
owner_uid = 1001
[[cache]]
name = "receipts"
path = "/var/lib/pos/receipts.db"
)",
                                 "p.toml");
  REQUIRE(load.config);
  const auto& caches = load.config->caches;
  REQUIRE(caches.size() == 2);
  CHECK(caches[0].name == "loyalty");
  CHECK(caches[0].owner_exe == "/opt/pos/bin/posd");
  CHECK(caches[0].owner_uid == 1001);
  CHECK(caches[1].path == "/var/lib/pos/receipts.db");
  CHECK(caches[1].owner_exe.empty());
  CHECK(caches[1].owner_uid == -1);
}

TEST_CASE("[[cache]] problems are reported at their position", "[config][cache]") {
  const std::string head = "[agent]\nstore_id = \"s\"\n";
  CHECK(only_error(parse_config(head + "[[cache]]\nname = \"a\"\n", "p.toml")) ==
        "p.toml:3:1: missing required key 'cache.path' (Absolute path of the SQLite/SQLCipher file.)");
  CHECK(only_error(parse_config(head + "[[cache]]\nname = \"a\"\npath = \"relative.db\"\n", "p.toml")) ==
        "p.toml:5:8: 'cache.path' must be an absolute path");
  CHECK(only_error(parse_config(head + "[[cache]]\nname = \"a b\"\npath = \"/x.db\"\n", "p.toml")) ==
        "p.toml:4:8: 'cache.name' may hold only letters, digits, '.', '_' and '-'");
  CHECK(only_error(parse_config(head + "[[cache]]\nname = \"a\"\npath = \"/x.db\"\nowner = 3\n", "p.toml")) ==
        "p.toml:6:1: unknown key 'cache.owner'; did you mean 'owner_exe'?");
  CHECK(only_error(parse_config(head + "[cache]\nname = \"a\"\n", "p.toml")) ==
        "p.toml:3:2: 'cache' must be an array of tables ([[cache]]), not a table");
  const auto twice = parse_config(
      head + "[[cache]]\nname = \"a\"\npath = \"/x.db\"\n[[cache]]\nname = \"a\"\npath = \"/x.db\"\n", "p.toml");
  REQUIRE(twice.errors.size() == 2);
  CHECK(twice.errors[0].to_string() == "p.toml:7:8: cache name 'a' is used twice");
  CHECK(twice.errors[1].to_string() == "p.toml:8:8: cache path '/x.db' is used twice");
}

TEST_CASE("[[scan_folder]] tables and cache policies are read and checked", "[config][scan]") {
  const std::string head = "[agent]\nstore_id = \"s\"\n";
  const auto load = parse_config(head + R"([schedule]
scan_interval = "2h"
[[cache]]
name = "loyalty"
path = "/var/lib/pos/loyalty.db"
policy = "/etc/postured/policies/loyalty.toml"
[[scan_folder]]
path = "/var/log/pos"
[[scan_folder]]
path = "/var/spool/pos/exports"
action = "quarantine"
)",
                                 "p.toml");
  REQUIRE(load.config);
  const auto& c = *load.config;
  CHECK(c.schedule.scan_interval == std::chrono::hours(2));
  CHECK(c.schedule.enforce_interval == std::chrono::hours(1));
  CHECK(c.caches.at(0).policy == "/etc/postured/policies/loyalty.toml");
  REQUIRE(c.scan_folders.size() == 2);
  CHECK(c.scan_folders[0].path == "/var/log/pos");
  CHECK(c.scan_folders[0].action == postured::FolderAction::report);
  CHECK(c.scan_folders[1].action == postured::FolderAction::quarantine);
  CHECK(only_error(parse_config(head + "[[scan_folder]]\npath = \"/x\"\naction = \"redcat\"\n", "p.toml")) ==
        "p.toml:5:10: 'scan_folder.action' is \"redcat\"; did you mean 'redact'?");
  CHECK(only_error(parse_config(head + "[[scan_folder]]\npath = \"logs\"\n", "p.toml")) ==
        "p.toml:4:8: 'scan_folder.path' must be an absolute path");
  CHECK(only_error(parse_config(head + "[[cache]]\nname = \"a\"\npath = \"/x.db\"\npolicy = \"p.toml\"\n", "p.toml")) ==
        "p.toml:6:10: 'cache.policy' must be an absolute path");
}

TEST_CASE("[patch] and checks.policies are read and checked", "[config]") {
  const std::string head = "[agent]\nstore_id = \"s\"\n";
  const auto load = parse_config(head + R"([checks]
policies = ["/etc/postured/policies/pos-linux-baseline.toml"]
[patch]
baseline = "/etc/postured/baseline.toml"
security_window = "14d"
)",
                                 "p.toml");
  REQUIRE(load.config);
  CHECK(load.config->checks.policies.at(0) == "/etc/postured/policies/pos-linux-baseline.toml");
  CHECK(load.config->patch.baseline == "/etc/postured/baseline.toml");
  CHECK(load.config->patch.security_window == std::chrono::hours(14 * 24));
  CHECK(postured::default_config().patch.security_window == std::chrono::hours(30 * 24));
  CHECK(only_error(parse_config(head + "[checks]\npolicies = [\"baseline.toml\"]\n", "p.toml")) ==
        "p.toml:4:13: 'checks.policies' entries must be absolute paths");
  CHECK(only_error(parse_config(head + "[patch]\nsecurity_window = \"2h\"\n", "p.toml")) ==
        "p.toml:4:19: 'patch.security_window' is 2h, out of range [1d, 365d]");
}
