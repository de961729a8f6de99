// The effective global settings of OpenSSH's sshd, read the way sshd reads them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/host.hpp"

namespace postured::checks {

struct SshdConfig {
  // Lower-cased keyword → (value, "file:line" it came from). The first value wins, as in sshd.
  std::map<std::string, std::pair<std::string, std::string>> settings;
  std::vector<std::string> files;  // every file read, in order
  std::string error;               // set when a file could not be read or Include looped

  std::optional<std::string> value(const std::string& keyword) const;
  std::string origin(const std::string& keyword) const;
};

// Reads /etc/ssh/sshd_config and its Includes (globs, relative to /etc/ssh, depth ≤ 16).
// Settings inside Match blocks are conditional and ignored; global settings are what a check judges.
SshdConfig read_sshd_config(const Host& host);

// True if the OpenSSH server is installed (binary or config present).
bool sshd_installed(const Host& host);

}  // namespace postured::checks
