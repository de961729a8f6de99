// posturectl scan --configured with the redact and quarantine actions, posturectl quarantine list
// and restore, and UTF-16 and gzip files through the real binary; no full card number in any output.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "support/encodings.hpp"
#include "support/fixture_root.hpp"
#include "support/process.hpp"

using Catch::Matchers::ContainsSubstring;
using postured::test::bin;
using postured::test::FixtureRoot;
using postured::test::gzip;
using postured::test::Ran;
using postured::test::read_file;
using postured::test::run;
using postured::test::utf16;

namespace {

// Well-known test PANs: none may appear whole in anything posturectl prints.
const std::vector<std::string> kFullPans{"4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"};
const std::string kMarker = "PLAINTEXT-MARKER-7f3a";
const std::string kExport =
    "id,card,note\n1,4111111111111111," + kMarker + "\n2,;5555555555554444=25121010000000000?\n";
const std::string kLog = "10:00 sale card=4111 1111 1111 1111 ok\n10:01 refund 378282246310005\n";

void check_no_full_pan(const Ran& r) {
  for (const auto& pan : kFullPans) {
    CHECK(r.out.find(pan) == std::string::npos);
    CHECK(r.err.find(pan) == std::string::npos);
  }
}

// A config with a redact folder and a quarantine folder, and the agent's state in the fixture.
std::string write_config(const FixtureRoot& dir) {
  const auto path = (dir.path() / "postured.toml").string();
  std::ofstream(path) << "[agent]\nstore_id = \"s1\"\nstate_dir = \"" << dir.real("/state").string() << "\"\n"
                      << "[[scan_folder]]\npath = \"" << dir.real("/logs").string() << "\"\naction = \"redact\"\n"
                      << "[[scan_folder]]\npath = \"" << dir.real("/exports").string()
                      << "\"\naction = \"quarantine\"\n";
  return path;
}

struct stat stat_of(const std::filesystem::path& path) {
  struct stat st {};
  ::lstat(path.c_str(), &st);
  return st;
}

}  // namespace

TEST_CASE("posturectl scan --configured redacts and quarantines; quarantine restore brings the file back",
          "[scan][cli][actions]") {
  FixtureRoot dir;
  dir.write("/logs/pos.log", kLog).write("/logs/clean.log", "nothing\n").write("/exports/day.csv", kExport);
  const auto log = dir.real("/logs/pos.log"), csv = dir.real("/exports/day.csv");
  ::chmod(log.c_str(), 0640);
  ::chmod(csv.c_str(), 0604);
  REQUIRE(::chown(log.c_str(), 4321, 8765) == 0);
  const auto log_before = stat_of(log);
  const auto config = write_config(dir);

  const auto r = run({bin("posturectl"), "scan", "--configured", "--json", "--config", config});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  check_no_full_pan(r);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["schema"] == "postured.scan/v1");
  CHECK(doc["files_scanned"] == 3);
  CHECK(doc["pan_findings"] == 4);
  REQUIRE(doc["locations"].size() == 2);
  std::map<std::string, nlohmann::json> by_path;
  for (const auto& l : doc["locations"]) by_path[l["path"].get<std::string>()] = l;
  CHECK(by_path[log.string()]["action"] == "redact");
  CHECK(by_path[log.string()]["result"] == "redacted");
  CHECK(by_path[log.string()]["count"] == 2);
  CHECK(by_path[csv.string()]["action"] == "quarantine");
  CHECK(by_path[csv.string()]["result"] == "quarantined");
  const auto id = by_path[csv.string()]["vault_id"].get<std::string>();
  for (const auto& f : doc["findings"]) {
    CHECK(f.contains("encoding"));
    CHECK(f["masked"].get<std::string>().find("*****") != std::string::npos);
  }

  // Redacted: same mode and owner, a new inode (renamed over), no PAN left in its bytes.
  const auto log_after = stat_of(log);
  CHECK(log_after.st_ino != log_before.st_ino);
  CHECK((log_after.st_mode & 07777) == 0640);
  CHECK(log_after.st_uid == 4321);
  CHECK(log_after.st_gid == 8765);
  const auto redacted = read_file(log);
  CHECK(redacted == "10:00 sale card=4111 11** **** 1111 ok\n10:01 refund 378282*****0005\n");

  // Quarantined: gone, a tombstone beside it, a vault entry with no plaintext in it.
  CHECK_FALSE(std::filesystem::exists(csv));
  const auto tombstone = read_file(csv.string() + ".quarantined");
  CHECK_THAT(tombstone, ContainsSubstring(id));
  CHECK_THAT(tombstone, ContainsSubstring("411111******1111"));
  for (const auto& pan : kFullPans) CHECK(tombstone.find(pan) == std::string::npos);
  const auto entry = dir.real("/state/quarantine/" + id + ".vault");
  CHECK((stat_of(entry).st_mode & 07777) == 0600);
  CHECK((stat_of(dir.real("/state/quarantine")).st_mode & 07777) == 0700);
  const auto sealed = read_file(entry);
  CHECK(sealed.find(kMarker) == std::string::npos);
  for (const auto& pan : kFullPans) CHECK(sealed.find(pan) == std::string::npos);

  // A second run finds nothing: the redacted log and the tombstone hold masked numbers only.
  const auto again = run({bin("posturectl"), "scan", "--configured", "--config", config});
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.out, ContainsSubstring("0 card numbers or tracks"));

  const auto list = run({bin("posturectl"), "quarantine", "list", "--json", "--config", config});
  CHECK(list.exit_code == 0);
  check_no_full_pan(list);
  const auto entries = nlohmann::json::parse(list.out)["entries"];
  REQUIRE(entries.size() == 1);
  CHECK(entries[0]["id"] == id);
  CHECK(entries[0]["path"] == csv.string());
  CHECK(entries[0]["size"] == kExport.size());
  CHECK(entries[0]["mode"] == "0604");
  CHECK(entries[0]["findings"] == 2);

  const auto taken = dir.real("/taken.csv");
  dir.write("/taken.csv", "keep me");
  const auto refused =
      run({bin("posturectl"), "quarantine", "restore", id, "--to", taken.string(), "--config", config});
  CHECK(refused.exit_code == 3);
  CHECK_THAT(refused.err, ContainsSubstring("refusing to overwrite"));
  CHECK(read_file(taken) == "keep me");

  const auto back = dir.real("/restored.csv");
  const auto restore =
      run({bin("posturectl"), "quarantine", "restore", id, "--to", back.string(), "--json", "--config", config});
  CHECK(restore.exit_code == 0);
  CHECK(nlohmann::json::parse(restore.out)["path"] == back.string());
  CHECK(read_file(back) == kExport);
  CHECK((stat_of(back).st_mode & 07777) == 0604);
  CHECK_FALSE(std::filesystem::exists(csv.string() + ".quarantined"));
  CHECK_FALSE(std::filesystem::exists(entry));
  const auto gone = run({bin("posturectl"), "quarantine", "restore", id, "--config", config});
  CHECK(gone.exit_code == 2);
  CHECK_THAT(gone.err, ContainsSubstring("no quarantine entry"));
}

