// The local endpoint that POS programs fetch cache keys from: a Unix socket on Linux
// (platform/linux/key_release_server.cpp). It identifies each peer and carries one request and one
// reply; what is answered is up to the handler (answer_key_request in key_release.hpp).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cache/key_release.hpp"
#include "core/asio.hpp"
#include "core/secret.hpp"

namespace postured {

class KeyReleaseServer {
 public:
  // Turns one request (the bytes received, without a '\n' when the peer sent no whole line) into the reply.
  using Handler = std::function<SecretString(std::string_view request, const PeerIdentity& peer)>;

  virtual ~KeyReleaseServer() = default;
  // Where peers connect, for messages.
  virtual std::string endpoint() const = 0;
};

struct KeyReleaseServerStart {
  std::unique_ptr<KeyReleaseServer> server;  // serving on the io_context from the moment it is returned
  std::string error;                         // why there is no server: cannot create the folder or socket
};

// Listens on <runtime_dir>/postured.sock (mode 0660, group `group` when it exists; runtime_dir is
// created 0755 when missing, and a stale socket left by a killed daemon is replaced). Stops listening
// and removes the socket when destroyed.
KeyReleaseServerStart start_key_release_server(boost::asio::io_context& io, const std::filesystem::path& runtime_dir,
                                               const std::string& group, KeyReleaseServer::Handler handler);

}  // namespace postured
