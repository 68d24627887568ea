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

#include <nats/nats.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "estoria/backend/import.h"
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

// One event in the message body format.
Status EncodeEvent(std::string& body, const Uuid& id, const std::string& type, const std::string& content_type,
                   const Metadata& metadata, const std::string& data) {
  std::string md;
  if (!metadata.empty()) {
    ESTORIA_ASSIGN_OR_RETURN(md, backend::EncodeMetadataJson(metadata));
  }
  body.append(reinterpret_cast<const char*>(id.bytes().data()), 16);
  PutField(body, type);
  PutField(body, content_type);
  PutField(body, md);
  PutField(body, data);
  return Status::Ok();
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
  uint64_t last_event_seq = 0;  // of the last visible event message; 0 when none
  uint64_t newest_seq = 0;      // of the stream's newest message of any kind
  std::optional<Record> record;
};

constexpr const char* kImport = "Est-Import";  // the import a message belongs to

}  // namespace

struct AppendRequest;

// One message planned at the end of the log.
struct PlannedMsg {
  std::string subject;
  std::map<std::string, std::string> headers;
  std::string owned;                  // its data, unless `data` is set
  const std::string* data = nullptr;  // event messages: the request's body
  int64_t position = 0;               // of its first event; 0 = the head + 1
  int64_t count = 0;                  // events
  std::string msg_id;
  std::vector<AppendRequest*> event_of;  // an event message's appends, in version order
  StreamState next;                      // the stream's state once it is stored
};

