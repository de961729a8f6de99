// The postured.report/v1 document (DESIGN.md) as a cycle sends it and `posturectl report --print`
// shows it: the checks, the caches with their last enforcement, the patch level, the last folder scan.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "core/check.hpp"
#include "core/config.hpp"
#include "core/host.hpp"
#include "core/report.hpp"
#include "core/secret.hpp"

namespace postured {

struct BuiltReport {
  DoctorReport inspection;          // the checks' results, for logging and exit codes
  nlohmann::ordered_json document;  // the report, without its transport block
  bool cache_problems = false;      // a cache unencrypted or unreadable, or card data left in it

  const std::string& report_id() const { return document["report_id"].get_ref<const std::string&>(); }
};

// Runs the checks and gathers the caches' status, the patch level and the last scan. Changes nothing.
BuiltReport build_report(const CheckList& checks, const Host& host, const Config& config, const SecretKey& master,
                         std::chrono::system_clock::time_point now);

}  // namespace postured
