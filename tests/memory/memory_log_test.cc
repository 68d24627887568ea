// The memory store's internal structures (src/memory/memory_log.h) and the
// store's behaviour where they matter: chunk boundaries, large payloads,
// deletes and truncation followed by reads, readers while a writer appends.
#include "memory_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "estoria/memory/memory_event_store.h"

namespace estoria::memory {
namespace {

using internal::Block;
using internal::ByteArena;
using internal::ChunkedLog;
using internal::IdIndex;

TEST(BlockTest, LargeBlocksAreMappedOnHugePageBoundariesAndZeroed) {
  Block small(1000, /*zeroed=*/true);
  EXPECT_FALSE(small.mapped());
  EXPECT_EQ(small.data()[999], 0);
  Block large(Block::kHuge + 12345, /*zeroed=*/false);
  ASSERT_TRUE(large.mapped());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(large.data()) % Block::kHuge, 0u);
  EXPECT_EQ(large.size(), Block::kHuge + 12345);
  EXPECT_EQ(large.data()[0], 0);
  EXPECT_EQ(large.data()[large.size() - 1], 0);
  std::memset(large.data(), 7, large.size());  // all of it writable
  Block moved = std::move(large);
  EXPECT_EQ(moved.data()[Block::kHuge], 7);
  EXPECT_EQ(large.data(), nullptr);
}

TEST(ByteArenaTest, CopiesStayValidAcrossChunkBoundaries) {
  ByteArena arena(64, 256);  // tiny chunks: many boundaries
  std::vector<std::pair<const char*, std::string>> copies;
  for (int i = 0; i < 200; ++i) {
    std::string s(static_cast<size_t>(i % 16), static_cast<char>('a' + i % 26));
    copies.emplace_back(arena.Copy(s.data(), s.size()), s);
  }
  // Chunks of 64, 128, then 256 bytes for about 1,500 bytes.
  EXPECT_GE(arena.block_count(), 6u);
  EXPECT_EQ(arena.bytes_reserved(), 64u + 128u + 256u * (arena.block_count() - 2));
  for (const auto& [p, s] : copies) EXPECT_EQ(std::string(p, s.size()), s);
}

TEST(ByteArenaTest, LargeAllocationGetsItsOwnBlockAndKeepsTheChunk) {
  ByteArena arena(64, 256);
  const char* small1 = arena.Copy("abc", 3);
  std::string big(1000, 'z');  // larger than a quarter of the largest chunk
  const char* large = arena.Copy(big.data(), big.size());
  const char* small2 = arena.Copy("def", 3);
  EXPECT_EQ(arena.block_count(), 2u);  // one chunk, one large block
  EXPECT_EQ(small2, small1 + 3);       // the chunk was not abandoned
  EXPECT_EQ(std::string(large, big.size()), big);
  EXPECT_EQ(std::string(small1, 3), "abc");
  EXPECT_EQ(std::string(small2, 3), "def");
  EXPECT_EQ(arena.bytes_reserved(), 64u + 1000u);
}

TEST(ChunkedLogTest, ElementsDoNotMoveWhenTheLogGrows) {
  ChunkedLog<int64_t, 3> log;  // chunks of 8, 16, 32, 64, ... elements
  std::vector<const int64_t*> addresses;
  for (int64_t i = 0; i < 100; ++i) addresses.push_back(&log.push_back(i * 7));
  EXPECT_EQ(log.size(), 100u);
  EXPECT_EQ(log.chunk_count(), 4u);  // 8 + 16 + 32 + 64 >= 100
  for (size_t i = 0; i < 100; ++i) {
    EXPECT_EQ(&log[i], addresses[i]);
    EXPECT_EQ(log[i], static_cast<int64_t>(i) * 7);
  }
  // Chunk boundaries: the last of one chunk and the first of the next are neighbours in index only.
  EXPECT_EQ(log[7], 49);
  EXPECT_EQ(log[8], 56);
  EXPECT_EQ(log[23], 161);
  EXPECT_EQ(log[24], 168);
}

TEST(IdIndexTest, FindsInsertsAndErasesThroughGrowthAndTombstones) {
  std::vector<Uuid> ids;  // position p has ids[p - 1]
  IdIndex index;
  auto id_at = [&](int64_t p) -> const Uuid& { return ids[static_cast<size_t>(p - 1)]; };
  for (int i = 0; i < 5000; ++i) {
    ids.push_back(Uuid::NewV7());
    index.Insert(ids.back(), static_cast<int64_t>(ids.size()), id_at);
  }
  EXPECT_EQ(index.size(), 5000u);
  EXPECT_LE(index.size() * 2, index.capacity());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(index.Find(ids[i], id_at), static_cast<int64_t>(i) + 1);
  EXPECT_EQ(index.Find(Uuid::NewV7(), id_at), 0);
  // Erase every other one; the rest stay findable past the tombstones.
  for (size_t i = 0; i < ids.size(); i += 2) EXPECT_TRUE(index.Erase(ids[i], static_cast<int64_t>(i) + 1));
  EXPECT_FALSE(index.Erase(ids[0], 1));
  EXPECT_EQ(index.size(), 2500u);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(index.Find(ids[i], id_at), i % 2 == 0 ? 0 : static_cast<int64_t>(i) + 1) << i;
  }
  // Inserting many more after the erasures (tombstones reused, table rebuilt).
  for (int i = 0; i < 5000; ++i) {
    ids.push_back(Uuid::NewV7());
    index.Insert(ids.back(), static_cast<int64_t>(ids.size()), id_at);
  }
  EXPECT_EQ(index.size(), 7500u);
  for (size_t i = 5000; i < ids.size(); ++i) EXPECT_EQ(index.Find(ids[i], id_at), static_cast<int64_t>(i) + 1);
}

