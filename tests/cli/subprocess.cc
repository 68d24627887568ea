#include "subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace estoria_cli_test {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

pid_t Spawn(const std::vector<std::string>& argv, const std::string& dir, const std::string& stdin_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, (dir + "/out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, (dir + "/err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn failed for " + argv[0]);
  return pid;
}

std::string MakeDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "estoria-cli-run.XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

RunResult Collect(const std::string& dir, int status) {
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(dir + "/out");
  r.err = ReadFile(dir + "/err");
  return r;
}

}  // namespace

RunResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text) {
  std::string dir = MakeDir();
  {
    std::ofstream in(dir + "/in", std::ios::binary);
    in << stdin_text;
  }
  pid_t pid = Spawn(argv, dir, dir + "/in");
  int status = 0;
  waitpid(pid, &status, 0);
  RunResult r = Collect(dir, status);
  std::filesystem::remove_all(dir);
  return r;
}

Child::Child(const std::vector<std::string>& argv) : dir_(MakeDir()) { pid_ = Spawn(argv, dir_, "/dev/null"); }

Child::~Child() {
  if (!reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
  std::filesystem::remove_all(dir_);
}

void Child::Kill() { kill(pid_, SIGKILL); }
void Child::Signal(int sig) { kill(pid_, sig); }
std::string Child::OutSoFar() const { return ReadFile(dir_ + "/out"); }

bool Child::Exited() {
  if (reaped_) return true;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return reaped_;
}

RunResult Child::Wait() {
  if (!reaped_) {
    waitpid(pid_, &status_, 0);
    reaped_ = true;
  }
  return Collect(dir_, status_);
}

}  // namespace estoria_cli_test
