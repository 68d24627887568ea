// InstrumentedEventStore: a scripted workload moves every metric family by
// exactly what it did, on memory, SQLite and PostgreSQL; the decorator keeps the
// wrapped store's capability set exactly; promtool accepts the exposition.
#include "estoria/prometheus/instrumented_event_store.h"

#include <gtest/gtest.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "estoria/memory/memory_event_store.h"
#include "estoria/open.h"
#include "estoria/testing/matchers.h"
#include "prometheus_metrics_test.h"
#ifdef ESTORIA_TEST_WITH_POSTGRES
#include "estoria/postgres/postgres_event_store.h"
#include "pg_test_util.h"
#endif

namespace estoria::metrics {
namespace {

using estoria_test::MetricValue;

// A store with the two base interfaces only (no capability at all).
class BareStore final : public EventStore {
 public:
  explicit BareStore(std::shared_ptr<EventStore> inner) : inner_(std::move(inner)) {}
  Result<std::vector<Event>> AppendStream(const TypeId& stream_id, std::span<const WritableEvent> events,
                                          const AppendOptions& options = {}) override {
    return inner_->AppendStream(stream_id, events, options);
  }
  Result<std::unique_ptr<EventIterator>> ReadStream(const TypeId& stream_id,
                                                    const ReadStreamOptions& options = {}) override {
    return inner_->ReadStream(stream_id, options);
  }
  EventLimits event_limits() const override { return EventLimits{123, 45}; }

 private:
  std::shared_ptr<EventStore> inner_;
};

class InstrumentedEventStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string& backend = GetParam();
    if (backend == "memory") {
      ESTORIA_ASSERT_OK_AND_ASSIGN(inner_, OpenEventStore("memory:"));
    } else if (backend == "sqlite") {
#ifndef ESTORIA_TEST_WITH_SQLITE
      GTEST_SKIP() << "built without SQLite";
#endif
      path_ = (std::filesystem::temp_directory_path() /
               ("estoria_metrics_" + std::to_string(getpid()) + "_" + std::to_string(counter_++) + ".db"))
                  .string();
      ESTORIA_ASSERT_OK_AND_ASSIGN(inner_, OpenEventStore("sqlite:" + path_));
    } else {
#ifdef ESTORIA_TEST_WITH_POSTGRES
      ESTORIA_REQUIRE_POSTGRES();
      schema_ = postgres::testing::UniqueSchema("metrics");
      ESTORIA_ASSERT_OK_AND_ASSIGN(inner_, postgres::PostgresEventStore::Open(postgres::testing::TestOptions(schema_)));
#else
      GTEST_SKIP() << "built without PostgreSQL";
#endif
    }
    registry_ = std::make_shared<prometheus::Registry>();
    ESTORIA_ASSERT_OK_AND_ASSIGN(
        store_, InstrumentedEventStore::Create(inner_, registry_, {.labels = {.backend = backend, .store = "main"}}));
  }
  void TearDown() override {
    store_.reset();
    inner_.reset();
    if (!path_.empty()) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
    }
#ifdef ESTORIA_TEST_WITH_POSTGRES
    if (!schema_.empty()) postgres::testing::DropSchema(schema_);
#endif
  }

  double Value(const std::string& name, std::map<std::string, std::string> labels = {}) {
    labels.emplace("backend", GetParam());
    labels.emplace("store", "main");
    return MetricValue(*registry_, name, labels).value_or(-1);
  }

  static WritableEvent Ev(const std::string& data, std::optional<Uuid> id = std::nullopt) {
    WritableEvent e;
    e.type = "deposited";
    e.id = id;
    e.data = data;
    return e;
  }

  static inline int counter_ = 0;
  std::string path_;
  std::string schema_;
  std::shared_ptr<EventStore> inner_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<InstrumentedEventStore> store_;
};

