// Windows: a temporary file beside the target, FlushFileBuffers, then MoveFileExW with
// MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH, which returns only once the rename is on disk.
#include "core/atomic_file.hpp"

#include <algorithm>
#include <random>

#include "file_security.hpp"
#include "utf16.hpp"

namespace postured {

namespace windows {

std::error_code write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                      SECURITY_ATTRIBUTES* security) {
  const auto last_error = [] { return std::error_code(static_cast<int>(::GetLastError()), std::system_category()); };
  std::random_device random;
  auto temp = path;
  temp += L".tmp." + std::to_wstring(random());
  // CREATE_NEW: never write through a file or link that someone else put at the temporary name.
  OwnedHandle file(::CreateFileW(temp.c_str(), GENERIC_WRITE, 0, security, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!file.valid()) return last_error();
  const auto fail = [&] {
    const auto ec = last_error();
    file.reset();
    ::DeleteFileW(temp.c_str());
    return ec;
  };
  while (!content.empty()) {
    // WriteFile takes a DWORD; write large contents in slices.
    const DWORD slice = static_cast<DWORD>(std::min<std::size_t>(content.size(), 1u << 30));
    DWORD written = 0;
    if (!::WriteFile(file.get(), content.data(), slice, &written, nullptr)) return fail();
    content.remove_prefix(written);
  }
  if (!::FlushFileBuffers(file.get())) return fail();
  file.reset();
  if (!::MoveFileExW(temp.c_str(), path.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    const auto ec = last_error();
    ::DeleteFileW(temp.c_str());
    return ec;
  }
  return {};
}

}  // namespace windows

std::error_code write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                      std::filesystem::perms mode) {
  using std::filesystem::perms;
  // Windows has no mode bits. A file meant for its owner alone (0600, 0400) gets a protected DACL of
  // SYSTEM, Administrators and this process's user; anything wider takes the folder's ACL.
  if ((mode & (perms::group_all | perms::others_all)) != perms::none) {
    return windows::write_file_atomically(path, content, nullptr);
  }
  std::string why;
  auto security = windows::SecurityDescriptor::from_sddl(windows::owner_only_sddl(), &why);
  if (!security) return std::make_error_code(std::errc::permission_denied);
  return windows::write_file_atomically(path, content, security->attributes());
}

}  // namespace postured
