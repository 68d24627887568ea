// The NATS JetStream event store. Layout (docs/storage.md, "NATS JetStream"):
//
//   <S>.g              the genesis marker (one message, count 0)
//   <S>.e.<stream>     one message per append: all its events (atomic)
//   <S>.f.<stream>     the stream's deletion/truncation record (last one wins)
//   <S>.i.<event uuid> the index entry of a caller-chosen event id
//
// <stream> is the stream id's type (with '.' written as ':') and UUID. Every
// message carries Est-Pos (the global position of its first event, or head+1
// for a message without events) and Est-N (its event count), and is published
// with Nats-Expected-Last-Sequence set to the log's last sequence: a message is
// stored only right after the one its writer planned against, so positions are
// gap-free and commit-ordered across every process writing to the stream, and a
// writer whose view is current may check stream versions on that view.
#include "estoria/nats/nats_event_store.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "estoria/backend/json_codec.h"
#include "estoria/backend/paged_iterator.h"
#include "estoria/backend/uri.h"
#include "estoria/backend/validation.h"
#include "nats_client.h"

namespace estoria::nats {

using internal::Client;
using internal::StoredMsg;

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kPos = "Est-Pos";
constexpr const char* kCount = "Est-N";
constexpr const char* kFirstVersion = "Est-V";
constexpr const char* kTime = "Est-T";

Status ValidateStreamName(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return Status::InvalidArgument("nats: stream name must have 1 to 64 characters");
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
      return Status::InvalidArgument("nats: stream name \"" + name + "\" may hold only letters, digits, '-' and '_'");
    }
  }
  return Status::Ok();
}

// "<type with '.' as ':'>.<uuid>": one subject token for the type, one for the uuid.
std::string StreamToken(const TypeId& id) {
  std::string t = id.type();
  std::replace(t.begin(), t.end(), '.', ':');
  return t + "." + id.uuid().ToString();
}

Result<TypeId> TokenToStream(std::string_view token) {
  size_t dot = token.rfind('.');
  if (dot == std::string_view::npos)
    return Status::Corruption("nats: bad stream subject token \"" + std::string(token) + "\"");
  std::string type(token.substr(0, dot));
  std::replace(type.begin(), type.end(), ':', '.');
  auto uuid = Uuid::Parse(token.substr(dot + 1));
  if (!uuid.ok()) return Status::Corruption("nats: bad stream uuid in \"" + std::string(token) + "\"");
  auto id = TypeId::Make(type, *uuid);
  if (!id.ok()) return Status::Corruption("nats: bad stream type in \"" + std::string(token) + "\"");
  return *id;
}

Result<int64_t> HeaderInt(const StoredMsg& m, const char* key) {
  const std::string* v = m.Header(key);
  int64_t out = 0;
  if (v == nullptr || std::from_chars(v->data(), v->data() + v->size(), out).ec != std::errc() || out < 0) {
    return Status::Corruption("nats: message " + std::to_string(m.seq) + " on " + m.subject + " lacks a valid " + key);
  }
  return out;
}

// --- event encoding: per event, 16 bytes of UUID then four length-prefixed
// fields (type, content type, metadata JSON, data). Lengths are LEB128.
void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    auto b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

void PutField(std::string& out, std::string_view f) {
  PutVarint(out, f.size());
  out.append(f);
}

