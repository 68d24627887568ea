#include "estoria/memory/memory_event_store.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "estoria/backend/import.h"
#include "estoria/backend/paged_iterator.h"
#include "estoria/backend/validation.h"
#include "memory_log.h"

namespace estoria::memory {
namespace {

constexpr uint32_t kNoStream = std::numeric_limits<uint32_t>::max();

// One slot of the global log (index = position - 1): the event's fixed fields,
// with its payload and encoded metadata in the byte arena and its type strings
// and stream id interned. stream == kNoStream marks a deleted event or a gap
// left by an import that preserved positions.
struct Record {
  Uuid id;
  int64_t version = 0;
  int64_t timestamp_us = 0;
  const char* bytes = nullptr;  // data, then metadata (EncodeMetadata)
  uint32_t data_size = 0;
  uint32_t metadata_size = 0;
  uint32_t stream = kNoStream;
  uint32_t kind = 0;  // interned (event type, content type)
};
static_assert(sizeof(Record) == 56);

// Metadata as (u32 key size, u32 value size, key, value) per entry, in key
// order; empty metadata takes no bytes.
size_t EncodedSize(const Metadata& m) {
  size_t n = 0;
  for (const auto& [k, v] : m) n += 8 + k.size() + v.size();
  return n;
}

void Encode(const Metadata& m, char* out) {
  for (const auto& [k, v] : m) {
    uint32_t ks = static_cast<uint32_t>(k.size()), vs = static_cast<uint32_t>(v.size());
    std::memcpy(out, &ks, 4);
    std::memcpy(out + 4, &vs, 4);
    out += 8;
    std::memcpy(out, k.data(), ks);
    out += ks;
    std::memcpy(out, v.data(), vs);
    out += vs;
  }
}

Metadata Decode(const char* p, size_t n) {
  Metadata m;
  const char* end = p + n;
  while (p < end) {
    uint32_t ks, vs;
    std::memcpy(&ks, p, 4);
    std::memcpy(&vs, p + 4, 4);
    p += 8;
    m.emplace_hint(m.end(), std::string(p, ks), std::string(p + ks, vs));
    p += ks + vs;
  }
  return m;
}

// Interned (event type, content type) pairs: index -> texts, texts -> index.
class KindInterner {
 public:
  uint32_t Intern(const std::string& type, const std::string& content_type) {
    if (last_ < types_.size() && types_[last_] == type && content_types_[last_] == content_type) return last_;
    // Type names never hold '\n' (TypeId::ValidateTypeName): the key is unambiguous.
    std::string key = type + '\n' + content_type;
    auto it = index_.find(key);
    if (it == index_.end()) {
      it = index_.emplace(std::move(key), static_cast<uint32_t>(types_.size())).first;
      types_.push_back(type);
      content_types_.push_back(content_type);
    }
    last_ = it->second;
    return last_;
  }
  const std::string& type(uint32_t i) const { return types_[i]; }
  const std::string& content_type(uint32_t i) const { return content_types_[i]; }

 private:
  std::vector<std::string> types_, content_types_;
  std::unordered_map<std::string, uint32_t> index_;
  uint32_t last_ = 0;
};

}  // namespace

struct MemoryEventStore::State {
  struct Stream {
    TypeId id;
    std::string key;                 // id.ToString(), the ListStreams order
    int64_t version = 0;             // tip version; survives truncation
    int64_t first = 1;               // first live version
    bool live = true;                // false once deleted (a recreated stream is a new Stream)
    std::vector<int64_t> positions;  // positions of versions first..version
    Timestamp last{};
  };

  // Appends, deletes and imports hold `mu` exclusively; reads share it.
  std::shared_mutex mu;
  internal::ChunkedLog<Record> log;
  internal::ByteArena bytes;
  // Where each id is: caller-chosen and imported ids in `ids` (live events
  // only); ids the store generated in `generated`, runs of consecutive
  // positions {first, count} in log order. Uuid::NewV7() is strictly
  // increasing within a process and the store calls it under its exclusive
  // lock, so those ids increase along the runs too: a binary search finds them
  // with no per-event entry at all (usually one run). Deleted events stay in
  // the runs; their records say they are gone.
  struct Run {
    int64_t first, count;
  };
  internal::IdIndex ids;
  std::vector<Run> generated;
  KindInterner kinds;
  std::vector<std::unique_ptr<Stream>> streams;  // index = Record::stream; never reused
  std::unordered_map<TypeId, uint32_t> live;     // live streams by id
  std::map<std::string, uint32_t> ordered;       // live streams by id text
  Timestamp last_timestamp{};
  std::atomic<int64_t> head{0};  // log.size(), readable without `mu`

