#include "nats_client.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <thread>

namespace estoria::nats::internal {

namespace {

using Clock = std::chrono::steady_clock;

std::string NatsText(natsStatus s) {
  const char* text = natsStatus_GetText(s);
  return text == nullptr ? "status " + std::to_string(static_cast<int>(s)) : std::string(text);
}

// Statuses after which the same request may be sent again: the server or the
// stream leader is away for a moment (reconnect, election).
bool Transient(natsStatus s) {
  return s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_DISCONNECTED || s == NATS_NO_SERVER ||
         s == NATS_STALE_CONNECTION;
}

// "NATS/1.0[ status]\r\nKey: Value\r\n...\r\n\r\n".
void ParseHeaders(std::string_view block, std::map<std::string, std::string>& out) {
  size_t pos = block.find("\r\n");
  while (pos != std::string_view::npos) {
    size_t start = pos + 2;
    size_t end = block.find("\r\n", start);
    if (end == std::string_view::npos || end == start) break;
    std::string_view line = block.substr(start, end - start);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      out.emplace(std::string(line.substr(0, colon)), std::string(value));
    }
    pos = end;
  }
}

// Sends one request, retrying transient failures until `deadline`.
Result<natsMsg*> RequestUntil(natsConnection* nc, natsMsg* request, Clock::time_point deadline,
                              std::chrono::milliseconds timeout, const std::string& what) {
  natsStatus last = NATS_OK;
  std::chrono::milliseconds backoff(10);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    natsMsg* reply = nullptr;
    // One attempt waits at most 2 s: a request left unanswered (a hung
    // server, a leader change) is sent again; every request is idempotent.
    const int64_t wait = std::min<int64_t>(left.count(), std::clamp<int64_t>(timeout.count() / 4, 250, 2000));
    last = natsConnection_RequestMsg(&reply, nc, request, wait);
    if (last == NATS_OK) return reply;
    if (!Transient(last)) return Status::Unavailable("NATS " + what + ": " + NatsText(last));
    if (last != NATS_TIMEOUT) {
      std::this_thread::sleep_for(std::min(backoff, left));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
    }
  }
  return Status::Unavailable("NATS " + what + ": no answer within " + std::to_string(timeout.count()) +
                             " ms (last: " + NatsText(last) + ")");
}

}  // namespace

Result<std::unique_ptr<Client>> Client::Connect(const std::vector<std::string>& servers,
                                                std::chrono::milliseconds timeout) {
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) return Status::Internal("NATS: cannot create connection options");
  std::vector<const char*> urls;
  urls.reserve(servers.size());
  for (const auto& s : servers) urls.push_back(s.c_str());
  natsStatus s = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, std::max<int64_t>(timeout.count() / 4, 250));
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 50);
  if (s == NATS_OK) s = natsOptions_SetNoRandomize(opts, false);
  // Pipelined publishes go out at once, not after the flusher thread's pause.
  if (s == NATS_OK) s = natsOptions_SetSendAsap(opts, true);
  // A hung server (SIGSTOP, a network partition) is left within about 3 s.
  if (s == NATS_OK) s = natsOptions_SetPingInterval(opts, 1000);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts, 2);
  if (s != NATS_OK) {
    natsOptions_Destroy(opts);
    return Status::InvalidArgument("NATS: bad server list: " + NatsText(s));
  }
  natsConnection* nc = nullptr;
  const auto deadline = Clock::now() + timeout;
  do {
    s = natsConnection_Connect(&nc, opts);
    if (s == NATS_OK) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (Clock::now() < deadline);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    std::string list;
    for (const auto& server : servers) list += (list.empty() ? "" : ",") + server;
    return Status::Unavailable("NATS: cannot connect to " + list + ": " + NatsText(s));
  }
  return std::unique_ptr<Client>(new Client(nc, timeout));
}

Client::~Client() {
  if (inbox_sub_ != nullptr) natsSubscription_Destroy(inbox_sub_);
  if (js_ != nullptr) jsCtx_Destroy(js_);
  natsConnection_Close(nc_);
  natsConnection_Destroy(nc_);
}

int64_t Client::max_payload() const { return natsConnection_GetMaxPayload(nc_); }

