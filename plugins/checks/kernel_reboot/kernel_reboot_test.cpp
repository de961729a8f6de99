#include <catch2/catch_test_macros.hpp>

#include "support/check_runner.hpp"

using postured::Status;
using postured::test::FixtureRoot;
using postured::test::run_check;

namespace {

constexpr const char* kId = "linux.kernel.reboot_required";

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A Debian kernel as its package installs it: the image in /boot and the module tree.
void install_kernel(FixtureRoot& root, const std::string& release) {
  root.write("/boot/vmlinuz-" + release, "").mkdir("/lib/modules/" + release + "/kernel/drivers");
}

}  // namespace

TEST_CASE("kernel: running the newest installed kernel passes", "[kernel_reboot]") {
  FixtureRoot root;  // runs 6.1.0-18-amd64
  install_kernel(root, "6.1.0-17-amd64");
  install_kernel(root, "6.1.0-18-amd64");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "6.1.0-18-amd64 is the newest installed amd64 kernel"));
}

TEST_CASE("kernel: a newer kernel of the same flavour in /boot fails", "[kernel_reboot]") {
  FixtureRoot root;
  install_kernel(root, "6.1.0-18-amd64");
  root.write("/boot/vmlinuz-6.1.0-20-amd64", "");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "newer kernel installed: 6.1.0-20-amd64 (/boot/vmlinuz-6.1.0-20-amd64)"));
}

TEST_CASE("kernel: a newer module tree alone counts, a DKMS leftover does not", "[kernel_reboot]") {
  FixtureRoot root;
  install_kernel(root, "6.1.0-18-amd64");
  root.mkdir("/lib/modules/6.1.0-25-amd64/updates/dkms");  // left behind after the package was removed
  CHECK(run_check(kId, root).status == Status::pass);
  root.write("/usr/lib/modules/6.1.0-21-amd64/modules.builtin", "kernel/fs/ext4/ext4.ko\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "6.1.0-21-amd64 (/usr/lib/modules/6.1.0-21-amd64)"));
  CHECK(!has(outcome.evidence, "6.1.0-25"));
}

TEST_CASE("kernel: other flavours and older kernels are not compared", "[kernel_reboot]") {
  FixtureRoot root;
  install_kernel(root, "6.1.0-18-amd64");
  install_kernel(root, "6.1.0-30-cloud-amd64");
  install_kernel(root, "6.1.0-30-rt-amd64");
  install_kernel(root, "6.1.0-9-amd64");  // 9 < 18 numerically, though "9" > "1" as text
  root.write("/boot/vmlinuz-6.1.0-30-amd64.old", "");
  CHECK(run_check(kId, root).status == Status::pass);
}

TEST_CASE("kernel: versions order the way dpkg orders them", "[kernel_reboot]") {
  FixtureRoot root;
  root.write("/proc/sys/kernel/osrelease", "5.15.0-91-generic\n");
  install_kernel(root, "5.15.0-91-generic");
  install_kernel(root, "5.15.0-101-generic");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "5.15.0-101-generic"));

  FixtureRoot backports;
  backports.write("/proc/sys/kernel/osrelease", "6.5.0-0.deb12.4-amd64\n");
  install_kernel(backports, "6.5.0-0.deb12.4-amd64");
  install_kernel(backports, "6.5.0-0.deb12.1-amd64");
  CHECK(run_check(kId, backports).status == Status::pass);
}

TEST_CASE("kernel: the reboot-required flag fails and names its packages", "[kernel_reboot]") {
  FixtureRoot root;
  install_kernel(root, "6.1.0-18-amd64");
  root.write("/var/run/reboot-required", "*** System restart required ***\n")
      .write("/var/run/reboot-required.pkgs", "libc6\nlinux-image-6.1.0-18-amd64\nlibc6\nopenssl\nlibssl3\ndbus\n");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "/var/run/reboot-required exists"));
  CHECK(has(outcome.evidence, "(packages: libc6, linux-image-6.1.0-18-amd64, openssl +2 more)"));
}

TEST_CASE("kernel: the flag under /run counts too, with or without a package list", "[kernel_reboot]") {
  FixtureRoot root;
  root.write("/run/reboot-required", "");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "/run/reboot-required exists"));
  CHECK(!has(outcome.evidence, "packages"));
}

TEST_CASE("kernel: no installed kernels (container, external kernel) passes and says so", "[kernel_reboot]") {
  FixtureRoot root;
  root.write("/proc/sys/kernel/osrelease", "6.18.44-fc-v595\n").mkdir("/boot");
  const auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "no installed kernels found"));
}

