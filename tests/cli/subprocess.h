// Test helper: runs a program as a child process with captured stdout/stderr.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace estoria_cli_test {

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// The whole content of a file ("" when it cannot be read).
std::string ReadFile(const std::string& path);

// Runs argv[0] (a path) with the arguments and waits for it.
RunResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text = "");

// A child started in the background; Kill() sends SIGKILL, Wait() reaps it.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv);
  ~Child();
  void Kill();
  void Signal(int sig);
  // What the child has written to stdout so far.
  std::string OutSoFar() const;
  RunResult Wait();
  bool Exited();  // non-blocking: true once the child has exited

 private:
  pid_t pid_ = -1;
  std::string dir_;
  int status_ = 0;
  bool reaped_ = false;
};

}  // namespace estoria_cli_test
