// Keys, CSRs and certificates for console_load_bench, made with mbedTLS in process: 10,000 simulated
// devices need 10,000 P-256 keys and CSRs, which the openssl CLI (one process each) makes far too slowly.
//
// `LocalCa` is the stand-alone PKI for a run without posture-console (nginx alone): a CA, a server
// certificate for localhost and 127.0.0.1, and device certificates signed directly. With the console,
// devices get their certificates from its real /v1/enroll instead, and only EcKey and make_csr are used.
#pragma once

#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
// mbedTLS 3.6's psa_util.h has no extern "C" of its own.
extern "C" {
#include <mbedtls/psa_util.h>
}

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "transport/tls_config.hpp"

namespace postured::bench {

inline void check_mbedtls(int rc, const char* what) {
  if (rc == 0) return;
  char text[200];
  mbedtls_strerror(rc, text, sizeof text);
  throw std::runtime_error(std::string(what) + " failed: " + text);
}

// An ECDSA P-256 key pair, as the agent makes at enrollment.
class EcKey {
 public:
  EcKey() {
    transport::ensure_psa_initialised();
    mbedtls_pk_init(&pk_);
    check_mbedtls(mbedtls_pk_setup(&pk_, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), "mbedtls_pk_setup");
    check_mbedtls(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk_), mbedtls_psa_get_random,
                                      MBEDTLS_PSA_RANDOM_STATE),
                  "mbedtls_ecp_gen_key");
  }
  ~EcKey() { mbedtls_pk_free(&pk_); }
  EcKey(const EcKey&) = delete;
  EcKey& operator=(const EcKey&) = delete;

  mbedtls_pk_context* get() { return &pk_; }
  std::string pem() {
    std::array<unsigned char, 1024> buffer{};
    check_mbedtls(mbedtls_pk_write_key_pem(&pk_, buffer.data(), buffer.size()), "mbedtls_pk_write_key_pem");
    return reinterpret_cast<const char*>(buffer.data());
  }

 private:
  mbedtls_pk_context pk_;
};

// A PKCS#10 request for `subject` ("CN=pos-0001,OU=store-7"), signed with `key` (SHA-256).
inline std::string make_csr(EcKey& key, const std::string& subject) {
  mbedtls_x509write_csr csr;
  mbedtls_x509write_csr_init(&csr);
  mbedtls_x509write_csr_set_md_alg(&csr, MBEDTLS_MD_SHA256);
  mbedtls_x509write_csr_set_key(&csr, key.get());
  std::array<unsigned char, 2048> buffer{};
  int rc = mbedtls_x509write_csr_set_subject_name(&csr, subject.c_str());
  if (rc == 0) {
    rc =
        mbedtls_x509write_csr_pem(&csr, buffer.data(), buffer.size(), mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
  }
  mbedtls_x509write_csr_free(&csr);
  check_mbedtls(rc, "writing a CSR");
  return reinterpret_cast<const char*>(buffer.data());
}

// What a certificate LocalCa issues says about its subject.
struct CertificateRequest {
  std::string subject;  // "CN=...,OU=..."
  bool is_ca = false;
  std::vector<std::string> dns_names;             // subjectAltName dNSName
  std::vector<std::array<unsigned char, 4>> ips;  // subjectAltName iPAddress (IPv4)
};

// A CA made in memory, for runs without the console. Its subject and every issuer name are written
// from the same string, so the issuer bytes match the CA's subject bytes exactly.
class LocalCa {
 public:
  LocalCa() {
    ca_pem_ = issue(ca_key_, {kCaSubject, true, {}, {}});
    server_pem_ = issue(server_key_, {"CN=console,O=Postured Load Bench", false, {"localhost"}, {{{127, 0, 0, 1}}}});
  }

  const std::string& ca_pem() const { return ca_pem_; }
  const std::string& server_pem() const { return server_pem_; }
  std::string server_key_pem() { return server_key_.pem(); }
  // A device certificate (CN=device, OU=store) for `key`.
  std::string sign_device(EcKey& key, const std::string& device_id, const std::string& store_id) {
    return issue(key, {"CN=" + device_id + ",OU=" + store_id, false, {}, {}});
  }

 private:
  static constexpr const char* kCaSubject = "CN=Postured Load Bench CA,O=Postured Load Bench";

  std::string issue(EcKey& subject_key, const CertificateRequest& request) {
    mbedtls_x509write_cert crt;
    mbedtls_x509write_crt_init(&crt);
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, subject_key.get());
    mbedtls_x509write_crt_set_issuer_key(&crt, ca_key_.get());
    std::vector<mbedtls_x509_san_list> names(request.dns_names.size() + request.ips.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
      auto& node = names[i].node;
      if (i < request.dns_names.size()) {
        node.type = MBEDTLS_X509_SAN_DNS_NAME;
        node.san.unstructured_name.p = reinterpret_cast<unsigned char*>(const_cast<char*>(request.dns_names[i].data()));
        node.san.unstructured_name.len = request.dns_names[i].size();
      } else {
        auto& ip = request.ips[i - request.dns_names.size()];
        node.type = MBEDTLS_X509_SAN_IP_ADDRESS;
        node.san.unstructured_name.p = const_cast<unsigned char*>(ip.data());
        node.san.unstructured_name.len = ip.size();
      }
      names[i].next = i + 1 < names.size() ? &names[i + 1] : nullptr;
    }
    const std::uint64_t serial = ++serial_;
    // DER wants the shortest form: no leading zero bytes (the serials stay far below 2^63).
    std::vector<unsigned char> serial_bytes;
    for (int shift = 56; shift >= 0; shift -= 8) {
      const auto byte = static_cast<unsigned char>(serial >> shift);
      if (byte != 0 || !serial_bytes.empty()) serial_bytes.push_back(byte);
    }
    std::array<unsigned char, 4096> buffer{};
    int rc = mbedtls_x509write_crt_set_serial_raw(&crt, serial_bytes.data(), serial_bytes.size());
    if (rc == 0) rc = mbedtls_x509write_crt_set_validity(&crt, "20250101000000", "20351231235959");
    if (rc == 0) rc = mbedtls_x509write_crt_set_subject_name(&crt, request.subject.c_str());
    if (rc == 0) rc = mbedtls_x509write_crt_set_issuer_name(&crt, kCaSubject);
    if (rc == 0) rc = mbedtls_x509write_crt_set_basic_constraints(&crt, request.is_ca ? 1 : 0, request.is_ca ? 0 : -1);
    if (rc == 0) {
      rc = mbedtls_x509write_crt_set_key_usage(&crt, request.is_ca
                                                         ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
                                                         : MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
    }
    if (rc == 0 && !names.empty()) rc = mbedtls_x509write_crt_set_subject_alternative_name(&crt, names.data());
    if (rc == 0) {
      rc = mbedtls_x509write_crt_pem(&crt, buffer.data(), buffer.size(), mbedtls_psa_get_random,
                                     MBEDTLS_PSA_RANDOM_STATE);
    }
    mbedtls_x509write_crt_free(&crt);
    check_mbedtls(rc, "writing a certificate");
    return reinterpret_cast<const char*>(buffer.data());
  }

  EcKey ca_key_;
  EcKey server_key_;
  std::uint64_t serial_ = 0x1000;
  std::string ca_pem_;
  std::string server_pem_;
};

}  // namespace postured::bench
