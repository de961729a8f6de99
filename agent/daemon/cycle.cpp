#include "daemon/cycle.hpp"

#include <ctime>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cache/cache_vault.hpp"
#include "core/atomic_file.hpp"
#include "core/log.hpp"
#include "core/priority.hpp"
#include "core/report.hpp"
#include "daemon/report_document.hpp"
#include "daemon/reporting.hpp"
#include "core/text.hpp"
#include "privacy/enforcer.hpp"
#include "privacy/evidence.hpp"
#include "privacy/folder_scan.hpp"

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

CycleResult run_cycle(const CheckList& checks, const Host& host, const Config& config, const SecretKey& master,
                      bool full, ReportingService* reporting) {
  namespace fs = std::filesystem;
  const auto started = std::chrono::system_clock::now();
  const auto steady_start = std::chrono::steady_clock::now();
  migrate_caches(config, master);
  bool cache_problems = full && enforce_policies(config, master);
  const bool scan_problems = full && scan_configured_folders(config, master);
  auto built = build_report(checks, host, config, master, started);
  const auto& report = built.inspection;
  const auto s = report.summary();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - steady_start);
  log::info("cycle: ", s.pass, " passed, ", s.fail, " failed, ", s.error, " errors, ", s.not_applicable,
            " not applicable in ", took.count(), " ms");
  for (const auto& r : report.checks) {
    if (r.outcome.status == Status::fail || r.outcome.status == Status::error) {
      log::warn("check ", r.info.id, " ", to_string(r.outcome.status), ": ", r.outcome.evidence);
    }
  }
  cache_problems = cache_problems || built.cache_problems;
  const bool problems = report.has_problems() || cache_problems || scan_problems;
  auto& document = built.document;
  if (reporting != nullptr && reporting->enabled()) document["transport"] = reporting->transport_block();
  std::error_code ec;
  fs::create_directories(config.agent.state_dir, ec);
  if (!ec) fs::permissions(config.agent.state_dir, fs::perms::owner_all, ec);
  if (ec) {
    log::error("cannot prepare the state directory ", config.agent.state_dir, ": ", ec.message());
    return {false, problems};
  }
  const auto text = document.dump(2) + "\n";
  const auto path = config.agent.state_dir / "last-report.json";
  if (const auto write_error = write_file_atomically(path, text, kOwnerOnly)) {
    log::error("cannot write ", path, ": ", write_error.message());
    return {false, problems};
  }
  // Into the spool (committed) before any attempt to send it; the sender's thread takes it from there.
  if (reporting != nullptr && reporting->enabled() && !reporting->submit(built.report_id(), document.dump())) {
    return {false, problems};
  }
  return {true, problems};
}

}  // namespace postured
