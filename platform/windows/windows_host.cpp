// Host on Windows: files through std::filesystem below a root folder (the live system when the root
// is "/", "\" or a bare drive such as "C:\"); the OS build, computer name, service start types and
// process list from the Win32 API; the registry and account policy (W3's readers) on the live system.
#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <tlhelp32.h>

#include <algorithm>
#include <cwctype>
#include <fstream>
#include <set>

#include "core/host.hpp"
#include "registry.hpp"
#include "utf16.hpp"

namespace postured {
namespace {

namespace fs = std::filesystem;

// Files that checks read are small; anything larger is not what we think it is (as on Linux).
constexpr std::uintmax_t kMaxReadBytes = 16u << 20;
// Where Windows keeps the build number's last part (UBR) and the display version.
constexpr const wchar_t* kCurrentVersionKey = L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion";

bool is_separator(char c) {
  return c == '/' || c == '\\';
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  std::string part;
  for (char c : path) {
    if (is_separator(c)) {
      if (!part.empty()) parts.push_back(std::move(part));
      part.clear();
    } else {
      part += c;
    }
  }
  if (!part.empty()) parts.push_back(std::move(part));
  return parts;
}

char fold(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// fnmatch(3) for one path component, case-insensitive as Windows names are: `*`, `?`, `[...]`
// (with `!` or `^` to negate and `a-z` ranges). A leading '.' is matched only by a literal '.'.
bool matches(std::string_view pattern, std::string_view name) {
  if (!name.empty() && name.front() == '.' && (pattern.empty() || pattern.front() != '.')) return false;
  std::size_t p = 0, n = 0, star_p = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = p++;
      star_n = n;
      continue;
    }
    bool ok = false;
    std::size_t next = p + 1;
    if (p < pattern.size() && pattern[p] == '?') {
      ok = true;
    } else if (p < pattern.size() && pattern[p] == '[') {
      std::size_t q = p + 1;
      const bool negate = q < pattern.size() && (pattern[q] == '!' || pattern[q] == '^');
      if (negate) ++q;
      bool in_set = false;
      bool first = true;
      while (q < pattern.size() && (first || pattern[q] != ']')) {
        first = false;
        char low = pattern[q];
        char high = low;
        if (q + 2 < pattern.size() && pattern[q + 1] == '-' && pattern[q + 2] != ']') {
          high = pattern[q + 2];
          q += 2;
        }
        if (fold(name[n]) >= fold(low) && fold(name[n]) <= fold(high)) in_set = true;
        ++q;
      }
      if (q < pattern.size()) {
        ok = in_set != negate;
        next = q + 1;
      } else {
        ok = name[n] == '[';  // no closing ']': a literal '['
      }
    } else if (p < pattern.size()) {
      ok = fold(pattern[p]) == fold(name[n]);
    }
    if (ok) {
      p = next;
      ++n;
    } else if (star_p != std::string_view::npos) {
      p = star_p + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool has_wildcard(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

// True for "/", "\", "C:", "C:\" and "C:/": the live system rather than a folder image.
bool is_live_root(const fs::path& root) {
  const auto text = root.native();
  if (text.empty() || text == L"/" || text == L"\\") return true;
  return text.size() >= 2 && text.size() <= 3 && std::iswalpha(text[0]) && text[1] == L':' &&
         (text.size() == 2 || text[2] == L'\\' || text[2] == L'/');
}

class WindowsHost final : public Host {
 public:
  explicit WindowsHost(fs::path root) : root_(std::move(root)), live_(is_live_root(root_)) {}

  std::optional<std::string> read_file(std::string_view path, std::string* why) const override {
    const auto real = map(path);
    std::error_code ec;
    const auto status = fs::status(real, ec);
    if (ec || !fs::exists(status)) return fail(why, "not found");
    if (fs::is_directory(status)) return fail(why, "is a directory");
    std::ifstream in(real, std::ios::binary);
    if (!in) return fail(why, "permission denied or unreadable");
    std::string content;
    char buffer[8192];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
      content.append(buffer, static_cast<std::size_t>(in.gcount()));
      if (content.size() > kMaxReadBytes) return fail(why, "larger than 16 MiB");
    }
    if (in.bad()) return fail(why, "read error");
    return content;
  }

  bool exists(std::string_view path) const override {
    std::error_code ec;
    return fs::exists(fs::symlink_status(map(path), ec));
  }

  // Windows has no mode bits or numeric owners: a projection for the checks that ask. Directories
  // read 0755, files 0644, or 0444 with the read-only attribute; uid and gid 0. Access on Windows is
  // what a DACL says (file_security.hpp judges those where it matters).
  std::optional<FileStatus> file_status(std::string_view path) const override {
    const auto real = map(path);
    const DWORD attributes = ::GetFileAttributesW(real.c_str());
    if (attributes == INVALID_FILE_ATTRIBUTES) return std::nullopt;
    FileStatus status;
    if (attributes & FILE_ATTRIBUTE_DIRECTORY) {
      status.type = FileStatus::Type::directory;
      status.mode = 0755;
    } else {
      status.type = (attributes & FILE_ATTRIBUTE_DEVICE) ? FileStatus::Type::other : FileStatus::Type::regular;
      status.mode = (attributes & FILE_ATTRIBUTE_READONLY) ? 0444 : 0644;
    }
    return status;
  }

  std::vector<std::string> list_dir(std::string_view path) const override {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(map(path), ec), end; !ec && it != end; it.increment(ec)) {
      names.push_back(windows::to_utf8(it->path().filename().native()));
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::vector<std::string> glob(std::string_view pattern) const override {
    // A drive ("C:") stays in front of every match, as it was written.
    std::string drive;
    if (pattern.size() >= 2 && pattern[1] == ':') {
      drive = std::string(pattern.substr(0, 2));
      pattern.remove_prefix(2);
    }
    std::vector<std::string> matches_so_far{drive};
    for (const auto& part : split_path(pattern)) {
      std::vector<std::string> next;
      for (const auto& prefix : matches_so_far) {
        if (!has_wildcard(part)) {
          const auto candidate = prefix + "/" + part;
          if (exists(candidate)) next.push_back(candidate);
          continue;
        }
        for (const auto& name : list_dir(prefix.empty() ? "/" : prefix + "/")) {
          if (matches(part, name)) next.push_back(prefix + "/" + name);
        }
      }
      matches_so_far = std::move(next);
    }
    std::sort(matches_so_far.begin(), matches_so_far.end());
    return matches_so_far;
  }

  // "10.0.<build>.<UBR>", e.g. 10.0.19045.5131: what `ver` prints, and what patch levels are judged by.
  std::string kernel_release() const override {
    // GetVersionEx reports what the program's manifest claims; RtlGetVersion reports the truth.
    using RtlGetVersionFunction = LONG(WINAPI*)(OSVERSIONINFOW*);
    OSVERSIONINFOW info{};
    info.dwOSVersionInfoSize = sizeof info;
    const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
    const auto rtl_get_version =
        ntdll
            ? reinterpret_cast<RtlGetVersionFunction>(reinterpret_cast<void*>(::GetProcAddress(ntdll, "RtlGetVersion")))
            : nullptr;
    if (!rtl_get_version || rtl_get_version(&info) != 0) return {};
    std::string release = std::to_string(info.dwMajorVersion) + "." + std::to_string(info.dwMinorVersion) + "." +
                          std::to_string(info.dwBuildNumber);
    DWORD ubr = 0;
    DWORD size = sizeof ubr;
    if (::RegGetValueW(HKEY_LOCAL_MACHINE, kCurrentVersionKey, L"UBR", RRF_RT_REG_DWORD, nullptr, &ubr, &size) ==
        ERROR_SUCCESS) {
      release += "." + std::to_string(ubr);
    }
    return release;
  }

  std::string hostname() const override {
    wchar_t name[256];
    DWORD size = 256;
    if (!::GetComputerNameExW(ComputerNameDnsHostname, name, &size)) return {};
    return windows::to_utf8(std::wstring_view(name, size));
  }

  // True when the SCM starts service `unit` at boot (automatic, boot or system start), the name
  // with or without Linux's ".service" suffix. Only the live system has an SCM to ask.
  bool service_enabled(std::string_view unit) const override {
    if (!live_) return false;
    auto name = std::string(unit);
    if (name.size() > 8 && name.compare(name.size() - 8, 8, ".service") == 0) name.resize(name.size() - 8);
    const SC_HANDLE scm = ::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
    if (!scm) return false;
    bool enabled = false;
    if (const SC_HANDLE service = ::OpenServiceW(scm, windows::to_utf16(name).c_str(), SERVICE_QUERY_CONFIG)) {
      DWORD needed = 0;
      ::QueryServiceConfigW(service, nullptr, 0, &needed);
      std::vector<unsigned char> buffer(needed);
      if (needed > 0 &&
          ::QueryServiceConfigW(service, reinterpret_cast<QUERY_SERVICE_CONFIGW*>(buffer.data()), needed, &needed)) {
        const DWORD start = reinterpret_cast<QUERY_SERVICE_CONFIGW*>(buffer.data())->dwStartType;
        enabled = start == SERVICE_AUTO_START || start == SERVICE_BOOT_START || start == SERVICE_SYSTEM_START;
      }
      ::CloseServiceHandle(service);
    }
    ::CloseServiceHandle(scm);
    return enabled;
  }

  // True if a process whose image name is `comm` runs, compared without case and with or without
  // ".exe" ("MsMpEng" and "msmpeng.exe" both find Defender). A folder image has no processes.
  bool process_running(std::string_view comm) const override {
    if (!live_) return false;
    if (!processes_) {
      processes_.emplace();
      windows::OwnedHandle snapshot(::CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0));
      PROCESSENTRY32W entry{};
      entry.dwSize = sizeof entry;
      if (snapshot.valid() && ::Process32FirstW(snapshot.get(), &entry)) {
        do {
          processes_->insert(lower(windows::to_utf8(entry.szExeFile)));
        } while (::Process32NextW(snapshot.get(), &entry));
      }
    }
    const auto wanted = lower(std::string(comm));
    return processes_->count(wanted) > 0 || processes_->count(wanted + ".exe") > 0;
  }

  std::optional<fs::path> local_path(std::string_view path) const override { return map(path); }

  const RegistryView* registry() const override { return live_ ? &windows::live_registry() : nullptr; }
  const AccountPolicyView* account_policy() const override { return live_ ? &windows::live_account_policy() : nullptr; }

 private:
  // An absolute device path ("C:\ProgramData\x", "/etc/x") below the root. On the live system it is
  // used as it is; below a folder image the drive letter is dropped ("C:\x" → <root>\x).
  fs::path map(std::string_view path) const {
    const auto wide = windows::to_utf16(path);
    if (live_) return fs::path(wide);
    std::wstring_view rest(wide);
    if (rest.size() >= 2 && rest[1] == L':') rest.remove_prefix(2);
    while (!rest.empty() && (rest.front() == L'/' || rest.front() == L'\\')) rest.remove_prefix(1);
    return root_ / fs::path(std::wstring(rest));
  }

  static std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), fold);
    return text;
  }

  static std::optional<std::string> fail(std::string* why, const char* reason) {
    if (why) *why = reason;
    return std::nullopt;
  }

  fs::path root_;
  bool live_;
  mutable std::optional<std::set<std::string>> processes_;  // read once per Host: a cycle's snapshot
};

}  // namespace

std::unique_ptr<Host> open_host(const std::filesystem::path& root) {
  return std::make_unique<WindowsHost>(root);
}

}  // namespace postured
