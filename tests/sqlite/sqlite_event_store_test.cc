// SqliteEventStore beyond the conformance suites: persistence across reopen,
// group commit, positions after deletion, the append watcher, URIs.
#include "estoria/sqlite/sqlite_event_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "estoria/open.h"
#include "estoria/sqlite/database.h"
#include "estoria/testing/matchers.h"
#include "sqlite_test_util.h"

namespace estoria::sqlite {
namespace {

using ::estoria::testing::StatusIs;
using testing::TempDir;

WritableEvent Ev(std::string type, std::string data, Metadata md = {}, std::string content_type = "application/json") {
  WritableEvent e;
  e.type = std::move(type);
  e.data = std::move(data);
  e.metadata = std::move(md);
  e.content_type = std::move(content_type);
  return e;
}

std::vector<Event> ReadAllOf(SqliteEventStore& store, ReadAllOptions o = {}) {
  auto it = store.ReadAll(o);
  EXPECT_TRUE(it.has_value()) << it.error();
  if (!it) return {};
  auto all = Collect(**it);
  EXPECT_TRUE(all.has_value()) << all.error();
  return all ? *all : std::vector<Event>{};
}

std::shared_ptr<SqliteEventStore> OpenFile(const std::string& path, Durability d = Durability::kStrict) {
  SqliteOptions o;
  o.path = path;
  o.durability = d;
  auto store = SqliteEventStore::Open(o);
  EXPECT_TRUE(store.has_value()) << store.error();
  return store ? *store : nullptr;
}

TEST(SqliteEventStoreTest, EverythingSurvivesCloseAndReopen) {
  TempDir dir;
  std::string path = dir.File("persist.db");
  std::vector<Event> written;
  std::vector<StreamInfo> streams;
  TypeId a = TypeId::New("account").value(), b = TypeId::New("order").value();
  {
    auto store = OpenFile(path);
    ASSERT_NE(store, nullptr);
    std::string binary("\0\x01\xfe\xff payload", 12);
    WritableEvent with_id = Ev("opened", "{\"owner\":\"ann\"}", {{"user", "ann"}, {"trace", "t-1"}});
    with_id.id = Uuid::NewV7();
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto e1, store->AppendStream(a, std::vector<WritableEvent>{with_id}));
    ESTORIA_ASSERT_OK_AND_ASSIGN(
        auto e2, store->AppendStream(b, std::vector<WritableEvent>{Ev("placed", binary, {}, "application/octet-stream"),
                                                                   Ev("paid", "{}", {{"k", "v\"with\\quotes"}})}));
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto e3,
                                 store->AppendStream(a, std::vector<WritableEvent>{Ev("deposited", "{\"n\":5}")},
                                                     AppendOptions::ExpectVersion(1)));
    written = e1;
    written.insert(written.end(), e2.begin(), e2.end());
    written.insert(written.end(), e3.begin(), e3.end());
    std::sort(written.begin(), written.end(),
              [](const Event& x, const Event& y) { return x.global_position < y.global_position; });
    EXPECT_EQ(written[0].id.uuid(), *with_id.id);
    EXPECT_EQ(written[1].data, binary);
    ESTORIA_ASSERT_OK_AND_ASSIGN(streams, store->ListStreams());
    EXPECT_EQ(ReadAllOf(*store), written);
  }
  auto store = OpenFile(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(ReadAllOf(*store), written);  // same ids, versions, positions, timestamps, content types, metadata
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto again, store->ListStreams());
  EXPECT_EQ(again, streams);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  EXPECT_EQ(head, 4);
  // Appends continue from the stored tips and head.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto next, store->AppendStream(a, std::vector<WritableEvent>{Ev("closed", "{}")},
                                                              AppendOptions::ExpectVersion(2)));
  EXPECT_EQ(next[0].stream_version, 3);
  EXPECT_EQ(next[0].global_position, 5);
  EXPECT_GE(next[0].timestamp, written.back().timestamp);
  // An idempotent retry of the first append is recognised after reopen.
  WritableEvent retry = Ev("opened", "{\"owner\":\"ann\"}");
  retry.id = written[0].id.uuid();
  EXPECT_THAT(store->AppendStream(a, std::vector<WritableEvent>{retry}, AppendOptions::ExpectVersion(0)),
              StatusIs(StatusCode::kAlreadyExists));
}

