// The quarantine vault and action: round trip, tampering and a wrong master key are refused, the
// tombstone says what happened with masked numbers only, and restore never overwrites.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "privacy/pan_detector.hpp"
#include "privacy/quarantine.hpp"
#include "support/encodings.hpp"
#include "support/fixture_root.hpp"

using namespace postured;
using namespace postured::privacy;
using Catch::Matchers::ContainsSubstring;
using postured::test::FixtureRoot;
using postured::test::read_file;

namespace {

SecretKey key_of(std::uint8_t fill) {
  SecretKey key;
  std::fill(key.data(), key.data() + key.size(), fill);
  return key;
}

const std::string kContent = "export\n1,4111111111111111,DOE\n2,;5555555555554444=25121010000000000?\n";

// Stores `content` as a file's bytes in `vault`; the entry's id.
std::string store(const QuarantineVault& vault, FixtureRoot& dir, const std::string& content) {
  dir.write("/in.bin", content);
  const int fd = ::open(dir.real("/in.bin").c_str(), O_RDONLY);
  QuarantineRecord record;
  record.path = "/var/spool/pos/export.csv";
  record.mode = 0640;
  record.uid = ::geteuid();
  record.gid = ::getegid();
  record.findings = 2;
  record.examples = {"411111******1111"};
  const auto error = vault.store(fd, record);
  ::close(fd);
  REQUIRE(error.empty());
  return record.id;
}

void flip_byte(const std::filesystem::path& path, std::uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 1));
}

}  // namespace

TEST_CASE("vault: an entry round-trips its bytes, mode and record; its file holds no plaintext", "[quarantine]") {
  FixtureRoot dir;
  const QuarantineVault vault(dir.path() / "state", key_of(7));
  std::string content = kContent;
  for (int i = 0; i < 300000; ++i) content += static_cast<char>(i % 256);  // binary, larger than one chunk
  const auto id = store(vault, dir, content);
  CHECK(valid_vault_id(id));
  struct stat st {};
  REQUIRE(::stat(vault.dir().c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  const auto entry = vault.dir() / (id + ".vault");
  REQUIRE(::stat(entry.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  const auto sealed = read_file(entry);
  CHECK(sealed.find("4111111111111111") == std::string::npos);
  CHECK(sealed.find("export") == std::string::npos);
  CHECK(sealed.find("/var/spool/pos") == std::string::npos);  // the record is encrypted too

  const auto entries = vault.list();
  REQUIRE(entries.size() == 1);
  REQUIRE(entries[0].record);
  CHECK(entries[0].record->path == "/var/spool/pos/export.csv");
  CHECK(entries[0].record->size == content.size());
  CHECK(entries[0].record->findings == 2);
  CHECK(entries[0].record->examples == std::vector<std::string>{"411111******1111"});

  std::string note;
  const auto out = dir.real("/restored.csv");
  CHECK(vault.restore(id, out, note).empty());
  CHECK(read_file(out) == content);
  REQUIRE(::stat(out.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK_THAT(vault.restore(id, out, note), ContainsSubstring("refusing to overwrite"));
  CHECK(read_file(out) == content);
}

TEST_CASE("vault: a tampered entry or another device's key restores nothing", "[quarantine]") {
  FixtureRoot dir;
  const QuarantineVault vault(dir.path() / "state", key_of(7));
  const auto id = store(vault, dir, kContent);
  const auto entry = vault.dir() / (id + ".vault");
  const auto pristine = read_file(entry);
  std::string error, note;

  const QuarantineVault other(dir.path() / "state", key_of(8));
  CHECK_FALSE(other.record(id, error));
  CHECK_THAT(error, ContainsSubstring("does not authenticate"));
  CHECK_THAT(other.restore(id, dir.real("/a"), note), ContainsSubstring("does not authenticate"));
  CHECK_FALSE(std::filesystem::exists(dir.real("/a")));

  flip_byte(entry, pristine.size() - 20);  // in the content's ciphertext: only the final tag check sees it
  CHECK(vault.record(id, error));          // the record is intact
  CHECK_THAT(vault.restore(id, dir.real("/b"), note), ContainsSubstring("does not authenticate"));
  CHECK_FALSE(std::filesystem::exists(dir.real("/b")));
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 3);  // proc, state, in.bin: no temp

  std::ofstream(entry, std::ios::binary | std::ios::trunc) << pristine;
  flip_byte(entry, 40);  // in the record's ciphertext
  CHECK_FALSE(vault.record(id, error));
  const auto listed = vault.list();
  REQUIRE(listed.size() == 1);
  CHECK_FALSE(listed[0].record);
  CHECK_THAT(listed[0].error, ContainsSubstring("does not authenticate"));

  std::ofstream(entry, std::ios::binary | std::ios::trunc) << pristine.substr(0, 30);
  CHECK_FALSE(vault.record(id, error));
  CHECK_FALSE(valid_vault_id("../keys/master"));
  CHECK_THAT(vault.restore("../keys/master", dir.real("/c"), note), ContainsSubstring("no quarantine entry"));
}

TEST_CASE("quarantine moves the file, leaves a tombstone with masked numbers, and restore undoes it", "[quarantine]") {
  FixtureRoot dir;
  const QuarantineVault vault(dir.path() / "state", key_of(7));
  dir.write("/spool/export.csv", kContent);
  const auto file = dir.real("/spool/export.csv");
  ::chmod(file.c_str(), 0604);
  const auto moved = quarantine_file(dir.real("/spool"), file, 2, {"411111******1111", "555555******4444"}, vault);
  REQUIRE(moved.error.empty());
  CHECK(moved.moved);
  CHECK_FALSE(std::filesystem::exists(file));
  const auto tombstone = read_file(tombstone_path(file));
  CHECK_THAT(tombstone, ContainsSubstring("vault id:  " + moved.vault_id));
  CHECK_THAT(tombstone, ContainsSubstring("2 card numbers or tracks (masked: 411111******1111 555555******4444)"));
  CHECK_THAT(tombstone, ContainsSubstring("posturectl quarantine restore " + moved.vault_id));
  CHECK_THAT(tombstone, ContainsSubstring(file.string()));
  CHECK(PanDetector().find_all(tombstone).empty());

  const auto restored = restore_quarantined(vault, moved.vault_id, {});
  REQUIRE(restored.error.empty());
  CHECK(restored.path == file);
  CHECK(read_file(file) == kContent);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0604);
  CHECK_FALSE(std::filesystem::exists(tombstone_path(file)));  // it was this entry's
  CHECK(vault.list().empty());                                 // the vault gives card data back only once
}

TEST_CASE("quarantine leaves a file that changes while it is stored, and removes the stale entry", "[quarantine]") {
  FixtureRoot dir;
  const QuarantineVault vault(dir.path() / "state", key_of(7));
  dir.write("/spool/pos.log", kContent);
  const auto file = dir.real("/spool/pos.log");
  const auto moved =
      quarantine_file(dir.real("/spool"), file, 2, {}, vault, [&] { std::ofstream(file, std::ios::app) << "more\n"; });
  CHECK_FALSE(moved.moved);
  CHECK_THAT(moved.error, ContainsSubstring("changed while it was being moved"));
  CHECK(read_file(file) == kContent + "more\nmore\n");
  CHECK_FALSE(std::filesystem::exists(tombstone_path(file)));
  CHECK(vault.list().empty());
}
