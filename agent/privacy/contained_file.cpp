#include "privacy/contained_file.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/open_files.hpp"

namespace postured::privacy {

namespace fs = std::filesystem;

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string errno_text() {
  return std::strerror(errno);
}

std::optional<ContainedFile> open_contained(const fs::path& root, const fs::path& file, std::string& error) {
  const auto relative = file.lexically_normal().lexically_relative(root.lexically_normal());
  if (relative.empty() || *relative.begin() == "..") {
    error = file.string() + " is not below " + root.string();
    return std::nullopt;
  }
  if (relative == ".") {  // the configured path is the file itself
    UniqueFd dir(::open(root.has_parent_path() ? root.parent_path().c_str() : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) {
      error = "cannot open the folder of " + root.string() + ": " + errno_text();
      return std::nullopt;
    }
    return ContainedFile{std::move(dir), root.filename().string()};
  }
  UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    error = "cannot open " + root.string() + ": " + errno_text();
    return std::nullopt;
  }
  std::string name;
  for (auto it = relative.begin(); it != relative.end(); ++it) {
    if (!name.empty()) {
      UniqueFd next(::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!next) {
        // ELOOP or ENOTDIR: a component was swapped for a symlink or a file after the scan.
        error = "cannot open folder " + name + " below " + root.string() + " without following a link: " + errno_text();
        return std::nullopt;
      }
      dir = std::move(next);
    }
    name = it->string();
    if (name == "..") {
      error = file.string() + " is not below " + root.string();
      return std::nullopt;
    }
  }
  return ContainedFile{std::move(dir), name};
}

UniqueFd open_for_reading(int dir, const std::string& name) {
  // O_NOATIME is allowed only for the file's owner and root; a scan should not touch atimes.
  constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
  UniqueFd fd(::openat(dir, name.c_str(), kFlags | O_NOATIME));
  if (!fd && errno == EPERM) fd.reset(::openat(dir, name.c_str(), kFlags));
  return fd;
}

std::string why_not_replace(int fd, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (st.st_nlink > 1) return "has " + std::to_string(st.st_nlink) + " hard links; left for IT to handle";
  const auto holders = processes_holding("/proc/self/fd/" + std::to_string(fd));
  if (holders.empty()) return {};
  const auto& h = holders.front();
  return "open in pid " + std::to_string(h.pid) + (h.exe.empty() ? "" : " (" + h.exe + ")") +
         "; tried again at the next scan";
}

bool same_version(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

UniqueFd create_temp_file(int dir, const std::string& prefix, std::string& name) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    unsigned char random[6];
    if (::getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) return UniqueFd();
    char suffix[13];
    for (std::size_t i = 0; i < sizeof random; ++i) std::snprintf(suffix + 2 * i, 3, "%02x", random[i]);
    name = prefix + suffix;
    UniqueFd fd(::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd || errno != EEXIST) return fd;
  }
  return UniqueFd();
}

bool write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const auto n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool sync_dir(int dir) {
  return ::fsync(dir) == 0;
}

}  // namespace postured::privacy
