// What apt knows about security updates: the versions its security suites carry (from
// /var/lib/apt/lists) and when the device last installed one (from apt's and dpkg's logs).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "patch/inventory.hpp"

namespace postured {
class Host;
}

namespace postured::patch {

// The binary packages that apt's security suites offer, by package name.
struct SecurityIndex {
  struct Offer {
    std::string arch;
    std::string version;
  };
  std::unordered_map<std::string, std::vector<Offer>> offers;
  std::vector<std::string> lists;  // the list files read, as device paths

  // True when a security suite offers `name` at exactly `version` (dpkg-equal).
  bool offers_version(std::string_view name, std::string_view version) const;
};

struct SecurityIndexRead {
  std::optional<SecurityIndex> index;  // nullopt: no security list at all, or one that cannot be read
  std::string note;                    // why there is no index
  bool unreadable = false;             // a security list exists but could not be read: an error, not a fact
};

// True for a list file of a security suite: "<host>_<path>_dists_<suite>_..._Packages[.gz|.lz4|...]"
// whose suite ends in "-security" (Debian's bookworm-security, Ubuntu's jammy-security).
bool is_security_packages_list(std::string_view file_name);

// Adds the paragraphs (Package, Version, Architecture) of a Packages file to `index`.
void add_packages_list(std::string_view packages, SecurityIndex& index);

// Reads every security suite's Packages list in /var/lib/apt/lists. When one exists but cannot be
// read (".xz", corrupt), the index is unknown rather than partial: a count from part of the lists
// would claim fewer pending updates than there are.
SecurityIndexRead read_security_index(const Host& host);

// An installed package that a security suite offers in a newer version.
struct PendingUpdate {
  std::string name;
  std::string arch;
  std::string installed;
  std::string available;
};

// Installed packages whose security suite version is newer (dpkg ordering), in inventory order.
std::vector<PendingUpdate> pending_security_updates(const Inventory& inventory, const SecurityIndex& index);

// One package upgrade that a log recorded.
struct LoggedUpgrade {
  std::chrono::system_clock::time_point at;
  std::string name;  // without ":arch"
  std::string version;  // the new version
};

// Upgrades in apt's history.log format: each entry's "Upgrade:" packages, at the entry's End-Date
// (its Start-Date when the entry was cut off). Times are local time, as apt writes them.
std::vector<LoggedUpgrade> parse_apt_history(std::string_view log);
// Upgrades in dpkg.log format: "<date> <time> upgrade <package>:<arch> <old> <new>".
std::vector<LoggedUpgrade> parse_dpkg_log(std::string_view log);

// "YYYY-MM-DD HH:MM:SS" (any blanks between) in the local time zone; nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> parse_local_time(std::string_view date, std::string_view time);

// The latest logged upgrade, in /var/log/apt/history.log* and /var/log/dpkg.log* (plain or .gz),
// to a version that a security suite of `index` offers now. nullopt when none is logged.
std::optional<LoggedUpgrade> last_security_update(const Host& host, const SecurityIndex& index);

}  // namespace postured::patch