bool GetField(std::string_view& in, std::string& f) {
  uint64_t n = 0;
  if (!GetVarint(in, n) || n > in.size()) return false;
  f.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

// A stream's deletion/truncation record (the last message on <S>.f.<stream>).
struct Record {
  uint64_t seq = 0;
  bool deleted = false;      // whole stream deleted: no events until the next append
  int64_t tip = 0;           // the tip version when written (0 when deleted)
  int64_t floor = 0;         // events with version <= floor are deleted
  uint64_t dead_before = 0;  // event messages below this sequence are deleted
  int64_t last_micros = 0;   // timestamp of the stream's last append
};

Result<Record> DecodeRecord(const StoredMsg& m) {
  auto j = backend::JsonValue::parse(m.data, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Status::Corruption("nats: bad record at sequence " + std::to_string(m.seq));
  Record r;
  r.seq = m.seq;
  r.deleted = j.value("deleted", false);
  r.tip = j.value("tip", int64_t{0});
  r.floor = j.value("floor", int64_t{0});
  r.dead_before = j.value("dead_before", uint64_t{0});
  r.last_micros = j.value("t", int64_t{0});
  return r;
}

// The decoded events of one event message, before the deletion rules apply.
Result<std::vector<Event>> DecodeEvents(const StoredMsg& m, const TypeId& stream_id) {
  ESTORIA_ASSIGN_OR_RETURN(int64_t pos, HeaderInt(m, kPos));
  ESTORIA_ASSIGN_OR_RETURN(int64_t n, HeaderInt(m, kCount));
  ESTORIA_ASSIGN_OR_RETURN(int64_t version, HeaderInt(m, kFirstVersion));
  ESTORIA_ASSIGN_OR_RETURN(int64_t micros, HeaderInt(m, kTime));
  std::vector<Event> out;
  out.reserve(static_cast<size_t>(n));
  std::string_view in = m.data;
  const auto corrupt = [&] { return Status::Corruption("nats: undecodable event message " + std::to_string(m.seq)); };
  for (int64_t i = 0; i < n; ++i) {
    if (in.size() < 16) return corrupt();
    std::array<uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), in.data(), 16);
    in.remove_prefix(16);
    Event e;
    std::string type, metadata;
    if (!GetField(in, type) || !GetField(in, e.content_type) || !GetField(in, metadata) || !GetField(in, e.data)) {
      return corrupt();
    }
    e.id = TypeId(std::move(type), Uuid(bytes));
    e.stream_id = stream_id;
    e.stream_version = version + i;
    e.global_position = pos + i;
    e.timestamp = Timestamp(std::chrono::microseconds(micros));
    if (!metadata.empty()) {
      auto md = backend::DecodeMetadataJson(metadata);
      if (!md.ok()) return Status::Corruption("nats: bad metadata in message " + std::to_string(m.seq));
      e.metadata = std::move(*md);
    }
    out.push_back(std::move(e));
  }
  if (!in.empty()) return corrupt();
  return out;
}

// True when the record deletes this event of a message at `seq`.
bool Dead(const Record* r, uint64_t seq, int64_t version) {
  if (r == nullptr) return false;
  if (seq < r->dead_before) return true;
  return !r->deleted && version <= r->floor;
}

struct StreamState {
  bool exists = false;
  int64_t version = 0;
  int64_t last_micros = 0;
  uint64_t last_event_seq = 0;  // 0 when no event message
  std::optional<Record> record;
};

}  // namespace

struct NatsEventStore::Impl {
  NatsStoreOptions options;
  std::unique_ptr<Client> client;
  std::string S;  // stream name and subject prefix

  // The writer's view of the log: its last sequence and head position, known
  // when `known`; stream states cached on that view (cleared when the view is
  // refreshed, as another writer then wrote).
  std::mutex write_mu;
  bool known = false;
  uint64_t last_seq = 0;
  int64_t head = 0;
  int64_t last_micros = 0;
  std::unordered_map<std::string, StreamState> cache;
  std::vector<std::pair<std::string, uint64_t>> record_purges;  // records to drop once not last

  std::string EventSubject(const std::string& token) const { return S + ".e." + token; }
  std::string RecordSubject(const std::string& token) const { return S + ".f." + token; }
  std::string IndexSubject(const Uuid& id) const { return S + ".i." + id.ToString(); }

  Result<std::optional<StoredMsg>> Last(const std::string& subject) { return client->GetMsg(S, 0, "", subject); }
  Result<std::optional<StoredMsg>> NextOn(const std::string& subject, uint64_t seq) {
    return client->GetMsg(S, std::max<uint64_t>(seq, 1), subject, "");
  }

  // The head position a message implies (the position of its last event).
  static Result<int64_t> HeadOf(const StoredMsg& m) {
    ESTORIA_ASSIGN_OR_RETURN(int64_t pos, HeaderInt(m, kPos));
    ESTORIA_ASSIGN_OR_RETURN(int64_t n, HeaderInt(m, kCount));
    return pos + n - 1;
  }

