// This device's TLS client identity: an ECDSA P-256 key made on the device, the certificate the
// console issued for it, and the file that keeps both. The key is never on disk in the clear: it is
// sealed with AES-256-GCM under a purpose key derived from the device master key, with the
// certificate as associated data, and key and certificate sit in one file written atomically, so a
// renewal switches both at once or not at all.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/secret.hpp"
#include "transport/tls_config.hpp"

namespace postured::transport {

// The identity file's name in agent.state_dir.
inline constexpr std::string_view kIdentityFileName = "client-identity.json";
// The purpose label of the key that seals the private key (key_hierarchy.hpp).
inline constexpr std::string_view kIdentitySealPurpose = "client identity key v1";

// A new ECDSA P-256 private key (PEM, "EC PRIVATE KEY"), from PSA's random generator.
SecretString generate_device_key();

// A PKCS#10 request signed with `key_pem` for subject CN=<device_id>, OU=<store_id> (SHA-256).
// Throws TlsConfigError when the key is unusable or a name cannot be encoded.
std::string make_csr(const SecretString& key_pem, std::string_view device_id, std::string_view store_id);

// What a certificate says about itself, as status and renewal need it.
struct CertificateFacts {
  std::string subject;  // "CN=device-1, OU=store-7"
  std::string common_name;
  std::string organizational_unit;
  std::string serial;  // hex, as mbedTLS prints it
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
};
// Parses the first certificate of `pem`; nullopt (and `error`) when it is not one.
std::optional<CertificateFacts> certificate_facts(std::string_view pem, std::string& error);

// Renewal is due once two thirds of the certificate's lifetime have passed: early enough that a
// console down for days still leaves time, late enough not to churn certificates.
std::chrono::system_clock::time_point renewal_time(const CertificateFacts& facts);
bool renewal_due(const CertificateFacts& facts, std::chrono::system_clock::time_point now);

// Whether the stored certificate can still be used as this device's identity. Renewal needs a valid
// certificate for the same subject, so an expired one, or one issued for another device or store
// (agent.device_id or agent.store_id changed since), can only be replaced by enrolling again; using it
// would only fail handshake after handshake.
struct IdentityProblem {
  enum class Kind { expired, subject_mismatch };
  Kind kind;
  std::string message;  // what is wrong and what to do, for logs and `posturectl status`
};
// nullopt when the certificate is fine for `device_id` / `store_id` at `now`.
std::optional<IdentityProblem> identity_problem(const CertificateFacts& facts, std::string_view device_id,
                                                std::string_view store_id, std::chrono::system_clock::time_point now);

// AES-256-GCM with a random nonce: "PDK1" || nonce || ciphertext || tag, `aad` authenticated.
std::string seal(const SecretKey& key, const SecretString& plain, std::string_view aad);
// The plaintext, or nullopt when the key, the data or the aad do not match.
std::optional<SecretString> unseal(const SecretKey& key, std::string_view sealed, std::string_view aad);

struct StoredIdentity {
  TlsIdentity identity;
  CertificateFacts facts;
};

// <state_dir>/client-identity.json: {"certificate_pem", "sealed_key" (base64), "stored_at"}.
class ClientIdentityStore {
 public:
  ClientIdentityStore(std::filesystem::path state_dir, const SecretKey& master);

  std::filesystem::path path() const { return state_dir_ / kIdentityFileName; }
  bool exists() const;
  // The certificate alone, without the master key (for `posturectl status`).
  static std::optional<CertificateFacts> read_certificate(const std::filesystem::path& state_dir, std::string& error);
  // Certificate and key; nullopt with `error` when missing, damaged, or sealed under another master key.
  std::optional<StoredIdentity> load(std::string& error) const;
  // Replaces the identity atomically (temporary file, fsync, rename); the key must match the
  // certificate. Returns an error message, empty on success.
  std::string store(const std::string& certificate_pem, const SecretString& key_pem) const;

 private:
  std::filesystem::path state_dir_;
  SecretKey seal_key_;
};

}  // namespace postured::transport
