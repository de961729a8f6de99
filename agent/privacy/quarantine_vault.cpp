#include "privacy/quarantine_vault.hpp"

#include <mbedtls/gcm.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "cache/key_hierarchy.hpp"
#include "core/text.hpp"
#include "privacy/contained_file.hpp"

namespace postured::privacy {
namespace {

namespace fs = std::filesystem;

// The entry format (SCANNING.md, "Vault format"): magic, the two nonces, the metadata's length,
// then the metadata and the content, each AES-256-GCM with its own random nonce and a 16-byte tag.
constexpr std::array<char, 8> kMagic{'P', 'Q', 'V', 'A', 'U', 'L', 'T', '1'};
constexpr std::size_t kNonceBytes = 12;  // GCM's native IV length
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kFixedHeaderBytes = kMagic.size() + 2 * kNonceBytes + 4;
// A record is a path and a few numbers; anything larger is not an entry this code wrote.
constexpr std::size_t kMaxMetadataBytes = 64 * 1024;
// Content bytes encrypted or decrypted at a time.
constexpr std::size_t kChunkBytes = 1 << 20;
constexpr const char* kEntrySuffix = ".vault";
// Random bytes in an id, after its UTC timestamp: two files quarantined in the same second differ.
constexpr std::size_t kIdRandomBytes = 4;

// RFC 3339 UTC, or with `compact` the same instant as an id prefix ("20261125T101500Z").
std::string utc_time(std::time_t t, bool compact) {
  auto stamp = text::rfc3339_utc(std::chrono::system_clock::from_time_t(t));
  if (compact) std::erase_if(stamp, [](char c) { return c == '-' || c == ':'; });
  return stamp;
}

std::string new_id(std::time_t now) {
  std::array<unsigned char, kIdRandomBytes> random{};
  if (!random_bytes(random.data(), random.size())) return {};
  std::string id = utc_time(now, true) + "-";
  for (unsigned char b : random) {
    static constexpr char kHex[] = "0123456789abcdef";
    id += kHex[b >> 4];
    id += kHex[b & 0xF];
  }
  return id;
}

nlohmann::ordered_json to_json(const QuarantineRecord& r) {
  return {{"schema", "postured.quarantine/v1"},
          {"id", r.id},
          {"path", r.path.string()},
          {"mode", r.mode},
          {"uid", r.uid},
          {"gid", r.gid},
          {"size", r.size},
          {"mtime", r.mtime},
          {"quarantined_at", r.quarantined_at},
          {"findings", r.findings},
          {"examples", r.examples}};
}

std::optional<QuarantineRecord> record_from_json(std::string_view text) {
  const auto doc = nlohmann::json::parse(text, nullptr, false);
  if (!doc.is_object() || doc.value("schema", "") != "postured.quarantine/v1") return std::nullopt;
  try {
    QuarantineRecord r;
    r.id = doc.at("id").get<std::string>();
    r.path = doc.at("path").get<std::string>();
    r.mode = doc.at("mode").get<std::uint32_t>();
    r.uid = doc.at("uid").get<std::uint32_t>();
    r.gid = doc.at("gid").get<std::uint32_t>();
    r.size = doc.at("size").get<std::uint64_t>();
    r.mtime = doc.at("mtime").get<std::int64_t>();
    r.quarantined_at = doc.at("quarantined_at").get<std::string>();
    r.findings = doc.at("findings").get<std::uint64_t>();
    r.examples = doc.at("examples").get<std::vector<std::string>>();
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

const unsigned char* bytes(const void* p) {
  return static_cast<const unsigned char*>(p);
}

// AES-256-GCM through mbedTLS's streaming interface.
class Gcm {
 public:
  explicit Gcm(const SecretKey& key) {
    mbedtls_gcm_init(&ctx_);
    ok_ = mbedtls_gcm_setkey(&ctx_, MBEDTLS_CIPHER_ID_AES, key.data(), 8 * SecretKey::size()) == 0;
  }
  ~Gcm() { mbedtls_gcm_free(&ctx_); }
  Gcm(const Gcm&) = delete;
  Gcm& operator=(const Gcm&) = delete;

  bool start(int mode, const unsigned char* nonce, std::string_view aad) {
    return ok_ && mbedtls_gcm_starts(&ctx_, mode, nonce, kNonceBytes) == 0 &&
           mbedtls_gcm_update_ad(&ctx_, bytes(aad.data()), aad.size()) == 0;
  }
  // Processes `in`; the output (up to in.size() + 15 bytes) is appended to `out`.
  bool update(std::string_view in, std::string& out) {
    const std::size_t at = out.size();
    out.resize(at + in.size() + kTagBytes);
    std::size_t produced = 0;
    const bool done =
        mbedtls_gcm_update(&ctx_, bytes(in.data()), in.size(), reinterpret_cast<unsigned char*>(out.data() + at),
                           out.size() - at, &produced) == 0;
    out.resize(at + produced);
    return done;
  }
  // Ends the message: any last output is appended to `out`, the tag goes to `tag`.
  bool finish(std::string& out, std::array<unsigned char, kTagBytes>& tag) {
    std::array<unsigned char, kTagBytes> rest{};
    std::size_t produced = 0;
    if (mbedtls_gcm_finish(&ctx_, rest.data(), rest.size(), &produced, tag.data(), tag.size()) != 0) return false;
    out.append(reinterpret_cast<const char*>(rest.data()), produced);
    return true;
  }

 private:
  mbedtls_gcm_context ctx_;
  bool ok_ = false;
};

// Compares in constant time, so the comparison tells an attacker nothing about the tag
// (mbedTLS's mbedtls_ct_memcmp lacks extern "C" in Debian's 3.6 headers).
bool same_tag(const std::array<unsigned char, kTagBytes>& a, const std::array<unsigned char, kTagBytes>& b) {
  unsigned char diff = 0;
  for (std::size_t i = 0; i < kTagBytes; ++i) diff = static_cast<unsigned char>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

// Reads exactly `size` bytes at `offset`; false on a short read or an error.
bool read_exactly_at(NativeFile file, void* out, std::size_t size, std::uint64_t offset) {
  auto* p = static_cast<char*>(out);
  while (size > 0) {
    const auto n = read_at(file, p, size, offset);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

// An entry's header and its decrypted record, from the open entry file.
struct OpenedEntry {
  std::string header;  // the bytes before the content: the content's associated data
  std::array<unsigned char, kNonceBytes> content_nonce{};
  QuarantineRecord record;
  std::uint64_t content_bytes = 0;
  std::uint64_t file_bytes = 0;
};

std::optional<OpenedEntry> open_entry(NativeFile fd, const SecretKey& key, std::string& error) {
  FileInfo info;
  OpenedEntry entry;
  std::string fixed(kFixedHeaderBytes, '\0');
  if (!file_info(fd, info) || !read_exactly_at(fd, fixed.data(), fixed.size(), 0) ||
      !std::equal(kMagic.begin(), kMagic.end(), fixed.begin())) {
    error = "not a quarantine vault entry";
    return std::nullopt;
  }
  const auto* u = bytes(fixed.data());
  const std::size_t meta_bytes = std::size_t{u[32]} << 24 | std::size_t{u[33]} << 16 | std::size_t{u[34]} << 8 | u[35];
  entry.file_bytes = info.size;
  if (meta_bytes > kMaxMetadataBytes || entry.file_bytes < kFixedHeaderBytes + meta_bytes + 2 * kTagBytes) {
    error = "damaged: truncated or not written by postured";
    return std::nullopt;
  }
  entry.header = fixed;
  entry.header.resize(kFixedHeaderBytes + meta_bytes + kTagBytes);
  if (!read_exactly_at(fd, entry.header.data() + kFixedHeaderBytes, meta_bytes + kTagBytes, kFixedHeaderBytes)) {
    error = "cannot read: " + file_error_text();
    return std::nullopt;
  }
  std::copy_n(u + kMagic.size() + kNonceBytes, kNonceBytes, entry.content_nonce.begin());
  mbedtls_gcm_context gcm;
  mbedtls_gcm_init(&gcm);
  std::string meta(meta_bytes, '\0');
  const auto* h = bytes(entry.header.data());
  const bool opened = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key.data(), 8 * SecretKey::size()) == 0 &&
                      mbedtls_gcm_auth_decrypt(&gcm, meta_bytes, h + kMagic.size(), kNonceBytes, h, kFixedHeaderBytes,
                                               h + kFixedHeaderBytes + meta_bytes, kTagBytes, h + kFixedHeaderBytes,
                                               reinterpret_cast<unsigned char*>(meta.data())) == 0;
  mbedtls_gcm_free(&gcm);
  if (!opened) {
    error = "does not authenticate: altered, or sealed with another device's master key";
    return std::nullopt;
  }
  auto record = record_from_json(meta);
  entry.content_bytes = entry.file_bytes - entry.header.size() - kTagBytes;
  if (!record || record->size != entry.content_bytes) {
    error = "damaged: its record does not match its content";
    return std::nullopt;
  }
  entry.record = std::move(*record);
  return entry;
}

// Writes the encrypted entry for `source` to `out`; an error or "".
std::string write_entry(NativeFile source, NativeFile out, const SecretKey& key, QuarantineRecord& record) {
  std::array<unsigned char, 2 * kNonceBytes> nonces{};
  if (!random_bytes(nonces.data(), nonces.size())) return "no randomness for the nonces: " + file_error_text();
  const std::string meta = to_json(record).dump();
  std::string header(kMagic.begin(), kMagic.end());
  header.append(reinterpret_cast<const char*>(nonces.data()), nonces.size());
  for (int shift : {24, 16, 8, 0}) header += static_cast<char>((meta.size() >> shift) & 0xFF);

  Gcm gcm(key);
  std::array<unsigned char, kTagBytes> tag{};
  std::string sealed;
  if (!gcm.start(MBEDTLS_GCM_ENCRYPT, nonces.data(), header) || !gcm.update(meta, sealed) || !gcm.finish(sealed, tag)) {
    return "cannot encrypt the record";
  }
  header += sealed;
  header.append(reinterpret_cast<const char*>(tag.data()), tag.size());
  if (!write_all(out, header.data(), header.size())) return "cannot write: " + file_error_text();

  // The content's associated data is everything before it: it cannot be paired with another record.
  if (!gcm.start(MBEDTLS_GCM_ENCRYPT, nonces.data() + kNonceBytes, header)) return "cannot encrypt the file";
  std::string plain(kChunkBytes, '\0'), cipher;
  std::uint64_t stored = 0;
  for (;;) {
    const auto n = read_at(source, plain.data(), plain.size(), stored);
    if (n < 0) return "cannot read the file: " + file_error_text();
    if (n == 0) break;
    cipher.clear();
    if (!gcm.update({plain.data(), static_cast<std::size_t>(n)}, cipher)) return "cannot encrypt the file";
    if (!write_all(out, cipher.data(), cipher.size())) return "cannot write: " + file_error_text();
    stored += static_cast<std::uint64_t>(n);
  }
  cipher.clear();
  if (!gcm.finish(cipher, tag)) return "cannot encrypt the file";
  cipher.append(reinterpret_cast<const char*>(tag.data()), tag.size());
  if (!write_all(out, cipher.data(), cipher.size())) return "cannot write: " + file_error_text();
  // The record states the size: a file that grew or shrank while it was read would not match it.
  if (stored != record.size) return "the file changed while it was being stored";
  return {};
}

// Decrypts the entry's content into `out`; an error or "" (only then may `out` be used).
std::string decrypt_content(NativeFile fd, const OpenedEntry& entry, const SecretKey& key, NativeFile out) {
  Gcm gcm(key);
  if (!gcm.start(MBEDTLS_GCM_DECRYPT, entry.content_nonce.data(), entry.header)) return "cannot decrypt";
  std::string cipher(kChunkBytes, '\0'), plain;
  std::uint64_t at = entry.header.size();
  const std::uint64_t end = at + entry.content_bytes;
  while (at < end) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(cipher.size(), end - at));
    if (!read_exactly_at(fd, cipher.data(), n, at)) return "cannot read the entry: " + file_error_text();
    plain.clear();
    if (!gcm.update({cipher.data(), n}, plain) || !write_all(out, plain.data(), plain.size())) {
      return "cannot write the restored file: " + file_error_text();
    }
    at += n;
  }
  std::array<unsigned char, kTagBytes> expected{}, stored{};
  plain.clear();
  if (!gcm.finish(plain, expected) || !write_all(out, plain.data(), plain.size())) return "cannot decrypt";
  if (!read_exactly_at(fd, stored.data(), stored.size(), end)) return "cannot read the entry: " + file_error_text();
  if (!same_tag(expected, stored)) {
    return "the content does not authenticate: the entry was altered or damaged";
  }
  return {};
}

}  // namespace

bool valid_vault_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
  });
}

