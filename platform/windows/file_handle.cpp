// Windows: HANDLEs. Names below an open folder are opened with NtCreateFile relative to the folder's
// handle (OBJECT_ATTRIBUTES.RootDirectory), the NT form of openat(), and with FILE_OPEN_REPARSE_POINT,
// so that a symbolic link or a junction is opened as itself and refused rather than followed. Renames
// and deletions go through a handle opened the same way (NtSetInformationFile), with POSIX semantics
// where the file system has them (Windows 10 1709 and later, NTFS), so that a file this process
// still has open can be replaced or removed as on Linux.
#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>
#include <aclapi.h>
#include <bcrypt.h>
#include <winternl.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "core/file_handle.hpp"
#include "file_security.hpp"
#include "utf16.hpp"

namespace postured {
namespace {

HANDLE handle_of(NativeFile file) {
  return reinterpret_cast<HANDLE>(file);
}

HANDLE handle_of(const FileHandle& file) {
  return handle_of(file.get());
}

// NtSetInformationFile classes and structures newer than MinGW-w64's winternl.h (ntifs.h, Windows 10).
constexpr auto kFileDispositionInformationEx = static_cast<FILE_INFORMATION_CLASS>(64);
constexpr auto kFileRenameInformationEx = static_cast<FILE_INFORMATION_CLASS>(65);
constexpr auto kFileRenameInformation = static_cast<FILE_INFORMATION_CLASS>(10);
constexpr auto kFileDispositionInformation = static_cast<FILE_INFORMATION_CLASS>(13);
constexpr ULONG kDispositionDelete = 0x1, kDispositionPosixSemantics = 0x2;
constexpr ULONG kRenameReplaceIfExists = 0x1, kRenamePosixSemantics = 0x2;
// Windows 10 1809 and later: the read-only attribute does not stop a delete or a replace, as mode
// bits do not stop unlink(2) or rename(2). Older builds refuse the flag; they are asked without it.
constexpr ULONG kDispositionIgnoreReadonly = 0x10, kRenameIgnoreReadonly = 0x40;
struct RenameInformationEx {
  ULONG flags;
  HANDLE root_directory;
  ULONG file_name_length;
  WCHAR file_name[1];
};
struct DispositionInformation {
  BOOLEAN delete_file;
};
// "The operation stopped at a symbolic link" (winerror.h of newer SDKs); our refusal of a reparse point.
constexpr DWORD kErrorStoppedOnSymlink = 681;

// Sets the thread's last error from an NTSTATUS, as the Win32 functions do; false.
bool fail_with(NTSTATUS status) {
  ::SetLastError(::RtlNtStatusToDosError(status));
  return false;
}

// True if NtSetInformationFile refused an information class rather than the request: an older
// Windows or a file system without POSIX semantics (FAT, exFAT, some network shares).
bool class_not_supported(NTSTATUS status) {
  constexpr NTSTATUS kInvalidInfoClass = static_cast<NTSTATUS>(0xC0000003L);
  constexpr NTSTATUS kInvalidParameter = static_cast<NTSTATUS>(0xC000000DL);
  constexpr NTSTATUS kNotSupported = static_cast<NTSTATUS>(0xC00000BBL);
  constexpr NTSTATUS kNotImplemented = static_cast<NTSTATUS>(0xC0000002L);
  return status == kInvalidInfoClass || status == kInvalidParameter || status == kNotSupported ||
         status == kNotImplemented;
}

// One component: no separators, no stream (":"), not "." or "..", which NtCreateFile would hand to
// the file system as they are. Anything else is ERROR_INVALID_NAME.
bool plain_name(const std::wstring& name) {
  return !name.empty() && name != L"." && name != L".." && name.find_first_of(L"\\/:") == std::wstring::npos;
}

// NtCreateFile of `name` relative to the folder `root`, never following a reparse point at the name.
FileHandle open_relative(const FileHandle& root, const std::string& name, ACCESS_MASK access, ULONG disposition,
                         ULONG options) {
  std::wstring wide = windows::to_utf16(name);
  if (!plain_name(wide)) {
    ::SetLastError(ERROR_INVALID_NAME);
    return {};
  }
  UNICODE_STRING text;
  text.Buffer = wide.data();
  text.Length = static_cast<USHORT>(wide.size() * sizeof(WCHAR));
  text.MaximumLength = text.Length;
  OBJECT_ATTRIBUTES attributes;
  InitializeObjectAttributes(&attributes, &text, OBJ_CASE_INSENSITIVE, handle_of(root), nullptr);
  IO_STATUS_BLOCK io{};
  HANDLE opened = nullptr;
  const NTSTATUS status =
      ::NtCreateFile(&opened, access | SYNCHRONIZE, &attributes, &io, nullptr, FILE_ATTRIBUTE_NORMAL,
                     FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, disposition,
                     options | FILE_SYNCHRONOUS_IO_NONALERT | FILE_OPEN_REPARSE_POINT, nullptr, 0);
  if (status < 0) {
    fail_with(status);
    return {};
  }
  return FileHandle(reinterpret_cast<NativeFile>(opened));
}

// `file` unless it is a reparse point (a symbolic link, a junction, a cloud placeholder), which is
// closed and refused with kErrorStoppedOnSymlink: it was opened as itself, not as what it points at.
FileHandle refuse_reparse_point(FileHandle file) {
  if (!file) return file;
  BY_HANDLE_FILE_INFORMATION info{};
  if (!::GetFileInformationByHandle(handle_of(file), &info)) return {};
  if ((info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0) {
    file.reset();
    ::SetLastError(kErrorStoppedOnSymlink);
    return {};
  }
  return file;
}

// Marks the open `file` for deletion: with POSIX semantics its name goes now, even while other
// handles (ours, the scanner's) are open; classic semantics (older Windows, FAT) when the file system
// has no POSIX semantics, and the file goes when its last handle closes.
NTSTATUS delete_by_handle(HANDLE file) {
  IO_STATUS_BLOCK io{};
  NTSTATUS status = 0;
  for (ULONG flags : {kDispositionDelete | kDispositionPosixSemantics | kDispositionIgnoreReadonly,
                      kDispositionDelete | kDispositionPosixSemantics}) {
    status = ::NtSetInformationFile(file, &io, &flags, sizeof flags, kFileDispositionInformationEx);
    if (!class_not_supported(status)) return status;
  }
  DispositionInformation classic{TRUE};
  return ::NtSetInformationFile(file, &io, &classic, sizeof classic, kFileDispositionInformation);
}

// Gives the open `file` the name `target` (one plain component) in the folder `dir`: the new name is
// relative to the folder handle, so the rename cannot land anywhere else. POSIX semantics where the
// file system has them (an open file at `target` can then be replaced), else the classic class.
NTSTATUS rename_by_handle(HANDLE file, const FileHandle& dir, const std::wstring& target, bool replace) {
  const auto name_bytes = static_cast<ULONG>(target.size() * sizeof(WCHAR));
  // Never shorter than the structure itself: NTFS (and Wine) refuse a buffer below its size, which
  // a one- or two-character name would otherwise give.
  std::vector<std::byte> buffer(
      std::max(sizeof(RenameInformationEx), offsetof(RenameInformationEx, file_name) + name_bytes));
  auto* info = reinterpret_cast<RenameInformationEx*>(buffer.data());
  info->root_directory = handle_of(dir);
  info->file_name_length = name_bytes;
  std::copy(target.begin(), target.end(), info->file_name);
  IO_STATUS_BLOCK io{};
  const ULONG base = (replace ? kRenameReplaceIfExists : 0) | kRenamePosixSemantics;
  NTSTATUS status = 0;
  for (ULONG flags : {base | kRenameIgnoreReadonly, base}) {
    info->flags = flags;
    status = ::NtSetInformationFile(file, &io, info, static_cast<ULONG>(buffer.size()), kFileRenameInformationEx);
    if (!class_not_supported(status)) return status;
  }
  // FILE_RENAME_INFORMATION: a BOOLEAN where the Ex form has its flags, the rest laid out alike.
  std::vector<std::byte> classic(
      std::max(sizeof(FILE_RENAME_INFORMATION), offsetof(FILE_RENAME_INFORMATION, FileName) + name_bytes));
  auto* old = reinterpret_cast<FILE_RENAME_INFORMATION*>(classic.data());
  old->ReplaceIfExists = replace ? TRUE : FALSE;
  old->RootDirectory = handle_of(dir);
  old->FileNameLength = name_bytes;
  std::copy(target.begin(), target.end(), old->FileName);
  return ::NtSetInformationFile(file, &io, old, static_cast<ULONG>(classic.size()), kFileRenameInformation);
}

// Win32 error codes, with the common ones equivalent to their std::errc.
class Win32Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "win32"; }
  std::string message(int code) const override { return windows::error_text(static_cast<DWORD>(code)); }
  std::error_condition default_error_condition(int code) const noexcept override {
    switch (static_cast<DWORD>(code)) {
      case ERROR_FILE_NOT_FOUND:
      case ERROR_PATH_NOT_FOUND:
        return std::errc::no_such_file_or_directory;
      case ERROR_FILE_EXISTS:
      case ERROR_ALREADY_EXISTS:
        return std::errc::file_exists;
      case ERROR_ACCESS_DENIED:
        return std::errc::permission_denied;
      case ERROR_PRIVILEGE_NOT_HELD:
      case ERROR_INVALID_OWNER:
        return std::errc::operation_not_permitted;
      case kErrorStoppedOnSymlink:
      case ERROR_CANT_ACCESS_FILE:
        return std::errc::too_many_symbolic_link_levels;
      case ERROR_DIRECTORY:
        return std::errc::not_a_directory;
      case ERROR_SHARING_VIOLATION:
      case ERROR_LOCK_VIOLATION:
        return std::errc::device_or_resource_busy;
      case ERROR_DISK_FULL:
      case ERROR_HANDLE_DISK_FULL:
        return std::errc::no_space_on_device;
      default:
        return {code, *this};
    }
  }
};

const std::error_category& win32_category() {
  static const Win32Category category;
  return category;
}

// 100 ns intervals between 1601-01-01 (FILETIME) and 1970-01-01 (the Unix epoch).
constexpr std::int64_t kFiletimeUnixOffset = 116444736000000000LL;

void describe(const BY_HANDLE_FILE_INFORMATION& in, FileInfo& info) {
  const bool reparse = (in.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0;
  info.folder = !reparse && (in.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
  info.regular = !reparse && (in.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_DEVICE)) == 0;
  info.device = in.dwVolumeSerialNumber;
  info.id = (std::uint64_t{in.nFileIndexHigh} << 32) | in.nFileIndexLow;
  info.size = (std::uint64_t{in.nFileSizeHigh} << 32) | in.nFileSizeLow;
  const auto ticks = static_cast<std::int64_t>((std::uint64_t{in.ftLastWriteTime.dwHighDateTime} << 32) |
                                               in.ftLastWriteTime.dwLowDateTime);
  // 100 ns ticks since 1601: seconds floored (a time before 1970 is negative), the rest in ns.
  constexpr std::int64_t kTicksPerSecond = 10'000'000;
  const std::int64_t since_unix = ticks - kFiletimeUnixOffset;
  std::int64_t seconds = since_unix / kTicksPerSecond;
  std::int64_t rest = since_unix % kTicksPerSecond;
  if (rest < 0) {
    --seconds;
    rest += kTicksPerSecond;
  }
  info.mtime_sec = seconds;
  info.mtime_nsec = static_cast<std::uint32_t>(rest * 100);
  info.links = in.nNumberOfLinks;
  info.uid = info.gid = info.mode = 0;
}

// Sets the owner-only DACL (SYSTEM, Administrators, this account; protected) on an open file.
bool make_owner_only(HANDLE file) {
  std::string why;
  auto descriptor = windows::SecurityDescriptor::from_sddl(windows::owner_only_sddl(), &why);
  if (!descriptor) return false;
  BOOL present = FALSE, defaulted = FALSE;
  PACL dacl = nullptr;
  if (!::GetSecurityDescriptorDacl(descriptor->get(), &present, &dacl, &defaulted)) return false;
  const DWORD set = ::SetSecurityInfo(file, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                                      nullptr, nullptr, dacl, nullptr);
  if (set != ERROR_SUCCESS) ::SetLastError(set);
  return set == ERROR_SUCCESS;
}

}  // namespace

void FileHandle::reset(NativeFile native) {
  if (native_ != kNoFile) {
    const DWORD saved = ::GetLastError();
    ::CloseHandle(handle_of(native_));
    ::SetLastError(saved);
  }
  native_ = native;
}

std::error_code last_file_error() {
  return {static_cast<int>(::GetLastError()), win32_category()};
}

FileHandle open_folder(const std::filesystem::path& path) {
  // BACKUP_SEMANTICS opens a folder; a configured path may be a link, so it is followed here.
  FileHandle folder(reinterpret_cast<NativeFile>(
      ::CreateFileW(path.c_str(), FILE_LIST_DIRECTORY | FILE_TRAVERSE | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                    FILE_FLAG_BACKUP_SEMANTICS, nullptr)));
  if (!folder) return folder;
  BY_HANDLE_FILE_INFORMATION info{};
  if (!::GetFileInformationByHandle(handle_of(folder), &info)) return {};
  if ((info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) == 0) {
    folder.reset();
    ::SetLastError(ERROR_DIRECTORY);
    return {};
  }
  return folder;
}

FileHandle open_folder_at(const FileHandle& dir, const std::string& name) {
  // STATUS_NOT_A_DIRECTORY becomes ERROR_DIRECTORY for anything but a folder.
  return refuse_reparse_point(open_relative(dir, name, FILE_LIST_DIRECTORY | FILE_TRAVERSE | FILE_READ_ATTRIBUTES,
                                            FILE_OPEN, FILE_DIRECTORY_FILE));
}

FileHandle open_file_at(const FileHandle& dir, const std::string& name) {
  // FILE_GENERIC_READ includes READ_CONTROL, which copy_owner_and_access needs on the original.
  return refuse_reparse_point(
      open_relative(dir, name, FILE_GENERIC_READ, FILE_OPEN, FILE_NON_DIRECTORY_FILE | FILE_SEQUENTIAL_ONLY));
}

FileHandle open_file(const std::filesystem::path& path) {
  return refuse_reparse_point(FileHandle(reinterpret_cast<NativeFile>(
      ::CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                    OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_SEQUENTIAL_SCAN, nullptr))));
}

