// What several policy rules look up on the same host: installed packages, user and group names.
// Read once per run and shared by every check of that run.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/host.hpp"

namespace postured::policy {

class HostFacts {
 public:
  explicit HostFacts(const Host& host) : host_(host) {}

  // True if dpkg records `name` as installed; nullopt when dpkg's status cannot be read (`why` says why).
  // A small self-contained lookup; agent/patch's inventory can replace it once it lands.
  std::optional<bool> package_installed(std::string_view name, std::string* why);
  // The name of `uid` in the host's /etc/passwd (or of `gid` in /etc/group); nullopt when there is none.
  std::optional<std::string> user_name(unsigned uid);
  std::optional<std::string> group_name(unsigned gid);

  const Host& host() const { return host_; }

 private:
  const Host& host_;
  std::optional<std::set<std::string>> installed_;
  std::string installed_error_;
  std::optional<std::map<unsigned, std::string>> users_;
  std::optional<std::map<unsigned, std::string>> groups_;
};

// The installed packages in the text of dpkg's status file (`Status: ... installed`).
std::set<std::string> parse_dpkg_installed(std::string_view status);

}  // namespace postured::policy
