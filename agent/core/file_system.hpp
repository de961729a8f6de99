// File operations whose POSIX and Windows forms differ (fsync, ownership, locks), for the cache vault
// and anything else above the platform layer. Implemented by platform/<platform>/file_system.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace postured {

// Flushes a file's data, or a folder's entries, to the disk. False when it cannot.
bool flush_to_disk(const std::filesystem::path& path, bool directory);

// Gives `copy` the owner and access rights of `original` (POSIX: owner, group, mode bits; Windows: owner
// and DACL). False with `error` set when it cannot.
bool copy_owner_and_access(const std::filesystem::path& original, const std::filesystem::path& copy,
                           std::string& error);

// Overwrites a regular file with zeros, flushes it and removes it; never follows a symbolic link.
// Best effort: whatever cannot be overwritten is still removed.
void wipe_and_remove(const std::filesystem::path& path);

// An exclusive lock on a lock file, shared by every process that locks the same file; released when
// the object dies (or the process does). POSIX: flock; Windows: LockFileEx.
class FileLock {
 public:
  // Opens `path`, creating it readable and writable by the owner only. is_open() is false when it cannot.
  explicit FileLock(const std::filesystem::path& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  bool is_open() const { return handle_ != kClosed; }
  // Takes the lock if it is free; true when this object now holds it.
  bool try_lock();
  // Waits until the lock is free and takes it; false on an error.
  bool lock();
  // Gives up the lock and the file.
  void close();

 private:
  static constexpr std::intptr_t kClosed = -1;
  std::intptr_t handle_ = kClosed;  // a file descriptor (POSIX) or a HANDLE (Windows)
};

}  // namespace postured
