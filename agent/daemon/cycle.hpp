// One posture cycle: inspect the device and record the result in the state directory.
#pragma once

#include "core/check.hpp"
#include "core/config.hpp"
#include "core/host.hpp"
#include "core/secret.hpp"

namespace postured {

struct CycleResult {
  bool completed = false;     // false: the result could not be recorded (exit 3 for --once)
  bool has_problems = false;  // a check failed or could not run, or a cache is unencrypted or unreadable
};

// Runs every enabled check, encrypts and verifies every declared cache, and writes the report to
// <state_dir>/last-report.json atomically. A cache in use is left for the next cycle.
CycleResult run_cycle(const CheckList& checks, const Host& host, const Config& config, const SecretKey& master);

}  // namespace postured
