// Minimization policies: the TOML shape, every validation error with its exact FILE:LINE:COL, and
// stage 2 against a cache's schema.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <filesystem>

#include "privacy/policy.hpp"

using Catch::Matchers::ContainsSubstring;
using namespace postured;
using namespace postured::privacy;

namespace {

std::vector<std::string> errors_of(const std::string& text) {
  std::vector<std::string> lines;
  for (const auto& e : parse_policy(text, "p.toml").errors) lines.push_back(e.to_string());
  return lines;
}

MinimizationPolicy parsed(const std::string& text) {
  auto load = parse_policy(text, "p.toml");
  for (const auto& e : load.errors) UNSCOPED_INFO(e.to_string());
  REQUIRE(load.policy);
  return *load.policy;
}

std::vector<TableSchema> loyalty_schema() {
  TableSchema customers{"customers", true, "rowid", {}};
  customers.columns = {{"id", true, true, true, false},
                       {"name", true, false, false, false},
                       {"email", false, false, false, true},
                       {"phone", false, false, false, false},
                       {"last_seen", false, false, false, false}};
  TableSchema receipts{"receipts", true, "rowid", {}};
  receipts.columns = {{"id", false, true, true, false}, {"note", false, false, false, false}};
  return {customers, receipts};
}

std::vector<std::string> stage2(const std::string& text) {
  std::vector<std::string> lines;
  for (const auto& e : check_policy_against(parsed(text), loyalty_schema())) lines.push_back(e.to_string());
  return lines;
}

}  // namespace

TEST_CASE("a policy names tables, retention, column transforms and delete conditions", "[privacy][policy]") {
  const auto policy = parsed(R"(unlisted_columns = "null"

[[table]]
name = "customers"
unlisted_columns = "report"
columns.email = "hmac"
columns.phone = { transform = "mask", keep_last = 4 }
columns.birth = { transform = "generalize", to = "month", format = "unix_seconds" }
columns.postcode = { transform = "generalize", to = "prefix", length = 3 }
columns.age = { transform = "generalize", to = "age_band", width = 5 }
columns.card = "truncate_pan"
columns.notes = "null"
columns.id = "keep"

[table.retention]
column = "last_seen"
format = "unix_millis"
keep_days = 730

[[table.delete_row_if]]
column = "status"
equals = "cancelled"

[[table.delete_row_if]]
column = "consent"
is_null = true

[[table.delete_row_if]]
column = "kind"
in = ["test", 7, true]

[[table]]
name = "receipts"
)");
  REQUIRE(policy.tables.size() == 2);
  const auto& customers = policy.tables[0];
  CHECK(customers.name == "customers");
  CHECK(customers.at.line == 4);
  CHECK(customers.unlisted == UnlistedColumns::report);
  CHECK(policy.tables[1].unlisted == UnlistedColumns::null);  // the file's default
  REQUIRE(customers.retention);
  CHECK(customers.retention->column == "last_seen");
  CHECK(customers.retention->format == TimestampFormat::unix_millis);
  CHECK(customers.retention->keep_days == 730);
  CHECK(customers.rule_for("email")->transform.kind == TransformKind::hmac);
  CHECK(customers.rule_for("phone")->transform.mask_side == MaskSide::keep_last);
  CHECK(customers.rule_for("phone")->transform.mask_keep == 4);
  CHECK(customers.rule_for("birth")->transform.generalization == Generalization::month);
  CHECK(customers.rule_for("birth")->transform.date_format == TimestampFormat::unix_seconds);
  CHECK(customers.rule_for("postcode")->transform.prefix_length == 3);
  CHECK(customers.rule_for("age")->transform.band_width == 5);
  CHECK(customers.rule_for("card")->transform.kind == TransformKind::truncate_pan);
  CHECK(customers.rule_for("notes")->transform.kind == TransformKind::null);
  CHECK(customers.rule_for("id")->transform.kind == TransformKind::keep);
  REQUIRE(customers.delete_row_if.size() == 3);
  CHECK(customers.delete_row_if[0].values == std::vector<SqlValue>{SqlValue(std::string("cancelled"))});
  CHECK(customers.delete_row_if[1].test == DeleteCondition::Test::is_null);
  CHECK(customers.delete_row_if[2].values ==
        std::vector<SqlValue>{SqlValue(std::string("test")), SqlValue(7LL), SqlValue(1LL)});
  CHECK(policy.sha256.size() == 64);
}