// One append waiting for the writer, and its outcome.
struct AppendRequest {
  const TypeId* stream_id = nullptr;
  std::string token;
  std::span<const WritableEvent> events;
  const AppendOptions* options = nullptr;
  const std::string* body = nullptr;
  bool chosen_ids = false;
  // Set by the writer.
  Status status;
  int64_t first_version = 0;
  int64_t first_position = 0;
  int64_t micros = 0;
  bool finished = false;  // the writer's own mark, while it processes the batch
  bool done = false;      // set under q_mu once the writer is done with it
  // AppendStreamAsync: the request owns its inputs and the caller's promise
  // (the fields above point into it), and the writer deletes it once done.
  struct Owned {
    TypeId stream_id;
    std::vector<WritableEvent> events;
    AppendOptions options;
    std::string body;
    std::vector<Event> out;
    std::promise<Result<std::vector<Event>>> promise;
  };
  std::unique_ptr<Owned> owned;
};

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
  std::string last_msg_id;  // Nats-Msg-Id of the message at last_seq
  std::unordered_map<std::string, StreamState> cache;
  std::vector<std::pair<std::string, uint64_t>> record_purges;  // records to drop once not last
  uint64_t next_tag = 1;                                        // pipeline acknowledgement tags

  // Appends waiting for the writer (group commit): the first caller to find
  // no writer becomes it and publishes every queued append, pipelined.
  std::mutex q_mu;
  std::condition_variable q_cv;
  std::deque<AppendRequest*> queue;
  bool writing = false;
  // AppendStreamAsync: a thread that becomes the writer when appends are
  // queued and no caller is writing (started on the first asynchronous
  // append, stopped by the store's destructor once the queue is empty).
  std::thread worker;
  bool stopping = false;
  static constexpr size_t kMaxBatch = 512;    // appends planned together
  static constexpr size_t kMaxQueued = 4096;  // AppendStreamAsync waits beyond this
  static constexpr std::chrono::microseconds kGather{200};
  std::condition_variable gather_cv;  // the writer, waiting for a batch to fill
  size_t last_batch = 0;              // appends in the writer's last batch

  // Publishes queued appends until the queue is empty (q_mu held on entry and
  // exit, released while publishing). Synchronous callers are marked done;
  // asynchronous ones get their result and are deleted.
  void DrainQueue(std::unique_lock<std::mutex>& lock) {
    writing = true;
    while (!queue.empty()) {
      // Group commit: callers whose appends the last batch held are queueing
      // their next ones; waiting a moment for as many (a fraction of a round
      // trip) gives each batch all of them instead of whichever woke first.
      if (queue.size() < last_batch) {
        gather_cv.wait_for(lock, kGather, [&] { return queue.size() >= last_batch; });
      }
      const size_t n = std::min(queue.size(), kMaxBatch);
      last_batch = n;
      std::vector<AppendRequest*> batch(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
      queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
      q_cv.notify_all();  // room for AppendStreamAsync callers waiting on a full queue
      lock.unlock();
      {
        std::lock_guard<std::mutex> write_lock(write_mu);
        ProcessBatch(batch);
      }
      std::vector<AppendRequest*> waiting;
      for (AppendRequest* r : batch) {
        if (r->owned == nullptr) {
          waiting.push_back(r);
          continue;
        }
        std::unique_ptr<AppendRequest> own(r);
        own->owned->promise.set_value(FinishAppend(*own, std::move(own->owned->out)));
      }
      lock.lock();
      // Only now may synchronous callers return (and free their requests).
      for (AppendRequest* r : waiting) r->done = true;
      q_cv.notify_all();
    }
    writing = false;
    q_cv.notify_all();
  }

  void WorkerLoop() {
    std::unique_lock<std::mutex> lock(q_mu);
    while (true) {
      q_cv.wait(lock, [&] { return !writing && (stopping || !queue.empty()); });
      if (queue.empty()) return;  // stopping, and nothing left to publish
      DrainQueue(lock);
    }
  }

  // The appended events of a request the writer is done with.
  static Result<std::vector<Event>> FinishAppend(const AppendRequest& r, std::vector<Event> out) {
    if (!r.status.ok()) return r.status;
    for (size_t i = 0; i < out.size(); ++i) {
      out[i].stream_version = r.first_version + static_cast<int64_t>(i);
      out[i].global_position = r.first_position + static_cast<int64_t>(i);
      out[i].timestamp = Timestamp(std::chrono::microseconds(r.micros));
    }
    return out;
  }

  // AppendWatcher: the highest position known, raised by this object's
  // appends and by an ordered consumer of the stream (other processes). The
  // consumer's callback holds the Watch, never the Impl.
  struct Watch {
    std::mutex mu;
    std::condition_variable cv;
    int64_t known_head = 0;
    void Raise(int64_t h) {
      std::lock_guard<std::mutex> lock(mu);
      if (h > known_head) {
        known_head = h;
        cv.notify_all();
      }
    }
  };
  std::shared_ptr<Watch> watch = std::make_shared<Watch>();
  std::mutex watch_sub_mu;
  std::unique_ptr<Client::Subscription> watch_sub;

  std::string EventSubject(const std::string& token) const { return S + ".e." + token; }
  std::string RecordSubject(const std::string& token) const { return S + ".f." + token; }
  std::string IndexSubject(const Uuid& id) const { return S + ".i." + id.ToString(); }

  Result<std::optional<StoredMsg>> Last(const std::string& subject) { return client->GetMsg(S, 0, "", subject); }
  Result<std::optional<StoredMsg>> NextOn(const std::string& subject, uint64_t seq) {
    return client->GetMsg(S, std::max<uint64_t>(seq, 1), subject, "");
  }

  // The messages of a subject in sequence order, for ReadAll's long scans:
  // the first ones from the stream leader (a short read pays no more), then in
  // batches from a pull consumer (Client::ReadRange). The consumer may lag the
  // leader: when it has nothing, or fails, the leader answers again, so a
  // scan never misses what the leader has.
  class Scan {
   public:
    // Messages up to sequence `bound` (a consumer asked for messages that are
    // not there yet would wait). The scan keeps the store's state alive.
    Scan(std::shared_ptr<Impl> impl, std::string subject, uint64_t bound)
        : impl_(std::move(impl)), subject_(std::move(subject)), bound_(bound) {}
    // The first message at or after `seq`, or nullopt when there is none up to
    // the bound.
    Result<std::optional<StoredMsg>> Next(uint64_t seq) {
      if (seq > bound_) return std::optional<StoredMsg>();
      while (!batch_.empty() && batch_.front().seq < seq) batch_.pop_front();
      if (batch_.empty() && ++leader_reads_ > kLeaderReads && !consumer_failed_) {
        if (!reader_) {
          auto r = impl_->client->ReadRange(impl_->S, subject_, seq);
          if (r.ok()) {
            reader_ = std::move(*r);
          } else {
            consumer_failed_ = true;
          }
        }
        if (reader_) {
          auto got = reader_->Fetch(static_cast<int>(std::min<uint64_t>(kBatch, bound_ - seq + 1)));
          if (!got.ok() || got->empty()) {
            // Nothing there now (the end, or a lagging replica), or gone:
            // the leader reads the rest.
            reader_.reset();
            consumer_failed_ = true;
          } else {
            for (auto& m : *got) batch_.push_back(std::move(m));
          }
        }
        while (!batch_.empty() && batch_.front().seq < seq) batch_.pop_front();
      }
      if (!batch_.empty() && batch_.front().seq <= bound_) {
        std::optional<StoredMsg> m(std::move(batch_.front()));
        batch_.pop_front();
        return m;
      }
      ESTORIA_ASSIGN_OR_RETURN(auto m, impl_->NextOn(subject_, seq));
      if (m.has_value() && m->seq > bound_) m.reset();
      return m;
    }

   private:
    static constexpr int kLeaderReads = 32;  // messages read from the leader before a consumer is made
    static constexpr int kBatch = 256;
    std::shared_ptr<Impl> impl_;  // declared first: the reader goes before the client
    std::string subject_;
    uint64_t bound_;
    std::unique_ptr<Client::RangeReader> reader_;
    std::deque<StoredMsg> batch_;
    int leader_reads_ = 0;
    bool consumer_failed_ = false;
  };

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
    std::string msg_id;
  };
  Result<Tail> ReadTail() {
    uint64_t seen = 0;
    const auto deadline = Clock::now() + options.timeout;
    for (int attempt = 0; attempt == 0 || Clock::now() < deadline; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(10 * attempt, 200)));
      ESTORIA_ASSIGN_OR_RETURN(auto info, client->Info(S, ""));
      if (info.last_seq == 0) {
        ESTORIA_ASSIGN_OR_RETURN(
            auto ack, client->Publish(S + ".g", {{"Nats-Msg-Id", "estoria-genesis"}, {kPos, "1"}, {kCount, "0"}}, ""));
        if (ack.err_code != 0) return Status::Internal("nats: cannot write the genesis marker: " + ack.error);
        continue;
      }
      seen = info.last_seq;
      ESTORIA_ASSIGN_OR_RETURN(auto m, client->GetMsg(S, info.last_seq, "", ""));
      // Not there: raced with the purge of a superseded record, or a leader
      // that is still replaying its log after a restart. Read again.
      if (!m.has_value()) continue;
      ESTORIA_ASSIGN_OR_RETURN(int64_t h, HeadOf(*m));
      const std::string* id = m->Header("Nats-Msg-Id");
      return Tail{info.last_seq, h, id != nullptr ? *id : std::string()};
    }
    return Status::Internal("nats: cannot read the log's tail: the stream's last sequence " + std::to_string(seen) +
                            " holds no message");
  }

  Status Refresh() {
    ESTORIA_ASSIGN_OR_RETURN(auto tail, ReadTail());
    last_seq = tail.seq;
    head = tail.head;
    last_msg_id = tail.msg_id;
    known = true;
    cache.clear();
    RaiseKnownHead(head);
    return Status::Ok();
  }

  // Imports (docs/storage.md): an import's messages form one contiguous run
  // in the log, each with Est-Import: <id>, ended by its commit marker on
  // <S>.x.<id>. Its events are visible once the marker is stored; a run
  // followed by another message can never be committed (aborted); a run that
  // reaches the end of the log may still be (in progress).
  enum class ImportState { kCommitted, kAborted, kInProgress };
  std::mutex import_mu;
  std::unordered_map<std::string, ImportState> import_states;  // final states only

  Result<ImportState> StateOfImport(const std::string& id, uint64_t part_seq) {
    {
      std::lock_guard<std::mutex> lock(import_mu);
      if (auto it = import_states.find(id); it != import_states.end()) return it->second;
    }
    ImportState state = ImportState::kInProgress;
    ESTORIA_ASSIGN_OR_RETURN(auto marker, Last(S + ".x." + id));
    if (marker.has_value()) {
      state = ImportState::kCommitted;
    } else {
      uint64_t q = part_seq + 1;
      while (true) {
        ESTORIA_ASSIGN_OR_RETURN(auto m, NextOn(S + ".>", q));
        if (!m.has_value()) break;  // the run reaches the end of the log
        const std::string* of = m->Header(kImport);
        if (of == nullptr || *of != id) {
          // Read the marker again: it may have been stored since.
          ESTORIA_ASSIGN_OR_RETURN(auto again, Last(S + ".x." + id));
          state = again.has_value() ? ImportState::kCommitted : ImportState::kAborted;
          break;
        }
        if (m->subject == S + ".x." + id) {
          state = ImportState::kCommitted;
          break;
        }
        q = m->seq + 1;
      }
    }
    if (state != ImportState::kInProgress) {
      std::lock_guard<std::mutex> lock(import_mu);
      if (import_states.size() > 100000) import_states.clear();
      import_states[id] = state;
    }
    return state;
  }

  // Whether an event message's events are visible (not part of an import
  // that is not committed).
  Result<bool> Visible(const StoredMsg& m) {
    const std::string* of = m.Header(kImport);
    if (of == nullptr) return true;
    ESTORIA_ASSIGN_OR_RETURN(ImportState st, StateOfImport(*of, m.seq));
    return st == ImportState::kCommitted;
  }

  // A stream's state from its last event message and its record.
  Result<StreamState> ReadState(const std::string& token) {
    StreamState st;
    ESTORIA_ASSIGN_OR_RETURN(auto ev, Last(EventSubject(token)));
    ESTORIA_ASSIGN_OR_RETURN(auto rec, Last(RecordSubject(token)));
    st.newest_seq = std::max<uint64_t>(ev ? ev->seq : 0, rec ? rec->seq : 0);
    if (rec.has_value()) {
      ESTORIA_ASSIGN_OR_RETURN(Record r, DecodeRecord(*rec));
      st.record = r;
    }
    if (ev.has_value()) {
      ESTORIA_ASSIGN_OR_RETURN(bool visible, Visible(*ev));
      if (!visible) {
        // The newest message is part of an import that is not committed: the
        // last visible one is found by reading the subject from its start.
        ev.reset();
        uint64_t q = 1;
        while (true) {
          ESTORIA_ASSIGN_OR_RETURN(auto m, NextOn(EventSubject(token), q));
          if (!m.has_value()) break;
          q = m->seq + 1;
          ESTORIA_ASSIGN_OR_RETURN(bool v, Visible(*m));
          if (v) ev = std::move(m);
        }
      }
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
      if (st.newest_seq <= last_seq) {
        if (cache.size() > 100000) cache.clear();
        cache[token] = st;
        return st;
      }
      ESTORIA_RETURN_IF_ERROR(Refresh());
    }
  }

  void RaiseKnownHead(int64_t h) { watch->Raise(h); }

  void ProcessBatch(std::vector<AppendRequest*> batch);

  struct ChainResult {
    size_t stored = 0;  // messages stored, from the first
    enum { kAll, kRefused, kUnknown, kError } outcome = kAll;
    Status error;  // kUnknown, kError
  };
  ChainResult PublishChain(const std::vector<PlannedMsg>& msgs,
                           const std::function<void(const PlannedMsg&)>& on_stored);

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
      (void)client->DeleteMsg(S, seq);
    }
  }

  // Deletes the messages of `subject` below `below_seq`, one by one.
  Status RemoveBelow(const std::string& subject, uint64_t below_seq) {
    uint64_t q = 1;
    while (q < below_seq) {
      ESTORIA_ASSIGN_OR_RETURN(auto m, NextOn(subject, q));
      if (!m.has_value() || m->seq >= below_seq) break;
      ESTORIA_RETURN_IF_ERROR(client->DeleteMsg(S, m->seq).status());
      q = m->seq + 1;
    }
    return Status::Ok();
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
    ESTORIA_ASSIGN_OR_RETURN(bool visible, Visible(*m));
    if (!visible) return std::optional<backend::StoredEventLocation>();
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
    // One leader read per message: a pull consumer filtered on one stream's
    // subject measured no faster here (bench read-stream, 500-event streams).
    const std::string subject = EventSubject(token);
    while (true) {
      ESTORIA_ASSIGN_OR_RETURN(auto m, NextOn(subject, seq));
      if (!m.has_value()) break;
      seq = m->seq + 1;
      ESTORIA_ASSIGN_OR_RETURN(bool visible, Visible(*m));
      if (!visible) continue;
      ESTORIA_ASSIGN_OR_RETURN(auto events, DecodeEvents(*m, stream_id));
      for (auto& e : events) {
        if (!Dead(r, m->seq, e.stream_version)) out.push_back(std::move(e));
      }
    }
    return out;
  }
};

