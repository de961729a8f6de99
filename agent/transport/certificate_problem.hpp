// Why a peer's certificate was refused, in sentences a store technician can act on, instead of
// "certificate verify failed".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct mbedtls_x509_crt;

namespace postured::transport {

// What a certificate says about itself, for messages and for `posturectl status`.
struct CertificateSummary {
  std::string subject;             // "CN=console, O=Example"
  std::string issuer;              // the issuer's DN, same form
  std::vector<std::string> names;  // subjectAltName DNS names and IP addresses (the CN when there are none)
  std::string not_before;          // "2026-11-26 10:00:00 UTC"
  std::string not_after;
};

CertificateSummary summarize(const mbedtls_x509_crt& certificate);

// What certificate verification saw during one handshake (filled by the verify callback).
struct VerifyOutcome {
  std::uint32_t leaf_flags = 0;   // MBEDTLS_X509_BADCERT_* on the peer's own certificate
  std::uint32_t chain_flags = 0;  // the same on the CA certificates above it
  std::optional<CertificateSummary> leaf;
  std::optional<CertificateSummary> failing_ca;  // the first CA certificate with a problem
};

// One sentence per problem, naming the certificate that was presented. `peer` is "console" or
// "client"; `expected_host` is the name the connection was made to.
std::string explain(const VerifyOutcome& outcome, const std::string& peer, const std::string& expected_host,
                    const std::string& pinned_ca_subject);

}  // namespace postured::transport
