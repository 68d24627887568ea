#include "bank_process.h"

#include <fcntl.h>
#include <libpq-fe.h>
#ifdef BANK_TEST_WITH_NATS
#include <nats/nats.h>
#endif
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

namespace bank_test {
namespace {

using namespace std::chrono_literals;

std::string MakeTempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "estoria-bank-test.XXXXXX").string();
  char* made = mkdtemp(templ.data());
  return made ? std::string(made) : std::string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng;
}

// Runs one SQL command on a libpq URI; empty string on success, else the error.
std::string PgExec(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK) error = PQerrorMessage(conn);
    PQclear(res);
  }
  PQfinish(conn);
  return error;
}

// The URI with its database name replaced.
std::string WithDatabase(const std::string& uri, const std::string& database) {
  size_t scheme = uri.find("://");
  size_t query = uri.find('?');
  std::string base = uri.substr(0, query);
  std::string params = query == std::string::npos ? "" : uri.substr(query);
  size_t slash = base.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash != std::string::npos) base = base.substr(0, slash);
  return base + "/" + database + params;
}

#ifdef BANK_TEST_WITH_NATS
// Deletes a JetStream stream; empty string on success, else the error.
std::string DeleteNatsStream(const std::string& url, const std::string& stream) {
  natsConnection* conn = nullptr;
  jsCtx* js = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s = natsConnection_ConnectTo(&conn, url.c_str());
  if (s == NATS_OK) s = natsConnection_JetStream(&js, conn, nullptr);
  if (s == NATS_OK) s = js_DeleteStream(js, stream.c_str(), nullptr, &js_error);
  std::string error = s == NATS_OK ? "" : std::string(natsStatus_GetText(s)) + " " + std::to_string(js_error);
  jsCtx_Destroy(js);
  natsConnection_Destroy(conn);
  return error;
}
#endif

}  // namespace

std::unique_ptr<BankProcess> BankProcess::Start(const std::string& store, const std::vector<std::string>& extra_args,
                                                std::string* error, const std::string& working_dir) {
  std::unique_ptr<BankProcess> process(new BankProcess());
  std::string dir = MakeTempDir();
  process->output_path_ = dir + "/output.log";
  std::vector<std::string> args = {ESTORIA_BANK_BINARY, "--store", store, "--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fd = open(process->output_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "cannot create " + process->output_path_;
    return nullptr;
  }
  pid_t pid = fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    dup2(fd, 1);
    dup2(fd, 2);
    if (!working_dir.empty() && chdir(working_dir.c_str()) != 0) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fd);
  if (pid < 0) {
    *error = "fork failed";
    return nullptr;
  }
  process->pid_ = pid;
  static const std::regex kListening(R"(listening on http://127\.0\.0\.1:(\d+))");
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out = ReadFile(process->output_path_);
    std::smatch m;
    if (std::regex_search(out, m, kListening)) {
      process->port_ = std::stoi(m[1].str());
      return process;
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      process->pid_ = -1;
      *error = "estoria-bank exited before listening:\n" + out;
      return nullptr;
    }
    std::this_thread::sleep_for(20ms);
  }
  *error = "estoria-bank did not listen within 30 s:\n" + ReadFile(process->output_path_);
  return nullptr;
}

BankProcess::~BankProcess() {
  if (pid_ > 0) Stop(SIGKILL);
  if (!output_path_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(output_path_).parent_path(), ec);
  }
}

std::unique_ptr<httplib::Client> BankProcess::Client() const {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
  client->set_connection_timeout(60, 0);
  client->set_read_timeout(60, 0);
  client->set_write_timeout(60, 0);
  return client;
}

std::string BankProcess::Output() const { return ReadFile(output_path_); }

int BankProcess::Stop(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t got = waitpid(pid_, &status, WNOHANG);
    if (got == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    std::this_thread::sleep_for(10ms);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return -1;
}

std::unique_ptr<BankBackend> BankBackend::Create(const std::string& kind, std::string* skip_reason) {
  std::unique_ptr<BankBackend> backend(new BankBackend());
  if (kind == "sqlite") {
    backend->dir_ = MakeTempDir();
    backend->uri_ = "sqlite:" + backend->dir_ + "/bank.db";
    return backend;
  }
  if (kind == "nats") {
#ifdef BANK_TEST_WITH_NATS
    const char* url = std::getenv("ESTORIA_NATS_URL");
    if (url == nullptr || *url == '\0') {
      *skip_reason = "ESTORIA_NATS_URL is not set (run under scripts/with-nats)";
      return nullptr;
    }
    // A stream of its own on the shared server; the servers run in dir_, where
    // their default read model (a SQLite file under data/) goes.
    backend->dir_ = MakeTempDir();
    backend->nats_url_ = url;
    backend->nats_stream_ = "bank_" + std::to_string(getpid()) + "_" + std::to_string(Rng()() % 1000000000);
    backend->uri_ = backend->nats_url_ + "?stream=" + backend->nats_stream_;
    return backend;
#else
    *skip_reason = "estoria is built without the NATS or the SQLite backend";
    return nullptr;
#endif
  }
  const char* pg = std::getenv("ESTORIA_TEST_POSTGRES");
  if (pg == nullptr || *pg == '\0') {
    *skip_reason = "ESTORIA_TEST_POSTGRES is not set";
    return nullptr;
  }
  backend->admin_uri_ = pg;
  backend->database_ = "estoria_bank_" + std::to_string(getpid()) + "_" + std::to_string(Rng()() % 1000000000);
  std::string err = PgExec(backend->admin_uri_, "CREATE DATABASE " + backend->database_);
  if (!err.empty()) {
    *skip_reason = "cannot create a test database: " + err;
    backend->database_.clear();
    return nullptr;
  }
  backend->uri_ = WithDatabase(backend->admin_uri_, backend->database_);
  return backend;
}

BankBackend::~BankBackend() {
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  if (!database_.empty()) (void)PgExec(admin_uri_, "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
#ifdef BANK_TEST_WITH_NATS
  // The stream exists once a server opened it (NotFound otherwise: ignored).
  if (!nats_stream_.empty()) (void)DeleteNatsStream(nats_url_, nats_stream_);
#endif
}

nlohmann::json JsonBody(const httplib::Result& res) {
  if (!res) return nullptr;
  return nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
}

std::string NewAccountId() {
  std::uniform_int_distribution<int> hex(0, 15);
  const char* digits = "0123456789abcdef";
  std::string id = "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx";
  for (char& c : id) {
    if (c == 'x') c = digits[hex(Rng())];
  }
  return id;
}

httplib::Result PostAmount(httplib::Client& client, const std::string& id, long long amount,
                           const httplib::Headers& headers) {
  return client.Post(("/accounts/" + id + "/balance").c_str(), headers, "{\"amount\": " + std::to_string(amount) + "}",
                     "application/json");
}

}  // namespace bank_test