Result<backend::JsonValue> Client::Api(const std::string& subject, const std::string& body) {
  natsMsg* request = nullptr;
  if (natsMsg_Create(&request, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size())) != NATS_OK) {
    return Status::Internal("NATS: cannot build request " + subject);
  }
  const auto deadline = Clock::now() + timeout_;
  std::chrono::milliseconds backoff(20);
  while (true) {
    auto reply = RequestUntil(nc_, request, deadline, timeout_, subject);
    if (!reply.ok()) {
      natsMsg_Destroy(request);
      return reply.status();
    }
    std::string_view data(natsMsg_GetData(*reply), static_cast<size_t>(natsMsg_GetDataLength(*reply)));
    auto json = backend::JsonValue::parse(data, nullptr, /*allow_exceptions=*/false);
    natsMsg_Destroy(*reply);
    if (json.is_discarded() || !json.is_object()) {
      natsMsg_Destroy(request);
      return Status::Internal("NATS " + subject + ": reply is not JSON");
    }
    // "JetStream system temporarily unavailable" and other 503s: a server
    // whose view of the cluster is catching up after a leader change answered
    // first. Ask again until the deadline.
    const bool transient = json.contains("error") && json["error"].is_object() &&
                           (json["error"].value("code", 0) == 503 || ApiErrCode(json) == kErrClusterNotAvailable);
    if (!transient || Clock::now() + backoff >= deadline) {
      natsMsg_Destroy(request);
      return json;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(250));
  }
}

Status Client::EnsureStream(const backend::JsonValue& config) {
  const std::string name = config.value("name", std::string());
  ESTORIA_ASSIGN_OR_RETURN(auto reply, Api("$JS.API.STREAM.CREATE." + name, config.dump()));
  if (!reply.contains("error")) return Status::Ok();
  const int code = ApiErrCode(reply);
  if (code != kErrStreamNameExists) {
    if (reply["error"].value("code", 0) == 503 || code == 10005 || code == 10074) {
      return Status::Unavailable("nats: cannot create stream " + name + ": " +
                                 reply["error"].value("description", std::string()));
    }
    return ApiError("nats: cannot create stream " + name, reply);
  }
  // It exists (maybe with other settings): it must hold our subjects.
  ESTORIA_ASSIGN_OR_RETURN(auto info, Api("$JS.API.STREAM.INFO." + name, "{}"));
  if (info.contains("error")) return ApiError("nats: stream info of " + name, info);
  const auto& held = info["config"]["subjects"];
  for (const auto& subject : config.value("subjects", backend::JsonValue::array())) {
    if (!held.is_array() || std::find(held.begin(), held.end(), subject) == held.end()) {
      return Status::FailedPrecondition("nats: stream " + name + " exists but does not hold subjects " +
                                        subject.get<std::string>());
    }
  }
  return Status::Ok();
}

Result<PubAck> Client::Publish(const std::string& subject, const std::map<std::string, std::string>& headers,
                               const std::string& data) {
  natsMsg* msg = nullptr;
  if (natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size())) != NATS_OK) {
    return Status::Internal("NATS: cannot build message for " + subject);
  }
  for (const auto& [key, value] : headers) {
    if (natsMsgHeader_Set(msg, key.c_str(), value.c_str()) != NATS_OK) {
      natsMsg_Destroy(msg);
      return Status::Internal("NATS: cannot set header " + key);
    }
  }
  const auto deadline = Clock::now() + timeout_;
  std::chrono::milliseconds backoff(20);
  while (true) {
    auto reply = RequestUntil(nc_, msg, deadline, timeout_, "publish to " + subject);
    if (!reply.ok()) {
      natsMsg_Destroy(msg);
      return reply.status();
    }
    std::string text(natsMsg_GetData(*reply), static_cast<size_t>(natsMsg_GetDataLength(*reply)));
    natsMsg_Destroy(*reply);
    PubAck ack = ParseAck(text);
    if (ack.err_code == -1 && ack.error.empty()) {
      natsMsg_Destroy(msg);
      return Status::Internal("NATS publish: acknowledgement is not JSON");
    }
    // Refused for now (a leader change): the same message again is safe.
    if (ack.err_code != kNoResponders || Clock::now() + backoff >= deadline) {
      natsMsg_Destroy(msg);
      if (ack.err_code == kNoResponders) {
        return Status::Unavailable("NATS publish to " + subject + ": " + ack.error);
      }
      return ack;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(250));
  }
}

