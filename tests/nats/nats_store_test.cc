// What only NatsEventStore does, on the single node (replicas 1) and the
// 3-node cluster (replicas 3). AppendStreamAsync: many appends in flight from
// one thread, the order they are planned in, failures that later appends
// depend on, invalid input, the destructor publishing what is queued, and
// asynchronous and synchronous writers together keeping positions gap-free.
// Long ReadAll scans (read in batches through a pull consumer): every event
// once, in order, from any position, skipping deleted streams, and the
// consumer removed when the iterator goes.
#include <nats/nats.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <map>
#include <thread>

#include "estoria/nats/nats_event_store.h"
#include "estoria/testing/conformance.h"
#include "estoria/testing/matchers.h"

namespace {

using estoria::AppendOptions;
using estoria::Event;
using estoria::EventLimits;
using estoria::kDefaultMaxEventMetadataBytes;
using estoria::Result;
using estoria::StatusCode;
using estoria::TypeId;
using estoria::Uuid;
using estoria::WritableEvent;
using estoria::nats::kNatsDefaultMaxEventDataBytes;
using estoria::nats::NatsEventStore;
using estoria::testing::StatusIs;

using Future = std::future<Result<std::vector<Event>>>;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string NewStreamName() {
  static std::atomic<int> n{0};
  return "a" + Uuid::NewV7().ToString().substr(24) + "_" + std::to_string(n++);
}

struct Target {
  const char* env;
  int replicas;
};

class NatsStoreTest : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override {
    url_ = Env(GetParam().env);
    if (url_.empty()) GTEST_SKIP() << GetParam().env << " unset: run under scripts/with-nats";
    stream_ = NewStreamName();
    store_ = Open();
  }
  std::shared_ptr<NatsEventStore> Open() {
    auto s = NatsEventStore::OpenUri(url_ + "?stream=" + stream_ + "&replicas=" + std::to_string(GetParam().replicas));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : nullptr;
  }
  static std::vector<WritableEvent> One(const std::string& data) {
    WritableEvent e;
    e.type = "noted";
    e.data = data;
    return {e};
  }
  std::vector<Event> ReadAllEvents(NatsEventStore& store) {
    std::vector<Event> out;
    auto it = store.ReadAll();
    EXPECT_TRUE(it.ok()) << it.status().ToString();
    if (!it.ok()) return out;
    while (true) {
      auto e = (*it)->Next();
      EXPECT_TRUE(e.ok()) << e.status().ToString();
      if (!e.ok() || !e->has_value()) break;
      out.push_back(std::move(**e));
    }
    return out;
  }

  std::string url_;
  std::string stream_;
  std::shared_ptr<NatsEventStore> store_;
};

TEST_P(NatsStoreTest, ManyAppendsInFlightToOneStreamChainTheirVersions) {
  const TypeId id("account", Uuid::NewV7());
  std::vector<Future> futures;
  for (int i = 0; i < 300; ++i) {
    futures.push_back(store_->AppendStreamAsync(id, One(std::to_string(i)), AppendOptions::ExpectVersion(i)));
  }
  int64_t last_position = 0;
  for (int i = 0; i < 300; ++i) {
    auto r = futures[i].get();
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].stream_version, i + 1);
    EXPECT_GT((*r)[0].global_position, last_position);
    last_position = (*r)[0].global_position;
  }
  auto it = store_->ReadStream(id);
  ASSERT_TRUE(it.ok());
  for (int i = 0; i < 300; ++i) {
    auto e = (*it)->Next();
    ASSERT_TRUE(e.ok() && e->has_value()) << i;
    EXPECT_EQ((*e)->stream_version, i + 1);
    EXPECT_EQ((*e)->data, std::to_string(i));
  }
  auto end = (*it)->Next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
}

