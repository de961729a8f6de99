// rpm's header blobs and sqlite database, built here byte by byte; the real rpm is the oracle in
// tests/integration/patch_rpm_test.cpp.
#include <sqlite3.h>

#include <catch2/catch_test_macros.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "patch/inventory.hpp"
#include "patch/rpmdb.hpp"
#include "support/fixture_root.hpp"

using namespace postured::patch;
using postured::test::FixtureRoot;

namespace {

using Bytes = std::vector<unsigned char>;

void put32(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(value >> shift));
}

// An rpm header as rpmdb stores it: index count, data length, index entries, data store.
class HeaderBuilder {
 public:
  HeaderBuilder& string(std::uint32_t tag, const std::string& value) {
    entry(tag, 6, 1);
    data_.insert(data_.end(), value.begin(), value.end());
    data_.push_back(0);
    return *this;
  }
  HeaderBuilder& int32(std::uint32_t tag, std::uint32_t value) {
    while (data_.size() % 4 != 0) data_.push_back(0);  // rpm aligns INT32 data
    entry(tag, 4, 1);
    put32(data_, value);
    return *this;
  }
  // An entry with any fields, for malformed headers.
  HeaderBuilder& raw(std::uint32_t tag, std::uint32_t type, std::uint32_t offset, std::uint32_t count) {
    index_.push_back({tag, type, offset, count});
    return *this;
  }
  Bytes build() const {
    Bytes out;
    put32(out, static_cast<std::uint32_t>(index_.size()));
    put32(out, static_cast<std::uint32_t>(data_.size()));
    for (const auto& e : index_) {
      for (const auto field : e) put32(out, field);
    }
    out.insert(out.end(), data_.begin(), data_.end());
    return out;
  }

 private:
  void entry(std::uint32_t tag, std::uint32_t type, std::uint32_t count) {
    index_.push_back({tag, type, static_cast<std::uint32_t>(data_.size()), count});
  }
  std::vector<std::array<std::uint32_t, 4>> index_;
  Bytes data_;
};

HeaderBuilder package(const std::string& name, const std::string& version, const std::string& release) {
  HeaderBuilder builder;
  builder.string(1000, name).string(1001, version).string(1002, release).string(1022, "x86_64");
  return builder;
}

// An rpmdb.sqlite with rpm's Packages table holding `blobs`, in WAL mode as rpm leaves it.
void write_rpmdb(const std::filesystem::path& file, const std::vector<Bytes>& blobs) {
  std::filesystem::create_directories(file.parent_path());
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "PRAGMA journal_mode = WAL; CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, "
                       "blob BLOB NOT NULL)",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  for (const auto& blob : blobs) {
    sqlite3_stmt* insert = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO Packages (blob) VALUES (?)", -1, &insert, nullptr) == SQLITE_OK);
    sqlite3_bind_blob(insert, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    CHECK(sqlite3_step(insert) == SQLITE_DONE);
    sqlite3_finalize(insert);
  }
  REQUIRE(sqlite3_close(db) == SQLITE_OK);
}

std::string error_of(const Bytes& blob) {
  const auto parsed = parse_rpm_header(blob);
  CHECK(!parsed.header);
  return parsed.error;
}

}  // namespace

