// Whether the device must reboot to run the code it has installed: the reboot-required flag, a newer
// kernel of the running flavour, or the running kernel's package rebuilt in place.
#pragma once

#include <string>
#include <vector>

namespace postured {
class Host;
}

namespace postured::patch {

struct RebootAssessment {
  std::string error;                 // set when it cannot be told; then nothing else is meaningful
  std::string release;               // the running kernel, as `uname -r` prints it
  std::string flavour;               // "amd64", "cloud-amd64", "generic"; empty when the release has none
  std::vector<std::string> reasons;  // why a reboot is needed, one line each; empty: none is
  bool kernels_found = false;        // installed kernels were found to compare with
  std::string build_note;            // ", build B matches linux-image-X" when the package could be compared

  bool required() const { return error.empty() && !reasons.empty(); }
};

// Looks at /var/run/reboot-required (and .pkgs), the kernels in /boot and /lib/modules, and the
// running build against dpkg's linux-image package. See plugins/checks/kernel_reboot/README.md.
RebootAssessment assess_reboot(const Host& host);

}  // namespace postured::patch