  // The log's last sequence and head. Publishes the genesis marker into an
  // empty stream (once: de-duplicated by its message id), so that every later
  // publish can name the last sequence it expects.
  struct Tail {
    uint64_t seq = 0;
    int64_t head = 0;
  };
  Result<Tail> ReadTail() {
    for (int attempt = 0; attempt < 1000; ++attempt) {
      ESTORIA_ASSIGN_OR_RETURN(auto info, client->Info(S, ""));
      if (info.last_seq == 0) {
        ESTORIA_ASSIGN_OR_RETURN(
            auto ack, client->Publish(S + ".g", {{"Nats-Msg-Id", "estoria-genesis"}, {kPos, "1"}, {kCount, "0"}}, ""));
        if (ack.err_code != 0) return Status::Internal("nats: cannot write the genesis marker: " + ack.error);
        continue;
      }
      ESTORIA_ASSIGN_OR_RETURN(auto m, client->GetMsg(S, info.last_seq, "", ""));
      if (!m.has_value()) continue;  // raced with a purge of a superseded record: read again
      ESTORIA_ASSIGN_OR_RETURN(int64_t h, HeadOf(*m));
      return Tail{info.last_seq, h};
    }
    return Status::Internal("nats: cannot read the log's tail");
  }

  Status Refresh() {
    ESTORIA_ASSIGN_OR_RETURN(auto tail, ReadTail());
    last_seq = tail.seq;
    head = tail.head;
    known = true;
    cache.clear();
    return Status::Ok();
  }

  // A stream's state from its last event message and its record.
  Result<StreamState> ReadState(const std::string& token) {
    StreamState st;
    ESTORIA_ASSIGN_OR_RETURN(auto ev, Last(EventSubject(token)));
    ESTORIA_ASSIGN_OR_RETURN(auto rec, Last(RecordSubject(token)));
    if (rec.has_value()) {
      ESTORIA_ASSIGN_OR_RETURN(Record r, DecodeRecord(*rec));
      st.record = r;
    }
    if (ev.has_value() && (!st.record || ev->seq > st.record->seq)) {
      ESTORIA_ASSIGN_OR_RETURN(int64_t v, HeaderInt(*ev, kFirstVersion));
      ESTORIA_ASSIGN_OR_RETURN(int64_t n, HeaderInt(*ev, kCount));
      ESTORIA_ASSIGN_OR_RETURN(int64_t t, HeaderInt(*ev, kTime));
      st.exists = true;
      st.version = v + n - 1;
      st.last_micros = t;
      st.last_event_seq = ev->seq;
    } else if (st.record && !st.record->deleted) {
      st.exists = true;
      st.version = st.record->tip;
      st.last_micros = st.record->last_micros;
      st.last_event_seq = ev.has_value() ? ev->seq : 0;
    }
    return st;
  }

  // The writer's state of a stream: cached on the current view, or read. The
  // view is refreshed first when the stream holds a message beyond it.
  Result<StreamState> WriterState(const std::string& token) {
    if (!known) ESTORIA_RETURN_IF_ERROR(Refresh());
    if (auto it = cache.find(token); it != cache.end()) return it->second;
    while (true) {
      ESTORIA_ASSIGN_OR_RETURN(StreamState st, ReadState(token));
      const uint64_t newest = std::max<uint64_t>(st.last_event_seq, st.record ? st.record->seq : 0);
      if (newest <= last_seq) {
        if (cache.size() > 100000) cache.clear();
        cache[token] = st;
        return st;
      }
      ESTORIA_RETURN_IF_ERROR(Refresh());
    }
  }

  // Publishes one message at the end of the log as the writer's view knows it.
  // Returns its sequence; nullopt when another writer wrote first (the view is
  // then stale and has been dropped).
  Result<std::optional<uint64_t>> PublishNext(const std::string& subject, std::map<std::string, std::string> headers,
                                              const std::string& data, int64_t count) {
    if (static_cast<int64_t>(data.size()) + 512 > client->max_payload()) {
      return Status::InvalidArgument("nats: append of " + std::to_string(data.size()) +
                                     " bytes exceeds the server's max_payload of " +
                                     std::to_string(client->max_payload()) + " bytes");
    }
    headers["Nats-Expected-Last-Sequence"] = std::to_string(last_seq);
    headers["Nats-Msg-Id"] = Uuid::NewV7().ToString();
    headers[kPos] = std::to_string(head + 1);
    headers[kCount] = std::to_string(count);
    ESTORIA_ASSIGN_OR_RETURN(auto ack, client->Publish(subject, headers, data));
    if (ack.err_code == internal::kErrWrongLastSequence) {
      known = false;
      cache.clear();
      return std::optional<uint64_t>();
    }
    if (ack.err_code != 0) {
      known = false;
      return Status::Unavailable("nats: publish to " + subject + " refused: " + ack.error);
    }
    last_seq = ack.seq;
    head += count;
    PurgeSupersededRecords();
    return std::optional<uint64_t>(ack.seq);
  }

