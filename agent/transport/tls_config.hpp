// The TLS settings every postured connection uses (mbedTLS 3.6): TLS 1.3 preferred, 1.2 allowed, AEAD
// suites only, one pinned CA, and the certificate and key this end presents.
#pragma once

#include <memory>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

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

// Certificate serials a server refuses at the handshake (revoked devices). Shared between the TLS
// configuration, whose verify path reads it on every handshake, and whoever learns of revocations;
// thread-safe. Serials are lower-case hex of the serial's bytes without leading zero bytes
// (`serial_hex`), as the console issues and stores them.
class RevokedSerials {
 public:
  bool contains(std::string_view serial) const;
  void add(std::string serial);
  // Replaces the whole set (a fresh read of the revocation list).
  void replace(const std::vector<std::string>& serials);
  std::size_t size() const;

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_set<std::string> serials_;
};

// A serial number's bytes as RevokedSerials keys it: lower-case hex, leading zero bytes dropped.
std::string serial_hex(const unsigned char* bytes, std::size_t size);

// How a server treats client certificates.
struct ServerOptions {
  // true: a client may connect without a certificate (enrollment); one it does present must still
  // verify, and a bad one ends the handshake. false: a certificate is required.
  bool client_certificate_optional = false;
  // Serials refused at the handshake; null: none.
  std::shared_ptr<const RevokedSerials> revoked;
};

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
  // A server with the client-certificate policy of `options` (the console's agent endpoint).
  static std::shared_ptr<const TlsConfig> server(std::string_view ca_pem, const TlsIdentity& identity,
                                                 ServerOptions options);

  ~TlsConfig();
  TlsConfig(const TlsConfig&) = delete;
  TlsConfig& operator=(const TlsConfig&) = delete;

  Role role() const { return role_; }
  // Whether this end presents a certificate.
  bool has_identity() const { return has_identity_; }
  const mbedtls_ssl_config* ssl_config() const;
  // The pinned CA's subject, as mbedTLS prints a DN ("CN=Console CA, O=Example").
  const std::string& pinned_ca_subject() const { return pinned_ca_subject_; }
  // Servers: whether a client may go without a certificate, and which serials are refused.
  bool client_certificate_optional() const { return server_options_.client_certificate_optional; }
  const RevokedSerials* revoked_serials() const { return server_options_.revoked.get(); }

 private:
  struct Impl;
  TlsConfig(Role role, std::string_view ca_pem, const TlsIdentity* identity, ServerOptions server_options = {});

  Role role_;
  bool has_identity_;
  std::unique_ptr<Impl> impl_;
  std::string pinned_ca_subject_;
  ServerOptions server_options_;
};

}  // namespace postured::transport