TEST(SqliteEventStoreTest, ConcurrentAppendsShareCommits) {
  TempDir dir;
  auto store = OpenFile(dir.File("group.db"), Durability::kStrict);
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 8, kPerThread = 100;
  std::vector<std::thread> threads;
  TypeId shared = TypeId::New("shared").value();
  std::atomic<int> shared_ok{0}, shared_conflicts{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      TypeId own = TypeId::New("own").value();
      for (int i = 0; i < kPerThread; ++i) {
        auto r = store->AppendStream(own, std::vector<WritableEvent>{Ev("tick", std::to_string(i))},
                                     AppendOptions::ExpectVersion(i));
        EXPECT_TRUE(r.has_value()) << r.error();
        if (i % 10 == 0) {  // races on one stream: conflicts must not fail neighbours
          auto tip = store->AppendStream(shared, std::vector<WritableEvent>{Ev("race", std::to_string(t))},
                                         AppendOptions::ExpectVersion(shared_ok.load()));
          if (tip) {
            ++shared_ok;
          } else {
            EXPECT_TRUE(tip.error().IsConflict()) << tip.error();
            ++shared_conflicts;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  SqliteStats stats = store->stats();
  EXPECT_EQ(stats.appends, kThreads * kPerThread + shared_ok.load());
  EXPECT_LT(stats.commits, stats.appends) << "appends from 8 threads were not batched";
  EXPECT_GT(stats.max_batch, 1);
  EXPECT_LE(stats.commits, stats.batches);
  // Gap-free, commit-ordered positions; every stream gap-free.
  auto all = ReadAllOf(*store);
  ASSERT_EQ(static_cast<int>(all.size()), kThreads * kPerThread + shared_ok.load());
  std::map<TypeId, int64_t> versions;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].global_position, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(all[i].stream_version, ++versions[all[i].stream_id]);
  }
  EXPECT_EQ(versions[shared], shared_ok.load());
}

// The writer remembers the head and stream tips between its commits (see
// group_commit_writer.cc); a write by another connection, or a delete through
// its own, must make it read them again.
TEST(SqliteEventStoreTest, WriterSeesWritesItDidNotMake) {
  TempDir dir;
  std::string path = dir.File("two.db");
  auto a = OpenFile(path, Durability::kRelaxed), b = OpenFile(path, Durability::kRelaxed);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  TypeId s = TypeId::New("account").value(), t = TypeId::New("account").value();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a1, a->AppendStream(s, std::vector<WritableEvent>{Ev("x", "1")}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto b1, b->AppendStream(s, std::vector<WritableEvent>{Ev("x", "2")}, AppendOptions::ExpectVersion(1)));
  EXPECT_EQ(b1[0].global_position, 2);
  // a knew s at version 1: it must now see version 2, and head 2.
  auto stale = a->AppendStream(s, std::vector<WritableEvent>{Ev("x", "3")}, AppendOptions::ExpectVersion(1));
  EXPECT_THAT(stale.error(), StatusIs(StatusCode::kConflict));
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto a2, a->AppendStream(s, std::vector<WritableEvent>{Ev("x", "3")}, AppendOptions::ExpectVersion(2)));
  EXPECT_EQ(a2[0].stream_version, 3);
  EXPECT_EQ(a2[0].global_position, 3);
  // A stream created by b is appended to by a at the right version.
  ESTORIA_ASSERT_OK(b->AppendStream(t, std::vector<WritableEvent>{Ev("y", "1"), Ev("y", "2")}).error());
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto a3, a->AppendStream(t, std::vector<WritableEvent>{Ev("y", "3")}, AppendOptions::ExpectVersion(2)));
  EXPECT_EQ(a3[0].stream_version, 3);
  EXPECT_EQ(a3[0].global_position, 6);
  // Deleting through a's own connection: the stream restarts at version 1.
  ESTORIA_ASSERT_OK(a->DeleteStream(t));
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto a4, a->AppendStream(t, std::vector<WritableEvent>{Ev("y", "new")}, AppendOptions::MustNotExist()));
  EXPECT_EQ(a4[0].stream_version, 1);
  EXPECT_EQ(a4[0].global_position, 7);
  // Deleting through b: a must not append at a version it remembers.
  ESTORIA_ASSERT_OK(b->DeleteStream(t));
  auto gone = a->AppendStream(t, std::vector<WritableEvent>{Ev("y", "z")}, AppendOptions::MustExist());
  EXPECT_THAT(gone.error(), StatusIs(StatusCode::kConflict));
  auto all = ReadAllOf(*b);
  ASSERT_EQ(all.size(), 3u);  // s: 1, 2, 3
  EXPECT_EQ(all[2].global_position, 3);
}

