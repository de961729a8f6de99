// The Linux side of agent/policy/command_runner.hpp: fork and execve, no shell.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "policy/command_runner.hpp"

namespace postured::policy {
namespace {

// The fixed environment: a policy must not depend on how the agent happened to be started.
constexpr const char* kEnvironment[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", nullptr};

int exit_status_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// In the child: stdin and stderr on /dev/null, stdout into the pipe, then exec. Only async-signal-safe calls.
[[noreturn]] void exec_child(const std::vector<char*>& args, int out_fd) {
  const int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDERR_FILENO);
  }
  ::dup2(out_fd, STDOUT_FILENO);
  ::execve(args[0], args.data(), const_cast<char* const*>(kEnvironment));
  ::_exit(127);
}

// Reads the child's stdout until EOF or the deadline; keeps at most `max_output` bytes.
void read_output(int fd, std::chrono::steady_clock::time_point deadline, std::size_t max_output,
                 CommandOutput& result) {
  char buffer[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      return;
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      result.timed_out = ready == 0;
      return;
    }
    const auto n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    const auto room = max_output - std::min(max_output, result.out.size());
    const auto take = std::min(room, static_cast<std::size_t>(n));
    if (take < static_cast<std::size_t>(n)) result.truncated = true;
    const auto old_size = result.out.size();
    result.out.resize(old_size + take);
    std::memcpy(result.out.data() + old_size, buffer, take);
  }
}

}  // namespace

CommandOutput run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          std::size_t max_output) {
  CommandOutput result;
  if (argv.empty() || argv.front().empty() || argv.front().front() != '/') {
    result.problem = "the program must be an absolute path";
    return result;
  }
  if (::access(argv.front().c_str(), X_OK) != 0) {
    result.problem = argv.front() + ": " + std::strerror(errno);
    return result;
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.problem = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    result.problem = std::string("fork: ") + std::strerror(errno);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return result;
  }
  if (pid == 0) exec_child(args, pipe_fds[1]);
  ::close(pipe_fds[1]);
  result.started = true;
  read_output(pipe_fds[0], std::chrono::steady_clock::now() + timeout, max_output, result);
  ::close(pipe_fds[0]);
  // A program that outlives its time (or keeps writing past the cap) is killed, never waited for.
  if (result.timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_status = exit_status_of(status);
  if (result.exit_status == 127 && result.out.empty()) result.problem = "could not execute " + argv.front();
  return result;
}

}  // namespace postured::policy