WritableEvent Ev(std::string data, Metadata metadata = {}) {
  WritableEvent w;
  w.type = "noted";
  w.data = std::move(data);
  w.metadata = std::move(metadata);
  return w;
}

std::vector<Event> ReadAllOf(EventIterator& it) {
  std::vector<Event> out;
  while (true) {
    auto e = it.Next();
    EXPECT_TRUE(e.ok());
    if (!e.ok() || !*e) return out;
    out.push_back(std::move(**e));
  }
}

TEST(MemoryStoreStorageTest, ManyEventsAcrossLogChunksAndLargePayloadsReadBackExactly) {
  // Above the default 1 MiB data limit: the 4 MiB payload below.
  auto store = MemoryEventStore::Open({.event_limits = {.max_event_data_bytes = 8 << 20}}).value();
  TypeId a("acct", Uuid::NewV7());
  std::vector<std::string> payloads;
  // 6,000 events of about 500 bytes cross several log and byte-arena chunks
  // (up to the first 2 MiB chunk, a huge-page Block), with 4 MiB and 300 KiB
  // payloads among them (a block of their own, and not), with and without
  // metadata.
  constexpr int kEvents = 6000;
  for (int i = 0; i < kEvents; ++i) {
    std::string p = i == 3000   ? std::string(4 << 20, 'L')
                    : i == 4000 ? std::string(300 << 10, 'M')
                                : std::string(500, static_cast<char>('a' + i % 26));
    p += std::to_string(i);
    payloads.push_back(p);
  }
  for (int i = 0; i < kEvents; i += 100) {
    std::vector<WritableEvent> batch;
    for (int k = i; k < i + 100; ++k) {
      batch.push_back(Ev(payloads[k], k % 3 == 0 ? Metadata{{"k", std::to_string(k)}, {"z", ""}} : Metadata{}));
    }
    ASSERT_TRUE(store->AppendStream(a, batch).ok());
  }
  auto it = store->ReadAll().value();
  std::vector<Event> all = ReadAllOf(*it);
  ASSERT_EQ(all.size(), static_cast<size_t>(kEvents));
  for (int k = 0; k < kEvents; ++k) {
    ASSERT_EQ(all[k].data, payloads[k]) << k;
    EXPECT_EQ(all[k].global_position, k + 1);
    EXPECT_EQ(all[k].stream_version, k + 1);
    EXPECT_EQ(all[k].metadata, (k % 3 == 0 ? Metadata{{"k", std::to_string(k)}, {"z", ""}} : Metadata{}));
  }
}

TEST(MemoryStoreStorageTest, TruncationAndDeletionThenReadsAndIdReuse) {
  auto store = MemoryEventStore::Open().value();
  TypeId a("acct", Uuid::NewV7()), b("acct", Uuid::NewV7());
  std::vector<Event> written_a, written_b;
  for (int i = 0; i < 50; ++i) {
    written_a.push_back(store->AppendStream(a, std::vector{Ev("a" + std::to_string(i))}).value()[0]);
    written_b.push_back(store->AppendStream(b, std::vector{Ev("b" + std::to_string(i))}).value()[0]);
  }
  ASSERT_TRUE(store->DeleteStream(a, DeleteStreamOptions{.to_version = 30}).ok());
  auto rest = ReadAllOf(*store->ReadStream(a).value());
  ASSERT_EQ(rest.size(), 20u);
  EXPECT_EQ(rest.front(), written_a[30]);
  ASSERT_TRUE(store->DeleteStream(b).ok());
  EXPECT_TRUE(store->ReadStream(b).error().IsNotFound());
  auto all = ReadAllOf(*store->ReadAll().value());
  ASSERT_EQ(all.size(), 20u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], written_a[30 + i]);
  EXPECT_EQ(store->HeadPosition().value(), 100);
  // A deleted event's id may be used again; a live one is still an idempotent retry.
  WritableEvent reuse = Ev("again");
  reuse.id = written_b[0].id.uuid();
  auto again = store->AppendStream(b, std::vector{reuse});
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->front().stream_version, 1);
  WritableEvent retry = Ev("a49");
  retry.id = written_a[49].id.uuid();
  EXPECT_TRUE(store->AppendStream(a, std::vector{retry}, AppendOptions::ExpectVersion(49)).error().IsAlreadyExists());
}