// With a small max_batch_appends, most leaders find more requests queued than
// fit, and some leave their own request for a later batch.
TEST(SqliteEventStoreTest, SmallBatchLimitStillFinishesEveryAppend) {
  TempDir dir;
  SqliteOptions o;
  o.path = dir.File("small.db");
  o.durability = Durability::kRelaxed;
  o.max_batch_appends = 3;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, SqliteEventStore::Open(o));
  constexpr int kThreads = 8, kPerThread = 150;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      TypeId own = TypeId::New("own").value();
      for (int i = 0; i < kPerThread; ++i) {
        auto r = store->AppendStream(own, std::vector<WritableEvent>{Ev("tick", std::to_string(i))},
                                     AppendOptions::ExpectVersion(i));
        ASSERT_TRUE(r.has_value()) << r.error();
        ASSERT_EQ(r->front().stream_version, i + 1);
      }
    });
  }
  for (auto& th : threads) th.join();
  SqliteStats stats = store->stats();
  EXPECT_EQ(stats.appends, kThreads * kPerThread);
  EXPECT_LE(stats.max_batch, 3);
  EXPECT_GE(stats.batches, kThreads * kPerThread / 3);
  auto all = ReadAllOf(*store);
  ASSERT_EQ(static_cast<int>(all.size()), kThreads * kPerThread);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].global_position, static_cast<int64_t>(i) + 1);
}

// An import through the store's own write connection moves the head and a
// stream's tip behind the writer's back: the next append must see both.
TEST(SqliteEventStoreTest, WriterSeesImportsThroughItsOwnConnection) {
  TempDir dir;
  auto store = OpenFile(dir.File("import.db"), Durability::kRelaxed);
  ASSERT_NE(store, nullptr);
  TypeId a = TypeId::New("account").value();
  ESTORIA_ASSERT_OK(store->AppendStream(a, std::vector<WritableEvent>{Ev("x", "1")}).error());
  Event imported;
  imported.id = TypeId("x", Uuid::NewV7());
  imported.stream_id = a;
  imported.stream_version = 2;
  imported.timestamp = Now();
  imported.content_type = "application/json";
  imported.data = "2";
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto positions, store->ImportEvents(std::vector<Event>{imported}));
  EXPECT_EQ(positions, (std::vector<int64_t>{2}));
  EXPECT_THAT(store->AppendStream(a, std::vector<WritableEvent>{Ev("x", "3")}, AppendOptions::ExpectVersion(1)).error(),
              StatusIs(StatusCode::kConflict));
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto next, store->AppendStream(a, std::vector<WritableEvent>{Ev("x", "3")}, AppendOptions::ExpectVersion(2)));
  EXPECT_EQ(next[0].stream_version, 3);
  EXPECT_EQ(next[0].global_position, 3);
}

