// Open files and folders, and names reached through an open folder without following a link: the
// primitives that the privacy actions (scan, redact, quarantine, the evidence log and the vault) are
// built on, so that a symbolic link or junction swapped in below a scanned folder cannot redirect a
// read, a rewrite or a deletion. POSIX: file descriptors, openat(2) and friends with O_NOFOLLOW.
// Windows: HANDLEs, NtCreateFile relative to a folder handle with FILE_OPEN_REPARSE_POINT (a reparse
// point is opened as itself and refused), renames and deletions by handle. Implemented by
// platform/<platform>/file_handle.cpp.
//
// Calls that fail return false, an invalid handle or -1; last_file_error() then says why, and must be
// asked before anything else touches errno (POSIX) or the thread's last error (Windows).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

namespace postured {

// A file descriptor (POSIX) or a HANDLE (Windows); -1 (INVALID_HANDLE_VALUE) is none.
using NativeFile = std::intptr_t;
inline constexpr NativeFile kNoFile = -1;

// An open file or folder that closes itself.
class FileHandle {
 public:
  FileHandle() = default;
  explicit FileHandle(NativeFile native) : native_(native) {}
  ~FileHandle() { reset(); }
  FileHandle(FileHandle&& other) noexcept : native_(other.release()) {}
  FileHandle& operator=(FileHandle&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;

  NativeFile get() const { return native_; }
  explicit operator bool() const { return native_ != kNoFile; }
  NativeFile release() {
    const NativeFile native = native_;
    native_ = kNoFile;
    return native;
  }
  // Closes what is held (keeping the last error as it was) and holds `native`.
  void reset(NativeFile native = kNoFile);

 private:
  NativeFile native_ = kNoFile;
};

// What identifies one version of a file, and what must survive when it is replaced.
struct FileInfo {
  bool regular = false;  // a plain file: not a folder, link, reparse point or device
  bool folder = false;
  std::uint64_t device = 0;  // st_dev; the volume serial number on Windows
  std::uint64_t id = 0;      // st_ino; the file index on Windows
  std::uint64_t size = 0;
  // Last modification: whole seconds since the Unix epoch (negative before 1970), and nanoseconds.
  // Apart, because any user may give a file a time that nanoseconds in 64 bits cannot hold (2300).
  std::int64_t mtime_sec = 0;
  std::uint32_t mtime_nsec = 0;
  std::uint64_t links = 0;    // hard links
  // POSIX owner, group and permission bits (07777). Zero on Windows, where access is the DACL.
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint32_t mode = 0;
};

// Why the last call failed. Common causes compare equal to std::errc values on every platform
// (no_such_file_or_directory, file_exists, permission_denied, too_many_symbolic_link_levels,
// not_a_directory); message() is readable text.
std::error_code last_file_error();

// The folder `path`, following links: a configured path may be a link an administrator made.
FileHandle open_folder(const std::filesystem::path& path);
// The folder `name` in `dir`; fails (too_many_symbolic_link_levels or not_a_directory) if it is a
// link, a reparse point or not a folder.
FileHandle open_folder_at(const FileHandle& dir, const std::string& name);
// `name` in `dir`, for reading start to end; fails if it is a link or a reparse point. The file's
// access time is left alone where the platform allows (O_NOATIME for the owner and root).
FileHandle open_file_at(const FileHandle& dir, const std::string& name);
// The same for a path: links before its last component are followed, the last one is refused.
FileHandle open_file(const std::filesystem::path& path);
// A new file `name` in `dir`, opened for reading and writing; fails (file_exists) if the name is
// taken, by anything. POSIX: mode 0600. Windows: the access its folder hands down.
FileHandle create_file_at(const FileHandle& dir, const std::string& name);
// `path` opened for appending, created owner-only (POSIX 0600; Windows: SYSTEM, Administrators and
// this account) if it is new, made owner-only if it is not; a link at `path` is refused.
FileHandle open_for_append(const std::filesystem::path& path);

bool file_info(NativeFile file, FileInfo& info);
// `name` in `dir` itself: a link is described, not followed.
bool file_info_at(const FileHandle& dir, const std::string& name, FileInfo& info);
// Removes the name `name` from `dir` (a link is removed, never its target).
bool remove_at(const FileHandle& dir, const std::string& name);
// Renames `from` to `to`, both in `dir`. With `replace` an existing `to` is replaced atomically;
// without it the rename fails (file_exists) if `to` exists. Windows without POSIX renames (FAT, before
// 10 1709) and Wine refuse (permission_denied) to replace a `to` that is open anywhere.
bool rename_at(const FileHandle& dir, const std::string& from, const std::string& to, bool replace);
// Flushes a file's data, or a folder's entries, to the disk (fsync / FlushFileBuffers).
bool flush(const FileHandle& file);

// Up to `size` bytes from the file's position: how many, 0 at its end, -1 on an error.
std::ptrdiff_t read_some(NativeFile file, char* out, std::size_t size);
// Up to `size` bytes at `offset`, leaving the position alone on POSIX: how many, 0 at the end, -1.
std::ptrdiff_t read_at(NativeFile file, char* out, std::size_t size, std::uint64_t offset);
// Moves the position back to the start.
bool rewind(NativeFile file);
// All of `size` bytes at the position.
bool write_all(NativeFile file, const void* data, std::size_t size);

// Gives `copy` the owner and access of `original`, which `info` describes. POSIX: owner and group,
// then the permission bits (chown clears set-id bits, so it comes first). Windows: the owner (when
// this account may set it) and the DACL, protected or inheriting as the original's was.
bool copy_owner_and_access(const FileHandle& original, const FileInfo& info, const FileHandle& copy);
// POSIX: sets the owner and group. Windows has no uid or gid: a file's access is its DACL, which a
// new file takes from its folder, so there is nothing to set and this succeeds.
bool set_owner(const FileHandle& file, std::uint32_t uid, std::uint32_t gid);
// POSIX: sets the permission bits. Windows: as set_owner, nothing to set.
bool set_mode(const FileHandle& file, std::uint32_t mode);

// Makes the folder `path` (its parents as needed) private to this account: POSIX mode 0700, Windows
// a protected DACL for SYSTEM, Administrators and this account. An existing folder is checked, not
// changed: it must be a real folder (not a link) that no one else can open. An error, or "".
std::string make_private_folder(const std::filesystem::path& path);

// Fills `out` with `size` bytes from the system's random source (getrandom / BCryptGenRandom).
bool random_bytes(void* out, std::size_t size);

}  // namespace postured
