#include "cache/cache_vault.hpp"

#include <ctime>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cache/key_hierarchy.hpp"
#include "cache/sqlite.hpp"
#include "core/atomic_file.hpp"
#include "core/file_system.hpp"
#include "core/log.hpp"
#include "core/open_files.hpp"
#include "core/text.hpp"

namespace postured {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPlainHeader{"SQLite format 3\0", 16};
constexpr const char* kTempSuffix = ".postured-tmp";     // the new file, before it replaces the cache
constexpr const char* kPlainSuffix = ".postured-plain";  // a link to the replaced plaintext, to wipe it
constexpr auto kHolderPoll = std::chrono::milliseconds(200);

fs::path with_suffix(const fs::path& path, const char* suffix) { return fs::path(path.string() + suffix); }

// Removes a SQLite file and the journal files that may sit beside it.
void remove_database_files(const fs::path& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(with_suffix(path, suffix), ec);
}

bool fsync_path(const fs::path& path, bool directory) { return flush_to_disk(path, directory); }

// Gives `copy` the owner and access rights of `original`. The POS program opens its cache as its own
// user; a copy made by the agent (root, SYSTEM) would otherwise replace the cache as the agent's,
// unreadable or read-only to its owner.
bool copy_owner_and_mode(const fs::path& original, const fs::path& copy, std::string& error) {
  return copy_owner_and_access(original, copy, error);
}

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);  // same device and inode (POSIX), same volume and file index (Windows)
}

std::string describe(const std::vector<FileHolder>& holders) {
  std::string text;
  for (const auto& h : holders) {
    text += (text.empty() ? "" : ", ") + std::string("pid ") + std::to_string(h.pid) + (h.exe.empty() ? "" : " (" + h.exe + ")");
  }
  return text;
}

// Serialises vault operations on one cache across processes (the daemon and posturectl).
// Waits until no other process has `path` open; the holders still there when time runs out.
std::vector<FileHolder> wait_for_holders(const fs::path& path, std::chrono::seconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto holders = processes_holding(path);
    if (holders.empty() || std::chrono::steady_clock::now() >= deadline) return holders;
    std::this_thread::sleep_for(kHolderPoll);
  }
}

long long total(const std::vector<std::pair<std::string, long long>>& counts) {
  long long sum = 0;
  for (const auto& [table, rows] : counts) sum += rows;
  return sum;
}


// Migration: sqlcipher_export() from the open plaintext `source` into a new encrypted file.
bool export_encrypted(Database& source, const fs::path& temp, const SecretKey& key, const std::string& user_version,
                      std::string& error) {
  SecretString attach(std::string("ATTACH DATABASE '"));
  attach.append(file_uri(temp, "rwc"));
  attach.append("' AS postured_new KEY \"");
  attach.append(sqlcipher_key_literal(key).str());
  attach.append("\";");
  if (!source.exec(attach.str(), &error)) return false;
  // Retention deletes rows; with incremental auto-vacuum the agent can hand the freed pages back
  // (PRAGMA incremental_vacuum) without rewriting the whole file. It must be set before the first
  // table exists. A source that already reclaims space (FULL) keeps its own setting.
  const auto auto_vacuum = source.scalar("PRAGMA main.auto_vacuum;", &error);
  if (!auto_vacuum) return false;
  const std::string vacuum_mode = *auto_vacuum == "0" ? "INCREMENTAL" : *auto_vacuum;
  // sqlcipher_export() copies schema and rows but not user_version: the POS software's schema
  // version must survive, so it is copied by hand.
  return source.exec("PRAGMA postured_new.auto_vacuum = " + vacuum_mode +
                         "; SELECT sqlcipher_export('postured_new'); PRAGMA postured_new.user_version = " +
                         user_version + "; DETACH DATABASE postured_new;",
                     &error);
}

// Rotation: a byte copy of the (exclusively locked, checkpointed) cache, moved to the next key with
// PRAGMA rekey. Rekeying a copy rather than the cache itself makes rotation crash-safe the same way
// as migration: the cache is replaced by one rename, and until then it is untouched.
bool copy_and_rekey(const fs::path& cache, const fs::path& temp, const SecretKey& from, const SecretKey& to,
                    std::string& error) {
  std::error_code ec;
  if (!fs::copy_file(cache, temp, fs::copy_options::overwrite_existing, ec)) {
    error = "cannot copy the cache: " + ec.message();
    return false;
  }
  fs::permissions(temp, fs::perms::owner_read | fs::perms::owner_write, ec);
  auto copy = Database::open(temp, error);
  if (!copy) return false;
  copy->key(from);
  // The copy is private to this process: rekey it in rollback-journal mode, which every SQLCipher
  // release supports; the owner's journal mode is set back when the copy is verified.
  if (!copy->exec("PRAGMA journal_mode = DELETE;", &error)) return false;
  SecretString rekey(std::string("PRAGMA rekey = \""));
  rekey.append(sqlcipher_key_literal(to).str());
  rekey.append("\";");
  return copy->exec(rekey.str(), &error);
}

}  // namespace

