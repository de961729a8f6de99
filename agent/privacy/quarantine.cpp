#include "privacy/quarantine.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "privacy/contained_file.hpp"

namespace postured::privacy {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTombstoneSuffix = ".quarantined";
constexpr std::uint32_t kTombstoneMode = 0644;  // anyone who could list the folder may read why a file went
// Attempts before a file that keeps changing is left where it is: the first, and one retry.
constexpr int kAttempts = 2;
// The tombstone's first line, by which restore knows a tombstone is postured's.
constexpr const char* kTombstoneTitle = "postured quarantine notice";

std::string octal(std::uint32_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777);
  return text;
}

// Writes the tombstone for `record` as `name` in `dir`, atomically; an error or "".
std::string write_tombstone(const FileHandle& dir, const std::string& name, const QuarantineRecord& record) {
  std::string temp_name;
  FileHandle temp = create_temp_file(dir, "." + name + ".postured-", temp_name);
  if (!temp) return "cannot create the tombstone: " + file_error_text();
  const auto text = tombstone_text(record);
  std::string error;
  if (!write_all(temp.get(), text.data(), text.size())) error = "cannot write the tombstone: " + file_error_text();
  // The file's owner may remove the tombstone, as they could have removed the file; best effort
  // (only root may give a file away).
  if (error.empty() && !set_owner(temp, record.uid, record.gid) &&
      last_file_error() != std::errc::operation_not_permitted) {
    error = "cannot set the tombstone's owner: " + file_error_text();
  }
  if (error.empty() && !set_mode(temp, kTombstoneMode)) error = "cannot set the tombstone's mode: " + file_error_text();
  if (error.empty() && !flush(temp)) error = "cannot fsync the tombstone: " + file_error_text();
  temp.reset();
  if (error.empty() && !rename_at(dir, temp_name, name, true)) {
    error = "cannot name the tombstone " + name + ": " + file_error_text();
  }
  if (!error.empty()) remove_at(dir, temp_name);
  return error;
}

enum class Outcome { finished, changed };

Outcome attempt(const fs::path& root, const fs::path& file, std::uint64_t findings,
                const std::vector<std::string>& examples, const QuarantineVault& vault,
                const std::function<void()>& stored, QuarantineResult& result) {
  result = {};
  auto contained = open_contained(root, file, result.error);
  if (!contained) return Outcome::finished;
  const auto& dir = contained->dir;
  const auto& name = contained->name;
  FileHandle original = open_file_at(dir, name);
  FileInfo before;
  if (!original || !file_info(original.get(), before)) {
    result.error = "cannot open: " + file_error_text();
    return Outcome::finished;
  }
  if (result.error = why_not_replace(original, before); !result.error.empty()) return Outcome::finished;

  QuarantineRecord record;
  record.path = file;
  record.mode = before.mode;
  record.uid = before.uid;
  record.gid = before.gid;
  record.mtime = before.mtime_sec;
  record.findings = findings;
  record.examples = examples;
  if (auto error = vault.store(original.get(), record); !error.empty()) {
    result.error = "not moved to the vault: " + error;
    return Outcome::finished;
  }
  if (stored) stored();
  // What the vault holds must be the file as it is now, or removing the file would lose data.
  FileInfo now_open, now_named;
  if (!file_info(original.get(), now_open) || !file_info_at(dir, name, now_named) || !same_version(before, now_open) ||
      !same_version(before, now_named)) {
    vault.remove(record.id);
    return Outcome::changed;
  }
  if (auto error = write_tombstone(dir, name + kTombstoneSuffix, record); !error.empty()) {
    vault.remove(record.id);
    result.error = error;
    return Outcome::finished;
  }
  if (!remove_at(dir, name)) {
    result.error = "stored as " + record.id + " but not removed: " + file_error_text();
    return Outcome::finished;
  }
  if (!flush(dir)) result.error = "moved, but the folder could not be fsynced: " + file_error_text();
  result.moved = true;
  result.vault_id = record.id;
  return Outcome::finished;
}

// True if the file at `path` is a tombstone that postured wrote for entry `id`.
bool is_tombstone_of(const fs::path& path, const std::string& id) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::symlink_status(path, ec))) return false;
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  std::ostringstream rest;
  rest << in.rdbuf();
  return first == kTombstoneTitle && rest.str().find("vault id:  " + id + "\n") != std::string::npos;
}

}  // namespace

fs::path tombstone_path(const fs::path& file) {
  auto path = file;
  path += kTombstoneSuffix;
  return path;
}

std::string tombstone_text(const QuarantineRecord& r) {
  std::string found =
      std::to_string(r.findings) + (r.findings == 1 ? " card number or track" : " card numbers or tracks");
  if (!r.examples.empty()) {
    found += " (masked:";
    for (const auto& e : r.examples) found += " " + e;
    found += ")";
  }
  std::string text = std::string(kTombstoneTitle) + "\n\n";
  text += "postured moved this file into its encrypted quarantine vault because it held card data, which\n";
  text += "must not be stored in clear (PCI DSS v4.0 3.3.1: track data never; 3.4.1: PANs unreadable).\n\n";
  text += "  file:      " + r.path.string() + "\n";
  text += "  vault id:  " + r.id + "\n";
  text += "  moved at:  " + r.quarantined_at + "\n";
  text += "  found:     " + found + "\n";
  text += "  was:       " + std::to_string(r.size) + " bytes, mode " + octal(r.mode) + ", uid " +
          std::to_string(r.uid) + ", gid " + std::to_string(r.gid) + "\n\n";
  text += "The vault is encrypted with a key that only this device has. To get the file back, as root:\n";
  text += "  posturectl quarantine restore " + r.id + " --to /a/safe/place\n";
  text += "(without --to it goes back here; if this folder is scanned, it is quarantined again).\n";
  return text;
}

QuarantineResult quarantine_file(const fs::path& root, const fs::path& file, std::uint64_t findings,
                                 const std::vector<std::string>& examples, const QuarantineVault& vault,
                                 const std::function<void()>& stored) {
  QuarantineResult result;
  for (int i = 0; i < kAttempts; ++i) {
    if (attempt(root, file, findings, examples, vault, stored, result) == Outcome::finished) return result;
  }
  result.error = "changed while it was being moved to the vault, " + std::to_string(kAttempts) +
                 " times; left where it was and tried again at the next scan";
  return result;
}

RestoreResult restore_quarantined(const QuarantineVault& vault, const std::string& id, const fs::path& to) {
  RestoreResult result;
  const auto record = vault.record(id, result.error);
  if (!record) return result;
  result.path = to.empty() ? record->path : to;
  result.error = vault.restore(id, result.path, result.note);
  if (!result.error.empty()) return result;
  if (auto error = vault.remove(id); !error.empty()) result.note += (result.note.empty() ? "" : "; ") + error;
  const auto tombstone = tombstone_path(record->path);
  std::error_code ec;
  if (is_tombstone_of(tombstone, id)) fs::remove(tombstone, ec);
  return result;
}

}  // namespace postured::privacy
