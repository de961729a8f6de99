#include "server/storage_worker.hpp"

#include <vector>

#include "core/log.hpp"

namespace postured::console {
namespace {

using namespace std::chrono_literals;

// Reports per transaction: large enough that a burst costs few commits, small enough that the first
// report of a batch does not wait long for the last.
constexpr std::size_t kMaxBatch = 256;
// A device revoked with `posture-console device revoke` (another process) is refused within this.
constexpr auto kRevocationRefresh = 2s;
// Retention deletes in bulk; once an hour keeps the table near its limit without competing with ingest.
constexpr auto kRetentionInterval = 1h;

}  // namespace

StorageWorker::StorageWorker(Storage& storage, Settings settings) : storage_(storage), settings_(std::move(settings)) {}

StorageWorker::~StorageWorker() {
  stop();
}

void StorageWorker::start() {
  if (settings_.revoked) settings_.revoked->replace(storage_.revoked_serials());
  next_revocation_refresh_ = std::chrono::steady_clock::now() + kRevocationRefresh;
  next_retention_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] { run(); });
}

void StorageWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::deque<Pending> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(reports_);
  }
  for (auto& pending : left) pending.done(std::nullopt, "the console is shutting down");
}

bool StorageWorker::submit_report(IncomingReport report, ReportDone done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || reports_.size() >= settings_.capacity) return false;
    reports_.push_back({std::move(report), std::move(done)});
  }
  wake_.notify_one();
  return true;
}

void StorageWorker::submit_job(Job job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

std::size_t StorageWorker::queued_reports() const {
  std::lock_guard lock(mutex_);
  return reports_.size();
}

void StorageWorker::housekeeping(Clock::time_point now) {
  const auto steady = std::chrono::steady_clock::now();
  try {
    if (settings_.revoked && steady >= next_revocation_refresh_) {
      settings_.revoked->replace(storage_.revoked_serials());
      next_revocation_refresh_ = steady + kRevocationRefresh;
    }
    if (steady >= next_retention_) {
      next_retention_ = steady + kRetentionInterval;
      const std::size_t removed = storage_.apply_retention(now - settings_.retention);
      if (removed > 0)
        log::info("retention: deleted ", removed, " raw reports older than ", settings_.retention.count() / 24,
                  " days");
    }
  } catch (const std::exception& e) {
    log::error("storage housekeeping: ", e.what());
  }
}

void StorageWorker::run() {
  std::vector<Pending> batch;
  std::vector<IncomingReport> reports;
  for (;;) {
    std::deque<Job> jobs;
    batch.clear();
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, kRevocationRefresh, [&] { return stopping_ || !reports_.empty() || !jobs_.empty(); });
      if (stopping_ && jobs_.empty()) return;
      jobs.swap(jobs_);
      while (!reports_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(reports_.front()));
        reports_.pop_front();
      }
    }
    for (auto& job : jobs) {
      try {
        job(storage_);
      } catch (const std::exception& e) {
        log::error("storage job: ", e.what());
      }
    }
    if (!batch.empty()) {
      reports.clear();
      for (auto& pending : batch) reports.push_back(std::move(pending.report));
      std::vector<IngestOutcome> outcomes;
      std::string error;
      try {
        outcomes = storage_.store_reports(reports);
        if (outcomes.size() != reports.size()) error = "storage returned a wrong number of outcomes";
      } catch (const std::exception& e) {
        error = e.what();
        log::error("storing ", reports.size(), " reports: ", error);
      }
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (error.empty())
          batch[i].done(outcomes[i], error);
        else
          batch[i].done(std::nullopt, error);
      }
    }
    housekeeping(Clock::now());
  }
}

}  // namespace postured::console
