// A registry prepared by a test in the real Windows registry (under Wine: the prefix's), below a
// private key HKLM\SOFTWARE\postured-tests\<pid>-<n> that is deleted afterwards. It is also a
// RegistryView: a read of "HKLM\SYSTEM\X" reads HKLM\SOFTWARE\postured-tests\<pid>-<n>\HKLM\SYSTEM\X
// through the live registry reader, so the code under test runs its real Win32 calls without the
// test changing the machine's own firewall, USB or account settings.
#pragma once

#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/registry_view.hpp"
#include "registry.hpp"
#include "utf16.hpp"

namespace postured::test {

class PreparedRegistry final : public RegistryView {
 public:
  PreparedRegistry() {
    static std::atomic<int> counter{0};
    base_ = "SOFTWARE\\postured-tests\\" + std::to_string(::GetCurrentProcessId()) + "-" + std::to_string(++counter);
  }
  ~PreparedRegistry() override {
    for (const auto bits : {RegistryBits::native64, RegistryBits::wow32}) {
      HKEY parent = nullptr;
      if (::RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\postured-tests", 0, KEY_ALL_ACCESS | flag(bits), &parent) ==
          ERROR_SUCCESS) {
        const auto leaf = windows::to_utf16(base_.substr(base_.rfind('\\') + 1));
        ::RegDeleteTreeW(parent, leaf.c_str());
        ::RegCloseKey(parent);
      }
    }
  }
  PreparedRegistry(const PreparedRegistry&) = delete;
  PreparedRegistry& operator=(const PreparedRegistry&) = delete;

  // Where `key` ("HKLM\\...") really is: below this test's private key.
  std::string physical(std::string_view key) const { return "HKLM\\" + base_ + "\\" + std::string(key); }

  PreparedRegistry& dword(std::string_view key, std::string_view name, DWORD value,
                          RegistryBits bits = RegistryBits::native64) {
    return set(key, name, REG_DWORD, &value, sizeof value, bits);
  }
  PreparedRegistry& qword(std::string_view key, std::string_view name, unsigned long long value,
                          RegistryBits bits = RegistryBits::native64) {
    return set(key, name, REG_QWORD, &value, sizeof value, bits);
  }
  PreparedRegistry& string(std::string_view key, std::string_view name, std::string_view text,
                           RegistryBits bits = RegistryBits::native64, DWORD type = REG_SZ) {
    const auto wide = windows::to_utf16(text);
    return set(key, name, type, wide.c_str(), static_cast<DWORD>((wide.size() + 1) * sizeof(wchar_t)), bits);
  }
  PreparedRegistry& multi_string(std::string_view key, std::string_view name, const std::vector<std::string>& items) {
    std::wstring data;
    for (const auto& item : items) data += windows::to_utf16(item) + L'\0';
    data += L'\0';
    return set(key, name, REG_MULTI_SZ, data.data(), static_cast<DWORD>(data.size() * sizeof(wchar_t)),
               RegistryBits::native64);
  }
  PreparedRegistry& binary(std::string_view key, std::string_view name, const std::vector<BYTE>& bytes) {
    return set(key, name, REG_BINARY, bytes.data(), static_cast<DWORD>(bytes.size()), RegistryBits::native64);
  }
  PreparedRegistry& add_key(std::string_view key, RegistryBits bits = RegistryBits::native64) {
    ::RegCloseKey(create(key, bits));
    return *this;
  }
  PreparedRegistry& remove(std::string_view key, std::string_view name, RegistryBits bits = RegistryBits::native64) {
    const HKEY opened = create(key, bits);
    ::RegDeleteValueW(opened, windows::to_utf16(name).c_str());
    ::RegCloseKey(opened);
    return *this;
  }

  RegistryRead read(std::string_view key, std::string_view name, RegistryBits bits) const override {
    return windows::live_registry().read(physical(key), name, bits);
  }
  RegistrySubkeys subkeys(std::string_view key, RegistryBits bits) const override {
    return windows::live_registry().subkeys(physical(key), bits);
  }

 private:
  static REGSAM flag(RegistryBits bits) { return bits == RegistryBits::wow32 ? KEY_WOW64_32KEY : KEY_WOW64_64KEY; }

  HKEY create(std::string_view key, RegistryBits bits) const {
    const auto where = physical(key);  // split_registry_path returns a view into it
    const auto path = split_registry_path(where);
    if (!path) throw std::invalid_argument("not a registry path: " + std::string(key));
    HKEY opened = nullptr;
    const auto status = ::RegCreateKeyExW(HKEY_LOCAL_MACHINE, windows::to_utf16(path->subkey).c_str(), 0, nullptr, 0,
                                          KEY_ALL_ACCESS | flag(bits), nullptr, &opened, nullptr);
    if (status != ERROR_SUCCESS)
      throw std::runtime_error("RegCreateKeyExW " + std::string(key) + ": " + windows::error_text(status));
    return opened;
  }

  PreparedRegistry& set(std::string_view key, std::string_view name, DWORD type, const void* data, DWORD size,
                        RegistryBits bits) {
    const HKEY opened = create(key, bits);
    const auto status =
        ::RegSetValueExW(opened, windows::to_utf16(name).c_str(), 0, type, static_cast<const BYTE*>(data), size);
    ::RegCloseKey(opened);
    if (status != ERROR_SUCCESS)
      throw std::runtime_error("RegSetValueExW " + std::string(key) + "\\" + std::string(name) + ": " +
                               windows::error_text(status));
    return *this;
  }

  std::string base_;
};

// True under Wine (ntdll exports wine_get_version), where some Win32 services are stubs.
inline bool running_under_wine() {
  const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  return ntdll && ::GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

}  // namespace postured::test
