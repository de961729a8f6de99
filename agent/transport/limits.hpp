// Every timeout and size limit of the transport, with why it has its value. The README quotes these.
#pragma once

#include <chrono>
#include <cstddef>

namespace postured::transport::limits {

using namespace std::chrono_literals;

// TCP connect, name resolution included: a console on the store's WAN answers well within this.
inline constexpr std::chrono::milliseconds kConnectTimeout = 10s;
// The whole TLS handshake, not one read: a peer that trickles the handshake cannot hold the agent.
inline constexpr std::chrono::milliseconds kHandshakeTimeout = 15s;
// One read from the peer (an idle limit): how long the console may think before it starts answering.
inline constexpr std::chrono::milliseconds kReadTimeout = 30s;
// One write to the peer: a report of a few hundred KiB over a slow store line.
inline constexpr std::chrono::milliseconds kWriteTimeout = 30s;
// A whole request, from the first byte written to the last byte read, connection and retry included.
inline constexpr std::chrono::milliseconds kRequestTimeout = 120s;
// The console answers with small JSON documents; anything larger is a misbehaving peer.
inline constexpr std::size_t kMaxResponseBody = 1u << 20;
// Status line and headers together, as Beast counts them.
inline constexpr std::size_t kMaxResponseHeader = 16u << 10;
// A Retry-After further away than this is capped: a console must not park a terminal for days.
inline constexpr std::chrono::seconds kMaxRetryAfter = 24h;
// The most plaintext one TLS record carries (RFC 8446 5.1); writes are cut into records of this size.
inline constexpr std::size_t kMaxRecordPlaintext = 16384;

}  // namespace postured::transport::limits