TEST_CASE("policy errors name the file, line and column, with the likely key", "[privacy][policy]") {
  CHECK(errors_of("unlisted_column = \"null\"\n") ==
        std::vector<std::string>{"p.toml:1:1: unknown key 'unlisted_column'; did you mean 'unlisted_columns'?"});
  CHECK(errors_of("unlisted_columns = \"nul\"\n") ==
        std::vector<std::string>{"p.toml:1:20: 'unlisted_columns' is \"nul\"; did you mean 'null'?"});
  CHECK(errors_of("[[table]]\nnmae = \"x\"\n") ==
        std::vector<std::string>{"p.toml:1:1: 'table[0]' needs 'name', the table's name in the cache",
                                 "p.toml:2:1: unknown key 'table.nmae'; did you mean 'name'?"});
  CHECK(errors_of("[[table]]\nname = \"c\"\ncolumns.email = \"hamc\"\n") ==
        std::vector<std::string>{"p.toml:3:17: 'table.c.columns.email' is \"hamc\"; did you mean 'hmac'?"});
  CHECK(errors_of("[[table]]\nname = \"c\"\ncolumns.phone = \"mask\"\n") ==
        std::vector<std::string>{"p.toml:3:17: 'table.c.columns.phone': \"mask\" needs parameters, e.g. "
                                 "{ transform = \"mask\", keep_last = 4 }"});
  CHECK(errors_of("[[table]]\nname = \"c\"\ncolumns.phone = { transform = \"mask\", keep_lst = 4 }\n") ==
        std::vector<std::string>{
            "p.toml:3:17: 'table.c.columns.phone' with transform \"mask\" needs exactly one of keep_first or keep_last",
            "p.toml:3:39: 'table.c.columns.phone.keep_lst' is not a parameter of transform \"mask\"; did you mean "
            "'keep_last'?"});
  CHECK(
      errors_of("[[table]]\nname = \"c\"\ncolumns.e = { transform = \"hmac\", length = 3 }\n") ==
      std::vector<std::string>{
          "p.toml:3:35: 'table.c.columns.e.length' is not a parameter of transform \"hmac\"; it takes no parameters"});
  CHECK(errors_of("[[table]]\nname = \"c\"\ncolumns.p = { transform = \"generalize\", to = \"prefix\" }\n") ==
        std::vector<std::string>{"p.toml:3:13: 'table.c.columns.p' with generalize to \"prefix\" needs 'length'"});
  CHECK(errors_of("[[table]]\nname = \"c\"\ncolumns.p = { transform = \"generalize\", to = \"year\", width = 5 }\n") ==
        std::vector<std::string>{"p.toml:3:62: 'table.c.columns.p.width' does not apply to generalize to \"year\""});
  CHECK(errors_of("[[table]]\nname = \"c\"\ncolumns.p = { transform = \"generalize\", to = \"decade\" }\n") ==
        std::vector<std::string>{"p.toml:3:46: 'table.c.columns.p.to' is \"decade\"; expected one of: year, month, "
                                 "prefix, age_band"});
  CHECK(errors_of("[[table]]\nname = \"c\"\ncolumns.m = { transform = \"mask\", keep_last = 99 }\n") ==
        std::vector<std::string>{"p.toml:3:47: 'table.c.columns.m.keep_last' is 99, out of range [0, 64]"});
}