// Planning a chain of messages at the end of the log: each names the last
// sequence it follows and, after the first, the message id before it.
struct ChainPlan {
  uint64_t seq = 0;
  int64_t head = 0;
  std::string msg_id;
  bool first = true;
  void Add(PlannedMsg m, std::vector<PlannedMsg>& out) {
    m.msg_id = Uuid::NewV7().ToString();
    m.headers["Nats-Msg-Id"] = m.msg_id;
    m.headers["Nats-Expected-Last-Sequence"] = std::to_string(seq);
    if (!first && !msg_id.empty()) m.headers["Nats-Expected-Last-Msg-Id"] = msg_id;
    if (m.position == 0) m.position = head + 1;
    m.headers[kPos] = std::to_string(m.position);
    m.headers[kCount] = std::to_string(m.count);
    seq += 1;
    head = std::max(head, m.position + m.count - 1);
    msg_id = m.msg_id;
    first = false;
    out.push_back(std::move(m));
  }
};

// Publishes a planned chain: all messages without waiting, then the
// acknowledgements in order. Stops at the first message refused or left
// without an answer. A message without an answer is sent again unchanged and
// waited for (its Nats-Msg-Id makes a stored copy a duplicate that JetStream
// acknowledges with the first copy's sequence).
NatsEventStore::Impl::ChainResult NatsEventStore::Impl::PublishChain(
    const std::vector<PlannedMsg>& msgs, const std::function<void(const PlannedMsg&)>& on_stored) {
  ChainResult res;
  const uint64_t first_tag = next_tag;
  next_tag += msgs.size();
  size_t sent = 0;
  for (; sent < msgs.size(); ++sent) {
    const PlannedMsg& m = msgs[sent];
    if (!client->Send(m.subject, m.headers, m.data ? *m.data : m.owned, first_tag + sent).ok()) break;
  }
  for (size_t k = 0; k < msgs.size(); ++k) {
    const PlannedMsg& m = msgs[k];
    std::optional<internal::PubAck> ack;
    if (k < sent) {
      const auto wait_until = Clock::now() + std::clamp(options.timeout / 4, std::chrono::milliseconds(250),
                                                        std::chrono::milliseconds(2000));
      while (!ack && Clock::now() < wait_until) {
        auto got = client->Receive(std::chrono::duration_cast<std::chrono::milliseconds>(wait_until - Clock::now()));
        if (!got.ok()) break;
        if (got->has_value() && (*got)->first == first_tag + k) ack = (*got)->second;
      }
    }
    if (!ack || ack->err_code == internal::kNoResponders) {
      auto again = client->Publish(m.subject, m.headers, m.data ? *m.data : m.owned);
      if (!again.ok()) {
        known = false;
        res.outcome = ChainResult::kUnknown;
        res.error = again.status();
        return res;
      }
      ack = *again;
    }
    if (ack->err_code == internal::kErrWrongLastSequence || ack->err_code == internal::kErrWrongLastMsgId) {
      known = false;  // another writer came first
      cache.clear();
      res.outcome = ChainResult::kRefused;
      return res;
    }
    if (ack->err_code != 0) {
      known = false;
      res.outcome = ChainResult::kError;
      res.error = Status::Unavailable("nats: publish to " + m.subject + " refused: " + ack->error);
      return res;
    }
    last_seq = ack->seq;
    head = std::max(head, m.position + m.count - 1);
    last_msg_id = m.msg_id;
    res.stored = k + 1;
    on_stored(m);
  }
  return res;
}