  // AppendWatcher: waiters sleep on `appended` under `wait_mu`; an append
  // notifies only when some waiter is registered.
  std::mutex wait_mu;
  std::condition_variable appended;
  std::atomic<int> waiters{0};

  const Uuid& IdAt(int64_t position) const { return log[static_cast<size_t>(position - 1)].id; }
  void IndexId(const Uuid& id, int64_t position) {
    ids.Insert(id, position, [this](int64_t p) -> const Uuid& { return IdAt(p); });
  }
  // The position of the live event with this id, or 0.
  int64_t FindId(const Uuid& id) const {
    if (int64_t p = ids.Find(id, [this](int64_t p) -> const Uuid& { return IdAt(p); })) return p;
    // Ids the store generated, increasing along `generated` (see there): the
    // last run starting at or before `id`, then the position within it.
    auto run = std::upper_bound(generated.begin(), generated.end(), id,
                                [this](const Uuid& x, const Run& r) { return x < IdAt(r.first); });
    if (run == generated.begin()) return 0;
    --run;
    int64_t lo = run->first, hi = run->first + run->count;  // [lo, hi)
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (IdAt(mid) < id) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo == run->first + run->count) return 0;
    const Record& r = log[static_cast<size_t>(lo - 1)];
    return r.id == id && r.stream != kNoStream ? lo : 0;
  }
  uint32_t AddStream(const TypeId& id) {
    auto s = std::make_unique<Stream>();
    s->id = id;
    s->key = id.ToString();
    uint32_t index = static_cast<uint32_t>(streams.size());
    live.emplace(id, index);
    ordered.emplace(s->key, index);
    streams.push_back(std::move(s));
    return index;
  }
  // Appends one record for an event whose fields are final. `generated`: its
  // id was made by Uuid::NewV7() under the exclusive lock.
  void Store(const Event& e, uint32_t stream, bool generated_id) {
    Record r;
    r.id = e.id.uuid();
    r.version = e.stream_version;
    r.timestamp_us = e.timestamp.time_since_epoch().count();
    r.data_size = static_cast<uint32_t>(e.data.size());
    r.metadata_size = static_cast<uint32_t>(EncodedSize(e.metadata));
    char* p = bytes.Allocate(size_t{r.data_size} + r.metadata_size);
    if (r.data_size > 0) std::memcpy(p, e.data.data(), r.data_size);
    if (r.metadata_size > 0) Encode(e.metadata, p + r.data_size);
    r.bytes = p;
    r.stream = stream;
    r.kind = kinds.Intern(e.id.type(), e.content_type);
    log.push_back(r);
    const int64_t position = static_cast<int64_t>(log.size());
    if (generated_id) {
      if (!generated.empty() && generated.back().first + generated.back().count == position) {
        ++generated.back().count;
      } else {
        generated.push_back(Run{position, 1});
      }
    } else {
      IndexId(r.id, static_cast<int64_t>(log.size()));
    }
  }
  // Appends the Event at log index `index` to `page`, its strings built at
  // their exact sizes (assigning into a default Event measured much slower).
  void Materialize(size_t index, std::vector<Event>& page) const {
    const Record& r = log[index];
    page.push_back(Event{TypeId(kinds.type(r.kind), r.id), streams[r.stream]->id, r.version,
                         static_cast<int64_t>(index) + 1, Timestamp(std::chrono::microseconds(r.timestamp_us)),
                         kinds.content_type(r.kind), std::string(r.bytes, r.data_size),
                         r.metadata_size > 0 ? Decode(r.bytes + r.data_size, r.metadata_size) : Metadata()});
  }
  void Publish() { head.store(static_cast<int64_t>(log.size())); }
  void NotifyWaiters() {
    if (waiters.load() == 0) return;
    { std::lock_guard<std::mutex> lock(wait_mu); }
    appended.notify_all();
  }
};

