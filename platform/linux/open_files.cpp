// Linux: every /proc/<pid>/fd/<n> whose target is the same device and inode as the file.
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "core/open_files.hpp"

namespace postured {

std::vector<FileHolder> processes_holding(const std::filesystem::path& path) {
  std::vector<FileHolder> holders;
  struct stat target {};
  if (::stat(path.c_str(), &target) != 0) return holders;
  const auto self = ::getpid();
  std::error_code ec;
  for (std::filesystem::directory_iterator proc("/proc", ec), end; !ec && proc != end; proc.increment(ec)) {
    const auto name = proc->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const int pid = std::stoi(name);
    if (pid == self) continue;
    std::error_code fd_ec;
    for (std::filesystem::directory_iterator fd(proc->path() / "fd", fd_ec), fd_end; !fd_ec && fd != fd_end;
         fd.increment(fd_ec)) {
      struct stat st {};
      if (::stat(fd->path().c_str(), &st) != 0) continue;
      if (st.st_dev != target.st_dev || st.st_ino != target.st_ino) continue;
      std::error_code exe_ec;
      const auto exe = std::filesystem::read_symlink(proc->path() / "exe", exe_ec);
      holders.push_back({pid, exe_ec ? std::string() : exe.string()});
      break;
    }
  }
  return holders;
}

std::vector<FileHolder> processes_holding(NativeFile file) {
  return processes_holding("/proc/self/fd/" + std::to_string(file));
}

}  // namespace postured