CacheLock::CacheLock(const fs::path& state_dir, const std::string& name, std::optional<std::chrono::milliseconds> wait,
                     std::stop_token stop) {
  std::error_code ec;
  fs::create_directories(state_dir / "caches", ec);
  lock_ = std::make_unique<FileLock>(state_dir / "caches" / (name + ".lock"));
  if (!lock_->is_open()) return;
  const auto deadline = std::chrono::steady_clock::now() + wait.value_or(std::chrono::milliseconds(0));
  for (;;) {
    if (wait ? lock_->try_lock() : lock_->lock()) {
      held_ = true;
      return;
    }
    if (!wait || std::chrono::steady_clock::now() >= deadline || stop.stop_requested()) break;
    std::this_thread::sleep_for(kHolderPoll);
  }
  lock_->close();
}

CacheLock::~CacheLock() = default;

nlohmann::ordered_json to_json(const CacheStatus& s) {
  return {{"name", s.name},
          {"path", s.path.string()},
          {"exists", s.exists},
          {"encrypted", s.encrypted},
          {"cipher_version", s.cipher_version},
          {"rows", s.rows},
          {"size_bytes", s.size_bytes},
          {"key_generation", s.key_generation},
          {"last_verified_at", s.last_verified_at},
          {"error", s.error}};
}

bool is_plaintext_sqlite(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char header[16] = {};
  in.read(header, sizeof header);
  return in.gcount() == 16 && std::string_view(header, 16) == kPlainHeader;
}

CacheVault::CacheVault(fs::path state_dir, SecretKey master) : state_dir_(std::move(state_dir)), master_(master) {}

fs::path CacheVault::state_path(const std::string& name) const { return state_dir_ / "caches" / (name + ".json"); }

CacheVault::State CacheVault::load_state(const std::string& name) const {
  State state;
  std::ifstream in(state_path(name));
  if (!in) return state;
  const auto doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return state;
  state.key_generation = doc.value("key_generation", 0u);
  state.last_verified_at = doc.value("last_verified_at", "");
  state.last_migrated_at = doc.value("last_migrated_at", "");
  state.last_rotated_at = doc.value("last_rotated_at", "");
  return state;
}

void CacheVault::save_state(const std::string& name, const State& state) const {
  std::error_code ec;
  fs::create_directories(state_dir_ / "caches", ec);
  const nlohmann::ordered_json doc{{"key_generation", state.key_generation},
                                   {"last_verified_at", state.last_verified_at},
                                   {"last_migrated_at", state.last_migrated_at},
                                   {"last_rotated_at", state.last_rotated_at}};
  if (const auto error = write_file_atomically(state_path(name), doc.dump(2) + "\n", fs::perms::owner_read | fs::perms::owner_write)) {
    log::error("cache ", name, ": cannot record its state: ", error.message());
  }
}

std::optional<unsigned> CacheVault::working_generation(const CacheConfig& cache, State& state, std::string& error) {
  for (const unsigned generation : {state.key_generation, state.key_generation + 1}) {
    auto db = Database::open(cache.path, error);
    if (!db) return std::nullopt;
    db->key(derive_cache_key(master_, cache.name, generation));
    if (!db->readable()) continue;
    if (generation != state.key_generation) {
      // A rotation replaced the file but was killed before it recorded the new generation.
      log::warn("cache ", cache.name, ": key generation ", generation, " opens it; recording it");
      state.key_generation = generation;
      save_state(cache.name, state);
    }
    return generation;
  }
  error = "the key (generation " + std::to_string(state.key_generation) + ") does not open it";
  return std::nullopt;
}

