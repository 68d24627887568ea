// Black-box tests of estoria-bank's connection limits over real sockets: an
// oversized request line (414) or header block (431), a stalled request (408),
// an idle connection (closed), a connection beyond --max-connections (503), and
// that many idle and slow-drip connections (more than the workers) do not keep
// the server from answering a normal client while they stay open. The server
// runs on a memory: store; the limits are set short with its flags.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bank_process.h"
#include "gtest/gtest.h"

namespace bank_test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::unique_ptr<BankProcess> StartBank(const std::vector<std::string>& args) {
  std::string error;
  auto server = BankProcess::Start("memory:", args, &error);
  if (!server) ADD_FAILURE() << error;
  return server;
}

// A raw TCP connection to the server.
class Connection {
 public:
  explicit Connection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ADD_FAILURE() << "connect: " << std::strerror(errno);
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool ok() const { return fd_ >= 0; }

  // Sends everything; false when the server closed the connection.
  bool Send(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads until the server closes the connection or `timeout` passes. Sets
  // *closed when it was closed (EOF or reset).
  std::string ReadUntilClosed(milliseconds timeout, bool* closed) {
    std::string out;
    *closed = false;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 1))) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        *closed = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

int StatusOf(const std::string& reply) {
  if (reply.rfind("HTTP/1.1 ", 0) != 0 || reply.size() < 12) return -1;
  return std::atoi(reply.substr(9, 3).c_str());
}

std::string ErrorCodeOf(const std::string& reply) {
  size_t body = reply.find("\r\n\r\n");
  if (body == std::string::npos) return "";
  auto json = nlohmann::json::parse(reply.substr(body + 4), nullptr, false);
  if (!json.is_object() || !json.contains("error")) return "";
  return json["error"].value("code", "");
}

// One request on a fresh connection; the reply (the connection is closed
// after it: Connection: close).
std::string Exchange(int port, const std::string& request, bool* closed) {
  Connection c(port);
  EXPECT_TRUE(c.Send(request));
  return c.ReadUntilClosed(milliseconds(30000), closed);
}

std::string Get(const std::string& target, const std::string& headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: bank\r\nConnection: close\r\n" + headers + "\r\n";
}

TEST(BankLimitsTest, OversizedRequestLineAndHeadersAreRefused) {
  auto server = StartBank({"--max-request-line-bytes", "1024", "--max-header-bytes", "2048"});
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  bool closed = false;

  // Within the limits: served (404: no such route).
  std::string target = "/" + std::string(1024 - std::string("GET / HTTP/1.1").size(), 'a');
  ASSERT_EQ(("GET " + target + " HTTP/1.1").size(), 1024u);
  std::string reply = Exchange(port, Get(target), &closed);
  EXPECT_EQ(StatusOf(reply), 404) << reply;

  // One byte more: 414, and the connection is closed.
  reply = Exchange(port, Get(target + "a"), &closed);
  EXPECT_EQ(StatusOf(reply), 414) << reply;
  EXPECT_EQ(ErrorCodeOf(reply), "uri_too_long") << reply;
  EXPECT_TRUE(closed);

  // A request line that never ends: 414 after 1 KiB, not a growing buffer.
  {
    Connection c(port);
    ASSERT_TRUE(c.ok());
    c.Send("GET /" + std::string(64 * 1024, 'a'));
    reply = c.ReadUntilClosed(milliseconds(30000), &closed);
    EXPECT_EQ(StatusOf(reply), 414) << reply;
    EXPECT_TRUE(closed);
  }

  // Headers: 2048 bytes in all pass (Host and Connection included)...
  const std::string fixed = "Host: bank\r\nConnection: close\r\n";
  auto filler = [&](size_t total) {
    // One "X-Fill: fff...\r\n" line making the block (with the final empty line) `total` bytes.
    return "X-Fill: " + std::string(total - fixed.size() - 12, 'f') + "\r\n";
  };
  ASSERT_EQ((fixed + filler(2048) + "\r\n").size(), 2048u);
  reply = Exchange(port, Get("/healthz", filler(2048)), &closed);
  EXPECT_EQ(StatusOf(reply), 200) << reply;
  // ...one more is 431, and the connection is closed.
  reply = Exchange(port, Get("/healthz", filler(2049)), &closed);
  EXPECT_EQ(StatusOf(reply), 431) << reply;
  EXPECT_EQ(ErrorCodeOf(reply), "header_fields_too_large") << reply;
  EXPECT_TRUE(closed);
  // Many small headers are counted together.
  std::string many;
  for (int i = 0; i < 500; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
  reply = Exchange(port, Get("/healthz", many), &closed);
  EXPECT_EQ(StatusOf(reply), 431) << reply;

  // The refusals are counted in the metrics, without a route.
  auto client = server->Client();
  auto metrics = client->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("status=\"414\""), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("status=\"431\""), std::string::npos) << metrics->body;
}