TEST_P(InstrumentedEventStoreTest, KeepsExactlyTheCapabilitiesOfTheWrappedStore) {
  EXPECT_EQ(store_->global_reader() != nullptr, inner_->global_reader() != nullptr);
  EXPECT_EQ(store_->stream_deleter() != nullptr, inner_->stream_deleter() != nullptr);
  EXPECT_EQ(store_->stream_lister() != nullptr, inner_->stream_lister() != nullptr);
  EXPECT_EQ(store_->append_watcher() != nullptr, inner_->append_watcher() != nullptr);
  EXPECT_EQ(store_->event_importer() != nullptr, inner_->event_importer() != nullptr);
  // The built-in backends have every capability, and the decorator wraps them
  // (it does not hand out the inner store's objects).
  EXPECT_NE(store_->global_reader(), nullptr);
  EXPECT_NE(store_->global_reader(), inner_->global_reader());
  EXPECT_NE(store_->stream_deleter(), nullptr);
  EXPECT_NE(store_->stream_lister(), nullptr);
  EXPECT_NE(store_->append_watcher(), nullptr);
  EXPECT_NE(store_->event_importer(), nullptr);
  EXPECT_EQ(store_->event_limits(), inner_->event_limits());
}

TEST_P(InstrumentedEventStoreTest, ScriptedWorkloadMovesEveryFamilyByWhatItDid) {
  TypeId stream = TypeId::Make("account", Uuid::NewV7()).value();
  Uuid first = Uuid::NewV7();
  Uuid second = Uuid::NewV7();
  std::vector<WritableEvent> two = {Ev("1", first), Ev("2", second)};
  ESTORIA_ASSERT_OK(store_->AppendStream(stream, two, AppendOptions::MustNotExist()));
  // One conflict, one idempotent replay, one invalid append.
  std::vector<WritableEvent> one = {Ev("3")};
  EXPECT_TRUE(store_->AppendStream(stream, one, AppendOptions::ExpectVersion(0)).error().IsConflict());
  EXPECT_TRUE(store_->AppendStream(stream, two).error().IsAlreadyExists());
  EXPECT_TRUE(store_->AppendStream(stream, {}).error().IsInvalidArgument());
  ESTORIA_ASSERT_OK(store_->AppendStream(stream, one, AppendOptions::ExpectVersion(2)));

  EXPECT_EQ(Value("estoria_event_store_appends_total"), 2);
  EXPECT_EQ(Value("estoria_event_store_events_appended_total"), 3);
  EXPECT_EQ(Value("estoria_event_store_append_duration_seconds"), 5);  // every call
  EXPECT_EQ(Value("estoria_event_store_append_conflicts_total"), 1);
  EXPECT_EQ(Value("estoria_event_store_idempotent_replays_total"), 1);
  EXPECT_EQ(Value("estoria_event_store_errors_total", {{"operation", "append"}, {"code", "conflict"}}), 1);
  EXPECT_EQ(Value("estoria_event_store_errors_total", {{"operation", "append"}, {"code", "already_exists"}}), 1);
  EXPECT_EQ(Value("estoria_event_store_errors_total", {{"operation", "append"}, {"code", "invalid_argument"}}), 1);

  // Reads: one whole stream (3 events), one partial read dropped after one
  // event, one stream that does not exist.
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store_->ReadStream(stream));
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto events, Collect(*it));
    EXPECT_EQ(events.size(), 3u);
  }
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store_->ReadStream(stream));
    ESTORIA_ASSERT_OK(it->Next());
    EXPECT_EQ(Value("estoria_event_store_read_duration_seconds", {{"operation", "read_stream"}}), 1)
        << "a read is timed once, at its end";
  }
  EXPECT_TRUE(store_->ReadStream(TypeId::Make("account", Uuid::NewV7()).value()).error().IsNotFound());
  EXPECT_EQ(Value("estoria_event_store_reads_total", {{"operation", "read_stream"}}), 2);
  EXPECT_EQ(Value("estoria_event_store_events_read_total", {{"operation", "read_stream"}}), 4);
  EXPECT_EQ(Value("estoria_event_store_read_duration_seconds", {{"operation", "read_stream"}}), 3);
  EXPECT_EQ(Value("estoria_event_store_errors_total", {{"operation", "read_stream"}, {"code", "not_found"}}), 1);

  // The capabilities are instrumented too.
  GlobalReader* global = store_->global_reader();
  ASSERT_NE(global, nullptr);
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, global->ReadAll({.after_position = 0, .count = 2}));
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto events, Collect(*it));
    EXPECT_EQ(events.size(), 2u);
  }
  EXPECT_TRUE(global->ReadAll({.after_position = -1}).error().IsInvalidArgument());
  EXPECT_EQ(Value("estoria_event_store_reads_total", {{"operation", "read_all"}}), 1);
  EXPECT_EQ(Value("estoria_event_store_events_read_total", {{"operation", "read_all"}}), 2);
  EXPECT_EQ(Value("estoria_event_store_read_duration_seconds", {{"operation", "read_all"}}), 2);
  EXPECT_EQ(Value("estoria_event_store_errors_total", {{"operation", "read_all"}, {"code", "invalid_argument"}}), 1);

  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, global->HeadPosition());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t known, store_->append_watcher()->WaitForAppend(0, std::chrono::milliseconds(0)));
  EXPECT_GE(known, 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto streams, store_->stream_lister()->ListStreams());
  EXPECT_EQ(streams.size(), 1u);
  EXPECT_TRUE(store_->stream_lister()->ListStreams({.limit = -1}).error().IsInvalidArgument());
  EXPECT_EQ(Value("estoria_event_store_errors_total", {{"operation", "list_streams"}, {"code", "invalid_argument"}}),
            1);

  // Import two events of a new stream, then delete a stream twice (the second
  // time it is gone).
  TypeId copied = TypeId::Make("account", Uuid::NewV7()).value();
  std::vector<Event> to_import;
  for (int i = 1; i <= 2; ++i) {
    Event e;
    e.id = TypeId::Make("deposited", Uuid::NewV7()).value();
    e.stream_id = copied;
    e.stream_version = i;
    e.timestamp = Now();
    e.content_type = std::string(kJsonContentType);
    e.data = "{}";
    to_import.push_back(e);
  }
  ESTORIA_ASSERT_OK(store_->event_importer()->ImportEvents(to_import));
  EXPECT_EQ(Value("estoria_event_store_events_imported_total"), 2);
  EXPECT_GT(head, 0);
  ESTORIA_ASSERT_OK(store_->stream_deleter()->DeleteStream(copied));
  EXPECT_TRUE(store_->stream_deleter()->DeleteStream(copied).IsNotFound());
  EXPECT_EQ(Value("estoria_event_store_deletes_total"), 1);
  EXPECT_EQ(Value("estoria_event_store_errors_total", {{"operation", "delete_stream"}, {"code", "not_found"}}), 1);
  // No series for errors that never happened.
  EXPECT_EQ(Value("estoria_event_store_errors_total", {{"operation", "head_position"}}), -1);
}

