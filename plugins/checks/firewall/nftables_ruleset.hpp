// The base chains that an nftables configuration file defines, read the way `nft -f` reads it.
#pragma once

#include <string>
#include <vector>

#include "core/host.hpp"

namespace postured::checks {

struct NftChain {
  std::string family;  // ip, ip6, inet, arp, bridge, netdev ("ip" when the file leaves it out)
  std::string table;
  std::string name;
  std::string hook;                             // "input", "forward", ...; empty for a regular chain
  std::string policy;                           // "accept", "drop" or empty (nft's default is accept)
  std::vector<std::vector<std::string>> rules;  // words of each rule, in order; a {...} set is one word
  std::string origin;                           // "file:line" of the chain's first declaration
  bool dormant = false;                         // its table has `flags dormant`: nothing is filtered

  // "inet filter input"
  std::string display() const { return family + " " + table + " " + name; }
  // "drop" or "reject" when the last rule does that to every packet reaching it (counter and log
  // aside), else empty.
  std::string final_drop() const;
};

struct NftRuleset {
  std::vector<NftChain> chains;
  std::vector<std::string> files;  // every file read, in order
  std::string error;               // a file that exists but could not be read: the ruleset is unknown
  std::string broken;              // why `nft -f` would refuse the file (missing include, include loop)
};

// Reads `path` and its `include`s (globs; relative names are looked up in /etc, nft's include
// path on Debian; depth ≤ 16). Understands `table { chain { } }` blocks, `add chain`, `add rule`,
// `insert rule`, `flush ruleset`, `delete table` and `flags dormant`; other statements are skipped.
NftRuleset read_nftables_config(const Host& host, const std::string& path);

}  // namespace postured::checks