  // Whole-delete records whose events are purged can go once a later message
  // exists (the log's last message is never purged: it carries the head).
  void PurgeSupersededRecords() {
    if (record_purges.empty()) return;
    auto purges = std::move(record_purges);
    record_purges.clear();
    for (const auto& [subject, seq] : purges) {
      if (seq >= last_seq) {
        record_purges.emplace_back(subject, seq);
        continue;
      }
      (void)client->Purge(S, subject, seq + 1);
    }
  }

  // Where a caller-chosen event id is stored, from its index entry checked
  // against the event message it names (an entry whose append failed, or whose
  // events were deleted, names a message that does not hold the id).
  Result<std::optional<backend::StoredEventLocation>> Locate(const Uuid& id) {
    ESTORIA_ASSIGN_OR_RETURN(auto entry, Last(IndexSubject(id)));
    if (!entry.has_value()) return std::optional<backend::StoredEventLocation>();
    auto j = backend::JsonValue::parse(entry->data, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return Status::Corruption("nats: bad index entry for event " + id.ToString());
    const std::string token = j.value("stream", std::string());
    const uint64_t seq = j.value("seq", uint64_t{0});
    ESTORIA_ASSIGN_OR_RETURN(auto m, client->GetMsg(S, seq, "", ""));
    if (!m.has_value() || m->subject != EventSubject(token)) return std::optional<backend::StoredEventLocation>();
    ESTORIA_ASSIGN_OR_RETURN(TypeId stream_id, TokenToStream(token));
    ESTORIA_ASSIGN_OR_RETURN(auto events, DecodeEvents(*m, stream_id));
    ESTORIA_ASSIGN_OR_RETURN(auto rec, Last(RecordSubject(token)));
    std::optional<Record> r;
    if (rec.has_value()) {
      ESTORIA_ASSIGN_OR_RETURN(r, DecodeRecord(*rec));
    }
    for (const auto& e : events) {
      if (e.id.uuid() == id && !Dead(r ? &*r : nullptr, m->seq, e.stream_version)) {
        return std::optional<backend::StoredEventLocation>(backend::StoredEventLocation{stream_id, e.stream_version});
      }
    }
    return std::optional<backend::StoredEventLocation>();
  }

  // Every live event of a stream, in version order.
  Result<std::vector<Event>> StreamEvents(const TypeId& stream_id, const std::string& token, const StreamState& st) {
    std::vector<Event> out;
    const Record* r = st.record ? &*st.record : nullptr;
    uint64_t seq = r != nullptr ? std::max<uint64_t>(r->dead_before, 1) : 1;
    const std::string subject = EventSubject(token);
    while (true) {
      ESTORIA_ASSIGN_OR_RETURN(auto m, NextOn(subject, seq));
      if (!m.has_value()) break;
      ESTORIA_ASSIGN_OR_RETURN(auto events, DecodeEvents(*m, stream_id));
      for (auto& e : events) {
        if (!Dead(r, m->seq, e.stream_version)) out.push_back(std::move(e));
      }
      seq = m->seq + 1;
    }
    return out;
  }
};

NatsEventStore::NatsEventStore(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
NatsEventStore::~NatsEventStore() = default;

Result<std::shared_ptr<NatsEventStore>> NatsEventStore::Open(NatsStoreOptions options) {
  if (options.servers.empty()) return Status::InvalidArgument("nats: no servers given");
  ESTORIA_RETURN_IF_ERROR(ValidateStreamName(options.stream));
  if (options.replicas < 1 || options.replicas > 5) {
    return Status::InvalidArgument("nats: replicas must be 1 to 5, not " + std::to_string(options.replicas));
  }
  if (options.timeout.count() <= 0) return Status::InvalidArgument("nats: timeout must be positive");
  if (!options.logger) options.logger = StderrLogger();
  auto impl = std::make_shared<Impl>();
  impl->S = options.stream;
  ESTORIA_ASSIGN_OR_RETURN(impl->client, Client::Connect(options.servers, options.timeout));
  const std::string subjects = options.stream + ".>";
  backend::JsonValue cfg = {{"name", options.stream},
                            {"subjects", {subjects}},
                            {"retention", "limits"},
                            {"storage", "file"},
                            {"num_replicas", options.replicas},
                            {"discard", "old"},
                            {"max_msgs", -1},
                            {"max_bytes", -1},
                            {"max_age", 0},
                            {"max_msg_size", -1},
                            {"duplicate_window", int64_t{120} * 1000 * 1000 * 1000},
                            {"deny_delete", true},
                            {"deny_purge", false},
                            {"allow_rollup_hdrs", false}};
  ESTORIA_RETURN_IF_ERROR(impl->client->EnsureStream(cfg));
  impl->options = std::move(options);
  {
    std::lock_guard<std::mutex> lock(impl->write_mu);
    ESTORIA_RETURN_IF_ERROR(impl->Refresh());
  }
  return std::make_shared<NatsEventStore>(std::move(impl));
}

Result<std::shared_ptr<NatsEventStore>> NatsEventStore::OpenUri(std::string_view uri) {
  ESTORIA_ASSIGN_OR_RETURN(auto parsed, backend::ParseUri(uri));
  if (parsed.scheme != "nats" || parsed.body.rfind("//", 0) != 0 || parsed.body.size() <= 2) {
    return Status::InvalidArgument("nats: URI must look like nats://host:port[,host:port...][?options], not \"" +
                                   std::string(uri) + "\"");
  }
  NatsStoreOptions options;
  std::string_view hosts = std::string_view(parsed.body).substr(2);
  while (!hosts.empty()) {
    size_t comma = hosts.find(',');
    std::string_view host = hosts.substr(0, comma);
    if (host.empty() || host.find('/') != std::string_view::npos) {
      return Status::InvalidArgument("nats: bad server \"" + std::string(host) + "\" in \"" + std::string(uri) + "\"");
    }
    options.servers.push_back("nats://" + std::string(host));
    if (comma == std::string_view::npos) break;
    hosts.remove_prefix(comma + 1);
  }
  for (const auto& p : parsed.query) {
    if (p.key == "stream") {
      options.stream = p.value;
      ESTORIA_RETURN_IF_ERROR(ValidateStreamName(options.stream));
    } else if (p.key == "replicas") {
      ESTORIA_ASSIGN_OR_RETURN(int64_t r, backend::UriInteger("nats", p, 1, 5));
      options.replicas = static_cast<int>(r);
    } else if (p.key == "timeout_ms") {
      ESTORIA_ASSIGN_OR_RETURN(int64_t t, backend::UriInteger("nats", p, 1, 3600 * 1000));
      options.timeout = std::chrono::milliseconds(t);
    } else {
      return backend::UriUnknownOption("nats", p, "stream, replicas, timeout_ms");
    }
  }
  return Open(std::move(options));
}

Result<std::vector<Event>> NatsEventStore::AppendStream(const TypeId& stream_id, std::span<const WritableEvent> events,
                                                        const AppendOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateAppend(stream_id, events, options));
  Impl& s = *impl_;
  const std::string token = StreamToken(stream_id);
  bool chosen_ids = false;
  for (const auto& e : events) chosen_ids = chosen_ids || e.id.has_value();
  // The events as stored (ids assigned once: a retry of this call after a
  // conflict with another writer keeps them).
  std::string body;
  std::vector<Event> out(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const WritableEvent& w = events[i];
    const Uuid id = w.id.value_or(Uuid::NewV7());
    ESTORIA_ASSIGN_OR_RETURN(std::string md, w.metadata.empty() ? Result<std::string>(std::string())
                                                                : backend::EncodeMetadataJson(w.metadata));
    body.append(reinterpret_cast<const char*>(id.bytes().data()), 16);
    PutField(body, w.type);
    PutField(body, w.content_type);
    PutField(body, md);
    PutField(body, w.data);
    out[i].id = TypeId(w.type, id);
    out[i].stream_id = stream_id;
    out[i].content_type = w.content_type;
    out[i].data = w.data;
    out[i].metadata = w.metadata;
  }
  std::lock_guard<std::mutex> lock(s.write_mu);
  const auto deadline = Clock::now() + s.options.timeout;
  while (true) {
    if (Clock::now() > deadline) return Status::Unavailable("nats: append kept losing races past the timeout");
    if (!s.known) ESTORIA_RETURN_IF_ERROR(s.Refresh());
    if (chosen_ids) {
      std::vector<std::optional<backend::StoredEventLocation>> stored(events.size());
      for (size_t i = 0; i < events.size(); ++i) {
        if (events[i].id) {
          ESTORIA_ASSIGN_OR_RETURN(stored[i], s.Locate(*events[i].id));
        }
      }
      ESTORIA_RETURN_IF_ERROR(backend::ClassifyStoredIds(stream_id, events, options, stored));
    }
    ESTORIA_ASSIGN_OR_RETURN(StreamState st, s.WriterState(token));
    ESTORIA_RETURN_IF_ERROR(backend::CheckExpectation(stream_id, options, st.exists, st.version));
    const int64_t first_version = st.exists ? st.version + 1 : 1;
    // Index entries of caller-chosen ids, then the events. The event message's
    // sequence is known in advance: each publish must follow the previous one.
    bool raced = false;
    uint64_t event_seq = s.last_seq + 1;
    for (const auto& e : events) event_seq += e.id.has_value() ? 1 : 0;
    for (size_t i = 0; i < events.size() && !raced; ++i) {
      if (!events[i].id) continue;
      backend::JsonValue entry = {
          {"stream", token}, {"version", first_version + static_cast<int64_t>(i)}, {"seq", event_seq}};
      ESTORIA_ASSIGN_OR_RETURN(auto seq, s.PublishNext(s.IndexSubject(*events[i].id), {}, entry.dump(), 0));
      raced = !seq.has_value();
    }
    if (raced) continue;
    const int64_t micros = std::max<int64_t>(Now().time_since_epoch().count(), s.last_micros);
    const int64_t first_position = s.head + 1;
    ESTORIA_ASSIGN_OR_RETURN(
        auto seq, s.PublishNext(s.EventSubject(token),
                                {{kFirstVersion, std::to_string(first_version)}, {kTime, std::to_string(micros)}}, body,
                                static_cast<int64_t>(events.size())));
    if (!seq.has_value()) continue;
    s.last_micros = micros;
    StreamState next = st;
    next.exists = true;
    next.version = first_version + static_cast<int64_t>(events.size()) - 1;
    next.last_micros = micros;
    next.last_event_seq = *seq;
    s.cache[token] = next;
    for (size_t i = 0; i < out.size(); ++i) {
      out[i].stream_version = first_version + static_cast<int64_t>(i);
      out[i].global_position = first_position + static_cast<int64_t>(i);
      out[i].timestamp = Timestamp(std::chrono::microseconds(micros));
    }
    return out;
  }
}

Result<std::unique_ptr<EventIterator>> NatsEventStore::ReadStream(const TypeId& stream_id,
                                                                  const ReadStreamOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateReadStream(stream_id, options));
  Impl& s = *impl_;
  const std::string token = StreamToken(stream_id);
  ESTORIA_ASSIGN_OR_RETURN(StreamState st, s.ReadState(token));
  if (!st.exists) return Status::NotFound("stream " + stream_id.ToString() + " not found");
  ESTORIA_ASSIGN_OR_RETURN(auto all, s.StreamEvents(stream_id, token, st));
  std::vector<Event> out;
  if (options.direction == Direction::kForward) {
    for (auto& e : all) {
      if (e.stream_version > options.after_version) out.push_back(std::move(e));
    }
  } else {
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (options.after_version == 0 || it->stream_version <= options.after_version) out.push_back(std::move(*it));
    }
  }
  if (options.count > 0 && static_cast<int64_t>(out.size()) > options.count)
    out.resize(static_cast<size_t>(options.count));
  return std::unique_ptr<EventIterator>(new backend::VectorIterator(std::move(out)));
}

