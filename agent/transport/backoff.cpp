#include "transport/backoff.hpp"

#include <algorithm>

namespace postured::transport {

Backoff::Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, std::uint64_t seed)
    : base_(std::max(base, std::chrono::milliseconds(1))), cap_(std::max(cap, base_)), random_(seed) {}

std::chrono::milliseconds Backoff::ceiling(unsigned failures) const {
  if (failures == 0) return std::chrono::milliseconds(0);
  auto bound = base_;
  // Doubling stops at the cap, so the shift can never overflow.
  for (unsigned i = 1; i < failures && bound < cap_; ++i) bound *= 2;
  return std::min(bound, cap_);
}

std::chrono::milliseconds Backoff::next_delay() {
  if (failures_ < 64) ++failures_;
  std::uniform_int_distribution<long long> pick(0, ceiling(failures_).count());
  return std::chrono::milliseconds(pick(random_));
}

}  // namespace postured::transport
