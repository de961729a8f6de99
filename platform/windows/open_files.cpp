// Windows: the Restart Manager knows which processes hold a file open (what installers use to ask
// "close these programs first"); each one's program path comes from QueryFullProcessImageNameW.
#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <restartmanager.h>

#include <vector>

#include "core/open_files.hpp"
#include "utf16.hpp"

namespace postured {
namespace {

std::string image_of(DWORD pid) {
  windows::OwnedHandle process(::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid));
  if (!process.valid()) return {};
  std::wstring image(32768, L'\0');
  DWORD size = static_cast<DWORD>(image.size());
  if (!::QueryFullProcessImageNameW(process.get(), 0, image.data(), &size)) return {};
  image.resize(size);
  return windows::to_utf8(image);
}

// Ends the Restart Manager session on every path out.
struct RestartManagerSession {
  DWORD handle = 0;
  bool open = false;
  ~RestartManagerSession() {
    if (open) ::RmEndSession(handle);
  }
};

}  // namespace

std::vector<FileHolder> processes_holding(const std::filesystem::path& path) {
  std::vector<FileHolder> holders;
  RestartManagerSession session;
  WCHAR key[CCH_RM_SESSION_KEY + 1] = {};
  if (::RmStartSession(&session.handle, 0, key) != ERROR_SUCCESS) return holders;
  session.open = true;
  const std::wstring file = path.native();
  LPCWSTR files[] = {file.c_str()};
  if (::RmRegisterResources(session.handle, 1, files, 0, nullptr, 0, nullptr) != ERROR_SUCCESS) return holders;
  std::vector<RM_PROCESS_INFO> processes(16);
  UINT needed = 0;
  DWORD reasons = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {
    UINT count = static_cast<UINT>(processes.size());
    const DWORD status = ::RmGetList(session.handle, &needed, &count, processes.data(), &reasons);
    if (status == ERROR_MORE_DATA) {
      processes.resize(needed + 8);  // the list can grow between two calls
      continue;
    }
    if (status != ERROR_SUCCESS) return holders;
    const DWORD self = ::GetCurrentProcessId();
    for (UINT i = 0; i < count; ++i) {
      const DWORD pid = processes[i].Process.dwProcessId;
      if (pid == self) continue;
      holders.push_back({static_cast<int>(pid), image_of(pid)});
    }
    break;
  }
  return holders;
}

std::vector<FileHolder> processes_holding(NativeFile file) {
  // The Restart Manager takes names: the one the open file has now, from its handle.
  const auto handle = reinterpret_cast<HANDLE>(file);
  std::wstring name(MAX_PATH, L'\0');
  for (;;) {
    const DWORD n = ::GetFinalPathNameByHandleW(handle, name.data(), static_cast<DWORD>(name.size()),
                                                FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    if (n == 0) return {};
    if (n < name.size()) {
      name.resize(n);
      break;
    }
    name.resize(n + 1);
  }
  constexpr std::wstring_view kLongPrefix = L"\\\\?\\";  // "\\?\" before a drive letter
  if (name.starts_with(kLongPrefix) && name.size() > 6 && name[5] == L':') name.erase(0, kLongPrefix.size());
  return processes_holding(std::filesystem::path(name));
}

}  // namespace postured
