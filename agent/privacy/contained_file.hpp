// Files below a scanned folder, reached without following any link below it. Redaction and
// quarantine change files, so they must never reach outside the folder they were configured for:
// a spool folder that another user can write to could hold a link to /etc/shadow, or a folder
// swapped for a link (or a junction, on Windows) between the scan and the action. The primitives
// are core/file_handle.hpp's, which each platform implements.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/file_handle.hpp"

namespace postured::privacy {

// The folder that holds `file`, opened from `root` one component at a time without following a
// link, and the file's name in it. `root` itself is opened as configured (it may be a link an admin
// made); everything below it must be a real folder. `root` may also be the file itself.
struct ContainedFile {
  FileHandle dir;
  std::string name;
};
std::optional<ContainedFile> open_contained(const std::filesystem::path& root, const std::filesystem::path& file,
                                            std::string& error);

// Why the open file `file` (described by `info`) must not be replaced or removed by its name, or "".
// Only regular files are. Not one with other hard links: the card data would stay readable under
// the others. Not one open in another process: a program writing to it would go on writing to the
// old file, and what it writes would be lost.
std::string why_not_replace(const FileHandle& file, const FileInfo& info);

// True if `a` and `b` describe the same file with the same size and modification time: the file
// was not replaced or written between the two looks.
bool same_version(const FileInfo& a, const FileInfo& b);

// A new file `<prefix><random>` in `dir` (core's create_file_at); its name in `name`.
FileHandle create_temp_file(const FileHandle& dir, const std::string& prefix, std::string& name);

// The text of last_file_error(): "Permission denied".
std::string file_error_text();

}  // namespace postured::privacy
