// NatsSnapshotStore and NatsCheckpointStore: the conformance suites on the
// single node (replicas 1) and on the 3-node cluster (replicas 3), a new bucket
// per store, then what only these stores do: option checks, keys and values
// read and written by another KV client (libnats's kvStore_* functions), and
// several store objects sharing one bucket.
#include <nats/nats.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "estoria/nats/nats_event_store.h"
#include "estoria/nats/nats_stores.h"
#include "estoria/testing/conformance.h"
#include "estoria/testing/matchers.h"

namespace {

using estoria::Result;
using estoria::Snapshot;
using estoria::SnapshotRetention;
using estoria::StatusCode;
using estoria::TypeId;
using estoria::nats::NatsCheckpointStore;
using estoria::nats::NatsCheckpointStoreOptions;
using estoria::nats::NatsSnapshotStore;
using estoria::nats::NatsSnapshotStoreOptions;
using estoria::testing::StatusIs;
using ::testing::ElementsAre;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

// "nats://host:port[,host:port...]" (as scripts/with-nats exports) as URLs.
std::vector<std::string> Servers(const std::string& url) {
  std::vector<std::string> out;
  std::string_view hosts = url;
  if (hosts.starts_with("nats://")) hosts.remove_prefix(7);
  while (!hosts.empty()) {
    const size_t comma = hosts.find(',');
    out.push_back("nats://" + std::string(hosts.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    hosts.remove_prefix(comma + 1);
  }
  return out;
}

// A new bucket name per call: tests share the servers.
std::string NewBucket() {
  static std::atomic<int> n{0};
  return "t" + estoria::Uuid::NewV7().ToString().substr(24) + "_" + std::to_string(n++);
}

Result<std::shared_ptr<NatsSnapshotStore>> OpenSnapshots(const char* env, int replicas, const std::string& bucket,
                                                         SnapshotRetention retention = {}) {
  const std::string url = Env(env);
  if (url.empty()) return estoria::Status::Unavailable(std::string(env) + " is unset: run under scripts/with-nats");
  return NatsSnapshotStore::Open(
      {.servers = Servers(url), .bucket = bucket, .replicas = replicas, .retention = retention});
}

Result<std::shared_ptr<NatsCheckpointStore>> OpenCheckpoints(const char* env, int replicas, const std::string& bucket) {
  const std::string url = Env(env);
  if (url.empty()) return estoria::Status::Unavailable(std::string(env) + " is unset: run under scripts/with-nats");
  return NatsCheckpointStore::Open({.servers = Servers(url), .bucket = bucket, .replicas = replicas});
}

Result<std::shared_ptr<estoria::SnapshotStore>> SnapshotFactory(const char* env, int replicas,
                                                                SnapshotRetention retention) {
  auto store = OpenSnapshots(env, replicas, NewBucket(), retention);
  if (!store.ok()) return store.status();
  return std::shared_ptr<estoria::SnapshotStore>(*store);
}

Result<std::shared_ptr<estoria::CheckpointStore>> CheckpointFactory(const char* env, int replicas) {
  auto store = OpenCheckpoints(env, replicas, NewBucket());
  if (!store.ok()) return store.status();
  return std::shared_ptr<estoria::CheckpointStore>(*store);
}

ESTORIA_INSTANTIATE_SNAPSHOT_STORE_CONFORMANCE(NatsSingle, [](SnapshotRetention r) {
  return SnapshotFactory("ESTORIA_NATS_URL", 1, r);
});
ESTORIA_INSTANTIATE_SNAPSHOT_STORE_CONFORMANCE(NatsCluster, [](SnapshotRetention r) {
  return SnapshotFactory("ESTORIA_NATS_CLUSTER_URL", 3, r);
});
ESTORIA_INSTANTIATE_CHECKPOINT_STORE_CONFORMANCE(NatsSingle, [] { return CheckpointFactory("ESTORIA_NATS_URL", 1); });
ESTORIA_INSTANTIATE_CHECKPOINT_STORE_CONFORMANCE(NatsCluster,
                                                 [] { return CheckpointFactory("ESTORIA_NATS_CLUSTER_URL", 3); });

// Another KV client on a bucket: libnats's own key-value functions.
class OtherKvClient {
 public:
  OtherKvClient(const std::string& url, const std::string& bucket) {
    natsOptions* opts = nullptr;
    std::vector<std::string> servers = Servers(url);
    std::vector<const char*> urls;
    for (const auto& s : servers) urls.push_back(s.c_str());
    status_ = natsOptions_Create(&opts);
    if (status_ == NATS_OK) status_ = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
    if (status_ == NATS_OK) status_ = natsConnection_Connect(&nc_, opts);
    natsOptions_Destroy(opts);
    if (status_ == NATS_OK) status_ = natsConnection_JetStream(&js_, nc_, nullptr);
    if (status_ == NATS_OK) status_ = js_KeyValue(&kv_, js_, bucket.c_str());
  }
  ~OtherKvClient() {
    kvStore_Destroy(kv_);
    jsCtx_Destroy(js_);
    natsConnection_Destroy(nc_);
  }
  OtherKvClient(const OtherKvClient&) = delete;
  OtherKvClient& operator=(const OtherKvClient&) = delete;

  natsStatus status() const { return status_; }
  natsStatus Put(const std::string& key, const std::string& value) {
    return kvStore_Put(nullptr, kv_, key.c_str(), value.data(), static_cast<int>(value.size()));
  }
  natsStatus Delete(const std::string& key) { return kvStore_Delete(kv_, key.c_str()); }
  // The key's value; "<none>" when it has none.
  std::string Get(const std::string& key) {
    kvEntry* e = nullptr;
    if (kvStore_Get(&e, kv_, key.c_str()) != NATS_OK) return "<none>";
    std::string out(static_cast<const char*>(kvEntry_Value(e)), static_cast<size_t>(kvEntry_ValueLen(e)));
    kvEntry_Destroy(e);
    return out;
  }

 private:
  natsStatus status_ = NATS_OK;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  kvStore* kv_ = nullptr;
};

Snapshot Snap(const TypeId& id, int64_t version, std::string data) {
  Snapshot s;
  s.aggregate_id = id;
  s.version = version;
  s.timestamp = estoria::Now();
  s.data = std::move(data);
  return s;
}

struct Target {
  const char* env;
  int replicas;
};
void PrintTo(const Target& t, std::ostream* os) { *os << t.env << " replicas=" << t.replicas; }

class NatsKvStoresTest : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override {
    url_ = Env(GetParam().env);
    if (url_.empty()) GTEST_SKIP() << GetParam().env << " unset: no NATS servers to test";
  }
  Result<std::shared_ptr<NatsSnapshotStore>> Snapshots(const std::string& bucket, SnapshotRetention r = {}) {
    return OpenSnapshots(GetParam().env, GetParam().replicas, bucket, r);
  }
  Result<std::shared_ptr<NatsCheckpointStore>> Checkpoints(const std::string& bucket) {
    return OpenCheckpoints(GetParam().env, GetParam().replicas, bucket);
  }
  std::string url_;
};

TEST_P(NatsKvStoresTest, OpenRejectsBadOptions) {
  for (const std::string& bucket :
       std::vector<std::string>{"", "bad.name", "has space", "star*", std::string(65, 'b')}) {
    EXPECT_THAT(Checkpoints(bucket), StatusIs(StatusCode::kInvalidArgument)) << bucket;
    EXPECT_THAT(Snapshots(bucket), StatusIs(StatusCode::kInvalidArgument)) << bucket;
  }
  EXPECT_THAT(NatsCheckpointStore::Open({.servers = {}, .bucket = NewBucket()}),
              StatusIs(StatusCode::kInvalidArgument));
  for (int replicas : {0, 6}) {
    EXPECT_THAT(NatsCheckpointStore::Open({.servers = Servers(url_), .bucket = NewBucket(), .replicas = replicas}),
                StatusIs(StatusCode::kInvalidArgument));
  }
  EXPECT_THAT(NatsSnapshotStore::Open({.servers = Servers(url_), .bucket = NewBucket(), .timeout = {}}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Snapshots(NewBucket(), SnapshotRetention{-1}), StatusIs(StatusCode::kInvalidArgument));
}

TEST_P(NatsKvStoresTest, OpenRefusesAStreamThatIsNotTheBucket) {
  const std::string bucket = NewBucket();
  // An event store's stream named like the bucket's, holding other subjects.
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto events, estoria::nats::NatsEventStore::Open({.servers = Servers(url_), .stream = "KV_" + bucket}));
  EXPECT_THAT(Checkpoints(bucket), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(Snapshots(bucket), StatusIs(StatusCode::kFailedPrecondition));
}

TEST_P(NatsKvStoresTest, StoresSharingABucketSeeEachOthersWrites) {
  const std::string bucket = NewBucket();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, Checkpoints(bucket));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b, Checkpoints(bucket));
  ESTORIA_ASSERT_OK(a->Save("balances", 3));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, b->Load("balances"));
  EXPECT_EQ(p, 3);
  ESTORIA_ASSERT_OK(b->Save("balances", 4));
  ESTORIA_ASSERT_OK_AND_ASSIGN(p, a->Load("balances"));
  EXPECT_EQ(p, 4);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, a->List());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].position, 4);
  ESTORIA_ASSERT_OK(b->Delete("balances"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(p, a->Load("balances"));
  EXPECT_EQ(p, 0);
  EXPECT_THAT(a->Delete("balances"), StatusIs(StatusCode::kNotFound));
  // A store reopened on the bucket (other replicas: the bucket keeps its own)
  // finds what was written before.
  ESTORIA_ASSERT_OK(a->Save("totals", 9));
  a.reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto c, OpenCheckpoints(GetParam().env, 1, bucket));
  ESTORIA_ASSERT_OK_AND_ASSIGN(p, c->Load("totals"));
  EXPECT_EQ(p, 9);
}

