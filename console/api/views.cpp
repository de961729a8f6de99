#include "api/views.hpp"

#include <charconv>
#include <cmath>
#include <map>

#include "core/text.hpp"

namespace postured::console::views {
namespace {

using nlohmann::json;

json time_or_null(const std::optional<Clock::time_point>& when) {
  return when ? json(text::rfc3339_utc(*when)) : json(nullptr);
}

bool is_stale(const DeviceSummary& device, Clock::time_point now, Clock::duration stale_after) {
  return !device.last_seen_at || now - *device.last_seen_at > stale_after;
}

// Shortest text that reads back as the same double ("0.0025", "1", "12.5").
std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// A label value per the exposition format: backslash, double quote and line feed escaped.
std::string label_value(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

json summary(const FleetSummary& fleet, Clock::time_point now, Clock::duration stale_after) {
  const int reporting = fleet.passing + fleet.failing + fleet.erroring;
  json failing_checks = json::array();
  for (const auto& check : fleet.failing_checks)
    failing_checks.push_back(
        {{"id", check.id}, {"title", check.title}, {"severity", check.severity}, {"devices", check.devices}});
  json score = nullptr;
  // One decimal: a dashboard figure, not a measurement.
  if (reporting > 0) score = std::round(1000.0 * fleet.passing / reporting) / 10.0;
  return {{"devices", fleet.devices},
          {"reporting", reporting},
          {"passing", fleet.passing},
          {"failing", fleet.failing},
          {"erroring", fleet.erroring},
          {"never_reported", fleet.never_reported},
          {"stale", fleet.stale},
          {"revoked", fleet.revoked},
          {"caches_unencrypted", fleet.caches_unencrypted},
          {"devices_with_unencrypted_caches", fleet.devices_with_unencrypted_caches},
          {"pan_findings", fleet.pan_findings},
          {"devices_with_pan_findings", fleet.devices_with_pan_findings},
          {"devices_behind_on_patches", fleet.devices_behind_on_patches},
          {"reboot_required", fleet.reboot_required},
          {"failing_checks", std::move(failing_checks)},
          {"reports_stored", fleet.reports_stored},
          {"compliance_score", score},
          {"stale_after_seconds", std::chrono::duration_cast<std::chrono::seconds>(stale_after).count()},
          {"generated_at", text::rfc3339_utc(now)}};
}

json device_summary(const DeviceSummary& device, Clock::time_point now, Clock::duration stale_after) {
  const DeviceState& s = device.state;
  return {
      {"device_id", s.device_id},
      {"store_id", s.store_id},
      {"hostname", s.hostname},
      {"os", s.os_pretty_name},
      {"agent_version", s.agent_version},
      {"status", s.status},
      {"stale", is_stale(device, now, stale_after)},
      {"revoked", device.revoked},
      {"checks_pass", s.checks_pass},
      {"checks_fail", s.checks_fail},
      {"checks_error", s.checks_error},
      {"caches_total", s.caches_total},
      {"caches_unencrypted", s.caches_unencrypted},
      {"pan_findings", s.pan_findings},
      {"packages_below_baseline", s.packages_below_baseline},
      {"pending_security_updates", s.pending_security_updates < 0 ? json(nullptr) : json(s.pending_security_updates)},
      {"last_security_update_at", time_or_null(s.last_security_update_at)},
      {"reboot_required", s.reboot_required},
      {"enrolled_at", text::rfc3339_utc(device.enrolled_at)},
      {"last_seen_at", time_or_null(device.last_seen_at)},
      {"last_report_id", device.last_report_id},
      {"certificate_not_after", time_or_null(device.certificate_not_after)}};
}

json device_detail(const DeviceDetail& detail, Clock::time_point now, Clock::duration stale_after) {
  json out = {{"device", device_summary(detail.summary, now, stale_after)}};

  // The raw report gives what the state table does not keep; a report retention removed, or one that
  // no longer parses, leaves the statuses alone.
  json report = nullptr;
  if (detail.latest_report_json) {
    report = json::parse(*detail.latest_report_json, nullptr, /*allow_exceptions=*/false);
    if (report.is_discarded() || !report.is_object()) report = nullptr;
  }
  std::map<std::string, const json*> raw_checks;
  if (report.is_object() && report.contains("checks") && report["checks"].is_array())
    for (const auto& check : report["checks"])
      if (check.is_object() && check.contains("id") && check["id"].is_string())
        raw_checks[check["id"].get<std::string>()] = &check;

  json checks = json::array();
  for (const auto& state : detail.summary.state.checks) {
    json check = {
        {"id", state.id},      {"title", state.title},   {"status", state.status},     {"severity", state.severity},
        {"evidence", nullptr}, {"remediation", nullptr}, {"references", json::array()}};
    if (const auto found = raw_checks.find(state.id); found != raw_checks.end()) {
      const json& raw = *found->second;
      for (const char* key : {"evidence", "remediation"})
        if (raw.contains(key) && raw[key].is_string()) check[key] = raw[key];
      if (raw.contains("references") && raw["references"].is_array()) check["references"] = raw["references"];
    }
    checks.push_back(std::move(check));
  }
  out["checks"] = std::move(checks);

  auto block = [&](const char* key, json fallback) {
    return report.is_object() && report.contains(key) ? report[key] : fallback;
  };
  out["caches"] = block("caches", json::array());
  out["patch"] = block("patch", nullptr);
  out["scan"] = block("scan", nullptr);
  out["report"] = report.is_object() ? json{{"report_id", block("report_id", nullptr)},
                                            {"generated_at", block("generated_at", nullptr)},
                                            {"agent_version", block("agent_version", nullptr)}}
                                     : json(nullptr);

  json history = json::array();
  for (const auto& meta : detail.history)
    history.push_back({{"report_id", meta.report_id},
                       {"generated_at", text::rfc3339_utc(meta.generated_at)},
                       {"received_at", text::rfc3339_utc(meta.received_at)},
                       {"status", meta.status}});
  out["history"] = std::move(history);
  return out;
}

json store_summary(const StoreSummary& store) {
  return {{"store_id", store.store_id},
          {"devices", store.devices},
          {"passing", store.passing},
          {"failing", store.failing},
          {"erroring", store.erroring},
          {"stale", store.stale},
          {"caches_unencrypted", store.caches_unencrypted},
          {"pan_findings", store.pan_findings}};
}

std::string csv_field(std::string_view value) {
  std::string cell;
  // OWASP's CSV injection advice: a leading quote makes the spreadsheet show the text, not run it.
  if (!value.empty() && (value[0] == '=' || value[0] == '+' || value[0] == '-' || value[0] == '@' || value[0] == '\t' ||
                         value[0] == '\r'))
    cell = "'";
  cell.append(value);
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (const char c : cell) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string devices_csv(const std::vector<DeviceSummary>& devices, Clock::time_point now, Clock::duration stale_after) {
  static constexpr std::string_view kHeader =
      "device_id,store_id,hostname,status,stale,revoked,checks_fail,checks_error,checks_pass,caches_total,"
      "caches_unencrypted,pan_findings,packages_below_baseline,pending_security_updates,reboot_required,"
      "last_security_update_at,os,agent_version,enrolled_at,last_seen_at,last_report_id,certificate_not_after\r\n";
  std::string out(kHeader);
  auto time_text = [](const std::optional<Clock::time_point>& when) {
    return when ? text::rfc3339_utc(*when) : std::string();
  };
  for (const auto& device : devices) {
    const DeviceState& s = device.state;
    const std::string fields[] = {
        s.device_id,
        s.store_id,
        s.hostname,
        s.status,
        is_stale(device, now, stale_after) ? "true" : "false",
        device.revoked ? "true" : "false",
        std::to_string(s.checks_fail),
        std::to_string(s.checks_error),
        std::to_string(s.checks_pass),
        std::to_string(s.caches_total),
        std::to_string(s.caches_unencrypted),
        std::to_string(s.pan_findings),
        std::to_string(s.packages_below_baseline),
        s.pending_security_updates < 0 ? std::string() : std::to_string(s.pending_security_updates),
        s.reboot_required ? "true" : "false",
        time_text(s.last_security_update_at),
        s.os_pretty_name,
        s.agent_version,
        text::rfc3339_utc(device.enrolled_at),
        time_text(device.last_seen_at),
        device.last_report_id,
        time_text(device.certificate_not_after),
    };
    bool first = true;
    for (const auto& field : fields) {
      if (!first) out += ',';
      first = false;
      out += csv_field(field);
    }
    out += "\r\n";
  }
  return out;
}

std::string metrics_text(const Metrics::Snapshot& counters, const FleetSummary& fleet) {
  std::string out;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  };
  auto sample = [&](std::string_view name, std::string_view labels, const std::string& value) {
    out.append(name);
    if (!labels.empty()) out.append("{").append(labels).append("}");
    out.append(" ").append(value).append("\n");
  };
  auto count = [](auto n) { return std::to_string(n); };

  family("posture_reports_ingested_total", "counter", "Reports stored since the console started.");
  sample("posture_reports_ingested_total", "", count(counters.reports_ingested));
  family("posture_reports_duplicate_total", "counter", "Reports acknowledged as already stored (agent retries).");
  sample("posture_reports_duplicate_total", "", count(counters.reports_duplicate));
  family("posture_reports_rejected_total", "counter", "Reports refused, by reason.");
  for (const auto& [reason, n] : counters.rejected)
    sample("posture_reports_rejected_total", "reason=\"" + label_value(reason) + "\"", count(n));

  family("posture_ingest_latency_seconds", "histogram",
         "Time from a report's last byte received to the answer, for stored and duplicate reports.");
  for (std::size_t i = 0; i < Metrics::kLatencyBuckets.size(); ++i)
    sample("posture_ingest_latency_seconds_bucket", "le=\"" + number(Metrics::kLatencyBuckets[i]) + "\"",
           count(counters.latency_counts[i]));
  sample("posture_ingest_latency_seconds_bucket", "le=\"+Inf\"", count(counters.latency_count));
  sample("posture_ingest_latency_seconds_sum", "", number(counters.latency_sum));
  sample("posture_ingest_latency_seconds_count", "", count(counters.latency_count));

  family("posture_enrollments_total", "counter", "Enrollment requests, by result.");
  sample("posture_enrollments_total", "result=\"accepted\"", count(counters.enrollments_accepted));
  sample("posture_enrollments_total", "result=\"refused\"", count(counters.enrollments_refused));
  family("posture_tls_handshakes_failed_total", "counter", "Agent endpoint TLS handshakes that failed.");
  sample("posture_tls_handshakes_failed_total", "", count(counters.handshakes_failed));

  family("posture_devices", "gauge",
         "Devices by the status of their latest report (stale, never_reported and revoked overlap the others).");
  sample("posture_devices", "status=\"pass\"", count(fleet.passing));
  sample("posture_devices", "status=\"fail\"", count(fleet.failing));
  sample("posture_devices", "status=\"error\"", count(fleet.erroring));
  sample("posture_devices", "status=\"never_reported\"", count(fleet.never_reported));
  sample("posture_devices", "status=\"stale\"", count(fleet.stale));
  sample("posture_devices", "status=\"revoked\"", count(fleet.revoked));
  family("posture_devices_enrolled", "gauge", "Devices the console has enrolled.");
  sample("posture_devices_enrolled", "", count(fleet.devices));
  family("posture_caches_unencrypted", "gauge", "Unencrypted customer caches across the fleet.");
  sample("posture_caches_unencrypted", "", count(fleet.caches_unencrypted));
  family("posture_pan_findings", "gauge", "Card-number findings in the latest reports, across the fleet.");
  sample("posture_pan_findings", "", count(fleet.pan_findings));
  family("posture_reports_stored", "gauge", "Raw reports the console keeps.");
  sample("posture_reports_stored", "", count(fleet.reports_stored));
  return out;
}

}  // namespace postured::console::views
