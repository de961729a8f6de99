// The local account policy, which Windows keeps in the SAM database rather than in readable registry
// values: NetUserModalsGet (level 0: passwords, level 3: lockout) and NetUserEnum (level 20: each
// local account's RID and flags) give what `secedit /export` writes under [System Access], in
// secedit's units (days, minutes, -1 for "never").
#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <lm.h>

#include <string>

#include "registry.hpp"
#include "utf16.hpp"

namespace postured::windows {
namespace {

// Well-known relative ids of the built-in local accounts, whatever they were renamed to.
constexpr DWORD kAdministratorRid = 500;
constexpr DWORD kGuestRid = 501;

// Frees a buffer that a Net* function allocated.
class NetBuffer {
 public:
  NetBuffer() = default;
  ~NetBuffer() {
    if (buffer_) ::NetApiBufferFree(buffer_);
  }
  NetBuffer(const NetBuffer&) = delete;
  NetBuffer& operator=(const NetBuffer&) = delete;
  LPBYTE* out() { return &buffer_; }
  template <typename T>
  const T* as() const {
    return reinterpret_cast<const T*>(buffer_);
  }

 private:
  LPBYTE buffer_ = nullptr;
};

// The NERR_* codes live in netmsg.dll, not in the system's message table: name the ones these calls return.
std::string net_error(const char* call, NET_API_STATUS status) {
  switch (status) {
    case NERR_InternalError:
      return std::string(call) +
             " failed: NERR_InternalError (2140; Wine's netapi32 answers this for a SAM it does not have)";
    case NERR_UserNotFound: return std::string(call) + " failed: NERR_UserNotFound (2221)";
    case NERR_InvalidComputer: return std::string(call) + " failed: NERR_InvalidComputer (2351)";
    default: return std::string(call) + " failed: " + error_text(status);
  }
}

// Seconds as Net* report them → secedit's unit; TIMEQ_FOREVER → -1.
long long in_units(DWORD seconds, long long unit) {
  return seconds == TIMEQ_FOREVER ? -1 : static_cast<long long>(seconds) / unit;
}

AccountPolicyRead account_enabled(DWORD rid) {
  AccountPolicyRead read;
  DWORD resume = 0;
  for (;;) {
    NetBuffer buffer;
    DWORD entries = 0, total = 0;
    const auto status = ::NetUserEnum(nullptr, 20, FILTER_NORMAL_ACCOUNT, buffer.out(), MAX_PREFERRED_LENGTH, &entries,
                                      &total, &resume);
    if (status != NERR_Success && status != ERROR_MORE_DATA) {
      read.error = net_error("NetUserEnum", status);
      return read;
    }
    const auto* users = buffer.as<USER_INFO_20>();
    for (DWORD i = 0; users && i < entries; ++i) {
      if (users[i].usri20_user_id == rid) {
        read.value = (users[i].usri20_flags & UF_ACCOUNTDISABLE) ? 0 : 1;
        return read;
      }
    }
    if (status != ERROR_MORE_DATA) break;
  }
  read.error = "no local account with RID " + std::to_string(rid);
  return read;
}

class LiveAccountPolicy final : public AccountPolicyView {
 public:
  AccountPolicyRead read(std::string_view setting) const override {
    AccountPolicyRead read;
    if (setting == "EnableGuestAccount") return account_enabled(kGuestRid);
    if (setting == "EnableAdminAccount") return account_enabled(kAdministratorRid);
    const bool passwords = setting == "MinimumPasswordLength" || setting == "PasswordHistorySize" ||
                           setting == "MaximumPasswordAge" || setting == "MinimumPasswordAge";
    const bool lockout = setting == "LockoutBadCount" || setting == "LockoutDuration" || setting == "ResetLockoutCount";
    if (!passwords && !lockout) {
      read.error = "unknown account policy setting";
      return read;
    }
    NetBuffer buffer;
    const auto status = ::NetUserModalsGet(nullptr, passwords ? 0 : 3, buffer.out());
    if (status != NERR_Success) {
      read.error = net_error("NetUserModalsGet", status);
      return read;
    }
    if (passwords) {
      const auto& info = *buffer.as<USER_MODALS_INFO_0>();
      if (setting == "MinimumPasswordLength") read.value = info.usrmod0_min_passwd_len;
      if (setting == "PasswordHistorySize") read.value = info.usrmod0_password_hist_len;
      if (setting == "MaximumPasswordAge") read.value = in_units(info.usrmod0_max_passwd_age, 86400);
      if (setting == "MinimumPasswordAge") read.value = in_units(info.usrmod0_min_passwd_age, 86400);
    } else {
      const auto& info = *buffer.as<USER_MODALS_INFO_3>();
      if (setting == "LockoutBadCount") read.value = info.usrmod3_lockout_threshold;
      if (setting == "LockoutDuration") read.value = in_units(info.usrmod3_lockout_duration, 60);
      if (setting == "ResetLockoutCount") read.value = in_units(info.usrmod3_lockout_observation_window, 60);
    }
    return read;
  }
};

}  // namespace

const AccountPolicyView& live_account_policy() {
  static const LiveAccountPolicy policy;
  return policy;
}

}  // namespace postured::windows
