// Host on Linux: every absolute path is read below a root folder ("/" on a real device).
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "core/host.hpp"

namespace postured {
namespace {

namespace fs = std::filesystem;

// Files that checks read are small; anything larger is not what we think it is.
constexpr std::uintmax_t kMaxReadBytes = 16u << 20;

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!part.empty()) parts.emplace_back(part);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

bool has_wildcard(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

class LinuxHost final : public Host {
 public:
  explicit LinuxHost(fs::path root) : root_(std::move(root)) {}

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

  std::optional<FileStatus> file_status(std::string_view path) const override {
    struct stat info {};
    if (::stat(map(path).c_str(), &info) != 0) return std::nullopt;
    FileStatus status;
    status.type = S_ISREG(info.st_mode)   ? FileStatus::Type::regular
                  : S_ISDIR(info.st_mode) ? FileStatus::Type::directory
                                          : FileStatus::Type::other;
    status.mode = info.st_mode & 07777;
    status.uid = info.st_uid;
    status.gid = info.st_gid;
    return status;
  }

  std::vector<std::string> list_dir(std::string_view path) const override {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(map(path), ec), end; !ec && it != end; it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::vector<std::string> glob(std::string_view pattern) const override {
    std::vector<std::string> matches{""};
    for (const auto& part : split_path(pattern)) {
      std::vector<std::string> next;
      for (const auto& prefix : matches) {
        if (!has_wildcard(part)) {
          const auto candidate = prefix + "/" + part;
          if (exists(candidate)) next.push_back(candidate);
          continue;
        }
        for (const auto& name : list_dir(prefix.empty() ? "/" : prefix)) {
          if (::fnmatch(part.c_str(), name.c_str(), FNM_PERIOD) == 0) next.push_back(prefix + "/" + name);
        }
      }
      matches = std::move(next);
    }
    std::sort(matches.begin(), matches.end());
    return matches;
  }

  std::string kernel_release() const override { return first_line("/proc/sys/kernel/osrelease"); }

  std::string hostname() const override {
    auto name = first_line("/proc/sys/kernel/hostname");
    return name.empty() ? first_line("/etc/hostname") : name;
  }

  bool service_enabled(std::string_view unit) const override {
    const std::string name(unit);
    // A unit masked by the administrator never starts, whatever links point at it.
    std::error_code ec;
    const auto override_link = map("/etc/systemd/system/" + name);
    if (fs::is_symlink(override_link, ec) && fs::read_symlink(override_link, ec) == "/dev/null") return false;
    for (const auto* dir : {"/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}) {
      if (!glob(std::string(dir) + "/*.wants/" + name).empty()) return true;
    }
    // SysV init: a start link in a multi-user runlevel.
    const auto base = name.substr(0, name.rfind(".service"));
    return !glob("/etc/rc[2345].d/S[0-9][0-9]" + base).empty();
  }

  bool process_running(std::string_view comm) const override {
    if (!processes_) {
      processes_.emplace();
      for (const auto& entry : list_dir("/proc")) {
        if (entry.empty() || !std::all_of(entry.begin(), entry.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
        if (auto name = first_line("/proc/" + entry + "/comm"); !name.empty()) processes_->insert(std::move(name));
      }
    }
    return processes_->count(std::string(comm.substr(0, 15))) > 0;
  }

  std::optional<fs::path> local_path(std::string_view path) const override { return map(path); }

 private:
  fs::path map(std::string_view path) const {
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    return root_ / path;
  }

  std::string first_line(std::string_view path) const {
    auto text = read_file(path, nullptr);
    if (!text) return {};
    const auto end = text->find('\n');
    return text->substr(0, end);
  }

  static std::optional<std::string> fail(std::string* why, const char* reason) {
    if (why) *why = reason;
    return std::nullopt;
  }

  fs::path root_;
  mutable std::optional<std::set<std::string>> processes_;  // read once per Host: a cycle's snapshot
};

}  // namespace

std::unique_ptr<Host> open_host(const std::filesystem::path& root) { return std::make_unique<LinuxHost>(root); }

}  // namespace postured
