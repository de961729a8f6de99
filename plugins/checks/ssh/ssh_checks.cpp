// linux.ssh.*: the OpenSSH server's global authentication settings.
#include <charconv>
#include <functional>

#include "core/check.hpp"
#include "core/text.hpp"
#include "ssh/sshd_config.hpp"

namespace postured::checks {
namespace {

// One sshd keyword judged against a rule; `fallback` is OpenSSH's compiled-in default.
class SshdSettingCheck final : public Check {
 public:
  using Judge = std::function<bool(const std::string& value)>;

  SshdSettingCheck(CheckInfo info, std::string keyword, std::string display, std::string fallback, std::string want,
                   Judge ok)
      : Check(std::move(info)),
        keyword_(std::move(keyword)),
        display_(std::move(display)),
        fallback_(std::move(fallback)),
        want_(std::move(want)),
        ok_(std::move(ok)) {}

  Outcome run(const Context& context) const override {
    if (!sshd_installed(context.host)) return Outcome::not_applicable("OpenSSH server is not installed");
    if (!context.host.exists("/etc/ssh/sshd_config")) {
      return judge(fallback_, "no /etc/ssh/sshd_config, so OpenSSH's default applies");
    }
    const auto config = read_sshd_config(context.host);
    if (!config.error.empty()) return Outcome::error("cannot read the sshd configuration: " + config.error);
    if (const auto value = config.value(keyword_)) return judge(*value, "set in " + config.origin(keyword_));
    return judge(fallback_, "not set, OpenSSH's default");
  }

 private:
  Outcome judge(const std::string& value, const std::string& where) const {
    const auto evidence = display_ + " " + value + " (" + where + ")";
    return ok_(value) ? Outcome::pass(evidence) : Outcome::fail(evidence + "; want " + want_);
  }

  std::string keyword_, display_, fallback_, want_;
  Judge ok_;
};

}  // namespace

CheckList make_ssh_checks() {
  CheckList checks;
  checks.push_back(std::make_unique<SshdSettingCheck>(
      CheckInfo{"linux.ssh.permit_root_login",
                "SSH does not allow root to log in",
                Severity::high,
                "Set 'PermitRootLogin no' in /etc/ssh/sshd_config (before any Match block), log in as a named user "
                "and use sudo, then reload sshd.",
                {"PCI DSS 4.0 2.2.6", "PCI DSS 4.0 8.2.2", "CIS Debian 12 5.1.20"}},
      "permitrootlogin", "PermitRootLogin", "prohibit-password", "no",
      [](const std::string& v) { return text::iequals(v, "no"); }));
  checks.push_back(std::make_unique<SshdSettingCheck>(
      CheckInfo{"linux.ssh.password_authentication",
                "SSH accepts keys, not passwords",
                Severity::medium,
                "Set 'PasswordAuthentication no' in /etc/ssh/sshd_config once every administrator has a key, then "
                "reload sshd.",
                {"PCI DSS 4.0 8.3.1", "PCI DSS 4.0 8.3.6"}},
      "passwordauthentication", "PasswordAuthentication", "yes", "no",
      [](const std::string& v) { return text::iequals(v, "no"); }));
  checks.push_back(std::make_unique<SshdSettingCheck>(
      CheckInfo{"linux.ssh.max_auth_tries",
                "SSH limits authentication attempts",
                Severity::medium,
                "Set 'MaxAuthTries 4' (or fewer) in /etc/ssh/sshd_config, then reload sshd.",
                {"PCI DSS 4.0 8.3.4", "CIS Debian 12 5.1.16"}},
      "maxauthtries", "MaxAuthTries", "6", "4 or fewer",
      [](const std::string& v) {
        int tries = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), tries);
        return ec == std::errc{} && end == v.data() + v.size() && tries >= 1 && tries <= 4;
      }));
  return checks;
}

}  // namespace postured::checks
