// The console's schema and every statement both backends run, written once in the SQL that SQLite 3.46
// and PostgreSQL 15 share (BIGINT, partial indexes, ON CONFLICT, RETURNING, aggregate FILTER), with `?`
// placeholders that the PostgreSQL backend renumbers to $1, $2, ... So the two backends cannot drift.
//
// Times are BIGINT unix nanoseconds (UTC); booleans are INTEGER 0/1 (one spelling for both databases).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "storage/batch_plan.hpp"
#include "storage/storage.hpp"

namespace postured::console::schema {

struct Migration {
  int version;
  const char* purpose;
  const char* sql;  // statements separated by ';', run in one transaction with the version's row
};

inline constexpr const char* create_migrations_table =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)";
inline constexpr const char* current_version = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
inline constexpr const char* record_version = "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)";

// Append only: a released migration is never edited, a change is a new version.
inline const Migration migrations[] = {
    {1, "tokens, devices, certificates, device_checks, reports, counters",
     // Enrollment tokens by hash; uses_left never goes below zero, even under racing enrollments.
     "CREATE TABLE tokens ("
     " token_hash TEXT PRIMARY KEY, store_id TEXT NOT NULL,"
     " uses_allowed INTEGER NOT NULL, uses_left INTEGER NOT NULL CHECK (uses_left >= 0),"
     " created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);"
     // One row per device: enrollment, revocation and the latest report's state (status NULL until the
     // first report), so that fleet views read one narrow table and never parse report bodies.
     "CREATE TABLE devices ("
     " device_id TEXT PRIMARY KEY, store_id TEXT NOT NULL, enrolled_at BIGINT NOT NULL,"
     " revoked_at BIGINT, certificate_not_after BIGINT,"
     " hostname TEXT NOT NULL DEFAULT '', os_pretty_name TEXT NOT NULL DEFAULT '',"
     " agent_version TEXT NOT NULL DEFAULT '', status TEXT,"
     " checks_pass INTEGER NOT NULL DEFAULT 0, checks_fail INTEGER NOT NULL DEFAULT 0,"
     " checks_error INTEGER NOT NULL DEFAULT 0, caches_total INTEGER NOT NULL DEFAULT 0,"
     " caches_unencrypted INTEGER NOT NULL DEFAULT 0, pan_findings BIGINT NOT NULL DEFAULT 0,"
     " packages_below_baseline INTEGER NOT NULL DEFAULT 0, pending_security_updates INTEGER NOT NULL DEFAULT -1,"
     " last_security_update_at BIGINT, reboot_required INTEGER NOT NULL DEFAULT 0,"
     " last_seen_at BIGINT, last_report_id TEXT, last_generated_at BIGINT);"
     "CREATE INDEX devices_by_store ON devices (store_id);"
     "CREATE INDEX devices_by_status ON devices (status);"
     "CREATE INDEX devices_by_last_seen ON devices (last_seen_at);"
     // Every certificate issued; the handshake refuses the revoked serials.
     "CREATE TABLE certificates ("
     " serial TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices (device_id),"
     " store_id TEXT NOT NULL, issued_at BIGINT NOT NULL, not_after BIGINT NOT NULL, revoked_at BIGINT);"
     "CREATE INDEX certificates_by_device ON certificates (device_id);"
     "CREATE INDEX certificates_revoked ON certificates (serial) WHERE revoked_at IS NOT NULL;"
     // Each device's latest result per check, for ?check= filters and the failing-checks ranking.
     "CREATE TABLE device_checks ("
     " device_id TEXT NOT NULL REFERENCES devices (device_id), check_id TEXT NOT NULL,"
     " title TEXT NOT NULL, status TEXT NOT NULL, severity TEXT NOT NULL, PRIMARY KEY (device_id, check_id));"
     "CREATE INDEX device_checks_by_check ON device_checks (check_id, status);"
     // Every report received (the deduplication key and the history); retention clears old bodies.
     "CREATE TABLE reports ("
     " report_id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices (device_id),"
     " generated_at BIGINT NOT NULL, received_at BIGINT NOT NULL, status TEXT NOT NULL, body TEXT);"
     "CREATE INDEX reports_by_device ON reports (device_id, generated_at);"
     "CREATE INDEX reports_with_body ON reports (received_at) WHERE body IS NOT NULL;"
     // Running totals that would otherwise need a full scan of reports on every dashboard load.
     "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);"
     "INSERT INTO counters (name, value) VALUES ('reports_stored', 0)"},
    {2, "devices.released_at: a released device may enroll once more",
     // Set by `device release` (every certificate revoked, revoked_at cleared), cleared by the next
     // enrollment. A device row without it is active or revoked; see enrollment_state().
     "ALTER TABLE devices ADD COLUMN released_at BIGINT"},
};
inline constexpr int latest_version = 2;

