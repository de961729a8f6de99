// Runs the project's programs from tests: captures stdout, stderr and the exit code.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace postured::test {

struct Ran {
  int exit_code = -1;  // -signal when killed
  std::string out;
  std::string err;
};

inline std::string bin(const std::string& name) { return std::string(POSTURED_BIN_DIR) + "/" + name; }

class Child {
 public:
  // Starts argv[0] with argv; `env` entries ("K=V") are added to this process's environment.
  explicit Child(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
  }
  ~Child() {
    if (pid_ > 0 && !done_) {
      ::kill(pid_, SIGKILL);
      wait(std::chrono::seconds(5));
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }
  bool running() {
    pump(0);
    if (done_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      finish(status);
      return false;
    }
    return true;
  }
  // Reads output until stderr contains `text` or the time runs out.
  bool wait_for_stderr(const std::string& text, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (ran_.err.find(text) != std::string::npos) return true;
      pump(50);
    }
    return ran_.err.find(text) != std::string::npos;
  }
  // Waits for exit (SIGKILL after `limit`) and returns what the program did.
  const Ran& wait(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done_) {
      pump(20);
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        finish(status);
        break;
      }
      if (std::chrono::steady_clock::now() > end) ::kill(pid_, SIGKILL);
    }
    return ran_;
  }
  const Ran& result() const { return ran_; }

 private:
  void finish(int status) {
    done_ = true;
    while (pump(0)) {
    }
    ran_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  // Moves available output into ran_; returns true if anything was read.
  bool pump(int timeout_ms) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    if (::poll(fds, 2, timeout_ms) <= 0) return false;
    bool any = false;
    char buffer[65536];
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
      const auto n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        (i == 0 ? ran_.out : ran_.err).append(buffer, static_cast<std::size_t>(n));
        any = true;
      }
    }
    return any;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool done_ = false;
  Ran ran_;
};

inline Ran run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
  Child child(argv, env);
  return child.wait();
}

}  // namespace postured::test
