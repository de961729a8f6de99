// linux.time.sync_active: exactly one time synchronisation daemon keeps the clock right.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/check.hpp"
#include "core/host.hpp"
#include "core/text.hpp"

namespace postured::checks {
namespace {

enum class Daemon { timesyncd, chrony, ntp, openntpd };

struct DaemonInfo {
  Daemon daemon;
  std::string_view name;                  // what evidence calls it
  std::array<std::string_view, 2> comms;  // process command names (comm, 15 characters at most)
  std::array<std::string_view, 2> units;  // systemd units that start it; "" = unused slot
};

// The daemons we know. ntpsec/ntp and OpenNTPD both run as "ntpd"; see ntpd_is_openntpd().
constexpr std::array<DaemonInfo, 4> kDaemons{{
    {Daemon::timesyncd, "systemd-timesyncd", {"systemd-timesyn", ""}, {"systemd-timesyncd.service", ""}},
    {Daemon::chrony, "chronyd", {"chronyd", ""}, {"chrony.service", "chronyd.service"}},
    {Daemon::ntp, "ntpd", {"ntpd", ""}, {"ntp.service", "ntpsec.service"}},
    {Daemon::openntpd, "openntpd", {"ntpd", "openntpd"}, {"openntpd.service", ""}},
}};

constexpr std::size_t kMaxServersShown = 4;  // keeps the evidence one line

// Both ntpsec and OpenNTPD may run as "ntpd". Their packages conflict, so the config that is present
// names the one installed; with both present (leftover conffiles) ntpsec is the likelier.
bool ntpd_is_openntpd(const Host& host) {
  return host.exists("/etc/openntpd/ntpd.conf") && !host.exists("/etc/ntpsec/ntp.conf") &&
         !host.exists("/etc/ntp.conf");
}

bool is_running(const Host& host, const DaemonInfo& info) {
  for (const auto comm : info.comms) {
    if (comm.empty() || !host.process_running(comm)) continue;
    if (comm != "ntpd") return true;
    if ((info.daemon == Daemon::openntpd) == ntpd_is_openntpd(host)) return true;
  }
  return false;
}

// Configured time servers and where they came from, or why they could not be read.
struct ServerList {
  std::vector<std::string> servers;
  std::vector<std::string> files;
  std::string unreadable;  // "path: why" of the first file that could not be read
  bool fallback = false;   // timesyncd: only FallbackNTP= is set
};

// Reads `path`; on failure notes it in `list` and returns nullopt.
std::optional<std::string> read_into(const Host& host, const std::string& path, ServerList& list) {
  std::string why;
  auto content = host.read_file(path, &why);
  if (!content && list.unreadable.empty()) list.unreadable = path + ": " + why;
  return content;
}

// chrony, ntpd and OpenNTPD: "server|pool|peer NAME ..." lines; `comments` start a comment line.
void scan_directives(const Host& host, const std::vector<std::string>& paths, std::string_view comments,
                     std::initializer_list<std::string_view> directives, ServerList& list) {
  for (const auto& path : paths) {
    const auto content = read_into(host, path, list);
    if (!content) continue;
    bool used = false;
    for (const auto raw : text::lines(*content)) {
      const auto line = text::trim(raw);
      if (line.empty() || comments.find(line.front()) != std::string_view::npos) continue;
      const auto tokens = text::words(line);
      if (tokens.size() < 2) continue;
      for (const auto directive : directives) {
        if (text::iequals(tokens[0], directive)) {
          list.servers.emplace_back(tokens[1]);
          used = true;
        }
      }
    }
    if (used) list.files.push_back(path);
  }
}

std::vector<std::string> existing(const Host& host, std::initializer_list<const char*> paths) {
  std::vector<std::string> found;
  for (const auto* path : paths) {
    if (host.exists(path)) found.emplace_back(path);
  }
  return found;
}

void append(std::vector<std::string>& to, const std::vector<std::string>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

// systemd-timesyncd: NTP= in [Time], main file then drop-ins in lexical order. Each assignment adds
// servers and an empty one resets the list, as timesyncd does; FallbackNTP= counts only without NTP=.
void scan_timesyncd(const Host& host, ServerList& list) {
  auto paths = existing(host, {"/etc/systemd/timesyncd.conf"});
  append(paths, host.glob("/etc/systemd/timesyncd.conf.d/*.conf"));
  std::vector<std::string> ntp, fallback, ntp_files, fallback_files;
  for (const auto& path : paths) {
    const auto content = read_into(host, path, list);
    if (!content) continue;
    bool in_time = false;
    for (const auto raw : text::lines(*content)) {
      const auto line = text::trim(raw);
      if (line.empty() || line.front() == '#' || line.front() == ';') continue;
      if (line.front() == '[') {
        in_time = line == "[Time]";
        continue;
      }
      const auto eq = line.find('=');
      if (!in_time || eq == std::string_view::npos) continue;
      const auto key = text::trim(line.substr(0, eq));
      const auto value = text::trim(line.substr(eq + 1));
      auto* target = key == "NTP" ? &ntp : key == "FallbackNTP" ? &fallback : nullptr;
      if (!target) continue;
      auto& files = target == &ntp ? ntp_files : fallback_files;
      if (value.empty()) {
        target->clear();
        files.clear();
        continue;
      }
      for (const auto word : text::words(value)) target->emplace_back(word);
      if (files.empty() || files.back() != path) files.push_back(path);
    }
  }
  list.fallback = ntp.empty() && !fallback.empty();
  list.servers = list.fallback ? fallback : ntp;
  list.files = list.fallback ? fallback_files : ntp_files;
}

ServerList configured_servers(const Host& host, Daemon daemon) {
  ServerList list;
  switch (daemon) {
    case Daemon::timesyncd: scan_timesyncd(host, list); break;
    case Daemon::chrony: {
      // Debian's chrony.conf pulls in conf.d and sources.d; Red Hat keeps /etc/chrony.conf.
      auto paths = existing(host, {"/etc/chrony/chrony.conf"});
      if (paths.empty()) paths = existing(host, {"/etc/chrony.conf"});
      append(paths, host.glob("/etc/chrony/conf.d/*.conf"));
      append(paths, host.glob("/etc/chrony/sources.d/*.sources"));
      scan_directives(host, paths, "#%;!", {"server", "pool", "peer"}, list);
      break;
    }
    case Daemon::ntp: {
      auto paths = existing(host, {"/etc/ntpsec/ntp.conf"});
      if (paths.empty()) paths = existing(host, {"/etc/ntp.conf"});
      scan_directives(host, paths, "#", {"server", "pool", "peer"}, list);
      break;
    }
    case Daemon::openntpd:
      scan_directives(host, existing(host, {"/etc/openntpd/ntpd.conf"}), "#", {"server", "servers"}, list);
      break;
  }
  return list;
}

std::string join(const std::vector<std::string>& items, std::string_view separator, std::size_t limit = SIZE_MAX) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < limit; ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  if (items.size() > limit) out += " and " + std::to_string(items.size() - limit) + " more";
  return out;
}

std::string describe_servers(const Host& host, Daemon daemon) {
  const auto list = configured_servers(host, daemon);
  // The servers only inform the evidence, so an unreadable file is reported, not an error.
  if (list.servers.empty() && !list.unreadable.empty())
    return "servers unknown (could not read " + list.unreadable + ")";
  if (list.servers.empty()) return "no servers configured, using the package default";
  auto out = std::string(list.fallback ? "fallback servers " : "servers ") +
             join(list.servers, ", ", kMaxServersShown) + " (" + join(list.files, ", ") + ")";
  if (!list.unreadable.empty()) out += "; could not read " + list.unreadable;
  return out;
}

class TimeSyncCheck final : public Check {
 public:
  TimeSyncCheck()
      : Check(CheckInfo{
            "linux.time.sync_active",
            "The clock is kept in sync by one time daemon",
            Severity::medium,
            "Run exactly one time daemon: 'systemctl enable --now systemd-timesyncd' (or chrony), set the "
            "store's NTP servers in its config, and disable any second daemon.",
            {"PCI DSS 4.0 10.6.1", "PCI DSS 4.0 10.6.2", "CIS Debian 12: Ensure time synchronization is in use"}}) {}