void CacheVault::recover(const CacheConfig& cache, const State& state) {
  const auto temp = with_suffix(cache.path, kTempSuffix);
  std::error_code ec;
  if (fs::exists(temp, ec)) {
    log::info("cache ", cache.name, ": removing ", temp.string(), " left by an interrupted run");
    remove_database_files(temp);
  }
  const auto plain = with_suffix(cache.path, kPlainSuffix);
  if (!fs::exists(plain, ec)) return;
  if (same_file(plain, cache.path)) {
    fs::remove(plain, ec);  // the rename never happened: the link is the live cache, keep its data
    return;
  }
  // The encrypted file is in place; wipe the old plaintext only once the key is proven to open it.
  State copy = state;
  std::string error;
  if (!is_plaintext_sqlite(cache.path) && working_generation(cache, copy, error)) {
    log::info("cache ", cache.name, ": wiping the plaintext copy left by an interrupted migration");
    wipe_and_remove(plain);
  } else {
    log::error("cache ", cache.name, ": ", plain.string(), " kept: the file in place is not a readable encrypted cache");
  }
}

CacheStatus CacheVault::status(const CacheConfig& cache) {
  CacheStatus status;
  status.name = cache.name;
  status.path = cache.path;
  std::error_code ec;
  status.exists = fs::exists(cache.path, ec);
  State state = load_state(cache.name);
  status.key_generation = state.key_generation;
  status.last_verified_at = state.last_verified_at;
  if (!status.exists) return status;
  status.size_bytes = fs::file_size(cache.path, ec);
  if (is_plaintext_sqlite(cache.path)) {
    auto db = Database::open(cache.path, status.error);
    if (db) {
      if (auto counts = db->row_counts(&status.error)) status.rows = total(*counts);
    }
    status.error.clear();  // a plaintext cache is reported as unencrypted, not as unreadable
    return status;
  }
  status.encrypted = true;
  const auto generation = working_generation(cache, state, status.error);
  if (!generation) return status;
  status.key_generation = *generation;
  auto db = Database::open(cache.path, status.error);
  if (!db) return status;
  db->key(derive_cache_key(master_, cache.name, *generation));
  status.cipher_version = db->scalar("PRAGMA cipher_version;").value_or("");
  const auto counts = db->row_counts(&status.error);
  if (!counts) return status;
  status.rows = total(*counts);
  const auto problems = db->column("PRAGMA cipher_integrity_check;", &status.error);
  if (!problems) return status;
  if (!problems->empty()) {
    status.error = "cipher_integrity_check: " + problems->front();
    return status;
  }
  state.last_verified_at = text::rfc3339_utc(std::chrono::system_clock::now());
  status.last_verified_at = state.last_verified_at;
  save_state(cache.name, state);
  return status;
}

std::optional<SecretKey> CacheVault::current_key(const CacheConfig& cache, std::string& error) {
  if (is_plaintext_sqlite(cache.path)) {
    error = "the cache is not encrypted yet";
    return std::nullopt;
  }
  State state = load_state(cache.name);
  const auto generation = working_generation(cache, state, error);
  if (!generation) return std::nullopt;
  return derive_cache_key(master_, cache.name, *generation);
}

CacheOperation CacheVault::encrypt(const CacheConfig& cache, std::chrono::seconds wait) {
  return rewrite(cache, wait, false);
}

CacheOperation CacheVault::rotate_key(const CacheConfig& cache, std::chrono::seconds wait) {
  return rewrite(cache, wait, true);
}