PubAck Client::ParseAck(std::string_view text) const {
  PubAck ack;
  auto json = backend::JsonValue::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    ack.err_code = -1;
    return ack;
  }
  if (json.contains("error")) {
    ack.err_code = ApiErrCode(json);
    ack.error = json["error"].value("description", std::string("unknown error"));
    if (ack.err_code == 0) ack.err_code = -1;
    // Not stored, for now: a leader change is under way.
    if (json["error"].is_object() &&
        (json["error"].value("code", 0) == 503 || ack.err_code == kErrClusterNotAvailable)) {
      ack.err_code = kNoResponders;
    }
    return ack;
  }
  if (!json.contains("seq") || !json["seq"].is_number_unsigned()) {
    ack.err_code = -1;
    ack.error = "acknowledgement without a sequence";
    return ack;
  }
  ack.seq = json["seq"].get<uint64_t>();
  ack.duplicate = json.value("duplicate", false);
  return ack;
}

Status Client::Send(const std::string& subject, const std::map<std::string, std::string>& headers,
                    const std::string& data, uint64_t tag) {
  if (inbox_sub_ == nullptr) {
    natsInbox* inbox = nullptr;
    if (natsInbox_Create(&inbox) != NATS_OK) return Status::Internal("NATS: cannot create an inbox");
    inbox_ = inbox;
    natsInbox_Destroy(inbox);
    natsStatus st = natsConnection_SubscribeSync(&inbox_sub_, nc_, (inbox_ + ".*").c_str());
    if (st == NATS_OK) st = natsSubscription_SetPendingLimits(inbox_sub_, -1, -1);
    if (st != NATS_OK)
      return Status::Unavailable("NATS: cannot subscribe to the acknowledgement inbox: " + NatsText(st));
  }
  natsMsg* msg = nullptr;
  const std::string reply = inbox_ + "." + std::to_string(tag);
  if (natsMsg_Create(&msg, subject.c_str(), reply.c_str(), data.data(), static_cast<int>(data.size())) != NATS_OK) {
    return Status::Internal("NATS: cannot build message for " + subject);
  }
  for (const auto& [key, value] : headers) {
    if (natsMsgHeader_Set(msg, key.c_str(), value.c_str()) != NATS_OK) {
      natsMsg_Destroy(msg);
      return Status::Internal("NATS: cannot set header " + key);
    }
  }
  natsStatus st = natsConnection_PublishMsg(nc_, msg);
  natsMsg_Destroy(msg);
  if (st != NATS_OK) return Status::Unavailable("NATS: publish to " + subject + ": " + NatsText(st));
  return Status::Ok();
}

Result<std::optional<std::pair<uint64_t, PubAck>>> Client::Receive(std::chrono::milliseconds wait) {
  using Out = std::optional<std::pair<uint64_t, PubAck>>;
  if (inbox_sub_ == nullptr) return Out();
  natsMsg* msg = nullptr;
  natsStatus st = natsSubscription_NextMsg(&msg, inbox_sub_, std::max<int64_t>(wait.count(), 1));
  if (st == NATS_TIMEOUT) return Out();
  if (st != NATS_OK) return Status::Unavailable("NATS: acknowledgement inbox: " + NatsText(st));
  const std::string subject = natsMsg_GetSubject(msg);
  uint64_t tag = 0;
  const size_t dot = subject.rfind('.');
  std::from_chars(subject.data() + dot + 1, subject.data() + subject.size(), tag);
  PubAck ack;
  if (natsMsg_IsNoResponders(msg)) {
    ack.err_code = kNoResponders;
    ack.error = "no responders (no stream leader)";
  } else {
    ack = ParseAck(std::string_view(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))));
    if (ack.err_code == -1 && ack.error.empty()) ack.error = "acknowledgement is not JSON";
  }
  natsMsg_Destroy(msg);
  return Out(std::make_pair(tag, std::move(ack)));
}

namespace {
// A failed JetStream subscribe: destroys what libnats left in `sub` and says
// what could not be created (Unavailable).
Status SubscribeFailure(const std::string& what, natsSubscription*& sub, natsStatus st, jsErrCode jerr) {
  if (sub != nullptr) natsSubscription_Destroy(sub);
  sub = nullptr;
  return Status::Unavailable("NATS: cannot create " + what + ": " + NatsText(st) +
                             (jerr != 0 ? " (err_code " + std::to_string(static_cast<int>(jerr)) + ")" : ""));
}

void OnSubscriptionMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  (*static_cast<Client::OnMessage*>(closure))(msg);
  natsMsg_Destroy(msg);
}
}  // namespace