// The writer: plans every pending append on the current view (one after the
// other, so two appends to one stream in a batch see each other), publishes
// all their messages without waiting (pipelined), then takes the
// acknowledgements in order. The first message names the last sequence it
// follows (Nats-Expected-Last-Sequence); each later one also names the message
// id before it (Nats-Expected-Last-Msg-Id), so when one message is refused
// (another process wrote first) every later one is refused too, and the rest
// of the batch is planned again on a fresh view.
void NatsEventStore::Impl::ProcessBatch(std::vector<AppendRequest*> batch) {
  const auto deadline = Clock::now() + options.timeout;
  const auto fail = [](AppendRequest* r, Status st) {
    r->status = std::move(st);
    r->finished = true;
  };
  std::vector<AppendRequest*> pending = std::move(batch);
  while (!pending.empty()) {
    if (Clock::now() > deadline) {
      for (auto* r : pending) fail(r, Status::Unavailable("nats: append not acknowledged within the timeout"));
      return;
    }
    if (!known) {
      if (Status st = Refresh(); !st.ok()) {
        for (auto* r : pending) fail(r, st);
        return;
      }
    }
    // Plan.
    const uint64_t base_seq = last_seq;
    ChainPlan plan{last_seq, head, last_msg_id};
    const int64_t micros = std::max<int64_t>(Now().time_since_epoch().count(), last_micros);
    std::unordered_map<std::string, StreamState> overlay;
    std::set<Uuid> planned_ids;
    std::vector<PlannedMsg> msgs;
    std::vector<AppendRequest*> deferred;
    bool restart = false;
    // The event messages to publish, in the order of their first append.
    struct Group {
      std::string token;
      std::vector<AppendRequest*> reqs;
      int64_t bytes = 0;
      StreamState next;  // the stream's state after the group's last append
    };
    std::vector<Group> groups;
    std::unordered_map<std::string, size_t> open_group;  // stream token -> the group appends join
    for (AppendRequest* r : pending) {
      if (r->chosen_ids) {
        bool collides = false;
        for (const auto& e : r->events) collides = collides || (e.id && planned_ids.contains(*e.id));
        if (collides) {  // decided once the earlier append is stored
          deferred.push_back(r);
          continue;
        }
        std::vector<std::optional<backend::StoredEventLocation>> stored(r->events.size());
        Status st;
        for (size_t i = 0; i < r->events.size() && st.ok(); ++i) {
          if (!r->events[i].id) continue;
          auto loc = Locate(*r->events[i].id);
          if (loc.ok()) {
            stored[i] = *loc;
          } else {
            st = loc.status();
          }
        }
        if (st.ok()) st = backend::ClassifyStoredIds(*r->stream_id, r->events, *r->options, stored);
        if (!st.ok()) {
          fail(r, st);
          continue;
        }
      }
      StreamState state;
      if (auto it = overlay.find(r->token); it != overlay.end()) {
        state = it->second;
      } else {
        auto st = WriterState(r->token);
        if (!st.ok()) {
          fail(r, st.status());
          continue;
        }
        if (last_seq != base_seq || !known) {  // the view moved: plan again
          restart = true;
          break;
        }
        state = *st;
      }
      if (Status st = backend::CheckExpectation(*r->stream_id, *r->options, state.exists, state.version); !st.ok()) {
        fail(r, st);
        continue;
      }
      if (static_cast<int64_t>(r->body->size()) + 1024 > client->max_payload()) {
        fail(r, Status::InvalidArgument("nats: append of " + std::to_string(r->body->size()) +
                                        " bytes exceeds the server's max_payload of " +
                                        std::to_string(client->max_payload()) + " bytes"));
        continue;
      }
      r->first_version = state.exists ? state.version + 1 : 1;
      r->micros = micros;
      StreamState next = state;
      next.exists = true;
      next.version = r->first_version + static_cast<int64_t>(r->events.size()) - 1;
      next.last_micros = micros;
      overlay[r->token] = next;
      // Consecutive appends to one stream share a message while it stays
      // under max_payload; an append with caller-chosen ids has a message of
      // its own (its index entries name that message).
      if (auto it = open_group.find(r->token);
          it != open_group.end() && !r->chosen_ids &&
          groups[it->second].bytes + static_cast<int64_t>(r->body->size()) + 1024 <= client->max_payload()) {
        Group& g = groups[it->second];
        g.reqs.push_back(r);
        g.bytes += static_cast<int64_t>(r->body->size());
        g.next = next;
        continue;
      }
      groups.push_back(Group{r->token, {r}, static_cast<int64_t>(r->body->size()), next});
      if (r->chosen_ids) {
        for (const auto& e : r->events) {
          if (e.id) planned_ids.insert(*e.id);
        }
        open_group.erase(r->token);
      } else {
        open_group[r->token] = groups.size() - 1;
      }
    }
    if (restart) groups.clear();
    for (Group& g : groups) {
      AppendRequest* first = g.reqs.front();
      const auto add = [&](PlannedMsg m) { plan.Add(std::move(m), msgs); };
      uint64_t event_seq = plan.seq + 1;
      for (const auto& e : first->events) event_seq += e.id ? 1 : 0;
      if (first->chosen_ids) {
        for (size_t i = 0; i < first->events.size(); ++i) {
          if (!first->events[i].id) continue;
          PlannedMsg m;
          m.subject = IndexSubject(*first->events[i].id);
          m.owned = backend::JsonValue{{"stream", first->token},
                                       {"version", first->first_version + static_cast<int64_t>(i)},
                                       {"seq", event_seq}}
                        .dump();
          add(std::move(m));
        }
      }
      PlannedMsg m;
      m.subject = EventSubject(g.token);
      int64_t count = 0;
      for (AppendRequest* r : g.reqs) {
        r->first_position = plan.head + 1 + count;
        count += static_cast<int64_t>(r->events.size());
        if (g.reqs.size() > 1) m.owned += *r->body;
      }
      if (g.reqs.size() == 1) m.data = first->body;
      m.count = count;
      m.headers[kFirstVersion] = std::to_string(first->first_version);
      m.headers[kTime] = std::to_string(micros);
      m.event_of = g.reqs;
      m.next = g.next;
      m.next.last_event_seq = event_seq;
      add(std::move(m));
    }
    const auto still_pending = [&] {
      std::vector<AppendRequest*> next;
      for (auto* r : pending) {
        if (!r->finished) next.push_back(r);
      }
      return next;
    };
    if (restart || msgs.empty()) {
      pending = still_pending();
      if (!restart && pending.size() == deferred.size() && !deferred.empty()) {
        // Only deferred appends remain and nothing was planned: impossible
        // (a deferral needs a planned append); guard against a livelock.
        for (auto* r : deferred) fail(r, Status::Internal("nats: append deferred without cause"));
        pending.clear();
      }
      continue;
    }
    const ChainResult res = PublishChain(msgs, [&](const PlannedMsg& m) {
      for (AppendRequest* r : m.event_of) {
        last_micros = std::max(last_micros, r->micros);
        cache[r->token] = m.next;
        r->finished = true;
      }
    });
    const bool broken = res.stored < msgs.size();
    if (res.outcome == ChainResult::kUnknown) {
      // This message and every later one may or may not be stored: their
      // appends fail (Unavailable) and are never planned again, which could
      // store them twice.
      for (size_t j = res.stored; j < msgs.size(); ++j) {
        for (AppendRequest* r : msgs[j].event_of) {
          fail(r, Status::Unavailable("nats: append outcome unknown (no acknowledgement within the "
                                      "timeout; it may have been stored): " +
                                      res.error.message()));
        }
      }
    } else if (res.outcome == ChainResult::kError) {
      for (AppendRequest* r : msgs[res.stored].event_of) fail(r, res.error);
    }
    if (!broken) PurgeSupersededRecords();
    RaiseKnownHead(head);
    pending = still_pending();
  }
}