Result<int64_t> NatsEventStore::HeadPosition() {
  ESTORIA_ASSIGN_OR_RETURN(auto tail, impl_->ReadTail());
  return tail.head;
}

Result<std::unique_ptr<EventIterator>> NatsEventStore::ReadAll(const ReadAllOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateReadAll(options));
  std::shared_ptr<Impl> s = impl_;
  // The frontier: nothing stored after this call is yielded.
  ESTORIA_ASSIGN_OR_RETURN(auto info, s->client->Info(s->S, s->S + ".f.>"));
  const uint64_t bound = info.last_seq;
  auto records = std::make_shared<std::unordered_map<std::string, Record>>();
  const std::string record_prefix = s->S + ".f.";
  for (const auto& subject : info.subjects) {
    ESTORIA_ASSIGN_OR_RETURN(auto m, s->Last(subject));
    if (!m.has_value()) continue;
    ESTORIA_ASSIGN_OR_RETURN(Record r, DecodeRecord(*m));
    (*records)[subject.substr(record_prefix.size())] = r;
  }
  // The first message that may hold a position above after_position (every
  // message carries Est-Pos/Est-N, so positions bisect over sequences).
  uint64_t lo = 1, hi = bound + 1;
  if (options.after_position > 0) {
    while (lo < hi) {
      const uint64_t mid = lo + (hi - lo) / 2;
      ESTORIA_ASSIGN_OR_RETURN(auto m, s->NextOn(s->S + ".>", mid));
      if (!m.has_value() || m->seq >= hi) {
        hi = mid;
        continue;
      }
      ESTORIA_ASSIGN_OR_RETURN(int64_t last, Impl::HeadOf(*m));
      if (last <= options.after_position) {
        lo = m->seq + 1;
      } else {
        hi = mid;
      }
    }
  }
  const std::set<std::string> stream_types(options.stream_types.begin(), options.stream_types.end());
  const std::set<std::string> event_types(options.event_types.begin(), options.event_types.end());
  const std::string event_prefix = s->S + ".e.";
  auto cursor = std::make_shared<uint64_t>(lo);
  const int64_t after = options.after_position;
  auto fetch = [s, cursor, bound, records, stream_types, event_types, event_prefix,
                after](int64_t limit) -> Result<std::vector<Event>> {
    std::vector<Event> out;
    while (static_cast<int64_t>(out.size()) < limit && *cursor <= bound) {
      ESTORIA_ASSIGN_OR_RETURN(auto m, s->NextOn(event_prefix + ">", *cursor));
      if (!m.has_value() || m->seq > bound) {
        *cursor = bound + 1;
        break;
      }
      *cursor = m->seq + 1;
      const std::string token = m->subject.substr(event_prefix.size());
      ESTORIA_ASSIGN_OR_RETURN(TypeId stream_id, TokenToStream(token));
      if (!stream_types.empty() && !stream_types.contains(stream_id.type())) continue;
      auto rit = records->find(token);
      const Record* r = rit == records->end() ? nullptr : &rit->second;
      ESTORIA_ASSIGN_OR_RETURN(auto events, DecodeEvents(*m, stream_id));
      for (auto& e : events) {
        if (e.global_position <= after || Dead(r, m->seq, e.stream_version)) continue;
        if (!event_types.empty() && !event_types.contains(e.type())) continue;
        out.push_back(std::move(e));
      }
    }
    return out;
  };
  // The fetcher may return more than `limit` (a whole message): the paged
  // iterator's contract wants at most `limit`, so buffer the excess here.
  auto pending = std::make_shared<std::deque<Event>>();
  auto done = std::make_shared<bool>(false);
  auto paged = [fetch, pending, done](int64_t limit) -> Result<std::vector<Event>> {
    while (static_cast<int64_t>(pending->size()) < limit && !*done) {
      ESTORIA_ASSIGN_OR_RETURN(auto more, fetch(limit));
      if (more.empty()) *done = true;
      for (auto& e : more) pending->push_back(std::move(e));
    }
    std::vector<Event> out;
    while (!pending->empty() && static_cast<int64_t>(out.size()) < limit) {
      out.push_back(std::move(pending->front()));
      pending->pop_front();
    }
    return out;
  };
  return std::unique_ptr<EventIterator>(new backend::PagedIterator(paged, options.count));
}

