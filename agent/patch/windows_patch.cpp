#include "patch/windows_patch.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/text.hpp"
#include "patch/baseline.hpp"

namespace postured::patch {
namespace {

// FILETIME counts 100 ns ticks from 1601-01-01; this many of them lie before 1970-01-01.
constexpr std::uint64_t kFiletimeUnixEpoch = 116444736000000000ULL;

std::optional<unsigned> whole(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> read_number(const RegistryView& registry, std::string_view key, std::string_view name,
                                         RegistryBits bits = RegistryBits::native64) {
  const auto read = registry.read(key, name, bits);
  if (read.found != RegistryRead::Found::value) return std::nullopt;
  if (read.value.type == RegistryValue::Type::dword || read.value.type == RegistryValue::Type::qword)
    return read.value.number;
  return std::nullopt;
}

bool key_exists(const RegistryView& registry, std::string_view key) {
  return registry.read(key, "").found != RegistryRead::Found::no_key;
}

// How installed a state is, to pick the one that speaks for a KB of several packages.
int rank(CbsState state) {
  switch (state) {
    case CbsState::permanent:
    case CbsState::installed: return 5;
    case CbsState::superseded: return 4;
    case CbsState::install_pending: return 3;
    case CbsState::uninstall_pending: return 2;
    case CbsState::staged: return 1;
    case CbsState::other: break;
  }
  return 0;
}

bool counts_as_installed(CbsState state) {
  return state == CbsState::installed || state == CbsState::permanent || state == CbsState::superseded;
}

std::string arch_of(RegistryBits bits) {
  return bits == RegistryBits::native64 ? "x64" : "x86";
}

}  // namespace

std::string WindowsVersion::product() const {
  if (build < kFirstWindows11Build || product_name.rfind("Windows 10", 0) != 0) return product_name;
  return "Windows 11" + product_name.substr(10);
}

std::optional<CbsPackageName> parse_cbs_package_name(std::string_view name) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto tilde = name.find('~', start);
    parts.push_back(name.substr(start, tilde == std::string_view::npos ? std::string_view::npos : tilde - start));
    if (tilde == std::string_view::npos) break;
    start = tilde + 1;
  }
  if (parts.size() != 5 || parts[0].empty() || parts[1].empty()) return std::nullopt;
  CbsPackageName parsed;
  parsed.arch = std::string(parts[2]);
  parsed.version = std::string(parts[4]);
  // Package_for_KB5031356, Package_1_for_KB5031356, Package_for_RollupFix, ...
  const auto head = parts[0];
  if (head.rfind("Package_", 0) == 0) {
    if (head.find("_for_RollupFix") != std::string_view::npos) parsed.rollup = true;
    const auto at = head.find("_for_KB");
    if (at != std::string_view::npos) {
      auto digits = head.substr(at + 7);
      const auto end = std::find_if(digits.begin(), digits.end(), [](char c) { return c < '0' || c > '9'; });
      digits = digits.substr(0, static_cast<std::size_t>(end - digits.begin()));
      if (!digits.empty()) parsed.kb = "KB" + std::string(digits);
    }
  }
  return parsed;
}

CbsState cbs_state(std::uint64_t current_state) {
  switch (current_state) {
    case 0x70: return CbsState::installed;
    case 0x80: return CbsState::permanent;
    case 0x50: return CbsState::superseded;
    case 0x60: return CbsState::install_pending;
    case 0x05: return CbsState::uninstall_pending;
    case 0x40: return CbsState::staged;
    default: return CbsState::other;
  }
}

std::string_view to_string(CbsState state) {
  switch (state) {
    case CbsState::installed: return "installed";
    case CbsState::permanent: return "permanent";
    case CbsState::superseded: return "superseded";
    case CbsState::install_pending: return "install_pending";
    case CbsState::uninstall_pending: return "uninstall_pending";
    case CbsState::staged: return "staged";
    case CbsState::other: break;
  }
  return "other";
}