TEST_CASE("rpm header: the inventory's tags, epoch and source from SOURCERPM", "[patch][rpm]") {
  const auto blob = package("libgamma1", "0.9^git1", "2.el9")
                        .int32(1003, 3)
                        .string(1044, "gamma-0.9^git1-2.el9.src.rpm")
                        .int32(1008, 1700000000)
                        .string(1004, "a summary we do not read")
                        .build();
  const auto parsed = parse_rpm_header(blob);
  INFO(parsed.error);
  REQUIRE(parsed.header);
  CHECK(parsed.header->name == "libgamma1");
  CHECK(parsed.header->epoch == 3u);
  CHECK(parsed.header->install_time == 1700000000u);
  CHECK(parsed.header->arch == "x86_64");

  const auto installed = to_installed_package(*parsed.header);
  CHECK(installed.version == "3:0.9^git1-2.el9");
  CHECK(installed.source == "gamma");
  CHECK(installed.source_version == "3:0.9^git1-2.el9");  // the binary's epoch: SRPM names carry none

  // No epoch, no SOURCERPM, a SOURCERPM that is not a file name: the package is its own source.
  const auto plain = to_installed_package(*parse_rpm_header(package("bash", "5.1.8", "9.el9").build()).header);
  CHECK(plain.version == "5.1.8-9.el9");
  CHECK(plain.source == "bash");
  CHECK(plain.source_version == "5.1.8-9.el9");
  const auto odd =
      to_installed_package(*parse_rpm_header(package("odd", "1", "1").string(1044, "odd.src.rpm").build()).header);
  CHECK(odd.source == "odd");
  CHECK(odd.source_version == "1-1");
}

TEST_CASE("rpm header: malformed blobs are errors, never reads past the end", "[patch][rpm]") {
  CHECK(error_of({}) == "truncated: 0 bytes, no header preamble");
  CHECK(error_of({0, 0, 0, 1, 0, 0, 0}) == "truncated: 7 bytes, no header preamble");

  Bytes huge;
  put32(huge, 0xffffffffu);
  put32(huge, 16);
  CHECK(error_of(huge) == "bad index count 4294967295");
  Bytes zero;
  put32(zero, 0);
  put32(zero, 0);
  CHECK(error_of(zero) == "bad index count 0");
  Bytes big_data;
  put32(big_data, 1);
  put32(big_data, 0x7fffffffu);
  CHECK(error_of(big_data) == "bad data length 2147483647");

  const auto good = package("bash", "5.1.8", "9.el9").build();
  auto truncated = good;
  truncated.resize(good.size() - 3);
  CHECK(error_of(truncated).starts_with("size " + std::to_string(good.size() - 3) +
                                        " bytes, but the index and data need"));
  auto trailing = good;
  trailing.push_back(0);
  CHECK(!parse_rpm_header(trailing).header);

  // Offsets at or past the end of the data store, for a string and for an INT32.
  CHECK(error_of(package("a", "1", "1").raw(1044, 6, 1000, 1).build()) ==
        "tag 1044: not a NUL-terminated STRING inside the data store");
  CHECK(error_of(package("a", "1", "1").raw(1003, 4, 0xfffffffcu, 1).build()) ==
        "tag 1003: not an INT32 inside the data store");
  // The data store's last bytes: "x86_64\0" ends it, an INT32 at its last 3 bytes does not fit.
  const auto size = package("a", "1", "1").build().size() - 8 - 4 * 16;
  CHECK(error_of(package("a", "1", "1").raw(1008, 4, static_cast<std::uint32_t>(size - 3), 1).build()) ==
        "tag 1008: not an INT32 inside the data store");
  // A string that runs to the end without its NUL, a STRING tag of another type, a missing NAME.
  auto blob = HeaderBuilder().string(1001, "1").string(1002, "1").string(1000, "name").build();
  blob.back() = 'x';  // the last string's NUL
  CHECK(error_of(blob) == "tag 1000: not a NUL-terminated STRING inside the data store");
  CHECK(error_of(HeaderBuilder().int32(1000, 7).string(1001, "1").string(1002, "1").build()) ==
        "tag 1000: not a NUL-terminated STRING inside the data store");
  CHECK(error_of(HeaderBuilder().string(1001, "1").string(1002, "1").build()) == "no NAME, VERSION or RELEASE");
  CHECK(error_of(package("a", "1", "1").raw(1003, 4, 0, 0).build()) == "tag 1003: not an INT32 inside the data store");
}

TEST_CASE("rpm header: every truncation and byte flip of a valid blob is handled", "[patch][rpm]") {
  const auto good =
      package("openssl-libs", "3.0.7", "27.el9").int32(1003, 1).string(1044, "openssl-3.0.7-27.el9.src.rpm").build();
  for (std::size_t size = 0; size < good.size(); ++size) {
    CHECK(!parse_rpm_header(std::span(good).first(size)).header);
  }
  std::size_t parsed = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (const unsigned char value : {0x00, 0x7f, 0xff}) {
      auto flipped = good;
      flipped[i] = value;
      parsed += parse_rpm_header(flipped).header ? 1 : 0;  // either way without a read past the end
    }
  }
  CHECK(parsed > 0);  // flips inside the strings still parse
}

