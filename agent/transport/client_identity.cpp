#include "transport/client_identity.hpp"

#include <array>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include <mbedtls/base64.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/gcm.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <psa/crypto.h>
#include <nlohmann/json.hpp>
// mbedTLS 3.6's psa_util.h has no extern "C" of its own.
extern "C" {
#include <mbedtls/psa_util.h>
}

#include "cache/key_hierarchy.hpp"
#include "core/atomic_file.hpp"
#include "core/text.hpp"

namespace postured::transport {
namespace {

constexpr std::string_view kSealMagic = "PDK1";
constexpr std::size_t kNonceBytes = 12;  // GCM's natural nonce size
constexpr std::size_t kTagBytes = 16;
// Room for a P-256 key or a CSR in PEM (each well under 1 KiB).
constexpr std::size_t kPemBuffer = 4096;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

struct Pk {
  mbedtls_pk_context ctx;
  Pk() { mbedtls_pk_init(&ctx); }
  ~Pk() { mbedtls_pk_free(&ctx); }
  Pk(const Pk&) = delete;
  Pk& operator=(const Pk&) = delete;
};

struct Crt {
  mbedtls_x509_crt ctx;
  Crt() { mbedtls_x509_crt_init(&ctx); }
  ~Crt() { mbedtls_x509_crt_free(&ctx); }
  Crt(const Crt&) = delete;
  Crt& operator=(const Crt&) = delete;
};

std::string mbedtls_text(int rc) {
  std::array<char, 160> buffer{};
  mbedtls_strerror(rc, buffer.data(), buffer.size());
  return std::string(buffer.data()) + " (-0x" + [&] {
    std::ostringstream hex;
    hex << std::hex << -rc;
    return hex.str();
  }() + ")";
}

void parse_key(Pk& pk, const SecretString& key_pem) {
  // PEM input must include its terminating NUL in the length.
  const int rc = mbedtls_pk_parse_key(&pk.ctx, bytes(key_pem.str()), key_pem.str().size() + 1, nullptr, 0,
                                      mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
  if (rc != 0) throw TlsConfigError("the device key cannot be parsed: " + mbedtls_text(rc));
}

// The C++20 calendar rather than timegm(), which Windows lacks.
std::chrono::system_clock::time_point to_time_point(const mbedtls_x509_time& t) {
  using namespace std::chrono;
  const sys_days day{year{t.year} / month{static_cast<unsigned>(t.mon)} / static_cast<unsigned>(t.day)};
  return system_clock::time_point{day + hours{t.hour} + minutes{t.min} + seconds{t.sec}};
}

std::string attribute(const mbedtls_x509_name* name, const char* oid, std::size_t oid_size) {
  for (; name != nullptr; name = name->next) {
    if (name->oid.len == oid_size && std::memcmp(name->oid.p, oid, oid_size) == 0) {
      return std::string(reinterpret_cast<const char*>(name->val.p), name->val.len);
    }
  }
  return {};
}

std::string base64_encode(std::string_view data) {
  std::size_t needed = 0;
  mbedtls_base64_encode(nullptr, 0, &needed, bytes(data), data.size());
  std::string out(needed, '\0');
  std::size_t written = 0;
  if (mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &written, bytes(data),
                            data.size()) != 0) {
    return {};
  }
  out.resize(written);
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::size_t needed = 0;
  const int probe = mbedtls_base64_decode(nullptr, 0, &needed, bytes(text), text.size());
  if (probe != 0 && probe != MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL) return std::nullopt;
  std::string out(needed, '\0');
  std::size_t written = 0;
  if (mbedtls_base64_decode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &written, bytes(text),
                            text.size()) != 0) {
    return std::nullopt;
  }
  out.resize(written);
  return out;
}

}  // namespace

SecretString generate_device_key() {
  ensure_psa_initialised();
  Pk pk;
  int rc = mbedtls_pk_setup(&pk.ctx, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (rc == 0) {
    rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk.ctx), mbedtls_psa_get_random,
                             MBEDTLS_PSA_RANDOM_STATE);
  }
  if (rc != 0) throw TlsConfigError("cannot make a P-256 key: " + mbedtls_text(rc));
  std::array<unsigned char, kPemBuffer> buffer{};
  rc = mbedtls_pk_write_key_pem(&pk.ctx, buffer.data(), buffer.size());
  SecretString pem;
  if (rc == 0) pem.append(reinterpret_cast<const char*>(buffer.data()));
  wipe(buffer.data(), buffer.size());
  if (rc != 0) throw TlsConfigError("cannot write the P-256 key: " + mbedtls_text(rc));
  return pem;
}

