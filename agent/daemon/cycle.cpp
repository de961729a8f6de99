#include "daemon/cycle.hpp"

#include <ctime>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cache/cache_vault.hpp"
#include "core/atomic_file.hpp"
#include "core/log.hpp"
#include "core/priority.hpp"
#include "core/report.hpp"
#include "core/text.hpp"
#include "privacy/enforcer.hpp"
#include "privacy/evidence.hpp"
#include "privacy/folder_scan.hpp"
#include "patch/patch_level.hpp"

namespace postured {
namespace {

constexpr auto kOwnerOnly = std::filesystem::perms::owner_read | std::filesystem::perms::owner_write;

// Migrates plaintext caches; no waiting in the daemon: a cache that the POS software has open is
// migrated next cycle.
void migrate_caches(const Config& config, const SecretKey& master) {
  CacheVault vault(config.agent.state_dir, master);
  for (const auto& cache : config.caches) {
    if (!is_plaintext_sqlite(cache.path)) continue;
    const auto result = vault.encrypt(cache, std::chrono::seconds(0));
    switch (result.outcome) {
      case CacheOperation::Outcome::done: log::info("cache ", cache.name, ": ", result.detail); break;
      case CacheOperation::Outcome::busy: log::info("cache ", cache.name, ": not migrated yet: ", result.detail); break;
      case CacheOperation::Outcome::failed: log::error("cache ", cache.name, ": ", result.detail); break;
      case CacheOperation::Outcome::nothing_to_do: break;
    }
  }
}

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

void log_enforcement(const privacy::CacheEnforcement& r) {
  using Outcome = privacy::CacheEnforcement::Outcome;
  for (const auto& e : r.policy_errors) log::error("cache ", r.cache, ": policy: ", e.to_string());
  switch (r.outcome) {
    case Outcome::enforced:
      log::info("cache ", r.cache, ": policy enforced: ", r.figures.purged_rows(), " rows purged, ",
                r.figures.transformed_values(), " values transformed, ", r.figures.pan_findings(), " PANs found");
      break;
    case Outcome::no_policy:
    case Outcome::missing:
    case Outcome::dry_run: break;
    case Outcome::interrupted: log::info("cache ", r.cache, ": enforcement ", r.error); break;
    default: log::error("cache ", r.cache, ": policy not enforced: ", r.error); break;
  }
  if (r.figures.pans_left > 0) {
    log::warn("cache ", r.cache, ": ", r.figures.pans_left, " card numbers or tracks left in place by its policy");
  }
}

}  // namespace

bool enforce_policies(const Config& config, const SecretKey& master, std::stop_token stop) {
  const privacy::PanDetector detector(config.scan.ignore_pans);
  privacy::EnforceOptions options;
  options.stop = stop;
  options.lock_wait = std::chrono::seconds(0);  // a cache being migrated or rotated is enforced next time
  bool problems = false;
  for (const auto& cache : config.caches) {
    if (stop.stop_requested()) break;
    if (cache.policy.empty()) continue;
    options.now = std::chrono::system_clock::now();
    const auto result = privacy::enforce_cache(cache, config.agent.state_dir, master, detector, options);
    log_enforcement(result);
    problems = problems || result.exit_code() != 0;
  }
  return problems;
}

bool scan_configured_folders(const Config& config, const SecretKey& master) {
  if (config.scan_folders.empty()) return false;
  lower_own_priority();  // this thread only: the loop keeps its priority
  const auto started = std::chrono::system_clock::now();
  const auto result = privacy::scan_folders(config, master);
  for (const auto& location : result.locations) {
    log::warn("scan: ", location.path.string(), ": ", location.count, " card numbers or tracks, ", location.result,
              location.error.empty() ? "" : " (" + location.error + ")");
  }
  auto block = privacy::to_json(result);
  block["scanned_at"] = text::rfc3339_utc(started);
  const auto path = config.agent.state_dir / "last-scan.json";
  if (const auto error = write_file_atomically(path, block.dump(2) + "\n", kOwnerOnly)) {
    log::error("cannot write ", path, ": ", error.message());
  }
  log::info("scan: ", result.locations.size(), " files with card data in ", config.scan_folders.size(), " folders");
  return !result.locations.empty() || result.action_failed();
}

bool BackgroundRun::start(std::function<void(std::stop_token)> job) {
  if (running_.exchange(true)) return false;
  // The previous thread has finished (running_ was false); assigning joins it.
  thread_ = std::jthread([this, job = std::move(job)](std::stop_token stop) {
    job(stop);
    running_ = false;
  });
  return true;
}

namespace {

// The last scheduled scan's block, or null when no scan has run (or no folder is configured).
nlohmann::ordered_json last_scan(const Config& config) {
  if (config.scan_folders.empty()) return nullptr;
  std::ifstream in(config.agent.state_dir / "last-scan.json");
  auto block = nlohmann::ordered_json::parse(in, nullptr, false);
  return block.is_discarded() ? nlohmann::ordered_json(nullptr) : block;
}

}  // namespace

CycleResult run_cycle(const CheckList& checks, const Host& host, const Config& config, const SecretKey& master,
                      bool full) {
  namespace fs = std::filesystem;
  const auto started = std::chrono::system_clock::now();
  const auto steady_start = std::chrono::steady_clock::now();
  const auto report = inspect_device(checks, host, config, started);
  const auto s = report.summary();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - steady_start);
  log::info("cycle: ", s.pass, " passed, ", s.fail, " failed, ", s.error, " errors, ", s.not_applicable,
            " not applicable in ", took.count(), " ms");
  for (const auto& r : report.checks) {
    if (r.outcome.status == Status::fail || r.outcome.status == Status::error) {
      log::warn("check ", r.info.id, " ", to_string(r.outcome.status), ": ", r.outcome.evidence);
    }
  }

  migrate_caches(config, master);
  bool cache_problems = full && enforce_policies(config, master);
  const bool scan_problems = full && scan_configured_folders(config, master);
  auto document = to_doctor_json(report);
  document["caches"] = cache_report(config, master, cache_problems);
  document["patch"] = patch::patch_report(host, config);
  document["scan"] = last_scan(config);
  document["generated_at"] = text::rfc3339_utc(started);
  std::error_code ec;
  fs::create_directories(config.agent.state_dir, ec);
  if (!ec) fs::permissions(config.agent.state_dir, fs::perms::owner_all, ec);
  if (ec) {
    log::error("cannot prepare the state directory ", config.agent.state_dir, ": ", ec.message());
    return {false, report.has_problems() || cache_problems || scan_problems};
  }
  const auto path = config.agent.state_dir / "last-report.json";
  if (const auto write_error = write_file_atomically(path, document.dump(2) + "\n", kOwnerOnly)) {
    log::error("cannot write ", path, ": ", write_error.message());
    return {false, report.has_problems() || cache_problems || scan_problems};
  }
  return {true, report.has_problems() || cache_problems || scan_problems};
}

}  // namespace postured