FileHandle create_file_at(const FileHandle& dir, const std::string& name) {
  // WRITE_DAC and WRITE_OWNER for copy_owner_and_access; an account that may not take WRITE_OWNER
  // still gets the file (its owner is then its creator).
  constexpr ACCESS_MASK kAccess = FILE_GENERIC_READ | FILE_GENERIC_WRITE | WRITE_DAC;
  FileHandle file = open_relative(dir, name, kAccess | WRITE_OWNER, FILE_CREATE, FILE_NON_DIRECTORY_FILE);
  if (!file && ::GetLastError() == ERROR_ACCESS_DENIED)
    file = open_relative(dir, name, kAccess, FILE_CREATE, FILE_NON_DIRECTORY_FILE);
  return file;
}

FileHandle open_for_append(const std::filesystem::path& path) {
  std::string why;
  auto descriptor = windows::SecurityDescriptor::from_sddl(windows::owner_only_sddl(), &why);
  if (!descriptor) return {};
  // FILE_APPEND_DATA without FILE_WRITE_DATA: every write goes to the end, as with O_APPEND.
  FileHandle file(reinterpret_cast<NativeFile>(::CreateFileW(
      path.c_str(), FILE_APPEND_DATA | FILE_READ_ATTRIBUTES | READ_CONTROL | WRITE_DAC | SYNCHRONIZE,
      FILE_SHARE_READ | FILE_SHARE_WRITE,  // another appender (posturectl next to the daemon), as with O_APPEND
      descriptor->attributes(), OPEN_ALWAYS, FILE_FLAG_OPEN_REPARSE_POINT, nullptr)));
  if (!file) return file;
  const bool existed = ::GetLastError() == ERROR_ALREADY_EXISTS;
  file = refuse_reparse_point(std::move(file));
  if (file && existed && !make_owner_only(handle_of(file))) file.reset();
  return file;
}

