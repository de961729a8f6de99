#include "core/device.hpp"

#include "core/registry_view.hpp"
#include "core/text.hpp"
#include "core/version.hpp"

namespace postured {
namespace {

std::string unquote(std::string_view value) {
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
    const char quote = value.front();
    value = value.substr(1, value.size() - 2);
    if (quote == '\'') return std::string(value);
    std::string out;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\\' && i + 1 < value.size()) ++i;
      out += value[i];
    }
    return out;
  }
  return std::string(value);
}

}  // namespace

std::map<std::string, std::string> parse_os_release(std::string_view content) {
  std::map<std::string, std::string> fields;
  for (const auto raw : text::lines(content)) {
    const std::string line(text::trim(raw));
    if (line.empty() || line.front() == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    fields[line.substr(0, eq)] = unquote(text::trim(std::string_view(line).substr(eq + 1)));
  }
  return fields;
}

DeviceInfo identify_device(const Host& host, const AgentConfig& agent) {
  DeviceInfo device;
  device.id = agent.device_id;
  device.store_id = agent.store_id;
  device.hostname = host.hostname();
  device.os.kernel = host.kernel_release();
  device.agent_version = kAgentVersion;
  if (const auto* registry = host.registry()) {
    // Windows has no machine-id or os-release: the registry says what `winver` shows, and setup
    // gives every installation its own MachineGuid.
    const auto text = [&](std::string_view key, std::string_view name) {
      return read_registry_text(*registry, key, name).value_or("");
    };
    constexpr std::string_view kVersionKey = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion";
    if (device.id.empty()) device.id = text("HKLM\\SOFTWARE\\Microsoft\\Cryptography", "MachineGuid");
    device.os.id = "windows";
    device.os.version_id = text(kVersionKey, "DisplayVersion");
    if (device.os.version_id.empty()) device.os.version_id = text(kVersionKey, "CurrentBuild");
    device.os.pretty_name = text(kVersionKey, "ProductName");
    if (const auto display = text(kVersionKey, "DisplayVersion"); !display.empty())
      device.os.pretty_name += " " + display;
    return device;
  }
  if (device.id.empty()) {
    if (auto machine_id = host.read_file("/etc/machine-id")) device.id = std::string(text::trim(*machine_id));
  }
  auto os_release = host.read_file("/etc/os-release");
  if (!os_release) os_release = host.read_file("/usr/lib/os-release");
  if (os_release) {
    auto fields = parse_os_release(*os_release);
    device.os.id = fields["ID"];
    device.os.version_id = fields["VERSION_ID"];
    device.os.pretty_name = fields["PRETTY_NAME"];
  }
  return device;
}

}  // namespace postured