TEST_CASE("retention and delete_row_if errors", "[privacy][policy]") {
  CHECK(errors_of("[[table]]\nname = \"c\"\n[table.retention]\ncolumn = \"t\"\nkeep_days = 0\nformat = \"epoch\"\n") ==
        std::vector<std::string>{"p.toml:5:13: 'table.c.retention.keep_days' is 0, out of range [1, 36500]",
                                 "p.toml:6:10: 'table.c.retention.format' is \"epoch\"; expected one of: iso8601, "
                                 "unix_seconds, unix_millis"});
  CHECK(errors_of("[[table]]\nname = \"c\"\n[table.retention]\nkeep_days = 30\n") ==
        std::vector<std::string>{"p.toml:3:1: 'table.c.retention' needs 'column'"});
  CHECK(
      errors_of("[[table]]\nname = \"c\"\ncolumns.t = \"hmac\"\n[table.retention]\ncolumn = \"t\"\nkeep_days = 30\n") ==
      std::vector<std::string>{
          "p.toml:3:13: 'table.c.columns.t' is the retention column, so it must be kept as it is"});
  CHECK(errors_of("[[table]]\nname = \"c\"\n[[table.delete_row_if]]\ncolumn = \"s\"\nequals = 1\nis_null = true\n") ==
        std::vector<std::string>{"p.toml:3:1: 'table.c.delete_row_if' needs exactly one of equals, in or is_null"});
  CHECK(errors_of("[[table]]\nname = \"c\"\n[[table.delete_row_if]]\ncolumn = \"s\"\nis_null = false\n") ==
        std::vector<std::string>{"p.toml:5:11: 'table.c.delete_row_if.is_null' must be true"});
  CHECK(errors_of("[[table]]\nname = \"c\"\n[[table.delete_row_if]]\ncolumn = \"s\"\nin = []\n") ==
        std::vector<std::string>{"p.toml:5:6: 'table.c.delete_row_if.in' must be an array of 1 to 1000 values"});
  CHECK(errors_of("[[table]]\nname = \"c\"\n[[table.delete_row_if]]\ncolumn = \"s\"\nequals = [1]\n") ==
        std::vector<std::string>{
            "p.toml:5:10: 'table.c.delete_row_if.equals' must be a string, number or boolean, not an array"});
  CHECK(errors_of("[[table]]\nname = \"c\"\n[[table]]\nname = \"c\"\n") ==
        std::vector<std::string>{"p.toml:4:8: table 'c' is listed twice"});
  CHECK(errors_of("table = 3\n") ==
        std::vector<std::string>{"p.toml:1:9: 'table' must be an array of tables ([[table]]), not an integer"});
  const auto syntax = errors_of("[[table]\n");
  REQUIRE(syntax.size() == 1);
  CHECK_THAT(syntax[0], ContainsSubstring("p.toml:1:"));
}

TEST_CASE("stage 2: a table or column the cache lacks, and rules its schema cannot take", "[privacy][policy]") {
  CHECK(stage2("[[table]]\nname = \"customers\"\ncolumns.email = \"hmac\"\n").empty());
  CHECK(stage2("[[table]]\nname = \"custmers\"\n") ==
        std::vector<std::string>{"p.toml:2:8: the cache has no table 'custmers'; did you mean 'customers'?"});
  CHECK(stage2("[[table]]\nname = \"orders\"\n") ==
        std::vector<std::string>{"p.toml:2:8: the cache has no table 'orders'; expected one of: customers, receipts"});
  CHECK(
      stage2("[[table]]\nname = \"customers\"\ncolumns.emial = \"hmac\"\n[table.retention]\ncolumn = \"last_sen\"\n"
             "keep_days = 9\n[[table.delete_row_if]]\ncolumn = \"status\"\nequals = 1\n") ==
      std::vector<std::string>{
          "p.toml:3:9: table 'customers' has no column 'emial'; did you mean 'email'?",
          "p.toml:5:10: table 'customers' has no column 'last_sen'; did you mean 'last_seen'?",
          "p.toml:8:10: table 'customers' has no column 'status'; expected one of: id, name, email, phone, last_seen"});
  CHECK(stage2("[[table]]\nname = \"customers\"\ncolumns.id = \"hmac\"\ncolumns.name = \"null\"\n"
               "columns.email = { transform = \"mask\", keep_last = 4 }\n") ==
        std::vector<std::string>{
            "p.toml:3:9: column 'id' is the table's INTEGER PRIMARY KEY (its rowid) and can only be kept",
            "p.toml:4:9: column 'name' is NOT NULL, so it cannot be nulled",
            "p.toml:5:9: column 'email' is UNIQUE, and mask would make its values collide; use hmac or null"});
  // unlisted_columns = "null" would null a NOT NULL column; keys and the retention column are spared.
  CHECK(
      stage2("unlisted_columns = \"null\"\n[[table]]\nname = \"customers\"\n[table.retention]\ncolumn = \"last_seen\"\n"
             "keep_days = 9\n[[table]]\nname = \"receipts\"\n") ==
      std::vector<std::string>{"p.toml:3:8: unlisted_columns = \"null\" would null column 'name' of table "
                               "'customers', which is NOT NULL; give it a transform"});
}

TEST_CASE("the example minimization policies in config/policies are valid", "[privacy][policy]") {
  // The folder also holds hardening policies, which have a format of their own.
  const std::filesystem::path folder = std::filesystem::path(POSTURED_SOURCE_DIR) / "config" / "policies";
  for (const char* name : {"pci-loyalty.toml", "gdpr-receipts.toml"}) {
    INFO(name);
    const auto load = load_policy_file(folder / name);
    for (const auto& e : load.errors) UNSCOPED_INFO(e.to_string());
    REQUIRE(load.policy.has_value());
    CHECK_FALSE(load.policy->tables.empty());
  }
}
