#include "daemon/cycle.hpp"

#include <ctime>

#include <nlohmann/json.hpp>

#include "cache/cache_vault.hpp"
#include "core/atomic_file.hpp"
#include "core/log.hpp"
#include "core/report.hpp"

namespace postured {
namespace {

std::string rfc3339_utc(std::chrono::system_clock::time_point when) {
  const auto t = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace

nlohmann::ordered_json process_caches(const Config& config, const SecretKey& master, bool& problems) {
  CacheVault vault(config.agent.state_dir, master);
  auto caches = nlohmann::ordered_json::array();
  for (const auto& cache : config.caches) {
    if (is_plaintext_sqlite(cache.path)) {
      // No waiting in the daemon: a cache that the POS software has open is migrated next cycle.
      const auto result = vault.encrypt(cache, std::chrono::seconds(0));
      switch (result.outcome) {
        case CacheOperation::Outcome::done: log::info("cache ", cache.name, ": ", result.detail); break;
        case CacheOperation::Outcome::busy: log::info("cache ", cache.name, ": not migrated yet: ", result.detail); break;
        case CacheOperation::Outcome::failed: log::error("cache ", cache.name, ": ", result.detail); break;
        case CacheOperation::Outcome::nothing_to_do: break;
      }
    }
    const auto status = vault.status(cache);
    if (status.is_problem()) {
      problems = true;
      log::warn("cache ", cache.name, ": ", status.encrypted ? "unreadable: " + status.error : "not encrypted");
    }
    caches.push_back(to_json(status));
  }
  return caches;
}

CycleResult run_cycle(const CheckList& checks, const Host& host, const Config& config, const SecretKey& master) {
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

  bool cache_problems = false;
  auto document = to_doctor_json(report);
  document["caches"] = process_caches(config, master, cache_problems);
  document["generated_at"] = rfc3339_utc(started);
  std::error_code ec;
  fs::create_directories(config.agent.state_dir, ec);
  if (!ec) fs::permissions(config.agent.state_dir, fs::perms::owner_all, ec);
  if (ec) {
    log::error("cannot prepare the state directory ", config.agent.state_dir, ": ", ec.message());
    return {false, report.has_problems() || cache_problems};
  }
  const auto path = config.agent.state_dir / "last-report.json";
  if (const auto write_error = write_file_atomically(path, document.dump(2) + "\n", fs::perms::owner_read | fs::perms::owner_write)) {
    log::error("cannot write ", path, ": ", write_error.message());
    return {false, report.has_problems() || cache_problems};
  }
  return {true, report.has_problems() || cache_problems};
}

}  // namespace postured