// promtool (Debian package prometheus) accepts the exposition: names, types,
// help and label syntax, and its lint rules (units, _total suffixes).
TEST_P(InstrumentedEventStoreTest, PromtoolAcceptsTheExposition) {
#ifndef ESTORIA_PROMTOOL
  GTEST_SKIP() << "promtool was not found at configure time";
#else
  TypeId stream = TypeId::Make("account", Uuid::NewV7()).value();
  std::vector<WritableEvent> one = {Ev("1")};
  ESTORIA_ASSERT_OK(store_->AppendStream(stream, one));
  EXPECT_TRUE(store_->AppendStream(stream, one, AppendOptions::ExpectVersion(0)).error().IsConflict());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store_->ReadStream(stream));
  ESTORIA_ASSERT_OK(Collect(*it));
  std::string text = prometheus::TextSerializer().Serialize(registry_->Collect());
  std::string file = (std::filesystem::temp_directory_path() /
                      ("estoria_metrics_" + std::to_string(getpid()) + "_" + GetParam() + ".prom"))
                         .string();
  std::ofstream(file) << text;
  std::string command = std::string(ESTORIA_PROMTOOL) + " check metrics < " + file + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  int status = pclose(pipe);
  std::filesystem::remove(file);
  EXPECT_EQ(status, 0) << output << "\n" << text;
  EXPECT_EQ(output, "") << text;
#endif
}

INSTANTIATE_TEST_SUITE_P(Backends, InstrumentedEventStoreTest, ::testing::Values("memory", "sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST(InstrumentedEventStoreCapabilities, AStoreWithoutCapabilitiesStaysWithout) {
  auto bare = std::make_shared<BareStore>(OpenEventStore("memory:").value());
  auto registry = std::make_shared<prometheus::Registry>();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, InstrumentedEventStore::Create(bare, registry));
  EXPECT_EQ(store->global_reader(), nullptr);
  EXPECT_EQ(store->stream_deleter(), nullptr);
  EXPECT_EQ(store->stream_lister(), nullptr);
  EXPECT_EQ(store->append_watcher(), nullptr);
  EXPECT_EQ(store->event_importer(), nullptr);
  EXPECT_EQ(store->event_limits(), (EventLimits{123, 45}));
}

