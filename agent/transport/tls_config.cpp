#include "transport/tls_config.hpp"

#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>
// mbedTLS 3.6's psa_util.h has no extern "C" of its own.
extern "C" {
#include <mbedtls/psa_util.h>
}

#include <fstream>
#include <iterator>
#include <mutex>

namespace postured::transport {
namespace {

// AEAD only, forward secrecy only. TLS 1.3 suites first so that a 1.3 server picks one of them;
// the TLS 1.2 ones are ECDHE with AES-GCM or ChaCha20-Poly1305, never CBC.
constexpr int kCipherSuites[] = {
    MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
    MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
    MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};

std::string mbedtls_message(int rc) {
  char text[160];
  mbedtls_strerror(rc, text, sizeof text);
  return text;
}

}  // namespace

struct TlsConfig::Impl {
  mbedtls_ssl_config conf;
  mbedtls_x509_crt ca;
  mbedtls_x509_crt own_cert;
  mbedtls_pk_context own_key;

  Impl() {
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&own_cert);
    mbedtls_pk_init(&own_key);
  }
  ~Impl() {
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca);
    mbedtls_x509_crt_free(&own_cert);
    mbedtls_pk_free(&own_key);
  }
};

void ensure_psa_initialised() {
  static std::once_flag once;
  std::call_once(once, [] {
    const psa_status_t status = psa_crypto_init();
    if (status != PSA_SUCCESS) throw TlsConfigError("psa_crypto_init failed: " + std::to_string(status));
  });
}

std::string read_pem_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TlsConfigError("cannot read " + path);
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (text.find("-----BEGIN ") == std::string::npos) throw TlsConfigError(path + " holds no PEM block");
  return text;
}

std::shared_ptr<const TlsConfig> TlsConfig::client(std::string_view ca_pem, const TlsIdentity* identity) {
  return std::shared_ptr<const TlsConfig>(new TlsConfig(Role::client, ca_pem, identity));
}

std::shared_ptr<const TlsConfig> TlsConfig::server(std::string_view ca_pem, const TlsIdentity& identity) {
  return std::shared_ptr<const TlsConfig>(new TlsConfig(Role::server, ca_pem, &identity));
}

std::shared_ptr<const TlsConfig> TlsConfig::server(std::string_view ca_pem, const TlsIdentity& identity,
                                                   ServerOptions options) {
  return std::shared_ptr<const TlsConfig>(new TlsConfig(Role::server, ca_pem, &identity, std::move(options)));
}

bool RevokedSerials::contains(std::string_view serial) const {
  std::shared_lock lock(mutex_);
  return serials_.count(std::string(serial)) > 0;
}

void RevokedSerials::add(std::string serial) {
  std::unique_lock lock(mutex_);
  serials_.insert(std::move(serial));
}

void RevokedSerials::replace(const std::vector<std::string>& serials) {
  std::unordered_set<std::string> fresh(serials.begin(), serials.end());
  std::unique_lock lock(mutex_);
  serials_.swap(fresh);
}

std::size_t RevokedSerials::size() const {
  std::shared_lock lock(mutex_);
  return serials_.size();
}

std::string serial_hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  while (size > 1 && bytes[0] == 0) {
    ++bytes;
    --size;
  }
  std::string hex;
  hex.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    hex += kDigits[bytes[i] >> 4];
    hex += kDigits[bytes[i] & 0x0f];
  }
  return hex;
}

TlsConfig::~TlsConfig() = default;

const mbedtls_ssl_config* TlsConfig::ssl_config() const {
  return &impl_->conf;
}

TlsConfig::TlsConfig(Role role, std::string_view ca_pem, const TlsIdentity* identity, ServerOptions server_options)
    : role_(role),
      has_identity_(identity != nullptr),
      impl_(std::make_unique<Impl>()),
      server_options_(std::move(server_options)) {
  ensure_psa_initialised();
  auto& conf = impl_->conf;

  // mbedTLS parses PEM only with the terminating NUL counted in the length.
  const std::string ca_text(ca_pem);
  int rc =
      mbedtls_x509_crt_parse(&impl_->ca, reinterpret_cast<const unsigned char*>(ca_text.c_str()), ca_text.size() + 1);
  if (rc != 0) throw TlsConfigError("the pinned CA is not a PEM certificate mbedTLS can use: " + mbedtls_message(rc));
  char dn[512];
  if (mbedtls_x509_dn_gets(dn, sizeof dn, &impl_->ca.subject) > 0) pinned_ca_subject_ = dn;

  if (identity) {
    const auto& cert = identity->certificate_pem;
    rc =
        mbedtls_x509_crt_parse(&impl_->own_cert, reinterpret_cast<const unsigned char*>(cert.c_str()), cert.size() + 1);
    if (rc != 0) throw TlsConfigError("the certificate is not PEM mbedTLS can use: " + mbedtls_message(rc));
    const auto& key = identity->private_key_pem.str();
    rc = mbedtls_pk_parse_key(&impl_->own_key, reinterpret_cast<const unsigned char*>(key.c_str()), key.size() + 1,
                              nullptr, 0, mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
    if (rc != 0) throw TlsConfigError("the private key is not PEM mbedTLS can use: " + mbedtls_message(rc));
    rc = mbedtls_pk_check_pair(&impl_->own_cert.pk, &impl_->own_key, mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
    if (rc != 0) throw TlsConfigError("the private key does not belong to the certificate");
  }

  rc = mbedtls_ssl_config_defaults(&conf, role == Role::client ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER,
                                   MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (rc != 0) throw TlsConfigError("mbedtls_ssl_config_defaults: " + mbedtls_message(rc));
  mbedtls_ssl_conf_rng(&conf, mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
  mbedtls_ssl_conf_min_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_2);
  mbedtls_ssl_conf_max_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_3);
  mbedtls_ssl_conf_ciphersuites(&conf, kCipherSuites);
  // Both ends always authenticate with certificates: no PSK, so no resumption that could skip the
  // client certificate (DESIGN.md's TLS 1.3 ticket trap).
  mbedtls_ssl_conf_tls13_key_exchange_modes(&conf, MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL);
  if (role == Role::client) {
    mbedtls_ssl_conf_session_tickets(&conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
    mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&conf,
                                                             MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_DISABLED);
  }
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_SRV_C) && defined(MBEDTLS_SSL_PROTO_TLS1_3)
  // A server sends no TLS 1.3 tickets either: a resumed session may not carry the client certificate.
  if (role == Role::server) mbedtls_ssl_conf_new_session_tickets(&conf, 0);
#endif
  // With an optional client certificate mbedTLS would finish a handshake whose certificate failed to
  // verify and leave the check to the caller; TlsEngine's verify callback ends such a handshake
  // instead (a callback error is fatal even in optional mode), so "optional" means only "may be absent".
  mbedtls_ssl_conf_authmode(&conf, role == Role::server && server_options_.client_certificate_optional
                                       ? MBEDTLS_SSL_VERIFY_OPTIONAL
                                       : MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&conf, &impl_->ca, nullptr);
  if (identity) {
    rc = mbedtls_ssl_conf_own_cert(&conf, &impl_->own_cert, &impl_->own_key);
    if (rc != 0) throw TlsConfigError("mbedtls_ssl_conf_own_cert: " + mbedtls_message(rc));
  }
}

}  // namespace postured::transport
