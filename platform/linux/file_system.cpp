#include "core/file_system.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace postured {

bool flush_to_disk(const std::filesystem::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// chown first: it clears set-id bits.
bool copy_owner_and_access(const std::filesystem::path& original, const std::filesystem::path& copy,
                           std::string& error) {
  struct stat st {};
  if (::stat(original.c_str(), &st) != 0) {
    error = "cannot inspect " + original.string() + ": " + std::strerror(errno);
    return false;
  }
  if (::chown(copy.c_str(), st.st_uid, st.st_gid) != 0 || ::chmod(copy.c_str(), st.st_mode & 07777) != 0) {
    error = "cannot give the copy the cache's owner and mode: " + std::string(std::strerror(errno));
    return false;
  }
  return true;
}

void wipe_and_remove(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    struct stat st {};
    if (::fstat(fd, &st) == 0) {
      static const std::vector<char> zeros(1 << 16, 0);
      for (off_t done = 0; done < st.st_size;) {
        const auto chunk = std::min<off_t>(static_cast<off_t>(zeros.size()), st.st_size - done);
        const auto n = ::pwrite(fd, zeros.data(), static_cast<std::size_t>(chunk), done);
        if (n <= 0) break;
        done += n;
      }
      ::fsync(fd);
    }
    ::close(fd);
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

FileLock::FileLock(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) handle_ = fd;
}

FileLock::~FileLock() { close(); }

bool FileLock::try_lock() { return is_open() && ::flock(static_cast<int>(handle_), LOCK_EX | LOCK_NB) == 0; }

bool FileLock::lock() { return is_open() && ::flock(static_cast<int>(handle_), LOCK_EX) == 0; }

void FileLock::close() {
  if (is_open()) ::close(static_cast<int>(handle_));
  handle_ = kClosed;
}

}  // namespace postured
