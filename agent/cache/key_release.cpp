#include "cache/key_release.hpp"

#include <algorithm>
#include <exception>

#include "core/log.hpp"

namespace postured {
namespace {

constexpr std::string_view kRequestVerb = "KEY ";
constexpr std::string_view kBadRequest = "bad request";

bool is_name_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

const CacheConfig* find_cache(const Config& config, std::string_view name) {
  const auto found =
      std::find_if(config.caches.begin(), config.caches.end(), [&](const CacheConfig& c) { return c.name == name; });
  return found == config.caches.end() ? nullptr : &*found;
}

std::string describe(const PeerIdentity& peer) {
  return "pid " + std::to_string(peer.pid) + " uid " + std::to_string(peer.uid) + " exe " +
         (peer.exe.empty() ? std::string("(unknown)") : peer.exe.string());
}

}  // namespace

KeyReleaseDecision decide(const Config& config, CacheVault& vault, const PeerIdentity& peer,
                          std::string_view cache_name) {
  const auto refuse = [](std::string why) { return KeyReleaseDecision{std::nullopt, std::move(why)}; };
  const CacheConfig* cache = find_cache(config, cache_name);
  if (!cache) return refuse("unknown cache");
  if (cache->owner_exe.empty() || cache->owner_uid < 0) return refuse("no program may fetch this key");
  if (peer.uid != cache->owner_uid) return refuse("uid " + std::to_string(peer.uid) + " is not the owner");
  // Exact path equality: the platform resolved /proc/PID/exe, so symlinks and relative paths are
  // gone, and a program replaced on disk since it started reads "... (deleted)" and never matches.
  if (peer.exe.empty()) return refuse("the program cannot be identified");
  if (peer.exe != cache->owner_exe) return refuse("program " + peer.exe.string() + " is not the owner");
  if (is_plaintext_sqlite(cache->path)) return refuse("cache not encrypted yet");
  std::string error;
  auto key = vault.current_key(*cache, error);
  if (!key) return refuse("no key: " + error);
  return KeyReleaseDecision{std::move(key), {}};
}

std::optional<std::string> parse_key_request(std::string_view request) {
  const auto end = request.find('\n');
  if (end == std::string_view::npos || end + 1 > key_release::kMaxRequestBytes) return std::nullopt;
  const auto line = request.substr(0, end);
  if (line.substr(0, kRequestVerb.size()) != kRequestVerb) return std::nullopt;
  const auto name = line.substr(kRequestVerb.size());
  if (name.empty() || name.size() > key_release::kMaxNameLength) return std::nullopt;
  if (!std::all_of(name.begin(), name.end(), is_name_character)) return std::nullopt;
  return std::string(name);
}

SecretString key_reply(const SecretKey& key) {
  SecretString reply(std::string("OK "));
  reply.append(key.hex().str());
  reply.append("\n");
  return reply;
}

std::string refusal_reply(std::string_view reason) {
  std::string reply = "ERR ";
  // Reasons can carry SQLite's or the file system's words; a control character would end the line early.
  for (char c : reason.substr(0, key_release::kMaxReasonLength)) {
    reply += (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) ? ' ' : c;
  }
  reply += '\n';
  return reply;
}

SecretString answer_key_request(std::string_view request, const PeerIdentity& peer, const Config& config,
                                CacheVault& vault) {
  const auto name = parse_key_request(request);
  if (!name) {
    // The bytes themselves are not logged: they are a stranger's, and could be anything.
    log::warn("key release refused: ", describe(peer), " sent a ", kBadRequest, " (", request.size(), " bytes)");
    return SecretString(refusal_reply(kBadRequest));
  }
  KeyReleaseDecision decision;
  try {
    decision = decide(config, vault, peer, *name);
  } catch (const std::exception& e) {
    // Not expected (key derivation, memory); the peer still gets an answer and the loop goes on.
    log::error("key release: cannot decide on cache ", *name, " for ", describe(peer), ": ", e.what());
    decision.refusal = "internal error";
  }
  if (!decision.granted()) {
    log::warn("key release refused: ", describe(peer), " asked for cache ", *name, ": ", decision.refusal);
    return SecretString(refusal_reply(decision.refusal));
  }
  log::info("key release: ", describe(peer), " was given the key of cache ", *name);
  return key_reply(*decision.key);
}

}  // namespace postured
