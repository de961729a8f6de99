// Applies a cache's minimization and retention policy to the encrypted cache: purges rows (delete_row_if,
// then retention), transforms values, and looks for PANs and track data in every text value.
//
// Crash safety: every batch of at most kBatchRows rows is one transaction (BEGIN IMMEDIATE ... COMMIT),
// and every transform is idempotent, so a kill at any point leaves a consistent cache in which
// each row is either untouched or fully processed by its batch; the next run finishes the job.
// A batch decides and writes inside the same transaction, so a row that the POS software updates
// meanwhile is judged on its new values.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/config.hpp"
#include "core/secret.hpp"
#include "privacy/pan_detector.hpp"
#include "privacy/policy.hpp"
#include "privacy/transforms.hpp"

struct sqlite3;

namespace postured::privacy {

// Rows per transaction, for purges and transforms: small enough that the POS software's own writes
// wait at most a few tens of milliseconds for the cache, large enough to amortise each commit.
inline constexpr std::size_t kBatchRows = 5000;
// Rows that retention reads per transaction at most, when few of them are expired.
inline constexpr std::size_t kRetentionScanRows = 50000;
// Findings listed per cache in a result; the counts always include all of them.
inline constexpr std::size_t kMaxListedFindings = 1000;

struct TableFigures {
  std::string table;
  bool covered = false;  // the policy names the table; otherwise it is only scanned for PANs
  long long condition_purged = 0;
  long long retention_purged = 0;
  long long null_timestamps = 0;         // never purged
  long long unparseable_timestamps = 0;  // never purged
  long long transformed_values = 0;
  std::map<std::string, long long> transformed_by_column;
  std::map<std::string, long long> unparseable_by_column;  // generalize could not read; left as they were
  long long pan_findings = 0;
  std::vector<std::string> unlisted_columns;  // unlisted_columns = "report": not named by the policy

  long long purged_rows() const { return condition_purged + retention_purged; }
};

// A PAN or track in a cache cell: the masked number and where it is, never the cell.
struct CacheFinding {
  FindingKind kind = FindingKind::pan;
  CardBrand brand = CardBrand::visa;
  std::string masked;
  std::string table;
  std::string column;
  long long rowid = 0;
  std::string action;  // reported (left in place), nulled, truncated, hashed, masked or generalized
};

struct EnforcementFigures {
  std::vector<TableFigures> tables;
  std::vector<CacheFinding> findings;  // the first kMaxListedFindings
  long long findings_not_listed = 0;
  long long pans_left = 0;             // findings whose action is "reported": card data still in the cache
  bool interrupted = false;            // a stop was requested; the batches done so far are committed
  bool auto_vacuum_converted = false;  // the one-time switch to auto_vacuum = INCREMENTAL (would be, in a dry run)
  long long freed_pages = 0;           // reclaimed by incremental_vacuum (free now, in a dry run)
  std::string vacuum_error;            // the vacuum step failed (the purges and transforms stand)

  long long purged_rows() const;
  long long transformed_values() const;
  long long pan_findings() const;
};

struct EnforceOptions {
  bool dry_run = false;  // change nothing; report what would change
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();  // retention's "today"
  std::size_t batch_rows = kBatchRows;
  std::chrono::seconds lock_wait{30};  // for the vault's per-cache lock (a migration or rotation)
  std::stop_token stop;                // checked between batches
};

// Thrown for an SQLite failure during enforcement (I/O, a busy cache, a constraint).
class EnforcementError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The user tables of an open cache (virtual tables and SQLite's own left out), with what stage 2
// of policy validation needs.
std::vector<TableSchema> read_schema(sqlite3* db);

// delete_row_if, then retention, on one table of an open connection, keyed or plaintext; adds to
// `figures`. Throws EnforcementError.
void purge_table(sqlite3* db, const TableSchema& table, const TablePolicy& rules, const EnforceOptions& options,
                 TableFigures& figures);

// The whole policy on an open connection (purges, transforms, PAN scan of every table); no vacuum.
// `schema` must have passed check_policy_against. Adds to `figures`, also when it throws EnforcementError.
void apply_policy(sqlite3* db, const std::vector<TableSchema>& schema, const MinimizationPolicy& policy,
                  const Transformer& transformer, const PanDetector& detector, const EnforceOptions& options,
                  EnforcementFigures& figures);

// One cache's enforcement run, as the CLI and the daemon report it.
struct CacheEnforcement {
  enum class Outcome { enforced, dry_run, no_policy, missing, not_encrypted, policy_error, failed, interrupted };
  std::string cache;
  std::filesystem::path path;
  std::filesystem::path policy;
  std::string policy_sha256;
  Outcome outcome = Outcome::failed;
  std::string error;                       // for a person: why it was refused or failed
  std::vector<ConfigError> policy_errors;  // stage 1 or stage 2, as FILE:LINE:COL: message
  std::string started_at;                  // RFC 3339 UTC
  std::string finished_at;
  EnforcementFigures figures;

  // DESIGN.md's exit codes: 2 policy error, 3 runtime failure, 1 card data left or not encrypted, else 0.
  int exit_code() const;
};

std::string_view to_string(CacheEnforcement::Outcome outcome);

// Loads the cache's policy, opens the cache with its current key (never a plaintext cache), checks
// the policy against its schema and applies it; then reclaims free pages. Holds the vault's lock on
// the cache throughout, so it never overlaps a migration or rotation. A real run (not a dry run)
// is recorded as evidence (evidence.hpp).
CacheEnforcement enforce_cache(const CacheConfig& cache, const std::filesystem::path& state_dir,
                               const SecretKey& master, const PanDetector& detector, const EnforceOptions& options);

// {cache, path, policy, outcome, ..., tables: [...], findings: [...]}: counts and masked values only.
nlohmann::ordered_json to_json(const CacheEnforcement& result);

}  // namespace postured::privacy
