#include "file_security.hpp"

#include <aclapi.h>
#include <sddl.h>

#include <vector>

#include "utf16.hpp"

namespace postured::windows {

SecurityDescriptor::SecurityDescriptor(PSECURITY_DESCRIPTOR descriptor) : descriptor_(descriptor) {
  attributes_.nLength = sizeof attributes_;
  attributes_.lpSecurityDescriptor = descriptor_;
  attributes_.bInheritHandle = FALSE;
}

SecurityDescriptor::SecurityDescriptor(SecurityDescriptor&& other) noexcept : SecurityDescriptor(other.descriptor_) {
  other.descriptor_ = nullptr;
  other.attributes_.lpSecurityDescriptor = nullptr;
}

SecurityDescriptor::~SecurityDescriptor() {
  if (descriptor_) ::LocalFree(descriptor_);
}

std::optional<SecurityDescriptor> SecurityDescriptor::from_sddl(std::wstring_view sddl, std::string* why) {
  const std::wstring text(sddl);
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(text.c_str(), SDDL_REVISION_1, &descriptor, nullptr)) {
    if (why) *why = "cannot build the access control list " + to_utf8(text) + ": " + last_error_text();
    return std::nullopt;
  }
  return SecurityDescriptor(descriptor);
}

std::wstring current_user_sid() {
  HANDLE raw_token = nullptr;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &raw_token)) return {};
  OwnedHandle token(raw_token);
  DWORD size = 0;
  ::GetTokenInformation(token.get(), TokenUser, nullptr, 0, &size);
  std::vector<unsigned char> buffer(size);
  if (size == 0 || !::GetTokenInformation(token.get(), TokenUser, buffer.data(), size, &size)) return {};
  wchar_t* text = nullptr;
  if (!::ConvertSidToStringSidW(reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid, &text)) return {};
  std::wstring sid(text);
  ::LocalFree(text);
  return sid;
}

std::wstring owner_only_sddl() {
  std::wstring text(sddl::kSystemAndAdministrators);
  const auto self = current_user_sid();
  // LocalSystem is already there as SY; an unreadable token leaves SYSTEM and Administrators only.
  if (!self.empty() && self != L"S-1-5-18") text += L"(A;;FA;;;" + self + L")";
  return text;
}

std::string describe_sid(PSID sid) {
  std::string text = "(unreadable SID)";
  wchar_t* sid_string = nullptr;
  if (::ConvertSidToStringSidW(sid, &sid_string)) {
    text = to_utf8(sid_string);
    ::LocalFree(sid_string);
  }
  wchar_t name[256];
  wchar_t domain[256];
  DWORD name_size = 256;
  DWORD domain_size = 256;
  SID_NAME_USE use{};
  if (::LookupAccountSidW(nullptr, sid, name, &name_size, domain, &domain_size, &use)) {
    text += " (";
    if (domain_size > 0) text += to_utf8(domain) + "\\";
    text += to_utf8(name) + ")";
  }
  return text;
}

namespace {

bool is_well_known(PSID sid, WELL_KNOWN_SID_TYPE type) {
  return ::IsWellKnownSid(sid, type) != FALSE;
}

std::wstring sid_string(PSID sid) {
  wchar_t* text = nullptr;
  if (!::ConvertSidToStringSidW(sid, &text)) return {};
  std::wstring result(text);
  ::LocalFree(text);
  return result;
}

}  // namespace

std::string check_only_system_and_administrators(const std::filesystem::path& path) {
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  const DWORD status = ::GetNamedSecurityInfoW(path.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr,
                                               nullptr, &dacl, nullptr, &descriptor);
  if (status != ERROR_SUCCESS)
    return "cannot read the access control list of " + path.string() + ": " + error_text(status);
  const auto self = current_user_sid();
  std::string why;
  if (dacl == nullptr) {
    why = path.string() + " has no access control list, so everyone may open it";
  } else {
    for (DWORD i = 0; i < dacl->AceCount && why.empty(); ++i) {
      void* entry = nullptr;
      if (!::GetAce(dacl, i, &entry)) {
        why = "cannot read entry " + std::to_string(i) + " of the access control list of " + path.string();
        break;
      }
      const auto* header = static_cast<ACE_HEADER*>(entry);
      // Deny entries only take access away; an entry that only applies to children (INHERIT_ONLY)
      // grants nothing on the object itself, but a file or folder below would get it, so it counts.
      if (header->AceType == ACCESS_DENIED_ACE_TYPE) continue;
      if (header->AceType != ACCESS_ALLOWED_ACE_TYPE) {
        why = path.string() + " has an access control entry of type " + std::to_string(header->AceType) +
              " that postured does not judge; only SYSTEM and Administrators may have access";
        break;
      }
      auto* allowed = static_cast<ACCESS_ALLOWED_ACE*>(entry);
      PSID sid = &allowed->SidStart;
      if (allowed->Mask == 0) continue;
      if (is_well_known(sid, WinLocalSystemSid) || is_well_known(sid, WinBuiltinAdministratorsSid)) continue;
      if (!self.empty() && sid_string(sid) == self) continue;
      why = path.string() + " grants access to " + describe_sid(sid) +
            "; only SYSTEM and Administrators may have access (not repaired: the key may have been read)";
    }
  }
  ::LocalFree(descriptor);
  return why;
}

}  // namespace postured::windows
