// Getting and renewing this device's client certificate from the console (POST /v1/enroll with a
// one-time token over server-authenticated TLS; POST /v1/renew over mutual TLS). The key is made on
// the device and only its CSR leaves it; the new identity is stored before it is used.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "transport/client_identity.hpp"
#include "transport/https_client.hpp"

namespace postured::transport {

// Where and as whom to enroll.
struct EnrollmentTarget {
  HttpsEndpoint endpoint;
  std::string ca_pem;  // the pinned console CA
  std::string device_id;
  std::string store_id;
  HttpsClientSettings http;
};

struct EnrollmentOutcome {
  std::optional<CertificateFacts> certificate;  // set on success: the certificate now stored
  std::string error_code;  // the console's code (token_unknown, clock_skew, ...), or transport/certificate/...
  std::string message;     // what happened and what to do, for a person
  int exit_code = 0;       // DESIGN.md: 0 ok, 2 a token or store that is wrong, 3 anything at run time

  bool ok() const { return certificate.has_value(); }
};

// Enrolls with `token`: makes a key, sends its CSR, stores certificate and sealed key in `store`.
EnrollmentOutcome enroll(const EnrollmentTarget& target, const std::string& token, const ClientIdentityStore& store);

// Renews over mTLS with `current`: a fresh key's CSR; the new identity replaces the old one only once
// it is stored, so a failure at any step leaves the current certificate in use.
EnrollmentOutcome renew(const EnrollmentTarget& target, const StoredIdentity& current,
                        const ClientIdentityStore& store);

// One sentence for a console error code as /v1/enroll and /v1/renew send them.
std::string explain_enrollment_error(const std::string& code, const std::string& console_message,
                                     const std::string& device_time, const std::string& server_time,
                                     const std::string& store_id, const std::string& device_id = "");

}  // namespace postured::transport