// ---- tokens and enrollment ------------------------------------------------------------------------------
inline constexpr const char* insert_token =
    "INSERT INTO tokens (token_hash, store_id, uses_allowed, uses_left, created_at, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?)";
// One statement, so two enrollments racing on the last use cannot both get it.
inline constexpr const char* spend_token =
    "UPDATE tokens SET uses_left = uses_left - 1"
    " WHERE token_hash = ? AND uses_left > 0 AND expires_at > ? RETURNING store_id";
inline constexpr const char* token_state = "SELECT expires_at, uses_left FROM tokens WHERE token_hash = ?";
inline constexpr const char* find_token =
    "SELECT token_hash, store_id, uses_allowed, uses_left, created_at, expires_at FROM tokens WHERE token_hash = ?";
// A device row may take a new enrollment when it is new, released, its certificates have all expired
// (the last placeholder: the new certificate's issued_at), or the enrollment keeps its store (a renewal).
// Otherwise, and always when the device is revoked, the update matches nothing: an active device never
// moves to another store because someone holds a token for that store. A released device's old
// certificates are revoked, so its certificate_not_after becomes the new certificate's.
inline constexpr const char* enroll_device =
    "INSERT INTO devices (device_id, store_id, enrolled_at, certificate_not_after) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (device_id) DO UPDATE SET store_id = excluded.store_id, released_at = NULL,"
    " certificate_not_after = CASE WHEN devices.released_at IS NOT NULL OR devices.certificate_not_after IS NULL"
    "  OR devices.certificate_not_after < excluded.certificate_not_after"
    "  THEN excluded.certificate_not_after ELSE devices.certificate_not_after END"
    " WHERE devices.revoked_at IS NULL AND (devices.store_id = excluded.store_id OR devices.released_at IS NOT NULL"
    "  OR devices.certificate_not_after <= ?)";
// What enrollment_state() decides on.
inline constexpr const char* device_enrollment =
    "SELECT revoked_at, released_at, certificate_not_after, store_id FROM devices WHERE device_id = ?";
inline constexpr const char* insert_certificate =
    "INSERT INTO certificates (serial, device_id, store_id, issued_at, not_after) VALUES (?, ?, ?, ?, ?)";
inline constexpr const char* revoke_device =
    "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?) WHERE device_id = ?";
inline constexpr const char* revoke_certificates =
    "UPDATE certificates SET revoked_at = COALESCE(revoked_at, ?) WHERE device_id = ?";
// Release: the device is no longer revoked (if it was) and may enroll once; its certificates are revoked
// by revoke_certificates in the same transaction.
inline constexpr const char* release_device =
    "UPDATE devices SET revoked_at = NULL, released_at = COALESCE(released_at, ?) WHERE device_id = ?";
inline constexpr const char* device_revoked_at = "SELECT revoked_at FROM devices WHERE device_id = ?";
inline constexpr const char* revoked_serials =
    "SELECT serial FROM certificates WHERE revoked_at IS NOT NULL ORDER BY serial";

