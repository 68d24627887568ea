// A child process started with fork+exec, with pipes to its stdin and stdout
// (and optionally an extra pipe whose write end the child inherits).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

namespace estoria::testing {

class ChildProcess {
 public:
  // Starts `argv`; when `extra_pipe` is set, "{fd}" in argv is replaced by the
  // write end of a pipe that extra_fd() reads.
  ChildProcess(std::vector<std::string> argv, bool extra_pipe = false) {
    int in[2], out[2], extra[2] = {-1, -1};
    if (::pipe(in) != 0 || ::pipe(out) != 0 || (extra_pipe && ::pipe(extra) != 0)) return;
    for (auto& a : argv) {
      if (a == "{fd}") a = std::to_string(extra[1]);
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[1]);
      ::close(out[0]);
      if (extra_pipe) ::close(extra[0]);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    if (extra_pipe) ::close(extra[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    extra_ = extra[0];
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
    for (int fd : {stdin_, stdout_, extra_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  bool started() const { return pid_ > 0; }
  int extra_fd() const { return extra_; }

  void WriteStdin(const std::string& text) {
    if (::write(stdin_, text.data(), text.size()) < 0) return;
  }
  // Reads one line from stdout ("" at EOF).
  std::string ReadLine() {
    std::string line;
    char c;
    while (::read(stdout_, &c, 1) == 1) {
      if (c == '\n') return line;
      line += c;
    }
    return line;
  }
  // Reads from `fd` what is available within `timeout` (appended to buf).
  // Returns false at EOF.
  static bool ReadSome(int fd, std::string& buf, std::chrono::milliseconds timeout) {
    struct pollfd p {
      fd, POLLIN, 0
    };
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n <= 0) return true;
    char chunk[65536];
    ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got <= 0) return false;
    buf.append(chunk, static_cast<size_t>(got));
    return true;
  }
  void Kill(int sig = SIGKILL) { ::kill(pid_, sig); }
  // Waits for exit; returns the raw wait status.
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int stdin_ = -1, stdout_ = -1, extra_ = -1;
};

}  // namespace estoria::testing