NatsEventStore::NatsEventStore(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
NatsEventStore::~NatsEventStore() {
  // Queued asynchronous appends are published first (their futures complete).
  std::thread worker;
  {
    std::lock_guard<std::mutex> lock(impl_->q_mu);
    impl_->stopping = true;
    worker = std::move(impl_->worker);
  }
  impl_->q_cv.notify_all();
  if (worker.joinable()) worker.join();
}

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
  ESTORIA_RETURN_IF_ERROR(backend::ValidateEventLimits(
      "nats: event_limits (server max_payload " + std::to_string(impl->client->max_payload()) + ")",
      options.event_limits, impl->client->max_payload() - 4096));
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
                            {"deny_delete", false},
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

EventLimits NatsEventStore::event_limits() const { return impl_->options.event_limits; }

Result<std::shared_ptr<NatsEventStore>> NatsEventStore::OpenUri(std::string_view uri) {
  ESTORIA_ASSIGN_OR_RETURN(NatsStoreOptions options, ParseUri(uri));
  return Open(std::move(options));
}

Result<NatsStoreOptions> NatsEventStore::ParseUri(std::string_view uri) {
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
    } else if (p.key == "max_event_data_bytes") {
      ESTORIA_ASSIGN_OR_RETURN(options.event_limits.max_event_data_bytes, backend::UriInteger("nats", p, 1));
    } else if (p.key == "max_event_metadata_bytes") {
      ESTORIA_ASSIGN_OR_RETURN(options.event_limits.max_event_metadata_bytes, backend::UriInteger("nats", p, 1));
    } else {
      return backend::UriUnknownOption("nats", p,
                                       "stream, replicas, timeout_ms, max_event_data_bytes, max_event_metadata_bytes");
    }
  }
  return options;
}