TEST(BankLimitsTest, IdleAndStalledConnectionsAreClosed) {
  auto server = StartBank({"--idle-timeout-ms", "500", "--request-timeout-ms", "800"});
  ASSERT_NE(server, nullptr);
  const int port = server->port();

  // Idle: closed without a reply after about the idle timeout.
  {
    Connection c(port);
    ASSERT_TRUE(c.ok());
    auto start = Clock::now();
    bool closed = false;
    std::string reply = c.ReadUntilClosed(milliseconds(30000), &closed);
    auto took = Clock::now() - start;
    EXPECT_TRUE(closed);
    EXPECT_EQ(reply, "");
    EXPECT_GE(took, milliseconds(400));
    EXPECT_LT(took, milliseconds(20000));
  }
  // Idle after a first request (keep-alive): closed too.
  {
    Connection c(port);
    ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: bank\r\n\r\n"));
    bool closed = false;
    std::string reply = c.ReadUntilClosed(milliseconds(30000), &closed);
    EXPECT_EQ(StatusOf(reply), 200) << reply;
    EXPECT_TRUE(closed);
  }
  // A request started but not finished: 408 after the request timeout.
  {
    Connection c(port);
    auto start = Clock::now();
    ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: ba"));
    bool closed = false;
    std::string reply = c.ReadUntilClosed(milliseconds(30000), &closed);
    auto took = Clock::now() - start;
    EXPECT_EQ(StatusOf(reply), 408) << reply;
    EXPECT_EQ(ErrorCodeOf(reply), "request_timeout") << reply;
    EXPECT_TRUE(closed);
    EXPECT_GE(took, milliseconds(700));
  }
  // A body that stops half way: 408 as well.
  {
    Connection c(port);
    ASSERT_TRUE(
        c.Send("POST /accounts/0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d/balance HTTP/1.1\r\nHost: bank\r\n"
               "Content-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"amount\""));
    bool closed = false;
    std::string reply = c.ReadUntilClosed(milliseconds(30000), &closed);
    EXPECT_EQ(StatusOf(reply), 408) << reply;
    EXPECT_TRUE(closed);
  }
}

TEST(BankLimitsTest, IdleAndSlowClientsDoNotStarveOthers) {
  // 4 workers; 12 idle and 6 slow-drip connections (one byte every 250 ms,
  // never finishing their headers) are opened first and kept open.
  auto server = StartBank({"--threads", "4", "--idle-timeout-ms", "500", "--request-timeout-ms", "1000"});
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  std::vector<std::unique_ptr<Connection>> idle;
  for (int i = 0; i < 12; ++i) {
    idle.push_back(std::make_unique<Connection>(port));
    ASSERT_TRUE(idle.back()->ok());
  }
  std::vector<std::unique_ptr<Connection>> slow;
  for (int i = 0; i < 6; ++i) {
    slow.push_back(std::make_unique<Connection>(port));
    ASSERT_TRUE(slow.back()->Send("GET /healthz HTTP/1.1\r\nX-Slow: "));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> drips{0};
  std::thread dripper([&] {
    while (!stop) {
      for (auto& c : slow) {
        if (c->Send("a")) drips++;
      }
      std::this_thread::sleep_for(milliseconds(250));
    }
  });

  // A normal client is answered while they are all still open on our side.
  auto start = Clock::now();
  auto client = server->Client();
  auto res = client->Get("/healthz");
  auto took = Clock::now() - start;
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  // Generous: the hostile connections cost the workers at most 12 x 0.5 s +
  // 6 x 1 s = 12 worker-seconds, 3 s on 4 workers; without the limits the
  // slow ones would hold their workers forever.
  EXPECT_LT(took, milliseconds(30000));
  EXPECT_GT(drips.load(), 0);

  // The server closed them all: the slow ones with a 408.
  stop = true;
  dripper.join();
  for (auto& c : slow) {
    bool closed = false;
    std::string reply = c->ReadUntilClosed(milliseconds(30000), &closed);
    EXPECT_EQ(StatusOf(reply), 408) << reply;
    EXPECT_TRUE(closed);
  }
  for (auto& c : idle) {
    bool closed = false;
    std::string reply = c->ReadUntilClosed(milliseconds(30000), &closed);
    EXPECT_EQ(reply, "");
    EXPECT_TRUE(closed);
  }
}

TEST(BankLimitsTest, ConnectionsBeyondTheCapAreAnswered503) {
  auto server = StartBank({"--threads", "2", "--max-connections", "4", "--idle-timeout-ms", "60000"});
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  std::vector<std::unique_ptr<Connection>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<Connection>(port));
    ASSERT_TRUE(held.back()->ok());
  }
  // The fifth: 503 at once, and closed, although no worker is free.
  {
    Connection c(port);
    ASSERT_TRUE(c.ok());
    c.Send(Get("/healthz"));
    bool closed = false;
    auto start = Clock::now();
    std::string reply = c.ReadUntilClosed(milliseconds(30000), &closed);
    EXPECT_EQ(StatusOf(reply), 503) << reply;
    EXPECT_EQ(ErrorCodeOf(reply), "unavailable") << reply;
    EXPECT_NE(reply.find("Retry-After: 1"), std::string::npos) << reply;
    EXPECT_TRUE(closed);
    EXPECT_LT(Clock::now() - start, milliseconds(20000));
  }
  // Once they are closed, new connections are served again.
  held.clear();
  bool served = false;
  for (auto deadline = Clock::now() + milliseconds(30000); !served && Clock::now() < deadline;) {
    bool closed = false;
    std::string reply = Exchange(port, Get("/healthz"), &closed);
    served = StatusOf(reply) == 200;
    if (!served) {
      EXPECT_EQ(StatusOf(reply), 503) << reply;
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  EXPECT_TRUE(served);
}

}  // namespace
}  // namespace bank_test