  Outcome run(const Context& context) const override {
    const Host& host = context.host;
    std::vector<const DaemonInfo*> running;
    for (const auto& info : kDaemons) {
      if (is_running(host, info)) running.push_back(&info);
    }
    if (running.size() > 1) {
      std::vector<std::string> names;
      for (const auto* info : running) names.emplace_back(info->name);
      return Outcome::fail(join(names, " and ") + (names.size() == 2 ? " are both" : " are all") +
                           " running; they fight over the clock, keep one");
    }
    if (running.size() == 1) {
      const auto& info = *running.front();
      return Outcome::pass(std::string(info.name) + " is running; " + describe_servers(host, info.daemon));
    }
    std::vector<std::string> enabled;
    for (const auto& info : kDaemons) {
      for (const auto unit : info.units) {
        if (!unit.empty() && host.service_enabled(unit)) enabled.emplace_back(unit);
      }
    }
    if (!enabled.empty()) return Outcome::fail(join(enabled, ", ") + " is enabled but not running");
    return Outcome::fail("no time daemon (systemd-timesyncd, chronyd, ntpd, openntpd) is running or enabled");
  }
};

}  // namespace

CheckList make_time_sync_checks() {
  CheckList checks;
  checks.push_back(std::make_unique<TimeSyncCheck>());
  return checks;
}

}  // namespace postured::checks
