// How long to wait before the next attempt after failures in a row: exponential backoff with full
// jitter (a random wait in [0, min(cap, base * 2^failures)]), so a fleet whose console comes back
// does not retry in lockstep.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace postured::transport {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, std::uint64_t seed = std::random_device{}());

  // The upper bound of the wait after `failures` failures in a row (>= 1): min(cap, base * 2^(failures-1)).
  std::chrono::milliseconds ceiling(unsigned failures) const;
  // Records one more failure and returns the wait before the next attempt, uniform in [0, ceiling].
  std::chrono::milliseconds next_delay();
  // After a success the next failure starts from `base` again.
  void reset() { failures_ = 0; }
  unsigned failures() const { return failures_; }

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  unsigned failures_ = 0;
  std::mt19937_64 random_;
};

}  // namespace postured::transport
