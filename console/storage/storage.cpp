#include "storage/storage.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "storage/batch_plan.hpp"
#include "storage/postgres_storage.hpp"
#include "storage/schema.hpp"
#include "storage/sqlite_storage.hpp"

namespace postured::console {

std::vector<std::size_t> first_occurrences(const std::vector<IncomingReport>& reports) {
  std::vector<std::size_t> firsts;
  std::unordered_set<std::string_view> seen;
  for (std::size_t i = 0; i < reports.size(); ++i)
    if (seen.insert(reports[i].report_id).second) firsts.push_back(i);
  return firsts;
}

std::vector<std::size_t> newest_per_device(const std::vector<IncomingReport>& reports,
                                           const std::vector<bool>& stored) {
  std::vector<std::size_t> newest;
  std::unordered_map<std::string_view, std::size_t> slot;  // device id -> position in `newest`
  for (std::size_t i = 0; i < reports.size(); ++i) {
    if (!stored[i]) continue;
    auto [it, inserted] = slot.try_emplace(reports[i].device_id, newest.size());
    if (inserted) {
      newest.push_back(i);
    } else if (reports[i].generated_at >= reports[newest[it->second]].generated_at) {
      newest[it->second] = i;
    }
  }
  return newest;
}

std::vector<IngestOutcome> ingest_outcomes(const std::vector<IncomingReport>& reports, const std::vector<bool>& stored,
                                           const std::unordered_map<std::string, std::string>& owners) {
  std::vector<IngestOutcome> outcomes;
  outcomes.reserve(reports.size());
  std::unordered_map<std::string_view, std::string_view> owner;  // report id -> device id
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const IncomingReport& r = reports[i];
    auto it = owner.find(r.report_id);
    if (it == owner.end()) {
      std::string_view device = r.device_id;
      if (!stored[i]) {
        const auto before = owners.find(r.report_id);
        if (before != owners.end()) device = before->second;
      }
      it = owner.emplace(r.report_id, device).first;
      if (stored[i]) {
        outcomes.push_back(IngestOutcome::stored);
        continue;
      }
    }
    outcomes.push_back(it->second == r.device_id ? IngestOutcome::duplicate : IngestOutcome::conflict);
  }
  return outcomes;
}

EnrollmentState enrollment_state_of(bool revoked, bool released, std::optional<std::int64_t> certificate_not_after,
                                    Clock::time_point now) {
  if (revoked) return EnrollmentState::revoked;
  if (released) return EnrollmentState::released;
  if (certificate_not_after && *certificate_not_after <= to_unix_ns(now)) return EnrollmentState::released;
  return EnrollmentState::active;
}

CheckChanges diff_checks(const std::vector<CheckState>& stored, const std::vector<CheckState>& incoming) {
  std::unordered_map<std::string_view, const CheckState*> wanted;
  std::vector<const CheckState*> order;  // first appearance, holding the last value of each id
  for (const auto& check : incoming) {
    auto [it, inserted] = wanted.try_emplace(check.id, &check);
    if (inserted) {
      order.push_back(&check);
    } else {
      *std::find(order.begin(), order.end(), it->second) = &check;
      it->second = &check;
    }
  }
  std::unordered_map<std::string_view, const CheckState*> had;
  for (const auto& check : stored) had.emplace(check.id, &check);
  CheckChanges changes;
  for (const CheckState* check : order) {
    const auto it = had.find(check->id);
    if (it == had.end() || it->second->title != check->title || it->second->status != check->status ||
        it->second->severity != check->severity)
      changes.upserts.push_back(check);
  }
  for (const auto& check : stored)
    if (!wanted.count(check.id)) changes.removals.push_back(check.id);
  return changes;
}

void check_status_filter(const std::string& status) {
  static constexpr std::string_view known[] = {"", "pass", "fail", "error", "stale"};
  if (std::find(std::begin(known), std::end(known), status) == std::end(known))
    throw std::invalid_argument("unknown device status filter '" + status + "'; expected pass, fail, error or stale");
}

namespace schema {

BuiltQuery device_list(const DeviceFilter& filter, Clock::time_point now) {
  check_status_filter(filter.status);
  BuiltQuery q;
  q.sql = std::string("SELECT ") + device_columns + " FROM devices d WHERE 1 = 1";
  if (!filter.store_id.empty()) {
    q.sql += " AND d.store_id = ?";
    q.params.emplace_back(filter.store_id);
  }
  if (filter.status == "stale") {
    q.sql += " AND d.revoked_at IS NULL AND (d.last_seen_at IS NULL OR d.last_seen_at < ?)";
    q.params.emplace_back(to_unix_ns(now) - to_ns(filter.stale_after));
  } else if (!filter.status.empty()) {
    q.sql += " AND d.revoked_at IS NULL AND d.status = ?";
    q.params.emplace_back(filter.status);
  }
  if (!filter.check_id.empty()) {
    q.sql +=
        " AND EXISTS (SELECT 1 FROM device_checks c WHERE c.device_id = d.device_id AND c.check_id = ?"
        " AND c.status IN ('fail', 'error'))";
    q.params.emplace_back(filter.check_id);
  }
  if (!filter.search.empty()) {
    // LIKE with the pattern's own % and _ escaped, so that the search is a plain substring.
    std::string pattern = "%";
    for (const char c : filter.search) {
      if (c == '%' || c == '_' || c == '\\') pattern += '\\';
      pattern += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    pattern += '%';
    q.sql += " AND (lower(d.device_id) LIKE ? ESCAPE '\\' OR lower(d.hostname) LIKE ? ESCAPE '\\')";
    q.params.emplace_back(pattern);
    q.params.emplace_back(pattern);
  }
  q.sql += " ORDER BY d.device_id LIMIT ? OFFSET ?";
  constexpr std::size_t most = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  q.params.emplace_back(static_cast<std::int64_t>(std::min(filter.limit, most)));
  q.params.emplace_back(static_cast<std::int64_t>(std::min(filter.offset, most)));
  return q;
}

}  // namespace schema

std::unique_ptr<Storage> open_storage(const std::string& url) {
  constexpr std::string_view sqlite_scheme = "sqlite:";
  const std::string_view u = url;
  if (u.empty())
    throw StorageError("storage: empty storage URL; expected sqlite:PATH, a file path, or postgresql://...");
  if (u.starts_with("postgresql://") || u.starts_with("postgres://")) return open_postgres_storage(url);
  std::string_view path = u;
  if (u.starts_with(sqlite_scheme)) {
    path.remove_prefix(sqlite_scheme.size());
    // sqlite:///var/lib/x.db, the URL spelling, names the same file as sqlite:/var/lib/x.db.
    if (path.starts_with("//")) path.remove_prefix(2);
  } else if (const auto scheme_end = u.find("://"); scheme_end != std::string_view::npos) {
    throw StorageError("storage: unsupported storage URL scheme '" + std::string(u.substr(0, scheme_end)) +
                       "'; expected sqlite:PATH, a file path, postgresql:// or postgres://");
  }
  if (path.empty()) throw StorageError("storage: sqlite: URL without a file path");
  if (path == ":memory:" || path.starts_with("file:"))
    throw StorageError("storage: sqlite: needs a plain file path (readers and the writer share one file), not '" +
                       std::string(path) + "'");
  return open_sqlite_storage(std::filesystem::path(std::string(path)));
}

}  // namespace postured::console
