// core/file_system.hpp for Windows: FlushFileBuffers, the owner and DACL, LockFileEx.
#include "core/file_system.hpp"

#include <windows.h>
#include <aclapi.h>

#include <algorithm>
#include <string>
#include <system_error>
#include <vector>

namespace postured {
namespace {

HANDLE to_handle(std::intptr_t value) { return reinterpret_cast<HANDLE>(value); }

std::string last_error_text(DWORD code) {
  return std::system_category().message(static_cast<int>(code)) + " (Windows error " + std::to_string(code) + ")";
}

}  // namespace

bool flush_to_disk(const std::filesystem::path& path, bool directory) {
  // NTFS journals its folder entries, so a rename is durable without flushing the folder, and Windows
  // offers no flush for a folder handle without backup privileges: nothing to do for a folder.
  if (directory) return std::filesystem::is_directory(path);
  HANDLE file = CreateFileW(path.c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                            nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (file == INVALID_HANDLE_VALUE) return false;
  const bool ok = FlushFileBuffers(file) != 0;
  CloseHandle(file);
  return ok;
}

// The DACL decides who may open the cache, so it must be copied. The owner is copied too where the
// process may set it (an administrator or SYSTEM may); it only carries the implicit right to change
// the DACL, so a failure there is not an error.
bool copy_owner_and_access(const std::filesystem::path& original, const std::filesystem::path& copy,
                           std::string& error) {
  PSID owner = nullptr;
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  const DWORD read = GetNamedSecurityInfoW(original.c_str(), SE_FILE_OBJECT,
                                           OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner, nullptr,
                                           &dacl, nullptr, &descriptor);
  if (read != ERROR_SUCCESS) {
    error = "cannot inspect " + original.string() + ": " + last_error_text(read);
    return false;
  }
  SECURITY_DESCRIPTOR_CONTROL control = 0;
  DWORD revision = 0;
  GetSecurityDescriptorControl(descriptor, &control, &revision);
  // A protected DACL (no inherited entries) stays protected on the copy, an inheriting one inherits.
  const SECURITY_INFORMATION dacl_kind = DACL_SECURITY_INFORMATION | ((control & SE_DACL_PROTECTED) != 0
                                                                         ? PROTECTED_DACL_SECURITY_INFORMATION
                                                                         : UNPROTECTED_DACL_SECURITY_INFORMATION);
  std::wstring copy_name = copy.wstring();
  const DWORD written = SetNamedSecurityInfoW(copy_name.data(), SE_FILE_OBJECT, dacl_kind, nullptr, nullptr, dacl, nullptr);
  if (written == ERROR_SUCCESS) {
    SetNamedSecurityInfoW(copy_name.data(), SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, owner, nullptr, nullptr,
                          nullptr);
  }
  LocalFree(descriptor);
  if (written != ERROR_SUCCESS) {
    error = "cannot give the copy the cache's access rights: " + last_error_text(written);
    return false;
  }
  return true;
}

void wipe_and_remove(const std::filesystem::path& path) {
  // FILE_FLAG_OPEN_REPARSE_POINT opens a symbolic link itself, which is then left alone.
  HANDLE file = CreateFileW(path.c_str(), GENERIC_WRITE | FILE_READ_ATTRIBUTES,
                            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                            FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
  if (file != INVALID_HANDLE_VALUE) {
    BY_HANDLE_FILE_INFORMATION info{};
    LARGE_INTEGER size{};
    if (GetFileInformationByHandle(file, &info) != 0 && (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) == 0 &&
        GetFileSizeEx(file, &size) != 0) {
      static const std::vector<char> zeros(1 << 16, 0);
      for (LONGLONG done = 0; done < size.QuadPart;) {
        const auto chunk = static_cast<DWORD>(std::min<LONGLONG>(static_cast<LONGLONG>(zeros.size()), size.QuadPart - done));
        DWORD written = 0;
        if (WriteFile(file, zeros.data(), chunk, &written, nullptr) == 0 || written == 0) break;
        done += written;
      }
      FlushFileBuffers(file);
    }
    CloseHandle(file);
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

// The lock file inherits the state folder's DACL (SYSTEM and Administrators; see the key store).
FileLock::FileLock(const std::filesystem::path& path) {
  HANDLE file = CreateFileW(path.c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                            nullptr, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (file != INVALID_HANDLE_VALUE) handle_ = reinterpret_cast<std::intptr_t>(file);
}

FileLock::~FileLock() { close(); }

bool FileLock::try_lock() {
  if (!is_open()) return false;
  OVERLAPPED at{};
  return LockFileEx(to_handle(handle_), LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &at) != 0;
}

bool FileLock::lock() {
  if (!is_open()) return false;
  OVERLAPPED at{};
  return LockFileEx(to_handle(handle_), LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &at) != 0;
}

void FileLock::close() {
  if (is_open()) CloseHandle(to_handle(handle_));  // closing the handle releases its lock
  handle_ = kClosed;
}

}  // namespace postured