QuarantineVault::QuarantineVault(const fs::path& state_dir, const SecretKey& master)
    : dir_(state_dir / "quarantine"), key_(derive_purpose_key(master, kQuarantineVaultPurpose)) {}

fs::path QuarantineVault::entry_path(const std::string& id) const {
  return dir_ / (id + kEntrySuffix);
}

std::string QuarantineVault::prepare_dir() const {
  // Like the key folder: a vault others can write to could have entries swapped or removed.
  return make_private_folder(dir_);
}

std::string QuarantineVault::store(NativeFile file, QuarantineRecord& record) const {
  if (auto error = prepare_dir(); !error.empty()) return error;
  FileInfo info;
  if (!file_info(file, info)) return "cannot inspect the file: " + file_error_text();
  const auto now = std::time(nullptr);
  record.id = new_id(now);
  if (record.id.empty()) return "no randomness for the id: " + file_error_text();
  record.size = info.size;
  record.quarantined_at = utc_time(now, false);

  const FileHandle dir = open_folder(dir_);
  std::string temp_name;
  FileHandle temp = dir ? create_temp_file(dir, record.id + kEntrySuffix + ".tmp-", temp_name) : FileHandle();
  if (!temp) return "cannot create an entry in " + dir_.string() + ": " + file_error_text();
  // Durable before it has its name, and the name durable before the caller removes the original.
  auto error = write_entry(file, temp.get(), key_, record);
  if (error.empty() && !flush(temp)) error = "cannot fsync the entry: " + file_error_text();
  temp.reset();
  const auto name = record.id + kEntrySuffix;
  if (error.empty() && !rename_at(dir, temp_name, name, true)) error = "cannot name the entry: " + file_error_text();
  if (!error.empty()) {
    remove_at(dir, temp_name);
    return error;
  }
  if (!flush(dir)) {
    error = "cannot fsync " + dir_.string() + ": " + file_error_text();
    remove_at(dir, name);
    return error;
  }
  return {};
}

