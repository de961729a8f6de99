#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <random>

namespace postured {
namespace {

std::error_code last_error() { return {errno, std::generic_category()}; }

// Closes the descriptor on every path out of the function.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::error_code write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                      std::filesystem::perms mode) {
  std::random_device random;
  auto temp = path;
  temp += ".tmp." + std::to_string(random());
  Fd file{::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode))};
  if (file.fd < 0) return last_error();
  const auto fail = [&] {
    const auto ec = last_error();
    ::unlink(temp.c_str());
    return ec;
  };
  while (!content.empty()) {
    const auto written = ::write(file.fd, content.data(), content.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return fail();
    }
    content.remove_prefix(static_cast<std::size_t>(written));
  }
  if (::fsync(file.fd) != 0) return fail();
  if (::rename(temp.c_str(), path.c_str()) != 0) return fail();
  Fd dir{::open(path.parent_path().empty() ? "." : path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd >= 0) ::fsync(dir.fd);
  return {};
}

}  // namespace postured
