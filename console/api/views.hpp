// What the operator API answers, as pure functions of what storage returned: JSON documents, the
// auditors' CSV and the Prometheus text. No I/O here, so that each shape is tested on its own.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/metrics.hpp"
#include "storage/storage.hpp"

namespace postured::console::views {

// The fleet's view at `now`: FleetSummary's fields, plus compliance_score (percentage of reporting
// devices whose latest report passed; null when none reported), stale_after_seconds and generated_at.
nlohmann::json summary(const FleetSummary& fleet, Clock::time_point now, Clock::duration stale_after);
// One device in a list; `stale` is computed here from last_seen_at.
nlohmann::json device_summary(const DeviceSummary& device, Clock::time_point now, Clock::duration stale_after);
// A device's drill-down: its summary, every check with its status and (from the latest raw report, when
// retention kept it) evidence, remediation and references, the caches, patch and scan blocks, history.
nlohmann::json device_detail(const DeviceDetail& detail, Clock::time_point now, Clock::duration stale_after);
nlohmann::json store_summary(const StoreSummary& store);

// RFC 4180 CSV (CRLF line ends, a header row) of a device list, one row per device.
std::string devices_csv(const std::vector<DeviceSummary>& devices, Clock::time_point now, Clock::duration stale_after);
// One CSV field: quoted when it holds a comma, quote, CR or LF; a cell that a spreadsheet would run as
// a formula (it starts with = + - @, tab or CR) is prefixed with a single quote first.
std::string csv_field(std::string_view value);

// Prometheus text exposition format 0.0.4: the endpoint's counters and the fleet's device gauges.
std::string metrics_text(const Metrics::Snapshot& counters, const FleetSummary& fleet);

}  // namespace postured::console::views
