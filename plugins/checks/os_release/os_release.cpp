// linux.os.supported_release: the distribution release still gets security updates from its vendor.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>

#include "core/check.hpp"
#include "core/device.hpp"
#include "core/host.hpp"

namespace postured::checks {
namespace {

using std::chrono::day;
using std::chrono::month;
using std::chrono::year;
using std::chrono::year_month_day;

// How many days before the end of support the evidence starts to count down.
constexpr int kWarnDays = 90;

struct SupportedRelease {
  const char* id;          // os-release ID
  const char* version_id;  // os-release VERSION_ID
  year_month_day ends;     // last day with security support
  const char* support;     // which kind of support ends then
};

// One row per release. Debian counts to the end of Debian LTS, Ubuntu to the end of standard
// support (Ubuntu Pro / ESM is paid and not assumed). Raspbian (Raspberry Pi OS) follows Debian.
constexpr SupportedRelease kReleases[] = {
    // https://wiki.debian.org/LTS: Debian 10 "buster" LTS ended 2024-06-30.
    {"debian", "10", year{2024} / month{6} / day{30}, "end of Debian LTS"},
    // https://wiki.debian.org/LTS: Debian 11 "bullseye" LTS until 2026-08-31.
    {"debian", "11", year{2026} / month{8} / day{31}, "end of Debian LTS"},
    // https://wiki.debian.org/LTS: Debian 12 "bookworm" LTS until 2028-06-30.
    {"debian", "12", year{2028} / month{6} / day{30}, "end of Debian LTS"},
    // https://wiki.debian.org/LTS: Debian 13 "trixie" LTS until 2030-06-30.
    {"debian", "13", year{2030} / month{6} / day{30}, "end of Debian LTS"},
    // https://ubuntu.com/about/release-cycle: 18.04 LTS standard support ended May 2023.
    {"ubuntu", "18.04", year{2023} / month{5} / day{31}, "end of Ubuntu standard support"},
    // https://ubuntu.com/about/release-cycle: 20.04 LTS standard support ended May 2025.
    {"ubuntu", "20.04", year{2025} / month{5} / day{31}, "end of Ubuntu standard support"},
    // https://ubuntu.com/about/release-cycle: 22.04 LTS standard support until mid-2027 (Canonical
    // says June 2027); the last day of May is used so that the countdown starts early, not late.
    {"ubuntu", "22.04", year{2027} / month{5} / day{31}, "end of Ubuntu standard support"},
    // https://ubuntu.com/about/release-cycle: 24.04 LTS standard support until May 2029.
    {"ubuntu", "24.04", year{2029} / month{5} / day{31}, "end of Ubuntu standard support"},
};

// Releases older than the table's oldest row of a distribution are long out of support.
struct OldestRelease {
  const char* id;
  int major;
  int minor;
};
constexpr OldestRelease kOldest[] = {{"debian", 10, 0}, {"ubuntu", 18, 4}};

std::string format_date(const year_month_day& date) {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()));
  return text;
}

// "12" → {12, 0}, "22.04" → {22, 4}; false when VERSION_ID is not numeric.
bool parse_version(const std::string& version, int& major, int& minor) {
  const char* end = version.data() + version.size();
  auto [next, ec] = std::from_chars(version.data(), end, major);
  if (ec != std::errc{}) return false;
  minor = 0;
  if (next == end) return true;
  if (*next != '.') return false;
  const auto [last, ec_minor] = std::from_chars(next + 1, end, minor);
  return ec_minor == std::errc{} && last == end;
}

class SupportedReleaseCheck final : public Check {
 public:
  using Check::Check;

  Outcome run(const Context& context) const override {
    std::string source = "/etc/os-release", why;
    auto content = context.host.read_file(source, &why);
    if (!content) {
      // os-release(5): /usr/lib/os-release is the fallback when /etc/os-release is missing.
      std::string fallback_why;
      content = context.host.read_file("/usr/lib/os-release", &fallback_why);
      if (!content)
        return Outcome::error("cannot read /etc/os-release (" + why + ") nor /usr/lib/os-release (" + fallback_why +
                              ")");
      source = "/usr/lib/os-release";
    }
    auto fields = parse_os_release(*content);
    const auto id = fields["ID"];
    const auto version_id = fields["VERSION_ID"];
    auto name = fields["PRETTY_NAME"];
    if (name.empty())
      name = (fields["NAME"].empty() ? id : fields["NAME"]) + (version_id.empty() ? "" : " " + version_id);
    if (name.empty()) name = "this system";
    const auto family = id == "raspbian" ? std::string("debian") : id;

    if (family == "debian" && version_id.empty()) {
      return Outcome::fail(name + " is testing or unstable (no VERSION_ID in " + source +
                           "): a rolling release without security support");
    }
    for (const auto& release : kReleases) {
      if (family == release.id && version_id == release.version_id) return judge(name, release, context.now);
    }
    int major = 0, minor = 0;
    if (parse_version(version_id, major, minor)) {
      for (const auto& oldest : kOldest) {
        if (family == oldest.id && (major < oldest.major || (major == oldest.major && minor < oldest.minor))) {
          return Outcome::fail(name + " is older than every release in postured's release table: out of support");
        }
      }
    }
    return Outcome::error("cannot tell whether " + name + " is supported: not in postured's release table (ID=" + id +
                          ", VERSION_ID=" + version_id + " in " + source + ")");
  }

 private:
  static Outcome judge(const std::string& name, const SupportedRelease& release,
                       std::chrono::system_clock::time_point now) {
    const auto today = std::chrono::floor<std::chrono::days>(now);
    const auto days_left = (std::chrono::sys_days{release.ends} - today).count();
    const auto ends = format_date(release.ends);
    if (days_left < 0) {
      return Outcome::fail(name + " is out of support since " + ends + " (" + release.support + ")");
    }
    auto evidence = name + " is supported until " + ends + " (" + release.support + ")";
    if (days_left <= kWarnDays) {
      evidence += days_left == 0 ? "; ends today" : "; ends in " + std::to_string(days_left) + " days";
    }
    return Outcome::pass(evidence);
  }
};

}  // namespace

CheckList make_os_release_checks() {
  CheckList checks;
  checks.push_back(std::make_unique<SupportedReleaseCheck>(CheckInfo{
      "linux.os.supported_release",
      "The operating system release still receives security updates",
      Severity::high,
      "Upgrade to the next supported release before the end date: on Debian follow the upgrade chapter of the new "
      "release's release notes (switch the suite in the apt sources, then apt full-upgrade); on Ubuntu run sudo "
      "do-release-upgrade.",
      {"PCI DSS 4.0 6.3.3", "PCI DSS 4.0 12.3.4"}}));
  return checks;
}

}  // namespace postured::checks
