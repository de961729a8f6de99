// The operator API and the web dashboard (default 127.0.0.1:8080): JSON for central IT's tools, CSV
// for auditors, Prometheus metrics, and the dashboard's static files, all behind operator bearer tokens
// (except GET / and the static files, whose API calls carry the token the operator typed in).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/asio.hpp"
#include "server/metrics.hpp"
#include "storage/storage.hpp"

namespace postured::console {

struct ApiConfig {
  std::string listen = "127.0.0.1:8080";           // host:port
  std::vector<std::string> operator_token_hashes;  // hex SHA-256 of each accepted bearer token
  std::chrono::seconds stale_after{24 * 3600};     // a device silent for longer is "stale"
  // HTTPS when both are set (same mbedTLS stack as the agent endpoint; no client certificate asked).
  std::string tls_certificate_pem;
  std::string tls_private_key_pem;
};

class OperatorApi {
 public:
  // Serves on `io` (the caller runs it on one or more threads). `storage` and `metrics` outlive this.
  OperatorApi(boost::asio::io_context& io, Storage& storage, const Metrics& metrics, ApiConfig config);
  ~OperatorApi();
  OperatorApi(const OperatorApi&) = delete;
  OperatorApi& operator=(const OperatorApi&) = delete;

  // Binds and starts accepting; throws std::runtime_error naming the address when it cannot bind, or
  // when the HTTPS certificate or key is unusable.
  void start();
  // The bound port (useful with port 0 in tests).
  unsigned short port() const;
  // Closes the listener and every open connection (their last handlers still run on `io`). Idempotent.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with open connections, which may outlive stop()
};

}  // namespace postured::console
