// The privacy actions' file side in the Windows build, on Wine's C: drive: the handle primitives of
// platform/windows/file_handle.cpp (NtCreateFile relative to a folder handle, renames and deletions by
// handle), links refused, and the scanner, redactor, quarantine vault and evidence log built on them.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <restartmanager.h>
#include <winioctl.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/file_handle.hpp"
#include "core/open_files.hpp"
#include "core/secret.hpp"
#include "privacy/contained_file.hpp"
#include "privacy/evidence.hpp"
#include "privacy/file_scanner.hpp"
#include "privacy/pan_detector.hpp"
#include "privacy/quarantine.hpp"
#include "privacy/redactor.hpp"
#include "self_process.hpp"

using Catch::Matchers::ContainsSubstring;
using postured::FileHandle;
using postured::FileInfo;
using postured::last_file_error;
using postured::test::TempFolder;
namespace fs = std::filesystem;
namespace privacy = postured::privacy;

namespace {

// Luhn-valid test card numbers (Visa and Mastercard test ranges), never real cards.
const std::string kVisa = "4111111111111111";
const std::string kMastercard = "5555555555554444";

// A POS log as Windows tills write it: CRLF line ends, a card number on lines 2 and 4.
const std::string kCrlfLog =
    "2026-11-26T09:00:00Z till 3 open\r\n"
    "sale card=4111111111111111 total 12.50\r\n"
    "receipt printed\r\n"
    "refund 5555 5555 5555 4444 ok\r\n";
const std::string kCrlfLogRedacted =
    "2026-11-26T09:00:00Z till 3 open\r\n"
    "sale card=411111******1111 total 12.50\r\n"
    "receipt printed\r\n"
    "refund 5555 55** **** 4444 ok\r\n";

// The environment variables that tell the hidden holder test case what to do.
constexpr wchar_t kHoldFileVariable[] = L"POSTURED_TEST_HOLD_FILE";
constexpr wchar_t kHoldReadyVariable[] = L"POSTURED_TEST_HOLD_READY";
constexpr wchar_t kHoldReleaseVariable[] = L"POSTURED_TEST_HOLD_RELEASE";
// How long the holder keeps the file open at most, should the parent test never release it.
constexpr DWORD kHoldMaxMilliseconds = 60000;
// How long the parent waits for the holder to have the file open (a Wine process start is ~1 s).
constexpr DWORD kHoldReadyMilliseconds = 30000;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

// Everything from an open file's start to its end.
std::string read_handle(const FileHandle& file) {
  REQUIRE(postured::rewind(file.get()));
  std::string content;
  char buffer[4096];
  for (;;) {
    const auto n = postured::read_some(file.get(), buffer, sizeof buffer);
    REQUIRE(n >= 0);
    if (n == 0) return content;
    content.append(buffer, static_cast<std::size_t>(n));
  }
}

// A new file `name` in `dir` holding `content`, still open.
FileHandle make_file(const FileHandle& dir, const std::string& name, const std::string& content) {
  FileHandle file = postured::create_file_at(dir, name);
  INFO(name << ": " << last_file_error().message());
  REQUIRE(file);
  REQUIRE(postured::write_all(file.get(), content.data(), content.size()));
  REQUIRE(postured::flush(file));
  return file;
}

std::vector<std::string> names_in(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

postured::SecretKey random_master_key() {
  postured::SecretKey key;
  REQUIRE(postured::random_bytes(key.data(), key.size()));
  return key;
}

void flip_byte(const fs::path& path, std::uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 1));
}