bool file_info(NativeFile file, FileInfo& info) {
  BY_HANDLE_FILE_INFORMATION in{};
  if (!::GetFileInformationByHandle(handle_of(file), &in)) return false;
  describe(in, info);
  return true;
}

bool file_info_at(const FileHandle& dir, const std::string& name, FileInfo& info) {
  const FileHandle file = open_relative(dir, name, FILE_READ_ATTRIBUTES, FILE_OPEN, 0);
  return file && file_info(file.get(), info);
}

bool remove_at(const FileHandle& dir, const std::string& name) {
  FileHandle file = open_relative(dir, name, DELETE | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES, FILE_OPEN,
                                  FILE_NON_DIRECTORY_FILE);
  if (!file) file = open_relative(dir, name, DELETE | FILE_READ_ATTRIBUTES, FILE_OPEN, FILE_NON_DIRECTORY_FILE);
  if (!file) return false;
  const NTSTATUS status = delete_by_handle(handle_of(file));
  if (status >= 0) return true;
  // The read-only attribute, where the delete cannot be told to ignore it (before 1809, Wine):
  // cleared, as unlink(2) ignores mode bits, and put back if the file still cannot go.
  FILE_BASIC_INFO basic{};
  if (!::GetFileInformationByHandleEx(handle_of(file), FileBasicInfo, &basic, sizeof basic) ||
      (basic.FileAttributes & FILE_ATTRIBUTE_READONLY) == 0)
    return fail_with(status);
  FILE_BASIC_INFO writable = basic;
  writable.FileAttributes &= ~static_cast<DWORD>(FILE_ATTRIBUTE_READONLY);
  if (writable.FileAttributes == 0) writable.FileAttributes = FILE_ATTRIBUTE_NORMAL;
  writable.CreationTime.QuadPart = writable.LastAccessTime.QuadPart = 0;  // 0: left as they are
  writable.LastWriteTime.QuadPart = writable.ChangeTime.QuadPart = 0;
  if (!::SetFileInformationByHandle(handle_of(file), FileBasicInfo, &writable, sizeof writable))
    return fail_with(status);
  const NTSTATUS again = delete_by_handle(handle_of(file));
  if (again >= 0) return true;
  basic.CreationTime.QuadPart = basic.LastAccessTime.QuadPart = basic.LastWriteTime.QuadPart = 0;
  basic.ChangeTime.QuadPart = 0;
  ::SetFileInformationByHandle(handle_of(file), FileBasicInfo, &basic, sizeof basic);
  return fail_with(again);
}

