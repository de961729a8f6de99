// Which other processes have a file open: a cache is never migrated under a program that uses it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace postured {

struct FileHolder {
  int pid = 0;
  std::string exe;  // the program's path, or "" when it cannot be read
};

// Processes other than this one with `path` open (matched by device and inode). Implemented by the
// platform layer.
std::vector<FileHolder> processes_holding(const std::filesystem::path& path);

}  // namespace postured
