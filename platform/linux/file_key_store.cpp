// The master key on Linux: 32 random bytes in <state_dir>/keys/master.key, mode 0600 (or 0400),
// owned by the agent's user, in a 0700 folder. Anything else is refused: a key that other users
// could have read is no longer secret, and "fixing" the mode would hide that.
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/atomic_file.hpp"
#include "core/key_store.hpp"

namespace postured {
namespace {

std::string describe_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

class FileKeyStore final : public MasterKeyStore {
 public:
  explicit FileKeyStore(const std::filesystem::path& state_dir)
      : dir_(state_dir / "keys"), file_(dir_ / "master.key") {}

  std::string location() const override { return file_.string(); }

  MasterKeyResult load(bool create) override {
    struct stat st {};
    if (::lstat(dir_.c_str(), &st) != 0) {
      if (errno != ENOENT) return fail("cannot inspect " + dir_.string() + ": " + std::strerror(errno));
      if (!create) return fail("no master key yet (" + file_.string() + ")");
      std::error_code ec;
      std::filesystem::create_directories(dir_.parent_path(), ec);
      if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
        return fail("cannot create " + dir_.string() + ": " + std::strerror(errno));
      }
      if (::lstat(dir_.c_str(), &st) != 0) return fail("cannot inspect " + dir_.string());
    }
    if (!S_ISDIR(st.st_mode)) return fail(dir_.string() + " is not a directory");
    if (st.st_uid != ::geteuid()) return fail(dir_.string() + " is not owned by uid " + std::to_string(::geteuid()));
    if ((st.st_mode & 077) != 0) {
      return fail(dir_.string() + " has mode " + describe_mode(st.st_mode) + "; it must be 0700");
    }

    if (::lstat(file_.c_str(), &st) != 0) {
      if (errno != ENOENT) return fail("cannot inspect " + file_.string() + ": " + std::strerror(errno));
      if (!create) return fail("no master key yet (" + file_.string() + ")");
      return make_key();
    }
    if (!S_ISREG(st.st_mode)) return fail(file_.string() + " is not a regular file");
    if (st.st_uid != ::geteuid()) return fail(file_.string() + " is not owned by uid " + std::to_string(::geteuid()));
    if ((st.st_mode & 0177) != 0) {
      return fail(file_.string() + " has mode " + describe_mode(st.st_mode) + "; it must be 0600 or 0400");
    }
    if (st.st_size != static_cast<off_t>(SecretKey::size())) {
      return fail(file_.string() + " is " + std::to_string(st.st_size) + " bytes, not 32");
    }
    const int fd = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return fail("cannot open " + file_.string() + ": " + std::strerror(errno));
    SecretKey key;
    const auto n = ::read(fd, key.data(), key.size());
    ::close(fd);
    if (n != static_cast<ssize_t>(key.size())) return fail("cannot read " + file_.string());
    return {key, {}};
  }

 private:
  MasterKeyResult make_key() {
    SecretKey key;
    std::size_t filled = 0;
    while (filled < key.size()) {
      const auto n = ::getrandom(key.data() + filled, key.size() - filled, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail(std::string("getrandom failed: ") + std::strerror(errno));
      }
      filled += static_cast<std::size_t>(n);
    }
    const std::string_view bytes(reinterpret_cast<const char*>(key.data()), key.size());
    if (const auto ec = write_file_atomically(file_, bytes, std::filesystem::perms::owner_read |
                                                               std::filesystem::perms::owner_write)) {
      return fail("cannot write " + file_.string() + ": " + ec.message());
    }
    return {key, {}};
  }

  static MasterKeyResult fail(std::string why) { return {std::nullopt, std::move(why)}; }

  std::filesystem::path dir_;
  std::filesystem::path file_;
};

}  // namespace

std::unique_ptr<MasterKeyStore> open_master_key_store(const std::filesystem::path& state_dir) {
  return std::make_unique<FileKeyStore>(state_dir);
}

}  // namespace postured