CacheOperation CacheVault::rewrite(const CacheConfig& cache, std::chrono::seconds wait, bool rotate) {
  using Outcome = CacheOperation::Outcome;
  const auto failed = [](std::string why) { return CacheOperation{Outcome::failed, std::move(why), 0}; };
  std::error_code ec;
  CacheLock lock(state_dir_, cache.name);
  if (!lock.held()) return failed("cannot take the cache's lock in " + (state_dir_ / "caches").string());

  State state = load_state(cache.name);
  recover(cache, state);
  if (!fs::exists(cache.path, ec)) return failed("no such file: " + cache.path.string());

  const bool plaintext = is_plaintext_sqlite(cache.path);
  std::optional<unsigned> from_generation;
  if (!plaintext) {
    std::string error;
    from_generation = working_generation(cache, state, error);
    if (!from_generation) return failed("not a plaintext SQLite file, and " + error + "; left untouched");
    if (!rotate) return {Outcome::nothing_to_do, "already encrypted (key generation " + std::to_string(*from_generation) + ")", 0};
  } else if (rotate) {
    return failed("the cache is not encrypted yet; encrypt it first");
  }
  const unsigned to_generation = rotate ? *from_generation + 1 : state.key_generation;

  if (auto holders = wait_for_holders(cache.path, wait); !holders.empty()) {
    return {Outcome::busy, "in use by " + describe(holders) + "; will retry", 0};
  }

  const auto temp = with_suffix(cache.path, kTempSuffix);
  std::string error;
  long long rows = 0;
  std::string journal_mode;
  {
    auto source = Database::open(cache.path, error);
    if (!source) return failed("cannot open: " + error);
    if (from_generation) source->key(derive_cache_key(master_, cache.name, *from_generation));
    journal_mode = source->scalar("PRAGMA journal_mode;", &error).value_or("");
    if (journal_mode.empty()) return failed("cannot read: " + error);
    // Fold the WAL into the file so that nothing is left only in it, then hold the file exclusively:
    // no other connection reads or writes while the copy is made.
    if (journal_mode == "wal" && !source->exec("PRAGMA wal_checkpoint(TRUNCATE);", &error)) {
      return {Outcome::busy, "cannot checkpoint its WAL: " + error, 0};
    }
    if (!source->exec("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;", &error)) {
      return {Outcome::busy, "cannot lock it: " + error, 0};
    }
    const auto user_version = source->scalar("PRAGMA user_version;", &error);
    const auto before = source->row_counts(&error);
    if (!user_version || !before) return failed("cannot read: " + error);
    rows = total(*before);

    remove_database_files(temp);
    const auto to_key = derive_cache_key(master_, cache.name, to_generation);
    const auto made = rotate ? copy_and_rekey(cache.path, temp, derive_cache_key(master_, cache.name, *from_generation),
                                              to_key, error)
                             : export_encrypted(*source, temp, to_key, *user_version, error);
    if (!made) {
      remove_database_files(temp);
      return failed((rotate ? "rekey failed: " : "export failed: ") + error);
    }

    // Verify the copy through a fresh connection, as the POS software will open it.
    auto copy = Database::open(temp, error);
    if (!copy) {
      remove_database_files(temp);
      return failed("cannot reopen the copy: " + error);
    }
    copy->key(to_key);
    if (journal_mode == "wal" || journal_mode == "truncate" || journal_mode == "persist") {
      copy->exec("PRAGMA journal_mode = " + journal_mode + ";", &error);  // the journal mode is the owner's choice
    }
    const auto after = copy->row_counts(&error);
    const auto integrity = copy->column("PRAGMA cipher_integrity_check;", &error);
    const auto quick = copy->scalar("PRAGMA quick_check;", &error);
    const auto copied_version = copy->scalar("PRAGMA user_version;", &error);
    copy->close();
    if (!after || *after != *before || !integrity || !integrity->empty() || quick != "ok" ||
        copied_version != user_version) {
      remove_database_files(temp);
      return failed("the copy did not verify (row counts, integrity or user_version differ); cache left untouched");
    }
    if (!copy_owner_and_mode(cache.path, temp, error)) {
      remove_database_files(temp);
      return failed(error);
    }
    if (!fsync_path(temp, false)) {
      remove_database_files(temp);
      return failed("cannot fsync " + temp.string());
    }
    source->close();  // releases the lock; SQLite folds and removes its own WAL of the original
  }

  // Someone may have opened the file while it was copied: they would keep writing to the old inode.
  if (auto holders = processes_holding(cache.path); !holders.empty()) {
    remove_database_files(temp);
    return {Outcome::busy, "opened by " + describe(holders) + " during the copy; will retry", 0};
  }
  const auto plain = with_suffix(cache.path, kPlainSuffix);
  fs::remove(plain, ec);
  std::error_code link_error;
  if (plaintext) fs::create_hard_link(cache.path, plain, link_error);
  if (link_error) log::warn("cache ", cache.name, ": cannot link the plaintext for wiping: ", link_error.message());
  std::error_code rename_error;
  fs::rename(temp, cache.path, rename_error);
  if (rename_error) {
    const std::string why = rename_error.message();
    fs::remove(plain, ec);
    remove_database_files(temp);
    return failed("cannot replace the cache: " + why);
  }
  fsync_path(cache.path.parent_path().empty() ? fs::path(".") : cache.path.parent_path(), true);
  for (const char* suffix : {"-wal", "-shm", "-journal"}) fs::remove(with_suffix(cache.path, suffix), ec);
  // The replaced plaintext must not stay readable in the freed blocks (best effort on flash and
  // copy-on-write file systems).
  if (plaintext) wipe_and_remove(plain);

  state.key_generation = to_generation;
  (rotate ? state.last_rotated_at : state.last_migrated_at) = text::rfc3339_utc(std::chrono::system_clock::now());
  state.last_verified_at = text::rfc3339_utc(std::chrono::system_clock::now());
  save_state(cache.name, state);
  return {Outcome::done,
          rotate ? "moved to key generation " + std::to_string(to_generation) + ", " + std::to_string(rows) + " rows"
                 : "encrypted with SQLCipher, " + std::to_string(rows) + " rows verified",
          rows};
}

}  // namespace postured
