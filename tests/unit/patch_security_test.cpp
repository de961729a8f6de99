#include <lz4frame.h>
#include <zlib.h>

#include <catch2/catch_test_macros.hpp>

#include <cstdlib>
#include <ctime>
#include <string>

#include "core/text.hpp"
#include "patch/apt_security.hpp"
#include "patch/decompress.hpp"
#include "patch/patch_level.hpp"
#include "support/fixture_root.hpp"

using namespace postured::patch;
using postured::test::FixtureRoot;

namespace {

constexpr const char* kSecurityList =
    "/var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages";

// Log times are local; the tests read them in UTC so that the expected instants are fixed.
struct UtcZone {
  UtcZone() {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
};

std::string gzip(const std::string& data) {
  z_stream stream{};
  REQUIRE(deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out;
  out.resize(deflateBound(&stream, data.size()) + 32);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string lz4(const std::string& data) {
  std::string out;
  out.resize(LZ4F_compressFrameBound(data.size(), nullptr));
  const auto size = LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), nullptr);
  REQUIRE(!LZ4F_isError(size));
  out.resize(size);
  return out;
}

constexpr const char* kStatus =
    "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u2\n\n"
    "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\n"
    "Package: libssl3\nStatus: install ok installed\nArchitecture: i386\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\n"
    "Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2025b-0+deb12u2\n\n"
    "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-10+deb12u14\n";

constexpr const char* kPackages =
    "Package: openssl\nVersion: 3.0.17-1~deb12u3\nArchitecture: amd64\nDescription: x\n continued\n\n"
    "Package: libssl3\nVersion: 3.0.17-1~deb12u3\nArchitecture: amd64\n\n"
    "Package: tzdata\nVersion: 2025b-0+deb12u2\nArchitecture: all\n\n"
    "Package: curl\nVersion: 7.88.1-10+deb12u12\nArchitecture: amd64\n";

}  // namespace

TEST_CASE("apt lists: security suites are told from the others by their suite", "[patch][apt]") {
  CHECK(is_security_packages_list("deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages"));
  CHECK(is_security_packages_list("security.ubuntu.com_ubuntu_dists_jammy-security_main_binary-amd64_Packages.lz4"));
  CHECK(is_security_packages_list("archive.ubuntu.com_ubuntu_dists_noble-security_universe_binary-amd64_Packages.gz"));
  CHECK(!is_security_packages_list("deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages"));
  CHECK(!is_security_packages_list("security-mirror.example_debian_dists_bookworm_main_binary-amd64_Packages"));
  CHECK(!is_security_packages_list("deb.debian.org_debian-security_dists_bookworm-security_InRelease"));
  CHECK(!is_security_packages_list("deb.debian.org_debian-security_dists_bookworm-security_main_source_Sources"));
}

TEST_CASE("apt lists: pending security updates compare with dpkg's ordering, per architecture", "[patch][apt]") {
  FixtureRoot root;
  root.write("/var/lib/dpkg/status", kStatus).write(kSecurityList, kPackages);
  const auto host = root.host();
  const auto read = read_security_index(*host);
  REQUIRE(read.index);
  const auto inventory = read_inventory(*host);
  REQUIRE(inventory.inventory);
  const auto pending = pending_security_updates(*inventory.inventory, *read.index);
  // openssl and libssl3:amd64; not libssl3:i386 (no i386 list), not tzdata (equal), not curl (newer installed).
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].name == "openssl");
  CHECK(pending[0].available == "3.0.17-1~deb12u3");
  CHECK(pending[1].name == "libssl3");
  CHECK(pending[1].arch == "amd64");
}

TEST_CASE("apt lists: compressed lists are read; unreadable ones make the count unknown", "[patch][apt]") {
  FixtureRoot root;
  root.write("/var/lib/dpkg/status", kStatus).write(std::string(kSecurityList) + ".lz4", lz4(kPackages));
  auto read = read_security_index(*root.host());
  REQUIRE(read.index);
  CHECK(read.index->offers.at("openssl").front().version == "3.0.17-1~deb12u3");

  root.remove(std::string(kSecurityList) + ".lz4");
  root.write(std::string(kSecurityList) + ".gz", gzip(kPackages));
  read = read_security_index(*root.host());
  REQUIRE(read.index);
  CHECK(read.index->offers.count("curl") == 1);

  root.write(std::string(kSecurityList) + ".xz", "\xfd" "7zXZ");
  read = read_security_index(*root.host());
  CHECK(!read.index);
  CHECK(read.unreadable);
  CHECK(read.note.find("_Packages.xz") != std::string::npos);

  FixtureRoot none;
  read = read_security_index(*none.host());
  CHECK(!read.index);
  CHECK(!read.unreadable);
}