TEST_P(NatsKvStoresTest, SnapshotStoresSharingABucketSeeEachOthersWrites) {
  const std::string bucket = NewBucket();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto keep_all, Snapshots(bucket));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto keep_two, Snapshots(bucket, SnapshotRetention{2}));
  const TypeId id = TypeId::New("account").value();
  for (int64_t v = 1; v <= 4; ++v) ESTORIA_ASSERT_OK(keep_all->Save(Snap(id, v, "a" + std::to_string(v))));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto versions, keep_two->ListVersions(id));
  EXPECT_THAT(versions, ElementsAre(1, 2, 3, 4));
  ESTORIA_ASSERT_OK(keep_two->Save(Snap(id, 5, "b5")));  // its retention trims the other's saves
  ESTORIA_ASSERT_OK_AND_ASSIGN(versions, keep_all->ListVersions(id));
  EXPECT_THAT(versions, ElementsAre(4, 5));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot s, keep_all->Load(id));
  EXPECT_EQ(s.data, "b5");
  ESTORIA_ASSERT_OK_AND_ASSIGN(s, keep_all->Load(id, 4));
  EXPECT_EQ(s.data, "a4");
}

TEST_P(NatsKvStoresTest, ConcurrentDeletesOfOneCheckpointSucceedOnce) {
  const std::string bucket = NewBucket();
  std::vector<std::shared_ptr<NatsCheckpointStore>> stores;  // one connection each, as processes would
  for (int i = 0; i < 4; ++i) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, Checkpoints(bucket));
    stores.push_back(store);
  }
  for (int round = 1; round <= 5; ++round) {
    ESTORIA_ASSERT_OK(stores[0]->Save("shared", round));
    std::atomic<int> ok{0}, not_found{0};
    std::vector<std::thread> threads;
    for (auto& store : stores) {
      threads.emplace_back([&, store] {
        estoria::Status st = store->Delete("shared");
        if (st.ok()) ++ok;
        if (st.code() == StatusCode::kNotFound) ++not_found;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 1) << "round " << round;
    EXPECT_EQ(not_found.load(), 3) << "round " << round;
  }
}

TEST_P(NatsKvStoresTest, KeysAndValuesAreReadableByOtherKvClients) {
  const std::string bucket = NewBucket();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto checkpoints, Checkpoints(bucket));
  ESTORIA_ASSERT_OK(checkpoints->Save("a.b c", 42));
  OtherKvClient other(url_, bucket);
  ASSERT_EQ(other.status(), NATS_OK) << natsStatus_GetText(other.status());
  EXPECT_THAT(other.Get("a=2Eb=20c"), ::testing::HasSubstr("\"position\":42"));

  const std::string snapshot_bucket = NewBucket();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto snapshots, Snapshots(snapshot_bucket));
  const TypeId id = TypeId::New("bank.account").value();
  ESTORIA_ASSERT_OK(snapshots->Save(Snap(id, 7, "state")));
  OtherKvClient other_snapshots(url_, snapshot_bucket);
  ASSERT_EQ(other_snapshots.status(), NATS_OK);
  const std::string value = other_snapshots.Get("bank=2Eaccount_" + id.uuid().ToString() + ".7");
  EXPECT_TRUE(value.starts_with("ESS1")) << value;
  EXPECT_TRUE(value.ends_with("state")) << value;
}

