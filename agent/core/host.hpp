// The read-only view of a device that checks and identity use. Every path is absolute as seen on
// the device; the platform layer maps it below a root folder, so tests run checks on fixture trees.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postured {

class RegistryView;       // core/registry_view.hpp
class AccountPolicyView;  // core/registry_view.hpp

// What stat(2) says about a file: enough to judge permissions and ownership.
struct FileStatus {
  enum class Type { regular, directory, other };
  Type type = Type::other;
  unsigned mode = 0;  // permission bits with setuid, setgid and sticky (07777)
  unsigned uid = 0;
  unsigned gid = 0;
};

class Host {
 public:
  virtual ~Host() = default;

  // Contents of `path`, or nullopt when it cannot be read; then `why` (if given) says why.
  virtual std::optional<std::string> read_file(std::string_view path, std::string* why = nullptr) const = 0;
  // True if `path` exists (a dangling symlink counts as existing).
  virtual bool exists(std::string_view path) const = 0;
  // Type, mode and owner of `path` (following symlinks, like read_file), or nullopt when it is missing.
  virtual std::optional<FileStatus> file_status(std::string_view path) const = 0;
  // Names of the entries in directory `path`, sorted; empty if it is missing or unreadable.
  virtual std::vector<std::string> list_dir(std::string_view path) const = 0;
  // Absolute paths matching a shell glob (`*`, `?`, `[...]` within one component), sorted.
  virtual std::vector<std::string> glob(std::string_view pattern) const = 0;
  // Release of the running kernel, as `uname -r` prints it.
  virtual std::string kernel_release() const = 0;
  // The device's host name.
  virtual std::string hostname() const = 0;
  // True if the init system starts `unit` (e.g. "auditd.service") at boot.
  virtual bool service_enabled(std::string_view unit) const = 0;
  // True if a process whose command name (comm, at most 15 characters) is `comm` is running.
  virtual bool process_running(std::string_view comm) const = 0;
  // Where `path` of this host is in the agent's own file system, for a reader that must open the
  // file itself (a database); nullopt for a host whose files are not local.
  virtual std::optional<std::filesystem::path> local_path(std::string_view path) const {
    static_cast<void>(path);
    return std::nullopt;
  }
  // The host's Windows registry; null where there is none (Linux, a folder below --root).
  virtual const RegistryView* registry() const { return nullptr; }
  // The host's local account policy (password length, lockout, Guest); null where there is none.
  virtual const AccountPolicyView* account_policy() const { return nullptr; }
};

// The host below `root` ("/" for the real device). Implemented by the platform layer.
std::unique_ptr<Host> open_host(const std::filesystem::path& root);

}  // namespace postured
