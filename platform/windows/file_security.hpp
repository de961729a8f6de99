// Access control lists for what the agent keeps secret on Windows: the master key file and its
// folder, owner-only state files, and the key release pipe. Windows has no mode bits; a DACL says who
// may open an object, and one that is not PROTECTED also takes whatever its folder hands down
// (ProgramData hands read access to all Users).
#pragma once

#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace postured::windows {

// The SDDL strings, stated once. "P" = protected: nothing inherited from the folder.
namespace sddl {
// LocalSystem (SY) and BUILTIN\Administrators (BA): full control, no one else. The master key.
inline constexpr std::wstring_view kSystemAndAdministrators = L"D:P(A;;FA;;;SY)(A;;FA;;;BA)";
// What a connecting peer needs on the pipe: read and write data, read attributes and the DACL,
// synchronize (FILE_GENERIC_READ | FILE_WRITE_DATA). Not FILE_APPEND_DATA, which on a pipe is
// FILE_CREATE_PIPE_INSTANCE: a peer must not be able to put its own server instance under our name.
inline constexpr std::wstring_view kPipeClientRights = L"0x0012008b";
}  // namespace sddl

// A self-relative security descriptor built from SDDL; frees itself.
class SecurityDescriptor {
 public:
  // nullopt (and `why`) when the SDDL does not parse or names an unknown account.
  static std::optional<SecurityDescriptor> from_sddl(std::wstring_view sddl, std::string* why);
  ~SecurityDescriptor();
  SecurityDescriptor(SecurityDescriptor&& other) noexcept;
  SecurityDescriptor& operator=(SecurityDescriptor&&) = delete;
  SecurityDescriptor(const SecurityDescriptor&) = delete;
  SecurityDescriptor& operator=(const SecurityDescriptor&) = delete;

  PSECURITY_DESCRIPTOR get() const { return descriptor_; }
  // For CreateFileW / CreateDirectoryW / CreateNamedPipeW; valid while this object lives.
  SECURITY_ATTRIBUTES* attributes() { return &attributes_; }

 private:
  explicit SecurityDescriptor(PSECURITY_DESCRIPTOR descriptor);
  PSECURITY_DESCRIPTOR descriptor_ = nullptr;
  SECURITY_ATTRIBUTES attributes_{};
};

// The SID of the user this process runs as, e.g. "S-1-5-18" for LocalSystem; empty if unreadable.
std::wstring current_user_sid();

// SYSTEM, Administrators and the running process's own user, full control, protected: what a file
// that is "owner-only" (0600) on Linux gets on Windows.
std::wstring owner_only_sddl();

// "S-1-5-32-545 (BUILTIN\Users)": a SID with its account name when Windows can look it up.
std::string describe_sid(PSID sid);

// Empty when the DACL of `path` (file or folder) lets no one in but SYSTEM, Administrators and the
// account this process runs as (LocalSystem for the service, so the same two; like Linux's "owned by
// the agent's uid"); otherwise why not, naming the first other account it lets in. A missing (NULL)
// DACL lets everyone in.
std::string check_only_system_and_administrators(const std::filesystem::path& path);

// Replaces `path` with `content` like postured::write_file_atomically (temporary file in the same
// folder, flushed, then MoveFileEx with REPLACE_EXISTING | WRITE_THROUGH), the new file created with
// `security` from its first byte (nullptr: what the folder hands down).
std::error_code write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                      SECURITY_ATTRIBUTES* security);

}  // namespace postured::windows
