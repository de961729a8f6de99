#include "patch/apt_security.hpp"

#include <charconv>
#include <ctime>

#include "core/host.hpp"
#include "core/text.hpp"
#include "patch/decompress.hpp"
#include "patch/dpkg_version.hpp"

namespace postured::patch {
namespace {

constexpr const char* kAptLists = "/var/lib/apt/lists";
// Current and rotated logs (logrotate keeps .1 plain and compresses the older ones).
constexpr const char* kAptHistoryLogs = "/var/log/apt/history.log*";
constexpr const char* kDpkgLogs = "/var/log/dpkg.log*";

// Reads `path` and undoes its compression; nullopt with `why` when either fails.
std::optional<std::string> read_uncompressed(const Host& host, const std::string& path, std::string& why) {
  auto raw = host.read_file(path, &why);
  if (!raw) return std::nullopt;
  auto data = decompress_for(path, std::move(*raw));
  if (!data) why = "compressed in a format that cannot be read here, or corrupt";
  return data;
}

// "libssl3:amd64" → "libssl3".
std::string_view without_arch(std::string_view package) {
  return package.substr(0, package.find(':'));
}

// The upgrades of one history "Upgrade:" value: "a:amd64 (1.0-1, 1.0-2), b:all (2, 3)".
void add_upgrades(std::string_view value, std::chrono::system_clock::time_point at, std::vector<LoggedUpgrade>& out) {
  while (!value.empty()) {
    const auto open = value.find(" (");
    const auto close = value.find(')', open);
    if (open == std::string_view::npos || close == std::string_view::npos) return;
    const auto name = without_arch(text::trim(value.substr(0, open)));
    const auto versions = value.substr(open + 2, close - open - 2);
    const auto comma = versions.find(',');
    if (comma != std::string_view::npos) {
      out.push_back({at, std::string(name), std::string(text::trim(versions.substr(comma + 1)))});
    }
    value.remove_prefix(close + 1);
    value = text::trim(value);
    if (value.starts_with(',')) value.remove_prefix(1);
  }
}

int number(std::string_view digits) {
  int value = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return ec == std::errc{} && end == digits.data() + digits.size() ? value : -1;
}

}  // namespace

bool SecurityIndex::offers_version(std::string_view name, std::string_view version) const {
  const auto found = offers.find(std::string(name));
  if (found == offers.end()) return false;
  for (const auto& offer : found->second) {
    if (compare_dpkg_versions(offer.version, version) == 0) return true;
  }
  return false;
}

bool is_security_packages_list(std::string_view file_name) {
  const auto packages = file_name.rfind("_Packages");
  if (packages == std::string_view::npos) return false;
  const auto rest = file_name.substr(packages + 9);
  if (!rest.empty() && (rest.front() != '.' || rest.find('_') != std::string_view::npos)) return false;
  const auto dists = file_name.find("_dists_");
  if (dists == std::string_view::npos) return false;
  const auto suite_start = dists + 7;
  const auto suite = file_name.substr(suite_start, file_name.find('_', suite_start) - suite_start);
  return suite.ends_with("-security");
}

void add_packages_list(std::string_view packages, SecurityIndex& index) {
  std::string_view name, version, arch;
  const auto flush = [&] {
    if (!name.empty() && !version.empty()) index.offers[std::string(name)].push_back({std::string(arch), std::string(version)});
    name = version = arch = {};
  };
  for (const auto line : text::lines(packages)) {
    if (text::trim(line).empty()) {
      flush();
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto key = line.substr(0, colon);
    const auto value = text::trim(line.substr(colon + 1));
    if (key == "Package") name = value;
    else if (key == "Version") version = value;
    else if (key == "Architecture") arch = value;
  }
  flush();
}

SecurityIndexRead read_security_index(const Host& host) {
  SecurityIndex index;
  for (const auto& name : host.list_dir(kAptLists)) {
    if (!is_security_packages_list(name)) continue;
    const auto path = std::string(kAptLists) + "/" + name;
    std::string why;
    const auto list = read_uncompressed(host, path, why);
    if (!list) return {std::nullopt, "cannot read " + path + ": " + why, true};
    add_packages_list(*list, index);
    index.lists.push_back(path);
  }
  if (index.lists.empty()) return {std::nullopt, std::string("no security suite lists in ") + kAptLists, false};
  return {std::move(index), {}, false};
}

std::vector<PendingUpdate> pending_security_updates(const Inventory& inventory, const SecurityIndex& index) {
  std::vector<PendingUpdate> pending;
  for (const auto& package : inventory.packages) {
    const auto found = index.offers.find(package.name);
    if (found == index.offers.end()) continue;
    const std::string* newest = nullptr;
    for (const auto& offer : found->second) {
      // An arch-specific package is offered in its own architecture's list; "all" fits every one.
      if (offer.arch != package.arch && offer.arch != "all" && package.arch != "all") continue;
      if (!newest || compare_dpkg_versions(offer.version, *newest) > 0) newest = &offer.version;
    }
    if (newest && compare_dpkg_versions(*newest, package.version) > 0) {
      pending.push_back({package.name, package.arch, package.version, *newest});
    }
  }
  return pending;
}

std::optional<std::chrono::system_clock::time_point> parse_local_time(std::string_view date, std::string_view time) {
  date = text::trim(date);
  time = text::trim(time);
  if (date.size() != 10 || date[4] != '-' || date[7] != '-' || time.size() != 8 || time[2] != ':' || time[5] != ':')
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = number(date.substr(0, 4)) - 1900;
  tm.tm_mon = number(date.substr(5, 2)) - 1;
  tm.tm_mday = number(date.substr(8, 2));
  tm.tm_hour = number(time.substr(0, 2));
  tm.tm_min = number(time.substr(3, 2));
  tm.tm_sec = number(time.substr(6, 2));
  if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 ||
      tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
    return std::nullopt;
  tm.tm_isdst = -1;  // let the zone rules decide, as the logs carry no offset
  const auto seconds = std::mktime(&tm);
  if (seconds == -1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(seconds);
}

std::vector<LoggedUpgrade> parse_apt_history(std::string_view log) {
  std::vector<LoggedUpgrade> upgrades;
  std::optional<std::chrono::system_clock::time_point> start, end;
  std::vector<std::string_view> upgrade_values;
  const auto flush = [&] {
    const auto at = end ? end : start;
    if (at) {
      for (const auto value : upgrade_values) add_upgrades(value, *at, upgrades);
    }
    start = end = std::nullopt;
    upgrade_values.clear();
  };
  const auto when = [](std::string_view value) {
    const auto words = text::words(value);
    return words.size() == 2 ? parse_local_time(words[0], words[1]) : std::nullopt;
  };
  for (const auto line : text::lines(log)) {
    const auto colon = line.find(": ");
    const auto key = line.substr(0, colon);
    const auto value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 2);
    if (key == "Start-Date") {
      flush();  // an entry cut off by a crash has no End-Date or blank line
      start = when(value);
    } else if (key == "End-Date") {
      end = when(value);
    } else if (key == "Upgrade") {
      upgrade_values.push_back(value);
    }
  }
  flush();
  return upgrades;
}

std::vector<LoggedUpgrade> parse_dpkg_log(std::string_view log) {
  std::vector<LoggedUpgrade> upgrades;
  for (const auto line : text::lines(log)) {
    const auto words = text::words(line);
    if (words.size() != 6 || words[2] != "upgrade") continue;
    const auto at = parse_local_time(words[0], words[1]);
    if (at) upgrades.push_back({*at, std::string(without_arch(words[3])), std::string(words[5])});
  }
  return upgrades;
}

std::optional<LoggedUpgrade> last_security_update(const Host& host, const SecurityIndex& index) {
  std::optional<LoggedUpgrade> latest;
  const auto consider = [&](const std::vector<LoggedUpgrade>& upgrades) {
    for (const auto& upgrade : upgrades) {
      if ((!latest || upgrade.at > latest->at) && index.offers_version(upgrade.name, upgrade.version)) latest = upgrade;
    }
  };
  std::string why;
  for (const auto& path : host.glob(kAptHistoryLogs)) {
    if (const auto log = read_uncompressed(host, path, why)) consider(parse_apt_history(*log));
  }
  for (const auto& path : host.glob(kDpkgLogs)) {
    if (const auto log = read_uncompressed(host, path, why)) consider(parse_dpkg_log(*log));
  }
  return latest;
}

}  // namespace postured::patch