TEST_CASE("kernel: an in-place rebuild of the running release is found through dpkg", "[kernel_reboot]") {
  FixtureRoot root;
  install_kernel(root, "6.1.0-18-amd64");
  root.write("/proc/version",
             "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld "
             "(GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)\n");
  const auto status = [](const std::string& version) {
    return "Package: linux-image-6.1.0-17-amd64\nStatus: install ok installed\nVersion: 6.1.99-1\n\n"
           "Package: linux-image-6.1.0-18-amd64\nStatus: install ok installed\nPriority: optional\nVersion: " +
           version + "\nDescription: Linux 6.1 for 64-bit PCs (signed)\n";
  };
  root.write("/var/lib/dpkg/status", status("6.1.76-1"));
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "build 6.1.76-1 matches linux-image-6.1.0-18-amd64"));

  root.write("/var/lib/dpkg/status", status("6.1.76-1+deb12u1"));
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "running build 6.1.76-1 but linux-image-6.1.0-18-amd64 6.1.76-1+deb12u1 is installed"));
}

TEST_CASE("kernel: Ubuntu's version signature gives the running build", "[kernel_reboot]") {
  FixtureRoot root;
  root.write("/proc/sys/kernel/osrelease", "5.15.0-91-generic\n")
      .write("/proc/version", "Linux version 5.15.0-91-generic (buildd@lcy02-amd64-045) #101-Ubuntu SMP\n")
      .write("/proc/version_signature", "Ubuntu 5.15.0-91.101-generic 5.15.131\n")
      .write("/var/lib/dpkg/status",
             "Package: linux-image-5.15.0-91-generic\nStatus: deinstall ok config-files\nVersion: 5.15.0-91.999\n");
  install_kernel(root, "5.15.0-91-generic");
  // Only config files left: not installed, so nothing to compare.
  CHECK(run_check(kId, root).status == Status::pass);
  root.write("/var/lib/dpkg/status",
             "Package: linux-image-unsigned-5.15.0-91-generic\nStatus: install ok installed\nVersion: 5.15.0-91.101\n");
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::pass);
  CHECK(has(outcome.evidence, "build 5.15.0-91.101 matches linux-image-unsigned-5.15.0-91-generic"));
  root.write("/var/lib/dpkg/status",
             "Package: linux-image-5.15.0-91-generic\nStatus: install ok installed\nVersion: 5.15.0-91.102\n");
  outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "running build 5.15.0-91.101 but linux-image-5.15.0-91-generic 5.15.0-91.102"));
}

TEST_CASE("kernel: an unreadable kernel release or dpkg database is an error", "[kernel_reboot]") {
  FixtureRoot root;
  root.remove("/proc/sys/kernel/osrelease");
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::error);
  CHECK(has(outcome.evidence, "/proc/sys/kernel/osrelease"));

  FixtureRoot dpkg;
  dpkg.write("/proc/version", "Linux version 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)\n")
      .mkdir("/var/lib/dpkg/status");
  outcome = run_check(kId, dpkg);
  CHECK(outcome.status == Status::error);
  CHECK(has(outcome.evidence, "cannot read /var/lib/dpkg/status: is a directory"));
}

TEST_CASE("kernel: release names of backports, trixie and Raspberry Pi OS split into version and flavour",
          "[kernel_reboot]") {
  FixtureRoot root;
  root.write("/proc/sys/kernel/osrelease", "6.5.0-0.deb12.1-amd64\n");
  install_kernel(root, "6.5.0-0.deb12.1-amd64");
  install_kernel(root, "6.5.0-0.deb12.4-amd64");
  auto outcome = run_check(kId, root);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "6.5.0-0.deb12.4-amd64"));

  FixtureRoot trixie;
  trixie.write("/proc/sys/kernel/osrelease", "6.12.38+deb13-amd64\n");
  install_kernel(trixie, "6.12.38+deb13-amd64");
  install_kernel(trixie, "6.12.41+deb13-cloud-amd64");
  CHECK(run_check(kId, trixie).status == Status::pass);
  install_kernel(trixie, "6.12.41+deb13-amd64");
  CHECK(run_check(kId, trixie).status == Status::fail);

  FixtureRoot pi;
  pi.write("/proc/sys/kernel/osrelease", "6.6.31+rpt-rpi-v8\n");
  install_kernel(pi, "6.6.31+rpt-rpi-v8");
  install_kernel(pi, "6.6.51+rpt-rpi-2712");
  CHECK(run_check(kId, pi).status == Status::pass);
  install_kernel(pi, "6.6.51+rpt-rpi-v8");
  outcome = run_check(kId, pi);
  CHECK(outcome.status == Status::fail);
  CHECK(has(outcome.evidence, "6.6.51+rpt-rpi-v8"));
}
