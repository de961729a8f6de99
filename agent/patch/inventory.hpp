// The installed packages of a device, read through Host so that fixture roots and mounted images work.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postured {
class Host;
}

namespace postured::patch {

// Which package manager owns the device; it decides how versions order.
enum class PackageFormat { dpkg, rpm };

std::string_view to_string(PackageFormat format);

struct InstalledPackage {
  std::string name;
  std::string version;
  std::string arch;
  std::string source;          // source package; the package's own name when the database names none
  std::string source_version;  // the source's version; the package's version when the database names none
};

struct Inventory {
  PackageFormat format = PackageFormat::dpkg;
  std::vector<InstalledPackage> packages;  // in database order
};

struct InventoryRead {
  std::optional<Inventory> inventory;  // set when the database was read
  std::string error;                   // why not, otherwise
  std::vector<std::string> skipped;    // entries of a read database that were left out, and why
};

// Where dpkg keeps its database, as seen on the device.
inline constexpr const char* kDpkgStatusPath = "/var/lib/dpkg/status";

// The packages of a dpkg status file that are installed: status "<want> ok installed" (held and
// to-be-removed packages are still installed; half-installed, unpacked or config-files ones are not).
std::vector<InstalledPackage> parse_dpkg_status(std::string_view status);

// The device's package inventory: dpkg's status file, else rpm's sqlite database (a malformed header
// is skipped and listed in `skipped`), or an error naming what was found and why it could not be read
// (rpm's Berkeley DB and ndb backends are recognised but not read).
InventoryRead read_inventory(const Host& host);

// Orders two versions the way `format`'s package manager does: <0, 0, >0.
int compare_versions(PackageFormat format, std::string_view a, std::string_view b);

}  // namespace postured::patch