// The number of messages (or, with `consumers`, of consumers) of this test's
// JetStream stream (libnats, through the first server of the URL).
int64_t StoredMessages(const std::string& url, const std::string& stream, bool consumers = false) {
  std::string first = url.substr(0, url.find(','));
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  int64_t n = -1;
  if (natsConnection_ConnectTo(&nc, first.c_str()) == NATS_OK &&
      natsConnection_JetStream(&js, nc, nullptr) == NATS_OK &&
      js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &jerr) == NATS_OK) {
    n = static_cast<int64_t>(consumers ? si->State.Consumers : si->State.Msgs);
  }
  jsStreamInfo_Destroy(si);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return n;
}

TEST_P(NatsStoreTest, AppendsInFlightToOneStreamShareMessages) {
  // While one batch is being acknowledged the next ones queue up; consecutive
  // appends to one stream are then published as one message.
  const TypeId id("account", Uuid::NewV7());
  std::vector<Future> futures;
  for (int i = 0; i < 300; ++i) futures.push_back(store_->AppendStreamAsync(id, One(std::to_string(i))));
  for (auto& f : futures) ASSERT_TRUE(f.get().ok());
  const int64_t messages = StoredMessages(url_, stream_);
  EXPECT_GT(messages, 0);
  EXPECT_LT(messages, 150) << "300 appends in flight to one stream took " << messages << " messages";
  EXPECT_EQ(ReadAllEvents(*store_).size(), 300u);
}

TEST_P(NatsStoreTest, SharedMessagesStayUnderTheServersMaxPayload) {
  // Ten appends of 300 KB to one stream: no message may exceed the servers'
  // max_payload (1 MB by default), so they are split, and all are stored.
  const TypeId id("blob", Uuid::NewV7());
  std::vector<Future> futures;
  for (int i = 0; i < 10; ++i) {
    futures.push_back(store_->AppendStreamAsync(id, One(std::string(300 * 1024, static_cast<char>('a' + i)))));
  }
  for (int i = 0; i < 10; ++i) {
    auto r = futures[i].get();
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
    EXPECT_EQ((*r)[0].stream_version, i + 1);
  }
  const auto all = ReadAllEvents(*store_);
  ASSERT_EQ(all.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(all[i].data, std::string(300 * 1024, static_cast<char>('a' + i)));
  EXPECT_GE(StoredMessages(url_, stream_), 1 + 10 / 3);  // the genesis marker, then at most 3 per message
}

TEST_P(NatsStoreTest, LaterAppendsSeeWhetherEarlierOnesFailed) {
  const TypeId id("account", Uuid::NewV7());
  ASSERT_TRUE(store_->AppendStream(id, One("first")).ok());
  // Queued in this order: the first expects a version the stream never had;
  // the second expects the stream as it is (the first did not change it);
  // the third expects the second's result; the fourth repeats the second's
  // expectation, which the second made stale.
  Future bad = store_->AppendStreamAsync(id, One("bad"), AppendOptions::ExpectVersion(7));
  Future second = store_->AppendStreamAsync(id, One("second"), AppendOptions::ExpectVersion(1));
  Future third = store_->AppendStreamAsync(id, One("third"), AppendOptions::ExpectVersion(2));
  Future stale = store_->AppendStreamAsync(id, One("stale"), AppendOptions::ExpectVersion(1));
  EXPECT_EQ(bad.get().status().code(), StatusCode::kConflict);
  auto s = second.get();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)[0].stream_version, 2);
  auto t = third.get();
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)[0].stream_version, 3);
  EXPECT_EQ(stale.get().status().code(), StatusCode::kConflict);
  Future must_not_exist = store_->AppendStreamAsync(id, One("again"), AppendOptions::MustNotExist());
  EXPECT_EQ(must_not_exist.get().status().code(), StatusCode::kConflict);
}

