// Evidence of enforcement for audits (PCI DSS v4.0 3.2.1: retention is checked at least every three
// months), and the last run's figures for the daemon's report. Counts only, never values.
//
//   <state_dir>/evidence/<cache>.jsonl          one JSON line per real run, appended and fsynced (0600, folder 0700)
//   <state_dir>/caches/<cache>.enforcement.json  the last run's figures, replaced atomically (0600)
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include "privacy/enforcer.hpp"

namespace postured::privacy {

// The last enforcement run of one cache, as the report shows it.
struct LastEnforcement {
  std::string at;       // finished_at, RFC 3339 UTC
  std::string outcome;  // enforced, failed, interrupted
  long long purged_rows = 0;
  long long transformed_values = 0;
  long long pan_findings = 0;
  long long pans_left = 0;
};

// Appends the run to the cache's evidence file and replaces its last-run figures.
std::error_code record_enforcement(const std::filesystem::path& state_dir, const CacheEnforcement& run);
// The evidence line of a run: {schema, cache, started_at, finished_at, outcome, policy, policy_sha256, totals, tables}.
std::string evidence_line(const CacheEnforcement& run);
// The last recorded run of `cache`, if any.
std::optional<LastEnforcement> load_last_enforcement(const std::filesystem::path& state_dir, const std::string& cache);

}  // namespace postured::privacy
