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
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
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

  // Deletes one message: true, or false when it is already gone. The stores
  // delete message by message and never purge by subject: nats-server 2.9.10
  // can replay a subject-filtered purge as a purge of the whole stream when
  // every node of a cluster restarts (seen in tests/nats/nats_failover_test.cc).
  Result<bool> DeleteMsg(const std::string& stream, uint64_t seq);

  // Pipelined publishing (one thread at a time): Send publishes without
  // waiting, its acknowledgement addressed to this client's inbox under `tag`;
  // Receive returns the next acknowledgement that arrives (tag and answer), or
  // nullopt when none came within `wait`. A "no responders" answer (no stream
  // leader at that moment) has err_code kNoResponders.
  Status Send(const std::string& subject, const std::map<std::string, std::string>& headers, const std::string& data,
              uint64_t tag);
  Result<std::optional<std::pair<uint64_t, PubAck>>> Receive(std::chrono::milliseconds wait);

  // An ordered push consumer delivering the headers of every message stored on
  // `subject` from now on to `on_message` (on a libnats thread). It survives
  // reconnects and leader changes (libnats recreates it). Unsubscribes when the
  // returned handle is destroyed.
  using OnMessage = std::function<void(natsMsg*)>;
  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    struct Done {  // set by libnats once no callback can run any more
      std::mutex mu;
      std::condition_variable cv;
      bool flag = false;
    };

   private:
    friend class Client;
    Subscription() = default;
    natsSubscription* sub_ = nullptr;
    std::unique_ptr<OnMessage> callback_;
    Done done_;
  };
  Result<std::unique_ptr<Subscription>> SubscribeHeaders(const std::string& stream, const std::string& subject,
                                                         OnMessage on_message);

  // A batched scan of the messages stored on `subject` from sequence `start`
  // on, in sequence order, through an ephemeral pull consumer (R1, memory
  // state, no acks; removed when the reader is destroyed, or by the server
  // after 30 s without use). The consumer may live on a replica that lags the
  // leader: Fetch returns what that replica has right now (possibly nothing),
  // never a message out of order. Callers that need the leader's view finish
  // with GetMsg. Used by one thread at a time; must not outlive the Client.
  class RangeReader {
   public:
    ~RangeReader();
    RangeReader(const RangeReader&) = delete;
    RangeReader& operator=(const RangeReader&) = delete;
    // Up to `max` messages (fewer, or none, when no more are there now).
    // Unavailable when the consumer is gone (a leader change, a reconnect).
    Result<std::vector<StoredMsg>> Fetch(int max);

   private:
    friend class Client;
    RangeReader() = default;
    natsSubscription* sub_ = nullptr;
  };
  Result<std::unique_ptr<RangeReader>> ReadRange(const std::string& stream, const std::string& subject, uint64_t start);

 private:
  Client(natsConnection* nc, std::chrono::milliseconds timeout) : nc_(nc), timeout_(timeout) {}
  PubAck ParseAck(std::string_view text) const;
  Status EnsureJetStream();
  natsConnection* nc_;
  std::chrono::milliseconds timeout_;
  std::mutex js_mu_;  // guards the lazy creation of js_
  jsCtx* js_ = nullptr;
  natsSubscription* inbox_sub_ = nullptr;  // the pipeline's acknowledgements
  std::string inbox_;
};

// The err_code of an API reply's "error" (0 when it has none).
int ApiErrCode(const backend::JsonValue& reply);
// "<what>: <description> (err_code N)" as Internal/Unavailable for a reply's error.
Status ApiError(const std::string& what, const backend::JsonValue& reply);

inline constexpr int kErrWrongLastSequence = 10071;
inline constexpr int kErrNoMessageFound = 10037;
inline constexpr int kErrStreamNotFound = 10059;
inline constexpr int kErrStreamNameExists = 10058;
inline constexpr int kErrWrongLastMsgId = 10070;
inline constexpr int kErrClusterNotAvailable = 10008;
// What nats-server 2.9 answers for deleting a message that is not there
// ("no message found" as a generic deletion failure).
inline constexpr int kErrMsgDeleteFailed = 10057;
inline constexpr int kNoResponders = -503;  // not a JetStream code: no leader answered

}  // namespace estoria::nats::internal