TEST_P(NatsStoreTest, InvalidInputIsReadyAtOnceAndStoresNothing) {
  const TypeId id("account", Uuid::NewV7());
  Future empty = store_->AppendStreamAsync(id, {});
  ASSERT_EQ(empty.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(empty.get().status().code(), StatusCode::kInvalidArgument);
  auto bad_type = One("x");
  bad_type[0].type = "";
  Future untyped = store_->AppendStreamAsync(id, bad_type);
  ASSERT_EQ(untyped.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(untyped.get().status().code(), StatusCode::kInvalidArgument);
  Future oversized = store_->AppendStreamAsync(id, One(std::string(kNatsDefaultMaxEventDataBytes + 1, 'x')));
  ASSERT_EQ(oversized.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(oversized.get().status().code(), StatusCode::kInvalidArgument);
  auto head = store_->HeadPosition();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(*head, 0);
}

TEST_P(NatsStoreTest, EventLimitsComeFromTheUriAndStayBelowMaxPayload) {
  EXPECT_EQ(store_->event_limits(), (EventLimits{kNatsDefaultMaxEventDataBytes, kDefaultMaxEventMetadataBytes}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto o, NatsEventStore::ParseUri("nats://h:1?max_event_data_bytes=100&"
                                                                "max_event_metadata_bytes=7"));
  EXPECT_EQ(o.event_limits, (EventLimits{100, 7}));
  EXPECT_THAT(NatsEventStore::ParseUri("nats://h:1?max_event_data_bytes=0"), StatusIs(StatusCode::kInvalidArgument));
  // Above what one message can carry (the server's max_payload, 1 MB here).
  auto big = NatsEventStore::OpenUri(url_ + "?stream=" + stream_ +
                                     "&max_event_data_bytes=" + std::to_string(int64_t{64} << 20));
  ASSERT_THAT(big, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(big.error().message(), ::testing::HasSubstr("max_payload"));
}

TEST_P(NatsStoreTest, ARepeatedIdInFlightIsStoredOnceAndReportedAsAppended) {
  const TypeId id("account", Uuid::NewV7());
  auto events = One("once");
  events[0].id = Uuid::NewV7();
  Future a = store_->AppendStreamAsync(id, events, AppendOptions::ExpectVersion(0));
  Future b = store_->AppendStreamAsync(id, events, AppendOptions::ExpectVersion(0));
  auto ra = a.get();
  auto rb = b.get();
  ASSERT_TRUE(ra.ok()) << ra.status().ToString();
  EXPECT_EQ((*ra)[0].stream_version, 1);
  // The second is reported as already appended (as a retried AppendStream
  // would be), not stored again.
  EXPECT_EQ(rb.status().code(), StatusCode::kAlreadyExists) << rb.status().ToString();
  EXPECT_EQ(ReadAllEvents(*store_).size(), 1u);
}

TEST_P(NatsStoreTest, TheDestructorPublishesWhatIsQueued) {
  const TypeId id("account", Uuid::NewV7());
  std::vector<Future> futures;
  for (int i = 0; i < 200; ++i) futures.push_back(store_->AppendStreamAsync(id, One(std::to_string(i))));
  store_.reset();
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    auto r = f.get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  }
  auto reopened = Open();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(ReadAllEvents(*reopened).size(), 200u);
}

TEST_P(NatsStoreTest, AsyncAndSyncWritersKeepPositionsGapFree) {
  // Two store objects (as two processes would have), each with pipelining and
  // synchronous writers: every append acknowledged is stored once, positions
  // are 1..N, and each stream's versions are 1..n in position order.
  auto other = Open();
  ASSERT_NE(other, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 60;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      NatsEventStore& s = t % 2 == 0 ? *store_ : *other;
      const TypeId id("account", Uuid::NewV7());
      if (t < 2) {
        std::vector<Future> futures;
        for (int i = 0; i < kPerThread; ++i) {
          futures.push_back(s.AppendStreamAsync(id, One(std::to_string(i)), AppendOptions::ExpectVersion(i)));
        }
        for (auto& f : futures) failures += f.get().ok() ? 0 : 1;
      } else {
        for (int i = 0; i < kPerThread; ++i) {
          failures += s.AppendStream(id, One(std::to_string(i)), AppendOptions::ExpectVersion(i)).ok() ? 0 : 1;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const auto all = ReadAllEvents(*store_);
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  std::map<std::string, int64_t> versions;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].global_position, static_cast<int64_t>(i + 1));
    int64_t& v = versions[all[i].stream_id.ToString()];
    EXPECT_EQ(all[i].stream_version, v + 1);
    EXPECT_EQ(all[i].data, std::to_string(v));
    v = all[i].stream_version;
  }
  EXPECT_EQ(versions.size(), static_cast<size_t>(kThreads));
}

TEST_P(NatsStoreTest, LongScansYieldEveryEventOnceFromAnyPosition) {
  // 600 one-event appends over 3 streams, then one stream deleted: ReadAll
  // from the start and from positions in the middle yields exactly the live
  // events, in position order, and leaves no consumer behind.
  std::vector<TypeId> ids;
  for (int i = 0; i < 3; ++i) ids.emplace_back("account", Uuid::NewV7());
  // One message each (synchronous appends), so the scans are long.
  std::map<int64_t, std::string> live;  // position -> data, the deleted stream left out
  for (int i = 0; i < 600; ++i) {
    auto r = store_->AppendStream(ids[i % 3], One(std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (i % 3 != 1) live[(*r)[0].global_position] = (*r)[0].data;
  }
  ASSERT_TRUE(store_->DeleteStream(ids[1]).ok());
  for (int64_t after : {0, 1, 200, 555}) {
    estoria::ReadAllOptions options;
    options.after_position = after;
    auto it = store_->ReadAll(options);
    ASSERT_TRUE(it.ok()) << it.status().ToString();
    auto expected = live.upper_bound(after);
    while (true) {
      auto e = (*it)->Next();
      ASSERT_TRUE(e.ok()) << e.status().ToString();
      if (!e->has_value()) break;
      ASSERT_NE(expected, live.end()) << "after " << after << ": an extra event at " << (*e)->global_position;
      ASSERT_EQ((*e)->global_position, expected->first) << "after " << after;
      EXPECT_EQ((*e)->data, expected->second);
      ++expected;
    }
    EXPECT_EQ(expected, live.end()) << "after " << after << ": events missing";
  }
  EXPECT_EQ(StoredMessages(url_, stream_, /*consumers=*/true), 0);
}

TEST_P(NatsStoreTest, ALongScanStopsWhereTheLogEndedWhenItStarted) {
  const TypeId id("account", Uuid::NewV7());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(store_->AppendStream(id, One(std::to_string(i))).ok());
  auto it = store_->ReadAll();
  ASSERT_TRUE(it.ok());
  // Read part of it, then append more: the scan ends at event 100. Past the
  // first messages it reads through a consumer, which goes with the iterator.
  for (int i = 0; i < 50; ++i) {
    auto e = (*it)->Next();
    ASSERT_TRUE(e.ok() && e->has_value());
  }
  EXPECT_EQ(StoredMessages(url_, stream_, /*consumers=*/true), 1);
  for (int i = 100; i < 400; ++i) ASSERT_TRUE(store_->AppendStream(id, One(std::to_string(i))).ok());
  int64_t last = 50;
  while (true) {
    auto e = (*it)->Next();
    ASSERT_TRUE(e.ok());
    if (!e->has_value()) break;
    EXPECT_EQ((*e)->global_position, last + 1);
    last = (*e)->global_position;
  }
  EXPECT_EQ(last, 100);
  it->reset();
  EXPECT_EQ(StoredMessages(url_, stream_, /*consumers=*/true), 0);
}

INSTANTIATE_TEST_SUITE_P(Nats, NatsStoreTest,
                         ::testing::Values(Target{"ESTORIA_NATS_URL", 1}, Target{"ESTORIA_NATS_CLUSTER_URL", 3}),
                         [](const auto& info) { return info.param.replicas == 1 ? "Single" : "Cluster"; });

}  // namespace
