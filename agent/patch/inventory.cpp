#include "patch/inventory.hpp"

#include "core/host.hpp"
#include "core/text.hpp"
#include "patch/dpkg_version.hpp"
#include "patch/rpm_version.hpp"
#include "patch/rpmdb.hpp"

namespace postured::patch {
namespace {

// Where rpm keeps its database: the sqlite backend (rpm >= 4.16: RHEL 9, Fedora 33+, openSUSE since
// 2022) in the old and the /usr/lib/sysimage locations, which we read; then Berkeley DB (RHEL 7/8)
// and SUSE's ndb, which we recognise so that the error says what was found rather than "no database".
struct RpmDatabase {
  const char* path;
  const char* unsupported;  // why it is not read; null for the sqlite backend
};
constexpr RpmDatabase kRpmDatabases[] = {
    {"/var/lib/rpm/rpmdb.sqlite", nullptr},
    {"/usr/lib/sysimage/rpm/rpmdb.sqlite", nullptr},
    {"/var/lib/rpm/Packages", "the Berkeley DB backend (rpm < 4.16)"},
    {"/usr/lib/sysimage/rpm/Packages.db", "SUSE's ndb backend"},
    {"/var/lib/rpm/Packages.db", "SUSE's ndb backend"},
};

// "Status: install ok installed": the third word is the state, the second dpkg's error flag.
bool installed(std::string_view status) {
  const auto words = text::words(status);
  return words.size() == 3 && words[1] == "ok" && words[2] == "installed";
}

struct Paragraph {
  std::string_view name, status, version, arch, source;
};

void add_if_installed(const Paragraph& p, std::vector<InstalledPackage>& out) {
  if (p.name.empty() || p.version.empty() || !installed(p.status)) return;
  InstalledPackage package{std::string(p.name), std::string(p.version), std::string(p.arch), std::string(p.name),
                           std::string(p.version)};
  // "Source: openssl" or, when the binary's version differs (a binNMU), "Source: openssl (3.0.15-1)".
  if (!p.source.empty()) {
    const auto paren = p.source.find('(');
    package.source = std::string(text::trim(p.source.substr(0, paren)));
    if (paren != std::string_view::npos) {
      const auto close = p.source.find(')', paren);
      package.source_version = std::string(text::trim(p.source.substr(paren + 1, close - paren - 1)));
    }
  }
  out.push_back(std::move(package));
}

// rpm's database is opened in place, read-only and immutable (rpm's file is never locked or
// written), when the host's files are local; otherwise it is read from a snapshot in memory, which
// Host::read_file caps in size.
InventoryRead read_rpm_inventory(const Host& host, const char* path) {
  RpmdbRead read;
  if (const auto local = host.local_path(path)) {
    read = read_rpmdb_sqlite(*local);
  } else {
    std::string why;
    auto image = host.read_file(path, &why);
    if (!image) return {std::nullopt, std::string("cannot read ") + path + ": " + why, {}};
    read = read_rpmdb_sqlite_image(std::move(*image));
  }
  if (!read.packages) return {std::nullopt, std::string("cannot read ") + path + ": " + read.error, {}};
  return {Inventory{PackageFormat::rpm, std::move(*read.packages)}, {}, std::move(read.skipped)};
}

}  // namespace

std::string_view to_string(PackageFormat format) {
  return format == PackageFormat::dpkg ? "dpkg" : "rpm";
}

std::vector<InstalledPackage> parse_dpkg_status(std::string_view status) {
  std::vector<InstalledPackage> packages;
  Paragraph paragraph;
  while (!status.empty()) {
    const auto eol = status.find('\n');
    auto line = status.substr(0, eol);
    status.remove_prefix(eol == std::string_view::npos ? status.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      add_if_installed(paragraph, packages);
      paragraph = {};
      continue;
    }
    // Continuation lines (Description, Conffiles) start with a space or tab; none of ours continue.
    if (line.front() == ' ' || line.front() == '\t') continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto key = line.substr(0, colon);
    const auto value = text::trim(line.substr(colon + 1));
    if (key == "Package") paragraph.name = value;
    else if (key == "Status") paragraph.status = value;
    else if (key == "Version") paragraph.version = value;
    else if (key == "Architecture") paragraph.arch = value;
    else if (key == "Source") paragraph.source = value;
  }
  add_if_installed(paragraph, packages);
  return packages;
}

InventoryRead read_inventory(const Host& host) {
  if (host.exists(kDpkgStatusPath)) {
    std::string why;
    const auto status = host.read_file(kDpkgStatusPath, &why);
    if (!status) return {std::nullopt, std::string("cannot read ") + kDpkgStatusPath + ": " + why, {}};
    return {Inventory{PackageFormat::dpkg, parse_dpkg_status(*status)}, {}, {}};
  }
  for (const auto& database : kRpmDatabases) {
    if (!host.exists(database.path)) continue;
    if (database.unsupported) {
      return {std::nullopt,
              std::string("rpm database ") + database.path + " uses " + database.unsupported +
                  ", which is not read; only rpmdb.sqlite (rpm >= 4.16) is",
              {}};
    }
    return read_rpm_inventory(host, database.path);
  }
  return {std::nullopt, std::string("no package database found (") + kDpkgStatusPath + ", /var/lib/rpm)", {}};
}

int compare_versions(PackageFormat format, std::string_view a, std::string_view b) {
  return format == PackageFormat::dpkg ? compare_dpkg_versions(a, b) : compare_rpm_versions(a, b);
}

}  // namespace postured::patch
