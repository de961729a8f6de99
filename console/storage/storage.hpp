// The console's storage, behind one interface with two backends tested alike: SQLite (embedded, WAL;
// the default for a pilot) and PostgreSQL (libpq; for a fleet that outgrows one machine).
//
// The backend stores and queries; it does not interpret reports. The ingest path turns a validated
// postured.report/v1 document into a DeviceState (console/report_model) and hands both to the backend.
// Everything a query returns is counts, ids and masked values: reports carry no cache data.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace postured::console {

using Clock = std::chrono::system_clock;

// A storage failure (connection lost, disk full, schema newer than this build). The message names the
// backend and what it was doing; it never contains report content.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- enrollment tokens -----------------------------------------------------------------------------

struct TokenRecord {
  std::string token_hash;   // hex SHA-256 of the token; the token itself is shown once and never stored
  std::string store_id;
  int uses_allowed = 1;
  int uses_left = 1;
  Clock::time_point created_at;
  Clock::time_point expires_at;
};

enum class TokenUse { accepted, unknown, expired, exhausted };

// ---- devices and their latest state -------------------------------------------------------------------

struct EnrolledCertificate {
  std::string device_id;  // the certificate's CN
  std::string store_id;   // from the token, also in the certificate's subject (OU)
  std::string serial;     // hex, as the console issued it
  Clock::time_point not_after;
  Clock::time_point issued_at;
};

// One check's latest result on a device (for "failing checks ranked" and ?check= filters).
struct CheckState {
  std::string id;
  std::string title;
  std::string status;    // pass | fail | error | not_applicable
  std::string severity;  // low | medium | high | critical
};

// What the latest report said, reduced to what the fleet views filter and count on.
struct DeviceState {
  std::string device_id;
  std::string store_id;
  std::string hostname;
  std::string os_pretty_name;
  std::string agent_version;
  std::string status;  // "fail" if any check failed, else "error" if any errored, else "pass"
  int checks_pass = 0;
  int checks_fail = 0;
  int checks_error = 0;
  int caches_total = 0;
  int caches_unencrypted = 0;
  std::int64_t pan_findings = 0;           // caches + scanned files
  int packages_below_baseline = 0;
  int pending_security_updates = -1;       // -1: unknown
  std::optional<Clock::time_point> last_security_update_at;
  bool reboot_required = false;
  std::vector<CheckState> checks;
};

struct IncomingReport {
  std::string report_id;  // UUID from the agent; the deduplication key
  std::string device_id;  // from the client certificate, never from the body
  Clock::time_point generated_at;
  Clock::time_point received_at;
  std::string json;       // the validated report as received (uncompressed)
  DeviceState state;
};

enum class IngestOutcome {
  stored,
  duplicate,  // the same device sent this report id before: acknowledge, store nothing
  conflict,   // the report id is stored for another device: refuse, never acknowledge
};

enum class EnrollmentState {
  unknown,   // never enrolled: may enroll
  active,    // holds a certificate that is not revoked: may not enroll again (409 device_exists)
  released,  // `device release`: every certificate revoked, and the device may enroll once more
  revoked,   // `device revoke`: refused for good
};

struct DeviceFilter {
  std::string store_id;  // empty: any
  std::string status;    // pass | fail | error | stale; empty: any
  std::string check_id;  // only devices whose latest result for this check is fail or error
  std::string search;    // substring of device id or hostname
  Clock::duration stale_after = std::chrono::hours(24);  // for status == "stale"
  std::size_t limit = 1000;
  std::size_t offset = 0;
};

struct DeviceSummary {
  DeviceState state;  // checks left empty in lists
  Clock::time_point enrolled_at;
  std::optional<Clock::time_point> last_seen_at;  // received_at of the latest report
  std::string last_report_id;
  std::optional<Clock::time_point> certificate_not_after;
  bool revoked = false;
};

struct ReportMeta {
  std::string report_id;
  Clock::time_point generated_at;
  Clock::time_point received_at;
  std::string status;
};

