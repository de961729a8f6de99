// linux.usb.storage_blocked: USB mass storage cannot be loaded, so card data cannot leave on a stick.
#include <fnmatch.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/check.hpp"
#include "core/host.hpp"
#include "core/text.hpp"

namespace postured::checks {
namespace {

constexpr const char* kModule = "usb_storage";  // as the kernel names it; modprobe treats '-' as '_'
// modprobe.d(5) folders, highest priority first: a file in an earlier folder hides a file of the
// same name in the later ones.
constexpr const char* kConfigDirs[] = {"/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d",
                                       "/lib/modprobe.d", "/usr/lib/modprobe.d"};
// Commands that make `modprobe usb-storage` do nothing instead of loading the module.
constexpr const char* kBlockingCommands[] = {"/bin/false", "/bin/true", "/usr/bin/false", "/usr/bin/true"};

std::string normalize(std::string_view name) {
  std::string out(name);
  for (auto& c : out) {
    if (c == '-') c = '_';
  }
  return out;
}

// Where a directive was found, and what it said.
struct Directive {
  std::string command;  // for install: the command line; for blacklist: empty
  std::string where;    // file:line
};

struct ModprobeConfig {
  std::optional<Directive> install;    // the first install line whose module pattern matches
  std::optional<Directive> blacklist;  // the first blacklist line for the module
  std::string error;
};

ModprobeConfig read_modprobe_config(const Host& host) {
  // Basename → path: the highest-priority folder wins, then files are read in basename order.
  std::map<std::string, std::string> files;
  for (const auto* dir : kConfigDirs) {
    for (const auto& name : host.list_dir(dir)) {
      if (name.ends_with(".conf")) files.try_emplace(name, std::string(dir) + "/" + name);
    }
  }
  ModprobeConfig config;
  for (const auto& [name, path] : files) {
    std::string why;
    const auto content = host.read_file(path, &why);
    if (!content) {
      config.error = path + ": " + why;
      return config;
    }
    int number = 0, continued = 0;
    std::string line;
    for (const auto raw : text::lines(*content)) {
      ++number;
      // A trailing backslash continues the line, as in modprobe.
      if (!raw.empty() && raw.back() == '\\') {
        line += raw.substr(0, raw.size() - 1);
        ++continued;
        continue;
      }
      line += raw;
      const auto where = path + ":" + std::to_string(number - continued);
      continued = 0;
      const std::string full = std::move(line);
      line.clear();
      const auto words = text::words(full);
      if (words.size() < 2 || words[0].front() == '#') continue;
      // The module name is an fnmatch pattern for install, a plain name for blacklist (libkmod).
      const auto pattern = normalize(words[1]);
      if (words[0] == "install" && !config.install && ::fnmatch(pattern.c_str(), kModule, 0) == 0) {
        const auto module_end = static_cast<std::size_t>(words[1].data() - full.data()) + words[1].size();
        config.install = Directive{std::string(text::trim(std::string_view(full).substr(module_end))), where};
      } else if (words[0] == "blacklist" && !config.blacklist && pattern == kModule) {
        config.blacklist = Directive{{}, where};
      }
    }
  }
  return config;
}

bool blocks(const std::string& command) {
  const auto words = text::words(command);
  if (words.empty()) return false;
  for (const auto* blocking : kBlockingCommands) {
    if (words.front() == blocking) return true;
  }
  return false;
}

class UsbStorageCheck final : public Check {
 public:
  using Check::Check;

  Outcome run(const Context& context) const override {
    const auto& host = context.host;
    const auto config = read_modprobe_config(host);
    if (!config.error.empty()) return Outcome::error("cannot read " + config.error);

    const auto modules = host.read_file("/proc/modules");
    if (modules) {
      for (const auto line : text::lines(*modules)) {
        if (line.starts_with(std::string(kModule) + " ")) {
          return Outcome::fail("usb_storage is loaded now (/proc/modules)" + config_summary(config));
        }
      }
    }
    const auto release = host.kernel_release();
    const auto tree = "/lib/modules/" + release;
    if (!release.empty()) {
      if (const auto builtin = host.read_file(tree + "/modules.builtin")) {
        for (const auto line : text::lines(*builtin)) {
          if (line.ends_with("/usb-storage.ko")) {
            return Outcome::fail("usb-storage is built into the running kernel (" + tree +
                                 "/modules.builtin): modprobe configuration cannot block it");
          }
        }
      }
    }

    // The configuration is judged either way (the kernel can be swapped); the note tells what runs now.
    std::string kernel_note;
    if (!host.exists("/proc/modules")) {
      kernel_note = "; the running kernel cannot load modules (no /proc/modules)";
    } else if (modules && !release.empty() && host.exists(tree) && !host.exists(tree + "/kernel/drivers/usb/storage")) {
      kernel_note = "; the running kernel has no usb-storage module";
    }

    if (!config.install) {
      return Outcome::fail("no 'install usb-storage /bin/false' in any modprobe.d/*.conf" +
                           (config.blacklist ? " (only 'blacklist usb-storage' at " + config.blacklist->where +
                                                   ", which does not stop an explicit modprobe)"
                                             : std::string()) +
                           kernel_note);
    }
    if (!blocks(config.install->command)) {
      return Outcome::fail("install usb-storage runs '" + config.install->command + "' (" + config.install->where +
                           "), which does not block the module" + kernel_note);
    }
    auto evidence = "install usb-storage " + config.install->command + " (" + config.install->where + ")";
    evidence += config.blacklist ? ", blacklisted too (" + config.blacklist->where + ")"
                                 : "; not blacklisted (add 'blacklist usb-storage')";
    return Outcome::pass(evidence + kernel_note);
  }

 private:
  static std::string config_summary(const ModprobeConfig& config) {
    if (!config.install) return "; no 'install usb-storage /bin/false' in modprobe.d";
    if (!blocks(config.install->command)) return "; its install line does not block it";
    return "; blocked by " + config.install->where + " but loaded before that took effect (reboot or modprobe -r)";
  }
};

}  // namespace

CheckList make_usb_storage_checks() {
  CheckList checks;
  checks.push_back(std::make_unique<UsbStorageCheck>(
      CheckInfo{"linux.usb.storage_blocked",
                "USB mass storage cannot be loaded",
                Severity::medium,
                "printf 'install usb-storage /bin/false\\nblacklist usb-storage\\n' | sudo tee "
                "/etc/modprobe.d/usb-storage.conf, then unload it with sudo modprobe -r uas usb-storage (or reboot).",
                {"PCI DSS 4.0 2.2.4", "CIS Debian 12: Ensure usb-storage kernel module is not available"}}));
  return checks;
}

}  // namespace postured::checks
