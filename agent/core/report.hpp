// The report model shared by `posturectl doctor` and the daemon's posture report.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/check.hpp"
#include "core/config.hpp"
#include "core/device.hpp"

namespace postured {

struct CheckResult {
  CheckInfo info;
  Outcome outcome;
};

struct Summary {
  int pass = 0;
  int fail = 0;
  int error = 0;
  int not_applicable = 0;
};

struct DoctorReport {
  DeviceInfo device;
  std::vector<CheckResult> checks;

  Summary summary() const;
  // True when a check failed or could not run: what exit code 1 means.
  bool has_problems() const;
};

// Runs every check in `checks` whose id is not in `disabled`, in table order. A check that throws
// is reported as status error; it never stops the others.
std::vector<CheckResult> run_checks(const CheckList& checks, const Context& context,
                                    const std::vector<std::string>& disabled);

// Identifies the device and runs the enabled checks: what `posturectl doctor` shows and a cycle reports.
DoctorReport inspect_device(const CheckList& checks, const Host& host, const Config& config,
                            std::chrono::system_clock::time_point now);

// The postured.doctor/v1 document (DESIGN.md).
nlohmann::ordered_json to_doctor_json(const DoctorReport& report);
// The head of a postured.report/v1 document (DESIGN.md): schema, report_id, generated_at,
// agent_version, then device, checks and summary as doctor has them. The cycle adds patch, caches,
// scan and transport.
nlohmann::ordered_json to_report_json(const DoctorReport& report, const std::string& report_id,
                                      std::chrono::system_clock::time_point generated_at);
// A random (version 4) UUID in its lower-case text form: each report's id, by which the console
// deduplicates a report sent twice.
std::string random_uuid_v4();
nlohmann::ordered_json to_json(const DeviceInfo& device);
nlohmann::ordered_json to_json(const CheckResult& result);

// A table for a person to read; ANSI colour only when `color` is set (stdout is a TTY).
std::string render_table(const DoctorReport& report, bool color);

}  // namespace postured
