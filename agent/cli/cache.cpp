// posturectl cache status|encrypt|verify|rotate-key|enforce: the SQLCipher vault and the caches'
// minimization and retention policies, on demand.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cache/cache_vault.hpp"
#include "cli/commands.hpp"
#include "core/key_store.hpp"
#include "privacy/enforcer.hpp"

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
                  s.last_verified_at.empty() ? "never" : s.last_verified_at.c_str(), s.path.string().c_str());
    std::cout << line;
    if (!s.error.empty()) std::cout << "  error: " << s.error << "\n";
  }
}

std::string table_notes(const privacy::TableFigures& t) {
  std::string notes;
  const auto add = [&](const std::string& note) { notes += (notes.empty() ? "" : "; ") + note; };
  if (!t.covered) add("not in the policy (scanned only)");
  if (t.null_timestamps) add(std::to_string(t.null_timestamps) + " NULL timestamps kept");
  if (t.unparseable_timestamps) add(std::to_string(t.unparseable_timestamps) + " unparseable timestamps kept");
  for (const auto& [column, count] : t.unparseable_by_column) {
    add(std::to_string(count) + " values of " + column + " not generalizable, kept");
  }
  if (!t.unlisted_columns.empty()) {
    std::string columns;
    for (const auto& c : t.unlisted_columns) columns += (columns.empty() ? "" : ", ") + c;
    add("columns not in the policy: " + columns);
  }
  return notes;
}

void print_enforcement(const privacy::CacheEnforcement& r, bool dry_run) {
  using Outcome = privacy::CacheEnforcement::Outcome;
  const bool ran = r.outcome == Outcome::enforced || r.outcome == Outcome::dry_run || r.outcome == Outcome::interrupted;
  if (!ran) {
    (r.exit_code() == 0 ? std::cout : std::cerr) << r.cache << ": " << r.error << "\n";
    return;
  }
  std::cout << r.cache << ": " << (dry_run ? "dry run, nothing changed; " : "") << "policy " << r.policy.string()
            << (r.error.empty() ? "" : " (" + r.error + ")") << "\n";
  std::cout << "  TABLE                    "
            << (dry_run ? "WOULD PURGE  WOULD TRANSFORM" : "PURGED       TRANSFORMED    ") << "  PANS  NOTES\n";
  for (const auto& t : r.figures.tables) {
    char line[512];
    std::snprintf(line, sizeof line, "  %-24s %-12lld %-15lld  %-5lld %s\n", t.table.c_str(), t.purged_rows(),
                  t.transformed_values, t.pan_findings, table_notes(t).c_str());
    std::cout << line;
  }
  for (const auto& f : r.figures.findings) {
    std::cout << "  " << privacy::to_string(f.kind) << " " << privacy::to_string(f.brand) << " " << f.masked << " in "
              << f.table << "." << f.column << " (rowid " << f.rowid << "): " << (dry_run ? "would be " : "")
              << f.action << "\n";
  }
  if (r.figures.findings_not_listed) std::cout << "  ... and " << r.figures.findings_not_listed << " more findings\n";
  if (r.figures.auto_vacuum_converted) {
    std::cout << "  " << (dry_run ? "would switch" : "switched")
              << " to auto_vacuum = INCREMENTAL (a one-time VACUUM)\n";
  }
  std::cout << "  " << r.figures.freed_pages << (dry_run ? " free pages to reclaim\n" : " free pages reclaimed\n");
  if (!r.figures.vacuum_error.empty()) std::cout << "  vacuum not done: " << r.figures.vacuum_error << "\n";
}

// The worst of the exit codes: a policy error (2) before a runtime failure (3) before findings (1).
int combined_exit_code(const std::vector<privacy::CacheEnforcement>& results) {
  int code = 0;
  for (const auto& r : results) {
    const int c = r.exit_code();
    const auto rank = [](int x) { return x == 2 ? 3 : x == 3 ? 2 : x; };
    if (rank(c) > rank(code)) code = c;
  }
  return code;
}

}  // namespace

int run_cache_enforce(const CommonOptions& options, const std::string& name, bool dry_run) {
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
  if (!name.empty() && selected.front().policy.empty()) {
    std::cerr << "posturectl: cache '" << name << "' has no policy (cache.policy in " << config->source.string()
              << ")\n";
    return 2;
  }
  const auto master = open_master_key_store(config->agent.state_dir)->load(false);
  const privacy::PanDetector detector(config->scan.ignore_pans);
  privacy::EnforceOptions enforce;
  enforce.dry_run = dry_run;
  enforce.lock_wait = kInteractiveWait;

  std::vector<privacy::CacheEnforcement> results;
  for (const auto& cache : selected) {
    auto result =
        privacy::enforce_cache(cache, config->agent.state_dir, master.key.value_or(SecretKey{}), detector, enforce);
    if (!master.key && result.outcome == privacy::CacheEnforcement::Outcome::failed) {
      result.error += " (cannot use the master key: " + master.error + ")";
    }
    for (const auto& e : result.policy_errors) std::cerr << e.to_string() << "\n";
    results.push_back(std::move(result));
  }
  if (options.json) {
    auto list = nlohmann::ordered_json::array();
    for (const auto& r : results) list.push_back(privacy::to_json(r));
    std::cout << nlohmann::ordered_json{{"schema", "postured.cache_enforce/v1"}, {"dry_run", dry_run}, {"caches", list}}
                     .dump(2)
              << "\n";
  } else {
    for (const auto& r : results) print_enforcement(r, dry_run);
  }
  std::cout.flush();
  if (!std::cout) return 3;
  return combined_exit_code(results);
}

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
