// Linux: file descriptors, openat(2) with O_NOFOLLOW, renameat2(2), getrandom(2).
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/file_handle.hpp"

namespace postured {
namespace {

int fd_of(const FileHandle& handle) {
  return static_cast<int>(handle.get());
}

void describe(const struct stat& st, FileInfo& info) {
  info.regular = S_ISREG(st.st_mode);
  info.folder = S_ISDIR(st.st_mode);
  info.device = st.st_dev;
  info.id = st.st_ino;
  info.size = static_cast<std::uint64_t>(st.st_size);
  info.mtime_sec = st.st_mtim.tv_sec;
  info.mtime_nsec = static_cast<std::uint32_t>(st.st_mtim.tv_nsec);
  info.links = st.st_nlink;
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.mode = st.st_mode & 07777;
}

// openat() for reading start to end without touching the access time where that is allowed
// (O_NOATIME: the file's owner and root), and without following a link at the last step.
FileHandle open_for_reading(int dir, const char* name) {
  constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
  int fd = ::openat(dir, name, kFlags | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::openat(dir, name, kFlags);
  if (fd >= 0) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return FileHandle(fd);
}

}  // namespace

void FileHandle::reset(NativeFile native) {
  if (native_ != kNoFile) {
    const int saved = errno;
    ::close(static_cast<int>(native_));
    errno = saved;
  }
  native_ = native;
}

std::error_code last_file_error() {
  return {errno, std::generic_category()};
}

FileHandle open_folder(const std::filesystem::path& path) {
  return FileHandle(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

FileHandle open_folder_at(const FileHandle& dir, const std::string& name) {
  // ELOOP for a link, ENOTDIR for anything else that is not a folder.
  return FileHandle(::openat(fd_of(dir), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

FileHandle open_file_at(const FileHandle& dir, const std::string& name) {
  return open_for_reading(fd_of(dir), name.c_str());
}

FileHandle open_file(const std::filesystem::path& path) {
  return open_for_reading(AT_FDCWD, path.c_str());
}

FileHandle create_file_at(const FileHandle& dir, const std::string& name) {
  return FileHandle(::openat(fd_of(dir), name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
}

FileHandle open_for_append(const std::filesystem::path& path) {
  FileHandle fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd && ::fchmod(fd_of(fd), 0600) != 0) fd.reset();
  return fd;
}

bool file_info(NativeFile file, FileInfo& info) {
  struct stat st {};
  if (::fstat(static_cast<int>(file), &st) != 0) return false;
  describe(st, info);
  return true;
}

bool file_info_at(const FileHandle& dir, const std::string& name, FileInfo& info) {
  struct stat st {};
  if (::fstatat(fd_of(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  describe(st, info);
  return true;
}

bool remove_at(const FileHandle& dir, const std::string& name) {
  return ::unlinkat(fd_of(dir), name.c_str(), 0) == 0;
}

bool rename_at(const FileHandle& dir, const std::string& from, const std::string& to, bool replace) {
  const int d = fd_of(dir);
  if (replace) return ::renameat(d, from.c_str(), d, to.c_str()) == 0;
  if (::renameat2(d, from.c_str(), d, to.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno != EINVAL) return false;
  // A file system without RENAME_NOREPLACE: link(2) refuses an existing name too.
  if (::linkat(d, from.c_str(), d, to.c_str(), 0) != 0) return false;
  ::unlinkat(d, from.c_str(), 0);
  return true;
}

bool flush(const FileHandle& file) {
  return ::fsync(fd_of(file)) == 0;
}

std::ptrdiff_t read_some(NativeFile file, char* out, std::size_t size) {
  for (;;) {
    const auto n = ::read(static_cast<int>(file), out, size);
    if (n >= 0 || errno != EINTR) return n;
  }
}

std::ptrdiff_t read_at(NativeFile file, char* out, std::size_t size, std::uint64_t offset) {
  for (;;) {
    const auto n = ::pread(static_cast<int>(file), out, size, static_cast<off_t>(offset));
    if (n >= 0 || errno != EINTR) return n;
  }
}

bool rewind(NativeFile file) {
  return ::lseek(static_cast<int>(file), 0, SEEK_SET) == 0;
}

bool write_all(NativeFile file, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const auto n = ::write(static_cast<int>(file), p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) {
      errno = EIO;
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool copy_owner_and_access(const FileHandle& /*original*/, const FileInfo& info, const FileHandle& copy) {
  return set_owner(copy, info.uid, info.gid) && set_mode(copy, info.mode);
}

bool set_owner(const FileHandle& file, std::uint32_t uid, std::uint32_t gid) {
  return ::fchown(fd_of(file), uid, gid) == 0;
}

bool set_mode(const FileHandle& file, std::uint32_t mode) {
  return ::fchmod(fd_of(file), mode & 07777) == 0;
}

std::string make_private_folder(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    return "cannot create " + path.string() + ": " + last_file_error().message();
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return "cannot inspect " + path.string() + ": " + last_file_error().message();
  // Like the key folder: a folder others can write to could have its files swapped or removed.
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    return path.string() + " must be a folder of uid " + std::to_string(::geteuid()) + " with mode 0700";
  }
  return {};
}

bool random_bytes(void* out, std::size_t size) {
  auto* p = static_cast<unsigned char*>(out);
  while (size > 0) {
    const auto n = ::getrandom(p, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace postured