// ---- ingest ----------------------------------------------------------------------------------------------
// A report from a device this database never enrolled (its certificate is still signed by our CA, e.g.
// after a database restore) still lands, under a device row made from the report.
inline constexpr const char* ensure_device =
    "INSERT INTO devices (device_id, store_id, enrolled_at) VALUES (?, ?, ?) ON CONFLICT (device_id) DO NOTHING";
// Which device a report id belongs to (a report id not stored by this batch: duplicate or conflict).
inline constexpr const char* report_owner = "SELECT device_id FROM reports WHERE report_id = ?";
inline constexpr const char* insert_report =
    "INSERT INTO reports (report_id, device_id, generated_at, received_at, status, body)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (report_id) DO NOTHING";
// The state only moves forward: a report generated before the device's latest (a spool replayed late)
// is stored and listed in the history, but does not overwrite newer state.
inline constexpr const char* apply_state =
    "UPDATE devices SET hostname = ?, os_pretty_name = ?, agent_version = ?, status = ?,"
    " checks_pass = ?, checks_fail = ?, checks_error = ?, caches_total = ?, caches_unencrypted = ?,"
    " pan_findings = ?, packages_below_baseline = ?, pending_security_updates = ?,"
    " last_security_update_at = ?, reboot_required = ?, last_report_id = ?, last_generated_at = ?,"
    " last_seen_at = CASE WHEN last_seen_at IS NULL OR last_seen_at < ? THEN ? ELSE last_seen_at END"
    " WHERE device_id = ? AND (last_generated_at IS NULL OR last_generated_at <= ?)";
inline constexpr const char* touch_device =
    "UPDATE devices SET last_seen_at = CASE WHEN last_seen_at IS NULL OR last_seen_at < ? THEN ? ELSE last_seen_at"
    " END WHERE device_id = ?";
inline constexpr const char* delete_check = "DELETE FROM device_checks WHERE device_id = ? AND check_id = ?";
inline constexpr const char* upsert_check =
    "INSERT INTO device_checks (device_id, check_id, title, status, severity) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (device_id, check_id) DO UPDATE SET title = excluded.title, status = excluded.status,"
    " severity = excluded.severity";
inline constexpr const char* count_stored = "UPDATE counters SET value = value + ? WHERE name = 'reports_stored'";

// ---- queries ---------------------------------------------------------------------------------------------
// The columns read_device_summary() expects, in its order.
inline constexpr const char* device_columns =
    "d.device_id, d.store_id, d.hostname, d.os_pretty_name, d.agent_version, d.status, d.checks_pass,"
    " d.checks_fail, d.checks_error, d.caches_total, d.caches_unencrypted, d.pan_findings,"
    " d.packages_below_baseline, d.pending_security_updates, d.last_security_update_at, d.reboot_required,"
    " d.enrolled_at, d.last_seen_at, d.last_report_id, d.certificate_not_after, d.revoked_at";
inline constexpr const char* device_checks =
    "SELECT check_id, title, status, severity FROM device_checks WHERE device_id = ? ORDER BY check_id";
inline constexpr const char* report_body = "SELECT body FROM reports WHERE report_id = ? AND body IS NOT NULL";
inline constexpr const char* report_history =
    "SELECT report_id, generated_at, received_at, status FROM reports WHERE device_id = ?"
    " ORDER BY generated_at DESC, received_at DESC, report_id DESC LIMIT ?";
// Revoked devices are out of every health count (a decommissioned terminal is not "stale"); they are
// counted once, as revoked.
inline constexpr const char* fleet_counts =
    "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'pass'), COUNT(*) FILTER (WHERE status = 'fail'),"
    " COUNT(*) FILTER (WHERE status = 'error'), COUNT(*) FILTER (WHERE last_report_id IS NULL),"
    " COUNT(*) FILTER (WHERE last_seen_at IS NULL OR last_seen_at < ?),"
    " COALESCE(SUM(caches_unencrypted), 0), COUNT(*) FILTER (WHERE caches_unencrypted > 0),"
    " COALESCE(SUM(pan_findings), 0), COUNT(*) FILTER (WHERE pan_findings > 0),"
    " COUNT(*) FILTER (WHERE packages_below_baseline > 0 OR pending_security_updates > 0),"
    " COUNT(*) FILTER (WHERE reboot_required <> 0)"
    " FROM devices WHERE revoked_at IS NULL";