TEST_P(NatsKvStoresTest, AKeyDeletedByAnotherClientIsAbsent) {
  const std::string bucket = NewBucket();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, Checkpoints(bucket));
  ESTORIA_ASSERT_OK(store->Save("gone", 5));
  ESTORIA_ASSERT_OK(store->Save("kept", 6));
  OtherKvClient other(url_, bucket);
  ASSERT_EQ(other.status(), NATS_OK);
  ASSERT_EQ(other.Delete("gone"), NATS_OK);  // a delete marker
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, store->Load("gone"));
  EXPECT_EQ(p, 0);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, store->List());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "kept");
  EXPECT_THAT(store->Delete("gone"), StatusIs(StatusCode::kNotFound));
  ESTORIA_ASSERT_OK(store->Save("gone", 8));
  ESTORIA_ASSERT_OK_AND_ASSIGN(p, store->Load("gone"));
  EXPECT_EQ(p, 8);
}

TEST_P(NatsKvStoresTest, ValuesWrittenByOthersAreCorruption) {
  const std::string bucket = NewBucket();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto checkpoints, Checkpoints(bucket));
  OtherKvClient other(url_, bucket);
  ASSERT_EQ(other.status(), NATS_OK);
  ASSERT_EQ(other.Put("foo", "hello"), NATS_OK);
  EXPECT_THAT(checkpoints->Load("foo"), StatusIs(StatusCode::kCorruption));
  EXPECT_THAT(checkpoints->List(), StatusIs(StatusCode::kCorruption));
  ASSERT_EQ(other.Put("foo", R"({"position":-3,"updated_at_us":0})"), NATS_OK);
  EXPECT_THAT(checkpoints->Load("foo"), StatusIs(StatusCode::kCorruption));
  ASSERT_EQ(other.Put("foo", R"({"position":3,"updated_at_us":0})"), NATS_OK);  // the layout, so fine
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, checkpoints->Load("foo"));
  EXPECT_EQ(p, 3);
  ASSERT_EQ(other.Put("two.tokens", R"({"position":3,"updated_at_us":0})"), NATS_OK);  // not an escaped name
  EXPECT_THAT(checkpoints->List(), StatusIs(StatusCode::kCorruption));

  const std::string snapshot_bucket = NewBucket();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto snapshots, Snapshots(snapshot_bucket));
  OtherKvClient other_snapshots(url_, snapshot_bucket);
  ASSERT_EQ(other_snapshots.status(), NATS_OK);
  const TypeId id = TypeId::New("account").value(), other_id = TypeId::New("account").value();
  ESTORIA_ASSERT_OK(snapshots->Save(Snap(id, 1, "one")));
  ESTORIA_ASSERT_OK(snapshots->Save(Snap(other_id, 2, "other")));
  ASSERT_EQ(other_snapshots.Put(id.ToString() + ".2", "junk"), NATS_OK);
  EXPECT_THAT(snapshots->Load(id), StatusIs(StatusCode::kCorruption));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot s, snapshots->Load(id, 1));
  EXPECT_EQ(s.data, "one");
  // A valid snapshot of another aggregate, copied under this one's key.
  ASSERT_EQ(other_snapshots.Put(id.ToString() + ".2", other_snapshots.Get(other_id.ToString() + ".2")), NATS_OK);
  EXPECT_THAT(snapshots->Load(id), StatusIs(StatusCode::kCorruption));
  ASSERT_EQ(other_snapshots.Put(id.ToString() + ".x", "junk"), NATS_OK);
  EXPECT_THAT(snapshots->ListVersions(id), StatusIs(StatusCode::kCorruption));
  ESTORIA_ASSERT_OK(snapshots->DeleteBelow(id, 2));  // leaves the foreign key alone
  ESTORIA_ASSERT_OK(snapshots->DeleteBelow(id, 0));  // every key of the aggregate
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto versions, snapshots->ListVersions(id));
  EXPECT_TRUE(versions.empty());
  ESTORIA_ASSERT_OK_AND_ASSIGN(s, snapshots->Load(other_id));
  EXPECT_EQ(s.data, "other");
}