// Wine's ntdll exports wine_get_version; Windows' does not. Where Wine differs from Windows, the
// tests check Wine's behaviour under Wine and Windows' elsewhere.
bool running_under_wine() {
  const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && ::GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

bool is_reparse_point(const fs::path& path) {
  const DWORD attributes = ::GetFileAttributesW(path.c_str());
  return attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0;
}

// SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE (Windows 10 1703, developer mode), newer than some SDKs.
constexpr DWORD kAllowUnprivilegedCreate = 0x2;

// A symbolic link `link` to `target`; "" if one is there afterwards, else what Windows (Wine) said.
// CreateSymbolicLinkW's result alone is not trusted: the link must exist as a reparse point.
std::string make_symbolic_link(const fs::path& link, const fs::path& target, bool folder) {
  const DWORD flags = kAllowUnprivilegedCreate | (folder ? SYMBOLIC_LINK_FLAG_DIRECTORY : 0);
  const BOOLEAN made = ::CreateSymbolicLinkW(link.c_str(), target.c_str(), flags);
  const DWORD error = ::GetLastError();
  if (is_reparse_point(link)) return {};
  std::ostringstream why;
  why << "CreateSymbolicLinkW returned " << (made ? "TRUE" : "FALSE") << " (last error " << error << ")";
  const DWORD attributes = ::GetFileAttributesW(link.c_str());
  if (attributes == INVALID_FILE_ATTRIBUTES)
    why << " and nothing exists at the link's name";
  else
    why << " but the link's name is no reparse point (attributes 0x" << std::hex << attributes << ")";
  return why.str();
}

// IO_REPARSE_TAG_MOUNT_POINT's REPARSE_DATA_BUFFER (ntifs.h), which MinGW-w64's headers do not all have.
struct MountPointReparseHeader {
  DWORD tag;
  WORD data_length;
  WORD reserved;
  WORD substitute_offset;
  WORD substitute_length;
  WORD print_offset;
  WORD print_length;
};

// A junction `link` (made as an empty folder) to the folder `target` with FSCTL_SET_REPARSE_POINT, as
// `mklink /J` does; "" if `link` is a reparse point afterwards, else what Windows (Wine) said.
std::string make_junction(const fs::path& link, const fs::path& target) {
  if (!::CreateDirectoryW(link.c_str(), nullptr))
    return "CreateDirectoryW failed with " + std::to_string(::GetLastError());
  const std::wstring substitute = L"\\??\\" + fs::absolute(target).native();
  const std::wstring print = fs::absolute(target).native();
  const std::size_t path_bytes = (substitute.size() + 1 + print.size() + 1) * sizeof(WCHAR);
  std::vector<std::byte> buffer(sizeof(MountPointReparseHeader) + path_bytes);
  auto* header = reinterpret_cast<MountPointReparseHeader*>(buffer.data());
  header->tag = IO_REPARSE_TAG_MOUNT_POINT;
  header->data_length = static_cast<WORD>(8 + path_bytes);
  header->reserved = 0;
  header->substitute_offset = 0;
  header->substitute_length = static_cast<WORD>(substitute.size() * sizeof(WCHAR));
  header->print_offset = static_cast<WORD>((substitute.size() + 1) * sizeof(WCHAR));
  header->print_length = static_cast<WORD>(print.size() * sizeof(WCHAR));
  auto* paths = reinterpret_cast<WCHAR*>(buffer.data() + sizeof(MountPointReparseHeader));
  std::copy(substitute.begin(), substitute.end(), paths);
  paths[substitute.size()] = L'\0';
  std::copy(print.begin(), print.end(), paths + substitute.size() + 1);
  paths[substitute.size() + 1 + print.size()] = L'\0';

  const HANDLE folder = ::CreateFileW(link.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                                      FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
  if (folder == INVALID_HANDLE_VALUE) return "opening the junction's folder failed with " + std::to_string(::GetLastError());
  DWORD returned = 0;
  const BOOL set = ::DeviceIoControl(folder, FSCTL_SET_REPARSE_POINT, buffer.data(), static_cast<DWORD>(buffer.size()),
                                     nullptr, 0, &returned, nullptr);
  const DWORD error = ::GetLastError();
  ::CloseHandle(folder);
  if (is_reparse_point(link)) return {};
  std::error_code ignored;
  fs::remove(link, ignored);
  return "DeviceIoControl(FSCTL_SET_REPARSE_POINT) returned " + std::string(set ? "TRUE" : "FALSE") + " (last error " +
         std::to_string(error) + ") and the folder is no reparse point";
}

// What the Restart Manager itself says about `file`: the status of each call and the count of
// processes, for the report when it sees no holder (Wine's rstrtmgr is largely a stub).
std::string restart_manager_answer(const fs::path& file) {
  DWORD session = 0;
  WCHAR key[CCH_RM_SESSION_KEY + 1] = {};
  const DWORD started = ::RmStartSession(&session, 0, key);
  if (started != ERROR_SUCCESS) return "RmStartSession returned " + std::to_string(started);
  const std::wstring name = file.native();
  LPCWSTR files[] = {name.c_str()};
  const DWORD registered = ::RmRegisterResources(session, 1, files, 0, nullptr, 0, nullptr);
  RM_PROCESS_INFO processes[8];
  UINT needed = 0;
  UINT count = 8;
  DWORD reasons = 0;
  const DWORD listed = ::RmGetList(session, &needed, &count, processes, &reasons);
  ::RmEndSession(session);
  return "RmRegisterResources returned " + std::to_string(registered) + ", RmGetList returned " +
         std::to_string(listed) + " with " + std::to_string(count) + " processes, " + std::to_string(needed) +
         " needed";
}

// A second process (this executable's hidden holder test case) that keeps `file` open until released.
class FileHolderProcess {
 public:
  explicit FileHolderProcess(const fs::path& file) {
    const std::wstring suffix = std::to_wstring(::GetCurrentProcessId());
    ready_name_ = L"Local\\postured-test-hold-ready-" + suffix;
    release_name_ = L"Local\\postured-test-hold-release-" + suffix;
    ready_ = ::CreateEventW(nullptr, TRUE, FALSE, ready_name_.c_str());
    release_ = ::CreateEventW(nullptr, TRUE, FALSE, release_name_.c_str());
    ::SetEnvironmentVariableW(kHoldFileVariable, file.c_str());
    ::SetEnvironmentVariableW(kHoldReadyVariable, ready_name_.c_str());
    ::SetEnvironmentVariableW(kHoldReleaseVariable, release_name_.c_str());
    const auto exe = postured::test::own_executable();
    std::wstring command_line = L"\"" + exe.native() + L"\" \"privacy helper: hold a file open\"";
    STARTUPINFOW startup{};
    startup.cb = sizeof startup;
    started_ = ::CreateProcessW(exe.c_str(), command_line.data(), nullptr, nullptr, FALSE, CREATE_NO_WINDOW, nullptr,
                                nullptr, &startup, &process_) != FALSE;
    for (const auto* name : {kHoldFileVariable, kHoldReadyVariable, kHoldReleaseVariable})
      ::SetEnvironmentVariableW(name, nullptr);
  }
  ~FileHolderProcess() {
    if (release_) ::SetEvent(release_);
    if (started_) {
      if (::WaitForSingleObject(process_.hProcess, 10000) != WAIT_OBJECT_0) ::TerminateProcess(process_.hProcess, 1);
      ::CloseHandle(process_.hThread);
      ::CloseHandle(process_.hProcess);
    }
    if (ready_) ::CloseHandle(ready_);
    if (release_) ::CloseHandle(release_);
  }
  FileHolderProcess(const FileHolderProcess&) = delete;
  FileHolderProcess& operator=(const FileHolderProcess&) = delete;

  // True once the holder has the file open.
  bool wait_ready() const {
    return started_ && ready_ && ::WaitForSingleObject(ready_, kHoldReadyMilliseconds) == WAIT_OBJECT_0;
  }
  DWORD pid() const { return started_ ? process_.dwProcessId : 0; }

 private:
  std::wstring ready_name_, release_name_;
  HANDLE ready_ = nullptr;
  HANDLE release_ = nullptr;
  PROCESS_INFORMATION process_{};
  bool started_ = false;
};

}  // namespace

// The holder's side: runs only when FileHolderProcess starts this executable with its variables.
TEST_CASE("privacy helper: hold a file open", "[.]") {
  const auto file = postured::test::environment(kHoldFileVariable);
  const auto ready_name = postured::test::environment(kHoldReadyVariable);
  const auto release_name = postured::test::environment(kHoldReleaseVariable);
  REQUIRE_FALSE(file.empty());
  // As a POS program appending to its log: writing, sharing everything so others may read and rename.
  const HANDLE held = ::CreateFileW(file.c_str(), GENERIC_READ | FILE_APPEND_DATA,
                                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                                    FILE_ATTRIBUTE_NORMAL, nullptr);
  REQUIRE(held != INVALID_HANDLE_VALUE);
  const HANDLE ready = ::OpenEventW(EVENT_MODIFY_STATE, FALSE, ready_name.c_str());
  const HANDLE release = ::OpenEventW(SYNCHRONIZE, FALSE, release_name.c_str());
  REQUIRE(ready);
  REQUIRE(release);
  ::SetEvent(ready);
  ::WaitForSingleObject(release, kHoldMaxMilliseconds);
  ::CloseHandle(held);
  ::CloseHandle(ready);
  ::CloseHandle(release);
}

TEST_CASE("file handles: create, replace, rename without replacing, remove an open file",
          "[windows][privacy]") {
  TempFolder temp("privacy-handles");
  const FileHandle dir = postured::open_folder(temp.path());
  REQUIRE(dir);

  // Replacing a file that is still open. With POSIX semantics (Windows 10 1709+, NTFS) the rename
  // succeeds and the open handle still reads the old file. Wine, like classic semantics (FAT, older
  // Windows), refuses to replace an open file: the rename fails and nothing changes, which is why the
  // redactor closes its own handle before it renames (only another program's handle stops it then).
  FileHandle original = make_file(dir, "till.log", "old bytes");
  { const FileHandle copy = make_file(dir, "till.log.new", "new bytes, longer"); }
  const bool renamed_while_open = postured::rename_at(dir, "till.log.new", "till.log", true);
  if (running_under_wine()) {
    CHECK_FALSE(renamed_while_open);
    CHECK(last_file_error() == std::errc::permission_denied);
    CHECK(read_all(temp.path() / "till.log") == "old bytes");
    CHECK(read_all(temp.path() / "till.log.new") == "new bytes, longer");
    original.reset();
    const bool renamed = postured::rename_at(dir, "till.log.new", "till.log", true);
    INFO(last_file_error().message());
    REQUIRE(renamed);
  } else {
    INFO(last_file_error().message());
    REQUIRE(renamed_while_open);
    CHECK(read_handle(original) == "old bytes");  // the open handle still reads the file it opened
    original.reset();
  }
  CHECK(read_all(temp.path() / "till.log") == "new bytes, longer");
  CHECK(names_in(temp.path()) == std::vector<std::string>{"till.log"});

  // A file nobody has open is replaced as well.
  { const FileHandle again = make_file(dir, "till.log.new", "third"); }
  CHECK(postured::rename_at(dir, "till.log.new", "till.log", true));
  CHECK(read_all(temp.path() / "till.log") == "third");
  CHECK(names_in(temp.path()) == std::vector<std::string>{"till.log"});

  // A file with the read-only attribute is replaced and removed like any other, as rename(2) and
  // unlink(2) ignore mode bits (Windows 10 1809+; Wine too). A one-character name works as well:
  // the rename buffer is never shorter than its structure.
  { const FileHandle read_only = make_file(dir, "r", "read only"); }
  REQUIRE(::SetFileAttributesW((temp.path() / "r").c_str(), FILE_ATTRIBUTE_READONLY));
  {
    const bool replaced = postured::rename_at(dir, "till.log", "r", true);
    INFO(last_file_error().message());
    CHECK(replaced);
  }
  CHECK(read_all(temp.path() / "r") == "third");
  CHECK(names_in(temp.path()) == std::vector<std::string>{"r"});
  REQUIRE(::SetFileAttributesW((temp.path() / "r").c_str(), FILE_ATTRIBUTE_READONLY));
  {
    const bool removed = postured::remove_at(dir, "r");
    INFO(last_file_error().message());
    CHECK(removed);
  }
  CHECK(names_in(temp.path()).empty());

  // Without replace, an existing name is an error and nothing changes.
  { const FileHandle b = make_file(dir, "b.log", "B"); }
  { const FileHandle c = make_file(dir, "c.log", "C"); }
  CHECK_FALSE(postured::rename_at(dir, "b.log", "c.log", false));
  const auto exists_error = last_file_error();
  INFO(exists_error.message());
  CHECK(exists_error == std::errc::file_exists);
  CHECK(read_all(temp.path() / "b.log") == "B");
  CHECK(read_all(temp.path() / "c.log") == "C");
  // And the create itself refuses a name that is taken.
  CHECK_FALSE(postured::create_file_at(dir, "c.log"));
  CHECK(last_file_error() == std::errc::file_exists);

  // Removing a file this process still has open: the handle still reads it, and the name goes now
  // (POSIX semantics, Windows 10 1709+ on NTFS). Wine has no POSIX deletion: its name goes when the
  // last handle closes, as with classic semantics (FAT, older Windows).
  FileHandle open_c = postured::open_file_at(dir, "c.log");
  REQUIRE(open_c);
  {
    const bool removed = postured::remove_at(dir, "c.log");
    INFO(last_file_error().message());
    CHECK(removed);
  }
  CHECK(read_handle(open_c) == "C");
  if (running_under_wine())
    WARN("Wine: the name of a removed file stays until its last handle closes (no POSIX deletion)");
  else
    CHECK_FALSE(fs::exists(temp.path() / "c.log"));
  open_c.reset();
  CHECK_FALSE(fs::exists(temp.path() / "c.log"));
  CHECK_FALSE(postured::remove_at(dir, "c.log"));
  CHECK(last_file_error() == std::errc::no_such_file_or_directory);
  // The name is free again for a new file while the removed one is still open.
  { const FileHandle again = make_file(dir, "c.log", "C2"); }
  CHECK(read_all(temp.path() / "c.log") == "C2");
}

TEST_CASE("file handles: file_info and file_info_at agree; same_version sees an append", "[windows][privacy]") {
  TempFolder temp("privacy-info");
  const FileHandle dir = postured::open_folder(temp.path());
  REQUIRE(dir);
  { const FileHandle made = make_file(dir, "pos.log", "line 1\r\n"); }
  const FileHandle file = postured::open_file_at(dir, "pos.log");
  REQUIRE(file);
  FileInfo by_handle, by_name;
  REQUIRE(postured::file_info(file.get(), by_handle));
  REQUIRE(postured::file_info_at(dir, "pos.log", by_name));
  CHECK(by_handle.regular);
  CHECK_FALSE(by_handle.folder);
  CHECK(by_handle.links == 1);
  CHECK(by_handle.id != 0);
  CHECK(by_handle.id == by_name.id);
  CHECK(by_handle.device == by_name.device);
  CHECK(by_handle.size == 8);
  CHECK(by_name.size == 8);
  CHECK(by_handle.mtime_sec == by_name.mtime_sec);
  CHECK(by_handle.mtime_nsec == by_name.mtime_nsec);
  CHECK(by_handle.mtime_nsec < 1'000'000'000U);
  CHECK(privacy::same_version(by_handle, by_name));
  // Within a day of now: the FILETIME conversion to Unix seconds is right.
  const auto now_sec = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  CHECK(std::llabs(now_sec - by_handle.mtime_sec) < 86400LL);

  FileInfo other;
  { const FileHandle made = make_file(dir, "other.log", "line 1\r\n"); }
  REQUIRE(postured::file_info_at(dir, "other.log", other));
  CHECK(other.id != by_handle.id);
  CHECK_FALSE(privacy::same_version(by_handle, other));

  std::ofstream(temp.path() / "pos.log", std::ios::binary | std::ios::app) << "line 2\r\n";
  FileInfo appended;
  REQUIRE(postured::file_info(file.get(), appended));
  CHECK(appended.id == by_handle.id);
  CHECK(appended.size == 16);
  CHECK_FALSE(privacy::same_version(by_handle, appended));

  FileInfo folder;
  REQUIRE(postured::file_info(dir.get(), folder));
  CHECK(folder.folder);
  CHECK_FALSE(folder.regular);
  CHECK_FALSE(postured::file_info_at(dir, "missing.log", folder));
  CHECK(last_file_error() == std::errc::no_such_file_or_directory);
}

TEST_CASE("file handles: a plain file is no folder; separators, streams and dot-dot are refused",
          "[windows][privacy]") {
  TempFolder temp("privacy-names");
  fs::create_directories(temp.path() / "sub");
  write_file(temp.path() / "sub" / "inner.log", "inner");
  write_file(temp.path() / "plain.log", "plain");
  const FileHandle dir = postured::open_folder(temp.path());
  REQUIRE(dir);

  CHECK_FALSE(postured::open_folder_at(dir, "plain.log"));
  CHECK(last_file_error() == std::errc::not_a_directory);
  CHECK_FALSE(postured::open_folder(temp.path() / "plain.log"));
  CHECK(last_file_error() == std::errc::not_a_directory);
  CHECK_FALSE(postured::open_file_at(dir, "sub"));  // and a folder is no file
  const FileHandle sub = postured::open_folder_at(dir, "sub");
  REQUIRE(sub);
  CHECK(postured::open_file_at(sub, "inner.log"));

  for (const std::string bad : {"sub\\inner.log", "sub/inner.log", "plain.log:hidden", "plain.log::$DATA", "..",
                                ".", "", "C:plain.log"}) {
    INFO("name: \"" << bad << "\"");
    CHECK_FALSE(postured::open_file_at(dir, bad));
    CHECK_FALSE(postured::open_folder_at(sub, bad));
    FileInfo ignored;
    CHECK_FALSE(postured::file_info_at(dir, bad, ignored));
    CHECK_FALSE(postured::create_file_at(sub, bad));
    CHECK_FALSE(postured::remove_at(dir, bad));
    CHECK_FALSE(postured::rename_at(dir, "plain.log", bad, true));
    CHECK_FALSE(postured::rename_at(sub, bad, "moved.log", true));
  }
  // Nothing was created, moved or removed by any of them.
  CHECK(names_in(temp.path()) == std::vector<std::string>{"plain.log", "sub"});
  CHECK(names_in(temp.path() / "sub") == std::vector<std::string>{"inner.log"});
  CHECK(read_all(temp.path() / "plain.log") == "plain");
  CHECK(read_all(temp.path() / "sub" / "inner.log") == "inner");
}

TEST_CASE("file handles: symbolic links and junctions are refused, not followed", "[windows][privacy]") {
  TempFolder temp("privacy-links");
  const auto root = temp.path() / "spool";
  const auto outside = temp.path() / "outside";
  fs::create_directories(root / "till");
  fs::create_directories(outside);
  write_file(outside / "secret.log", "sale card=" + kVisa + "\r\n");
  write_file(root / "till" / "pos.log", "no card data\r\n");

  const auto file_link_error = make_symbolic_link(root / "file-link.log", outside / "secret.log", false);
  const auto folder_link_error = make_symbolic_link(root / "folder-link", outside, true);
  const auto junction_error = make_junction(root / "junction", outside);
  INFO("symbolic link to a file: " << (file_link_error.empty() ? "made" : file_link_error));
  INFO("symbolic link to a folder: " << (folder_link_error.empty() ? "made" : folder_link_error));
  INFO("junction: " << (junction_error.empty() ? "made" : junction_error));
  if (!file_link_error.empty() && !folder_link_error.empty() && !junction_error.empty())
    SKIP("Wine made no link: symbolic link to a file: " << file_link_error << "; to a folder: " << folder_link_error
                                                      << "; junction: " << junction_error);

  const FileHandle dir = postured::open_folder(root);
  REQUIRE(dir);
  if (file_link_error.empty()) {
    CHECK_FALSE(postured::open_file_at(dir, "file-link.log"));
    CHECK(last_file_error() == std::errc::too_many_symbolic_link_levels);
    CHECK_FALSE(postured::open_file(root / "file-link.log"));
    CHECK(last_file_error() == std::errc::too_many_symbolic_link_levels);
    FileInfo info;
    REQUIRE(postured::file_info_at(dir, "file-link.log", info));  // the link itself, described
    CHECK_FALSE(info.regular);
    // Removing the link removes the link, never its target.
    CHECK(postured::remove_at(dir, "file-link.log"));
    CHECK(fs::exists(outside / "secret.log"));
  }
  for (const auto& [name, error] : {std::pair{std::string("folder-link"), folder_link_error},
                                    std::pair{std::string("junction"), junction_error}}) {
    if (!error.empty()) continue;
    INFO(name);
    CHECK_FALSE(postured::open_folder_at(dir, name));
    CHECK(last_file_error() == std::errc::too_many_symbolic_link_levels);
    std::string why;
    CHECK_FALSE(privacy::open_contained(root, root / name / "secret.log", why));
    CHECK_THAT(why, ContainsSubstring("without following a link"));
  }

  // A folder that was real at the scan and is swapped for a junction before the action.
  if (junction_error.empty()) {
    std::string why;
    CHECK(privacy::open_contained(root, root / "till" / "pos.log", why));
    fs::rename(root / "till", temp.path() / "till-moved");
    REQUIRE(make_junction(root / "till", outside).empty());
    write_file(outside / "pos.log", "sale card=" + kVisa + "\r\n");
    CHECK_FALSE(privacy::open_contained(root, root / "till" / "pos.log", why));
    CHECK_THAT(why, ContainsSubstring("without following a link"));
    const privacy::PanDetector detector;
    const privacy::FileScanner scanner(detector, 1ULL << 20);
    const auto redacted = privacy::redact_file(root, root / "till" / "pos.log", scanner);
    CHECK_FALSE(redacted.rewritten);
    CHECK(read_all(outside / "pos.log") == "sale card=" + kVisa + "\r\n");
  }
}

TEST_CASE("scanner: a CRLF log's card numbers are found and reported masked only", "[windows][privacy]") {
  TempFolder temp("privacy-scan");
  fs::create_directories(temp.path() / "logs" / "2026");
  write_file(temp.path() / "logs" / "2026" / "till3.log", kCrlfLog);
  write_file(temp.path() / "logs" / "clean.log", "till 3 closed\r\n");
  const privacy::PanDetector detector;
  const privacy::FileScanner scanner(detector, 1ULL << 20);
  privacy::ScanSummary summary;
  scanner.scan(temp.path() / "logs", summary);
  CHECK(summary.files_scanned == 2);
  CHECK(summary.bytes_scanned == kCrlfLog.size() + 15);
  CHECK(summary.skipped.empty());
  REQUIRE(summary.findings.size() == 2);
  const auto& first = summary.findings[0];
  const auto& second = summary.findings[1];
  CHECK(first.path == temp.path() / "logs" / "2026" / "till3.log");
  CHECK(first.line == 2);
  CHECK(first.offset == kCrlfLog.find(kVisa));
  CHECK(first.match.masked == "411111******1111");
  CHECK(second.line == 4);
  CHECK(second.offset == kCrlfLog.find("5555 5555"));
  CHECK(second.match.masked == "555555******4444");
  for (const auto& finding : summary.findings) {
    CHECK(finding.match.masked.find(kVisa) == std::string::npos);
    CHECK(finding.match.masked.find(kMastercard) == std::string::npos);
    CHECK(finding.match.masked.find("5555 5555 5555 4444") == std::string::npos);
  }
}

TEST_CASE("redact: PANs truncated in place, other bytes identical, no temporary file left", "[windows][privacy]") {
  TempFolder temp("privacy-redact");
  const auto root = temp.path() / "spool";
  fs::create_directories(root);
  const auto log = root / "till3.log";
  write_file(log, kCrlfLog);
  write_file(root / "other.log", "untouched\r\n");
  const privacy::PanDetector detector;
  const privacy::FileScanner scanner(detector, 1ULL << 20);

  const auto result = privacy::redact_file(root, log, scanner);
  INFO(result.error);
  REQUIRE(result.error.empty());
  CHECK(result.rewritten);
  CHECK(result.redacted == 2);
  CHECK(read_all(log) == kCrlfLogRedacted);
  CHECK(names_in(root) == std::vector<std::string>{"other.log", "till3.log"});  // no .postured-redact-*
  CHECK(read_all(root / "other.log") == "untouched\r\n");

  // Again: nothing left to redact, nothing rewritten.
  const auto again = privacy::redact_file(root, log, scanner);
  CHECK(again.error.empty());
  CHECK_FALSE(again.rewritten);
  CHECK(read_all(log) == kCrlfLogRedacted);

  // A file that changes between the copy and the replace is not clobbered.
  write_file(log, kCrlfLog);
  const auto changed = privacy::redact_file(root, log, scanner, [&] {
    std::ofstream(log, std::ios::binary | std::ios::app) << "late line\r\n";
  });
  CHECK_FALSE(changed.rewritten);
  CHECK_FALSE(changed.error.empty());
  CHECK(read_all(log) == kCrlfLog + "late line\r\nlate line\r\n");
  CHECK(names_in(root) == std::vector<std::string>{"other.log", "till3.log"});
}

TEST_CASE("redact: a file another process has open is left alone", "[windows][privacy]") {
  TempFolder temp("privacy-held");
  const auto root = temp.path() / "spool";
  fs::create_directories(root);
  const auto log = root / "till3.log";
  write_file(log, kCrlfLog);
  FileHolderProcess holder(log);
  REQUIRE(holder.wait_ready());

  const auto holders = postured::processes_holding(log);
  if (holders.empty())
    SKIP("the Restart Manager reports no process holding a file that pid "
         << holder.pid() << " has open (" << restart_manager_answer(log)
         << "), so why_not_replace cannot see holders here");
  CHECK(static_cast<DWORD>(holders.front().pid) == holder.pid());
  const privacy::PanDetector detector;
  const privacy::FileScanner scanner(detector, 1ULL << 20);
  const auto result = privacy::redact_file(root, log, scanner);
  CHECK_FALSE(result.rewritten);
  CHECK_THAT(result.error, ContainsSubstring("open in pid " + std::to_string(holder.pid())));
  CHECK(read_all(log) == kCrlfLog);
  CHECK(names_in(root) == std::vector<std::string>{"till3.log"});
}

TEST_CASE("quarantine: into the vault with a tombstone, restored byte for byte, never over a file",
          "[windows][privacy]") {
  TempFolder temp("privacy-quarantine");
  const auto root = temp.path() / "spool";
  fs::create_directories(root);
  std::string content = kCrlfLog;
  for (int i = 0; i < 200000; ++i) content += static_cast<char>(i % 256);  // binary, more than one chunk
  const auto file = root / "export.csv";
  write_file(file, content);
  const privacy::QuarantineVault vault(temp.path() / "state", random_master_key());

  const auto moved = privacy::quarantine_file(root, file, 2, {"411111******1111", "555555******4444"}, vault);
  INFO(moved.error);
  REQUIRE(moved.error.empty());
  CHECK(moved.moved);
  CHECK(privacy::valid_vault_id(moved.vault_id));
  CHECK_FALSE(fs::exists(file));
  const auto tombstone = read_all(privacy::tombstone_path(file));
  CHECK_THAT(tombstone, ContainsSubstring(moved.vault_id));
  CHECK_THAT(tombstone, ContainsSubstring("411111******1111"));
  CHECK(tombstone.find(kVisa) == std::string::npos);
  CHECK(privacy::PanDetector().find_all(tombstone).empty());
  const auto entry = vault.dir() / (moved.vault_id + ".vault");
  const auto sealed = read_all(entry);
  CHECK(sealed.size() > content.size());
  CHECK(sealed.find(kVisa) == std::string::npos);
  CHECK(sealed.find("till 3 open") == std::string::npos);
  const auto entries = vault.list();
  REQUIRE(entries.size() == 1);
  REQUIRE(entries[0].record);
  CHECK(entries[0].record->path == file);
  CHECK(entries[0].record->size == content.size());

  // Never over an existing file: refused, and the file there keeps its bytes.
  const auto occupied = temp.path() / "occupied.csv";
  write_file(occupied, "keep me");
  const auto refused = privacy::restore_quarantined(vault, moved.vault_id, occupied);
  CHECK_FALSE(refused.error.empty());
  CHECK(read_all(occupied) == "keep me");
  CHECK(vault.list().size() == 1);

  const auto restored = privacy::restore_quarantined(vault, moved.vault_id, {});
  INFO(restored.error);
  REQUIRE(restored.error.empty());
  CHECK(restored.path == file);
  CHECK(read_all(file) == content);
  CHECK_FALSE(fs::exists(privacy::tombstone_path(file)));
  CHECK(vault.list().empty());
  CHECK_FALSE(fs::exists(entry));
}

TEST_CASE("quarantine: a vault entry with one byte flipped restores nothing", "[windows][privacy]") {
  TempFolder temp("privacy-tamper");
  const auto root = temp.path() / "spool";
  fs::create_directories(root);
  const auto file = root / "export.csv";
  write_file(file, kCrlfLog);
  const privacy::QuarantineVault vault(temp.path() / "state", random_master_key());
  const auto moved = privacy::quarantine_file(root, file, 2, {}, vault);
  INFO(moved.error);
  REQUIRE(moved.moved);
  const auto entry = vault.dir() / (moved.vault_id + ".vault");
  const auto pristine = read_all(entry);
  REQUIRE(pristine.size() > 40);

  flip_byte(entry, pristine.size() - 20);  // in the content: only the final tag check sees it
  const auto restored = privacy::restore_quarantined(vault, moved.vault_id, {});
  CHECK_THAT(restored.error, ContainsSubstring("does not authenticate"));
  CHECK_FALSE(fs::exists(file));
  CHECK(names_in(root) == std::vector<std::string>{"export.csv.quarantined"});  // no temporary file left

  write_file(entry, pristine);
  flip_byte(entry, 40);  // in the record
  std::string error;
  CHECK_FALSE(vault.record(moved.vault_id, error));
  CHECK_THAT(error, ContainsSubstring("does not authenticate"));
  CHECK_FALSE(privacy::restore_quarantined(vault, moved.vault_id, {}).error.empty());
  CHECK_FALSE(fs::exists(file));

  // Another device's key: refused too.
  write_file(entry, pristine);
  const privacy::QuarantineVault other(temp.path() / "state", random_master_key());
  CHECK_FALSE(other.record(moved.vault_id, error));
  CHECK(privacy::restore_quarantined(vault, moved.vault_id, {}).error.empty());  // the pristine entry still does
  CHECK(read_all(file) == kCrlfLog);
}

TEST_CASE("evidence log: two recorded runs are two lines", "[windows][privacy]") {
  TempFolder temp("privacy-evidence");
  const auto state = temp.path() / "state";
  fs::create_directories(state);
  privacy::CacheEnforcement run;
  run.cache = "loyalty";
  run.path = temp.path() / "loyalty.db";
  run.outcome = privacy::CacheEnforcement::Outcome::enforced;
  run.started_at = "2026-11-26T09:00:00Z";
  run.finished_at = "2026-11-26T09:00:01Z";
  REQUIRE_FALSE(privacy::record_enforcement(state, run));
  run.started_at = "2026-11-26T10:00:00Z";
  run.finished_at = "2026-11-26T10:00:02Z";
  const auto second = privacy::record_enforcement(state, run);
  INFO(second.message());
  REQUIRE_FALSE(second);

  std::ifstream in(state / "evidence" / "loyalty.jsonl", std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 2);
  CHECK(nlohmann::json::parse(lines[0])["finished_at"] == "2026-11-26T09:00:01Z");
  CHECK(nlohmann::json::parse(lines[1])["finished_at"] == "2026-11-26T10:00:02Z");
  CHECK(nlohmann::json::parse(lines[1])["cache"] == "loyalty");
  const auto last = privacy::load_last_enforcement(state, "loyalty");
  REQUIRE(last);
  CHECK(last->at == "2026-11-26T10:00:02Z");
  CHECK(last->outcome == "enforced");
}
