// One posture cycle: inspect the device and record the result in the state directory; and the
// scheduled enforcement of the caches' minimization and retention policies.
#pragma once

#include <atomic>
#include <functional>
#include <stop_token>
#include <thread>

#include "core/check.hpp"
#include "core/config.hpp"
#include "core/host.hpp"
#include "core/secret.hpp"

namespace postured {

class ReportingService;  // daemon/reporting.hpp

struct CycleResult {
  bool completed = false;     // false: the result could not be recorded (exit 3 for --once)
  bool has_problems = false;  // a check failed or could not run, a cache is unencrypted or unreadable, or
                              // its policy could not be enforced or left card data in it
};

// Runs every enabled check, encrypts and verifies every declared cache, inspects the patch level and
// writes the postured.report/v1 document to <state_dir>/last-report.json atomically, with the last folder scan's result.
// A cache in use is left for the next cycle. With `full` (postured --once), also enforces every
// cache's policy (between the migration and the report) and scans the [[scan_folder]]s.
// With `reporting` enabled, the report also carries the transport block and is put into the spool.
CycleResult run_cycle(const CheckList& checks, const Host& host, const Config& config, const SecretKey& master,
                      bool full = false, ReportingService* reporting = nullptr);

// Enforces the policy of every cache that has one, logging each outcome. True when one could not be
// enforced or still holds card data. Stops between batches once `stop` is requested.
bool enforce_policies(const Config& config, const SecretKey& master, std::stop_token stop = {});

// Scans every [[scan_folder]] at low priority, applies its action, logs each file with card data
// and keeps the result for the report in <state_dir>/last-scan.json. True when card data was found
// or an action failed.
bool scan_configured_folders(const Config& config, const SecretKey& master);

// Runs a job on a thread of its own: purging a large cache or scanning a log folder takes seconds,
// and the event loop must keep answering key requests, signals and the watchdog meanwhile. One run
// at a time; destruction requests a stop (the job may honour it between batches) and waits.
class BackgroundRun {
 public:
  // Starts `job`; false (and nothing started) while the previous run goes on.
  bool start(std::function<void(std::stop_token)> job);

 private:
  std::atomic<bool> running_{false};
  std::jthread thread_;  // last member: joined before running_ goes away
};

}  // namespace postured
