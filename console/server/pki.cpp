#include "server/pki.hpp"

#include <arpa/inet.h>
#include <mbedtls/asn1.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <psa/crypto.h>
extern "C" {
#include <mbedtls/psa_util.h>
}

#include <array>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>

#include "core/atomic_file.hpp"
#include "transport/tls_config.hpp"

namespace postured::console {
namespace {

using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

// Names and lifetimes of what `ca init` and enrollment make.
constexpr const char* kCaSubject = "CN=Posture Console CA,O=postured";   // also the issuer of every certificate
constexpr const char* kServerSubject = "CN=Posture Console,O=postured";  // the SANs carry the host names
constexpr auto kCaLifetime = 10 * 365 * 24h + 3 * 24h;                   // 10 years with leap days
constexpr auto kServerLifetime = 365 * 24h;
// Devices whose clock is a little behind the console's can use a certificate at once.
constexpr auto kBackdate = 5min;
constexpr std::size_t kSerialBytes = 16;
constexpr std::size_t kPemBufferSize = 8192;
constexpr auto kPrivateFile = std::filesystem::perms::owner_read | std::filesystem::perms::owner_write;
constexpr auto kPublicFile = kPrivateFile | std::filesystem::perms::group_read | std::filesystem::perms::others_read;

std::string mbedtls_message(int rc) {
  char text[160];
  mbedtls_strerror(rc, text, sizeof text);
  return text;
}

void check(int rc, const std::string& what) {
  if (rc != 0) throw PkiError(what + ": " + mbedtls_message(rc));
}

// X.509 validity as x509write wants it: "YYYYMMDDHHMMSS" in UTC.
std::string x509_time(Clock::time_point when) {
  const std::time_t t = Clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[16];
  std::strftime(text, sizeof text, "%Y%m%d%H%M%S", &tm);
  return text;
}

// Whole seconds, as the certificate holds them.
Clock::time_point truncate_to_seconds(Clock::time_point when) {
  return std::chrono::time_point_cast<std::chrono::seconds>(when);
}

struct PkKey {
  mbedtls_pk_context pk;
  PkKey() { mbedtls_pk_init(&pk); }
  ~PkKey() { mbedtls_pk_free(&pk); }
  PkKey(const PkKey&) = delete;
  PkKey& operator=(const PkKey&) = delete;
};

void generate_p256(PkKey& key) {
  transport::ensure_psa_initialised();
  check(mbedtls_pk_setup(&key.pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), "mbedtls_pk_setup");
  check(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key.pk), mbedtls_psa_get_random,
                            MBEDTLS_PSA_RANDOM_STATE),
        "generating an EC P-256 key");
}

SecretString key_pem(const PkKey& key) {
  std::vector<unsigned char> buffer(kPemBufferSize);
  check(mbedtls_pk_write_key_pem(&key.pk, buffer.data(), buffer.size()), "writing the key as PEM");
  SecretString pem(std::string(reinterpret_cast<const char*>(buffer.data())));
  wipe(buffer.data(), buffer.size());
  return pem;
}

std::array<unsigned char, kSerialBytes> random_serial() {
  std::array<unsigned char, kSerialBytes> serial{};
  const psa_status_t status = psa_generate_random(serial.data(), serial.size());
  if (status != PSA_SUCCESS) throw PkiError("psa_generate_random failed: " + std::to_string(status));
  // Positive (top bit clear) and a full 16 bytes long (first byte not zero), as RFC 5280 4.1.2.2 wants.
  serial[0] &= 0x7f;
  if (serial[0] == 0) serial[0] = 0x01;
  return serial;
}

struct CertificateSpec {
  std::string subject;
  mbedtls_pk_context* subject_key = nullptr;
  mbedtls_pk_context* issuer_key = nullptr;
  Clock::time_point not_before;
  Clock::time_point not_after;
  bool ca = false;
  unsigned int key_usage = 0;
  const char* extended_usage_oid = nullptr;  // MBEDTLS_OID_SERVER_AUTH / MBEDTLS_OID_CLIENT_AUTH
  std::size_t extended_usage_oid_size = 0;
  std::vector<std::string> names;  // subjectAltNames: IP addresses as such, everything else DNS
};

struct Written {
  std::string pem;
  std::string serial;
};

