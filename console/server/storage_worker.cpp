#include "server/storage_worker.hpp"

#include <vector>

#include "core/log.hpp"

namespace postured::console {
namespace {

using namespace std::chrono_literals;

// Reports per transaction: large enough that a burst costs few commits, small enough that the first
// report of a batch does not wait long for the last.
constexpr std::size_t kMaxBatch = 256;
// Bytes of report JSON per transaction: PostgreSQL sends a batch as array parameters, and one parameter
// may not exceed 1 GB (escaping can double the size); 64 MiB also keeps one commit short.
constexpr std::size_t kMaxBatchBytes = 64u << 20;
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
  std::deque<Job> dropped;
  {
    std::lock_guard lock(mutex_);
    left.swap(reports_);
    // Jobs hold their connections alive; they must go now, while what those connections use still exists.
    dropped.swap(jobs_);
    queued_bytes_ = 0;
  }
  for (auto& pending : left) pending.done(std::nullopt, "the console is shutting down");
}

bool StorageWorker::submit_report(IncomingReport report, ReportDone done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || reports_.size() >= settings_.capacity) return false;
    // An empty queue takes any report, so that one larger than the budget is not refused forever.
    const std::size_t size = report.json.size();
    if (!reports_.empty() && queued_bytes_ + size > settings_.capacity_bytes) return false;
    queued_bytes_ += size;
    reports_.push_back({std::move(report), std::move(done)});
  }
  wake_.notify_one();
  return true;
}

bool StorageWorker::submit_job(Job job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
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

void StorageWorker::store_batch(std::vector<Pending>& batch) {
  const auto store = [this](std::vector<IncomingReport>& reports, std::string& error) {
    std::vector<IngestOutcome> outcomes;
    try {
      outcomes = storage_.store_reports(reports);
      if (outcomes.size() != reports.size()) error = "storage returned a wrong number of outcomes";
    } catch (const std::exception& e) {
      error = e.what();
    }
    return outcomes;
  };
  std::vector<IncomingReport> reports;
  reports.reserve(batch.size());
  for (auto& pending : batch) reports.push_back(std::move(pending.report));
  std::string error;
  const auto outcomes = store(reports, error);
  if (error.empty()) {
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(outcomes[i], error);
    return;
  }
  log::error("storing ", reports.size(), " reports: ", error);
  if (reports.size() == 1) return batch[0].done(std::nullopt, error);
  // One bad report (or a lost connection) failed the transaction: each on its own, so only a bad one fails.
  for (std::size_t i = 0; i < batch.size(); ++i) {
    std::vector<IncomingReport> one;
    one.push_back(std::move(reports[i]));
    std::string single_error;
    const auto single = store(one, single_error);
    if (single_error.empty()) {
      batch[i].done(single[0], single_error);
    } else {
      log::error("storing report ", one[0].report_id, " of device ", one[0].device_id, ": ", single_error);
      batch[i].done(std::nullopt, single_error);
    }
  }
}

void StorageWorker::run() {
  std::vector<Pending> batch;
  for (;;) {
    std::deque<Job> jobs;
    batch.clear();
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, kRevocationRefresh, [&] { return stopping_ || !reports_.empty() || !jobs_.empty(); });
      if (stopping_ && jobs_.empty()) return;
      jobs.swap(jobs_);
      std::size_t batch_bytes = 0;
      while (!reports_.empty() && batch.size() < kMaxBatch &&
             (batch.empty() || batch_bytes + reports_.front().report.json.size() <= kMaxBatchBytes)) {
        const std::size_t size = reports_.front().report.json.size();
        batch_bytes += size;
        queued_bytes_ -= size;
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
    if (!batch.empty()) store_batch(batch);
    housekeeping(Clock::now());
  }
}

}  // namespace postured::console
