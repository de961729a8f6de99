// rpm's package database: the sqlite backend (rpm >= 4.16) and the header blobs it stores.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "patch/inventory.hpp"

namespace postured::patch {

// The tags of one installed package's header that the inventory uses.
struct RpmHeader {
  std::string name;
  std::optional<std::uint32_t> epoch;  // EPOCH; absent means 0 when versions compare
  std::string version;
  std::string release;
  std::string arch;                           // empty when the header has no ARCH (gpg-pubkey)
  std::string source_rpm;                     // SOURCERPM, "openssl-3.0.7-27.el9.src.rpm"; may be empty
  std::optional<std::uint32_t> install_time;  // INSTALLTIME, seconds since the epoch
};

struct RpmHeaderParse {
  std::optional<RpmHeader> header;  // set when the blob is a valid header with NAME, VERSION and RELEASE
  std::string error;                // why not, otherwise
};

// Parses an rpm header blob as rpmdb stores it (no magic: index count, data length, index, data).
// The blob is untrusted: every count and offset is checked against its size, nothing reads past it.
RpmHeaderParse parse_rpm_header(std::span<const unsigned char> blob);

// The header as an installed package: version "[epoch:]version-release" (compare_rpm_versions'
// form), source and source version from SOURCERPM.
InstalledPackage to_installed_package(const RpmHeader& header);

struct RpmdbRead {
  std::optional<std::vector<InstalledPackage>> packages;  // set when the database was read, in hnum order
  std::vector<std::string> skipped;                       // one line per header that could not be parsed
  std::string error;                                      // why the database could not be read
};

// Reads the Packages table of an rpmdb.sqlite file, read-only and immutable (no locks, no journal,
// nothing written next to it) so that a running rpm is never disturbed. gpg-pubkey entries are skipped.
RpmdbRead read_rpmdb_sqlite(const std::filesystem::path& file);

// The same, from the file's bytes (as Host::read_file returns them).
RpmdbRead read_rpmdb_sqlite_image(std::string image);

}  // namespace postured::patch
