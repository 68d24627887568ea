#include "estoria/memory/memory_event_store.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <unordered_map>

#include "estoria/backend/import.h"
#include "estoria/backend/paged_iterator.h"
#include "estoria/backend/validation.h"

namespace estoria::memory {

struct MemoryEventStore::State {
  struct Stream {
    int64_t version = 0;             // tip version; survives truncation
    int64_t first = 1;               // first live version
    uint64_t generation = 0;         // changes when the stream is deleted and recreated
    std::vector<int64_t> positions;  // positions of versions first..version
    Timestamp last{};
  };

  std::mutex mu;
  std::condition_variable appended;
  std::vector<std::shared_ptr<const Event>> log;  // index = position - 1; null = deleted
  std::map<std::string, Stream> streams;          // by stream id text
  std::unordered_map<Uuid, backend::StoredEventLocation> ids;
  uint64_t next_generation = 1;
  Timestamp last_timestamp{};
};

MemoryEventStore::MemoryEventStore(MemoryEventStoreOptions) : state_(std::make_shared<State>()) {}
MemoryEventStore::~MemoryEventStore() = default;

Result<std::shared_ptr<MemoryEventStore>> MemoryEventStore::Open(MemoryEventStoreOptions options) {
  return std::make_shared<MemoryEventStore>(std::move(options));
}

Result<std::vector<Event>> MemoryEventStore::AppendStream(const TypeId& stream_id,
                                                          std::span<const WritableEvent> events,
                                                          const AppendOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateAppend(stream_id, events, options));
  State& st = *state_;
  std::string key = stream_id.ToString();
  std::vector<Event> out;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    std::vector<std::optional<backend::StoredEventLocation>> stored(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      if (!events[i].id) continue;
      auto it = st.ids.find(*events[i].id);
      if (it != st.ids.end()) stored[i] = it->second;
    }
    ESTORIA_RETURN_IF_ERROR(backend::ClassifyStoredIds(stream_id, events, options, stored));

    auto sit = st.streams.find(key);
    bool exists = sit != st.streams.end();
    ESTORIA_RETURN_IF_ERROR(backend::CheckExpectation(stream_id, options, exists, exists ? sit->second.version : 0));
    if (!exists) {
      sit = st.streams.emplace(key, State::Stream{}).first;
      sit->second.generation = st.next_generation++;
    }
    State::Stream& stream = sit->second;
    // Timestamps never go backwards within the log.
    Timestamp ts = std::max(Now(), st.last_timestamp);
    st.last_timestamp = ts;
    out.reserve(events.size());
    for (const WritableEvent& w : events) {
      Event e;
      e.id = TypeId(w.type, w.id.value_or(Uuid::NewV7()));
      e.stream_id = stream_id;
      e.stream_version = ++stream.version;
      e.global_position = static_cast<int64_t>(st.log.size()) + 1;
      e.timestamp = ts;
      e.content_type = w.content_type;
      e.data = w.data;
      e.metadata = w.metadata;
      stream.positions.push_back(e.global_position);
      st.ids[e.id.uuid()] = backend::StoredEventLocation{stream_id, e.stream_version};
      st.log.push_back(std::make_shared<const Event>(e));
      out.push_back(std::move(e));
    }
    stream.last = ts;
  }
  st.appended.notify_all();
  return out;
}