void OnSubscriptionComplete(void* closure) {
  auto* done = static_cast<Client::Subscription::Done*>(closure);
  std::lock_guard<std::mutex> lock(done->mu);
  done->flag = true;
  done->cv.notify_all();
}

Client::Subscription::~Subscription() {
  if (sub_ == nullptr) return;
  // No callback runs once the completion callback has: only then may the
  // callback's state go.
  if (natsSubscription_Unsubscribe(sub_) == NATS_OK) {
    std::unique_lock<std::mutex> lock(done_.mu);
    done_.cv.wait_for(lock, std::chrono::seconds(10), [this] { return done_.flag; });
  }
  natsSubscription_Destroy(sub_);
}

Result<std::unique_ptr<Client::Subscription>> Client::SubscribeHeaders(const std::string& stream,
                                                                       const std::string& subject,
                                                                       OnMessage on_message) {
  ESTORIA_RETURN_IF_ERROR(EnsureJetStream());
  std::unique_ptr<Subscription> out(new Subscription());
  out->callback_ = std::make_unique<OnMessage>(std::move(on_message));
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverNew;
  so.Config.HeadersOnly = true;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus st =
      js_Subscribe(&out->sub_, js_, subject.c_str(), OnSubscriptionMessage, out->callback_.get(), nullptr, &so, &jerr);
  if (st == NATS_OK) st = natsSubscription_SetOnCompleteCB(out->sub_, OnSubscriptionComplete, &out->done_);
  if (st != NATS_OK) return SubscribeFailure("the append watcher's consumer", out->sub_, st, jerr);
  return out;
}

Status Client::EnsureJetStream() {
  std::lock_guard<std::mutex> lock(js_mu_);
  if (js_ != nullptr) return Status::Ok();
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = timeout_.count();
  if (natsConnection_JetStream(&js_, nc_, &jo) != NATS_OK) return Status::Internal("NATS: no JetStream context");
  return Status::Ok();
}

Client::RangeReader::~RangeReader() {
  if (sub_ == nullptr) return;
  (void)natsSubscription_Unsubscribe(sub_);  // deletes the ephemeral consumer
  natsSubscription_Destroy(sub_);
}

Result<std::vector<StoredMsg>> Client::RangeReader::Fetch(int max) {
  jsFetchRequest req;
  jsFetchRequest_Init(&req);
  req.Batch = max;
  req.NoWait = true;
  req.Expires = int64_t{200} * 1000 * 1000;  // a cap: NoWait answers at once unless nothing is there
  natsMsgList list{nullptr, 0};
  std::vector<StoredMsg> out;
  const natsStatus st = natsSubscription_FetchRequest(&list, sub_, &req);
  if (st == NATS_TIMEOUT || st == NATS_NOT_FOUND) return out;  // nothing there now
  if (st != NATS_OK) {
    natsMsgList_Destroy(&list);
    return Status::Unavailable("NATS: range read failed: " + NatsText(st));
  }
  for (int i = 0; i < list.Count; ++i) {
    natsMsg* msg = list.Msgs[i];
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) continue;  // not a stored message (a status)
    StoredMsg m;
    m.seq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    m.subject = natsMsg_GetSubject(msg);
    if (natsMsg_GetDataLength(msg) > 0) {
      m.data.assign(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    }
    const char** keys = nullptr;
    int nkeys = 0;
    if (natsMsgHeader_Keys(msg, &keys, &nkeys) == NATS_OK) {
      for (int k = 0; k < nkeys; ++k) {
        const char* v = nullptr;
        if (natsMsgHeader_Get(msg, keys[k], &v) == NATS_OK && v != nullptr) m.headers.emplace(keys[k], v);
      }
      free(static_cast<void*>(keys));
    }
    out.push_back(std::move(m));
  }
  natsMsgList_Destroy(&list);
  return out;
}

Result<std::unique_ptr<Client::RangeReader>> Client::ReadRange(const std::string& stream, const std::string& subject,
                                                               uint64_t start) {
  ESTORIA_RETURN_IF_ERROR(EnsureJetStream());
  std::unique_ptr<RangeReader> out(new RangeReader());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = std::max<uint64_t>(start, 1);
  so.Config.AckPolicy = js_AckNone;
  so.Config.MemoryStorage = true;
  so.Config.Replicas = 1;
  so.Config.InactiveThreshold = int64_t{30} * 1000 * 1000 * 1000;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus st = js_PullSubscribe(&out->sub_, js_, subject.c_str(), nullptr, nullptr, &so, &jerr);
  if (st != NATS_OK) return SubscribeFailure("a range reader", out->sub_, st, jerr);
  return out;
}

