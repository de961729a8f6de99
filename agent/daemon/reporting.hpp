// The agent's reporting to the console, as the daemon runs it: the spool that each cycle's report
// enters, and a thread of its own that enrolls (with console.token_file), renews the certificate at
// two thirds of its lifetime and sends the spool. The event loop only ever commits a report to the
// spool (milliseconds) and reads the status; it never waits on the network.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/secret.hpp"
#include "transport/client_identity.hpp"
#include "transport/enrollment.hpp"
#include "transport/report_sender.hpp"
#include "transport/report_spool.hpp"

namespace postured {

// The reporting's own timings, one table.
namespace reporting_limits {
using namespace std::chrono_literals;
// postured --once makes one attempt and must not hang a provisioning script on a silent console.
inline constexpr std::chrono::milliseconds kOnceConnectTimeout = 5s;
inline constexpr std::chrono::milliseconds kOnceRequestTimeout = 20s;
// The daemon's requests: shorter than the transport's 120 s so that a stop (systemd gives 90 s) is
// never held up by a silent console for long.
inline constexpr std::chrono::milliseconds kDaemonRequestTimeout = 60s;
// With nothing to send, the sender still wakes this often to see whether renewal has come due.
inline constexpr std::chrono::milliseconds kIdleRecheck = 1h;
// The status request on the local socket (posturectl status).
inline constexpr std::string_view kStatusRequest = "STATUS\n";
}  // namespace reporting_limits

class ReportingService {
 public:
  enum class Mode { daemon, once };

  // Opens the spool when console.url is set; otherwise reporting is off and enabled() is false.
  ReportingService(const Config& config, const SecretKey& master, Mode mode);
  ~ReportingService();
  ReportingService(const ReportingService&) = delete;
  ReportingService& operator=(const ReportingService&) = delete;

  bool enabled() const { return spool_ != nullptr; }
  // Why reporting is off: "console.url is empty", or why the spool could not be opened.
  const std::string& disabled_reason() const { return disabled_reason_; }

  // {spool_depth, dropped_reports, rejected_reports}: what the next report says about the ones before it.
  nlohmann::ordered_json transport_block();
  // Commits a report to the spool and wakes the sender; false (logged) when it could not be committed.
  bool submit(const std::string& report_id, const std::string& json);
  // Starts the sender's thread (daemon mode).
  void start();
  // One enrollment (if needed), renewal (if due) and send pass with short timeouts, on this thread
  // (postured --once). Returns the error, empty when everything spooled was sent.
  std::string send_now();
  // The status document posturectl status shows (postured.status/v1).
  nlohmann::ordered_json status();
  // When the next cycle starts, for status.
  void set_next_cycle(std::chrono::system_clock::time_point earliest, std::chrono::system_clock::time_point latest);

 private:
  struct Attempt {
    std::optional<std::chrono::milliseconds> retry_in;  // set after a failure
    std::string error;
    bool repeated = false;  // the same certificate problem as last time, already logged
  };
  Attempt attempt(std::stop_token stop);
  // The identity to send with: the stored one when usable, else a new one enrolled with
  // console.token_file. `repeated` is set when the failure is a certificate problem logged before.
  std::optional<transport::StoredIdentity> ensure_identity(std::string& error, bool& repeated);
  // Remembers the current certificate problem (empty: none); true when it changed.
  bool note_identity_problem(const std::string& problem);
  // The new identity once renewed and stored; nullopt when not due or failed (the current one stays).
  std::optional<transport::StoredIdentity> renew_if_due(const transport::StoredIdentity& identity);
  transport::EnrollmentTarget enrollment_target(std::string& error) const;
  bool sleep_for(std::chrono::milliseconds duration, std::stop_token stop);
  void run(std::stop_token stop);

  Config config_;
  SecretKey master_;
  Mode mode_;
  std::string disabled_reason_;
  std::unique_ptr<transport::ReportSpool> spool_;
  transport::ClientIdentityStore identity_store_;
  std::optional<ConsoleUrl> url_;
  transport::HttpsClientSettings http_;
  std::unique_ptr<transport::ReportSender> sender_;  // used only by the sending thread (or send_now)
  transport::Backoff enroll_backoff_;

  std::mutex mutex_;  // guards what follows, shared by the loop and the sending thread
  std::condition_variable_any wake_;
  bool pending_ = false;
  std::string last_error_;
  std::string identity_problem_;  // the stored certificate's problem as last logged
  std::optional<transport::CertificateFacts> certificate_;
  std::optional<std::chrono::system_clock::time_point> next_attempt_at_;
  std::optional<std::chrono::system_clock::time_point> next_cycle_earliest_;
  std::optional<std::chrono::system_clock::time_point> next_cycle_latest_;

  std::jthread worker_;  // last: stopped and joined before the members it uses go away
};

// The status as the state directory tells it, when no daemon answers: certificate and, when the
// master key is readable (root), the spool's depth and counters. `daemon_error` says why no daemon answered.
nlohmann::ordered_json offline_status(const Config& config, const std::string& daemon_error);

}  // namespace postured
