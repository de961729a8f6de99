// Which other processes have a file open: a cache is never migrated under a program that uses it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/file_handle.hpp"

namespace postured {

struct FileHolder {
  int pid = 0;
  std::string exe;  // the program's path, or "" when it cannot be read
};

// Processes other than this one with `path` open (matched by device and inode). Implemented by the
// platform layer.
std::vector<FileHolder> processes_holding(const std::filesystem::path& path);
// The same for the file this process has open as `file` (by the file itself, not by a name that
// may since name another).
std::vector<FileHolder> processes_holding(NativeFile file);

}  // namespace postured
