// The TLS settings every postured connection uses (mbedTLS 3.6): TLS 1.3 preferred, 1.2 allowed, AEAD
// suites only, one pinned CA, and the certificate and key this end presents.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/secret.hpp"

struct mbedtls_ssl_config;

namespace postured::transport {

// A CA, certificate or key that cannot be used (bad PEM, key not matching the certificate, unreadable
// file). These are configuration errors: they name what was wrong and do not depend on the network.
class TlsConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A certificate chain and its private key, both PEM. The key is taken as bytes, never as a path, so
// that it can come out of the platform key store without touching the disk.
struct TlsIdentity {
  std::string certificate_pem;
  SecretString private_key_pem;
};

// Calls psa_crypto_init() once per process; mbedTLS 3.6 needs it before any TLS 1.3 handshake.
void ensure_psa_initialised();

// Reads a PEM file (the pinned CA, a certificate); throws TlsConfigError naming the path.
std::string read_pem_file(const std::string& path);

// Immutable after construction and shared by every connection that uses it (mbedTLS keeps pointers
// into it), hence always held by shared_ptr.
class TlsConfig {
 public:
  enum class Role { client, server };

  // A client that trusts only `ca_pem` and presents `identity` when given (mutual TLS). Without an
  // identity the connection is server-authenticated only, as enrollment needs.
  static std::shared_ptr<const TlsConfig> client(std::string_view ca_pem, const TlsIdentity* identity);
  // A server presenting `identity`; it requires a client certificate signed by `ca_pem`.
  static std::shared_ptr<const TlsConfig> server(std::string_view ca_pem, const TlsIdentity& identity);

  ~TlsConfig();
  TlsConfig(const TlsConfig&) = delete;
  TlsConfig& operator=(const TlsConfig&) = delete;

  Role role() const { return role_; }
  // Whether this end presents a certificate.
  bool has_identity() const { return has_identity_; }
  const mbedtls_ssl_config* ssl_config() const;
  // The pinned CA's subject, as mbedTLS prints a DN ("CN=Console CA, O=Example").
  const std::string& pinned_ca_subject() const { return pinned_ca_subject_; }

 private:
  struct Impl;
  TlsConfig(Role role, std::string_view ca_pem, const TlsIdentity* identity);

  Role role_;
  bool has_identity_;
  std::unique_ptr<Impl> impl_;
  std::string pinned_ca_subject_;
};

}  // namespace postured::transport
