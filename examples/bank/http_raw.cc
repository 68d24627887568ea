// BankHttpServer::HandleRawRequest (see http_server.h): one request through
// httplib's own request processing, over an in-memory stream instead of a
// socket. Kept apart from http_server.cc: it only reaches the server httplib
// already configured there.
#include <httplib.h>

#include <algorithm>
#include <cstring>

#include "http_server.h"

namespace bank {
namespace {

// Reads the request bytes, collects the reply bytes.
class MemoryStream final : public httplib::Stream {
 public:
  explicit MemoryStream(std::string_view in) : in_(in) {}

  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    size_t n = std::min(size, in_.size());
    if (n > 0) std::memcpy(ptr, in_.data(), n);
    in_.remove_prefix(n);
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8080;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

  std::string TakeOutput() { return std::move(out_); }

 private:
  std::string_view in_;
  std::string out_;
};

// httplib::Server::process_request is protected: reached through a pointer to
// member named via a derived class.
struct ProcessRequestAccess : httplib::Server {
  static void Process(httplib::Server& server, httplib::Stream& stream) {
    auto process = &ProcessRequestAccess::process_request;
    bool connection_closed = false;
    (server.*process)(stream, /*close_connection=*/true, connection_closed, [](httplib::Request&) {});
  }
};

}  // namespace

std::string BankHttpServer::HandleRawRequest(std::string_view request) {
  MemoryStream stream(request);
  ProcessRequestAccess::Process(*server_, stream);
  return stream.TakeOutput();
}

}  // namespace bank
