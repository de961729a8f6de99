// linux.kernel.reboot_required: the device runs the newest kernel it has installed.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/check.hpp"
#include "core/host.hpp"
#include "core/text.hpp"
#include "kernel_reboot/dpkg_version.hpp"

namespace postured::checks {
namespace {

// The flag that Ubuntu's update-notifier and the kernel hook of Debian's unattended-upgrades create;
// "<flag>.pkgs" lists the packages that asked for the reboot.
constexpr const char* kRebootFlags[] = {"/var/run/reboot-required", "/run/reboot-required"};
constexpr std::size_t kPackagesShown = 3;  // the evidence stays one line
constexpr const char* kDpkgStatus = "/var/lib/dpkg/status";

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

// Version of an installed package in dpkg's status database; empty if it is not installed.
std::string installed_version(std::string_view status, std::string_view package) {
  for (std::size_t start = 0; start < status.size();) {
    auto end = status.find("\n\n", start);
    if (end == std::string_view::npos) end = status.size();
    const auto paragraph = status.substr(start, end - start);
    start = end + 2;
    std::string_view name, state, version;
    for (const auto line : text::lines(paragraph)) {
      if (line.starts_with("Package:")) name = text::trim(line.substr(8));
      if (line.starts_with("Status:")) state = text::trim(line.substr(7));
      if (line.starts_with("Version:")) version = text::trim(line.substr(8));
    }
    if (name == package && state.ends_with(" installed")) return std::string(version);
  }
  return {};
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(separator)) + item;
  return out;
}

class KernelRebootCheck final : public Check {
 public:
  using Check::Check;

  Outcome run(const Context& context) const override {
    const auto& host = context.host;
    const auto release = host.kernel_release();
    if (release.empty())
      return Outcome::error("cannot read the running kernel release from /proc/sys/kernel/osrelease");
    const auto running = split_release(release);
    std::vector<std::string> reasons;

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
    std::string build_note;
    const auto build = running_build(host, running);
    if (!build.empty() && host.exists(kDpkgStatus)) {
      std::string why;
      const auto status = host.read_file(kDpkgStatus, &why);
      if (!status) return Outcome::error(std::string("cannot read ") + kDpkgStatus + ": " + why);
      // Debian's signed image, Debian's and Ubuntu's unsigned ones.
      for (const auto& package :
           {"linux-image-" + release, "linux-image-" + release + "-unsigned", "linux-image-unsigned-" + release}) {
        const auto version = installed_version(*status, package);
        if (version.empty()) continue;
        if (compare_dpkg_versions(version, build) > 0) {
          reasons.push_back("running build " + build + " but " + package + " " + version + " is installed");
        } else {
          build_note = ", build " + build + " matches " + package;
        }
        break;
      }
    }

    if (!reasons.empty()) return Outcome::fail("running kernel " + release + "; " + join(reasons, "; "));
    if (kernels.empty()) {
      return Outcome::pass("running kernel " + release +
                           "; no installed kernels found in /boot or /lib/modules to compare (a container, or a VM "
                           "booted with an external kernel)");
    }
    return Outcome::pass("running kernel " + release + " is the newest installed " +
                         (running.flavour.empty() ? std::string("kernel") : running.flavour + " kernel") + build_note +
                         "; no reboot-required flag");
  }

 private:
  // " (packages: a, b, c +2 more)" from a reboot-required.pkgs list, in order, without repeats.
  static std::string listed_packages(std::string_view content) {
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
};

}  // namespace

CheckList make_kernel_reboot_checks() {
  CheckList checks;
  checks.push_back(std::make_unique<KernelRebootCheck>(CheckInfo{
      "linux.kernel.reboot_required",
      "The device runs the newest installed kernel",
      Severity::high,
      "Reboot the device in the next maintenance window so that the installed kernel and library updates take "
      "effect (sudo systemctl reboot), then run posturectl doctor again.",
      {"PCI DSS 4.0 6.3.3",
       "CIS Debian 12: Ensure updates, patches, and additional security software are installed"}}));
  return checks;
}

}  // namespace postured::checks
