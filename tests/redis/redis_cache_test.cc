// RedisAggregateCache (issue 18): the AggregateCache conformance suite, URI
// options, the compare-and-set under concurrent writers, and two processes
// sharing one Redis through CachedStore on one SQLite file. Needs
// ESTORIA_TEST_REDIS (scripts/with-redis); skips without it.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "../aggregate/aggregate_cache_conformance.h"
#include "../aggregate/counting_event_store.h"
#include "../aggregate/test_types.h"
#include "estoria/cached_store.h"
#include "estoria/event_sourced_store.h"
#include "estoria/memory/memory_event_store.h"
#include "estoria/redis/redis_aggregate_cache.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/testing/matchers.h"

namespace estoria_test {
namespace {

std::string RedisUri() {
  const char* v = std::getenv("ESTORIA_TEST_REDIS");
  return v == nullptr ? std::string() : std::string(v);
}

std::shared_ptr<estoria::redis::RedisAggregateCache> OpenRedis(const std::string& query = "") {
  if (RedisUri().empty()) return nullptr;
  auto cache = estoria::redis::RedisAggregateCache::OpenUri(RedisUri() + query);
  EXPECT_TRUE(cache.has_value()) << cache.error();
  return cache ? *cache : nullptr;
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(
    Redis, AggregateCacheConformance,
    ::testing::Values(CacheFactory{
        "redis", [] { return std::shared_ptr<estoria::AggregateCache>(OpenRedis("?namespace=conformance")); }}),
    CacheFactoryName);

}  // namespace estoria_test

namespace estoria {
namespace {

using estoria::testing::StatusIs;
using namespace estoria_test;  // NOLINT
using namespace std::chrono_literals;
using redis::RedisAggregateCache;

#define SKIP_WITHOUT_REDIS() \
  if (RedisUri().empty()) GTEST_SKIP() << "ESTORIA_TEST_REDIS unset: run under scripts/with-redis"

TEST(RedisCacheUriTest, RejectsBadUrisAndReportsNoServerAsUnavailable) {
  EXPECT_THAT(RedisAggregateCache::OpenUri("sqlite:x.db"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RedisAggregateCache::OpenUri("redis:localhost"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RedisAggregateCache::OpenUri("redis://127.0.0.1:notaport"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RedisAggregateCache::OpenUri("redis://127.0.0.1:6379/x"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RedisAggregateCache::OpenUri("redis://127.0.0.1:6379?colour=red"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RedisAggregateCache::OpenUri("redis://127.0.0.1:6379?timeout_ms=0"),
              StatusIs(StatusCode::kInvalidArgument));
  // Port 1 on loopback: nothing listens (connection refused).
  EXPECT_THAT(RedisAggregateCache::OpenUri("redis://127.0.0.1:1?connect_timeout_ms=500"),
              StatusIs(StatusCode::kUnavailable));
}

TEST(RedisCacheTest, UriSelectsTheDatabaseAndTheKeyPrefix) {
  SKIP_WITHOUT_REDIS();
  std::string base = RedisUri().substr(0, RedisUri().rfind('/'));  // redis://host:port
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto db3, RedisAggregateCache::OpenUri(base + "/3?namespace=p1"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto db0, RedisAggregateCache::OpenUri(base + "/0?namespace=p1"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other_prefix, RedisAggregateCache::OpenUri(base + "/3?namespace=p2"));
  EXPECT_EQ(db3->options().db, 3);
  EXPECT_EQ(db3->options().key_prefix, "p1");
  std::string key = Uuid::NewV7().ToString();
  ESTORIA_ASSERT_OK(db3->Put("ns", key, 1, "x", 0ms));
  ESTORIA_ASSERT_OK(db3->Get("ns", key));
  EXPECT_THAT(db0->Get("ns", key), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(other_prefix->Get("ns", key), StatusIs(StatusCode::kNotFound));
  ESTORIA_ASSERT_OK(db3->Delete("ns", key));
}

TEST(RedisCacheTest, PutReloadsTheScriptAfterTheServerLostIt) {
  SKIP_WITHOUT_REDIS();
  auto cache = OpenRedis();
  ASSERT_NE(cache, nullptr);
  redisContext* c = redisConnect(cache->options().host.c_str(), cache->options().port);
  ASSERT_TRUE(c != nullptr && c->err == 0);
  auto* flushed = static_cast<redisReply*>(redisCommand(c, "SCRIPT FLUSH"));
  ASSERT_NE(flushed, nullptr);
  freeReplyObject(flushed);
  redisFree(c);
  std::string key = Uuid::NewV7().ToString();
  ESTORIA_ASSERT_OK_AND_ASSIGN(bool stored, cache->Put("ns", key, 2, "x", 0ms));
  EXPECT_TRUE(stored);
  ESTORIA_ASSERT_OK_AND_ASSIGN(stored, cache->Put("ns", key, 1, "y", 0ms));
  EXPECT_FALSE(stored);
  ESTORIA_ASSERT_OK(cache->Delete("ns", key));
}

TEST(RedisCacheTest, ConcurrentPutsKeepTheNewestVersion) {
  SKIP_WITHOUT_REDIS();
  auto cache = OpenRedis();
  ASSERT_NE(cache, nullptr);
  std::string key = Uuid::NewV7().ToString();
  constexpr int kThreads = 4, kPuts = 100;
  std::atomic<int64_t> highest{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kPuts; ++i) {
        int64_t v = 1 + static_cast<int64_t>(rng() % 1000);
        auto stored = cache->Put("ns", key, v, "v" + std::to_string(v), 0ms);
        ASSERT_TRUE(stored.has_value()) << stored.error();
        int64_t h = highest.load();
        while (v > h && !highest.compare_exchange_weak(h, v)) {
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto got, cache->Get("ns", key));
  EXPECT_EQ(got.version, highest.load());
  EXPECT_EQ(got.data, "v" + std::to_string(highest.load()));
  ESTORIA_ASSERT_OK(cache->Delete("ns", key));
}

// ---- a Redis that goes away ----------------------------------------------------

// A redis-server of this test's own (not the shared one of scripts/with-redis),
// so that it can be killed and restarted on the same port.
class OwnRedis {
 public:
  OwnRedis() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
    close(fd);
  }
  ~OwnRedis() { Kill(); }
  int port() const { return port_; }
  std::string uri() const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/0?connect_timeout_ms=500&timeout_ms=500";
  }

  // Starts the server; true once it accepts connections (within 5 s).
  bool Start() {
    std::string port = std::to_string(port_);
    const char* argv[] = {"redis-server", "--bind", "127.0.0.1", "--port", port.c_str(), "--save",    "",
                          "--appendonly", "no",     "--dir",     "/tmp",   "--logfile",  "/dev/null", nullptr};
    if (posix_spawnp(&pid_, "redis-server", nullptr, nullptr, const_cast<char* const*>(argv), environ) != 0) {
      pid_ = -1;
      return false;
    }
    for (int i = 0; i < 100; ++i) {
      if (RedisAggregateCache::OpenUri(uri())) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST(RedisOutageTest, ADownRedisDegradesToStoreLoadsAndRecovers) {
  SKIP_WITHOUT_REDIS();  // redis-server is installed where scripts/with-redis runs
  OwnRedis server;
  ASSERT_TRUE(server.Start()) << "could not start redis-server on port " << server.port();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto cache, RedisAggregateCache::OpenUri(server.uri()));
  auto memory = memory::MemoryEventStore::Open().value();
  auto events = std::make_shared<CountingEventStore>(memory);
  auto base = EventSourcedStore<Account, Opened, BalanceChanged, Closed>::Create(events, "account");
  auto cached = CachedStore<Account>::Create(base, {.cache = cache});
  auto a = cached->New().value();
  a.Append(Opened{"ann"});
  ESTORIA_ASSERT_OK(cached->Save(a));
  const Uuid id = a.id().uuid();
  ESTORIA_ASSERT_OK(cached->Load(id));
  EXPECT_EQ(cached->stats().hits, 1);

  server.Kill();
  EXPECT_THAT(cache->Get("account", id.ToString()), StatusIs(StatusCode::kUnavailable));
  events->Reset();
  for (int i = 0; i < 3; ++i) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto loaded, cached->Load(id));  // never fails: read from the store
    EXPECT_EQ(loaded.state().owner, "ann");
    loaded.Append(BalanceChanged{1});
    ESTORIA_ASSERT_OK(cached->Save(loaded));
  }
  EXPECT_EQ(events->reads(), 3);
  EXPECT_GT(cached->stats().errors, 0);

  // The same cache object reconnects once the server is back (empty: no persistence).
  ASSERT_TRUE(server.Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto reloaded, cached->Load(id));
  EXPECT_EQ(reloaded.version(), 4);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto entry, cache->Get("account", id.ToString()));
  EXPECT_EQ(entry.version, 4);
  const int64_t hits = cached->stats().hits;
  ESTORIA_ASSERT_OK(cached->Load(id));
  EXPECT_EQ(cached->stats().hits, hits + 1);
}

// ---- two processes sharing one Redis ------------------------------------------

using AccountStore = EventSourcedStore<Account, Opened, BalanceChanged, Closed>;

struct PeerResult {
  int64_t version = -1;
  int64_t balance = -1;
  int64_t hits = -1;
};

class TwoProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RedisUri().empty()) GTEST_SKIP() << "ESTORIA_TEST_REDIS unset: run under scripts/with-redis";
    dir_ = std::filesystem::path(::testing::TempDir()) / ("estoria_redis_" + Uuid::NewV7().ToString());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "events.db").string();
    ns_ = "account-" + Uuid::NewV7().ToString();
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto sqlite, sqlite::SqliteEventStore::OpenUri("sqlite:" + path_));
    events_ = std::make_shared<CountingEventStore>(sqlite);
    base_ = AccountStore::Create(events_, "account");
    cache_ = OpenRedis();
    ASSERT_NE(cache_, nullptr);
    store_ = CachedStore<Account>::Create(base_, {.cache = cache_, .cache_namespace = ns_});
  }
  void TearDown() override {
    if (cache_) (void)cache_->Clear(ns_);
    store_.reset();
    base_.reset();
    events_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Runs the peer process; fails the test unless it exits 0.
  PeerResult Peer(const std::string& action, const Uuid& id, int64_t amount = 0) {
    std::string cmd = std::string(ESTORIA_CACHE_PEER) + " '" + path_ + "' '" + RedisUri() + "' '" + ns_ + "' " +
                      action + " " + id.ToString() + " " + std::to_string(amount);
    PeerResult r;
    FILE* out = popen(cmd.c_str(), "r");
    if (out == nullptr) {
      ADD_FAILURE() << "popen failed";
      return r;
    }
    long long v = -1, b = -1, h = -1;
    int matched = std::fscanf(out, "version=%lld balance=%lld hits=%lld", &v, &b, &h);
    int rc = pclose(out);
    EXPECT_EQ(rc, 0) << cmd;
    EXPECT_EQ(matched, 3) << cmd;
    return PeerResult{v, b, h};
  }

  std::filesystem::path dir_;
  std::string path_, ns_;
  std::shared_ptr<CountingEventStore> events_;
  std::shared_ptr<AccountStore> base_;
  std::shared_ptr<RedisAggregateCache> cache_;
  std::shared_ptr<CachedStore<Account>> store_;
};

TEST_F(TwoProcessTest, NeitherProcessServesAStaleVersionAfterTheOtherSaved) {
  auto a = store_->New().value();
  a.Append(Opened{"ann"});
  ESTORIA_ASSERT_OK(store_->Save(a));
  const Uuid id = a.id().uuid();
  int64_t balance = 0;
  for (int round = 1; round <= 3; ++round) {
    // The peer saves: this process's next load sees it, from the shared cache.
    PeerResult p = Peer("deposit", id, round);
    balance += round;
    EXPECT_EQ(p.hits, 1) << "the peer loaded the entry this process cached";
    events_->Reset();
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto mine, store_->Load(id));
    EXPECT_EQ(mine.version(), p.version);
    EXPECT_EQ(mine.state().balance, balance);
    EXPECT_EQ(events_->reads(), 0) << "served from the shared cache";
    // This process saves: the peer's next load sees it.
    mine.Append(BalanceChanged{100});
    ESTORIA_ASSERT_OK(store_->Save(mine));
    balance += 100;
    PeerResult seen = Peer("load", id);
    EXPECT_EQ(seen.version, mine.version());
    EXPECT_EQ(seen.balance, balance);
    EXPECT_EQ(seen.hits, 1);
  }
}

TEST_F(TwoProcessTest, AConflictDeletesTheSharedEntry) {
  auto a = store_->New().value();
  a.Append(Opened{"ann"});
  ESTORIA_ASSERT_OK(store_->Save(a));
  const Uuid id = a.id().uuid();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto stale, store_->Load(id));  // version 1
  // The peer appends without the cache: the entry is now behind the store.
  PeerResult p = Peer("deposit-bypass", id, 5);
  EXPECT_EQ(p.version, 2);
  ESTORIA_ASSERT_OK(cache_->Get(ns_, id.ToString()));
  stale.Append(BalanceChanged{1});
  EXPECT_THAT(store_->Save(stale), StatusIs(StatusCode::kConflict));
  EXPECT_THAT(cache_->Get(ns_, id.ToString()), StatusIs(StatusCode::kNotFound));
  // Every process now reads the store.
  PeerResult seen = Peer("load", id);
  EXPECT_EQ(seen.version, 2);
  EXPECT_EQ(seen.balance, 5);
  EXPECT_EQ(seen.hits, 0);
}

TEST_F(TwoProcessTest, AVersionTheCallerHasSeenIsNeverUndercut) {
  auto a = store_->New().value();
  a.Append(Opened{"ann"});
  ESTORIA_ASSERT_OK(store_->Save(a));
  const Uuid id = a.id().uuid();
  PeerResult p = Peer("deposit-bypass", id, 9);  // the caller learns version 2 (e.g. from a reply)
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto fresh, store_->Load(id, {.min_version = p.version}));
  EXPECT_EQ(fresh.version(), 2);
  EXPECT_EQ(fresh.state().balance, 9);
  // The load refreshed the shared entry: the peer's cached load is version 2.
  PeerResult seen = Peer("load", id);
  EXPECT_EQ(seen.version, 2);
  EXPECT_EQ(seen.hits, 1);
}

}  // namespace
}  // namespace estoria