Written write_certificate(const CertificateSpec& spec) {
  mbedtls_x509write_cert crt;
  mbedtls_x509write_crt_init(&crt);
  struct Free {
    mbedtls_x509write_cert* crt;
    ~Free() { mbedtls_x509write_crt_free(crt); }
  } free_crt{&crt};

  mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
  const auto serial = random_serial();
  check(mbedtls_x509write_crt_set_serial_raw(&crt, const_cast<unsigned char*>(serial.data()), serial.size()),
        "setting the serial");
  check(mbedtls_x509write_crt_set_validity(&crt, x509_time(spec.not_before).c_str(), x509_time(spec.not_after).c_str()),
        "setting the validity");
  check(mbedtls_x509write_crt_set_subject_name(&crt, spec.subject.c_str()), "setting the subject " + spec.subject);
  check(mbedtls_x509write_crt_set_issuer_name(&crt, kCaSubject), "setting the issuer");
  mbedtls_x509write_crt_set_subject_key(&crt, spec.subject_key);
  mbedtls_x509write_crt_set_issuer_key(&crt, spec.issuer_key);
  check(mbedtls_x509write_crt_set_basic_constraints(&crt, spec.ca ? 1 : 0, spec.ca ? 0 : -1),
        "setting basicConstraints");
  check(mbedtls_x509write_crt_set_subject_key_identifier(&crt), "setting the subject key identifier");
  check(mbedtls_x509write_crt_set_authority_key_identifier(&crt), "setting the authority key identifier");
  check(mbedtls_x509write_crt_set_key_usage(&crt, spec.key_usage), "setting keyUsage");

  mbedtls_asn1_sequence usage{};
  if (spec.extended_usage_oid) {
    usage.buf.tag = MBEDTLS_ASN1_OID;
    usage.buf.p = reinterpret_cast<unsigned char*>(const_cast<char*>(spec.extended_usage_oid));
    usage.buf.len = spec.extended_usage_oid_size;
    check(mbedtls_x509write_crt_set_ext_key_usage(&crt, &usage), "setting extendedKeyUsage");
  }

  // The list's nodes point into `addresses` and `names`, which outlive the call.
  std::vector<std::array<unsigned char, 16>> addresses(spec.names.size());
  std::vector<mbedtls_x509_san_list> sans(spec.names.size());
  for (std::size_t i = 0; i < spec.names.size(); ++i) {
    const std::string& name = spec.names[i];
    auto& node = sans[i].node;
    node = {};
    auto& buffer = node.san.unstructured_name;
    if (::inet_pton(AF_INET, name.c_str(), addresses[i].data()) == 1) {
      node.type = MBEDTLS_X509_SAN_IP_ADDRESS;
      buffer.p = addresses[i].data();
      buffer.len = 4;
    } else if (::inet_pton(AF_INET6, name.c_str(), addresses[i].data()) == 1) {
      node.type = MBEDTLS_X509_SAN_IP_ADDRESS;
      buffer.p = addresses[i].data();
      buffer.len = 16;
    } else {
      node.type = MBEDTLS_X509_SAN_DNS_NAME;
      buffer.p = reinterpret_cast<unsigned char*>(const_cast<char*>(name.data()));
      buffer.len = name.size();
    }
    sans[i].next = i + 1 < sans.size() ? &sans[i + 1] : nullptr;
  }
  if (!sans.empty()) {
    check(mbedtls_x509write_crt_set_subject_alternative_name(&crt, sans.data()), "setting subjectAltName");
  }

  std::vector<unsigned char> buffer(kPemBufferSize);
  check(mbedtls_x509write_crt_pem(&crt, buffer.data(), buffer.size(), mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE),
        "signing the certificate");
  return {std::string(reinterpret_cast<const char*>(buffer.data())),
          transport::serial_hex(serial.data(), serial.size())};
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PkiError("cannot read " + path.string() + " (run `posture-console ca init` first)");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& path, std::string_view content, std::filesystem::perms mode) {
  if (const auto ec = write_file_atomically(path, content, mode)) {
    throw PkiError("cannot write " + path.string() + ": " + ec.message());
  }
}

void parse_key(PkKey& key, const std::string& pem, const std::filesystem::path& path) {
  transport::ensure_psa_initialised();
  const int rc = mbedtls_pk_parse_key(&key.pk, reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1,
                                      nullptr, 0, mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
  if (rc != 0) throw PkiError(path.string() + " is not a private key mbedTLS can use: " + mbedtls_message(rc));
}

}  // namespace

