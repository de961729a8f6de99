#include "patch/rpmdb.hpp"

#include <sqlite3.h>

#include <memory>

#include "cache/sqlite.hpp"

namespace postured::patch {
namespace {

// rpm's header tags and types (rpmtag.h) that the inventory reads.
enum Tag : std::uint32_t {
  kName = 1000,
  kVersion = 1001,
  kRelease = 1002,
  kEpoch = 1003,
  kInstallTime = 1008,
  kArch = 1022,
  kSourceRpm = 1044,
};
constexpr std::uint32_t kTypeInt32 = 4;
constexpr std::uint32_t kTypeString = 6;

// rpm's own limits on a header (header_internal.h: HEADER_TAGS_MAX, HEADER_DATA_MAX): anything
// larger is not a header rpm wrote, so it is refused before any arithmetic on the counts.
constexpr std::uint32_t kMaxIndexEntries = 0xffff;
constexpr std::uint32_t kMaxDataBytes = 0x0fffffff;
constexpr std::size_t kPreambleBytes = 8;     // int32 index_count, int32 data_length
constexpr std::size_t kIndexEntryBytes = 16;  // int32 tag, type, offset, count

std::uint32_t big_endian32(const unsigned char* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | std::uint32_t{p[3]};
}

struct IndexEntry {
  std::uint32_t tag, type, offset, count;
};

// A header's data store, with reads that fail rather than leave it.
class DataStore {
 public:
  explicit DataStore(std::span<const unsigned char> data) : data_(data) {}

  // The NUL-terminated string at `entry`'s offset; nullopt when it is not a STRING or runs off the end.
  std::optional<std::string> string(const IndexEntry& entry) const {
    if (entry.type != kTypeString || entry.offset >= data_.size()) return std::nullopt;
    const auto rest = data_.subspan(entry.offset);
    for (std::size_t i = 0; i < rest.size(); ++i) {
      if (rest[i] == 0) return std::string(reinterpret_cast<const char*>(rest.data()), i);
    }
    return std::nullopt;
  }
  // The first of `entry`'s INT32 values; nullopt when it is not INT32 or does not fit.
  std::optional<std::uint32_t> int32(const IndexEntry& entry) const {
    if (entry.type != kTypeInt32 || entry.count == 0) return std::nullopt;
    if (std::uint64_t{entry.offset} + 4 > data_.size()) return std::nullopt;
    return big_endian32(data_.data() + entry.offset);
  }

 private:
  std::span<const unsigned char> data_;
};

std::string tag_problem(std::uint32_t tag, const char* what) {
  return "tag " + std::to_string(tag) + ": " + what;
}

// Stores one entry's value in `header` when it is a tag we read; an error when such a tag is malformed.
std::string read_tag(const IndexEntry& entry, const DataStore& data, RpmHeader& header) {
  std::string* text = nullptr;
  switch (entry.tag) {
    case kName: text = &header.name; break;
    case kVersion: text = &header.version; break;
    case kRelease: text = &header.release; break;
    case kArch: text = &header.arch; break;
    case kSourceRpm: text = &header.source_rpm; break;
    case kEpoch:
    case kInstallTime: {
      const auto value = data.int32(entry);
      if (!value) return tag_problem(entry.tag, "not an INT32 inside the data store");
      (entry.tag == kEpoch ? header.epoch : header.install_time) = *value;
      return {};
    }
    default: return {};
  }
  auto value = data.string(entry);
  if (!value) return tag_problem(entry.tag, "not a NUL-terminated STRING inside the data store");
  *text = std::move(*value);
  return {};
}

RpmHeaderParse invalid(std::string why) {
  return {std::nullopt, std::move(why)};
}

// The SRPM file name "name-version-release.src.rpm" split into the source name and "version-release".
std::optional<std::pair<std::string, std::string>> split_source_rpm(std::string_view srpm) {
  for (const std::string_view suffix : {".src.rpm", ".nosrc.rpm"}) {
    if (srpm.ends_with(suffix)) {
      srpm.remove_suffix(suffix.size());
      const auto release_dash = srpm.rfind('-');
      if (release_dash == std::string_view::npos || release_dash == 0) return std::nullopt;
      const auto version_dash = srpm.rfind('-', release_dash - 1);
      if (version_dash == std::string_view::npos || version_dash == 0) return std::nullopt;
      return std::pair{std::string(srpm.substr(0, version_dash)), std::string(srpm.substr(version_dash + 1))};
    }
  }
  return std::nullopt;
}

// rpm's gpg-pubkey entries are imported signing keys, not software: the inventory leaves them out.
constexpr std::string_view kPubkeyPseudoPackage = "gpg-pubkey";

// A statement over an open connection, finalized on every path.
using Statement = std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>;
using Connection = std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)>;

std::string database_error(sqlite3* db, const char* doing) {
  return std::string(doing) + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
}

// Reads every header of the Packages table in hnum order, parsing each on its own.
RpmdbRead read_packages(sqlite3* db) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT hnum, blob FROM Packages ORDER BY hnum", -1, &raw, nullptr) != SQLITE_OK) {
    return {std::nullopt, {}, database_error(db, "cannot read the Packages table")};
  }
  const Statement statement(raw, sqlite3_finalize);
  RpmdbRead read{std::vector<InstalledPackage>{}, {}, {}};
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    const auto hnum = sqlite3_column_int64(raw, 0);
    const auto* bytes = static_cast<const unsigned char*>(sqlite3_column_blob(raw, 1));
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(raw, 1));
    const auto parsed = parse_rpm_header({bytes, bytes ? size : 0});
    if (!parsed.header) {
      read.skipped.push_back("rpmdb header " + std::to_string(hnum) + " skipped: " + parsed.error);
    } else if (parsed.header->name != kPubkeyPseudoPackage) {
      read.packages->push_back(to_installed_package(*parsed.header));
    }
  }
  if (rc != SQLITE_DONE) return {std::nullopt, {}, database_error(db, "cannot read the Packages table")};
  return read;
}