TEST_CASE("rpm inventory: rpmdb.sqlite under the root, gpg-pubkey left out, bad headers skipped",
          "[patch][rpm][inventory]") {
  FixtureRoot root;
  const std::vector<Bytes> blobs{
      package("bash", "5.1.8", "9.el9").string(1044, "bash-5.1.8-9.el9.src.rpm").build(),
      HeaderBuilder().string(1000, "gpg-pubkey").string(1001, "fd431d51").string(1002, "4ae0493b").build(),
      Bytes{0, 0, 0, 1},
      package("openssl-libs", "3.0.7", "27.el9").int32(1003, 1).string(1044, "openssl-3.0.7-27.el9.src.rpm").build()};
  write_rpmdb(root.real("/usr/lib/sysimage/rpm/rpmdb.sqlite"), blobs);

  const auto read = read_inventory(*root.host());
  INFO(read.error);
  REQUIRE(read.inventory);
  CHECK(read.inventory->format == PackageFormat::rpm);
  REQUIRE(read.inventory->packages.size() == 2);
  CHECK(read.inventory->packages[0].name == "bash");
  CHECK(read.inventory->packages[1].version == "1:3.0.7-27.el9");
  CHECK(read.inventory->packages[1].source == "openssl");
  CHECK(read.skipped == std::vector<std::string>{"rpmdb header 3 skipped: truncated: 4 bytes, no header preamble"});

  // The same file opened in place, read-only and immutable.
  const auto direct = read_rpmdb_sqlite(root.real("/usr/lib/sysimage/rpm/rpmdb.sqlite"));
  REQUIRE(direct.packages);
  CHECK(direct.packages->size() == 2);
  CHECK(direct.skipped.size() == 1);
  CHECK(!std::filesystem::exists(root.real("/usr/lib/sysimage/rpm/rpmdb.sqlite-shm")));
}

TEST_CASE("rpm inventory: other backends and unreadable databases are clear errors", "[patch][rpm][inventory]") {
  FixtureRoot bdb;
  bdb.write("/var/lib/rpm/Packages", "berkeley");
  auto read = read_inventory(*bdb.host());
  CHECK(!read.inventory);
  CHECK(read.error ==
        "rpm database /var/lib/rpm/Packages uses the Berkeley DB backend (rpm < 4.16), which is not "
        "read; only rpmdb.sqlite (rpm >= 4.16) is");

  FixtureRoot ndb;
  ndb.write("/usr/lib/sysimage/rpm/Packages.db", "ndb");
  read = read_inventory(*ndb.host());
  CHECK(read.error.starts_with("rpm database /usr/lib/sysimage/rpm/Packages.db uses SUSE's ndb backend"));

  FixtureRoot garbage;
  garbage.write("/var/lib/rpm/rpmdb.sqlite", "SQLite format 3");
  read = read_inventory(*garbage.host());
  CHECK(!read.inventory);
  CHECK(read.error.starts_with("cannot read /var/lib/rpm/rpmdb.sqlite: "));

  FixtureRoot no_table;
  write_rpmdb(no_table.real("/var/lib/rpm/rpmdb.sqlite"), {});
  read = read_inventory(*no_table.host());
  REQUIRE(read.inventory);  // an empty table is an empty inventory
  CHECK(read.inventory->packages.empty());
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(no_table.real("/var/lib/rpm/rpmdb.sqlite").c_str(), &db) == SQLITE_OK);
  sqlite3_exec(db, "DROP TABLE Packages", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  read = read_inventory(*no_table.host());
  CHECK(read.error == "cannot read /var/lib/rpm/rpmdb.sqlite: cannot read the Packages table: no such table: Packages");
}
