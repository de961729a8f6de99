// Running a program for a policy's `command` rule: no shell, an argv array, a time limit and an
// output cap. Implemented by the platform layer (platform/linux/command_runner.cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace postured::policy {

struct CommandOutput {
  bool started = false;    // false: the program could not be run; `problem` says why
  bool timed_out = false;  // killed after the time limit
  bool truncated = false;  // stdout was longer than the cap; the rest was read and dropped
  int exit_status = -1;    // the exit code, or 128 + signal
  std::string out;         // stdout, at most the cap
  std::string problem;
};

// Runs argv[0] (an absolute path) with argv, stdin and stderr on /dev/null, PATH=/usr/sbin:/usr/bin:/sbin:/bin
// and LC_ALL=C; kills it after `timeout`. Never throws for a failing program.
CommandOutput run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          std::size_t max_output);

// How policy rules run programs; empty when they may not (a --root image is not the live system).
using CommandRunner = std::function<CommandOutput(const std::vector<std::string>& argv)>;

}  // namespace postured::policy