TEST_CASE("posturectl scan reads UTF-16 and gzip files and says so in --json; PATH scans only report",
          "[scan][cli][actions]") {
  FixtureRoot dir;
  dir.write("/in/utf16.txt", utf16(kLog, true, true))
      .write("/in/be.txt", utf16(kLog, false, false))
      .write("/in/log.gz", gzip(kLog))
      .write("/in/bad.gz", gzip(kLog).substr(0, 30));
  const auto config = write_config(dir);
  const auto r = run({bin("posturectl"), "scan", dir.real("/in").string(), "--json", "--config", config});
  CHECK(r.exit_code == 1);
  check_no_full_pan(r);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["files_scanned"] == 3);
  CHECK(doc["pan_findings"] >= 6);
  std::map<std::string, std::pair<std::string, std::string>> formats;
  for (const auto& f : doc["findings"]) {
    const auto name = std::filesystem::path(f["path"].get<std::string>()).filename().string();
    if (name == "bad.gz") continue;
    formats[name] = {f["encoding"], f["compression"]};
    if (f["masked"] == "378282*****0005") CHECK(f["line"] == 2);
  }
  CHECK(formats["utf16.txt"] == std::pair<std::string, std::string>{"utf-16le", "none"});
  CHECK(formats["be.txt"] == std::pair<std::string, std::string>{"utf-16be", "none"});
  CHECK(formats["log.gz"] == std::pair<std::string, std::string>{"8bit", "gzip"});
  REQUIRE(doc["skipped"].size() == 1);
  CHECK_THAT(doc["skipped"][0]["reason"].get<std::string>(), ContainsSubstring("gzip"));
  for (const auto& l : doc["locations"]) CHECK(l["action"] == "report");
  CHECK(read_file(dir.real("/in/log.gz")) == gzip(kLog));  // a PATH scan changes nothing

  const auto table = run({bin("posturectl"), "scan", dir.real("/in").string(), "--config", config});
  CHECK_THAT(table.out, ContainsSubstring("[gzip]"));
  CHECK_THAT(table.out, ContainsSubstring("[utf-16le]"));
  check_no_full_pan(table);
}

TEST_CASE("posturectl scan: --configured needs folders and excludes paths; quarantine list on a new device",
          "[scan][cli][actions]") {
  FixtureRoot dir;
  const auto bare = (dir.path() / "bare.toml").string();
  std::ofstream(bare) << "[agent]\nstore_id = \"s1\"\nstate_dir = \"" << dir.real("/state").string() << "\"\n";
  const auto none = run({bin("posturectl"), "scan", "--configured", "--config", bare});
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, ContainsSubstring("has no [[scan_folder]]"));
  CHECK(run({bin("posturectl"), "scan", "--config", bare}).exit_code == 2);
  CHECK(run({bin("posturectl"), "scan", "--configured", "/tmp", "--config", bare}).exit_code == 2);
  const auto empty = run({bin("posturectl"), "quarantine", "list", "--json", "--config", bare});
  CHECK(empty.exit_code == 0);
  CHECK(nlohmann::json::parse(empty.out)["entries"].empty());
}