namespace {

// The events of an append as stored (ids assigned once, so that planning again
// after a race with another writer keeps them), their message body, and
// whether the caller chose any id.
Status PrepareAppend(const TypeId& stream_id, std::span<const WritableEvent> events, std::string& body,
                     std::vector<Event>& out, bool& chosen_ids) {
  out.resize(events.size());
  chosen_ids = false;
  for (size_t i = 0; i < events.size(); ++i) {
    const WritableEvent& w = events[i];
    chosen_ids = chosen_ids || w.id.has_value();
    const Uuid id = w.id.value_or(Uuid::NewV7());
    ESTORIA_RETURN_IF_ERROR(EncodeEvent(body, id, w.type, w.content_type, w.metadata, w.data));
    out[i].id = TypeId(w.type, id);
    out[i].stream_id = stream_id;
    out[i].content_type = w.content_type;
    out[i].data = w.data;
    out[i].metadata = w.metadata;
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Event>> NatsEventStore::AppendStream(const TypeId& stream_id, std::span<const WritableEvent> events,
                                                        const AppendOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateAppend(stream_id, events, options, impl_->options.event_limits));
  Impl& s = *impl_;
  std::string body;
  std::vector<Event> out;
  AppendRequest req;
  ESTORIA_RETURN_IF_ERROR(PrepareAppend(stream_id, events, body, out, req.chosen_ids));
  req.stream_id = &stream_id;
  req.token = StreamToken(stream_id);
  req.events = events;
  req.options = &options;
  req.body = &body;
  {
    std::unique_lock<std::mutex> lock(s.q_mu);
    s.queue.push_back(&req);
    s.gather_cv.notify_one();
    while (!req.done) {
      if (!s.writing) {
        s.DrainQueue(lock);  // become the writer until the queue is empty
        continue;
      }
      s.q_cv.wait(lock);
    }
  }
  return Impl::FinishAppend(req, std::move(out));
}

std::future<Result<std::vector<Event>>> NatsEventStore::AppendStreamAsync(const TypeId& stream_id,
                                                                          std::vector<WritableEvent> events,
                                                                          const AppendOptions& options) {
  Impl& s = *impl_;
  auto req = std::make_unique<AppendRequest>();
  req->owned = std::make_unique<AppendRequest::Owned>();
  AppendRequest::Owned& own = *req->owned;
  auto future = own.promise.get_future();
  own.stream_id = stream_id;
  own.events = std::move(events);
  own.options = options;
  Status st = backend::ValidateAppend(own.stream_id, own.events, own.options, s.options.event_limits);
  if (st.ok()) st = PrepareAppend(own.stream_id, own.events, own.body, own.out, req->chosen_ids);
  if (!st.ok()) {
    own.promise.set_value(st);
    return future;
  }
  req->stream_id = &own.stream_id;
  req->token = StreamToken(own.stream_id);
  req->events = own.events;
  req->options = &own.options;
  req->body = &own.body;
  {
    std::unique_lock<std::mutex> lock(s.q_mu);
    s.q_cv.wait(lock, [&] { return s.queue.size() < Impl::kMaxQueued; });
    if (!s.worker.joinable()) s.worker = std::thread([&s] { s.WorkerLoop(); });
    s.queue.push_back(req.release());
    s.gather_cv.notify_one();
  }
  s.q_cv.notify_all();
  return future;
}

Result<int64_t> NatsEventStore::WaitForAppend(int64_t after_position, std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.watch_sub_mu);
    if (!s.watch_sub) {
      // Subscribe first, then read the head: nothing stored in between is missed.
      std::shared_ptr<Impl::Watch> watch = s.watch;
      auto sub = s.client->SubscribeHeaders(s.S, s.S + ".>", [watch](natsMsg* msg) {
        const char* pos = nullptr;
        const char* n = nullptr;
        if (natsMsgHeader_Get(msg, kPos, &pos) != NATS_OK || natsMsgHeader_Get(msg, kCount, &n) != NATS_OK) return;
        watch->Raise(std::atoll(pos) + std::atoll(n) - 1);
      });
      if (!sub.ok()) return sub.status();
      s.watch_sub = std::move(*sub);
      ESTORIA_ASSIGN_OR_RETURN(auto tail, s.ReadTail());
      s.RaiseKnownHead(tail.head);
    }
  }
  Impl::Watch& w = *s.watch;
  std::unique_lock<std::mutex> lock(w.mu);
  w.cv.wait_for(lock, timeout, [&] { return w.known_head > after_position; });
  return w.known_head;
}

