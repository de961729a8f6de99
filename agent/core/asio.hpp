// The one way to include Boost.Asio in postured.
// Boost 1.74's Asio uses std::exchange without including <utility>; GCC 12 in C++20 mode then fails.
#pragma once

#include <utility>

#include <boost/asio.hpp>
