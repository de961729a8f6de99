#include "transport/tls_engine.hpp"

#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <cstring>

namespace postured::transport {
namespace {

// Room kept free for bytes from the peer: one full TLS record (16 KiB plaintext plus overhead).
constexpr std::size_t kInputChunk = 18 * 1024;

bool is_retry(int rc) {
  return rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
         rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET || rc == MBEDTLS_ERR_SSL_ASYNC_IN_PROGRESS ||
         rc == MBEDTLS_ERR_SSL_CRYPTO_IN_PROGRESS;
}

// The value of the first attribute `oid` (MBEDTLS_OID_AT_*) in a distinguished name, or "".
std::string name_attribute(const mbedtls_x509_name* name, const char* oid, std::size_t oid_size) {
  for (; name; name = name->next) {
    if (name->oid.len == oid_size && std::memcmp(name->oid.p, oid, oid_size) == 0) {
      std::string value;
      value.assign(reinterpret_cast<const char*>(name->val.p), name->val.len);
      return value;
    }
  }
  return {};
}

PeerIdentity identity_of(const mbedtls_x509_crt& certificate) {
  PeerIdentity identity;
  identity.common_name = name_attribute(&certificate.subject, MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN));
  identity.organizational_unit =
      name_attribute(&certificate.subject, MBEDTLS_OID_AT_ORG_UNIT, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORG_UNIT));
  identity.serial = serial_hex(certificate.serial.p, certificate.serial.len);
  return identity;
}

}  // namespace

TlsEngine::TlsEngine(std::shared_ptr<const TlsConfig> config, const std::string& expected_host)
    : config_(std::move(config)), ssl_(std::make_unique<mbedtls_ssl_context>()), expected_host_(expected_host) {
  mbedtls_ssl_init(ssl_.get());
  int rc = mbedtls_ssl_setup(ssl_.get(), config_->ssl_config());
  if (rc == 0 && config_->role() == TlsConfig::Role::client) {
    if (expected_host_.empty())
      rc = MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    else
      rc = mbedtls_ssl_set_hostname(ssl_.get(), expected_host_.c_str());
  }
  if (rc != 0) {
    mbedtls_ssl_free(ssl_.get());
    char text[160];
    mbedtls_strerror(rc, text, sizeof text);
    throw TlsConfigError(std::string("cannot set up a TLS connection: ") + text);
  }
  mbedtls_ssl_set_bio(ssl_.get(), this, send_callback, receive_callback, nullptr);
  mbedtls_ssl_set_verify(ssl_.get(), verify_callback, this);
}

TlsEngine::~TlsEngine() {
  mbedtls_ssl_free(ssl_.get());
  wipe(input_.data(), input_.size());
  wipe(write_staging_.data(), write_staging_.size());
}

int TlsEngine::send_callback(void* self, const unsigned char* data, std::size_t size) {
  auto& engine = *static_cast<TlsEngine*>(self);
  engine.output_.insert(engine.output_.end(), data, data + size);
  return static_cast<int>(size);
}

int TlsEngine::receive_callback(void* self, unsigned char* data, std::size_t size) {
  auto& engine = *static_cast<TlsEngine*>(self);
  const std::size_t available = engine.input_end_ - engine.input_begin_;
  if (available == 0) return MBEDTLS_ERR_SSL_WANT_READ;
  const std::size_t n = std::min(size, available);
  std::memcpy(data, engine.input_.data() + engine.input_begin_, n);
  engine.input_begin_ += n;
  return static_cast<int>(n);
}

// Called for each certificate of the peer's chain, root first. The peer certificate is summarised here
// because after a failed (or TLS 1.3) handshake mbedtls_ssl_get_peer_cert() may have nothing to give.
//
// A server checks revocation here. In optional mode it also ends the handshake on any problem: mbedTLS
// would otherwise accept a certificate that failed to verify, but an error from this callback is fatal.
int TlsEngine::verify_callback(void* self, mbedtls_x509_crt* certificate, int depth, std::uint32_t* flags) {
  auto& engine = *static_cast<TlsEngine*>(self);
  auto& outcome = engine.verify_;
  try {
    if (depth == 0) {
      outcome.leaf = summarize(*certificate);
      PeerIdentity identity = identity_of(*certificate);
      if (engine.config_->role() == TlsConfig::Role::server) {
        const RevokedSerials* revoked = engine.config_->revoked_serials();
        if (revoked && revoked->contains(identity.serial)) *flags |= MBEDTLS_X509_BADCERT_REVOKED;
        // A client certificate must say it is one. mbedTLS checks extendedKeyUsage only after this
        // callback, accepts a certificate without the extension, and in optional mode ignores a
        // mismatch; so the presence and the purpose are both required here, where failing is fatal.
        if (!mbedtls_x509_crt_has_ext_type(certificate, MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) ||
            mbedtls_x509_crt_check_extended_key_usage(certificate, MBEDTLS_OID_CLIENT_AUTH,
                                                      MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) != 0) {
          *flags |= MBEDTLS_X509_BADCERT_EXT_KEY_USAGE;
        }
        outcome.leaf_flags |= *flags;
        // Required mode fails on the flags by itself, with the alert that fits them (certificate_revoked,
        // unknown_ca, ...); optional mode needs the error, and then always sends access_denied.
        if (engine.config_->client_certificate_optional() && (outcome.leaf_flags != 0 || outcome.chain_flags != 0)) {
          return MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
        }
      } else {
        outcome.leaf_flags |= *flags;
      }
      // Only a candidate: the identity is bound once the whole handshake succeeded (handshake()).
      if (outcome.leaf_flags == 0 && outcome.chain_flags == 0) engine.candidate_identity_ = std::move(identity);
    } else {
      outcome.chain_flags |= *flags;
      if (*flags && !outcome.failing_ca) outcome.failing_ca = summarize(*certificate);
    }
  } catch (...) {
    return MBEDTLS_ERR_X509_FATAL_ERROR;
  }
  return 0;
}

