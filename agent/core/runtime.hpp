// The daemon's event loop: periodic jobs with jitter, signals, and the service manager's watchdog.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <random>
#include <string>

#include "core/asio.hpp"
#include "core/service_manager.hpp"

namespace postured {

struct JobPeriod {
  std::chrono::seconds interval;
  std::chrono::seconds jitter;  // each run starts up to this much later, at random
};

class Runtime {
 public:
  // Returns true when the new configuration was taken; false keeps the old one running.
  using ReloadHandler = std::function<bool()>;

  explicit Runtime(ServiceManager& service_manager);

  // Runs `work` on the loop after a random delay in [0, jitter], then every interval + [0, jitter].
  // `period` is asked again before each run, so a reload that changes it takes effect.
  void add_job(std::string name, std::function<JobPeriod()> period, std::function<void()> work);
  void on_reload(ReloadHandler handler);

  // Serves until a stop signal (process_signals(): SIGTERM, SIGINT, ...) or stop(); the reload signal
  // (SIGHUP on Linux) calls the reload handler.
  void run();
  void stop();

  boost::asio::io_context& io() { return io_; }

 private:
  struct Job {
    std::string name;
    std::function<JobPeriod()> period;
    std::function<void()> work;
    boost::asio::steady_timer timer;
  };

  void arm(Job& job, bool first);
  void wait_for_signal();
  void arm_watchdog();
  std::chrono::milliseconds random_delay(std::chrono::seconds upto);

  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer watchdog_timer_;
  ServiceManager& service_manager_;
  ReloadHandler reload_;
  std::list<Job> jobs_;  // a list keeps each Job (and its timer) at a fixed address
  std::mt19937_64 random_;
};

}  // namespace postured