WindowsVersion read_windows_version(const RegistryView& registry, std::string* why) {
  WindowsVersion version;
  const auto build_text =
      read_registry_text(registry, kWindowsVersionKey, "CurrentBuild")
          .value_or(read_registry_text(registry, kWindowsVersionKey, "CurrentBuildNumber").value_or(""));
  const auto build = whole(build_text);
  if (!build) {
    const auto read = registry.read(kWindowsVersionKey, "CurrentBuild");
    if (why)
      *why = std::string(kWindowsVersionKey) + "\\CurrentBuild: " +
             (read.found == RegistryRead::Found::error ? read.error
              : build_text.empty()                     ? std::string("not set")
                                                       : "not a build number: '" + build_text + "'");
    return version;
  }
  version.build = *build;
  version.ubr = static_cast<unsigned>(read_number(registry, kWindowsVersionKey, "UBR").value_or(0));
  version.product_name = read_registry_text(registry, kWindowsVersionKey, "ProductName").value_or("");
  version.edition_id = read_registry_text(registry, kWindowsVersionKey, "EditionID").value_or("");
  version.display_version = read_registry_text(registry, kWindowsVersionKey, "DisplayVersion")
                                .value_or(read_registry_text(registry, kWindowsVersionKey, "ReleaseId").value_or(""));
  return version;
}

std::vector<Hotfix> read_hotfixes(const RegistryView& registry, bool* pending, std::string* why) {
  std::map<std::string, Hotfix> by_kb;
  const auto packages = registry.subkeys(kCbsPackagesKey);
  if (!packages.error.empty() || !packages.key_exists) {
    if (why) *why = std::string(kCbsPackagesKey) + ": " + (packages.error.empty() ? "not found" : packages.error);
    return {};
  }
  for (const auto& name : packages.names) {
    const auto parsed = parse_cbs_package_name(name);
    // Only KBs and the rollup are read further: a device has thousands of feature packages.
    if (!parsed || (parsed->kb.empty() && !parsed->rollup)) continue;
    const auto key = std::string(kCbsPackagesKey) + "\\" + name;
    const auto state = cbs_state(read_number(registry, key, "CurrentState").value_or(0));
    if (pending && (state == CbsState::install_pending || state == CbsState::uninstall_pending)) *pending = true;
    if (parsed->kb.empty()) continue;
    auto& hotfix = by_kb[parsed->kb];
    hotfix.kb = parsed->kb;
    if (rank(state) > rank(hotfix.state)) hotfix.state = state;
    const auto high = read_number(registry, key, "InstallTimeHigh"), low = read_number(registry, key, "InstallTimeLow");
    if (high && low && counts_as_installed(state)) {
      const auto ticks = (*high << 32) | (*low & 0xffffffffULL);
      if (ticks > kFiletimeUnixEpoch) {
        const auto at =
            std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::microseconds((ticks - kFiletimeUnixEpoch) / 10)));
        if (!hotfix.installed_at || at > *hotfix.installed_at) hotfix.installed_at = at;
      }
    }
  }
  std::vector<Hotfix> hotfixes;
  for (auto& [kb, hotfix] : by_kb) hotfixes.push_back(std::move(hotfix));
  // Numeric order: KB890830 before KB5031356.
  std::sort(hotfixes.begin(), hotfixes.end(), [](const Hotfix& a, const Hotfix& b) {
    return std::pair(a.kb.size(), a.kb) < std::pair(b.kb.size(), b.kb);
  });
  return hotfixes;
}

std::optional<std::vector<WindowsProgram>> read_programs(const RegistryView& registry, std::string* why) {
  std::vector<WindowsProgram> programs;
  std::set<std::tuple<std::string, std::string, std::string>> seen;  // on 32-bit Windows both views are one
  bool any_view = false;
  for (const auto bits : {RegistryBits::native64, RegistryBits::wow32}) {
    const auto keys = registry.subkeys(kUninstallKey, bits);
    if (!keys.error.empty()) {
      if (why) *why = std::string(kUninstallKey) + ": " + keys.error;
      return std::nullopt;
    }
    any_view = any_view || keys.key_exists;
    for (const auto& name : keys.names) {
      const auto key = std::string(kUninstallKey) + "\\" + name;
      const auto display = read_registry_text(registry, key, "DisplayName", bits);
      if (!display || display->empty()) continue;
      // Hidden from "Apps & features": parts of another product, and updates of another program.
      if (read_number(registry, key, "SystemComponent", bits).value_or(0) == 1) continue;
      if (read_registry_text(registry, key, "ParentKeyName", bits)) continue;
      WindowsProgram program{*display, read_registry_text(registry, key, "DisplayVersion", bits).value_or(""),
                             read_registry_text(registry, key, "Publisher", bits).value_or(""), arch_of(bits)};
      if (!seen.emplace(name, program.name, program.version).second) continue;
      programs.push_back(std::move(program));
    }
  }
  if (!any_view) {
    if (why) *why = std::string(kUninstallKey) + ": not found";
    return std::nullopt;
  }
  return programs;
}