TEST(SqliteEventStoreTest, DeletedPositionsAreNeverReused) {
  TempDir dir;
  std::string path = dir.File("gaps.db");
  TypeId a = TypeId::New("account").value(), b = TypeId::New("account").value();
  {
    auto store = OpenFile(path, Durability::kRelaxed);
    ASSERT_NE(store, nullptr);
    ESTORIA_ASSERT_OK(store->AppendStream(a, std::vector<WritableEvent>{Ev("x", "1"), Ev("x", "2")}).error());
    ESTORIA_ASSERT_OK(store->AppendStream(b, std::vector<WritableEvent>{Ev("x", "3")}).error());
    ESTORIA_ASSERT_OK(store->DeleteStream(b));
  }
  auto store = OpenFile(path, Durability::kRelaxed);
  ASSERT_NE(store, nullptr);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  EXPECT_EQ(head, 3);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto again, store->AppendStream(b, std::vector<WritableEvent>{Ev("x", "4")}));
  EXPECT_EQ(again[0].stream_version, 1);   // a fully deleted stream restarts at 1
  EXPECT_EQ(again[0].global_position, 4);  // position 3 stays a gap
  auto all = ReadAllOf(*store);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].global_position, 4);
}

TEST(SqliteEventStoreTest, ReadAllFiltersRunInSql) {
  auto store = SqliteEventStore::OpenUri("sqlite::memory:").value();
  TypeId a = TypeId::New("account").value(), o = TypeId::New("order").value();
  ESTORIA_ASSERT_OK(
      store->AppendStream(a, std::vector<WritableEvent>{Ev("opened", "1"), Ev("deposited", "2")}).error());
  ESTORIA_ASSERT_OK(
      store->AppendStream(o, std::vector<WritableEvent>{Ev("placed", "3"), Ev("deposited", "4")}).error());
  ReadAllOptions by_stream;
  by_stream.stream_types = {"order"};
  auto orders = ReadAllOf(*store, by_stream);
  ASSERT_EQ(orders.size(), 2u);
  EXPECT_EQ(orders[0].data, "3");
  ReadAllOptions by_both;
  by_both.stream_types = {"order", "account"};
  by_both.event_types = {"deposited"};
  by_both.after_position = 2;
  auto deposits = ReadAllOf(*store, by_both);
  ASSERT_EQ(deposits.size(), 1u);
  EXPECT_EQ(deposits[0].global_position, 4);
}

// Readers skip re-validating a stream id or event type equal to the previous
// row's: a corrupt row among good ones of the same stream and type is still
// refused, by ReadAll and ReadStream alike.
std::vector<Status> ReadStatuses(EventIterator& it) {
  std::vector<Status> out;
  for (;;) {
    auto e = it.Next();
    out.push_back(e.has_value() ? Status::Ok() : e.error());
    if (!e || !*e) return out;
  }
}

