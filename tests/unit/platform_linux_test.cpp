#include <catch2/catch_test_macros.hpp>

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "core/atomic_file.hpp"
#include "core/idle_memory.hpp"
#include "core/service_manager.hpp"
#include "support/fixture_root.hpp"
#include "support/unix_socket.hpp"

using postured::test::FixtureRoot;

TEST_CASE("the host reads below its root and explains what it cannot read", "[host]") {
  FixtureRoot root;
  root.write("/etc/a.conf", "alpha").mkdir("/etc/dir");
  const auto host = root.host();
  CHECK(host->read_file("/etc/a.conf") == "alpha");
  CHECK(host->read_file("etc/a.conf") == "alpha");  // relative means the same
  std::string why;
  CHECK_FALSE(host->read_file("/etc/missing", &why));
  CHECK(why == "not found");
  CHECK_FALSE(host->read_file("/etc/dir", &why));
  CHECK(why == "is a directory");
  CHECK(host->exists("/etc/dir"));
  CHECK(host->list_dir("/etc") == std::vector<std::string>{"a.conf", "dir"});
  CHECK(host->list_dir("/nope").empty());
  CHECK(host->kernel_release() == "6.1.0-18-amd64");
  CHECK(host->hostname() == "pos-test-01");
}

TEST_CASE("glob matches per component, sorted, and skips hidden files", "[host]") {
  FixtureRoot root;
  root.write("/etc/modprobe.d/b.conf", "").write("/etc/modprobe.d/a.conf", "").write("/etc/modprobe.d/.hidden.conf", "");
  root.write("/etc/modprobe.d/x.txt", "").write("/lib/modules/6.1.0-18-amd64/modules.dep", "");
  root.write("/lib/modules/6.1.0-21-amd64/modules.dep", "");
  const auto host = root.host();
  CHECK(host->glob("/etc/modprobe.d/*.conf") == std::vector<std::string>{"/etc/modprobe.d/a.conf", "/etc/modprobe.d/b.conf"});
  CHECK(host->glob("/lib/modules/*/modules.dep").size() == 2);
  CHECK(host->glob("/lib/modules/6.1.0-2?-amd64") == std::vector<std::string>{"/lib/modules/6.1.0-21-amd64"});
  CHECK(host->glob("/nothing/*").empty());
}

TEST_CASE("services are enabled through wants links or SysV start links, and masking wins", "[host]") {
  FixtureRoot root;
  root.symlink("/lib/systemd/system/auditd.service", "/etc/systemd/system/multi-user.target.wants/auditd.service");
  root.symlink("/etc/init.d/ntp", "/etc/rc2.d/S01ntp");
  root.symlink("/lib/systemd/system/chrony.service", "/etc/systemd/system/multi-user.target.wants/chrony.service");
  root.symlink("/dev/null", "/etc/systemd/system/chrony.service");
  const auto host = root.host();
  CHECK(host->service_enabled("auditd.service"));
  CHECK(host->service_enabled("ntp.service"));
  CHECK_FALSE(host->service_enabled("chrony.service"));
  CHECK_FALSE(host->service_enabled("ufw.service"));
}

TEST_CASE("running processes are found by their command name", "[host]") {
  FixtureRoot root;
  root.process(1, "systemd").process(412, "chronyd").write("/proc/self/comm", "ignored\n");
  const auto host = root.host();
  CHECK(host->process_running("chronyd"));
  CHECK_FALSE(host->process_running("ignored"));
  CHECK_FALSE(host->process_running("auditd"));
  // comm holds 15 characters; a longer name is compared by its first 15.
  root.process(7, "systemd-timesyn");
  CHECK(root.host()->process_running("systemd-timesyncd"));
}

TEST_CASE("the real host answers for this machine", "[host]") {
  const auto host = postured::open_host("/");
  CHECK_FALSE(host->kernel_release().empty());
  CHECK_FALSE(host->hostname().empty());
  char comm[64] = {};
  std::ifstream("/proc/" + std::to_string(::getpid()) + "/comm").getline(comm, sizeof comm);
  CHECK(postured::open_host("/")->process_running(comm));
}

