// Counters the agent endpoint updates and GET /metrics renders (Prometheus text format). Thread-safe:
// the endpoint's threads increment, the operator API reads.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace postured::console {

class Metrics {
 public:
  // Upper bounds of the ingest latency histogram, in seconds (Prometheus `le` labels); +Inf is implied.
  static constexpr std::array<double, 10> kLatencyBuckets{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,  0.1,    0.25,  0.5,  1.0};

  void report_ingested() { ++reports_ingested_; }
  void report_duplicate() { ++reports_duplicate_; }
  // `reason` is a short fixed token: malformed_json, schema, too_large, gzip_bomb, device_mismatch,
  // no_client_certificate, overloaded, storage, ...
  void report_rejected(const std::string& reason) {
    std::lock_guard lock(mutex_);
    ++rejected_[reason];
  }
  void enrollment(bool accepted) { ++(accepted ? enrollments_accepted_ : enrollments_refused_); }
  void handshake_failed() { ++handshakes_failed_; }
  // Time from the request's last byte to the answer's first, for POST /v1/reports.
  void observe_ingest_latency(std::chrono::nanoseconds elapsed) {
    const double seconds = std::chrono::duration<double>(elapsed).count();
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i)
      if (seconds <= kLatencyBuckets[i]) ++latency_counts_[i];
    ++latency_count_;
    latency_sum_ += seconds;
  }

  struct Snapshot {
    std::uint64_t reports_ingested = 0;
    std::uint64_t reports_duplicate = 0;
    std::uint64_t enrollments_accepted = 0;
    std::uint64_t enrollments_refused = 0;
    std::uint64_t handshakes_failed = 0;
    std::map<std::string, std::uint64_t> rejected;
    std::array<std::uint64_t, kLatencyBuckets.size()> latency_counts{};  // cumulative, per `le`
    std::uint64_t latency_count = 0;
    double latency_sum = 0;
  };
  Snapshot snapshot() const {
    Snapshot s;
    s.reports_ingested = reports_ingested_;
    s.reports_duplicate = reports_duplicate_;
    s.enrollments_accepted = enrollments_accepted_;
    s.enrollments_refused = enrollments_refused_;
    s.handshakes_failed = handshakes_failed_;
    std::lock_guard lock(mutex_);
    s.rejected = rejected_;
    s.latency_counts = latency_counts_;
    s.latency_count = latency_count_;
    s.latency_sum = latency_sum_;
    return s;
  }

 private:
  std::atomic<std::uint64_t> reports_ingested_{0};
  std::atomic<std::uint64_t> reports_duplicate_{0};
  std::atomic<std::uint64_t> enrollments_accepted_{0};
  std::atomic<std::uint64_t> enrollments_refused_{0};
  std::atomic<std::uint64_t> handshakes_failed_{0};
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> rejected_;
  std::array<std::uint64_t, kLatencyBuckets.size()> latency_counts_{};
  std::uint64_t latency_count_ = 0;
  double latency_sum_ = 0;
};

}  // namespace postured::console
