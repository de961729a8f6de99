// Files below a scanned folder, reached without following any symlink below it. Redaction and
// quarantine change files, so they must never reach outside the folder they were configured for:
// a spool folder that another user can write to could hold a link to /etc/shadow, or a folder
// swapped for a link between the scan and the action.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <string>

namespace postured::privacy {

// A file descriptor that closes itself.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// The folder that holds `file`, opened from `root` one component at a time with O_NOFOLLOW, and
// the file's name in it. `root` itself is opened as configured (it may be a link an admin made);
// everything below it must be a real folder. `root` may also be the file itself.
struct ContainedFile {
  UniqueFd dir;
  std::string name;
};
std::optional<ContainedFile> open_contained(const std::filesystem::path& root, const std::filesystem::path& file,
                                            std::string& error);

// Opens `name` in `dir` for reading without following a symlink and without touching its atime
// where allowed. The descriptor is invalid on failure (errno says why).
UniqueFd open_for_reading(int dir, const std::string& name);

// Why the open file `fd` (stat `st`) must not be replaced or removed by its name, or "". Only regular
// files are. Not one with other hard links: the card data would stay readable under the others.
// Not one open in another process: a program writing to it would go on writing to the old inode,
// and what it writes would be lost.
std::string why_not_replace(int fd, const struct stat& st);

// True if `a` and `b` describe the same inode with the same size and modification time: the file
// was not replaced or written between the two stats.
bool same_version(const struct stat& a, const struct stat& b);

// A new file `<prefix><random>` in `dir`, mode 0600, opened for writing; its name in `name`.
UniqueFd create_temp_file(int dir, const std::string& prefix, std::string& name);

// Writes all of `size` bytes; false with errno set on failure.
bool write_all(int fd, const void* data, std::size_t size);

// fsync(2) of the folder, so that a rename or unlink in it survives a crash; false on failure.
bool sync_dir(int dir);

// "permission denied" for errno EACCES: the message for the current errno.
std::string errno_text();

}  // namespace postured::privacy
