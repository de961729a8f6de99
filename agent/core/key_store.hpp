// Where the device master key lives: a root-only file on Linux (TPM2 sealing can sit behind the
// same interface later), DPAPI on Windows.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/secret.hpp"

namespace postured {

struct MasterKeyResult {
  std::optional<SecretKey> key;
  std::string error;  // why there is no key: wrong mode or owner, unreadable, no randomness
};

class MasterKeyStore {
 public:
  virtual ~MasterKeyStore() = default;
  // The master key; when there is none yet and `create` is set, a new random one is made and kept.
  // A key file with a wrong mode or owner is refused, never repaired.
  virtual MasterKeyResult load(bool create) = 0;
  // Where the key is kept, for messages.
  virtual std::string location() const = 0;
};

std::unique_ptr<MasterKeyStore> open_master_key_store(const std::filesystem::path& state_dir);

}  // namespace postured
