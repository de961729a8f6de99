// Moves reports from the spool to the console: oldest first, gzip bodies, one kept-alive mTLS
// connection, and a report leaves the spool only on a 2xx whose JSON names the same report_id. After a
// failure it waits (exponential backoff with full jitter, or the console's Retry-After on 429/503);
// once the console answers again the backlog goes out in batches with a pause between them.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "transport/backoff.hpp"
#include "transport/https_client.hpp"
#include "transport/report_spool.hpp"

namespace postured::transport {

struct SenderSettings {
  HttpsEndpoint endpoint;
  std::string ca_pem;
  HttpsClientSettings http;
  std::chrono::milliseconds retry_min{30000};
  std::chrono::milliseconds retry_max{1800000};
  std::size_t batch = 20;
  std::chrono::milliseconds pause{5000};
};

// What one pass did, and when the next should start when it stopped on a failure.
struct SendPass {
  std::size_t sent = 0;                               // confirmed by the console (duplicates included)
  std::size_t rejected = 0;                           // refused for good (400, 413): removed and counted
  bool drained = false;                               // the spool is empty
  std::optional<std::chrono::milliseconds> retry_in;  // set when the pass stopped on a failure
  bool retry_after_obeyed = false;                    // retry_in is the console's Retry-After
  std::string error;                                  // the failure, for logs and status
};

class ReportSender {
 public:
  // Waits `duration` unless stopped; returns false when stopped.
  using Sleep = std::function<bool(std::chrono::milliseconds)>;

  ReportSender(ReportSpool& spool, SenderSettings settings);

  // Sends spooled reports with `identity` until the spool is empty, an attempt fails, or `stop`.
  SendPass send_pending(const TlsIdentity& identity, std::stop_token stop, const Sleep& sleep);
  // Drops the connection (e.g. after a renewal) so the next pass opens one with the current identity.
  void reset_connection();
  // The pinned CA (read again before each attempt, so a replaced console.ca_file applies without a
  // restart); a different one drops the connection.
  void set_ca_pem(std::string ca_pem);
  std::size_t connections_opened() const { return connections_opened_; }

 private:
  ReportSpool& spool_;
  SenderSettings settings_;
  Backoff backoff_;
  std::unique_ptr<HttpsClient> client_;
  std::string client_certificate_;  // the certificate client_ was made with
  std::size_t connections_opened_ = 0;
};

}  // namespace postured::transport
