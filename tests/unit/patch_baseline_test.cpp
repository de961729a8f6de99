#include <catch2/catch_test_macros.hpp>

#include <string>

#include "patch/baseline.hpp"

using postured::Severity;
using postured::patch::load_baseline_file;
using postured::patch::parse_baseline;
using postured::patch::parse_date;

namespace {

std::vector<std::string> messages(const postured::patch::BaselineLoad& load) {
  std::vector<std::string> out;
  for (const auto& e : load.errors) out.push_back(e.to_string());
  return out;
}

}  // namespace

TEST_CASE("baseline: TOML [[package]] tables", "[patch][baseline]") {
  const auto load = parse_baseline(
      "[[package]]\nname = \"openssl\"\nfixed = \"3.0.15-1~deb12u1\"\ncves = [\"CVE-2024-5535\"]\n"
      "severity = \"critical\"\npublished = 2024-10-26\n\n[[package]]\nname = \"curl\"\nfixed = \"7.88.1-10+deb12u8\"\n"
      "published = \"2024-09-01\"\n",
      "b.toml");
  REQUIRE(load.errors.empty());
  const auto& entries = load.baseline->entries;
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].name == "openssl");
  CHECK(entries[0].fixed == "3.0.15-1~deb12u1");
  CHECK(entries[0].cves == std::vector<std::string>{"CVE-2024-5535"});
  CHECK(entries[0].severity == Severity::critical);
  CHECK(postured::patch::format_date(*entries[0].published) == "2024-10-26");
  CHECK(postured::patch::format_date(*entries[1].published) == "2024-09-01");
  CHECK(!entries[1].severity);
  CHECK(entries[1].cves.empty());
}

TEST_CASE("baseline: the same structure as JSON", "[patch][baseline]") {
  const auto load = parse_baseline(
      R"({"package": [{"name": "openssl", "fixed": "3.0.15-1~deb12u1", "cves": ["CVE-2024-5535"],
                       "severity": "high", "published": "2024-10-26"}]})",
      "b.json");
  REQUIRE(load.errors.empty());
  REQUIRE(load.baseline->entries.size() == 1);
  CHECK(load.baseline->entries[0].severity == Severity::high);
}

TEST_CASE("baseline: every TOML problem as FILE:LINE:COL, in file order", "[patch][baseline]") {
  const auto load = parse_baseline(
      "[[package]]\nname = \"openssl\"\nfixed = 3\nseverity = \"urgent\"\n"  // lines 1-4
      "published = \"2024-02-30\"\ncves = [\"CVE-1\", 7]\ncolour = \"red\"\n"  // lines 5-7
      "[[package]]\nname = \"curl\"\n"                                        // lines 8-9: no fixed
      "[other]\nx = 1\n",                                                     // line 10
      "b.toml");
  CHECK(!load.baseline);
  const auto errors = messages(load);
  REQUIRE(errors.size() == 7);
  CHECK(errors[0] == "b.toml:3:9: 'package.fixed' must be a string, not a number");
  CHECK(errors[1] == "b.toml:4:12: 'package.severity' must be one of low, medium, high, critical, not 'urgent'");
  CHECK(errors[2] == "b.toml:5:13: 'package.published' must be a date as YYYY-MM-DD, not '2024-02-30'");
  CHECK(errors[3] == "b.toml:6:18: each 'package.cves' entry must be a string, not a number");
  CHECK(errors[4] == "b.toml:7:1: unknown key 'package.colour' (expected one of name, fixed, cves, severity, published)");
  CHECK(errors[5] == "b.toml:8:1: missing required key 'package.fixed' (the first version with the fix)");
  CHECK(errors[6] == "b.toml:10:2: unknown key 'other' (a baseline holds [[package]] tables)");

  // An impossible TOML date is toml++'s own syntax error.
  const auto date = messages(parse_baseline("[[package]]\nname = \"a\"\nfixed = \"1\"\npublished = 2024-02-30\n", "b.toml"));
  REQUIRE(date.size() == 1);
  CHECK(date[0].starts_with("b.toml:4:"));
}