TEST(InstrumentedEventStoreCreate, RefusesBadArguments) {
  auto inner = OpenEventStore("memory:").value();
  auto registry = std::make_shared<prometheus::Registry>();
  EXPECT_TRUE(InstrumentedEventStore::Create(nullptr, registry).error().IsInvalidArgument());
  EXPECT_TRUE(InstrumentedEventStore::Create(inner, nullptr).error().IsInvalidArgument());
  EXPECT_TRUE(InstrumentedEventStore::Create(inner, registry, {.labels = {.backend = ""}}).error().IsInvalidArgument());
  EXPECT_TRUE(
      InstrumentedEventStore::Create(inner, registry, {.latency_buckets = {0.1, 0.1}}).error().IsInvalidArgument());
  // A family of the same name but another type, already in the registry.
  auto taken = std::make_shared<prometheus::Registry>();
  prometheus::BuildGauge().Name("estoria_event_store_appends_total").Help("a gauge").Register(*taken);
  EXPECT_TRUE(InstrumentedEventStore::Create(inner, taken).error().IsInvalidArgument());
}

// Two stores in one registry are two series of the same families; an iterator
// outlives its decorator.
TEST(InstrumentedEventStoreRegistry, StoresShareFamiliesAndIteratorsOutliveTheDecorator) {
  auto registry = std::make_shared<prometheus::Registry>();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, InstrumentedEventStore::Create(OpenEventStore("memory:").value(), registry,
                                                                      {.labels = {.backend = "memory", .store = "a"}}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b, InstrumentedEventStore::Create(OpenEventStore("memory:").value(), registry,
                                                                      {.labels = {.backend = "memory", .store = "b"}}));
  TypeId stream = TypeId::Make("account", Uuid::NewV7()).value();
  WritableEvent e;
  e.type = "deposited";
  std::vector<WritableEvent> one = {e};
  ESTORIA_ASSERT_OK(a->AppendStream(stream, one));
  ESTORIA_ASSERT_OK(a->AppendStream(stream, one));
  ESTORIA_ASSERT_OK(b->AppendStream(stream, one));
  EXPECT_EQ(MetricValue(*registry, "estoria_event_store_appends_total", {{"store", "a"}}), 2);
  EXPECT_EQ(MetricValue(*registry, "estoria_event_store_appends_total", {{"store", "b"}}), 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, a->ReadStream(stream));
  a.reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto events, Collect(*it));
  EXPECT_EQ(events.size(), 2u);
  EXPECT_EQ(
      MetricValue(*registry, "estoria_event_store_events_read_total", {{"store", "a"}, {"operation", "read_stream"}}),
      2);
}

// Many threads append and read through one decorator: no update is lost.
TEST(InstrumentedEventStoreConcurrency, CountersAreExactUnderConcurrentUse) {
  auto registry = std::make_shared<prometheus::Registry>();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, InstrumentedEventStore::Create(OpenEventStore("memory:").value(), registry));
  constexpr int kThreads = 4;
  constexpr int kAppends = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      TypeId stream = TypeId::Make("account", Uuid::NewV7()).value();
      WritableEvent e;
      e.type = "deposited";
      std::vector<WritableEvent> one = {e};
      for (int i = 0; i < kAppends; ++i) {
        EXPECT_TRUE(store->AppendStream(stream, one, AppendOptions::ExpectVersion(i)).has_value());
        // Every other append also meets a conflict.
        if (i % 2 == 0) {
          EXPECT_FALSE(store->AppendStream(stream, one, AppendOptions::ExpectVersion(i)).has_value());
        }
      }
      auto it = store->ReadStream(stream);
      ASSERT_TRUE(it.has_value());
      EXPECT_EQ(Collect(**it).value().size(), static_cast<size_t>(kAppends));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(MetricValue(*registry, "estoria_event_store_appends_total"), kThreads * kAppends);
  EXPECT_EQ(MetricValue(*registry, "estoria_event_store_append_conflicts_total"), kThreads * kAppends / 2);
  EXPECT_EQ(MetricValue(*registry, "estoria_event_store_append_duration_seconds"), kThreads * kAppends * 3 / 2);
  EXPECT_EQ(MetricValue(*registry, "estoria_event_store_events_read_total", {{"operation", "read_stream"}}),
            kThreads * kAppends);
}

}  // namespace
}  // namespace estoria::metrics
