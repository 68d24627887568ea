// A test EventStore wrapper that counts the events its ReadStream iterators
// yield and the ReadStream calls made, forwarding everything else.
#pragma once

#include <atomic>
#include <memory>

#include "estoria/event_store.h"

namespace estoria_test {

class CountingEventStore : public estoria::EventStore {
 public:
  explicit CountingEventStore(std::shared_ptr<estoria::EventStore> inner) : inner_(std::move(inner)) {}

  estoria::Result<std::vector<estoria::Event>> AppendStream(const estoria::TypeId& stream_id,
                                                            std::span<const estoria::WritableEvent> events,
                                                            const estoria::AppendOptions& options = {}) override {
    return inner_->AppendStream(stream_id, events, options);
  }
  estoria::Result<std::unique_ptr<estoria::EventIterator>> ReadStream(
      const estoria::TypeId& stream_id, const estoria::ReadStreamOptions& options = {}) override {
    reads_.fetch_add(1);
    auto it = inner_->ReadStream(stream_id, options);
    if (!it) return it.error();
    return std::unique_ptr<estoria::EventIterator>(new Counting(std::move(*it), &events_read_));
  }
  estoria::GlobalReader* global_reader() override { return inner_->global_reader(); }
  estoria::StreamDeleter* stream_deleter() override { return inner_->stream_deleter(); }
  estoria::StreamLister* stream_lister() override { return inner_->stream_lister(); }
  estoria::AppendWatcher* append_watcher() override { return inner_->append_watcher(); }

  int64_t events_read() const { return events_read_.load(); }
  int64_t reads() const { return reads_.load(); }
  void Reset() {
    events_read_ = 0;
    reads_ = 0;
  }

 private:
  class Counting : public estoria::EventIterator {
   public:
    Counting(std::unique_ptr<estoria::EventIterator> inner, std::atomic<int64_t>* counter)
        : inner_(std::move(inner)), counter_(counter) {}
    estoria::Result<std::optional<estoria::Event>> Next() override {
      auto next = inner_->Next();
      if (next && next->has_value()) counter_->fetch_add(1);
      return next;
    }

   private:
    std::unique_ptr<estoria::EventIterator> inner_;
    std::atomic<int64_t>* counter_;
  };

  std::shared_ptr<estoria::EventStore> inner_;
  std::atomic<int64_t> events_read_{0};
  std::atomic<int64_t> reads_{0};
};

}  // namespace estoria_test
