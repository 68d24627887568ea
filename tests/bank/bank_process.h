// bank_process.h: test harness for the black-box tests of estoria-bank.
//   BankProcess   the real binary started with fork+exec on a free port
//                 (--listen 127.0.0.1:0; the port is read from its output),
//                 stopped with SIGTERM or killed with SIGKILL
//   BankBackend   where a test's data lives: a fresh SQLite file in a temporary
//                 folder, a fresh PostgreSQL database created through libpq
//                 (when ESTORIA_TEST_POSTGRES is set) and dropped afterwards, or
//                 a fresh JetStream stream on the NATS server ESTORIA_NATS_URL
//                 (when set) with a temporary folder for the servers' default
//                 read model, the stream deleted afterwards
//
// Thread safety: a BankProcess is driven by one thread; Client() objects may be
// created and used from many threads (one client per thread).
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bank_test {

class BankProcess {
 public:
  // Starts the binary with --store `store` and extra arguments, in
  // `working_dir` when not empty; waits (up to 30 s) until it listens. Returns
  // null and sets *error on failure.
  static std::unique_ptr<BankProcess> Start(const std::string& store, const std::vector<std::string>& extra_args,
                                            std::string* error, const std::string& working_dir = "");
  ~BankProcess();  // SIGKILLs a process still running

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // A client of this server (timeouts 60 s: sanitizer builds are slow).
  std::unique_ptr<httplib::Client> Client() const;
  // Everything the process printed so far (stdout and stderr).
  std::string Output() const;

  // Sends `signal`, waits for exit; returns the exit code (or 128 + signal for
  // a process killed by a signal), -1 when it did not exit within 30 s.
  int Stop(int signal);

 private:
  BankProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string output_path_;
};

class BankBackend {
 public:
  // "sqlite", "postgres" or "nats". Returns null with *skip_reason set when the
  // backend cannot be used here (PostgreSQL without ESTORIA_TEST_POSTGRES, NATS
  // without ESTORIA_NATS_URL).
  static std::unique_ptr<BankBackend> Create(const std::string& kind, std::string* skip_reason);
  ~BankBackend();  // removes the folder / drops the database / deletes the stream

  // The store URI (also the read model's on SQLite and PostgreSQL; a NATS
  // store's read model is the server's default, a SQLite file under dir()).
  const std::string& uri() const { return uri_; }
  // The temporary folder servers run in ("" for PostgreSQL: they inherit ours).
  const std::string& dir() const { return dir_; }

 private:
  BankBackend() = default;
  std::string dir_;
  std::string uri_;
  std::string admin_uri_;  // PostgreSQL: where to DROP the database
  std::string database_;
  std::string nats_url_;  // NATS: the server and the stream to delete
  std::string nats_stream_;
};

// The JSON body of a reply (null json when it is not JSON).
nlohmann::json JsonBody(const httplib::Result& res);
// A fresh random account id (UUIDv4 text).
std::string NewAccountId();
// POST /accounts/{id}/balance with {"amount": amount}.
httplib::Result PostAmount(httplib::Client& client, const std::string& id, long long amount,
                           const httplib::Headers& headers = {});

}  // namespace bank_test
