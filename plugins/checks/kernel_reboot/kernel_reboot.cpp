// linux.kernel.reboot_required: the device runs the newest kernel it has installed. The assessment
// itself lives in agent/patch (reboot.hpp), which the patch report's reboot_required shares.
#include <string>

#include "core/check.hpp"
#include "patch/reboot.hpp"

namespace postured::checks {
namespace {

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(separator)) + item;
  return out;
}

class KernelRebootCheck final : public Check {
 public:
  using Check::Check;

  Outcome run(const Context& context) const override {
    const auto reboot = patch::assess_reboot(context.host);
    if (!reboot.error.empty()) return Outcome::error(reboot.error);
    if (reboot.required()) return Outcome::fail("running kernel " + reboot.release + "; " + join(reboot.reasons, "; "));
    if (!reboot.kernels_found) {
      return Outcome::pass("running kernel " + reboot.release +
                           "; no installed kernels found in /boot or /lib/modules to compare (a container, or a VM "
                           "booted with an external kernel)");
    }
    return Outcome::pass("running kernel " + reboot.release + " is the newest installed " +
                         (reboot.flavour.empty() ? std::string("kernel") : reboot.flavour + " kernel") +
                         reboot.build_note + "; no reboot-required flag");
  }
};

}  // namespace

CheckList make_kernel_reboot_checks() {
  CheckList checks;
  checks.push_back(std::make_unique<KernelRebootCheck>(CheckInfo{
      "linux.kernel.reboot_required",
      "The device runs the newest installed kernel",
      Severity::high,
      "Reboot the device in the next maintenance window so that the installed kernel and library updates take "
      "effect (sudo systemctl reboot), then run posturectl doctor again.",
      {"PCI DSS 4.0 6.3.3",
       "CIS Debian 12: Ensure updates, patches, and additional security software are installed"}}));
  return checks;
}

}  // namespace postured::checks
