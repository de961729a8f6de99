#include "patch/reboot.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/host.hpp"
#include "core/text.hpp"
#include "patch/dpkg_version.hpp"
#include "patch/inventory.hpp"

namespace postured::patch {
namespace {

// The flag that Ubuntu's update-notifier and the kernel hook of Debian's unattended-upgrades create;
// "<flag>.pkgs" lists the packages that asked for the reboot.
constexpr const char* kRebootFlags[] = {"/var/run/reboot-required", "/run/reboot-required"};
constexpr std::size_t kPackagesShown = 3;  // the evidence stays one line

// "6.1.0-18-cloud-amd64" → version "6.1.0-18", flavour "cloud-amd64". The version is the leading
// hyphen-separated parts that start with a digit ("6.5.0-0.deb12.4", "6.12.41+deb13", Ubuntu's
// "5.15.0-91"); the flavour starts at the first part that does not ("amd64", "rpi-v8", "generic").
struct KernelRelease {
  std::string version;
  std::string flavour;
};

KernelRelease split_release(std::string_view release) {
  KernelRelease split;
  bool in_version = true;
  for (std::size_t start = 0;;) {
    const auto hyphen = release.find('-', start);
    const auto part = release.substr(start, hyphen == std::string_view::npos ? std::string_view::npos : hyphen - start);
    in_version = in_version && (start == 0 || (!part.empty() && part.front() >= '0' && part.front() <= '9'));
    auto& into = in_version ? split.version : split.flavour;
    if (!into.empty()) into += '-';
    into += part;
    if (hyphen == std::string_view::npos) break;
    start = hyphen + 1;
  }
  return split;
}

// Installed kernel releases → where each was found: /boot images and module trees that hold the
// kernel package's own modules (a folder with only DKMS leftovers in updates/ is no kernel).
std::map<std::string, std::string> installed_kernels(const Host& host) {
  std::map<std::string, std::string> kernels;
  for (const auto* prefix : {"/boot/vmlinuz-", "/boot/vmlinux-"}) {
    for (const auto& path : host.glob(std::string(prefix) + "*")) {
      kernels.try_emplace(path.substr(std::string_view(prefix).size()), path);
    }
  }
  for (const auto* dir : {"/lib/modules", "/usr/lib/modules"}) {
    for (const auto& name : host.list_dir(dir)) {
      const auto path = std::string(dir) + "/" + name;
      if (host.exists(path + "/kernel") || host.exists(path + "/modules.builtin")) kernels.try_emplace(name, path);
    }
  }
  return kernels;
}

// The package version the running kernel was built from: Debian's /proc/version ends with
// "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"; Ubuntu's /proc/version_signature reads
// "Ubuntu 5.15.0-91.101-generic 5.15.131". Empty when neither says.
std::string running_build(const Host& host, const KernelRelease& running) {
  if (const auto version = host.read_file("/proc/version")) {
    const auto hash = version->rfind('#');
    const auto debian = version->find(" Debian ", hash == std::string::npos ? 0 : hash);
    if (hash != std::string::npos && debian != std::string::npos) {
      const auto words = text::words(std::string_view(*version).substr(debian + 8));
      if (!words.empty()) return std::string(words.front());
    }
  }
  if (const auto signature = host.read_file("/proc/version_signature")) {
    const auto words = text::words(*signature);
    const auto suffix = "-" + running.flavour;
    if (words.size() >= 2 && words[0] == "Ubuntu" && !running.flavour.empty() && words[1].ends_with(suffix)) {
      return std::string(words[1].substr(0, words[1].size() - suffix.size()));
    }
  }
  return {};
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(separator)) + item;
  return out;
}

// The version of `package` among the installed ones; empty when it is not installed.
std::string installed_version(const std::vector<InstalledPackage>& installed, std::string_view package) {
  for (const auto& candidate : installed) {
    if (candidate.name == package) return candidate.version;
  }
  return {};
}

// " (packages: a, b, c +2 more)" from a reboot-required.pkgs list, in order, without repeats.
std::string listed_packages(std::string_view content) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto line : text::lines(content)) {
    const std::string name(text::trim(line));
    if (!name.empty() && seen.insert(name).second) names.push_back(name);
  }
  if (names.empty()) return {};
  std::vector<std::string> shown(names.begin(), names.begin() + std::min(names.size(), kPackagesShown));
  auto out = " (packages: " + join(shown, ", ");
  if (names.size() > kPackagesShown) out += " +" + std::to_string(names.size() - kPackagesShown) + " more";
  return out + ")";
}

}  // namespace

RebootAssessment assess_reboot(const Host& host) {
  RebootAssessment result;
  const auto release = host.kernel_release();
  if (release.empty()) {
    result.error = "cannot read the running kernel release from /proc/sys/kernel/osrelease";
    return result;
  }
  const auto running = split_release(release);
  result.release = release;
  result.flavour = running.flavour;
  auto& reasons = result.reasons;

  for (const auto* flag : kRebootFlags) {
    if (!host.exists(flag)) continue;
    auto reason = std::string(flag) + " exists";
    if (const auto packages = host.read_file(std::string(flag) + ".pkgs")) reason += listed_packages(*packages);
    reasons.push_back(std::move(reason));
    break;  // /var/run is /run: one flag is enough
  }

  const auto kernels = installed_kernels(host);
  std::vector<std::string> newer;
  for (const auto& [other, where] : kernels) {
    const auto installed = split_release(other);
    if (installed.flavour != running.flavour) continue;
    if (compare_dpkg_versions(installed.version, running.version) > 0) newer.push_back(other + " (" + where + ")");
  }
  if (!newer.empty()) reasons.push_back("newer kernel installed: " + join(newer, ", "));

  // The same release rebuilt (a Debian stable update that kept the ABI number) replaces the files
  // in place; only the package version tells that the running build is older.
  const auto build = running_build(host, running);
  if (!build.empty() && host.exists(kDpkgStatusPath)) {
    std::string why;
    const auto status = host.read_file(kDpkgStatusPath, &why);
    if (!status) {
      result.error = std::string("cannot read ") + kDpkgStatusPath + ": " + why;
      return result;
    }
    const auto installed = parse_dpkg_status(*status);
    // Debian's signed image, Debian's and Ubuntu's unsigned ones.
    for (const auto& package :
         {"linux-image-" + release, "linux-image-" + release + "-unsigned", "linux-image-unsigned-" + release}) {
      const auto version = installed_version(installed, package);
      if (version.empty()) continue;
      if (compare_dpkg_versions(version, build) > 0) {
        reasons.push_back("running build " + build + " but " + package + " " + version + " is installed");
      } else {
        result.build_note = ", build " + build + " matches " + package;
      }
      break;
    }
  }
  result.kernels_found = !kernels.empty();
  return result;
}

}  // namespace postured::patch