CaFiles CaFiles::in(const std::filesystem::path& ca_dir) {
  return {ca_dir / "ca.key", ca_dir / "ca.crt", ca_dir / "server.key", ca_dir / "server.crt"};
}

bool valid_subject_value(std::string_view value) {
  if (value.empty() || value.size() > 64) return false;
  for (const char c : value) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

CaFiles initialise_ca(const std::filesystem::path& ca_dir, const std::vector<std::string>& names, bool force,
                      Clock::time_point now) {
  const CaFiles files = CaFiles::in(ca_dir);
  std::error_code ec;
  if (!force && (std::filesystem::exists(files.ca_key, ec) || std::filesystem::exists(files.ca_certificate, ec))) {
    throw PkiError("a CA already exists in " + ca_dir.string() +
                   "; --force replaces it, and then every device must enroll again");
  }
  if (names.empty()) throw PkiError("server.names is empty: the server certificate needs at least one name");
  std::filesystem::create_directories(ca_dir, ec);
  if (ec) throw PkiError("cannot create " + ca_dir.string() + ": " + ec.message());
  std::filesystem::permissions(ca_dir, std::filesystem::perms::owner_all, ec);

  now = truncate_to_seconds(now);
  PkKey ca_key;
  generate_p256(ca_key);
  CertificateSpec ca;
  ca.subject = kCaSubject;
  ca.subject_key = &ca_key.pk;
  ca.issuer_key = &ca_key.pk;
  ca.not_before = now - kBackdate;
  ca.not_after = now + kCaLifetime;
  ca.ca = true;
  ca.key_usage = MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN;
  const Written ca_certificate = write_certificate(ca);

  PkKey server_key;
  generate_p256(server_key);
  CertificateSpec server;
  server.subject = kServerSubject;
  server.subject_key = &server_key.pk;
  server.issuer_key = &ca_key.pk;
  server.not_before = now - kBackdate;
  server.not_after = now + kServerLifetime;
  server.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  server.extended_usage_oid = MBEDTLS_OID_SERVER_AUTH;
  server.extended_usage_oid_size = MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH);
  server.names = names;
  const Written server_certificate = write_certificate(server);

  // Keys first: a crash leaves no certificate without its key.
  write_file(files.ca_key, key_pem(ca_key).str(), kPrivateFile);
  write_file(files.server_key, key_pem(server_key).str(), kPrivateFile);
  write_file(files.ca_certificate, ca_certificate.pem, kPublicFile);
  write_file(files.server_certificate, server_certificate.pem, kPublicFile);
  return files;
}

// ---- CSRs ---------------------------------------------------------------------------------------------

struct CertificateRequest::Impl {
  mbedtls_x509_csr csr;
  Impl() { mbedtls_x509_csr_init(&csr); }
  ~Impl() { mbedtls_x509_csr_free(&csr); }
};

CertificateRequest::CertificateRequest() : impl_(std::make_unique<Impl>()) {}
CertificateRequest::~CertificateRequest() = default;
CertificateRequest::CertificateRequest(CertificateRequest&&) noexcept = default;