WindowsPatchLevel inspect_windows_patch_level(const RegistryView& registry, std::optional<WindowsBaseline> baseline,
                                              std::chrono::system_clock::time_point now) {
  WindowsPatchLevel level;
  std::string why;
  auto version = read_windows_version(registry, &why);
  if (version.build != 0)
    level.version = std::move(version);
  else
    level.errors.push_back(why);

  why.clear();
  bool pending = false;
  level.hotfixes = read_hotfixes(registry, &pending, &why);
  if (!why.empty()) level.errors.push_back(why);
  for (const auto& hotfix : level.hotfixes) {
    if (hotfix.installed_at && (!level.last_update_at || *hotfix.installed_at > *level.last_update_at))
      level.last_update_at = hotfix.installed_at;
  }
  if (why.empty() && !level.last_update_at)
    level.notes.push_back("last_security_update_at: no installed KB package records its install time");

  why.clear();
  level.programs = read_programs(registry, &why);
  if (!level.programs) level.errors.push_back(why);

  const auto reboot_key = registry.read(kCbsRebootPendingKey, "");
  const auto update_key = registry.read(kWindowsUpdateRebootKey, "");
  if (reboot_key.found == RegistryRead::Found::error || update_key.found == RegistryRead::Found::error) {
    level.errors.push_back("reboot_required: " + (reboot_key.error.empty() ? update_key.error : reboot_key.error));
  } else {
    level.reboot_required =
        pending || key_exists(registry, kCbsRebootPendingKey) || key_exists(registry, kWindowsUpdateRebootKey);
  }

  if (baseline) {
    level.baseline_source = baseline->source.string();
    level.baseline = std::move(baseline);
    if (level.version) {
      level.standing = standing_of(*level.baseline, level.version->build, level.version->ubr,
                                   std::chrono::floor<std::chrono::days>(now));
      if (!level.standing->build_known)
        level.notes.push_back("the baseline lists no update for build " + std::to_string(level.version->build) +
                              "; nothing to compare with");
    }
  }
  return level;
}

nlohmann::ordered_json to_json(const WindowsPatchLevel& level) {
  using json = nlohmann::ordered_json;
  json out;
  out["packages_total"] = level.programs ? json(level.programs->size()) : json(nullptr);
  out["packages"] = json::array();
  if (level.programs) {
    for (const auto& p : *level.programs)
      out["packages"].push_back({{"name", p.name}, {"version", p.version}, {"arch", p.arch}, {"source", p.publisher}});
  }
  out["below_baseline"] = json::array();
  const auto& standing = level.standing;
  if (standing && standing->required && level.version && level.version->ubr < standing->required->ubr) {
    const auto& required = *standing->required;
    const auto& oldest = *standing->oldest_missing;
    out["below_baseline"].push_back(
        {{"name", required.name.empty() ? "Windows build " + std::to_string(required.build) : required.name},
         {"installed", level.version->os_version()},
         {"required", std::to_string(required.build) + "." + std::to_string(required.ubr)},
         {"cves", required.cves},
         {"severity", required.severity ? json(std::string(to_string(*required.severity))) : json(nullptr)},
         // The oldest missing update's day: since then the device lacks a fix (patch.security_updates_age).
         {"published", format_date(oldest.published)},
         {"kb", required.kb.empty() ? json(nullptr) : json(required.kb)},
         {"days_behind", standing->days_behind ? json(*standing->days_behind) : json(nullptr)}});
  }
  out["last_security_update_at"] =
      level.last_update_at ? json(text::rfc3339_utc(*level.last_update_at)) : json(nullptr);
  // Windows Update is not asked what it would offer: the agent works offline and read-only.
  out["pending_security_updates"] = nullptr;
  out["reboot_required"] = level.reboot_required ? json(*level.reboot_required) : json(nullptr);
  out["package_manager"] = "windows";
  out["baseline"] = level.baseline_source ? json(*level.baseline_source) : json(nullptr);
  json windows;
  if (level.version) {
    windows["product"] = level.version->product();
    windows["product_name"] = level.version->product_name;
    windows["edition_id"] = level.version->edition_id;
    windows["display_version"] = level.version->display_version;
    windows["build"] = level.version->build;
    windows["ubr"] = level.version->ubr;
    windows["os_version"] = level.version->os_version();
  }
  windows["days_behind"] = standing && standing->days_behind ? json(*standing->days_behind) : json(nullptr);
  windows["hotfixes"] = json::array();
  for (const auto& h : level.hotfixes) {
    windows["hotfixes"].push_back(
        {{"kb", h.kb},
         {"state", std::string(to_string(h.state))},
         {"installed_at", h.installed_at ? json(text::rfc3339_utc(*h.installed_at)) : json(nullptr)}});
  }
  out["windows"] = std::move(windows);
  out["errors"] = level.errors;
  auto notes = level.notes;
  notes.push_back("pending_security_updates: Windows Update is not queried (the agent reads the registry only)");
  out["notes"] = notes;
  return out;
}