struct DeviceDetail {
  DeviceSummary summary;           // state.checks filled
  std::optional<std::string> latest_report_json;  // the raw latest report, if retention kept it
  std::vector<ReportMeta> history; // newest first
};

struct StoreSummary {
  std::string store_id;
  int devices = 0;
  int passing = 0;
  int failing = 0;
  int erroring = 0;
  int stale = 0;
  int caches_unencrypted = 0;
  std::int64_t pan_findings = 0;
};

struct FailingCheck {
  std::string id;
  std::string title;
  std::string severity;
  int devices = 0;  // devices whose latest result is fail or error
};

struct FleetSummary {
  int devices = 0;
  int passing = 0;
  int failing = 0;
  int erroring = 0;
  int never_reported = 0;
  int stale = 0;                 // last report older than stale_after (or enrolled and never reported)
  int revoked = 0;
  int caches_unencrypted = 0;    // summed over devices
  int devices_with_unencrypted_caches = 0;
  std::int64_t pan_findings = 0;
  int devices_with_pan_findings = 0;
  int devices_behind_on_patches = 0;  // packages_below_baseline > 0 or pending_security_updates > 0
  int reboot_required = 0;
  std::vector<FailingCheck> failing_checks;  // most devices first
  std::int64_t reports_stored = 0;
};

// ---- the interface ------------------------------------------------------------------------------------

class Storage {
 public:
  virtual ~Storage() = default;

  virtual std::string backend() const = 0;  // "sqlite" | "postgresql"
  // The schema version after open() ran the migrations this build knows.
  virtual int schema_version() = 0;

  virtual void add_token(const TokenRecord& token) = 0;
  // Atomically spends one use of the token when it is known, unexpired and not used up.
  // On accepted, `store_id` is set to the token's store.
  virtual TokenUse use_token(const std::string& token_hash, Clock::time_point now, std::string& store_id) = 0;
  // The token as stored, without spending a use (to check its store before signing anything).
  virtual std::optional<TokenRecord> find_token(const std::string& token_hash) = 0;

  // Records a certificate issued at enrollment (a device that re-enrolls gets a new row; the device
  // keeps its history). A revoked device id may not enroll again until un-revoked (not offered).
  virtual void record_enrollment(const EnrolledCertificate& certificate) = 0;
  // Revokes every certificate of the device; false if the device is unknown.
  virtual bool revoke_device(const std::string& device_id, Clock::time_point now) = 0;
  virtual bool is_revoked(const std::string& device_id) = 0;
  // Whether the device may enroll (see EnrollmentState).
  virtual EnrollmentState enrollment_state(const std::string& device_id) = 0;
  // Revokes every certificate of the device and lets it enroll once more (a reinstalled terminal that
  // lost its key). A revoked device is released too. False if the device is unknown.
  virtual bool release_device(const std::string& device_id, Clock::time_point now) = 0;
  // Serials of every revoked certificate, for the handshake's check.
  virtual std::vector<std::string> revoked_serials() = 0;

  // Stores each report and updates its device's latest state, in one transaction per call.
  // A report id seen before is a duplicate: acknowledged, not stored again. Results in input order.
  virtual std::vector<IngestOutcome> store_reports(const std::vector<IncomingReport>& reports) = 0;

  virtual std::vector<DeviceSummary> devices(const DeviceFilter& filter, Clock::time_point now) = 0;
  virtual std::optional<DeviceDetail> device(const std::string& device_id, std::size_t history_limit) = 0;
  virtual std::vector<StoreSummary> stores(Clock::time_point now, Clock::duration stale_after) = 0;
  virtual FleetSummary summary(Clock::time_point now, Clock::duration stale_after) = 0;

  // Deletes raw reports received before `cutoff`, except each device's latest. Returns how many went.
  virtual std::size_t apply_retention(Clock::time_point cutoff) = 0;
};

// Opens (creating and migrating as needed) the storage named by `url`: "postgresql://..." or
// "postgres://..." for PostgreSQL, "sqlite:PATH" or a plain path for SQLite. Throws StorageError.
std::unique_ptr<Storage> open_storage(const std::string& url);

}  // namespace postured::console