TEST_CASE("baseline: missing keys, unknown top-level keys and a syntax error", "[patch][baseline]") {
  auto errors = messages(parse_baseline("[[package]]\nname = \"curl\"\n\n[other]\nx = 1\n", "b.toml"));
  REQUIRE(errors.size() == 2);
  CHECK(errors[0] == "b.toml:1:1: missing required key 'package.fixed' (the first version with the fix)");
  CHECK(errors[1] == "b.toml:4:2: unknown key 'other' (a baseline holds [[package]] tables)");

  errors = messages(parse_baseline("[[package]]\nname = \"curl\nfixed = \"1\"\n", "b.toml"));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].starts_with("b.toml:2:"));

  errors = messages(parse_baseline("package = 3\n", "b.toml"));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == "b.toml:1:11: 'package' must be [[package]] tables");
}

TEST_CASE("baseline: JSON errors point at the line and column", "[patch][baseline]") {
  // A syntax error: the missing comma at line 3; nlohmann stops at the end of the unexpected token.
  auto errors = messages(parse_baseline("{\"package\": [\n  {\"name\": \"curl\",\n   \"fixed\": \"1\" \"severity\": \"low\"}\n]}",
                                        "b.json"));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == "b.json:3:26: invalid JSON: syntax error while parsing object - unexpected string literal; expected '}'");

  // Semantic errors: at the value, or at the key for an unknown key, or at the object for a missing key.
  errors = messages(parse_baseline("{\"package\": [\n  {\"name\": \"curl\", \"fixed\": \"1\", \"severity\": 5},\n"
                                   "  {\"name\": \"sudo\", \"when\": \"x\"}\n], \"x\": 1}",
                                   "b.json"));
  REQUIRE(errors.size() == 4);
  CHECK(errors[0] == "b.json:2:46: 'package.severity' must be a string, not a number");
  CHECK(errors[1] == "b.json:3:3: missing required key 'package.fixed' (the first version with the fix)");
  CHECK(errors[2] == "b.json:3:20: unknown key 'package.when' (expected one of name, fixed, cves, severity, published)");
  CHECK(errors[3] == "b.json:4:4: unknown key 'x' (a baseline holds a \"package\" list)");

  errors = messages(parse_baseline("{\"package\": {\"name\": \"a\"}}", "b.json"));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == "b.json:1:13: 'package' must be a list of objects");
}

TEST_CASE("baseline: blank names and versions are refused", "[patch][baseline]") {
  const auto errors = messages(parse_baseline("[[package]]\nname = \"\"\nfixed = \"1.0 -1\"\n", "b.toml"));
  REQUIRE(errors.size() == 2);
  CHECK(errors[0] == "b.toml:2:8: 'package.name' must not be empty");
  CHECK(errors[1] == "b.toml:3:9: 'package.fixed' must not contain blanks");
}

TEST_CASE("baseline: dates are real calendar days", "[patch][baseline]") {
  CHECK(parse_date("2024-02-29"));
  CHECK(!parse_date("2023-02-29"));
  CHECK(!parse_date("2024-13-01"));
  CHECK(!parse_date("2024-1-01"));
  CHECK(!parse_date("20240101xx"));
}

TEST_CASE("baseline: the shipped example is valid", "[patch][baseline]") {
  const auto load = load_baseline_file(std::string(POSTURED_SOURCE_DIR) + "/config/patch-baseline.example.toml");
  INFO((load.errors.empty() ? std::string() : load.errors.front().to_string()));
  REQUIRE(load.baseline);
  CHECK(load.baseline->entries.size() >= 4);
  for (const auto& entry : load.baseline->entries) {
    CHECK(entry.severity);
    CHECK(entry.published);
    CHECK(!entry.cves.empty());
  }
  const auto missing = load_baseline_file("/nonexistent/baseline.toml");
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].to_string() == "/nonexistent/baseline.toml:1:1: cannot read the patch baseline");
}