bool has_problems(const WindowsPatchLevel& level) {
  const bool behind = level.standing && level.standing->oldest_missing != nullptr;
  return behind || level.reboot_required.value_or(false);
}

std::string render_windows_patch_table(const WindowsPatchLevel& level, bool color) {
  const auto paint = [color](const std::string& text, bool bad) {
    return color && bad ? "\033[31m" + text + "\033[0m" : text;
  };
  const auto row = [](std::string label, const std::string& value) {
    label.resize(std::max<std::size_t>(label.size(), 16), ' ');
    return "  " + label + "  " + value + "\n";
  };
  std::string out = "Patch level (Windows)\n";
  if (level.version) {
    const auto& v = *level.version;
    out += row("windows",
               v.product() + (v.display_version.empty() ? "" : " " + v.display_version) + " (" + v.edition_id + ")");
    out += row("build", v.os_version());
  } else {
    out += row("windows", "unknown");
  }
  if (!level.baseline_source) {
    out += row("baseline", "no baseline");
  } else if (!level.standing || !level.standing->build_known) {
    out += row("baseline", "build not listed (" + *level.baseline_source + ")");
  } else if (level.standing->oldest_missing) {
    const auto& missing = *level.standing->oldest_missing;
    const auto& required = *level.standing->required;
    out +=
        row("baseline", paint("below: requires " + std::to_string(required.build) + "." + std::to_string(required.ubr) +
                                  (required.kb.empty() ? "" : " (" + required.kb + ")"),
                              true) +
                            " (" + *level.baseline_source + ")");
    out += row("days behind", paint(std::to_string(*level.standing->days_behind), true) + " (since " +
                                  (missing.kb.empty() ? std::string("the update") : missing.kb) + " of " +
                                  format_date(missing.published) + ")");
  } else {
    out += row("baseline", "met (" + *level.baseline_source + ")");
  }
  std::size_t installed = 0;
  for (const auto& h : level.hotfixes) installed += h.state == CbsState::installed || h.state == CbsState::permanent;
  out += row("hotfixes", std::to_string(level.hotfixes.size()) + " KBs, " + std::to_string(installed) + " installed");
  out += row("last update", level.last_update_at ? text::rfc3339_utc(*level.last_update_at) : "unknown");
  out += row("programs", level.programs ? std::to_string(level.programs->size()) : "unknown");
  out += row("reboot required",
             level.reboot_required ? paint(*level.reboot_required ? "yes" : "no", *level.reboot_required) : "unknown");
  for (const auto& e : level.errors) out += "\n" + paint("error: ", true) + e;
  for (const auto& n : level.notes) out += "\nnote: " + n;
  if (!level.errors.empty() || !level.notes.empty()) out += "\n";
  return out;
}

nlohmann::ordered_json windows_patch_report(const RegistryView& registry, const Config& config) {
  std::optional<WindowsBaseline> baseline;
  std::vector<std::string> baseline_errors;
  if (!config.patch.baseline.empty()) {
    auto load = load_windows_baseline_file(config.patch.baseline);
    for (const auto& e : load.errors) baseline_errors.push_back(e.to_string());
    baseline = std::move(load.baseline);
  }
  auto level = inspect_windows_patch_level(registry, std::move(baseline), std::chrono::system_clock::now());
  level.errors.insert(level.errors.begin(), baseline_errors.begin(), baseline_errors.end());
  auto block = to_json(level);
  // Installed programs stay on the device, as the Linux inventory does (`posturectl patch --json`).
  block.erase("packages");
  return block;
}

}  // namespace postured::patch