Status NatsEventStore::DeleteStream(const TypeId& stream_id, const DeleteStreamOptions& options) {
  if (options.to_version && *options.to_version < 0) {
    return Status::InvalidArgument("DeleteStream: to_version must be >= 0");
  }
  ESTORIA_RETURN_IF_ERROR(TypeId::ValidateTypeName(stream_id.type()));
  Impl& s = *impl_;
  const std::string token = StreamToken(stream_id);
  std::lock_guard<std::mutex> lock(s.write_mu);
  const auto deadline = Clock::now() + s.options.timeout;
  while (true) {
    if (Clock::now() > deadline) return Status::Unavailable("nats: delete kept losing races past the timeout");
    if (!s.known) ESTORIA_RETURN_IF_ERROR(s.Refresh());
    ESTORIA_ASSIGN_OR_RETURN(StreamState st, s.WriterState(token));
    if (!st.exists) return Status::NotFound("stream " + stream_id.ToString() + " not found");
    Record r;
    r.last_micros = st.last_micros;
    if (options.to_version) {
      r.tip = st.version;
      r.floor = std::min(*options.to_version, st.version);
      r.dead_before = st.record ? (st.record->deleted ? st.record->seq : st.record->dead_before) : 0;
      if (st.record && !st.record->deleted) r.floor = std::max(r.floor, st.record->floor);
    } else {
      r.deleted = true;
      r.dead_before = s.last_seq + 1;  // this record's own sequence
    }
    backend::JsonValue body = {{"deleted", r.deleted},
                               {"tip", r.tip},
                               {"floor", r.floor},
                               {"dead_before", r.dead_before},
                               {"t", r.last_micros}};
    ESTORIA_ASSIGN_OR_RETURN(auto seq, s.PublishNext(s.RecordSubject(token), {}, body.dump(), 0));
    if (!seq.has_value()) continue;
    r.seq = *seq;
    StreamState next;
    next.record = r;
    next.exists = !r.deleted;
    next.version = r.tip;
    next.last_micros = r.last_micros;
    next.last_event_seq = st.last_event_seq;
    s.cache[token] = next;
    // The record is authoritative from here on; the purges reclaim space and
    // keep reads short. Truncation keeps the first message holding a survivor.
    uint64_t purge_below = r.seq;
    if (!r.deleted) {
      ESTORIA_ASSIGN_OR_RETURN(auto events, s.StreamEvents(stream_id, token, next));
      if (!events.empty()) {
        // The message holding the first survivor: scan from the start.
        uint64_t q = std::max<uint64_t>(r.dead_before, 1);
        while (true) {
          ESTORIA_ASSIGN_OR_RETURN(auto m, s.NextOn(s.EventSubject(token), q));
          if (!m.has_value()) break;
          ESTORIA_ASSIGN_OR_RETURN(int64_t v, HeaderInt(*m, kFirstVersion));
          ESTORIA_ASSIGN_OR_RETURN(int64_t n, HeaderInt(*m, kCount));
          if (m->seq >= r.dead_before && v + n - 1 > r.floor) {
            purge_below = m->seq;
            break;
          }
          q = m->seq + 1;
        }
      }
    }
    ESTORIA_RETURN_IF_ERROR(s.client->Purge(s.S, s.EventSubject(token), purge_below));
    ESTORIA_RETURN_IF_ERROR(s.client->Purge(s.S, s.RecordSubject(token), r.seq));
    if (r.deleted) s.record_purges.emplace_back(s.RecordSubject(token), r.seq);
    return Status::Ok();
  }
}

