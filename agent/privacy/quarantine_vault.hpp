// The quarantine vault: files with card data that the `quarantine` action took away, kept
// encrypted (AES-256-GCM) under a key derived from the device master key, one file per entry in
// <state_dir>/quarantine/<id>.vault. agent/privacy/SCANNING.md describes the format.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/file_handle.hpp"
#include "core/secret.hpp"

namespace postured::privacy {

// The HKDF purpose label of the vault key (derive_purpose_key in cache/key_hierarchy.hpp).
inline constexpr std::string_view kQuarantineVaultPurpose = "quarantine vault v1";

// What the vault keeps about a quarantined file, inside its encrypted and authenticated metadata.
struct QuarantineRecord {
  std::string id;              // set by store()
  std::filesystem::path path;  // where the file was
  std::uint32_t mode = 0;      // permission bits (07777)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t size = 0;             // bytes stored, set by store()
  std::int64_t mtime = 0;             // the file's modification time, Unix seconds
  std::string quarantined_at;         // RFC 3339 UTC, set by store()
  std::uint64_t findings = 0;         // PANs and tracks found in it
  std::vector<std::string> examples;  // a few of them, masked
};

// One entry of list(): its record, or why it cannot be read with this device's key.
struct VaultEntry {
  std::string id;
  std::optional<QuarantineRecord> record;
  std::string error;
};

class QuarantineVault {
 public:
  // The vault in <state_dir>/quarantine (made on the first store(), mode 0700).
  QuarantineVault(const std::filesystem::path& state_dir, const SecretKey& master);

  const std::filesystem::path& dir() const { return dir_; }

  // Encrypts everything `file` holds (read from offset 0) into a new entry; sets record.id, size and
  // quarantined_at. The entry is durable (file and folder fsynced) when this returns "". Else an error.
  std::string store(NativeFile file, QuarantineRecord& record) const;
  // Every entry, oldest first.
  std::vector<VaultEntry> list() const;
  // Entry `id`'s record; nullopt with `error` if there is none or it does not authenticate.
  std::optional<QuarantineRecord> record(const std::string& id, std::string& error) const;
  // Decrypts entry `id` into a new file `to` with the original's mode (and owner when this process
  // may set it). Refuses when `to` exists. Nothing appears at `to` unless the whole entry
  // authenticates. Returns an error, or "" (then `note` may say the owner could not be kept).
  std::string restore(const std::string& id, const std::filesystem::path& to, std::string& note) const;
  // Deletes entry `id`; an error or "".
  std::string remove(const std::string& id) const;

 private:
  std::filesystem::path entry_path(const std::string& id) const;
  // Makes the folder if needed and checks that only this account can open it; an error or "".
  std::string prepare_dir() const;

  std::filesystem::path dir_;
  SecretKey key_;
};

// True if `id` has the form store() gives ids: letters, digits and '-' only, so it cannot name a
// file outside the vault.
bool valid_vault_id(std::string_view id);

}  // namespace postured::privacy