Result<std::optional<StoredMsg>> Client::GetMsg(const std::string& stream, uint64_t seq,
                                                const std::string& next_subject, const std::string& last_subject) {
  backend::JsonValue req = backend::JsonValue::object();
  if (!last_subject.empty()) {
    req["last_by_subj"] = last_subject;
  } else {
    req["seq"] = seq;
    if (!next_subject.empty()) req["next_by_subj"] = next_subject;
  }
  ESTORIA_ASSIGN_OR_RETURN(auto reply, Api("$JS.API.STREAM.MSG.GET." + stream, req.dump()));
  if (reply.contains("error")) {
    const int code = ApiErrCode(reply);
    if (code == kErrNoMessageFound || reply["error"].value("code", 0) == 404) {
      if (code == kErrStreamNotFound) return ApiError("NATS get message", reply);
      return std::optional<StoredMsg>();
    }
    return ApiError("NATS get message", reply);
  }
  const auto& m = reply["message"];
  if (!m.is_object()) return Status::Internal("NATS get message: reply without a message");
  StoredMsg out;
  out.subject = m.value("subject", std::string());
  out.seq = m.value("seq", uint64_t{0});
  if (m.contains("hdrs") && m["hdrs"].is_string()) {
    ESTORIA_ASSIGN_OR_RETURN(std::string block, backend::Base64Decode(m["hdrs"].get<std::string>()));
    ParseHeaders(block, out.headers);
  }
  if (m.contains("data") && m["data"].is_string()) {
    ESTORIA_ASSIGN_OR_RETURN(out.data, backend::Base64Decode(m["data"].get<std::string>()));
  }
  return std::optional<StoredMsg>(std::move(out));
}

Result<Client::StreamState> Client::Info(const std::string& stream, const std::string& subjects_filter) {
  StreamState out;
  size_t offset = 0;
  while (true) {
    backend::JsonValue req = backend::JsonValue::object();
    if (!subjects_filter.empty()) {
      req["subjects_filter"] = subjects_filter;
      req["offset"] = offset;
    }
    ESTORIA_ASSIGN_OR_RETURN(auto reply, Api("$JS.API.STREAM.INFO." + stream, req.dump()));
    if (reply.contains("error")) return ApiError("NATS stream info", reply);
    const auto& state = reply["state"];
    if (!state.is_object()) return Status::Internal("NATS stream info: reply without a state");
    out.last_seq = state.value("last_seq", uint64_t{0});
    size_t got = 0;
    if (state.contains("subjects") && state["subjects"].is_object()) {
      for (const auto& [subject, count] : state["subjects"].items()) {
        (void)count;
        out.subjects.push_back(subject);
        ++got;
      }
    }
    const size_t total = reply.value("total", size_t{0});
    offset += got;
    if (subjects_filter.empty() || got == 0 || offset >= total) break;
  }
  return out;
}

Result<bool> Client::DeleteMsg(const std::string& stream, uint64_t seq) {
  backend::JsonValue req = {{"seq", seq}, {"no_erase", true}};
  ESTORIA_ASSIGN_OR_RETURN(auto reply, Api("$JS.API.STREAM.MSG.DELETE." + stream, req.dump()));
  if (reply.contains("error")) {
    const int code = ApiErrCode(reply);
    if (code == kErrMsgDeleteFailed || (reply["error"].value("code", 0) == 404 && code != kErrStreamNotFound)) {
      return false;  // already gone
    }
    return ApiError("NATS delete of message " + std::to_string(seq), reply);
  }
  return true;
}

int ApiErrCode(const backend::JsonValue& reply) {
  if (!reply.contains("error") || !reply["error"].is_object()) return 0;
  return reply["error"].value("err_code", 0);
}

Status ApiError(const std::string& what, const backend::JsonValue& reply) {
  const auto& e = reply["error"];
  const std::string text = what + ": " + e.value("description", std::string("unknown error")) + " (err_code " +
                           std::to_string(e.value("err_code", 0)) + ")";
  const int code = e.value("code", 0);
  if (code == 503 || code == 408) return Status::Unavailable(text);
  return Status::Internal(text);
}

}  // namespace estoria::nats::internal
