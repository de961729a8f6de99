// postured.report/v1 as the console takes it in: validated, and reduced to the DeviceState that the
// fleet views filter and count on. Unknown extra fields are allowed (agents newer than the console).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "storage/storage.hpp"

namespace postured::console {

// Why a report was refused: `code` is malformed_json (not JSON at all) or schema (JSON, but not a
// postured.report/v1 document); `message` names the field, never its content.
struct ReportProblem {
  std::string code;
  std::string message;
};

struct ValidatedReport {
  std::string report_id;
  std::string device_id;  // as the body says; the endpoint compares it with the certificate's CN
  std::string store_id;
  Clock::time_point generated_at;
  DeviceState state;
};

std::variant<ValidatedReport, ReportProblem> validate_report(std::string_view json);

// RFC 3339 date-time ("2026-11-26T09:15:00Z", "...T09:15:00.250+01:00") to a time point; nullopt if malformed.
std::optional<Clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace postured::console
