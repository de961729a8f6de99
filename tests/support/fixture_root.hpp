// A throw-away filesystem root for tests: checks and the CLI run against it instead of the host.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "core/host.hpp"

namespace postured::test {

class FixtureRoot {
 public:
  FixtureRoot() {
    std::string pattern = (std::filesystem::temp_directory_path() / "postured-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    root_ = pattern;
    // Every fixture host has a kernel and a host name, as /proc gives them on a device.
    write("/proc/sys/kernel/osrelease", "6.1.0-18-amd64\n");
    write("/proc/sys/kernel/hostname", "pos-test-01\n");
  }
  ~FixtureRoot() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FixtureRoot(const FixtureRoot&) = delete;
  FixtureRoot& operator=(const FixtureRoot&) = delete;

  const std::filesystem::path& path() const { return root_; }
  std::filesystem::path real(std::string_view device_path) const {
    while (!device_path.empty() && device_path.front() == '/') device_path.remove_prefix(1);
    return root_ / device_path;
  }

  // Writes `content` at `device_path` (absolute as on the device), creating folders.
  FixtureRoot& write(std::string_view device_path, std::string_view content) {
    const auto file = real(device_path);
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
    return *this;
  }
  FixtureRoot& mkdir(std::string_view device_path) {
    std::filesystem::create_directories(real(device_path));
    return *this;
  }
  // A symlink at `device_path` pointing at `target` (stored as given, like systemd's links).
  FixtureRoot& symlink(std::string_view target, std::string_view device_path) {
    const auto link = real(device_path);
    std::filesystem::create_directories(link.parent_path());
    std::filesystem::create_symlink(target, link);
    return *this;
  }
  // A running process with command name `comm`.
  FixtureRoot& process(int pid, std::string_view comm) {
    return write("/proc/" + std::to_string(pid) + "/comm", std::string(comm) + "\n");
  }
  void remove(std::string_view device_path) { std::filesystem::remove_all(real(device_path)); }

  std::unique_ptr<Host> host() const { return open_host(root_); }

 private:
  std::filesystem::path root_;
};

}  // namespace postured::test
