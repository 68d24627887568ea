// The JetStream client of the NATS backend: one connection and the few
// JetStream API calls the store needs, each a request/reply on
// "$JS.API.STREAM.*" answered by the stream leader (never a lagging replica).
// Transient failures (no responders during a leader election, a timeout, a
// reconnect) are retried until the deadline, then reported as Unavailable.
//
// Thread safety: a Client is safe for concurrent use (libnats connections are).
#pragma once
#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "estoria/backend/json_codec.h"
#include "estoria/status.h"

namespace estoria::nats::internal {

// One stored JetStream message.
struct StoredMsg {
  std::string subject;
  uint64_t seq = 0;
  std::map<std::string, std::string> headers;
  std::string data;
  const std::string* Header(const std::string& key) const {
    auto it = headers.find(key);
    return it == headers.end() ? nullptr : &it->second;
  }
};

// A publish's answer: an acknowledgement, or a JetStream error (err_code != 0).
struct PubAck {
  uint64_t seq = 0;
  bool duplicate = false;
  int err_code = 0;
  std::string error;  // the server's description when err_code != 0
};

class Client {
 public:
  // Connects to any of `servers` within `timeout`. Unavailable when none answers.
  static Result<std::unique_ptr<Client>> Connect(const std::vector<std::string>& servers,
                                                 std::chrono::milliseconds timeout);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  std::chrono::milliseconds timeout() const { return timeout_; }
  int64_t max_payload() const;

  // A JetStream API request (subject "$JS.API....", JSON body). The JSON reply,
  // which holds "error" {code, err_code, description} when the API refused.
  Result<backend::JsonValue> Api(const std::string& subject, const std::string& body);

  // Creates the stream `config` describes ($JS.API.STREAM.CREATE), or, when a
  // stream of that name exists, checks that it holds every subject of
  // config["subjects"] (its other settings stay as they are). FailedPrecondition
  // when it does not; Unavailable when JetStream is not enabled or the cluster
  // cannot place the replicas; Internal otherwise.
  Status EnsureStream(const backend::JsonValue& config);

  // Publishes with headers; returns the acknowledgement or the JetStream
  // error. Retries with the same message
  // (and so the same Nats-Msg-Id) on timeouts and elections until the deadline.
  Result<PubAck> Publish(const std::string& subject, const std::map<std::string, std::string>& headers,
                         const std::string& data);

  // $JS.API.STREAM.MSG.GET: by sequence, or the next message at or after `seq`
  // on `next_subject`, or the last message on `last_subject`. nullopt when
  // there is none.
  Result<std::optional<StoredMsg>> GetMsg(const std::string& stream, uint64_t seq, const std::string& next_subject,
                                          const std::string& last_subject);

  // The stream's last sequence and, when `subjects_filter` is non-empty, every
  // subject matching it that holds messages (all pages).
  struct StreamState {
    uint64_t last_seq = 0;
    std::vector<std::string> subjects;
  };
  Result<StreamState> Info(const std::string& stream, const std::string& subjects_filter);

  // Purges the messages of `subject` (wildcards allowed) below `below_seq`
  // (exclusive; all of them when 0). `purged`, when given, receives how many
  // messages went.
  Status Purge(const std::string& stream, const std::string& subject, uint64_t below_seq, uint64_t* purged = nullptr);

 private:
  Client(natsConnection* nc, std::chrono::milliseconds timeout) : nc_(nc), timeout_(timeout) {}
  natsConnection* nc_;
  std::chrono::milliseconds timeout_;
};

// The err_code of an API reply's "error" (0 when it has none).
int ApiErrCode(const backend::JsonValue& reply);
// "<what>: <description> (err_code N)" as Internal/Unavailable for a reply's error.
Status ApiError(const std::string& what, const backend::JsonValue& reply);

inline constexpr int kErrWrongLastSequence = 10071;
inline constexpr int kErrNoMessageFound = 10037;
inline constexpr int kErrStreamNotFound = 10059;
inline constexpr int kErrStreamNameExists = 10058;

}  // namespace estoria::nats::internal
