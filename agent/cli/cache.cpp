// posturectl cache status|encrypt|verify|rotate-key: the SQLCipher vault, on demand.
#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "cache/cache_vault.hpp"
#include "cli/commands.hpp"
#include "core/key_store.hpp"

namespace postured::cli {
namespace {

// How long `cache encrypt` and `rotate-key` wait for other programs to close the file.
constexpr std::chrono::seconds kInteractiveWait{30};

std::string human_size(std::uintmax_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

void print_table(const std::vector<CacheStatus>& statuses) {
  std::cout << "NAME             ENCRYPTED  ROWS        SIZE        GEN  VERIFIED              PATH\n";
  for (const auto& s : statuses) {
    char line[512];
    const char* encrypted = !s.exists ? "missing" : s.encrypted ? "yes" : "NO";
    std::snprintf(line, sizeof line, "%-16s %-10s %-11lld %-11s %-4u %-21s %s\n", s.name.c_str(), encrypted, s.rows,
                  human_size(s.size_bytes).c_str(), s.key_generation,
                  s.last_verified_at.empty() ? "never" : s.last_verified_at.c_str(), s.path.c_str());
    std::cout << line;
    if (!s.error.empty()) std::cout << "  error: " << s.error << "\n";
  }
}

}  // namespace

int run_cache(const CommonOptions& options, CacheAction action, const std::string& name) {
  const auto config = resolve_config(options, builtin_checks());
  if (!config) return 2;
  std::vector<CacheConfig> selected;
  for (const auto& cache : config->caches) {
    if (name.empty() || cache.name == name) selected.push_back(cache);
  }
  if (!name.empty() && selected.empty()) {
    std::cerr << "posturectl: no [[cache]] named '" << name << "' in " << config->source.string() << "\n";
    return 2;
  }

  const bool changes = action == CacheAction::encrypt || action == CacheAction::rotate_key;
  const auto store = open_master_key_store(config->agent.state_dir);
  auto master = store->load(changes);
  if (!master.key && changes) {
    std::cerr << "posturectl: cannot use the master key: " << master.error << "\n";
    return 3;
  }
  // Without a master key nothing has been encrypted yet; status still reports what is there.
  CacheVault vault(config->agent.state_dir, master.key.value_or(SecretKey{}));

  if (changes) {
    int code = 0;
    for (const auto& cache : selected) {
      const auto result = action == CacheAction::encrypt ? vault.encrypt(cache, kInteractiveWait)
                                                         : vault.rotate_key(cache, kInteractiveWait);
      const bool ok = result.outcome == CacheOperation::Outcome::done ||
                      result.outcome == CacheOperation::Outcome::nothing_to_do;
      (ok ? std::cout : std::cerr) << cache.name << ": " << result.detail << "\n";
      if (!ok) code = 3;
    }
    return code;
  }

  std::vector<CacheStatus> statuses;
  for (const auto& cache : selected) {
    auto status = vault.status(cache);
    if (!master.key && status.encrypted) status.error = "cannot use the master key: " + master.error;
    statuses.push_back(std::move(status));
  }
  if (options.json) {
    auto list = nlohmann::ordered_json::array();
    for (const auto& s : statuses) list.push_back(to_json(s));
    std::cout << nlohmann::ordered_json{{"schema", "postured.cache_status/v1"}, {"caches", list}}.dump(2) << "\n";
  } else {
    print_table(statuses);
  }
  const bool problems = std::any_of(statuses.begin(), statuses.end(), [](const auto& s) { return s.is_problem(); });
  return problems ? 1 : 0;
}

}  // namespace postured::cli
