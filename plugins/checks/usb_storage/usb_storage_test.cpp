#include <catch2/catch_test_macros.hpp>

#include "support/check_runner.hpp"

using postured::Status;
using postured::test::FixtureRoot;
using postured::test::run_check;

namespace {

constexpr const char* kId = "linux.usb.storage_blocked";

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The running kernel's module tree with usb-storage in it (FixtureRoot runs 6.1.0-18-amd64).
void kernel_with_usb_storage(FixtureRoot& root) {
  root.write("/lib/modules/6.1.0-18-amd64/kernel/drivers/usb/storage/usb-storage.ko", "")
      .write("/lib/modules/6.1.0-18-amd64/modules.builtin", "kernel/fs/ext4/ext4.ko\n")
      .write("/proc/modules", "ext4 1003520 1 - Live 0x0000000000000000\nuas 32768 0 - Live 0x0000000000000000\n");
}

}  // namespace

TEST_CASE("usb: no modprobe configuration fails", "[usb_storage]") {
  FixtureRoot root;
  kernel_with_usb_storage(root);
  root.write("/lib/modprobe.d/systemd.conf", "options bonding max_bonds=0\noptions dummy numdummies=0\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(outcome.evidence == "no 'install usb-storage /bin/false' in any modprobe.d/*.conf");
}

TEST_CASE("usb: install /bin/false and blacklist pass and name their lines", "[usb_storage]") {
  FixtureRoot root;
  kernel_with_usb_storage(root);
  root.write("/etc/modprobe.d/usb-storage.conf", "# CIS\ninstall usb-storage /bin/false\nblacklist usb-storage\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(outcome.evidence ==
        "install usb-storage /bin/false (/etc/modprobe.d/usb-storage.conf:2), blacklisted too "
        "(/etc/modprobe.d/usb-storage.conf:3)");
}

TEST_CASE("usb: without blacklist it passes but says so; '-' and '_' are the same", "[usb_storage]") {
  FixtureRoot root;
  kernel_with_usb_storage(root);
  root.write("/usr/lib/modprobe.d/hardening.conf", "  install   usb_storage /usr/bin/true\n");
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "install usb-storage /usr/bin/true (/usr/lib/modprobe.d/hardening.conf:1)"));
  CHECK(has(outcome.evidence, "not blacklisted"));
}

TEST_CASE("usb: blacklist alone fails, it does not stop modprobe usb-storage", "[usb_storage]") {
  FixtureRoot root;
  kernel_with_usb_storage(root);
  root.write("/etc/modprobe.d/blacklist.conf", "blacklist usb_storage\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "only 'blacklist usb-storage' at /etc/modprobe.d/blacklist.conf:1"));
}

TEST_CASE("usb: comments, other modules and non-.conf files do not count", "[usb_storage]") {
  FixtureRoot root;
  kernel_with_usb_storage(root);
  root.write("/etc/modprobe.d/a.conf", "# install usb-storage /bin/false\ninstall usb-storagex /bin/false\n")
      .write("/etc/modprobe.d/usb-storage.conf.dpkg-old", "install usb-storage /bin/false\n")
      .write("/etc/modprobe.d/usb-storage", "install usb-storage /bin/false\n");
  CHECK(run_check(kId, root).status == Status::fail);
}

TEST_CASE("usb: the first matching install wins, and a file in /etc hides its namesake", "[usb_storage]") {
  FixtureRoot root;
  kernel_with_usb_storage(root);
  root.write("/lib/modprobe.d/50-block.conf", "install usb-storage /bin/false\n")
      .write("/etc/modprobe.d/10-vendor.conf", "install usb* /sbin/modprobe --ignore-install $CMDLINE_OPTS\n");
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence,
            "install usb-storage runs '/sbin/modprobe --ignore-install $CMDLINE_OPTS' "
            "(/etc/modprobe.d/10-vendor.conf:1)"));

  root.remove("/etc/modprobe.d/10-vendor.conf");
  CHECK(run_check(kId, root).status == Status::pass);
  root.write("/etc/modprobe.d/50-block.conf", "# emptied by the administrator\n");
  CHECK(run_check(kId, root).status == Status::fail);
}

TEST_CASE("usb: a line continued with a backslash is one directive", "[usb_storage]") {
  FixtureRoot root;
  kernel_with_usb_storage(root);
  root.write("/etc/modprobe.d/usb.conf", "blacklist uas\ninstall \\\n  usb-storage /bin/false\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "(/etc/modprobe.d/usb.conf:2)"));
}

TEST_CASE("usb: a loaded usb_storage module fails even when configured", "[usb_storage]") {
  FixtureRoot root;
  kernel_with_usb_storage(root);
  root.write("/etc/modprobe.d/usb-storage.conf", "install usb-storage /bin/false\n")
      .write("/proc/modules", "usb_storage 81920 1 uas, Live 0x0000000000000000\nuas 32768 0 - Live 0x0\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "usb_storage is loaded now (/proc/modules)"));
  CHECK(has(outcome.evidence, "loaded before that took effect"));
}

TEST_CASE("usb: a usb-storage built into the kernel cannot be blocked", "[usb_storage]") {
  FixtureRoot root;
  root.write("/etc/modprobe.d/usb-storage.conf", "install usb-storage /bin/false\n")
      .write("/lib/modules/6.1.0-18-amd64/modules.builtin",
             "kernel/fs/ext4/ext4.ko\nkernel/drivers/usb/storage/usb-storage.ko\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "built into the running kernel"));
}

TEST_CASE("usb: a kernel without the module is still judged on its configuration", "[usb_storage]") {
  FixtureRoot root;
  root.mkdir("/lib/modules/6.1.0-18-amd64/kernel/fs").write("/proc/modules", "ext4 1003520 1 - Live 0x0\n");
  CHECK(run_check(kId, root).status == Status::fail);
  root.write("/etc/modprobe.d/usb-storage.conf", "install usb-storage /bin/false\nblacklist usb-storage\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "the running kernel has no usb-storage module"));
}

TEST_CASE("usb: a kernel without loadable modules is said so, and still judged", "[usb_storage]") {
  FixtureRoot root;  // no /proc/modules, as on a VM kernel built without CONFIG_MODULES
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(outcome.evidence ==
        "no 'install usb-storage /bin/false' in any modprobe.d/*.conf; the running kernel cannot load modules (no "
        "/proc/modules)");
  root.write("/etc/modprobe.d/usb-storage.conf", "install usb-storage /bin/false\n");
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "cannot load modules"));
}

TEST_CASE("usb: an unreadable modprobe.d file is an error", "[usb_storage]") {
  FixtureRoot root;
  kernel_with_usb_storage(root);
  root.write("/etc/modprobe.d/usb-storage.conf", "install usb-storage /bin/false\n").mkdir("/run/modprobe.d/x.conf");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::error);
  CHECK(outcome.evidence == "cannot read /run/modprobe.d/x.conf: is a directory");
}
