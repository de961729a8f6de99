// Who and what this device is: the block that heads every doctor document and report.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/host.hpp"

namespace postured {

struct OsInfo {
  std::string id;           // os-release ID, e.g. "debian"
  std::string version_id;   // e.g. "12"
  std::string pretty_name;  // e.g. "Debian GNU/Linux 12 (bookworm)"
  std::string kernel;       // uname -r
};

struct DeviceInfo {
  std::string id;
  std::string store_id;
  std::string hostname;
  OsInfo os;
  std::string agent_version;
};

// os-release(5): KEY=value lines, values optionally quoted with shell escapes.
std::map<std::string, std::string> parse_os_release(std::string_view text);

// Device id from the config, else /etc/machine-id; OS from /etc/os-release (or /usr/lib/os-release).
DeviceInfo identify_device(const Host& host, const AgentConfig& agent);

}  // namespace postured