TEST_CASE("decompression refuses corrupt and truncated data", "[patch][apt]") {
  const std::string text(100000, 'x');
  CHECK(decompress_for("a.gz", gzip(text)) == text);
  CHECK(decompress_for("a.lz4", lz4(text)) == text);
  CHECK(decompress_for("a", "plain") == "plain");
  CHECK(!decompress_for("a.gz", gzip(text).substr(0, 20)));
  CHECK(!decompress_for("a.lz4", lz4(text).substr(0, 20)));
  CHECK(!decompress_for("a.gz", "not gzip"));
  CHECK(!decompress_for("a.lz4", ""));
  CHECK(!decompress_for("a.zst", "anything"));
}

TEST_CASE("apt history: upgrades at each entry's end, cut-off entries at their start", "[patch][apt]") {
  const UtcZone utc;
  const auto upgrades = parse_apt_history(
      "\nStart-Date: 2026-05-09  07:28:46\nCommandline: apt-get install -y tzdata\n"
      "Upgrade: tzdata:amd64 (2025b-0+deb12u1, 2025b-0+deb12u2), libssl3:amd64 (3.0.16-1~deb12u1, 3.0.17-1~deb12u3)\n"
      "Install: newpkg:amd64 (1.0, automatic)\nEnd-Date: 2026-05-09  07:28:50\n\n"
      "Start-Date: 2026-06-01  10:00:00\nUpgrade: curl:amd64 (7.88.1-10+deb12u12, 7.88.1-10+deb12u14)\n");
  REQUIRE(upgrades.size() == 3);
  CHECK(upgrades[0].name == "tzdata");
  CHECK(upgrades[0].version == "2025b-0+deb12u2");
  CHECK(postured::text::rfc3339_utc(upgrades[0].at) == "2026-05-09T07:28:50Z");
  CHECK(upgrades[1].name == "libssl3");
  CHECK(upgrades[1].version == "3.0.17-1~deb12u3");
  CHECK(upgrades[2].name == "curl");
  CHECK(postured::text::rfc3339_utc(upgrades[2].at) == "2026-06-01T10:00:00Z");
}

TEST_CASE("dpkg.log: upgrade lines only", "[patch][apt]") {
  const UtcZone utc;
  const auto upgrades = parse_dpkg_log(
      "2025-06-24 14:36:25 startup archives unpack\n"
      "2025-06-24 14:36:25 upgrade libsystemd0:amd64 252.36-1~deb12u1 252.38-1~deb12u1\n"
      "2025-06-24 14:36:26 install libnew:amd64 <none> 1.0-1\n"
      "2025-06-24 14:36:27 status installed libsystemd0:amd64 252.38-1~deb12u1\n");
  REQUIRE(upgrades.size() == 1);
  CHECK(upgrades[0].name == "libsystemd0");
  CHECK(upgrades[0].version == "252.38-1~deb12u1");
  CHECK(postured::text::rfc3339_utc(upgrades[0].at) == "2025-06-24T14:36:25Z");
  CHECK(!parse_local_time("2025-06-24", "25:00:00"));
}

TEST_CASE("last security update: the latest logged upgrade to a version a security suite carries", "[patch][apt]") {
  const UtcZone utc;
  FixtureRoot root;
  root.write("/var/lib/dpkg/status", kStatus)
      .write(kSecurityList, kPackages)
      // tzdata's upgrade is to the security version; curl's later one is not (a point release).
      .write("/var/log/apt/history.log",
             "Start-Date: 2026-05-09  07:28:46\nUpgrade: tzdata:amd64 (2025b-0+deb12u1, 2025b-0+deb12u2)\n"
             "End-Date: 2026-05-09  07:28:50\n\n"
             "Start-Date: 2026-06-01  10:00:00\nUpgrade: curl:amd64 (7.88.1-10+deb12u12, 7.88.1-10+deb12u14)\n"
             "End-Date: 2026-06-01  10:00:05\n")
      // An older rotated log holds an earlier security upgrade; dpkg.log one done without apt, later.
      .write("/var/log/apt/history.log.2.gz",
             gzip("Start-Date: 2025-01-01  08:00:00\nUpgrade: openssl:amd64 (3.0.1, 3.0.17-1~deb12u3)\n"
                  "End-Date: 2025-01-01  08:00:10\n"));
  auto host = root.host();
  auto index = read_security_index(*host);
  REQUIRE(index.index);
  auto last = last_security_update(*host, *index.index);
  REQUIRE(last);
  CHECK(last->name == "tzdata");
  CHECK(postured::text::rfc3339_utc(last->at) == "2026-05-09T07:28:50Z");

  root.write("/var/log/dpkg.log", "2026-07-02 09:00:00 upgrade libssl3:amd64 3.0.11-1~deb12u2 3.0.17-1~deb12u3\n");
  last = last_security_update(*host, *index.index);
  REQUIRE(last);
  CHECK(last->name == "libssl3");
  CHECK(postured::text::rfc3339_utc(last->at) == "2026-07-02T09:00:00Z");

  root.remove("/var/log");
  CHECK(!last_security_update(*host, *index.index));
}