bool rename_at(const FileHandle& dir, const std::string& from, const std::string& to, bool replace) {
  const std::wstring target = windows::to_utf16(to);
  if (!plain_name(target)) {
    ::SetLastError(ERROR_INVALID_NAME);
    return false;
  }
  const FileHandle file = open_relative(dir, from, DELETE | FILE_READ_ATTRIBUTES, FILE_OPEN, 0);
  if (!file) return false;
  const NTSTATUS status = rename_by_handle(handle_of(file), dir, target, replace);
  return status >= 0 || fail_with(status);
}

bool flush(const FileHandle& file) {
  // A folder cannot be flushed through a handle opened for listing. NTFS logs a rename or a deletion
  // and writes its log out by itself within seconds; the data was flushed before the rename, so a
  // crash in between leaves the old name or the new one, never a torn file.
  BY_HANDLE_FILE_INFORMATION info{};
  if (::GetFileInformationByHandle(handle_of(file), &info) && (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0)
    return true;
  return ::FlushFileBuffers(handle_of(file)) != 0;
}

std::ptrdiff_t read_some(NativeFile file, char* out, std::size_t size) {
  DWORD n = 0;
  const DWORD want = static_cast<DWORD>(std::min<std::size_t>(size, 1U << 30));
  if (!::ReadFile(handle_of(file), out, want, &n, nullptr)) return ::GetLastError() == ERROR_HANDLE_EOF ? 0 : -1;
  return static_cast<std::ptrdiff_t>(n);
}

std::ptrdiff_t read_at(NativeFile file, char* out, std::size_t size, std::uint64_t offset) {
  OVERLAPPED at{};
  at.Offset = static_cast<DWORD>(offset);
  at.OffsetHigh = static_cast<DWORD>(offset >> 32);
  DWORD n = 0;
  const DWORD want = static_cast<DWORD>(std::min<std::size_t>(size, 1U << 30));
  if (!::ReadFile(handle_of(file), out, want, &n, &at)) return ::GetLastError() == ERROR_HANDLE_EOF ? 0 : -1;
  return static_cast<std::ptrdiff_t>(n);
}

bool rewind(NativeFile file) {
  LARGE_INTEGER zero{};
  return ::SetFilePointerEx(handle_of(file), zero, nullptr, FILE_BEGIN) != 0;
}

bool write_all(NativeFile file, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    DWORD n = 0;
    const DWORD want = static_cast<DWORD>(std::min<std::size_t>(size, 1U << 30));
    if (!::WriteFile(handle_of(file), p, want, &n, nullptr)) return false;
    if (n == 0) {
      ::SetLastError(ERROR_WRITE_FAULT);
      return false;
    }
    p += n;
    size -= n;
  }
  return true;
}