inline constexpr const char* revoked_devices = "SELECT COUNT(*) FROM devices WHERE revoked_at IS NOT NULL";
inline constexpr const char* failing_checks =
    "SELECT c.check_id, MAX(c.title), MAX(c.severity), COUNT(*) FROM device_checks c"
    " JOIN devices d ON d.device_id = c.device_id"
    " WHERE d.revoked_at IS NULL AND c.status IN ('fail', 'error')"
    " GROUP BY c.check_id ORDER BY COUNT(*) DESC, c.check_id";
inline constexpr const char* reports_stored = "SELECT value FROM counters WHERE name = 'reports_stored'";
inline constexpr const char* store_counts =
    "SELECT store_id, COUNT(*), COUNT(*) FILTER (WHERE status = 'pass'), COUNT(*) FILTER (WHERE status = 'fail'),"
    " COUNT(*) FILTER (WHERE status = 'error'), COUNT(*) FILTER (WHERE last_seen_at IS NULL OR last_seen_at < ?),"
    " COALESCE(SUM(caches_unencrypted), 0), COALESCE(SUM(pan_findings), 0)"
    " FROM devices WHERE revoked_at IS NULL GROUP BY store_id ORDER BY store_id";
// One chunk of retention: clearing millions of bodies in one statement would hold SQLite's write lock
// (and the ingest thread) for minutes. NOT IN with the IS NOT NULL guard: one NULL in the list would make
// NOT IN match nothing.
inline constexpr const char* clear_old_bodies =
    "UPDATE reports SET body = NULL WHERE report_id IN (SELECT report_id FROM reports"
    " WHERE body IS NOT NULL AND received_at < ?"
    " AND report_id NOT IN (SELECT last_report_id FROM devices WHERE last_report_id IS NOT NULL) LIMIT ?)";

// ---- built queries ---------------------------------------------------------------------------------------
using Param = std::variant<std::string, std::int64_t>;
struct BuiltQuery {
  std::string sql;
  std::vector<Param> params;
};

// The device list for `filter` (status filters leave revoked devices out, as the counts do).
BuiltQuery device_list(const DeviceFilter& filter, Clock::time_point now);

// Reads one row of `device_columns` from any backend's row (text(i), i64(i), null(i)).
template <class Row>
DeviceSummary read_device_summary(const Row& row) {
  DeviceSummary d;
  DeviceState& s = d.state;
  s.device_id = row.text(0);
  s.store_id = row.text(1);
  s.hostname = row.text(2);
  s.os_pretty_name = row.text(3);
  s.agent_version = row.text(4);
  s.status = row.null(5) ? "" : row.text(5);
  s.checks_pass = static_cast<int>(row.i64(6));
  s.checks_fail = static_cast<int>(row.i64(7));
  s.checks_error = static_cast<int>(row.i64(8));
  s.caches_total = static_cast<int>(row.i64(9));
  s.caches_unencrypted = static_cast<int>(row.i64(10));
  s.pan_findings = row.i64(11);
  s.packages_below_baseline = static_cast<int>(row.i64(12));
  s.pending_security_updates = static_cast<int>(row.i64(13));
  if (!row.null(14)) s.last_security_update_at = from_unix_ns(row.i64(14));
  s.reboot_required = row.i64(15) != 0;
  d.enrolled_at = from_unix_ns(row.i64(16));
  if (!row.null(17)) d.last_seen_at = from_unix_ns(row.i64(17));
  if (!row.null(18)) d.last_report_id = row.text(18);
  if (!row.null(19)) d.certificate_not_after = from_unix_ns(row.i64(19));
  d.revoked = !row.null(20);
  return d;
}

}  // namespace postured::console::schema