// mbedTLS 3.6 has no accessor for the alert it received; the record it just read still holds it.
void TlsEngine::note_alert(int rc) {
  if (rc != MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) return;
  const unsigned char* message = ssl_->MBEDTLS_PRIVATE(in_msg);
  if (message && ssl_->MBEDTLS_PRIVATE(in_msglen) >= 2) peer_alert_ = message[1];
}

TlsEngine::Step TlsEngine::step(int rc) {
  note_alert(rc);
  if (is_retry(rc)) {
    if (pending_output_size() > 0) return {Want::output, rc, false};
    if (rc == MBEDTLS_ERR_SSL_WANT_READ) return {Want::input, rc, false};
    return {Want::again, rc, false};
  }
  if (pending_output_size() > 0) return {Want::output, rc, true};
  return {Want::done, rc, true};
}

TlsEngine::Step TlsEngine::handshake() {
  const int rc = mbedtls_ssl_handshake(ssl_.get());
  if (rc == 0) {
    handshake_done_ = true;
    // mbedTLS runs some checks (key usage) after the verify callback and, with an optional client
    // certificate, finishes the handshake despite their failure: the final verify result decides.
    if (candidate_identity_ && mbedtls_ssl_get_verify_result(ssl_.get()) == 0 && verify_.leaf_flags == 0 &&
        verify_.chain_flags == 0) {
      peer_identity_ = std::move(candidate_identity_);
    }
    candidate_identity_.reset();
  }
  if (rc < 0 && !is_retry(rc)) {
    const std::uint32_t result = mbedtls_ssl_get_verify_result(ssl_.get());
    if (verify_.leaf_flags == 0 && verify_.chain_flags == 0 && result != 0 && result != UINT32_MAX) {
      verify_.leaf_flags = result;
    }
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED || verify_.leaf_flags != 0 || verify_.chain_flags != 0) {
      const bool client = config_->role() == TlsConfig::Role::client;
      certificate_problem_ =
          explain(verify_, client ? "console" : "client", expected_host_, config_->pinned_ca_subject());
    }
  }
  return step(rc);
}

TlsEngine::Step TlsEngine::read(unsigned char* data, std::size_t size) {
  const int rc = mbedtls_ssl_read(ssl_.get(), data, size);
  if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) close_notify_ = true;
  return step(rc);
}

TlsEngine::Step TlsEngine::write(const unsigned char* data, std::size_t size) {
  return step(mbedtls_ssl_write(ssl_.get(), data, size));
}

TlsEngine::Step TlsEngine::shutdown() {
  return step(mbedtls_ssl_close_notify(ssl_.get()));
}

void TlsEngine::consume_output(std::size_t n) {
  output_sent_ += n;
  if (output_sent_ >= output_.size()) {
    output_.clear();
    output_sent_ = 0;
  }
}

unsigned char* TlsEngine::input_space(std::size_t& size) {
  if (input_begin_ == input_end_) {
    input_begin_ = input_end_ = 0;
  } else if (input_begin_ > 0) {
    std::memmove(input_.data(), input_.data() + input_begin_, input_end_ - input_begin_);
    input_end_ -= input_begin_;
    input_begin_ = 0;
  }
  if (input_.size() < input_end_ + kInputChunk) input_.resize(input_end_ + kInputChunk);
  size = input_.size() - input_end_;
  return input_.data() + input_end_;
}

std::string TlsEngine::protocol() const {
  return mbedtls_ssl_get_version(ssl_.get());
}

std::string TlsEngine::ciphersuite() const {
  const char* name = mbedtls_ssl_get_ciphersuite(ssl_.get());
  return name ? name : "";
}

}  // namespace postured::transport
