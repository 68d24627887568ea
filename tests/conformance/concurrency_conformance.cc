// EventStoreConcurrencyConformance: 16 threads racing on one stream and on
// distinct streams (design §5).
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "conformance_util.h"
#include "estoria/testing/conformance.h"

namespace estoria::testing {

int kConcurrencySuiteAnchor = 0;  // see LinkConformanceSuites

namespace {

constexpr int kThreads = 16;

TEST_P(EventStoreConcurrencyConformance, SixteenThreadsOnOneStreamExactlyOneWinnerPerVersion) {
  constexpr int kWinsPerThread = 4;
  TypeId s = NewStream("contended");
  std::mutex mu;
  std::vector<std::string> errors;
  std::map<int64_t, int> winner_of_version;
  std::atomic<int64_t> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int wins = 0;
      while (wins < kWinsPerThread) {
        int64_t version = 0;
        auto it = store_->ReadStream(s, {Direction::kBackward, 0, 1});
        if (it.has_value()) {
          auto last = (*it)->Next();
          if (last.has_value() && last->has_value()) version = (*last)->stream_version;
        } else if (!it.error().IsNotFound()) {
          std::lock_guard<std::mutex> lock(mu);
          errors.push_back(it.error().ToString());
          return;
        }
        auto e = Ev("won", "{\"thread\":" + std::to_string(t) + "}");
        auto r = store_->AppendStream(s, std::vector<WritableEvent>{e}, AppendOptions::ExpectVersion(version));
        std::lock_guard<std::mutex> lock(mu);
        if (r.has_value()) {
          ++wins;
          if (!winner_of_version.emplace((*r)[0].stream_version, t).second) {
            errors.push_back("version " + std::to_string((*r)[0].stream_version) + " won twice");
          }
          if ((*r)[0].stream_version != version + 1) errors.push_back("winner got an unexpected version");
        } else if (r.error().IsConflict()) {
          ++conflicts;
          if (!r.error().conflict() || r.error().conflict()->actual_version <= version) {
            errors.push_back("conflict without a newer actual version: " + r.error().ToString());
          }
        } else {
          errors.push_back(r.error().ToString());
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(errors.empty()) << errors.front();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto events, ReadStreamAll(*store_, s));
  ASSERT_EQ(events.size(), static_cast<size_t>(kThreads * kWinsPerThread));
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].stream_version, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(events[i].data, "{\"thread\":" + std::to_string(winner_of_version[events[i].stream_version]) + "}");
  }
}

TEST_P(EventStoreConcurrencyConformance, SixteenThreadsOnDistinctStreamsLoseNothing) {
  constexpr int kAppends = 25, kPerAppend = 2;
  std::vector<TypeId> streams;
  for (int t = 0; t < kThreads; ++t) streams.push_back(NewStream("distinct"));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        auto evs = Evs(kPerAppend);
        evs[0].data = "{\"i\":" + std::to_string(i) + "}";
        if (!store_->AppendStream(streams[t], evs, AppendOptions::ExpectVersion(i * kPerAppend)).has_value()) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<int64_t> positions;
  for (const TypeId& s : streams) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto events, ReadStreamAll(*store_, s));
    ASSERT_EQ(events.size(), static_cast<size_t>(kAppends * kPerAppend));
    for (size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i].stream_version, static_cast<int64_t>(i) + 1);
      if (i % kPerAppend == 0) {
        EXPECT_EQ(events[i].data, "{\"i\":" + std::to_string(i / kPerAppend) + "}");
      }
      // The events of one append are contiguous in the global log.
      if (i % kPerAppend == 1) {
        EXPECT_EQ(events[i].global_position, events[i - 1].global_position + 1);
      }
      EXPECT_TRUE(positions.insert(events[i].global_position).second) << "duplicate position";
    }
  }
  if (GlobalReader* g = store_->global_reader()) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, ReadAllEvents(*g));
    ASSERT_EQ(all.size(), positions.size());
    EXPECT_EQ(all.front().global_position, 1);
    EXPECT_EQ(all.back().global_position, static_cast<int64_t>(all.size()));
  }
}

}  // namespace
}  // namespace estoria::testing
