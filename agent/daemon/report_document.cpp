#include "daemon/report_document.hpp"

#include <fstream>

#include "cache/cache_vault.hpp"
#include "core/log.hpp"
#include "patch/patch_level.hpp"
#include "privacy/evidence.hpp"

namespace postured {
namespace {

// The report's caches: each one's status and the figures of its last policy enforcement.
nlohmann::ordered_json cache_report(const Config& config, const SecretKey& master, bool& problems) {
  CacheVault vault(config.agent.state_dir, master);
  auto caches = nlohmann::ordered_json::array();
  for (const auto& cache : config.caches) {
    const auto status = vault.status(cache);
    if (status.is_problem()) {
      problems = true;
      log::warn("cache ", cache.name, ": ", status.encrypted ? "unreadable: " + status.error : "not encrypted");
    }
    auto entry = to_json(status);
    const auto last =
        privacy::load_last_enforcement(config.agent.state_dir, cache.name).value_or(privacy::LastEnforcement{});
    entry["purged_rows"] = last.purged_rows;
    entry["transformed_values"] = last.transformed_values;
    entry["pan_findings"] = last.pan_findings;
    entry["pans_left"] = last.pans_left;
    entry["last_enforced_at"] = last.at;
    problems = problems || last.pans_left > 0;
    caches.push_back(std::move(entry));
  }
  return caches;
}

// The last scheduled scan's block, or null when no scan has run (or no folder is configured).
nlohmann::ordered_json last_scan(const Config& config) {
  if (config.scan_folders.empty()) return nullptr;
  std::ifstream in(config.agent.state_dir / "last-scan.json");
  auto block = nlohmann::ordered_json::parse(in, nullptr, false);
  return block.is_discarded() ? nlohmann::ordered_json(nullptr) : block;
}

}  // namespace

BuiltReport build_report(const CheckList& checks, const Host& host, const Config& config, const SecretKey& master,
                         std::chrono::system_clock::time_point now) {
  BuiltReport built;
  built.inspection = inspect_device(checks, host, config, now);
  built.document = to_report_json(built.inspection, random_uuid_v4(), now);
  built.document["caches"] = cache_report(config, master, built.cache_problems);
  built.document["patch"] = patch::patch_report(host, config);
  built.document["scan"] = last_scan(config);
  return built;
}

}  // namespace postured