namespace {

// Payload and metadata sizes are kept in 32 bits.
Status CheckSizes(const std::string& what, const std::string& data, const Metadata& metadata) {
  constexpr size_t kMax = std::numeric_limits<uint32_t>::max();
  if (data.size() > kMax) return Status::InvalidArgument(what + ": payload larger than 4 GiB");
  if (EncodedSize(metadata) > kMax) return Status::InvalidArgument(what + ": metadata larger than 4 GiB");
  return Status::Ok();
}

}  // namespace

constexpr int64_t kMaxMemoryEventBytes = std::numeric_limits<uint32_t>::max();

MemoryEventStore::MemoryEventStore(MemoryEventStoreOptions options)
    : state_(std::make_shared<State>()), limits_(options.event_limits) {
  limits_.max_event_data_bytes = std::clamp<int64_t>(limits_.max_event_data_bytes, 1, kMaxMemoryEventBytes);
  limits_.max_event_metadata_bytes = std::clamp<int64_t>(limits_.max_event_metadata_bytes, 1, kMaxMemoryEventBytes);
}
MemoryEventStore::~MemoryEventStore() = default;

Result<std::shared_ptr<MemoryEventStore>> MemoryEventStore::Open(MemoryEventStoreOptions options) {
  ESTORIA_RETURN_IF_ERROR(
      backend::ValidateEventLimits("MemoryEventStoreOptions", options.event_limits, kMaxMemoryEventBytes));
  return std::make_shared<MemoryEventStore>(std::move(options));
}

Result<std::vector<Event>> MemoryEventStore::AppendStream(const TypeId& stream_id,
                                                          std::span<const WritableEvent> events,
                                                          const AppendOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateAppend(stream_id, events, options, limits_));
  // The returned events are built before taking the lock; only their
  // positions, versions and timestamp are filled in under it.
  bool any_id = false;
  std::vector<Event> out(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const WritableEvent& w = events[i];
    if (w.data.size() > std::numeric_limits<uint32_t>::max() || !w.metadata.empty()) {
      ESTORIA_RETURN_IF_ERROR(
          CheckSizes("append to " + stream_id.ToString() + ": event " + std::to_string(i), w.data, w.metadata));
    }
    any_id = any_id || w.id.has_value();
    Event& e = out[i];
    if (w.id) e.id = TypeId(w.type, *w.id);  // else made under the lock
    e.stream_id = stream_id;
    e.content_type = w.content_type;
    e.data = w.data;
    e.metadata = w.metadata;
  }
  State& st = *state_;
  {
    std::unique_lock<std::shared_mutex> lock(st.mu);
    if (any_id) {
      std::vector<std::optional<backend::StoredEventLocation>> stored(events.size());
      for (size_t i = 0; i < events.size(); ++i) {
        if (!events[i].id) continue;
        int64_t pos = st.FindId(*events[i].id);
        if (pos == 0) continue;
        const Record& r = st.log[static_cast<size_t>(pos - 1)];
        stored[i] = backend::StoredEventLocation{st.streams[r.stream]->id, r.version};
      }
      ESTORIA_RETURN_IF_ERROR(backend::ClassifyStoredIds(stream_id, events, options, stored));
    }
    auto lit = st.live.find(stream_id);
    bool exists = lit != st.live.end();
    ESTORIA_RETURN_IF_ERROR(
        backend::CheckExpectation(stream_id, options, exists, exists ? st.streams[lit->second]->version : 0));
    uint32_t index = exists ? lit->second : st.AddStream(stream_id);
    State::Stream& stream = *st.streams[index];
    // Timestamps never go backwards within the log.
    Timestamp ts = std::max(Now(), st.last_timestamp);
    st.last_timestamp = ts;
    for (size_t i = 0; i < out.size(); ++i) {
      Event& e = out[i];
      const bool generate = !events[i].id.has_value();
      if (generate) e.id = TypeId(events[i].type, Uuid::NewV7());
      e.stream_version = ++stream.version;
      e.global_position = static_cast<int64_t>(st.log.size()) + 1;
      e.timestamp = ts;
      stream.positions.push_back(e.global_position);
      st.Store(e, index, generate);
    }
    stream.last = ts;
    st.Publish();
  }
  st.NotifyWaiters();
  return out;
}