Result<std::vector<int64_t>> NatsEventStore::ImportEvents(std::span<const Event> events, const ImportOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateImportEvents(events, impl_->options.event_limits));
  if (events.empty()) return std::vector<int64_t>();
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.write_mu);
  const auto deadline = Clock::now() + s.options.timeout;
  const int64_t max_part = std::max<int64_t>(s.client->max_payload() - 4096, 1024);
  while (true) {
    if (Clock::now() > deadline) return Status::Unavailable("nats: import kept losing races past the timeout");
    if (!s.known) ESTORIA_RETURN_IF_ERROR(s.Refresh());
    const uint64_t base_seq = s.last_seq;
    backend::ImportTarget target;
    target.head = s.head;
    target.stream_tip = [&](const std::string& stream) -> Result<std::optional<int64_t>> {
      ESTORIA_ASSIGN_OR_RETURN(TypeId id, TypeId::Parse(stream));
      ESTORIA_ASSIGN_OR_RETURN(StreamState st, s.WriterState(StreamToken(id)));
      return st.exists ? std::optional<int64_t>(st.version) : std::nullopt;
    };
    target.id_stored = [&](const Uuid& id) -> Result<bool> {
      ESTORIA_ASSIGN_OR_RETURN(auto loc, s.Locate(id));
      return loc.has_value();
    };
    ESTORIA_ASSIGN_OR_RETURN(backend::ImportPlan plan, backend::PlanImport(events, options, target));
    if (s.last_seq != base_seq || !s.known) continue;  // the view moved while planning
    // Parts: runs of one stream with consecutive versions and positions and
    // one timestamp, each within the server's max_payload.
    struct Part {
      size_t first = 0, count = 0;
      std::string body;
    };
    std::vector<Part> parts;
    for (size_t i = 0; i < events.size(); ++i) {
      const Event& e = events[i];
      std::string one;
      ESTORIA_RETURN_IF_ERROR(EncodeEvent(one, e.id.uuid(), e.type(), e.content_type, e.metadata, e.data));
      if (static_cast<int64_t>(one.size()) > max_part) {
        return Status::InvalidArgument("ImportEvents: event " + e.id.ToString() + " of " + std::to_string(one.size()) +
                                       " bytes exceeds the server's max_payload");
      }
      bool joins = false;
      if (!parts.empty()) {
        const Part& p = parts.back();
        const Event& prev = events[p.first + p.count - 1];
        joins = prev.stream_id == e.stream_id && prev.stream_version + 1 == e.stream_version &&
                plan.positions[i - 1] + 1 == plan.positions[i] && prev.timestamp == e.timestamp &&
                static_cast<int64_t>(p.body.size() + one.size()) <= max_part;
      }
      if (!joins) parts.push_back(Part{i, 0, {}});
      parts.back().count += 1;
      parts.back().body += one;
    }
    // The chain: an index entry per event, the parts, the commit marker.
    const std::string import_id = Uuid::NewV7().ToString();
    ChainPlan cp{s.last_seq, s.head, s.last_msg_id};
    std::vector<PlannedMsg> msgs;
    msgs.reserve(events.size() + parts.size() + 1);
    const uint64_t first_part_seq = s.last_seq + events.size() + 1;
    for (size_t k = 0; k < parts.size(); ++k) {
      for (size_t i = parts[k].first; i < parts[k].first + parts[k].count; ++i) {
        PlannedMsg m;
        m.subject = s.IndexSubject(events[i].id.uuid());
        m.owned = backend::JsonValue{{"stream", StreamToken(events[i].stream_id)},
                                     {"version", events[i].stream_version},
                                     {"seq", first_part_seq + k}}
                      .dump();
        cp.Add(std::move(m), msgs);
      }
    }
    for (auto& p : parts) {
      const Event& e = events[p.first];
      PlannedMsg m;
      m.subject = s.EventSubject(StreamToken(e.stream_id));
      m.data = &p.body;
      m.position = plan.positions[p.first];
      m.count = static_cast<int64_t>(p.count);
      m.headers[kFirstVersion] = std::to_string(e.stream_version);
      m.headers[kTime] = std::to_string(e.timestamp.time_since_epoch().count());
      m.headers[kImport] = import_id;
      cp.Add(std::move(m), msgs);
    }
    PlannedMsg marker;
    marker.subject = s.S + ".x." + import_id;
    marker.position = plan.head + 1;
    marker.headers[kImport] = import_id;
    cp.Add(std::move(marker), msgs);
    const auto res = s.PublishChain(msgs, [](const PlannedMsg&) {});
    s.cache.clear();
    s.RaiseKnownHead(s.head);
    if (res.outcome == Impl::ChainResult::kAll) return plan.positions;
    if (res.outcome == Impl::ChainResult::kRefused) continue;  // the run is aborted: plan again
    if (res.outcome == Impl::ChainResult::kUnknown) {
      return Status::Unavailable("nats: import outcome unknown (no acknowledgement within the timeout): " +
                                 res.error.message());
    }
    return res.error;
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
  auto scan = std::make_shared<Impl::Scan>(s, event_prefix + ">", bound);
  auto fetch = [s, cursor, bound, records, stream_types, event_types, event_prefix, after,
                scan](int64_t limit) -> Result<std::vector<Event>> {
    std::vector<Event> out;
    while (static_cast<int64_t>(out.size()) < limit && *cursor <= bound) {
      ESTORIA_ASSIGN_OR_RETURN(auto m, scan->Next(*cursor));
      if (!m.has_value() || m->seq > bound) {
        *cursor = bound + 1;
        break;
      }
      const std::string* import_id = m->Header(kImport);
      if (import_id != nullptr) {
        ESTORIA_ASSIGN_OR_RETURN(auto state, s->StateOfImport(*import_id, m->seq));
        if (state == Impl::ImportState::kInProgress) {
          // Not committed yet, and it may still be: nothing at or after it is
          // yielded (stable prefix), so this read ends here.
          *cursor = bound + 1;
          break;
        }
        if (state == Impl::ImportState::kAborted) {
          *cursor = m->seq + 1;
          continue;
        }
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
    std::vector<PlannedMsg> msgs;
    PlannedMsg m;
    m.subject = s.RecordSubject(token);
    m.owned = body.dump();
    ChainPlan{s.last_seq, s.head, s.last_msg_id}.Add(std::move(m), msgs);
    const auto res = s.PublishChain(msgs, [](const PlannedMsg&) {});
    if (res.outcome == Impl::ChainResult::kRefused) continue;  // another writer came first
    if (res.outcome != Impl::ChainResult::kAll) return res.error;
    s.PurgeSupersededRecords();
    r.seq = s.last_seq;
    StreamState next;
    next.record = r;
    next.exists = !r.deleted;
    next.version = r.tip;
    next.last_micros = r.last_micros;
    next.last_event_seq = st.last_event_seq;
    s.cache[token] = next;
    // The record is authoritative from here on; the removals reclaim space and
    // keep reads short. Truncation keeps the first message holding a survivor.
    uint64_t purge_below = r.seq;
    if (!r.deleted) {
      for (uint64_t q = std::max<uint64_t>(r.dead_before, 1);;) {
        ESTORIA_ASSIGN_OR_RETURN(auto ev, s.NextOn(s.EventSubject(token), q));
        if (!ev.has_value() || ev->seq >= r.seq) break;
        ESTORIA_ASSIGN_OR_RETURN(int64_t v, HeaderInt(*ev, kFirstVersion));
        ESTORIA_ASSIGN_OR_RETURN(int64_t n, HeaderInt(*ev, kCount));
        if (v + n - 1 > r.floor) {
          purge_below = ev->seq;
          break;
        }
        q = ev->seq + 1;
      }
    }
    ESTORIA_RETURN_IF_ERROR(s.RemoveBelow(s.EventSubject(token), purge_below));
    ESTORIA_RETURN_IF_ERROR(s.RemoveBelow(s.RecordSubject(token), r.seq));
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