TEST(SqliteEventStoreTest, CorruptRowAmongGoodOnesIsCorruption) {
  TempDir dir;
  std::string path = dir.File("corrupt.db");
  TypeId a = TypeId::New("account").value(), b = TypeId::New("account").value();
  {
    auto store = OpenFile(path, Durability::kRelaxed);
    ASSERT_NE(store, nullptr);
    ESTORIA_ASSERT_OK(store
                          ->AppendStream(a, std::vector<WritableEvent>{Ev("deposited", "1"), Ev("deposited", "2"),
                                                                       Ev("deposited", "3")})
                          .error());
    ESTORIA_ASSERT_OK(store->AppendStream(b, std::vector<WritableEvent>{Ev("deposited", "4")}).error());
    ESTORIA_ASSERT_OK(store->AppendStream(a, std::vector<WritableEvent>{Ev("deposited", "5")}).error());
  }
  auto corrupt = [&](const std::string& sql) {
    auto db = SqliteDatabase::Open(path);
    ASSERT_TRUE(db.has_value()) << db.error();
    ESTORIA_ASSERT_OK((*db)->Exec(sql));
  };
  auto read_all = [&] {
    auto store = OpenFile(path, Durability::kRelaxed);
    auto it = store->ReadAll({});
    EXPECT_TRUE(it.has_value());
    return it ? ReadStatuses(**it) : std::vector<Status>{};
  };
  auto read_stream = [&](const TypeId& s) {
    auto store = OpenFile(path, Durability::kRelaxed);
    auto it = store->ReadStream(s, {});
    EXPECT_TRUE(it.has_value());
    return it ? ReadStatuses(**it) : std::vector<Status>{};
  };

  // A page with a corrupt row fails as a whole: every scan here reads one page.
  // Event 2's type: uppercase, between two good rows of the same type.
  corrupt("UPDATE estoria_events SET event_type = 'Deposited' WHERE position = 2");
  auto all = read_all();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_THAT(all[0], StatusIs(StatusCode::kCorruption));
  auto stream = read_stream(a);
  ASSERT_EQ(stream.size(), 1u);
  EXPECT_THAT(stream[0], StatusIs(StatusCode::kCorruption));
  corrupt("UPDATE estoria_events SET event_type = 'deposited' WHERE position = 2");
  EXPECT_EQ(read_all().size(), 6u);  // five events and the end
  EXPECT_EQ(read_stream(a).size(), 5u);

  // Event 2's id: 15 bytes, after a good row.
  corrupt("UPDATE estoria_events SET event_uuid = substr(event_uuid, 1, 15) WHERE position = 2");
  all = read_all();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_THAT(all[0], StatusIs(StatusCode::kCorruption));

  // Stream b's name: its UUID in uppercase (Parse refuses it), read after
  // rows of stream a. Stream a alone still reads.
  corrupt("DELETE FROM estoria_events WHERE position = 2");
  EXPECT_EQ(read_all().size(), 5u);
  corrupt("UPDATE estoria_streams SET stream_name = 'account_' || upper(substr(stream_name, 9)) WHERE stream_name = '" +
          b.ToString() + "'");
  all = read_all();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_THAT(all[0], StatusIs(StatusCode::kCorruption));
  EXPECT_EQ(read_stream(a).size(), 4u);

  // Stream b's row gone while its event remains (deleting a stream deletes
  // both in one transaction, so only a damaged file looks like this).
  corrupt("DELETE FROM estoria_streams WHERE stream_type = 'account' AND stream_name <> '" + a.ToString() + "'");
  all = read_all();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_THAT(all[0], StatusIs(StatusCode::kCorruption));
  corrupt("DELETE FROM estoria_events WHERE position = 4");
  EXPECT_EQ(read_all().size(), 4u);  // a's three events and the end
}

TEST(SqliteEventStoreTest, AppendWakesWatcher) {
  TempDir dir;
  auto store = OpenFile(dir.File("watch.db"), Durability::kRelaxed);
  ASSERT_NE(store, nullptr);
  std::atomic<int64_t> seen{-1};
  std::thread waiter([&] {
    auto r = store->WaitForAppend(0, std::chrono::seconds(30));
    seen = r ? *r : -2;
  });
  ESTORIA_ASSERT_OK(store->AppendStream(TypeId::New("a").value(), std::vector<WritableEvent>{Ev("x", "1")}).error());
  waiter.join();
  EXPECT_EQ(seen.load(), 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t timed_out, store->WaitForAppend(1, std::chrono::milliseconds(10)));
  EXPECT_EQ(timed_out, 1);
}