std::string make_csr(const SecretString& key_pem, std::string_view device_id, std::string_view store_id) {
  ensure_psa_initialised();
  // The DN string syntax uses ',' and '=' as separators; refuse names that would need escaping rather
  // than let them smuggle in another attribute.
  for (const auto name : {device_id, store_id}) {
    if (name.empty() || name.find_first_of(",=+\\\"<>;#\n\r") != std::string_view::npos) {
      throw TlsConfigError("the name \"" + std::string(name) +
                           "\" cannot go into a certificate subject (empty, or holds , = + \\ \" < > ; #)");
    }
  }
  Pk pk;
  parse_key(pk, key_pem);
  mbedtls_x509write_csr csr;
  mbedtls_x509write_csr_init(&csr);
  const std::string subject = "CN=" + std::string(device_id) + ",OU=" + std::string(store_id);
  mbedtls_x509write_csr_set_md_alg(&csr, MBEDTLS_MD_SHA256);
  mbedtls_x509write_csr_set_key(&csr, &pk.ctx);
  int rc = mbedtls_x509write_csr_set_subject_name(&csr, subject.c_str());
  std::array<unsigned char, kPemBuffer> buffer{};
  if (rc == 0) {
    rc =
        mbedtls_x509write_csr_pem(&csr, buffer.data(), buffer.size(), mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
  }
  mbedtls_x509write_csr_free(&csr);
  if (rc != 0) throw TlsConfigError("cannot make the certificate request: " + mbedtls_text(rc));
  return std::string(reinterpret_cast<const char*>(buffer.data()));
}

std::optional<CertificateFacts> certificate_facts(std::string_view pem, std::string& error) {
  Crt crt;
  const std::string text(pem);
  const int rc = mbedtls_x509_crt_parse(&crt.ctx, bytes(text), text.size() + 1);
  if (rc != 0) {
    error = "not a certificate: " + mbedtls_text(rc);
    return std::nullopt;
  }
  CertificateFacts facts;
  std::array<char, 512> buffer{};
  if (mbedtls_x509_dn_gets(buffer.data(), buffer.size(), &crt.ctx.subject) > 0) facts.subject = buffer.data();
  if (mbedtls_x509_serial_gets(buffer.data(), buffer.size(), &crt.ctx.serial) > 0) facts.serial = buffer.data();
  facts.common_name = attribute(&crt.ctx.subject, MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN));
  facts.organizational_unit =
      attribute(&crt.ctx.subject, MBEDTLS_OID_AT_ORG_UNIT, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORG_UNIT));
  facts.not_before = to_time_point(crt.ctx.valid_from);
  facts.not_after = to_time_point(crt.ctx.valid_to);
  return facts;
}

std::chrono::system_clock::time_point renewal_time(const CertificateFacts& facts) {
  return facts.not_before + (facts.not_after - facts.not_before) * 2 / 3;
}

bool renewal_due(const CertificateFacts& facts, std::chrono::system_clock::time_point now) {
  return now >= renewal_time(facts);
}

std::optional<IdentityProblem> identity_problem(const CertificateFacts& facts, std::string_view device_id,
                                                std::string_view store_id, std::chrono::system_clock::time_point now) {
  static constexpr std::string_view kRemedy = ": run `posturectl enroll --force --token T` (or set console.token_file)";
  if (facts.common_name != device_id || facts.organizational_unit != store_id) {
    return IdentityProblem{IdentityProblem::Kind::subject_mismatch,
                           "certificate issued for device " + facts.common_name + " / store " +
                               facts.organizational_unit + ", configured device " + std::string(device_id) +
                               " / store " + std::string(store_id) + std::string(kRemedy)};
  }
  if (now >= facts.not_after) {
    return IdentityProblem{IdentityProblem::Kind::expired,
                           "certificate expired on " + text::rfc3339_utc(facts.not_after) + std::string(kRemedy)};
  }
  return std::nullopt;
}

std::string seal(const SecretKey& key, const SecretString& plain, std::string_view aad) {
  ensure_psa_initialised();
  std::string out(kSealMagic);
  std::array<unsigned char, kNonceBytes> nonce{};
  if (psa_generate_random(nonce.data(), nonce.size()) != PSA_SUCCESS) throw TlsConfigError("no randomness");
  out.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  std::string cipher(plain.str().size(), '\0');
  std::array<unsigned char, kTagBytes> tag{};
  mbedtls_gcm_context gcm;
  mbedtls_gcm_init(&gcm);
  const bool ok = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key.data(), 8 * SecretKey::size()) == 0 &&
                  mbedtls_gcm_crypt_and_tag(
                      &gcm, MBEDTLS_GCM_ENCRYPT, plain.str().size(), nonce.data(), nonce.size(), bytes(aad), aad.size(),
                      bytes(plain.str()), reinterpret_cast<unsigned char*>(cipher.data()), tag.size(), tag.data()) == 0;
  mbedtls_gcm_free(&gcm);
  if (!ok) throw TlsConfigError("cannot seal the device key");
  out += cipher;
  out.append(reinterpret_cast<const char*>(tag.data()), tag.size());
  return out;
}

