// posturectl quarantine list | restore ID [--to PATH]: the files that the scan's quarantine action
// moved into the encrypted vault, and getting one back.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/key_store.hpp"
#include "privacy/quarantine.hpp"

namespace postured::cli {
namespace {

std::string octal(std::uint32_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777);
  return text;
}

nlohmann::ordered_json to_json(const privacy::VaultEntry& e) {
  if (!e.record) return {{"id", e.id}, {"error", e.error}};
  const auto& r = *e.record;
  return {{"id", e.id},
          {"path", r.path.string()},
          {"size", r.size},
          {"mode", octal(r.mode)},
          {"uid", r.uid},
          {"gid", r.gid},
          {"mtime", r.mtime},
          {"quarantined_at", r.quarantined_at},
          {"findings", r.findings},
          {"examples", r.examples}};
}

void print_table(const std::vector<privacy::VaultEntry>& entries) {
  for (const auto& e : entries) {
    if (!e.record) {
      std::cout << e.id << "  cannot be read: " << e.error << "\n";
      continue;
    }
    const auto& r = *e.record;
    std::cout << e.id << "  " << r.quarantined_at << "  " << r.size << " bytes  " << r.findings
              << (r.findings == 1 ? " finding  " : " findings  ") << r.path.string() << "\n";
  }
  std::cout << entries.size() << (entries.size() == 1 ? " entry" : " entries") << " in the quarantine vault\n";
}

}  // namespace

int run_quarantine_list(const CommonOptions& options) {
  const auto config = resolve_config(options, builtin_checks());
  if (!config) return 2;
  std::vector<privacy::VaultEntry> entries;
  std::error_code ec;
  // Nothing was ever quarantined: no vault, and no need for the master key.
  if (std::filesystem::exists(config->agent.state_dir / "quarantine", ec)) {
    auto master = open_master_key_store(config->agent.state_dir)->load(false);
    if (!master.key) {
      std::cerr << "posturectl: cannot use the master key: " << master.error << "\n";
      return 3;
    }
    entries = privacy::QuarantineVault(config->agent.state_dir, *master.key).list();
  }
  if (options.json) {
    auto list = nlohmann::ordered_json::array();
    for (const auto& e : entries) list.push_back(to_json(e));
    std::cout << nlohmann::ordered_json{{"schema", "postured.quarantine/v1"}, {"entries", list}}.dump(2) << "\n";
  } else {
    print_table(entries);
  }
  std::cout.flush();
  return std::cout ? 0 : 3;
}

int run_quarantine_restore(const CommonOptions& options, const std::string& id, const std::string& to) {
  const auto config = resolve_config(options, builtin_checks());
  if (!config) return 2;
  auto master = open_master_key_store(config->agent.state_dir)->load(false);
  if (!master.key) {
    std::cerr << "posturectl: cannot use the master key: " << master.error << "\n";
    return 3;
  }
  const privacy::QuarantineVault vault(config->agent.state_dir, *master.key);
  std::error_code ec;
  if (!privacy::valid_vault_id(id) || !std::filesystem::exists(vault.dir() / (id + ".vault"), ec)) {
    std::cerr << "posturectl: no quarantine entry " << id << " (see posturectl quarantine list)\n";
    return 2;
  }
  const auto restored = privacy::restore_quarantined(vault, id, to);
  if (!restored.error.empty()) {
    std::cerr << "posturectl: " << restored.error << "\n";
    return 3;
  }
  if (options.json) {
    nlohmann::ordered_json doc{
        {"schema", "postured.quarantine_restore/v1"}, {"id", id}, {"path", restored.path.string()}};
    if (!restored.note.empty()) doc["note"] = restored.note;
    std::cout << doc.dump(2) << "\n";
  } else {
    std::cout << "restored " << id << " to " << restored.path.string() << "; the vault entry was removed\n";
    if (!restored.note.empty()) std::cout << "note: " << restored.note << "\n";
  }
  std::cout.flush();
  return std::cout ? 0 : 3;
}

}  // namespace postured::cli
