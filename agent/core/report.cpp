#include "core/report.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <random>

#include <nlohmann/json.hpp>

#include "core/text.hpp"

namespace postured {

std::string_view to_string(Status status) {
  switch (status) {
    case Status::pass: return "pass";
    case Status::fail: return "fail";
    case Status::error: return "error";
    case Status::not_applicable: return "not_applicable";
  }
  return "error";
}

std::string_view to_string(Severity severity) {
  switch (severity) {
    case Severity::low: return "low";
    case Severity::medium: return "medium";
    case Severity::high: return "high";
    case Severity::critical: return "critical";
  }
  return "medium";
}

std::vector<std::string> check_ids(const CheckList& checks) {
  std::vector<std::string> ids;
  for (const auto& check : checks) ids.push_back(check->info().id);
  return ids;
}

Summary DoctorReport::summary() const {
  Summary s;
  for (const auto& r : checks) {
    switch (r.outcome.status) {
      case Status::pass: ++s.pass; break;
      case Status::fail: ++s.fail; break;
      case Status::error: ++s.error; break;
      case Status::not_applicable: ++s.not_applicable; break;
    }
  }
  return s;
}

bool DoctorReport::has_problems() const {
  const auto s = summary();
  return s.fail > 0 || s.error > 0;
}

std::vector<CheckResult> run_checks(const CheckList& checks, const Context& context,
                                    const std::vector<std::string>& disabled) {
  std::vector<CheckResult> results;
  results.reserve(checks.size());
  for (const auto& check : checks) {
    const auto& info = check->info();
    if (std::find(disabled.begin(), disabled.end(), info.id) != disabled.end()) continue;
    Outcome outcome;
    try {
      outcome = check->run(context);
    } catch (const std::exception& e) {
      outcome = Outcome::error(std::string("check failed unexpectedly: ") + e.what());
    }
    results.push_back({info, std::move(outcome)});
  }
  return results;
}

DoctorReport inspect_device(const CheckList& checks, const Host& host, const Config& config,
                            std::chrono::system_clock::time_point now) {
  DoctorReport report;
  report.device = identify_device(host, config.agent);
  report.checks = run_checks(checks, Context{host, now, &config}, config.checks.disabled);
  return report;
}

nlohmann::ordered_json to_json(const DeviceInfo& device) {
  return {{"id", device.id},
          {"store_id", device.store_id},
          {"hostname", device.hostname},
          {"os",
           {{"id", device.os.id},
            {"version_id", device.os.version_id},
            {"pretty_name", device.os.pretty_name},
            {"kernel", device.os.kernel}}},
          {"agent_version", device.agent_version}};
}

nlohmann::ordered_json to_json(const CheckResult& result) {
  return {{"id", result.info.id},
          {"title", result.info.title},
          {"status", to_string(result.outcome.status)},
          {"severity", to_string(result.info.severity)},
          {"evidence", result.outcome.evidence},
          {"remediation", result.info.remediation},
          {"references", result.info.references}};
}

nlohmann::ordered_json to_doctor_json(const DoctorReport& report) {
  auto checks = nlohmann::ordered_json::array();
  for (const auto& r : report.checks) checks.push_back(to_json(r));
  const auto s = report.summary();
  return {{"schema", "postured.doctor/v1"},
          {"device", to_json(report.device)},
          {"checks", std::move(checks)},
          {"summary", {{"pass", s.pass}, {"fail", s.fail}, {"error", s.error}, {"not_applicable", s.not_applicable}}}};
}

nlohmann::ordered_json to_report_json(const DoctorReport& report, const std::string& report_id,
                                      std::chrono::system_clock::time_point generated_at) {
  auto doctor = to_doctor_json(report);
  nlohmann::ordered_json document = {{"schema", "postured.report/v1"},
                                     {"report_id", report_id},
                                     {"generated_at", text::rfc3339_utc(generated_at)},
                                     {"agent_version", report.device.agent_version}};
  for (auto& [key, value] : doctor.items()) {
    if (key != "schema") document[key] = std::move(value);
  }
  return document;
}

std::string random_uuid_v4() {
  std::random_device source;  // getrandom(2) on Linux
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); i += 4) {
    const auto word = source();
    for (std::size_t j = 0; j < 4; ++j) bytes[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
  }
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    text += kHex[bytes[i] >> 4];
    text += kHex[bytes[i] & 0x0f];
  }
  return text;
}

namespace {

// Display width of UTF-8 text: counts code points, which is right for the text we print.
std::size_t display_width(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string pad(std::string_view s, std::size_t width) {
  std::string out(s);
  const auto w = display_width(s);
  if (w < width) out.append(width - w, ' ');
  return out;
}

std::string_view status_label(Status status) {
  switch (status) {
    case Status::pass: return "PASS";
    case Status::fail: return "FAIL";
    case Status::error: return "ERROR";
    case Status::not_applicable: return "N/A";
  }
  return "ERROR";
}

std::string_view status_color(Status status) {
  switch (status) {
    case Status::pass: return "\033[32m";
    case Status::fail: return "\033[31;1m";
    case Status::error: return "\033[33m";
    case Status::not_applicable: return "\033[2m";
  }
  return "";
}

}  // namespace

std::string render_table(const DoctorReport& report, bool color) {
  const auto& d = report.device;
  std::string out;
  out += "Device  " + d.hostname + "  (id " + (d.id.empty() ? "unknown" : d.id) + ", store " +
         (d.store_id.empty() ? "not configured" : d.store_id) + ")\n";
  out += "OS      " + (d.os.pretty_name.empty() ? "unknown" : d.os.pretty_name) + ", kernel " + d.os.kernel + "\n";
  out += "Agent   postured " + d.agent_version + "\n\n";

  std::size_t id_width = 5;
  for (const auto& r : report.checks) id_width = std::max(id_width, display_width(r.info.id));
  out += pad("STATUS", 7) + pad("SEVERITY", 10) + pad("CHECK", id_width + 2) + "EVIDENCE\n";
  for (const auto& r : report.checks) {
    const auto label = pad(status_label(r.outcome.status), 7);
    out += color ? std::string(status_color(r.outcome.status)) + label + "\033[0m" : label;
    out += pad(to_string(r.info.severity), 10) + pad(r.info.id, id_width + 2) + r.outcome.evidence + "\n";
  }

  bool heading = false;
  for (const auto& r : report.checks) {
    if (r.outcome.status != Status::fail && r.outcome.status != Status::error) continue;
    if (!heading) {
      out += "\nHow to fix\n";
      heading = true;
    }
    out += "  " + r.info.id + " (" + r.info.title + "): " + r.info.remediation + "\n";
  }
  const auto s = report.summary();
  out += "\n" + std::to_string(s.pass) + " passed, " + std::to_string(s.fail) + " failed, " +
         std::to_string(s.error) + " errors, " + std::to_string(s.not_applicable) + " not applicable\n";
  return out;
}

}  // namespace postured
