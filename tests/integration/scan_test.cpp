// posturectl scan on real files: findings, line numbers across chunk boundaries, limits, exit codes,
// and no full card number anywhere in its output.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "support/fixture_root.hpp"
#include "support/process.hpp"

using Catch::Matchers::ContainsSubstring;
using postured::test::bin;
using postured::test::FixtureRoot;
using postured::test::run;

TEST_CASE("posturectl scan finds PANs and tracks in a folder, masked, with line numbers", "[scan][cli]") {
  FixtureRoot dir;
  dir.write("/logs/pos.log", "boot\nsale card=4111111111111111 ok\n")
      .write("/logs/deep/export.csv", "id,card\n1,5555 5555 5555 4444\n2,%B378282246310005^DOE/J^2512101?\n")
      .write("/logs/clean.log", "2026-11-25T10:00:00Z order 100123 total 12.50\n");
  const auto logs = dir.real("/logs").string();
  const auto r = run({bin("posturectl"), "scan", logs, "--json", "--config", POSTURED_SOURCE_DIR "/config/postured.toml"});
  CHECK(r.exit_code == 1);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["schema"] == "postured.scan/v1");
  CHECK(doc["files_scanned"] == 3);
  CHECK(doc["pan_findings"] == 3);
  std::map<std::string, nlohmann::json> by_masked;
  for (const auto& f : doc["findings"]) by_masked[f["masked"].get<std::string>()] = f;
  REQUIRE(by_masked.count("411111******1111"));
  CHECK(by_masked["411111******1111"]["line"] == 2);
  CHECK(by_masked["411111******1111"]["offset"] == 15);
  CHECK(by_masked["411111******1111"]["path"] == dir.real("/logs/pos.log").string());
  CHECK(by_masked["555555******4444"]["brand"] == "mastercard");
  CHECK(by_masked["378282*****0005"]["kind"] == "track1");
  CHECK(by_masked["378282*****0005"]["line"] == 3);
  for (const char* full : {"4111111111111111", "5555 5555 5555 4444", "378282246310005"}) {
    CHECK(r.out.find(full) == std::string::npos);
    CHECK(r.err.find(full) == std::string::npos);
  }
  const auto table = run({bin("posturectl"), "scan", logs, "--config", POSTURED_SOURCE_DIR "/config/postured.toml"});
  CHECK_THAT(table.out, ContainsSubstring("pos.log:2: pan visa 411111******1111"));
  CHECK(table.out.find("4111111111111111") == std::string::npos);
}

TEST_CASE("posturectl scan: exit 0 when clean, 2 for a missing path; test PANs and large files are skipped", "[scan][cli]") {
  FixtureRoot dir;
  dir.write("/clean.log", "nothing here 2026-11-25 12:00\n").write("/test-card.log", "4111111111111111\n");
  dir.write("/big.log", std::string(4096, 'x') + " 5555555555554444\n");
  const auto config = (dir.path() / "p.toml").string();
  std::ofstream(config) << "[agent]\nstore_id = \"s\"\n[scan]\nmax_file_bytes = 2048\nignore_pans = [\"4111111111111111\"]\n";
  CHECK(run({bin("posturectl"), "scan", dir.real("/clean.log").string(), "--config", config}).exit_code == 0);
  CHECK(run({bin("posturectl"), "scan", dir.real("/test-card.log").string(), "--config", config}).exit_code == 0);
  const auto big = run({bin("posturectl"), "scan", dir.real("/big.log").string(), "--json", "--config", config});
  CHECK(big.exit_code == 0);
  CHECK_THAT(big.out, ContainsSubstring("larger than 2048 bytes"));
  const auto missing = run({bin("posturectl"), "scan", "/nonexistent/x.log", "--config", config});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, ContainsSubstring("/nonexistent/x.log: no such file or folder"));
  std::ofstream(config, std::ios::trunc) << "[agent]\nstore_id = \"s\"\n[scan]\nignore_pans = [\"4111-1111\"]\n";
  const auto bad = run({bin("posturectl"), "scan", dir.real("/clean.log").string(), "--config", config});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, ContainsSubstring("'scan.ignore_pans' entries must be 13 to 19 digits"));
}

TEST_CASE("posturectl scan reads files in chunks without missing or doubling a match at a boundary", "[scan][cli]") {
  FixtureRoot dir;
  // PANs placed around every 1 MiB chunk boundary (and the overlap's edges), with line numbers to check.
  std::string text;
  std::vector<std::pair<std::size_t, std::uint64_t>> expected;  // offset, line
  std::uint64_t line = 1;
  const std::string pan = "4111 1111 1111 1111";
  for (std::size_t boundary : {1u << 20, 2u << 20, 3u << 20}) {
    for (long shift : {-40L, -19L, -10L, -1L, 0L, 7L, 200L, 330L}) {
      const auto at = static_cast<std::size_t>(static_cast<long>(boundary) + shift);
      while (text.size() + 1 < at) {
        const std::size_t gap = std::min<std::size_t>(at - text.size() - 1, 61);
        text.append(gap, 'a');
        text += '\n';
        ++line;
        if (text.size() >= at) break;
      }
      if (text.size() < at) text.append(at - text.size(), ' ');
      text += ' ';
      expected.emplace_back(text.size(), line);
      text += pan + " \n";
      ++line;
    }
  }
  dir.write("/big.log", text);
  const auto r = run({bin("posturectl"), "scan", dir.real("/big.log").string(), "--json", "--config",
                      POSTURED_SOURCE_DIR "/config/postured.toml"});
  const auto doc = nlohmann::json::parse(r.out);
  std::vector<std::pair<std::size_t, std::uint64_t>> found;
  for (const auto& f : doc["findings"]) found.emplace_back(f["offset"].get<std::size_t>(), f["line"].get<std::uint64_t>());
  CHECK(found == expected);
}