Result<std::unique_ptr<EventIterator>> MemoryEventStore::ReadStream(const TypeId& stream_id,
                                                                    const ReadStreamOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateReadStream(stream_id, options));
  std::shared_ptr<State> st = state_;
  uint32_t index;
  int64_t lo, hi;  // live version range to read, inclusive, fixed now
  {
    std::shared_lock<std::shared_mutex> lock(st->mu);
    auto it = st->live.find(stream_id);
    if (it == st->live.end()) return Status::NotFound("stream " + stream_id.ToString() + " not found");
    index = it->second;
    lo = st->streams[index]->first;
    hi = st->streams[index]->version;
  }
  bool forward = options.direction == Direction::kForward;
  if (forward) {
    lo = std::max(lo, options.after_version + 1);
  } else if (options.after_version > 0) {
    hi = std::min(hi, options.after_version);
  }
  int64_t cursor = forward ? lo : hi;
  auto fetch = [st, index, lo, hi, forward, cursor](int64_t limit) mutable -> Result<std::vector<Event>> {
    std::vector<Event> page;
    std::shared_lock<std::shared_mutex> lock(st->mu);
    const State::Stream& s = *st->streams[index];
    if (!s.live) return page;  // deleted meanwhile
    page.reserve(static_cast<size_t>(std::clamp<int64_t>(limit, 0, 256)));
    while (static_cast<int64_t>(page.size()) < limit && cursor >= lo && cursor <= hi) {
      if (cursor >= s.first) {  // skip versions truncated meanwhile
        size_t at = static_cast<size_t>(s.positions[cursor - s.first] - 1);
        if (st->log[at].stream != kNoStream) st->Materialize(at, page);
      }
      cursor += forward ? 1 : -1;
    }
    return page;
  };
  return std::unique_ptr<EventIterator>(new backend::PagedIterator(std::move(fetch), options.count, 256));
}

Result<std::unique_ptr<EventIterator>> MemoryEventStore::ReadAll(const ReadAllOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateReadAll(options));
  std::shared_ptr<State> st = state_;
  const int64_t frontier = st->head.load();  // stable prefix: what is committed now
  int64_t cursor = options.after_position;   // last position examined
  auto stream_types = options.stream_types;
  auto event_types = options.event_types;
  auto fetch = [st, frontier, cursor, stream_types, event_types](int64_t limit) mutable -> Result<std::vector<Event>> {
    std::vector<Event> page;
    page.reserve(static_cast<size_t>(std::clamp<int64_t>(limit, 0, 256)));
    std::shared_lock<std::shared_mutex> lock(st->mu);
    while (static_cast<int64_t>(page.size()) < limit && cursor < frontier) {
      const Record& r = st->log[static_cast<size_t>(cursor++)];
      if (r.stream == kNoStream) continue;
      if (!stream_types.empty() &&
          std::find(stream_types.begin(), stream_types.end(), st->streams[r.stream]->id.type()) == stream_types.end())
        continue;
      if (!event_types.empty() &&
          std::find(event_types.begin(), event_types.end(), st->kinds.type(r.kind)) == event_types.end())
        continue;
      st->Materialize(static_cast<size_t>(cursor - 1), page);
    }
    return page;
  };
  return std::unique_ptr<EventIterator>(new backend::PagedIterator(std::move(fetch), options.count, 256));
}

Result<int64_t> MemoryEventStore::HeadPosition() { return state_->head.load(); }

Status MemoryEventStore::DeleteStream(const TypeId& stream_id, const DeleteStreamOptions& options) {
  Status status = TypeId::ValidateTypeName(stream_id.type());
  if (!status.ok()) return status.WithContext("invalid stream id");
  if (options.to_version.has_value() && *options.to_version < 0) {
    return Status::InvalidArgument("DeleteStream: negative to_version");
  }
  State& st = *state_;
  std::unique_lock<std::shared_mutex> lock(st.mu);
  auto it = st.live.find(stream_id);
  if (it == st.live.end()) return Status::NotFound("stream " + stream_id.ToString() + " not found");
  State::Stream& s = *st.streams[it->second];
  int64_t upto = options.to_version.has_value() ? std::min(*options.to_version, s.version) : s.version;
  int64_t removed = std::max<int64_t>(0, upto - s.first + 1);
  for (int64_t i = 0; i < removed; ++i) {
    Record& r = st.log[static_cast<size_t>(s.positions[i] - 1)];
    st.ids.Erase(r.id, s.positions[i]);
    r.stream = kNoStream;  // the bytes stay in the arena until the store goes
  }
  if (!options.to_version.has_value()) {
    s.live = false;
    s.positions.clear();
    s.positions.shrink_to_fit();
    st.ordered.erase(s.key);
    st.live.erase(it);
  } else if (removed > 0) {
    s.positions.erase(s.positions.begin(), s.positions.begin() + removed);
    s.first += removed;
  }
  return Status::Ok();
}

