// CacheVault keeps declared customer caches encrypted with SQLCipher 4: migration of plaintext
// caches in place, verification, key rotation and the current key for key release.
//
// Crash safety, for migration and rotation alike: the new file is written beside the cache
// (<path>.postured-tmp), verified (row counts per table, cipher_integrity_check) and fsynced, then
// renamed over the cache. A kill at any point leaves either the untouched original or the complete,
// verified new file; leftovers are cleaned up by the next operation on that cache.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/config.hpp"
#include "core/file_system.hpp"
#include "core/secret.hpp"

namespace postured {

struct CacheStatus {
  std::string name;
  std::filesystem::path path;
  bool exists = false;
  bool encrypted = false;
  std::string cipher_version;  // SQLCipher's, e.g. "4.6.1 community"; empty unless the key opens it
  long long rows = 0;          // all user tables together
  std::uintmax_t size_bytes = 0;
  unsigned key_generation = 0;
  std::string last_verified_at;  // RFC 3339 UTC; empty when never verified
  std::string error;             // set when the cache cannot be read with its key (never "fixed")

  // Unencrypted or unreadable: what makes `posturectl cache status` exit 1.
  bool is_problem() const { return exists && (!encrypted || !error.empty()); }
};

struct CacheOperation {
  enum class Outcome { done, nothing_to_do, busy, failed };
  Outcome outcome = Outcome::failed;
  std::string detail;  // for a person: what was done, or why not
  long long rows = 0;  // rows carried over, all tables
};

// The per-cache lock, <state_dir>/caches/<name>.lock (flock): migration, rotation and policy
// enforcement each hold it, so that none of them works on a file another is replacing.
class CacheLock {
 public:
  // Waits for the lock without limit (no `wait`), or up to `wait` and until `stop` is requested.
  CacheLock(const std::filesystem::path& state_dir, const std::string& name,
            std::optional<std::chrono::milliseconds> wait = std::nullopt, std::stop_token stop = {});
  ~CacheLock();
  CacheLock(const CacheLock&) = delete;
  CacheLock& operator=(const CacheLock&) = delete;
  bool held() const { return held_; }

 private:
  std::unique_ptr<FileLock> lock_;
  bool held_ = false;
};

class CacheVault {
 public:
  // `state_dir` holds per-cache state (<state_dir>/caches/<name>.json) and lock files.
  CacheVault(std::filesystem::path state_dir, SecretKey master);

  // Opens the cache with its key and records the time it was verified.
  CacheStatus status(const CacheConfig& cache);
  // Migrates a plaintext cache to SQLCipher in place; nothing to do when it is already encrypted.
  // Waits up to `wait` for other processes to close the file, then reports busy.
  CacheOperation encrypt(const CacheConfig& cache, std::chrono::seconds wait);
  // Moves an encrypted cache to the next key generation.
  CacheOperation rotate_key(const CacheConfig& cache, std::chrono::seconds wait);
  // The key that opens the cache now; nullopt (with `error`) when none does.
  std::optional<SecretKey> current_key(const CacheConfig& cache, std::string& error);

 private:
  struct State {
    unsigned key_generation = 0;
    std::string last_verified_at;
    std::string last_migrated_at;
    std::string last_rotated_at;
  };

  State load_state(const std::string& name) const;
  void save_state(const std::string& name, const State& state) const;
  std::filesystem::path state_path(const std::string& name) const;
  void recover(const CacheConfig& cache, const State& state);
  // Finds the generation whose key opens the cache (recorded one, else the next after a rotation
  // that crashed before recording it); updates the state when it moved.
  std::optional<unsigned> working_generation(const CacheConfig& cache, State& state, std::string& error);
  CacheOperation rewrite(const CacheConfig& cache, std::chrono::seconds wait, bool rotate);

  std::filesystem::path state_dir_;
  SecretKey master_;
};

// {name, path, exists, encrypted, cipher_version, rows, size_bytes, key_generation, last_verified_at, error}
nlohmann::ordered_json to_json(const CacheStatus& status);

// True if the file starts with SQLite's plaintext header "SQLite format 3\0".
bool is_plaintext_sqlite(const std::filesystem::path& path);

}  // namespace postured