TEST_CASE("sd_notify datagrams reach the socket named by NOTIFY_SOCKET", "[systemd]") {
  FixtureRoot dir;
  const auto path = (dir.path() / "notify.sock").string();
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  auto address = postured::test::unix_address(path);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  const auto manager = postured::connect_service_manager();
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  CHECK(manager->watchdog_interval() == std::chrono::seconds(30));

  const auto receive = [&] {
    char buffer[256] = {};
    const auto n = ::recv(fd, buffer, sizeof buffer - 1, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string("<nothing>");
  };
  manager->ready();
  CHECK(receive() == "READY=1\nSTATUS=serving");
  manager->watchdog();
  CHECK(receive() == "WATCHDOG=1");
  manager->reloading();
  CHECK(receive().rfind("RELOADING=1", 0) == 0);
  manager->stopping();
  CHECK(receive().rfind("STOPPING=1", 0) == 0);
  ::close(fd);
}

TEST_CASE("a watchdog meant for another process is ignored, and no socket means silence", "[systemd]") {
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  ::setenv("WATCHDOG_PID", "1", 1);
  const auto manager = postured::connect_service_manager();
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  CHECK_FALSE(manager->watchdog_interval());
  manager->ready();  // no NOTIFY_SOCKET: nothing to send, nothing fails
}

TEST_CASE("atomic writes replace the file whole, with the given mode", "[atomic]") {
  FixtureRoot dir;
  const auto file = dir.path() / "state.json";
  REQUIRE_FALSE(postured::write_file_atomically(file, "first", std::filesystem::perms::owner_read |
                                                                   std::filesystem::perms::owner_write));
  REQUIRE_FALSE(postured::write_file_atomically(file, "second", std::filesystem::perms::owner_read |
                                                                    std::filesystem::perms::owner_write));
  std::ifstream in(file);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  CHECK(content == "second");
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  int files = 0;  // no temporary file is left beside it
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    files += entry.path().filename().string().rfind("state.json", 0) == 0 ? 1 : 0;
  }
  CHECK(files == 1);
  CHECK(postured::write_file_atomically(dir.path() / "missing-dir" / "x", "y", std::filesystem::perms::owner_read));
}

namespace {

// This process's resident pages of mapped files, in KiB (/proc/self/status RssFile).
long rss_file_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssFile:", 0) == 0) return std::stol(line.substr(8));
  }
  return -1;
}

}  // namespace

TEST_CASE("idle memory: pages of a file only this process maps leave its RSS, and read back the same",
          "[idle]") {
  // On disk, not tmpfs: tmpfs pages could only go to swap, and the kernel keeps them.
  const auto path = std::filesystem::current_path() / ("idle-memory-" + std::to_string(::getpid()) + ".bin");
  struct statfs fs_info {};
  REQUIRE(::statfs(std::filesystem::current_path().c_str(), &fs_info) == 0);
  if (fs_info.f_type == TMPFS_MAGIC) SKIP("the working folder is tmpfs");
  constexpr std::size_t kBytes = 8 << 20;
  {
    std::string content(kBytes, '\0');
    for (std::size_t i = 0; i < kBytes; ++i) content[i] = static_cast<char>(i * 131 + (i >> 12));
    std::ofstream(path, std::ios::binary) << content;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  void* mapped = ::mmap(nullptr, kBytes, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  std::filesystem::remove(path);
  REQUIRE(mapped != MAP_FAILED);
  const auto* bytes = static_cast<const unsigned char*>(mapped);
  const auto checksum = [&] {
    unsigned long sum = 0;
    for (std::size_t i = 0; i < kBytes; i += 64) sum = sum * 31 + bytes[i];
    return sum;
  };
  const auto first = checksum();  // every page resident now
  const long before = rss_file_kib();
  postured::release_idle_memory();
  const long after = rss_file_kib();
  INFO("RssFile before " << before << " KiB, after " << after << " KiB");
  CHECK(before - after >= 6 * 1024);  // the 8 MiB mapping, less what the kernel declines
  CHECK(checksum() == first);          // paged back in, unchanged
  ::munmap(mapped, kBytes);
}
