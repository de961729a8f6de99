// The `quarantine` action: moves a file with card data into the encrypted vault and leaves a
// tombstone where it was; and getting it back (agent/privacy/SCANNING.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "privacy/quarantine_vault.hpp"

namespace postured::privacy {

struct QuarantineResult {
  bool moved = false;
  std::string vault_id;
  std::string error;  // why the file was left where it was
};

// Where the tombstone of `file` goes: `<file>.quarantined`.
std::filesystem::path tombstone_path(const std::filesystem::path& file);
// The tombstone's text: what was moved, where, when and why, and how to get it back. Masked numbers only.
std::string tombstone_text(const QuarantineRecord& record);

// Moves `file`, below the scanned folder `root` (no symlink below `root` is followed), into `vault`.
// `findings` and the masked `examples` go into the record and the tombstone. Order, for crashes:
// the vault entry is durable, then the tombstone (written atomically), then the file is removed.
// A file that changed while it was being stored is tried once more, then left. `stored` runs after
// the entry is durable and before the file is checked (tests change the file there).
QuarantineResult quarantine_file(const std::filesystem::path& root, const std::filesystem::path& file,
                                 std::uint64_t findings, const std::vector<std::string>& examples,
                                 const QuarantineVault& vault, const std::function<void()>& stored = {});

struct RestoreResult {
  std::filesystem::path path;  // where the file was restored
  std::string note;            // e.g. the owner could not be restored
  std::string error;           // nothing was restored
};

// Restores entry `id` to `to`, or to where it came from when `to` is empty; never over an existing
// file. Then removes the entry (the vault keeps card data only until IT has it back) and the
// tombstone at the original path, if it is this entry's.
RestoreResult restore_quarantined(const QuarantineVault& vault, const std::string& id, const std::filesystem::path& to);

}  // namespace postured::privacy
