// What both backends do alike before and after writing a batch of reports: find repeated report ids
// inside the batch, and pick the report whose state becomes each device's latest.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/storage.hpp"

namespace postured::console {

// Times are stored as signed 64-bit unix nanoseconds (UTC) in both backends: exact for every
// system_clock::time_point on Linux, and comparable with plain integer operators in SQL.
inline std::int64_t to_unix_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
inline Clock::time_point from_unix_ns(std::int64_t ns) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}
inline std::int64_t to_ns(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// Indices of the reports whose id did not appear earlier in the same batch, in input order. The others
// are duplicates whatever the database holds.
std::vector<std::size_t> first_occurrences(const std::vector<IncomingReport>& reports);

// Among the reports that were stored, the index of each device's newest (latest generated_at; a tie goes
// to the later one in the batch), in order of first appearance. Only these update a device's state.
std::vector<std::size_t> newest_per_device(const std::vector<IncomingReport>& reports, const std::vector<bool>& stored);

// Each report's outcome once its batch ran. A report id the batch did not store is a duplicate when it
// belongs to the same device and a conflict when it belongs to another: `owners` maps the ids that were
// already in the database to their device; inside the batch, an id belongs to its first occurrence's device.
std::vector<IngestOutcome> ingest_outcomes(const std::vector<IncomingReport>& reports, const std::vector<bool>& stored,
                                           const std::unordered_map<std::string, std::string>& owners);

// A device row's enrollment state at `now` (no row: unknown). A device whose certificates have all expired
// may enroll again, as a released one may (an agent whose certificate expired can no longer renew); a row
// with no known certificate (made by a report after a database restore) is active.
EnrollmentState enrollment_state_of(bool revoked, bool released, std::optional<std::int64_t> certificate_not_after,
                                    Clock::time_point now);

// What turns a device's stored check rows into a new report's: only rows that differ are written, since
// most reports repeat most of their device's previous results. A check id twice in a report keeps the last.
struct CheckChanges {
  std::vector<const CheckState*> upserts;  // new or changed, into `incoming`
  std::vector<std::string> removals;       // ids the device no longer reports
};
CheckChanges diff_checks(const std::vector<CheckState>& stored, const std::vector<CheckState>& incoming);

// Rejects a status filter the queries do not know (the API validates first; this is the backstop).
void check_status_filter(const std::string& status);

}  // namespace postured::console