bool copy_owner_and_access(const FileHandle& original, const FileInfo& /*info*/, const FileHandle& copy) {
  PSID owner = nullptr;
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  const DWORD read = ::GetSecurityInfo(handle_of(original), SE_FILE_OBJECT,
                                       OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner, nullptr, &dacl,
                                       nullptr, &descriptor);
  if (read != ERROR_SUCCESS) {
    ::SetLastError(read);
    return false;
  }
  SECURITY_DESCRIPTOR_CONTROL control = 0;
  DWORD revision = 0;
  ::GetSecurityDescriptorControl(descriptor, &control, &revision);
  // A protected DACL (nothing inherited) stays protected on the copy; an inheriting one inherits.
  const SECURITY_INFORMATION dacl_kind =
      DACL_SECURITY_INFORMATION |
      ((control & SE_DACL_PROTECTED) != 0 ? PROTECTED_DACL_SECURITY_INFORMATION : UNPROTECTED_DACL_SECURITY_INFORMATION);
  const DWORD written = ::SetSecurityInfo(handle_of(copy), SE_FILE_OBJECT, dacl_kind, nullptr, nullptr, dacl, nullptr);
  // The owner only when this account may give files away (LocalSystem may); best effort otherwise.
  if (written == ERROR_SUCCESS)
    ::SetSecurityInfo(handle_of(copy), SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, owner, nullptr, nullptr, nullptr);
  ::LocalFree(descriptor);
  if (written != ERROR_SUCCESS) {
    ::SetLastError(written);
    return false;
  }
  return true;
}

