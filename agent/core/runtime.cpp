#include "core/runtime.hpp"

#include "core/log.hpp"
#include "core/process_signals.hpp"

namespace postured {

Runtime::Runtime(ServiceManager& service_manager)
    : signals_(io_),
      watchdog_timer_(io_),
      service_manager_(service_manager),
      random_(std::random_device{}()) {
  for (const auto& signal : process_signals().stop) signals_.add(signal.number);
  if (const auto& reload = process_signals().reload) signals_.add(reload->number);
}

void Runtime::add_job(std::string name, std::function<JobPeriod()> period, std::function<void()> work) {
  auto& job = jobs_.emplace_back(Job{std::move(name), std::move(period), std::move(work), boost::asio::steady_timer(io_)});
  arm(job, true);
}

void Runtime::on_reload(ReloadHandler handler) { reload_ = std::move(handler); }

std::chrono::milliseconds Runtime::random_delay(std::chrono::seconds upto) {
  if (upto.count() <= 0) return std::chrono::milliseconds(0);
  std::uniform_int_distribution<long long> pick(0, std::chrono::duration_cast<std::chrono::milliseconds>(upto).count());
  return std::chrono::milliseconds(pick(random_));
}

void Runtime::arm(Job& job, bool first) {
  const auto period = job.period();
  const auto delay = (first ? std::chrono::milliseconds(0) : std::chrono::milliseconds(period.interval)) +
                     random_delay(period.jitter);
  job.timer.expires_after(delay);
  log::debug("job ", job.name, ": next run in ", delay.count(), " ms");
  job.timer.async_wait([this, &job](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled by a reload or by shutdown
    try {
      job.work();
    } catch (const std::exception& e) {
      log::error("job ", job.name, " failed: ", e.what());
    }
    arm(job, false);
  });
}

void Runtime::wait_for_signal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    const auto& reload = process_signals().reload;
    if (reload && signal == reload->number) {
      log::info(reload->name, ": reloading the configuration");
      service_manager_.reloading();
      if (reload_ && reload_()) {
        for (auto& job : jobs_) {
          job.timer.cancel();
          arm(job, false);
        }
      }
      service_manager_.ready();
      wait_for_signal();
      return;
    }
    std::string_view name = "signal";
    for (const auto& stop : process_signals().stop) {
      if (stop.number == signal) name = stop.name;
    }
    log::info(name, ": shutting down");
    stop();
  });
}

void Runtime::arm_watchdog() {
  const auto interval = service_manager_.watchdog_interval();
  if (!interval) return;
  // systemd's advice: ping at half the interval so one late wake-up does not kill the service.
  watchdog_timer_.expires_after(*interval / 2);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    service_manager_.watchdog();
    arm_watchdog();
  });
}

void Runtime::run() {
  wait_for_signal();
  service_manager_.watchdog();
  arm_watchdog();
  service_manager_.ready();
  io_.run();
}

void Runtime::stop() {
  service_manager_.stopping();
  signals_.cancel();
  watchdog_timer_.cancel();
  for (auto& job : jobs_) job.timer.cancel();
  io_.stop();
}

}  // namespace postured