Result<std::vector<StreamInfo>> MemoryEventStore::ListStreams(const ListStreamsOptions& options) {
  if (options.limit < 0) return Status::InvalidArgument("ListStreams: negative limit");
  std::vector<StreamInfo> out;
  std::shared_lock<std::shared_mutex> lock(state_->mu);
  for (auto it = state_->ordered.upper_bound(options.after); it != state_->ordered.end(); ++it) {
    if (options.limit > 0 && static_cast<int64_t>(out.size()) >= options.limit) break;
    const State::Stream& s = *state_->streams[it->second];
    if (!options.stream_type.empty() && s.id.type() != options.stream_type) continue;
    out.push_back(StreamInfo{s.id, s.version, s.last});
  }
  return out;
}

Result<int64_t> MemoryEventStore::WaitForAppend(int64_t after_position, std::chrono::milliseconds timeout) {
  State& st = *state_;
  std::unique_lock<std::mutex> lock(st.wait_mu);
  ++st.waiters;  // before reading head: an append either sees this waiter or is seen by it
  st.appended.wait_for(lock, timeout, [&] { return st.head.load() > after_position; });
  --st.waiters;
  return st.head.load();
}

Result<std::vector<int64_t>> MemoryEventStore::ImportEvents(std::span<const Event> events,
                                                            const ImportOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateImportEvents(events, limits_));
  for (size_t i = 0; i < events.size(); ++i) {
    ESTORIA_RETURN_IF_ERROR(CheckSizes("import: event " + std::to_string(i), events[i].data, events[i].metadata));
  }
  State& st = *state_;
  std::vector<int64_t> positions;
  positions.reserve(events.size());
  {
    std::unique_lock<std::shared_mutex> lock(st.mu);
    // Validate and plan the whole batch against the current state: all or none.
    backend::ImportTarget target;
    target.head = static_cast<int64_t>(st.log.size());
    target.stream_tip = [&](const std::string& key) -> Result<std::optional<int64_t>> {
      auto sit = st.ordered.find(key);
      if (sit == st.ordered.end()) return std::optional<int64_t>();
      return std::optional<int64_t>(st.streams[sit->second]->version);
    };
    target.id_stored = [&](const Uuid& id) -> Result<bool> { return st.FindId(id) != 0; };
    ESTORIA_ASSIGN_OR_RETURN(backend::ImportPlan plan, backend::PlanImport(events, options, target));
    for (size_t i = 0; i < events.size(); ++i) {
      const Event& e = events[i];
      uint32_t index;
      if (auto lit = st.live.find(e.stream_id); lit != st.live.end()) {
        index = lit->second;
      } else {
        index = st.AddStream(e.stream_id);
        st.streams[index]->first = e.stream_version;
        st.streams[index]->version = e.stream_version - 1;
      }
      State::Stream& stream = *st.streams[index];
      // Gaps in preserved positions are kept as empty slots.
      while (static_cast<int64_t>(st.log.size()) + 1 < plan.positions[i]) st.log.push_back(Record{});
      Event stored = e;
      stored.global_position = plan.positions[i];
      stream.version = e.stream_version;
      stream.positions.push_back(stored.global_position);
      stream.last = e.timestamp;
      st.last_timestamp = std::max(st.last_timestamp, e.timestamp);
      st.Store(stored, index, /*generated_id=*/false);
      positions.push_back(stored.global_position);
    }
    st.Publish();
  }
  st.NotifyWaiters();
  return positions;
}

}  // namespace estoria::memory
