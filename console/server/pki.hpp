// The console's enrollment CA (mbedTLS 3.6, ECDSA P-256): `ca init` makes the CA and the server's
// certificate; enrollment and renewal sign device CSRs. Files under <data_dir>/ca/:
//   ca.key (0600), ca.crt     self-signed, CA:true, pathlen 0, keyCertSign + cRLSign, 10 years
//   server.key (0600), server.crt  SANs from server.names, EKU serverAuth, 1 year
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/secret.hpp"

namespace postured::console {

// The CA cannot be made or used (files missing or unreadable, bad PEM, mbedTLS failure).
class PkiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A CSR that cannot be signed; the message says why, for the agent (400 bad_csr).
class CsrError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CaFiles {
  std::filesystem::path ca_key, ca_certificate, server_key, server_certificate;
  static CaFiles in(const std::filesystem::path& ca_dir);
};

// Makes the CA and the server key and certificate. Refuses (PkiError) when a CA is already there,
// unless `force`. `names` are DNS names or IP addresses (v4 or v6) for the server certificate.
CaFiles initialise_ca(const std::filesystem::path& ca_dir, const std::vector<std::string>& names, bool force,
                      std::chrono::system_clock::time_point now);

// A device CSR whose signature verified, with an EC P-256 key and a subject CN=<device>, OU=<store>.
class CertificateRequest {
 public:
  // Throws CsrError naming what is wrong.
  static CertificateRequest parse(std::string_view pem);
  ~CertificateRequest();
  CertificateRequest(CertificateRequest&&) noexcept;
  CertificateRequest& operator=(CertificateRequest&&) = delete;

  const std::string& common_name() const { return common_name_; }
  const std::string& organizational_unit() const { return organizational_unit_; }

 private:
  friend class CertificateAuthority;
  struct Impl;
  CertificateRequest();
  std::unique_ptr<Impl> impl_;
  std::string common_name_;
  std::string organizational_unit_;
};

struct IssuedCertificate {
  std::string certificate_pem;
  std::string serial;  // transport::serial_hex form
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
};

class CertificateAuthority {
 public:
  // Reads ca.key and ca.crt; throws PkiError (naming the file) when they are missing or unusable.
  static std::unique_ptr<CertificateAuthority> load(const std::filesystem::path& ca_dir);
  ~CertificateAuthority();
  CertificateAuthority(const CertificateAuthority&) = delete;
  CertificateAuthority& operator=(const CertificateAuthority&) = delete;

  // A client certificate for the CSR's key: subject CN and OU only, random positive 16-byte serial,
  // EKU clientAuth, keyUsage digitalSignature, valid from now - 5 min for `days`. Thread-safe.
  IssuedCertificate sign(const CertificateRequest& request, int days, std::chrono::system_clock::time_point now) const;
  const std::string& certificate_pem() const { return certificate_pem_; }

 private:
  struct Impl;
  CertificateAuthority();
  std::unique_ptr<Impl> impl_;
  std::string certificate_pem_;
  mutable std::mutex mutex_;
};

// Device ids and store ids as the console accepts them in a CSR subject: 1 to 64 of [A-Za-z0-9._-].
bool valid_subject_value(std::string_view value);

}  // namespace postured::console