// The SQLite file header's write and read versions are 2 in WAL mode (rpm's default); an in-memory
// image cannot be opened in WAL mode, and as a snapshot it needs no journal, so it is read as legacy.
void make_legacy_journal(std::string& image) {
  constexpr std::size_t kWriteVersion = 18, kReadVersion = 19;
  if (image.size() > kReadVersion && image[kWriteVersion] == 2 && image[kReadVersion] == 2) {
    image[kWriteVersion] = image[kReadVersion] = 1;
  }
}

}  // namespace

RpmHeaderParse parse_rpm_header(std::span<const unsigned char> blob) {
  if (blob.size() < kPreambleBytes)
    return invalid("truncated: " + std::to_string(blob.size()) + " bytes, no header preamble");
  const auto index_count = big_endian32(blob.data());
  const auto data_length = big_endian32(blob.data() + 4);
  if (index_count == 0 || index_count > kMaxIndexEntries)
    return invalid("bad index count " + std::to_string(index_count));
  if (data_length > kMaxDataBytes) return invalid("bad data length " + std::to_string(data_length));
  // Both are bounded above, so this cannot overflow; rpm also insists that the blob is exactly this.
  const std::uint64_t expected = kPreambleBytes + std::uint64_t{index_count} * kIndexEntryBytes + data_length;
  if (blob.size() != expected) {
    return invalid("size " + std::to_string(blob.size()) + " bytes, but the index and data need " +
                   std::to_string(expected));
  }
  const auto index = blob.subspan(kPreambleBytes, std::size_t{index_count} * kIndexEntryBytes);
  const DataStore data(blob.subspan(kPreambleBytes + index.size()));

  RpmHeader header;
  for (std::size_t i = 0; i < index_count; ++i) {
    const auto* e = index.data() + i * kIndexEntryBytes;
    const IndexEntry entry{big_endian32(e), big_endian32(e + 4), big_endian32(e + 8), big_endian32(e + 12)};
    // Later entries win: rpm appends tags added at install time after the signed region.
    if (auto problem = read_tag(entry, data, header); !problem.empty()) return invalid(std::move(problem));
  }
  if (header.name.empty() || header.version.empty() || header.release.empty()) {
    return invalid("no NAME, VERSION or RELEASE");
  }
  return {std::move(header), {}};
}

InstalledPackage to_installed_package(const RpmHeader& header) {
  // rpm prints an absent epoch as none and compares it as 0; "0:" would only add noise to the report.
  const auto epoch = header.epoch ? std::to_string(*header.epoch) + ":" : std::string();
  InstalledPackage package;
  package.name = header.name;
  package.version = epoch + header.version + "-" + header.release;
  package.arch = header.arch;
  package.source = header.name;
  package.source_version = package.version;
  // As on dpkg, `source` is the source package's name. The SRPM's file name has no epoch; the
  // subpackages of one spec share it, so the binary's epoch is the source's.
  if (auto source = split_source_rpm(header.source_rpm)) {
    package.source = std::move(source->first);
    package.source_version = epoch + source->second;
  }
  return package;
}

RpmdbRead read_rpmdb_sqlite(const std::filesystem::path& file) {
  // immutable=1: no locks, no -shm or -wal created or read, so a running rpm never waits on us.
  const auto uri = file_uri(file, "ro") + "&immutable=1";
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(uri.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
  const Connection db(raw, sqlite3_close_v2);
  if (rc != SQLITE_OK) return {std::nullopt, {}, database_error(raw, "cannot open")};
  return read_packages(raw);
}

RpmdbRead read_rpmdb_sqlite_image(std::string image) {
  make_legacy_journal(image);
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  const Connection db(raw, sqlite3_close_v2);
  if (rc != SQLITE_OK) return {std::nullopt, {}, database_error(raw, "cannot open")};
  // READONLY: SQLite reads `image` in place (no copy) and never writes or grows it.
  const auto size = static_cast<sqlite3_int64>(image.size());
  if (sqlite3_deserialize(raw, "main", reinterpret_cast<unsigned char*>(image.data()), size, size,
                          SQLITE_DESERIALIZE_READONLY) != SQLITE_OK) {
    return {std::nullopt, {}, database_error(raw, "cannot load")};
  }
  return read_packages(raw);
}

}  // namespace postured::patch
