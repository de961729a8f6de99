// The DPAPI master key store (platform/windows/dpapi_key_store.cpp) and the owner-only files of
// atomic_file.cpp, on the Windows file system with real DPAPI and real ACLs.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <aclapi.h>
#include <dpapi.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "core/atomic_file.hpp"
#include "core/key_store.hpp"
#include "file_security.hpp"
#include "self_process.hpp"

using Catch::Matchers::ContainsSubstring;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

// Replaces the DACL of `path` with the one in `sddl` (protected, as the agent writes it).
void set_dacl(const fs::path& path, const wchar_t* sddl) {
  std::string why;
  auto descriptor = postured::windows::SecurityDescriptor::from_sddl(sddl, &why);
  REQUIRE(descriptor);
  BOOL present = FALSE;
  BOOL defaulted = FALSE;
  PACL dacl = nullptr;
  REQUIRE(::GetSecurityDescriptorDacl(descriptor->get(), &present, &dacl, &defaulted));
  std::wstring name = path.native();
  REQUIRE(::SetNamedSecurityInfoW(name.data(), SE_FILE_OBJECT,
                                  DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, nullptr, nullptr,
                                  dacl, nullptr) == ERROR_SUCCESS);
}

bool same_key(const postured::SecretKey& a, const postured::SecretKey& b) {
  return std::equal(a.data(), a.data() + a.size(), b.data());
}

}  // namespace

TEST_CASE("DPAPI key store: a new key is sealed in machine scope, kept, and unsealed again", "[windows][key-store]") {
  postured::test::TempFolder dir("keystore");
  auto store = postured::open_master_key_store(dir.path());
  CHECK(store->location() == (dir.path() / "keys" / "master.key").string());

  const auto none = store->load(false);
  CHECK_FALSE(none.key);
  CHECK_THAT(none.error, ContainsSubstring("no master key yet"));

  const auto made = store->load(true);
  INFO(made.error);
  REQUIRE(made.key);
  const auto again = postured::open_master_key_store(dir.path())->load(false);
  INFO(again.error);
  REQUIRE(again.key);
  CHECK(same_key(*made.key, *again.key));

  // The file holds a DPAPI blob, never the key's bytes.
  const auto content = read_all(dir.path() / "keys" / "master.key");
  CHECK(content.rfind("postured-dpapi-v1\n", 0) == 0);
  const std::string raw(reinterpret_cast<const char*>(made.key->data()), made.key->size());
  CHECK(content.find(raw) == std::string::npos);
  // What the agent made passes its own DACL check, file and folder.
  CHECK(postured::windows::check_only_system_and_administrators(dir.path() / "keys") == "");
  CHECK(postured::windows::check_only_system_and_administrators(dir.path() / "keys" / "master.key") == "");
}

TEST_CASE("DPAPI key store: a tampered blob is refused", "[windows][key-store]") {
  postured::test::TempFolder dir("tamper");
  auto store = postured::open_master_key_store(dir.path());
  REQUIRE(store->load(true).key);
  const auto path = dir.path() / "keys" / "master.key";
  auto content = read_all(path);
  // A byte in the middle of the blob: DPAPI's integrity check covers all of it.
  content[content.size() / 2] = static_cast<char>(content[content.size() / 2] ^ 0x5a);
  write_all(path, content);

  const auto loaded = store->load(true);
  CHECK_FALSE(loaded.key);
  CHECK_THAT(loaded.error, ContainsSubstring("cannot unseal"));
  // Refused, not replaced: `create` makes a key only where there is none.
  CHECK(read_all(path) == content);
}

TEST_CASE("DPAPI key store: a blob sealed without postured's entropy is refused", "[windows][key-store]") {
  postured::test::TempFolder dir("entropy");
  auto store = postured::open_master_key_store(dir.path());
  REQUIRE(store->load(true).key);
  // Another program's machine-scope blob of 32 bytes, in our file format.
  unsigned char secret[32] = {1, 2, 3};
  DATA_BLOB in{sizeof secret, secret};
  DATA_BLOB sealed{0, nullptr};
  REQUIRE(::CryptProtectData(&in, L"other", nullptr, nullptr, nullptr, CRYPTPROTECT_LOCAL_MACHINE, &sealed));
  std::string content = "postured-dpapi-v1\n";
  content.append(reinterpret_cast<const char*>(sealed.pbData), sealed.cbData);
  ::LocalFree(sealed.pbData);
  write_all(dir.path() / "keys" / "master.key", content);

  const auto loaded = store->load(false);
  CHECK_FALSE(loaded.key);
  CHECK_THAT(loaded.error, ContainsSubstring("cannot unseal"));
}

TEST_CASE("DPAPI key store: a file that is not a key file is refused", "[windows][key-store]") {
  postured::test::TempFolder dir("notkey");
  auto store = postured::open_master_key_store(dir.path());
  REQUIRE(store->load(true).key);
  write_all(dir.path() / "keys" / "master.key", std::string(32, 'k'));  // a raw key, as on Linux
  const auto loaded = store->load(false);
  CHECK_FALSE(loaded.key);
  CHECK_THAT(loaded.error, ContainsSubstring("is not a postured key file"));
}

TEST_CASE("DPAPI key store: a key file whose DACL lets Everyone read is refused, never repaired",
          "[windows][key-store]") {
  postured::test::TempFolder dir("widedacl");
  auto store = postured::open_master_key_store(dir.path());
  REQUIRE(store->load(true).key);
  const auto path = dir.path() / "keys" / "master.key";
  set_dacl(path, L"D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;WD)");

  const auto loaded = store->load(true);
  CHECK_FALSE(loaded.key);
  CHECK_THAT(loaded.error, ContainsSubstring("S-1-1-0"));  // Everyone
  CHECK_THAT(loaded.error, ContainsSubstring("only SYSTEM and Administrators"));
  // Still wide afterwards: the store reports, it does not touch the DACL.
  CHECK_THAT(postured::windows::check_only_system_and_administrators(path), ContainsSubstring("S-1-1-0"));
}

TEST_CASE("DPAPI key store: a keys folder that Everyone may enter is refused", "[windows][key-store]") {
  postured::test::TempFolder dir("widefolder");
  auto store = postured::open_master_key_store(dir.path());
  REQUIRE(store->load(true).key);
  set_dacl(dir.path() / "keys", L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;WD)");
  const auto loaded = store->load(false);
  CHECK_FALSE(loaded.key);
  CHECK_THAT(loaded.error, ContainsSubstring("keys grants access to S-1-1-0"));
}

TEST_CASE("write_file_atomically: an owner-only file gets a protected DACL and replaces the old one",
          "[windows][atomic-file]") {
  postured::test::TempFolder dir("atomic");
  const auto path = dir.path() / "state.json";
  write_all(path, "old");
  set_dacl(path, L"D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;WD)");
  using std::filesystem::perms;
  REQUIRE_FALSE(postured::write_file_atomically(path, "new content", perms::owner_read | perms::owner_write));
  CHECK(read_all(path) == "new content");
  // The new file's own DACL, not the old file's wide one.
  CHECK(postured::windows::check_only_system_and_administrators(path) == "");
  // No temporary file is left beside it.
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}
