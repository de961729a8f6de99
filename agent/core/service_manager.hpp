// Tells the service manager (systemd on Linux, the SCM on Windows) how the agent is doing.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

namespace postured {

class ServiceManager {
 public:
  virtual ~ServiceManager() = default;
  // Start-up is complete and the agent is serving.
  virtual void ready() = 0;
  // A configuration reload has begun; ready() follows when it is done.
  virtual void reloading() = 0;
  // Shutdown has begun.
  virtual void stopping() = 0;
  // The agent is alive; must be sent more often than watchdog_interval().
  virtual void watchdog() = 0;
  // One line of free-form status that the service manager shows.
  virtual void status(std::string_view text) = 0;
  // How often the service manager expects watchdog(); nullopt when it does not.
  virtual std::optional<std::chrono::microseconds> watchdog_interval() const = 0;
};

// The service manager this process runs under, from its environment; does nothing when there is none.
std::unique_ptr<ServiceManager> connect_service_manager();

}  // namespace postured
