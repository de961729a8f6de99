// The agent endpoint (default port 8443): HTTP/1.1 with keep-alive over the project's mbedTLS TlsStream.
// A client certificate is optional at the handshake (enrollment has none yet) but verified strictly when
// presented; revoked serials are refused at the handshake. Routes, per console/README.md:
//   POST /v1/enroll   token + CSR → device certificate (no client certificate needed)
//   POST /v1/renew    CSR for the same CN and OU → new certificate (mutual TLS)
//   POST /v1/reports  postured.report/v1, optionally gzip → 200 only once durably stored (mutual TLS)
#pragma once

#include <memory>
#include <string>

#include "server/config.hpp"
#include "server/metrics.hpp"
#include "server/pki.hpp"
#include "storage/storage.hpp"
#include "transport/tls_config.hpp"

namespace postured::console {

class AgentEndpoint {
 public:
  // `storage`, `metrics` and `ca` outlive the endpoint. `server` is the certificate and key the
  // endpoint presents (ca/server.crt and server.key).
  AgentEndpoint(const ConsoleConfig& config, Storage& storage, Metrics& metrics, const CertificateAuthority& ca,
                const transport::TlsIdentity& server);
  ~AgentEndpoint();
  AgentEndpoint(const AgentEndpoint&) = delete;
  AgentEndpoint& operator=(const AgentEndpoint&) = delete;

  // Binds, loads the revoked serials, starts the storage thread and the I/O threads. Throws
  // std::runtime_error naming the address when it cannot bind.
  void start();
  // The bound port (useful with port 0 in tests).
  unsigned short port() const;
  // Stops accepting, ends connections, stores the batch in progress and joins every thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace postured::console
