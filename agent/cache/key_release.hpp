// Key release: which local program may have a cache's key, and the one-line protocol it asks in
// (agent/cache/KEY_RELEASE.md). Platform-free: the platform layer identifies the peer and carries
// the bytes (key_release_server.hpp); everything decided or logged about a request is here.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "cache/cache_vault.hpp"
#include "core/config.hpp"
#include "core/secret.hpp"

namespace postured {

// The protocol's limits, stated once; KEY_RELEASE.md and the C client (key_client.c) repeat them.
namespace key_release {
// The socket's file name in agent.runtime_dir.
inline constexpr std::string_view kSocketName = "postured.sock";
// A request line with its '\n'. "KEY " + a 64-character name + '\n' is 69 bytes; the rest is slack
// for later versions, and a bound on what a stranger can make the daemon buffer.
inline constexpr std::size_t kMaxRequestBytes = 128;
// The longest cache name, as config_schema() allows it.
inline constexpr std::size_t kMaxNameLength = 64;
// A peer that connects and says nothing is cut off after this, so it cannot hold a slot.
inline constexpr std::chrono::seconds kReadTimeout{2};
// Connections served at once; more wait in the listen backlog until a slot frees (at most kReadTimeout).
inline constexpr std::size_t kMaxConnections = 16;
// Refusal reasons are cut to this length, so a reply always fits the client's buffer.
inline constexpr std::size_t kMaxReasonLength = 200;
}  // namespace key_release

// Who is asking, as the kernel vouches for it (SO_PEERCRED on Linux) at the time of connecting.
struct PeerIdentity {
  long long pid = 0;
  long long uid = -1;
  std::filesystem::path exe;  // the running program's resolved path; empty when it cannot be read
};

struct KeyReleaseDecision {
  std::optional<SecretKey> key;  // set when the key is released
  std::string refusal;           // otherwise why not, short enough for a reply and a log line

  bool granted() const { return key.has_value(); }
};

// Releases the key of `cache_name` only to its owner: the peer's program must be owner_exe exactly
// and its uid owner_uid. A cache with either unset gives its key to no one.
KeyReleaseDecision decide(const Config& config, CacheVault& vault, const PeerIdentity& peer,
                          std::string_view cache_name);

// The cache name of a well-formed request "KEY <name>\n" (anything after the '\n' is ignored);
// nullopt for anything else, including a request without its '\n' or over kMaxRequestBytes.
std::optional<std::string> parse_key_request(std::string_view request);

// "OK <64 lowercase hex>\n", wiped when it goes away.
SecretString key_reply(const SecretKey& key);
// "ERR <reason>\n", with the reason on one line and at most kMaxReasonLength long.
std::string refusal_reply(std::string_view reason);

// One whole exchange: parses `request`, decides, logs the outcome (never the key) and returns the reply.
SecretString answer_key_request(std::string_view request, const PeerIdentity& peer, const Config& config,
                                CacheVault& vault);

}  // namespace postured