TEST(MemoryStoreStorageTest, EveryStoredIdIsFoundWhetherGeneratedOrChosen) {
  // Generated ids are found by binary search over runs of positions, chosen
  // ones through the hash index: interleave both (many runs), then retry each
  // event by its id, which must be recognized as already stored.
  auto store = MemoryEventStore::Open().value();
  std::vector<TypeId> streams;
  for (int i = 0; i < 3; ++i) streams.emplace_back("acct", Uuid::NewV7());
  std::vector<Event> written;
  for (int i = 0; i < 600; ++i) {
    std::vector<WritableEvent> batch;
    for (int k = 0; k < 1 + i % 3; ++k) {
      batch.push_back(Ev(std::to_string(i)));
      if ((i + k) % 4 == 0) batch.back().id = Uuid::NewV7();  // caller-chosen
    }
    auto out = store->AppendStream(streams[i % 3], batch);
    ASSERT_TRUE(out.ok()) << out.error();
    written.insert(written.end(), out->begin(), out->end());
  }
  for (const Event& e : written) {
    WritableEvent retry = Ev(e.data);
    retry.id = e.id.uuid();
    auto res = store->AppendStream(e.stream_id, std::vector{retry}, AppendOptions::ExpectVersion(e.stream_version - 1));
    ASSERT_FALSE(res.ok()) << e.global_position;
    EXPECT_TRUE(res.error().IsAlreadyExists()) << e.global_position << " " << res.error();
    // In another stream the same id is a reuse, not a retry.
    auto other = store->AppendStream(TypeId("acct", Uuid::NewV7()), std::vector{retry});
    ASSERT_FALSE(other.ok());
    EXPECT_TRUE(other.error().IsInvalidArgument()) << other.error();
  }
  // An id never stored (older than all, newer than all) is not found.
  WritableEvent fresh = Ev("x");
  fresh.id = Uuid::NewV7();
  EXPECT_TRUE(store->AppendStream(streams[0], std::vector{fresh}).ok());
}

TEST(MemoryStoreStorageTest, ReadersSeeConsistentPrefixesWhileOneWriterAppends) {
  auto store = MemoryEventStore::Open().value();
  TypeId s("acct", Uuid::NewV7());
  constexpr int kEvents = 4000;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    for (int i = 0; i < kEvents; i += 10) {
      std::vector<WritableEvent> batch;
      for (int k = i; k < i + 10; ++k) batch.push_back(Ev(std::to_string(k)));
      if (!store->AppendStream(s, batch).ok()) ++failures;
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      int64_t rounds = 0;
      while (!done.load() || rounds < 2) {
        ++rounds;
        int64_t head = store->HeadPosition().value();
        auto events = ReadAllOf(*store->ReadAll().value());
        // Every event up to the head at the start, in order, payload = position - 1.
        if (static_cast<int64_t>(events.size()) < head) ++failures;
        for (size_t i = 0; i < events.size(); ++i) {
          if (events[i].global_position != static_cast<int64_t>(i) + 1 || events[i].data != std::to_string(i)) {
            ++failures;
            break;
          }
        }
        auto stream = store->ReadStream(s);
        if (stream.ok()) {
          auto mine = ReadAllOf(**stream);
          for (size_t i = 0; i < mine.size(); ++i) {
            if (mine[i].stream_version != static_cast<int64_t>(i) + 1) {
              ++failures;
              break;
            }
          }
        }
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store->HeadPosition().value(), kEvents);
}

TEST(MemoryStoreStorageTest, AnAppendRacingAWaitersRegistrationStillWakesIt) {
  // An append notifies only when a waiter is registered; a waiter registers
  // before it reads the head. Race the two many times: a lost wake-up would
  // leave the waiter asleep for its whole 5 s timeout.
  auto store = MemoryEventStore::Open().value();
  TypeId s("acct", Uuid::NewV7());
  AppendWatcher* watcher = store->append_watcher();
  ASSERT_NE(watcher, nullptr);
  for (int i = 0; i < 100; ++i) {
    int64_t head = store->HeadPosition().value();
    auto start = std::chrono::steady_clock::now();
    std::thread waiter([&] {
      auto known = watcher->WaitForAppend(head, std::chrono::seconds(5));
      EXPECT_TRUE(known.ok());
      if (known.ok()) {
        EXPECT_GT(*known, head);
      }
    });
    ASSERT_TRUE(store->AppendStream(s, std::vector{Ev(std::to_string(i))}).ok());
    waiter.join();
    ASSERT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4)) << "round " << i;
  }
}

}  // namespace
}  // namespace estoria::memory