TEST(SqliteEventStoreTest, UriOptions) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto o,
                               SqliteEventStore::ParseUri("sqlite:data/x.db?durability=relaxed&busy_timeout_ms=250"));
  EXPECT_EQ(o.path, "data/x.db");
  EXPECT_EQ(o.durability, Durability::kRelaxed);
  EXPECT_EQ(o.busy_timeout, std::chrono::milliseconds(250));
  EXPECT_FALSE(o.read_only);
  ESTORIA_ASSERT_OK_AND_ASSIGN(o, SqliteEventStore::ParseUri("sqlite:/abs/y.db?mode=ro"));
  EXPECT_EQ(o.path, "/abs/y.db");
  EXPECT_TRUE(o.read_only);
  ESTORIA_ASSERT_OK_AND_ASSIGN(o, SqliteEventStore::ParseUri("sqlite::memory:"));
  EXPECT_EQ(o.path, ":memory:");
  EXPECT_THAT(SqliteEventStore::ParseUri("sqlite:"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(SqliteEventStore::ParseUri("sqlite:x.db?durability=sometimes"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(SqliteEventStore::ParseUri("sqlite:x.db?colour=red"), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(o, SqliteEventStore::ParseUri("sqlite:x.db?wal_autocheckpoint=4000"));
  EXPECT_EQ(o.wal_autocheckpoint_pages, 4000);
  EXPECT_THAT(SqliteEventStore::ParseUri("sqlite:x.db?wal_autocheckpoint=-1"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(SqliteEventStore::ParseUri("sqlite:x.db?wal_autocheckpoint=many"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(o.event_limits, EventLimits{});
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      o, SqliteEventStore::ParseUri("sqlite:x.db?max_event_data_bytes=2048&max_event_metadata_bytes=128"));
  EXPECT_EQ(o.event_limits, (EventLimits{2048, 128}));
  EXPECT_THAT(SqliteEventStore::ParseUri("sqlite:x.db?max_event_data_bytes=0"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(SqliteEventStoreTest, ConfiguredEventLimitsAreEnforced) {
  TempDir dir;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store,
                               SqliteEventStore::OpenUri("sqlite:" + dir.File("limits.db") +
                                                         "?max_event_data_bytes=10&max_event_metadata_bytes=4"));
  EXPECT_EQ(store->event_limits(), (EventLimits{10, 4}));
  TypeId s = TypeId::New("acct").value();
  WritableEvent e;
  e.type = "big";
  e.data = std::string(11, 'x');
  auto r = store->AppendStream(s, std::vector<WritableEvent>{e});
  ASSERT_THAT(r, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(r.error().message(), ::testing::HasSubstr("event 0: data of 11 bytes exceeds max_event_data_bytes (10)"));
  e.data.pop_back();
  e.metadata = {{"ab", "cd"}};
  ESTORIA_ASSERT_OK(store->AppendStream(s, std::vector<WritableEvent>{e}));
  SqliteOptions bad;
  bad.path = dir.File("bad.db");
  bad.event_limits.max_event_metadata_bytes = 0;
  EXPECT_THAT(SqliteEventStore::Open(bad), StatusIs(StatusCode::kInvalidArgument));
  bad.event_limits = EventLimits{int64_t{1000000001}, 1};
  EXPECT_THAT(SqliteEventStore::Open(bad), StatusIs(StatusCode::kInvalidArgument));
}

TEST(SqliteEventStoreTest, OpenEventStoreBySqliteUri) {
  TempDir dir;
  std::string path = dir.File("uri.db");
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, OpenEventStore("sqlite:" + path + "?durability=relaxed"));
    ASSERT_NE(store->global_reader(), nullptr);
    ASSERT_NE(store->stream_deleter(), nullptr);
    ASSERT_NE(store->stream_lister(), nullptr);
    ASSERT_NE(store->append_watcher(), nullptr);
    ESTORIA_ASSERT_OK(store->AppendStream(TypeId::New("a").value(), std::vector<WritableEvent>{Ev("x", "1")}).error());
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, OpenEventStore("sqlite:" + path));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->global_reader()->HeadPosition());
  EXPECT_EQ(head, 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto mem, OpenEventStore("sqlite::memory:"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(head, mem->global_reader()->HeadPosition());
  EXPECT_EQ(head, 0);
}

}  // namespace
}  // namespace estoria::sqlite

namespace estoria::sqlite {
namespace {

TEST(SqliteEventImporterTest, CopiesVerbatimWithPreservedPositions) {
  TempDir dir;
  auto source = OpenFile(dir.File("src.db"), Durability::kRelaxed);
  ASSERT_NE(source, nullptr);
  TypeId a = TypeId::New("account").value(), b = TypeId::New("account").value();
  ESTORIA_ASSERT_OK(
      source->AppendStream(a, std::vector<WritableEvent>{Ev("x", "1", {{"k", "v"}}), Ev("y", "2")}).error());
  ESTORIA_ASSERT_OK(source->AppendStream(b, std::vector<WritableEvent>{Ev("x", "3")}).error());
  ESTORIA_ASSERT_OK(source->AppendStream(a, std::vector<WritableEvent>{Ev("z", "4", {}, "text/plain")}).error());
  ESTORIA_ASSERT_OK(source->DeleteStream(b));                          // a gap at position 3
  ESTORIA_ASSERT_OK(source->DeleteStream(a, DeleteStreamOptions{1}));  // a truncated stream
  auto events = ReadAllOf(*source);
  ASSERT_EQ(events.size(), 2u);

  std::string target_path = dir.File("dst.db");
  {
    auto target = OpenFile(target_path, Durability::kRelaxed);
    ASSERT_NE(target, nullptr);
    ASSERT_NE(target->event_importer(), nullptr);
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto positions, target->ImportEvents(events, ImportOptions{true}));
    EXPECT_EQ(positions, (std::vector<int64_t>{2, 4}));
    // Everything is rejected when one event is already there.
    EXPECT_THAT(target->ImportEvents(events), StatusIs(StatusCode::kAlreadyExists));
    Event stray = events[1];
    stray.id = TypeId("z", Uuid::NewV7());
    stray.stream_version = 7;  // does not continue the tip (3)
    EXPECT_THAT(target->ImportEvents(std::vector<Event>{stray}), StatusIs(StatusCode::kInvalidArgument));
  }
  auto target = OpenFile(target_path, Durability::kRelaxed);
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(ReadAllOf(*target), events);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto streams, target->ListStreams());
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].version, 3);
  // Appends continue after the imported tip and head.
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto next, target->AppendStream(a, std::vector<WritableEvent>{Ev("w", "5")}, AppendOptions::ExpectVersion(3)));
  EXPECT_EQ(next[0].stream_version, 4);
  EXPECT_EQ(next[0].global_position, 5);
}

}  // namespace
}  // namespace estoria::sqlite

namespace estoria::sqlite {
namespace {

TEST(SqliteEventStoreTest, BusyPastTimeoutIsUnavailableThenRecovers) {
  TempDir dir;
  std::string path = dir.File("busy.db");
  SqliteOptions o;
  o.path = path;
  o.busy_timeout = std::chrono::milliseconds(100);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, SqliteEventStore::Open(o));
  TypeId id = TypeId::New("account").value();
  ESTORIA_ASSERT_OK(store->AppendStream(id, std::vector<WritableEvent>{Ev("x", "1")}).error());
  // Another connection (as another process would) holds the write lock.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other, SqliteDatabase::Open(path));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto tx, SqliteTransaction::Begin(*other, SqliteTransaction::Mode::kImmediate));
  auto blocked = store->AppendStream(id, std::vector<WritableEvent>{Ev("x", "2")});
  ASSERT_FALSE(blocked.has_value());
  EXPECT_TRUE(blocked.error().IsUnavailable()) << blocked.error();
  // Reads are not blocked by the writer lock (WAL).
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  EXPECT_EQ(head, 1);
  ESTORIA_ASSERT_OK(tx.Rollback());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto ok, store->AppendStream(id, std::vector<WritableEvent>{Ev("x", "2")}));
  EXPECT_EQ(ok[0].stream_version, 2);
  EXPECT_EQ(ok[0].global_position, 2);  // the failed batch left no gap
}

}  // namespace
}  // namespace estoria::sqlite

namespace estoria::sqlite {
namespace {

TEST(SqliteEventStoreTest, DiskFullFailsWholeBatchesWithoutGaps) {
  TempDir dir;
  SqliteOptions o;
  o.path = dir.File("full.db");
  o.durability = Durability::kRelaxed;
  o.max_page_count = 64;  // 256 KiB
  o.logger = NullLogger();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, SqliteEventStore::Open(o));
  std::atomic<int> ok{0}, full{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      TypeId id = TypeId::New("big").value();
      for (int i = 0; i < 40; ++i) {
        auto r = store->AppendStream(id, std::vector<WritableEvent>{Ev("x", std::string(2000, 'p'))});
        if (r) {
          ++ok;
        } else {
          EXPECT_TRUE(r.error().IsUnavailable()) << r.error();
          ++full;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(full.load(), 0) << "the size limit was never reached";
  // Exactly the acknowledged appends are stored, at gap-free positions.
  auto all = ReadAllOf(*store);
  ASSERT_EQ(static_cast<int>(all.size()), ok.load());
  std::map<TypeId, int64_t> versions;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].global_position, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(all[i].stream_version, ++versions[all[i].stream_id]);
  }
}

}  // namespace
}  // namespace estoria::sqlite