bool set_owner(const FileHandle& /*file*/, std::uint32_t /*uid*/, std::uint32_t /*gid*/) {
  return true;  // no uid or gid on Windows; the file has its folder's DACL (see the header)
}

bool set_mode(const FileHandle& /*file*/, std::uint32_t /*mode*/) {
  return true;  // no permission bits on Windows; the file has its folder's DACL (see the header)
}

std::string make_private_folder(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  std::string why;
  auto descriptor = windows::SecurityDescriptor::from_sddl(windows::owner_only_sddl(), &why);
  if (!descriptor) return "cannot build the folder's access list: " + why;
  if (!::CreateDirectoryW(path.c_str(), descriptor->attributes()) && ::GetLastError() != ERROR_ALREADY_EXISTS)
    return "cannot create " + path.string() + ": " + windows::last_error_text();
  const DWORD attributes = ::GetFileAttributesW(path.c_str());
  if (attributes == INVALID_FILE_ATTRIBUTES) return "cannot inspect " + path.string() + ": " + windows::last_error_text();
  if ((attributes & FILE_ATTRIBUTE_DIRECTORY) == 0 || (attributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0)
    return path.string() + " must be a folder, not a file or a link";
  // Like the key folder: a folder others can write to could have its files swapped or removed.
  if (auto open = windows::check_only_system_and_administrators(path); !open.empty())
    return path.string() + " must be private to SYSTEM and Administrators: " + open;
  return {};
}

bool random_bytes(void* out, std::size_t size) {
  auto* p = static_cast<unsigned char*>(out);
  while (size > 0) {
    const ULONG n = static_cast<ULONG>(std::min<std::size_t>(size, 1U << 30));
    if (::BCryptGenRandom(nullptr, p, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) < 0) {
      ::SetLastError(ERROR_GEN_FAILURE);
      return false;
    }
    p += n;
    size -= n;
  }
  return true;
}

}  // namespace postured
