// Every limit and timeout of the operator API, with why it has its value. The README quotes these.
#pragma once

#include <chrono>
#include <cstddef>

namespace postured::console::api_limits {

using namespace std::chrono_literals;

// Request line and headers together, as Beast counts them: a bearer token and a browser's usual
// headers fit with room to spare; a larger header block is a misbehaving client.
inline constexpr std::size_t kMaxRequestHeader = 16u << 10;
// The API only answers GET and HEAD; a body is never needed, a few bytes are tolerated.
inline constexpr std::size_t kMaxRequestBody = 4u << 10;
// Reading one request, from its first byte to its last: a slow client cannot hold a connection open.
inline constexpr std::chrono::seconds kReadTimeout = 15s;
// Writing one response (a CSV of the whole fleet is the largest, a few MiB at most).
inline constexpr std::chrono::seconds kWriteTimeout = 60s;
// An idle keep-alive connection is closed after this; the dashboard polls every 15 s, so it keeps one.
inline constexpr std::chrono::seconds kIdleTimeout = 30s;
// The whole TLS handshake, when the API serves HTTPS.
inline constexpr std::chrono::seconds kHandshakeTimeout = 15s;
// Open connections at once; beyond it new ones are closed at once. Operators and a Prometheus
// scraper need a handful; this only bounds what a runaway client can take.
inline constexpr std::size_t kMaxConnections = 256;
// Requests on one keep-alive connection before the server closes it (spreads load across threads).
inline constexpr unsigned kMaxRequestsPerConnection = 1000;
// ?limit= on device lists: default and ceiling (the CSV takes the ceiling: auditors want everything).
inline constexpr std::size_t kDefaultDeviceLimit = 500;
inline constexpr std::size_t kMaxDeviceLimit = 100000;
// Report history entries in a device's drill-down.
inline constexpr std::size_t kDeviceHistory = 50;

}  // namespace postured::console::api_limits
