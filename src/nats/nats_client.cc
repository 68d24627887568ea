#include "nats_client.h"

#include <algorithm>
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
    const int64_t wait = std::min<int64_t>(left.count(), std::max<int64_t>(timeout.count() / 4, 250));
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
  natsConnection_Close(nc_);
  natsConnection_Destroy(nc_);
}

int64_t Client::max_payload() const { return natsConnection_GetMaxPayload(nc_); }

Result<backend::JsonValue> Client::Api(const std::string& subject, const std::string& body) {
  natsMsg* request = nullptr;
  if (natsMsg_Create(&request, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size())) != NATS_OK) {
    return Status::Internal("NATS: cannot build request " + subject);
  }
  auto reply = RequestUntil(nc_, request, Clock::now() + timeout_, timeout_, subject);
  natsMsg_Destroy(request);
  if (!reply.ok()) return reply.status();
  std::string_view data(natsMsg_GetData(*reply), static_cast<size_t>(natsMsg_GetDataLength(*reply)));
  auto json = backend::JsonValue::parse(data, nullptr, /*allow_exceptions=*/false);
  natsMsg_Destroy(*reply);
  if (json.is_discarded() || !json.is_object()) return Status::Internal("NATS " + subject + ": reply is not JSON");
  return json;
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
  auto reply = RequestUntil(nc_, msg, Clock::now() + timeout_, timeout_, "publish to " + subject);
  natsMsg_Destroy(msg);
  if (!reply.ok()) return reply.status();
  std::string_view text(natsMsg_GetData(*reply), static_cast<size_t>(natsMsg_GetDataLength(*reply)));
  auto json = backend::JsonValue::parse(text, nullptr, /*allow_exceptions=*/false);
  natsMsg_Destroy(*reply);
  if (json.is_discarded() || !json.is_object()) return Status::Internal("NATS publish: acknowledgement is not JSON");
  PubAck ack;
  if (json.contains("error")) {
    ack.err_code = ApiErrCode(json);
    ack.error = json["error"].value("description", std::string("unknown error"));
    if (ack.err_code == 0) ack.err_code = -1;
    return ack;
  }
  if (!json.contains("seq") || !json["seq"].is_number_unsigned()) {
    return Status::Internal("NATS publish: acknowledgement without a sequence");
  }
  ack.seq = json["seq"].get<uint64_t>();
  ack.duplicate = json.value("duplicate", false);
  return ack;
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

Status Client::Purge(const std::string& stream, const std::string& subject, uint64_t below_seq, uint64_t* purged) {
  backend::JsonValue req = {{"filter", subject}};
  if (below_seq > 0) req["seq"] = below_seq;
  ESTORIA_ASSIGN_OR_RETURN(auto reply, Api("$JS.API.STREAM.PURGE." + stream, req.dump()));
  if (reply.contains("error")) return ApiError("NATS purge of " + subject, reply);
  if (purged != nullptr) *purged = reply.value("purged", uint64_t{0});
  return Status::Ok();
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