TEST_P(NatsKvStoresTest, DottedTypeNamesAndLongNamesRoundTrip) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto snapshots, Snapshots(NewBucket(), SnapshotRetention{2}));
  const TypeId dotted = TypeId::New("bank.account").value();
  const TypeId plain("bank", dotted.uuid());
  for (int64_t v : {1, 2, 3}) ESTORIA_ASSERT_OK(snapshots->Save(Snap(dotted, v, "d" + std::to_string(v))));
  ESTORIA_ASSERT_OK(snapshots->Save(Snap(plain, 9, "p9")));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto versions, snapshots->ListVersions(dotted));
  EXPECT_THAT(versions, ElementsAre(2, 3));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot s, snapshots->Load(dotted));
  EXPECT_EQ(s.aggregate_id, dotted);
  EXPECT_EQ(s.data, "d3");
  ESTORIA_ASSERT_OK(snapshots->DeleteBelow(plain, 0));
  ESTORIA_ASSERT_OK_AND_ASSIGN(versions, snapshots->ListVersions(dotted));
  EXPECT_THAT(versions, ElementsAre(2, 3));

  ESTORIA_ASSERT_OK_AND_ASSIGN(auto checkpoints, Checkpoints(NewBucket()));
  const std::string longest(1000, ' ');  // 3000 characters escaped: the limit
  ESTORIA_ASSERT_OK(checkpoints->Save(longest, 11));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, checkpoints->Load(longest));
  EXPECT_EQ(p, 11);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, checkpoints->List());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, longest);
  const std::string too_long = longest + " ";
  EXPECT_THAT(checkpoints->Save(too_long, 1), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(checkpoints->Load(too_long), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(checkpoints->Delete(too_long), StatusIs(StatusCode::kInvalidArgument));
}

TEST_P(NatsKvStoresTest, OversizedSnapshotsAreInvalidArgument) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto snapshots, Snapshots(NewBucket()));
  const TypeId id = TypeId::New("account").value();
  EXPECT_THAT(snapshots->Save(Snap(id, 1, std::string(8 << 20, 'x'))), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto versions, snapshots->ListVersions(id));
  EXPECT_TRUE(versions.empty());
  EXPECT_THAT(snapshots->ListVersions(TypeId("Bad Type", id.uuid())), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(snapshots->DeleteBelow(id, -1), StatusIs(StatusCode::kInvalidArgument));
}

INSTANTIATE_TEST_SUITE_P(NatsSingle, NatsKvStoresTest, ::testing::Values(Target{"ESTORIA_NATS_URL", 1}));
INSTANTIATE_TEST_SUITE_P(NatsCluster, NatsKvStoresTest, ::testing::Values(Target{"ESTORIA_NATS_CLUSTER_URL", 3}));

}  // namespace