std::optional<QuarantineRecord> QuarantineVault::record(const std::string& id, std::string& error) const {
  if (!valid_vault_id(id)) {
    error = "no quarantine entry " + id;
    return std::nullopt;
  }
  const FileHandle entry_file = open_file(entry_path(id));
  if (!entry_file) {
    error = last_file_error() == std::errc::no_such_file_or_directory
                ? "no quarantine entry " + id
                : "cannot open " + entry_path(id).string() + ": " + file_error_text();
    return std::nullopt;
  }
  auto entry = open_entry(entry_file.get(), key_, error);
  if (!entry) return std::nullopt;
  return std::move(entry->record);
}

std::vector<VaultEntry> QuarantineVault::list() const {
  std::vector<std::string> ids;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    const std::string_view suffix = kEntrySuffix;
    if (name.size() > suffix.size() && name.ends_with(suffix))
      ids.push_back(name.substr(0, name.size() - suffix.size()));
  }
  std::sort(ids.begin(), ids.end());  // ids begin with the UTC time they were made
  std::vector<VaultEntry> entries;
  for (const auto& id : ids) {
    VaultEntry entry{id, std::nullopt, {}};
    entry.record = record(id, entry.error);
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::string QuarantineVault::restore(const std::string& id, const fs::path& to, std::string& note) const {
  if (!valid_vault_id(id)) return "no quarantine entry " + id;
  const FileHandle entry_file = open_file(entry_path(id));
  if (!entry_file) {
    return last_file_error() == std::errc::no_such_file_or_directory ? "no quarantine entry " + id
                                                                      : "cannot open the entry: " + file_error_text();
  }
  std::string error;
  const auto entry = open_entry(entry_file.get(), key_, error);
  if (!entry) return "entry " + id + " " + error;

  const FileHandle dir = open_folder(to.has_parent_path() ? to.parent_path() : fs::path("."));
  if (!dir) return "cannot open the folder of " + to.string() + ": " + file_error_text();
  const auto name = to.filename().string();
  FileInfo existing;
  if (file_info_at(dir, name, existing)) return "refusing to overwrite " + to.string() + ", which exists";
  if (last_file_error() != std::errc::no_such_file_or_directory)
    return "cannot inspect " + to.string() + ": " + file_error_text();
  std::string temp_name;
  FileHandle temp = create_temp_file(dir, "." + name + ".postured-restore-", temp_name);
  if (!temp) return "cannot create a file beside " + to.string() + ": " + file_error_text();
  error = decrypt_content(entry_file.get(), *entry, key_, temp.get());
  const auto& r = entry->record;
  if (error.empty() && !set_owner(temp, r.uid, r.gid)) {
    note = "the owner " + std::to_string(r.uid) + ":" + std::to_string(r.gid) + " was not restored: " + file_error_text();
  }
  if (error.empty() && !set_mode(temp, r.mode)) error = "cannot set the mode: " + file_error_text();
  if (error.empty() && !flush(temp)) error = "cannot fsync the restored file: " + file_error_text();
  temp.reset();
  // Named only now, and never over a file that appeared meanwhile.
  if (error.empty() && !rename_at(dir, temp_name, name, false)) {
    error = last_file_error() == std::errc::file_exists ? "refusing to overwrite " + to.string() + ", which exists"
                                                         : "cannot name the restored file: " + file_error_text();
  }
  if (!error.empty()) {
    remove_at(dir, temp_name);
    return error;
  }
  flush(dir);
  return {};
}

std::string QuarantineVault::remove(const std::string& id) const {
  if (!valid_vault_id(id)) return "no quarantine entry " + id;
  const FileHandle dir = open_folder(dir_);
  if (!dir || !remove_at(dir, id + kEntrySuffix))
    return "cannot remove " + entry_path(id).string() + ": " + file_error_text();
  flush(dir);
  return {};
}

}  // namespace postured::privacy
