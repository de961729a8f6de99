// linux.updates.automatic_security: security updates install themselves (unattended-upgrades or dnf-automatic).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "auto_updates/apt_config.hpp"
#include "core/check.hpp"
#include "core/host.hpp"
#include "core/text.hpp"

namespace postured::checks {
namespace {

constexpr const char* kDpkgStatus = "/var/lib/dpkg/status";
constexpr const char* kUnattendedBinary = "/usr/bin/unattended-upgrade";
constexpr const char* kUnattendedConfig = "/etc/apt/apt.conf.d/50unattended-upgrades";
constexpr const char* kAptTimer = "apt-daily-upgrade.timer";
constexpr const char* kDnfAutomaticConfig = "/etc/dnf/automatic.conf";
// Where systemd looks for unit files that packages ship; a unit found here is installed.
constexpr const char* kUnitDirs[] = {"/usr/lib/systemd/system", "/lib/systemd/system"};

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// True if dpkg's status file says `package` is installed. The file runs to megabytes, so it is
// searched in place, stanza by stanza, without splitting it into lines.
bool dpkg_installed(std::string_view status, std::string_view package) {
  const std::string needle = "Package: " + std::string(package) + "\n";
  for (std::size_t at = status.find(needle); at != std::string_view::npos; at = status.find(needle, at + 1)) {
    if (at != 0 && status[at - 1] != '\n') continue;
    auto stanza = status.substr(at);
    stanza = stanza.substr(0, stanza.find("\n\n"));
    const auto field = stanza.find("\nStatus: ");
    if (field == std::string_view::npos) continue;
    auto value = stanza.substr(field + 9);
    value = value.substr(0, value.find('\n'));
    const auto words = text::words(value);  // want ok installed, e.g. "install ok installed", "hold ok installed"
    if (words.size() == 3 && words[1] == "ok" && words[2] == "installed") return true;
  }
  return false;
}

// An APT::Periodic interval that runs the job: "always", or a positive count of days
// (apt.systemd.daily also takes an s, m, h or d suffix).
bool periodic_enabled(std::string_view value) {
  if (value == "always") return true;
  if (!value.empty() && std::string_view("smhd").find(value.back()) != std::string_view::npos) value.remove_suffix(1);
  if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  return value.find_first_not_of('0') != std::string_view::npos;
}

// systemd treats a unit file that is a link to /dev/null, or is empty, as masked.
bool unit_masked(const Host& host, const std::string& unit) {
  const auto path = "/etc/systemd/system/" + unit;
  if (!host.exists(path)) return false;
  const auto content = host.read_file(path);
  return !content || content->empty();
}

bool unit_installed(const Host& host, const std::string& unit) {
  return std::any_of(std::begin(kUnitDirs), std::end(kUnitDirs),
                     [&](const char* dir) { return host.exists(std::string(dir) + "/" + unit); });
}

Outcome check_apt(const Host& host) {
  if (!host.exists(kUnattendedBinary)) {
    bool installed = false;
    if (host.exists(kDpkgStatus)) {
      std::string why;
      const auto status = host.read_file(kDpkgStatus, &why);
      if (!status) return Outcome::error(std::string("cannot read ") + kDpkgStatus + ": " + why);
      installed = dpkg_installed(*status, "unattended-upgrades");
    }
    if (!installed) return Outcome::fail("unattended-upgrades is not installed");
  }

  const auto config = read_apt_config(host);
  if (!config.error.empty()) return Outcome::error("cannot read the APT configuration: " + config.error);

  std::vector<std::string> problems;
  if (const auto* enable = config.find("APT::Periodic::Enable"); enable && enable->value == "0") {
    problems.push_back("APT::Periodic::Enable \"0\" (" + enable->origin + ") turns all periodic jobs off");
  }
  std::string schedule;
  for (const char* key : {"APT::Periodic::Update-Package-Lists", "APT::Periodic::Unattended-Upgrade"}) {
    const auto* setting = config.find(key);
    // apt treats an empty value as unset.
    if (!setting || setting->value.empty()) {
      problems.push_back(std::string(key) + " is not set");
    } else if (!periodic_enabled(setting->value)) {
      problems.push_back(std::string(key) + " \"" + setting->value + "\" (" + setting->origin + ")");
    } else if (std::string_view(key).ends_with("Unattended-Upgrade")) {
      schedule = "APT::Periodic::Unattended-Upgrade \"" + setting->value + "\" (" + setting->origin + ")";
    }
  }

  std::string security_origin;
  if (!host.exists(kUnattendedConfig)) {
    problems.push_back(std::string(kUnattendedConfig) + " is missing");
  } else {
    for (const char* key : {"Unattended-Upgrade::Origins-Pattern", "Unattended-Upgrade::Allowed-Origins"}) {
      for (const auto& entry : config.list(key)) {
        if (security_origin.empty() && text::lower(entry.value).find("security") != std::string::npos) {
          security_origin = entry.origin;
        }
      }
    }
    if (security_origin.empty()) {
      problems.emplace_back("no security origin in Unattended-Upgrade::Origins-Pattern or Allowed-Origins");
    }
  }

  if (unit_masked(host, kAptTimer)) {
    problems.push_back(std::string(kAptTimer) + " is masked");
  } else if (unit_installed(host, kAptTimer) && !host.service_enabled(kAptTimer)) {
    problems.push_back(std::string(kAptTimer) + " is not enabled");
  }

  if (!problems.empty()) return Outcome::fail(join(problems, "; "));
  return Outcome::pass("unattended-upgrades runs with " + schedule + ", security origin at " + security_origin);
}

// The [commands] settings of dnf-automatic's automatic.conf.
struct DnfAutomaticSettings {
  std::string apply_updates;
  std::string upgrade_type;
};

DnfAutomaticSettings parse_dnf_automatic(std::string_view content) {
  DnfAutomaticSettings settings;
  bool in_commands = false;
  for (const auto raw : text::lines(content)) {
    const auto line = text::trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      in_commands = line == "[commands]";
      continue;
    }
    const auto eq = line.find('=');
    if (!in_commands || eq == std::string_view::npos) continue;
    const auto key = text::lower(text::trim(line.substr(0, eq)));
    const auto value = text::lower(text::trim(line.substr(eq + 1)));
    if (key == "apply_updates") settings.apply_updates = value;
    if (key == "upgrade_type") settings.upgrade_type = value;
  }
  return settings;
}

bool dnf_true(std::string_view value) {
  return value == "yes" || value == "true" || value == "1" || value == "on";
}

Outcome check_dnf(const Host& host) {
  if (!host.exists(kDnfAutomaticConfig)) {
    return Outcome::fail(std::string("dnf-automatic is not installed (no ") + kDnfAutomaticConfig + ")");
  }
  std::string why;
  const auto content = host.read_file(kDnfAutomaticConfig, &why);
  if (!content) return Outcome::error(std::string("cannot read ") + kDnfAutomaticConfig + ": " + why);
  const auto settings = parse_dnf_automatic(*content);

  std::vector<std::string> problems;
  const auto& type = settings.upgrade_type;
  if (!type.empty() && type != "default" && type != "security") {
    problems.push_back("upgrade_type = " + type + " in " + kDnfAutomaticConfig + " (want security or default)");
  }
  // dnf-automatic-install.timer runs with --installupdates, which applies whatever apply_updates says.
  std::string how;
  if (host.service_enabled("dnf-automatic-install.timer")) {
    how = "dnf-automatic-install.timer";
  } else if (host.service_enabled("dnf-automatic.timer")) {
    if (dnf_true(settings.apply_updates)) {
      how = "dnf-automatic.timer with apply_updates = yes";
    } else {
      problems.push_back(std::string("dnf-automatic.timer only downloads: apply_updates is not yes in ") +
                         kDnfAutomaticConfig);
    }
  } else {
    problems.emplace_back("neither dnf-automatic.timer nor dnf-automatic-install.timer is enabled");
  }
  if (!problems.empty()) return Outcome::fail(join(problems, "; "));
  return Outcome::pass("dnf-automatic installs " + (type.empty() ? std::string("default") : type) + " updates via " +
                       how);
}

class AutomaticSecurityUpdatesCheck final : public Check {
 public:
  AutomaticSecurityUpdatesCheck()
      : Check(
            CheckInfo{"linux.updates.automatic_security",
                      "Security updates install automatically",
                      Severity::high,
                      "Debian: 'apt-get install unattended-upgrades' then 'dpkg-reconfigure -plow unattended-upgrades' "
                      "(writes 20auto-upgrades); keep the Debian-Security origin in 50unattended-upgrades. "
                      "dnf: install dnf-automatic and 'systemctl enable --now dnf-automatic-install.timer'.",
                      {"PCI DSS 4.0 6.3.3",
                       "CIS Debian 12: Ensure updates, patches, and additional security software are installed"}}) {}

  Outcome run(const Context& context) const override {
    const Host& host = context.host;
    if (host.exists("/usr/bin/apt-get") || host.exists("/etc/apt")) return check_apt(host);
    if (host.exists("/usr/bin/dnf")) return check_dnf(host);
    return Outcome::not_applicable("no apt or dnf found");
  }
};

}  // namespace

CheckList make_auto_updates_checks() {
  CheckList checks;
  checks.push_back(std::make_unique<AutomaticSecurityUpdatesCheck>());
  return checks;
}

}  // namespace postured::checks