Result<std::vector<StreamInfo>> NatsEventStore::ListStreams(const ListStreamsOptions& options) {
  if (options.limit < 0) return Status::InvalidArgument("ListStreams: limit must be >= 0");
  Impl& s = *impl_;
  std::set<std::string> tokens;
  for (const char* kind : {".e.", ".f."}) {
    const std::string prefix = s.S + kind;
    ESTORIA_ASSIGN_OR_RETURN(auto info, s.client->Info(s.S, prefix + ">"));
    for (const auto& subject : info.subjects) tokens.insert(subject.substr(prefix.size()));
  }
  std::vector<std::pair<std::string, TypeId>> ids;  // by id text
  for (const auto& token : tokens) {
    ESTORIA_ASSIGN_OR_RETURN(TypeId id, TokenToStream(token));
    if (!options.stream_type.empty() && id.type() != options.stream_type) continue;
    if (id.ToString() <= options.after) continue;
    ids.emplace_back(token, id);
  }
  std::sort(ids.begin(), ids.end(),
            [](const auto& a, const auto& b) { return a.second.ToString() < b.second.ToString(); });
  std::vector<StreamInfo> out;
  for (const auto& [token, id] : ids) {
    if (options.limit > 0 && static_cast<int64_t>(out.size()) >= options.limit) break;
    ESTORIA_ASSIGN_OR_RETURN(StreamState st, s.ReadState(token));
    if (!st.exists) continue;
    out.push_back(StreamInfo{id, st.version, Timestamp(std::chrono::microseconds(st.last_micros))});
  }
  return out;
}

}  // namespace estoria::nats
