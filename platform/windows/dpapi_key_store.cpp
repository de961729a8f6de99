// The master key on Windows: 32 random bytes sealed with DPAPI in machine scope
// (CryptProtectData with CRYPTPROTECT_LOCAL_MACHINE and a fixed entropy), kept in
// <state_dir>\keys\master.key, file and folder with a protected DACL of SYSTEM and Administrators.
//
// Machine scope means any process on this machine can unseal the blob; it is the DACL that keeps
// other accounts from reading it, which is why a wider DACL is refused, never repaired (same contract
// as the 0600 file on Linux). What DPAPI adds: the file copied to another machine, or read from a
// stolen disk without the machine's DPAPI secrets, does not give the key.
#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <bcrypt.h>
#include <dpapi.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <vector>

#include "core/key_store.hpp"
#include "file_security.hpp"
#include "utf16.hpp"

namespace postured {
namespace {

namespace fs = std::filesystem;

// The key file's format, stated once.
namespace key_file {
// First bytes of the file: says what it is and which layout follows (the DPAPI blob).
constexpr std::string_view kMagic = "postured-dpapi-v1\n";
// Mixed into DPAPI's sealing: another program that unseals machine-scope blobs without it gets nothing.
constexpr std::string_view kEntropy = "postured.master-key.v1";
// Shown by DPAPI tools next to the blob; not secret.
constexpr const wchar_t* kDescription = L"postured device master key";
// A sealed 32-byte key is some 230 bytes; anything far larger is not ours.
constexpr std::uintmax_t kMaxBytes = 4096;
}  // namespace key_file

DATA_BLOB blob_of(std::string_view bytes) {
  return DATA_BLOB{static_cast<DWORD>(bytes.size()), reinterpret_cast<BYTE*>(const_cast<char*>(bytes.data()))};
}

// Frees (and for plaintext, wipes) what CryptProtectData / CryptUnprotectData allocated.
struct LocalBlob {
  DATA_BLOB blob{0, nullptr};
  bool secret = false;
  ~LocalBlob() {
    if (blob.pbData == nullptr) return;
    if (secret) ::SecureZeroMemory(blob.pbData, blob.cbData);
    ::LocalFree(blob.pbData);
  }
};

class DpapiKeyStore final : public MasterKeyStore {
 public:
  explicit DpapiKeyStore(const fs::path& state_dir) : dir_(state_dir / "keys"), file_(dir_ / "master.key") {}

  std::string location() const override { return file_.string(); }

  MasterKeyResult load(bool create) override {
    std::string why;
    auto security = windows::SecurityDescriptor::from_sddl(windows::sddl::kSystemAndAdministrators, &why);
    if (!security) return fail(why);

    std::error_code ec;
    const auto dir_status = fs::symlink_status(dir_, ec);
    if (!fs::exists(dir_status)) {
      if (!create) return fail("no master key yet (" + file_.string() + ")");
      fs::create_directories(dir_.parent_path(), ec);
      // Created with its DACL in place: there is no moment at which the folder is open to others.
      if (!::CreateDirectoryW(dir_.c_str(), security->attributes()) && ::GetLastError() != ERROR_ALREADY_EXISTS) {
        return fail("cannot create " + dir_.string() + ": " + windows::last_error_text());
      }
    } else if (!fs::is_directory(dir_status)) {
      return fail(dir_.string() + " is not a directory");
    }
    if (auto wrong = windows::check_only_system_and_administrators(dir_); !wrong.empty()) return fail(wrong);

    const auto file_status = fs::symlink_status(file_, ec);
    if (!fs::exists(file_status)) {
      if (!create) return fail("no master key yet (" + file_.string() + ")");
      return make_key(*security);
    }
    if (!fs::is_regular_file(file_status)) return fail(file_.string() + " is not a regular file");
    if (auto wrong = windows::check_only_system_and_administrators(file_); !wrong.empty()) return fail(wrong);
    const auto size = fs::file_size(file_, ec);
    if (ec || size > key_file::kMaxBytes) return fail(file_.string() + " is not a postured key file (size)");
    std::ifstream in(file_, std::ios::binary);
    std::string content(static_cast<std::size_t>(size), '\0');
    if (!in || !in.read(content.data(), static_cast<std::streamsize>(content.size()))) {
      return fail("cannot read " + file_.string());
    }
    if (content.compare(0, key_file::kMagic.size(), key_file::kMagic) != 0) {
      return fail(file_.string() + " is not a postured key file (it does not start with " +
                  std::string(key_file::kMagic.substr(0, key_file::kMagic.size() - 1)) + ")");
    }
    return unseal(std::string_view(content).substr(key_file::kMagic.size()));
  }

 private:
  MasterKeyResult unseal(std::string_view sealed) const {
    DATA_BLOB in = blob_of(sealed);
    DATA_BLOB entropy = blob_of(key_file::kEntropy);
    LocalBlob out;
    out.secret = true;
    if (!::CryptUnprotectData(&in, nullptr, &entropy, nullptr, nullptr, CRYPTPROTECT_UI_FORBIDDEN, &out.blob)) {
      // A changed byte, another machine's blob, or another entropy: DPAPI's integrity check fails.
      return fail("cannot unseal " + file_.string() +
                  " with DPAPI (damaged, or sealed on another machine): " + windows::last_error_text());
    }
    if (out.blob.cbData != SecretKey::size()) {
      return fail(file_.string() + " holds " + std::to_string(out.blob.cbData) + " bytes, not 32");
    }
    SecretKey key;
    std::copy_n(out.blob.pbData, SecretKey::size(), key.data());
    return {key, {}};
  }

  MasterKeyResult make_key(windows::SecurityDescriptor& security) const {
    SecretKey key;
    const NTSTATUS status =
        ::BCryptGenRandom(nullptr, key.data(), static_cast<ULONG>(key.size()), BCRYPT_USE_SYSTEM_PREFERRED_RNG);
    if (status < 0) return fail("BCryptGenRandom failed: NTSTATUS " + std::to_string(status));
    DATA_BLOB in{static_cast<DWORD>(key.size()), key.data()};
    DATA_BLOB entropy = blob_of(key_file::kEntropy);
    LocalBlob sealed;
    if (!::CryptProtectData(&in, key_file::kDescription, &entropy, nullptr, nullptr,
                            CRYPTPROTECT_LOCAL_MACHINE | CRYPTPROTECT_UI_FORBIDDEN, &sealed.blob)) {
      return fail("cannot seal the master key with DPAPI: " + windows::last_error_text());
    }
    std::string content(key_file::kMagic);
    content.append(reinterpret_cast<const char*>(sealed.blob.pbData), sealed.blob.cbData);
    if (const auto ec = windows::write_file_atomically(file_, content, security.attributes())) {
      return fail("cannot write " + file_.string() + ": " + windows::error_text(static_cast<DWORD>(ec.value())));
    }
    return {key, {}};
  }

  static MasterKeyResult fail(std::string why) { return {std::nullopt, std::move(why)}; }

  fs::path dir_;
  fs::path file_;
};

}  // namespace

std::unique_ptr<MasterKeyStore> open_master_key_store(const std::filesystem::path& state_dir) {
  return std::make_unique<DpapiKeyStore>(state_dir);
}

}  // namespace postured
