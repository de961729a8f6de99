#include "patch/patch_level.hpp"

#include <algorithm>
#include <ctime>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/host.hpp"
#include "core/text.hpp"
#include "patch/reboot.hpp"
#include "patch/windows_patch.hpp"

namespace postured::patch {
namespace {

nlohmann::ordered_json optional_severity(const std::optional<Severity>& severity) {
  return severity ? nlohmann::ordered_json(std::string(to_string(*severity))) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json optional_date(const std::optional<std::chrono::sys_days>& day) {
  return day ? nlohmann::ordered_json(format_date(*day)) : nlohmann::ordered_json(nullptr);
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(separator)) + item;
  return out;
}

// Columns padded to their widest cell, two spaces apart.
std::string columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t k = 0; k < row.size(); ++k) widths[k] = std::max(widths[k], row[k].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = "  ";
    for (std::size_t k = 0; k < row.size(); ++k) {
      line += row[k];
      if (k + 1 < row.size()) line += std::string(widths[k] - row[k].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::vector<BelowBaseline> compare_with_baseline(const Inventory& inventory, const Baseline& baseline) {
  std::unordered_multimap<std::string_view, const InstalledPackage*> by_name, by_source;
  for (const auto& package : inventory.packages) {
    by_name.emplace(package.name, &package);
    if (package.source != package.name) by_source.emplace(package.source, &package);
  }
  std::vector<BelowBaseline> below;
  std::set<std::tuple<std::string, std::string, std::string>> seen;  // one row for libc6:amd64 and libc6:i386 alike
  const auto compare = [&](const BaselineEntry& entry, const InstalledPackage& package, const std::string& version) {
    if (compare_versions(inventory.format, version, entry.fixed) >= 0) return;
    if (!seen.emplace(package.name, version, entry.fixed).second) return;
    below.push_back({package.name, version, entry.fixed, entry.cves, entry.severity, entry.published});
  };
  for (const auto& entry : baseline.entries) {
    const auto [names, names_end] = by_name.equal_range(entry.name);
    for (auto it = names; it != names_end; ++it) compare(entry, *it->second, it->second->version);
    const auto [sources, sources_end] = by_source.equal_range(entry.name);
    for (auto it = sources; it != sources_end; ++it) compare(entry, *it->second, it->second->source_version);
  }
  return below;
}

PatchLevel inspect_patch_level(const Host& host, const Baseline* baseline) {
  PatchLevel level;
  auto read = read_inventory(host);
  // A package record the reader could not parse is named, so that a short inventory is explained.
  for (auto& skipped : read.skipped) level.errors.push_back(std::move(skipped));
  if (read.inventory) {
    level.inventory = std::move(read.inventory);
  } else {
    level.errors.push_back(read.error);
  }
  if (baseline) {
    level.baseline_source = baseline->source.string();
    if (level.inventory) level.below_baseline = compare_with_baseline(*level.inventory, *baseline);
  }

  if (level.inventory && level.inventory->format == PackageFormat::dpkg) {
    const auto security = read_security_index(host);
    if (security.index) {
      level.pending_security = pending_security_updates(*level.inventory, *security.index);
      if (const auto last = last_security_update(host, *security.index)) level.last_security_update_at = last->at;
      else level.notes.push_back("last_security_update_at: no logged upgrade to a version a security suite carries");
    } else if (security.unreadable) {
      level.errors.push_back(security.note);
    } else {
      level.notes.push_back("pending_security_updates, last_security_update_at: " + security.note);
    }
  } else if (level.inventory) {
    level.notes.push_back("pending_security_updates, last_security_update_at: read from apt only");
  }

  const auto reboot = assess_reboot(host);
  if (reboot.error.empty()) {
    level.reboot_required = reboot.required();
  } else {
    level.errors.push_back(reboot.error);
  }
  return level;
}

nlohmann::ordered_json to_json(const PatchLevel& level) {
  using json = nlohmann::ordered_json;
  json out;
  out["packages_total"] = level.inventory ? json(level.inventory->packages.size()) : json(nullptr);
  out["packages"] = json::array();
  if (level.inventory) {
    for (const auto& p : level.inventory->packages) {
      out["packages"].push_back({{"name", p.name}, {"version", p.version}, {"arch", p.arch}, {"source", p.source}});
    }
  }
  out["below_baseline"] = json::array();
  for (const auto& b : level.below_baseline) {
    out["below_baseline"].push_back({{"name", b.name},
                                     {"installed", b.installed},
                                     {"required", b.required},
                                     {"cves", b.cves},
                                     {"severity", optional_severity(b.severity)},
                                     {"published", optional_date(b.published)}});
  }
  out["last_security_update_at"] =
      level.last_security_update_at ? json(text::rfc3339_utc(*level.last_security_update_at)) : json(nullptr);
  out["pending_security_updates"] = level.pending_security ? json(level.pending_security->size()) : json(nullptr);
  out["reboot_required"] = level.reboot_required ? json(*level.reboot_required) : json(nullptr);
  out["package_manager"] = level.inventory ? json(std::string(to_string(level.inventory->format))) : json(nullptr);
  out["baseline"] = level.baseline_source ? json(*level.baseline_source) : json(nullptr);
  out["pending_security"] = json::array();
  if (level.pending_security) {
    for (const auto& p : *level.pending_security) {
      out["pending_security"].push_back(
          {{"name", p.name}, {"arch", p.arch}, {"installed", p.installed}, {"available", p.available}});
    }
  }
  out["errors"] = level.errors;
  out["notes"] = level.notes;
  return out;
}

std::string render_patch_table(const PatchLevel& level, bool color) {
  const auto paint = [color](const std::string& text, bool bad) {
    return color && bad ? "\033[31m" + text + "\033[0m" : text;
  };
  const auto unknown = std::string("unknown");
  std::vector<std::vector<std::string>> summary;
  summary.push_back({"packages", level.inventory ? std::to_string(level.inventory->packages.size()) + " (" +
                                                       std::string(to_string(level.inventory->format)) + ")"
                                                 : unknown});
  summary.push_back({"below baseline", level.baseline_source ? paint(std::to_string(level.below_baseline.size()),
                                                                     !level.below_baseline.empty()) +
                                                                   " (" + *level.baseline_source + ")"
                                                             : "no baseline"});
  summary.push_back({"last security update",
                     level.last_security_update_at ? text::rfc3339_utc(*level.last_security_update_at) : unknown});
  summary.push_back({"pending security updates",
                     level.pending_security ? paint(std::to_string(level.pending_security->size()),
                                                    !level.pending_security->empty())
                                            : unknown});
  summary.push_back({"reboot required", level.reboot_required
                                            ? paint(*level.reboot_required ? "yes" : "no", *level.reboot_required)
                                            : unknown});
  std::string out = "Patch level\n" + columns(summary);

  if (!level.below_baseline.empty()) {
    std::vector<std::vector<std::string>> rows{{"PACKAGE", "INSTALLED", "REQUIRED", "SEVERITY", "PUBLISHED", "CVES"}};
    for (const auto& b : level.below_baseline) {
      rows.push_back({b.name, b.installed, b.required, b.severity ? std::string(to_string(*b.severity)) : "-",
                      b.published ? format_date(*b.published) : "-", b.cves.empty() ? "-" : join(b.cves, ", ")});
    }
    out += "\nBelow the baseline\n" + columns(rows);
  }
  if (level.pending_security && !level.pending_security->empty()) {
    std::vector<std::vector<std::string>> rows{{"PACKAGE", "ARCH", "INSTALLED", "AVAILABLE"}};
    for (const auto& p : *level.pending_security) rows.push_back({p.name, p.arch, p.installed, p.available});
    out += "\nPending security updates\n" + columns(rows);
  }
  for (const auto& e : level.errors) out += "\n" + paint("error: ", true) + e;
  for (const auto& n : level.notes) out += "\nnote: " + n;
  if (!level.errors.empty() || !level.notes.empty()) out += "\n";
  return out;
}

nlohmann::ordered_json patch_report(const Host& host, const Config& config) {
  // Windows: the registry instead of a package database, and patch.baseline is a Windows baseline.
  if (const auto* registry = host.registry()) return windows_patch_report(*registry, config);
  std::optional<Baseline> baseline;
  std::vector<std::string> baseline_errors;
  if (!config.patch.baseline.empty()) {
    auto load = load_baseline_file(config.patch.baseline);
    for (const auto& e : load.errors) baseline_errors.push_back(e.to_string());
    baseline = std::move(load.baseline);
  }
  auto level = inspect_patch_level(host, baseline ? &*baseline : nullptr);
  level.errors.insert(level.errors.begin(), baseline_errors.begin(), baseline_errors.end());
  auto block = to_json(level);
  // The full inventory (about 90 KB of JSON for 1,000 packages) would go out every cycle from every
  // terminal; the console needs the counts and what is behind. `posturectl patch --json` lists it.
  block.erase("packages");
  return block;
}

}  // namespace postured::patch