CertificateRequest CertificateRequest::parse(std::string_view pem) {
  transport::ensure_psa_initialised();
  CertificateRequest request;
  auto& csr = request.impl_->csr;
  const std::string text(pem);
  if (text.find("-----BEGIN CERTIFICATE REQUEST-----") == std::string::npos) {
    throw CsrError("csr_pem is not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)");
  }
  int rc = mbedtls_x509_csr_parse(&csr, reinterpret_cast<const unsigned char*>(text.c_str()), text.size() + 1);
  if (rc != 0) throw CsrError("the certificate request cannot be parsed: " + mbedtls_message(rc));

  // mbedTLS parses a CSR without checking its signature; the signature proves the device holds the key.
  const mbedtls_md_type_t md = csr.MBEDTLS_PRIVATE(sig_md);
  const mbedtls_md_info_t* info = mbedtls_md_info_from_type(md);
  if (!info || md == MBEDTLS_MD_MD5 || md == MBEDTLS_MD_SHA1) {
    throw CsrError("the certificate request is signed with a hash the console does not accept (use SHA-256)");
  }
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  check(mbedtls_md(info, csr.cri.p, csr.cri.len, hash), "hashing the certificate request");
  rc = mbedtls_pk_verify_ext(csr.MBEDTLS_PRIVATE(sig_pk), csr.MBEDTLS_PRIVATE(sig_opts), &csr.pk, md, hash,
                             mbedtls_md_get_size(info), csr.MBEDTLS_PRIVATE(sig).p, csr.MBEDTLS_PRIVATE(sig).len);
  if (rc != 0) throw CsrError("the certificate request's signature does not verify with its own key");

  if (mbedtls_pk_get_type(&csr.pk) != MBEDTLS_PK_ECKEY ||
      mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(csr.pk)) != MBEDTLS_ECP_DP_SECP256R1) {
    throw CsrError("the certificate request's key is not an EC P-256 key");
  }

  for (const mbedtls_x509_name* name = &csr.subject; name; name = name->next) {
    const auto is = [&](const char* oid, std::size_t size) {
      return name->oid.len == size && std::memcmp(name->oid.p, oid, size) == 0;
    };
    std::string value;
    value.assign(reinterpret_cast<const char*>(name->val.p), name->val.len);
    if (is(MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN)) && request.common_name_.empty()) {
      request.common_name_ = value;
    } else if (is(MBEDTLS_OID_AT_ORG_UNIT, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORG_UNIT)) &&
               request.organizational_unit_.empty()) {
      request.organizational_unit_ = value;
    }
  }
  if (!valid_subject_value(request.common_name_)) {
    throw CsrError("the certificate request's subject CN (the device id) must be 1 to 64 of A-Z a-z 0-9 . _ -");
  }
  if (!valid_subject_value(request.organizational_unit_)) {
    throw CsrError("the certificate request's subject OU (the store id) must be 1 to 64 of A-Z a-z 0-9 . _ -");
  }
  return request;
}

// ---- the CA -------------------------------------------------------------------------------------------

struct CertificateAuthority::Impl {
  PkKey key;
  mbedtls_x509_crt certificate;
  Impl() { mbedtls_x509_crt_init(&certificate); }
  ~Impl() { mbedtls_x509_crt_free(&certificate); }
};

CertificateAuthority::CertificateAuthority() : impl_(std::make_unique<Impl>()) {}
CertificateAuthority::~CertificateAuthority() = default;

std::unique_ptr<CertificateAuthority> CertificateAuthority::load(const std::filesystem::path& ca_dir) {
  const CaFiles files = CaFiles::in(ca_dir);
  std::unique_ptr<CertificateAuthority> ca(new CertificateAuthority());
  ca->certificate_pem_ = read_file(files.ca_certificate);
  const int rc = mbedtls_x509_crt_parse(&ca->impl_->certificate,
                                        reinterpret_cast<const unsigned char*>(ca->certificate_pem_.c_str()),
                                        ca->certificate_pem_.size() + 1);
  if (rc != 0) throw PkiError(files.ca_certificate.string() + " is not a certificate: " + mbedtls_message(rc));
  const SecretString key(read_file(files.ca_key));
  parse_key(ca->impl_->key, key.str(), files.ca_key);
  if (mbedtls_pk_check_pair(&ca->impl_->certificate.pk, &ca->impl_->key.pk, mbedtls_psa_get_random,
                            MBEDTLS_PSA_RANDOM_STATE) != 0) {
    throw PkiError(files.ca_key.string() + " does not belong to " + files.ca_certificate.string());
  }
  return ca;
}

IssuedCertificate CertificateAuthority::sign(const CertificateRequest& request, int days, Clock::time_point now) const {
  now = truncate_to_seconds(now);
  CertificateSpec spec;
  spec.subject = "CN=" + request.common_name() + ",OU=" + request.organizational_unit();
  spec.subject_key = &request.impl_->csr.pk;
  spec.issuer_key = &impl_->key.pk;
  spec.not_before = now - kBackdate;
  spec.not_after = now + std::chrono::hours(24) * days;
  spec.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  spec.extended_usage_oid = MBEDTLS_OID_CLIENT_AUTH;
  spec.extended_usage_oid_size = MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH);
  std::lock_guard lock(mutex_);
  Written written = write_certificate(spec);
  return {std::move(written.pem), std::move(written.serial), spec.not_before, spec.not_after};
}

}  // namespace postured::console
