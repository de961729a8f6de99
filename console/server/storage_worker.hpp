// The one thread through which the agent endpoint reaches storage. Reports wait in a bounded queue and
// are written in batches (many reports per transaction: the commit, not the insert, is what costs);
// each report's callback runs after its batch committed. Enrollment work runs on the same thread.
// Between batches the thread refreshes the revoked serials and applies raw-report retention.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "storage/storage.hpp"
#include "transport/tls_config.hpp"

namespace postured::console {

class StorageWorker {
 public:
  // Called on the storage thread: the outcome, or nullopt and what went wrong (a StorageError's text).
  using ReportDone = std::function<void(std::optional<IngestOutcome>, const std::string& error)>;
  using Job = std::function<void(Storage&)>;

  struct Settings {
    std::size_t capacity = 4096;                         // reports waiting, beyond which submit_report refuses
    std::size_t capacity_bytes = 256u << 20;             // their JSON bytes together, likewise
    std::chrono::hours retention{24 * 30};               // raw reports older than this are deleted
    std::shared_ptr<transport::RevokedSerials> revoked;  // refreshed from storage; may be null
  };

  StorageWorker(Storage& storage, Settings settings);
  ~StorageWorker();
  StorageWorker(const StorageWorker&) = delete;
  StorageWorker& operator=(const StorageWorker&) = delete;

  // Loads the revoked serials once (so the first handshake already knows them), then starts the thread.
  void start();
  // Finishes the batch in progress and the queued jobs, then stops. Reports still queued get
  // their callback with an error (the agent keeps them spooled and sends them again).
  void stop();

  // Queues a report; false when the queue is full by count or bytes, or stopping (the caller answers 503).
  bool submit_report(IncomingReport report, ReportDone done);
  // Queues work that needs storage (enrollment); false once stopping (the caller answers 503). Not
  // bounded otherwise: there are few such requests.
  bool submit_job(Job job);
  std::size_t queued_reports() const;

 private:
  void run();
  void housekeeping(Clock::time_point now);

  struct Pending {
    IncomingReport report;
    ReportDone done;
  };
  // Stores a batch and calls each callback; a batch that fails is retried report by report, so one
  // report that storage cannot take does not fail the others.
  void store_batch(std::vector<Pending>& batch);

  Storage& storage_;
  Settings settings_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> reports_;
  std::deque<Job> jobs_;
  std::size_t queued_bytes_ = 0;  // json sizes of reports_
  bool stopping_ = false;
  std::thread thread_;
  std::chrono::steady_clock::time_point next_revocation_refresh_{};
  std::chrono::steady_clock::time_point next_retention_{};
};

}  // namespace postured::console