std::optional<SecretString> unseal(const SecretKey& key, std::string_view sealed, std::string_view aad) {
  if (sealed.size() < kSealMagic.size() + kNonceBytes + kTagBytes ||
      sealed.substr(0, kSealMagic.size()) != kSealMagic) {
    return std::nullopt;
  }
  const auto nonce = sealed.substr(kSealMagic.size(), kNonceBytes);
  const auto cipher =
      sealed.substr(kSealMagic.size() + kNonceBytes, sealed.size() - kSealMagic.size() - kNonceBytes - kTagBytes);
  const auto tag = sealed.substr(sealed.size() - kTagBytes);
  std::string plain(cipher.size(), '\0');
  mbedtls_gcm_context gcm;
  mbedtls_gcm_init(&gcm);
  const bool ok =
      mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key.data(), 8 * SecretKey::size()) == 0 &&
      mbedtls_gcm_auth_decrypt(&gcm, cipher.size(), bytes(nonce), nonce.size(), bytes(aad), aad.size(), bytes(tag),
                               tag.size(), bytes(cipher), reinterpret_cast<unsigned char*>(plain.data())) == 0;
  mbedtls_gcm_free(&gcm);
  SecretString result(std::move(plain));
  if (!ok) return std::nullopt;
  return result;
}

ClientIdentityStore::ClientIdentityStore(std::filesystem::path state_dir, const SecretKey& master)
    : state_dir_(std::move(state_dir)), seal_key_(derive_purpose_key(master, kIdentitySealPurpose)) {}

bool ClientIdentityStore::exists() const {
  std::error_code ec;
  return std::filesystem::exists(path(), ec);
}

namespace {

std::optional<nlohmann::json> read_identity_file(const std::filesystem::path& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    error =
        std::filesystem::exists(path, ec) ? "cannot read " + path.string() : "not enrolled (no " + path.string() + ")";
    return std::nullopt;
  }
  auto document = nlohmann::json::parse(in, nullptr, false);
  if (document.is_discarded() || !document.is_object() || !document.contains("certificate_pem") ||
      !document["certificate_pem"].is_string() || !document.contains("sealed_key") ||
      !document["sealed_key"].is_string()) {
    error = path.string() + " is damaged (not the identity document); enroll again";
    return std::nullopt;
  }
  return document;
}

}  // namespace

std::optional<CertificateFacts> ClientIdentityStore::read_certificate(const std::filesystem::path& state_dir,
                                                                      std::string& error) {
  const auto document = read_identity_file(state_dir / kIdentityFileName, error);
  if (!document) return std::nullopt;
  return certificate_facts((*document)["certificate_pem"].get<std::string>(), error);
}

std::optional<StoredIdentity> ClientIdentityStore::load(std::string& error) const {
  const auto document = read_identity_file(path(), error);
  if (!document) return std::nullopt;
  const auto certificate = (*document)["certificate_pem"].get<std::string>();
  auto facts = certificate_facts(certificate, error);
  if (!facts) return std::nullopt;
  const auto sealed = base64_decode((*document)["sealed_key"].get<std::string>());
  auto key = sealed ? unseal(seal_key_, *sealed, certificate) : std::nullopt;
  if (!key) {
    error = path().string() +
            ": the device key does not open with this device's master key (damaged, or the "
            "master key changed); enroll again";
    return std::nullopt;
  }
  return StoredIdentity{TlsIdentity{certificate, std::move(*key)}, std::move(*facts)};
}

std::string ClientIdentityStore::store(const std::string& certificate_pem, const SecretString& key_pem) const {
  try {
    // TlsConfig checks that the key matches the certificate; refuse a pair that could never connect.
    const TlsIdentity probe{certificate_pem, SecretString(key_pem.str())};
    (void)TlsConfig::client(certificate_pem, &probe);
  } catch (const TlsConfigError& e) {
    return std::string("the console's certificate does not fit the device key: ") + e.what();
  }
  nlohmann::ordered_json document;
  document["certificate_pem"] = certificate_pem;
  document["sealed_key"] = base64_encode(seal(seal_key_, key_pem, certificate_pem));
  document["sealed_with"] = "AES-256-GCM, key HKDF-SHA256(master, \"" + std::string(kIdentitySealPurpose) + "\")";
  document["stored_at"] = text::rfc3339_utc(std::chrono::system_clock::now());
  std::error_code ec;
  std::filesystem::create_directories(state_dir_, ec);
  const auto error = write_file_atomically(path(), document.dump(2) + "\n",
                                           std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  if (error) return "cannot write " + path().string() + ": " + error.message();
  return {};
}

}  // namespace postured::transport
