#include <catch2/catch_test_macros.hpp>

#include <csignal>
#include <vector>

#include "core/runtime.hpp"

using namespace std::chrono_literals;

namespace {

// Records what the runtime tells the service manager.
class RecordingServiceManager final : public postured::ServiceManager {
 public:
  void ready() override { events.emplace_back("ready"); }
  void reloading() override { events.emplace_back("reloading"); }
  void stopping() override { events.emplace_back("stopping"); }
  void watchdog() override { events.emplace_back("watchdog"); }
  void status(std::string_view) override {}
  std::optional<std::chrono::microseconds> watchdog_interval() const override { return interval; }

  std::vector<std::string> events;
  std::optional<std::chrono::microseconds> interval;
};

}  // namespace

TEST_CASE("a job runs at once (within its jitter), then every interval", "[runtime]") {
  RecordingServiceManager manager;
  postured::Runtime runtime(manager);
  std::vector<std::chrono::steady_clock::time_point> runs;
  const auto start = std::chrono::steady_clock::now();
  // Intervals are seconds in the config; the runtime takes any seconds value, so use 1 s with no jitter.
  runtime.add_job("tick", [] { return postured::JobPeriod{1s, 0s}; }, [&] {
    runs.push_back(std::chrono::steady_clock::now());
    if (runs.size() == 2) runtime.stop();
  });
  runtime.run();
  REQUIRE(runs.size() == 2);
  CHECK(runs[0] - start < 500ms);
  CHECK(runs[1] - runs[0] >= 1s);
  CHECK(manager.events.front() == "watchdog");
  CHECK(manager.events[1] == "ready");
  CHECK(manager.events.back() == "stopping");
}

TEST_CASE("the first run waits a random delay within the jitter", "[runtime]") {
  RecordingServiceManager manager;
  postured::Runtime runtime(manager);
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration waited{};
  runtime.add_job("j", [] { return postured::JobPeriod{60s, 1s}; }, [&] {
    waited = std::chrono::steady_clock::now() - start;
    runtime.stop();
  });
  runtime.run();
  CHECK(waited <= 1100ms);
}

TEST_CASE("SIGHUP calls the reload handler and re-reads the period; SIGTERM stops", "[runtime]") {
  RecordingServiceManager manager;
  manager.interval = 200ms;
  postured::Runtime runtime(manager);
  int reloads = 0;
  int runs = 0;
  runtime.on_reload([&] {
    ++reloads;
    std::raise(SIGTERM);
    return true;
  });
  runtime.add_job("j", [] { return postured::JobPeriod{3600s, 0s}; }, [&] {
    ++runs;
    std::raise(SIGHUP);
  });
  runtime.run();
  CHECK(runs == 1);
  CHECK(reloads == 1);
  const std::vector<std::string> expected_tail{"reloading", "ready", "stopping"};
  REQUIRE(manager.events.size() >= 3);
  CHECK(std::vector<std::string>(manager.events.end() - 3, manager.events.end()) == expected_tail);
}

TEST_CASE("the watchdog is pinged at half its interval", "[runtime]") {
  RecordingServiceManager manager;
  manager.interval = 200ms;
  postured::Runtime runtime(manager);
  boost::asio::steady_timer stop_timer(runtime.io());
  stop_timer.expires_after(450ms);
  stop_timer.async_wait([&](const boost::system::error_code&) { runtime.stop(); });
  runtime.run();
  const auto pings = std::count(manager.events.begin(), manager.events.end(), "watchdog");
  CHECK(pings >= 4);  // one at start, then every 100 ms
  CHECK(pings <= 6);
}