Result<std::unique_ptr<EventIterator>> MemoryEventStore::ReadStream(const TypeId& stream_id,
                                                                    const ReadStreamOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateReadStream(stream_id, options));
  std::shared_ptr<State> st = state_;
  std::string key = stream_id.ToString();
  uint64_t generation;
  int64_t lo, hi;  // live version range to read, inclusive, fixed now
  {
    std::lock_guard<std::mutex> lock(st->mu);
    auto it = st->streams.find(key);
    if (it == st->streams.end()) return Status::NotFound("stream " + key + " not found");
    generation = it->second.generation;
    lo = it->second.first;
    hi = it->second.version;
  }
  bool forward = options.direction == Direction::kForward;
  if (forward) {
    lo = std::max(lo, options.after_version + 1);
  } else if (options.after_version > 0) {
    hi = std::min(hi, options.after_version);
  }
  int64_t cursor = forward ? lo : hi;
  auto fetch = [st, key, generation, lo, hi, forward, cursor](int64_t limit) mutable -> Result<std::vector<Event>> {
    std::vector<Event> page;
    std::lock_guard<std::mutex> lock(st->mu);
    auto it = st->streams.find(key);
    if (it == st->streams.end() || it->second.generation != generation) return page;  // deleted meanwhile
    const State::Stream& s = it->second;
    while (static_cast<int64_t>(page.size()) < limit && cursor >= lo && cursor <= hi) {
      if (cursor >= s.first) {  // skip versions truncated meanwhile
        const auto& ev = st->log[s.positions[cursor - s.first] - 1];
        if (ev) page.push_back(*ev);
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
  int64_t frontier;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    frontier = static_cast<int64_t>(st->log.size());
  }
  int64_t cursor = options.after_position;  // last position examined
  auto stream_types = options.stream_types;
  auto event_types = options.event_types;
  auto matches = [stream_types, event_types](const Event& e) {
    if (!stream_types.empty() &&
        std::find(stream_types.begin(), stream_types.end(), e.stream_id.type()) == stream_types.end())
      return false;
    if (!event_types.empty() && std::find(event_types.begin(), event_types.end(), e.type()) == event_types.end())
      return false;
    return true;
  };
  auto fetch = [st, frontier, cursor, matches](int64_t limit) mutable -> Result<std::vector<Event>> {
    std::vector<Event> page;
    std::lock_guard<std::mutex> lock(st->mu);
    while (static_cast<int64_t>(page.size()) < limit && cursor < frontier) {
      const auto& ev = st->log[cursor++];
      if (ev && matches(*ev)) page.push_back(*ev);
    }
    return page;
  };
  return std::unique_ptr<EventIterator>(new backend::PagedIterator(std::move(fetch), options.count, 256));
}

Result<int64_t> MemoryEventStore::HeadPosition() {
  std::lock_guard<std::mutex> lock(state_->mu);
  return static_cast<int64_t>(state_->log.size());
}

Status MemoryEventStore::DeleteStream(const TypeId& stream_id, const DeleteStreamOptions& options) {
  Status st = TypeId::ValidateTypeName(stream_id.type());
  if (!st.ok()) return st.WithContext("invalid stream id");
  if (options.to_version.has_value() && *options.to_version < 0) {
    return Status::InvalidArgument("DeleteStream: negative to_version");
  }
  std::string key = stream_id.ToString();
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->streams.find(key);
  if (it == state_->streams.end()) return Status::NotFound("stream " + key + " not found");
  State::Stream& s = it->second;
  int64_t upto = options.to_version.has_value() ? std::min(*options.to_version, s.version) : s.version;
  int64_t removed = std::max<int64_t>(0, upto - s.first + 1);
  for (int64_t i = 0; i < removed; ++i) {
    auto& slot = state_->log[s.positions[i] - 1];
    state_->ids.erase(slot->id.uuid());
    slot.reset();
  }
  if (!options.to_version.has_value()) {
    state_->streams.erase(it);
  } else if (removed > 0) {
    s.positions.erase(s.positions.begin(), s.positions.begin() + removed);
    s.first += removed;
  }
  return Status::Ok();
}

Result<std::vector<StreamInfo>> MemoryEventStore::ListStreams(const ListStreamsOptions& options) {
  if (options.limit < 0) return Status::InvalidArgument("ListStreams: negative limit");
  std::vector<StreamInfo> out;
  std::lock_guard<std::mutex> lock(state_->mu);
  for (auto it = state_->streams.upper_bound(options.after); it != state_->streams.end(); ++it) {
    if (options.limit > 0 && static_cast<int64_t>(out.size()) >= options.limit) break;
    auto id = TypeId::Parse(it->first);
    if (!id) return Status::Internal("bad stream key " + it->first);
    if (!options.stream_type.empty() && id->type() != options.stream_type) continue;
    out.push_back(StreamInfo{*id, it->second.version, it->second.last});
  }
  return out;
}

Result<int64_t> MemoryEventStore::WaitForAppend(int64_t after_position, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->appended.wait_for(lock, timeout, [&] { return static_cast<int64_t>(state_->log.size()) > after_position; });
  return static_cast<int64_t>(state_->log.size());
}

Result<std::vector<int64_t>> MemoryEventStore::ImportEvents(std::span<const Event> events,
                                                            const ImportOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateImportEvents(events));
  State& st = *state_;
  std::vector<int64_t> positions;
  positions.reserve(events.size());
  {
    std::lock_guard<std::mutex> lock(st.mu);
    // Validate and plan the whole batch against the current state: all or none.
    backend::ImportTarget target;
    target.head = static_cast<int64_t>(st.log.size());
    target.stream_tip = [&](const std::string& key) -> Result<std::optional<int64_t>> {
      auto sit = st.streams.find(key);
      if (sit == st.streams.end()) return std::optional<int64_t>();
      return std::optional<int64_t>(sit->second.version);
    };
    target.id_stored = [&](const Uuid& id) -> Result<bool> { return st.ids.contains(id); };
    ESTORIA_ASSIGN_OR_RETURN(backend::ImportPlan plan, backend::PlanImport(events, options, target));
    for (size_t i = 0; i < events.size(); ++i) {
      const Event& e = events[i];
      std::string key = e.stream_id.ToString();
      auto sit = st.streams.find(key);
      if (sit == st.streams.end()) {
        State::Stream fresh;
        fresh.first = e.stream_version;
        fresh.version = e.stream_version - 1;
        fresh.generation = st.next_generation++;
        sit = st.streams.emplace(key, fresh).first;
      }
      State::Stream& stream = sit->second;
      // Gaps in preserved positions are kept as empty slots.
      while (static_cast<int64_t>(st.log.size()) + 1 < plan.positions[i]) st.log.push_back(nullptr);
      auto stored = std::make_shared<Event>(e);
      stored->global_position = plan.positions[i];
      stream.version = e.stream_version;
      stream.positions.push_back(stored->global_position);
      stream.last = e.timestamp;
      st.last_timestamp = std::max(st.last_timestamp, e.timestamp);
      st.ids[e.id.uuid()] = backend::StoredEventLocation{e.stream_id, e.stream_version};
      positions.push_back(stored->global_position);
      st.log.push_back(std::move(stored));
    }
  }
  st.appended.notify_all();
  return positions;
}

}  // namespace estoria::memory
