// Upcasting in the projection processor, on every backend of ProcessorSuite:
// an event type with two schema versions in one log is folded, projected and
// loaded alike; dead letters keep the event as stored.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "estoria/event_sourced_store.h"
#include "estoria/fold.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/testing/matchers.h"
#include "processor_suite.h"
#include "wallet_types.h"

namespace estoria::testing {

using namespace std::chrono_literals;

namespace {

using OldWallets = EventSourcedStore<Wallet, DepositedV1>;
using Wallets = EventSourcedStore<Wallet, Deposited>;

// A read model of wallets by stream id, fed by a processor's handler.
class WalletView {
 public:
  Status Handle(const Event& e) {
    std::lock_guard<std::mutex> lock(mu_);
    versions_seen_.push_back(e.metadata.count(std::string(kSchemaVersionMetadataKey))
                                 ? e.metadata.at(std::string(kSchemaVersionMetadataKey))
                                 : "1");
    return ApplyCurrent(wallets_[e.stream_id.ToString()], e);
  }
  std::map<std::string, Wallet> wallets() const {
    std::lock_guard<std::mutex> lock(mu_);
    return wallets_;
  }
  std::vector<std::string> versions_seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return versions_seen_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Wallet> wallets_;
  std::vector<std::string> versions_seen_;
};

}  // namespace

TEST_P(ProcessorSuite, TwoSchemaVersionsFoldProjectAndLoadAlike) {
  OldWallets old_wallets(store_, "wallet");
  Wallets wallets(store_, "wallet", {.upcasters = WalletUpcasters()});
  // w1: two v1 events by the old build, then a v2 event by the current one;
  // w2: v1 and v2 interleaved with w1 in the global log.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto w1, old_wallets.New());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto w2, old_wallets.New());
  w1.Append(DepositedV1{3}, DepositedV1{4});
  ESTORIA_ASSERT_OK(old_wallets.Save(w1));
  w2.Append(DepositedV1{7});
  ESTORIA_ASSERT_OK(old_wallets.Save(w2));
  std::map<std::string, Wallet> loaded;
  for (const auto& [id, deposit] :
       {std::pair{w1.id(), Deposited{250, "USD"}}, std::pair{w2.id(), Deposited{5, "GBP"}}}) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto w, wallets.Load(id.uuid()));
    w.Append(deposit);
    ESTORIA_ASSERT_OK(wallets.Save(w));
    ESTORIA_ASSERT_OK_AND_ASSIGN(w, wallets.Load(id.uuid()));
    loaded[id.ToString()] = w.state();
  }
  EXPECT_EQ(loaded[w1.id().ToString()], (Wallet{950, "USD", 3}));
  EXPECT_EQ(loaded[w2.id().ToString()], (Wallet{705, "GBP", 2}));
  const EventUpcasting upcasting = wallets.upcasting();

  // FoldStream and FoldAll with the store's upcasting.
  std::map<std::string, Wallet> by_stream, by_log;
  for (const TypeId& id : {w1.id(), w2.id()}) {
    ESTORIA_ASSERT_OK(FoldStream(*store_, id, [&](const Event& e) { return ApplyCurrent(by_stream[id.ToString()], e); },
                                 {.upcasting = &upcasting}));
  }
  EXPECT_EQ(by_stream, loaded);
  ESTORIA_ASSERT_OK(FoldAll(
      *store_->global_reader(), [&](const Event& e) { return ApplyCurrent(by_log[e.stream_id.ToString()], e); },
      {.read = {.stream_types = {"wallet"}}, .upcasting = &upcasting}, nullptr));
  EXPECT_EQ(by_log, loaded);

  // The processor projects the same, its handler seeing only version 2.
  auto view = std::make_shared<WalletView>();
  ProcessorOptions options{.name = "suite_upcast", .stream_types = {"wallet"}, .upcasting = upcasting};
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p,
      Processor::Create(store_, MemoryDeadLetterSink([view](const Event& e) { return view->Handle(e); }), options));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitUntilCaughtUp(30s));
  ProcessorState st = p->state();
  ESTORIA_ASSERT_OK(p->Stop());
  ESTORIA_EXPECT_OK(st.last_error);
  EXPECT_EQ(st.events_handled, 5);
  EXPECT_EQ(st.events_parked, 0);
  EXPECT_EQ(view->wallets(), loaded);
  EXPECT_EQ(view->versions_seen(), std::vector<std::string>(5, "2"));

  // Without upcasting the same handler sees the raw v1 payloads and fails.
  auto raw_view = std::make_shared<WalletView>();
  ProcessorOptions raw_options{.name = "suite_raw", .stream_types = {"wallet"}};
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto raw,
      Processor::Create(store_, MemoryDeadLetterSink([raw_view](const Event& e) { return raw_view->Handle(e); }),
                        raw_options));
  ESTORIA_ASSERT_OK(raw->Start());
  EXPECT_THAT(raw->WaitForExit(30s), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(raw->state().phase, ProcessorPhase::kFailed);
}

TEST_P(ProcessorSuite, DeadLetterOfAnUpcastEventKeepsTheStoredPayload) {
  OldWallets old_wallets(store_, "wallet");
  Wallets wallets(store_, "wallet", {.upcasters = WalletUpcasters()});
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto w, old_wallets.New());
  // 3 and 4 upcast fine (the handler refuses 400 cents while `broken`); -1
  // fails in the upcaster itself.
  w.Append(DepositedV1{3}, DepositedV1{4}, DepositedV1{-1});
  ESTORIA_ASSERT_OK(old_wallets.Save(w));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store_->ReadStream(w.id()));
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::vector<Event> stored, Collect(*it));
  ASSERT_EQ(stored.size(), 3u);

  auto view = std::make_shared<WalletView>();
  std::atomic<bool> broken{true};
  auto handler = [&](const Event& e) -> Status {
    if (broken && e.data.find("\"cents\":400") != std::string::npos) return Status::Unavailable("view busy");
    return view->Handle(e);
  };
  auto dead_letters = estoria::memory::MemoryDeadLetterStore::Open().value();
  auto sink =
      std::make_shared<HandlerSink>(handler, estoria::memory::MemoryCheckpointStore::Open().value(), dead_letters);
  ProcessorOptions options{.name = "suite_upcast_park",
                           .stream_types = {"wallet"},
                           .failure_policy = FailurePolicy::Park(2, 1ms),
                           .upcasting = wallets.upcasting()};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store_, sink, options));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitUntilCaughtUp(30s));
  EXPECT_EQ(p->state().events_parked, 2);
  EXPECT_EQ(p->state().retries, 2);  // Park(2): each parked event was tried twice

  ESTORIA_ASSERT_OK_AND_ASSIGN(auto parked, p->ListParked());
  ASSERT_EQ(parked.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const Event& raw = stored[i + 1];
    SCOPED_TRACE(raw.data);
    EXPECT_EQ(parked[i].event.global_position, raw.global_position);
    EXPECT_EQ(parked[i].event.data, raw.data);  // the stored v1 payload, not the upcast one
    EXPECT_EQ(parked[i].event.metadata, raw.metadata);
    EXPECT_EQ(parked[i].event.metadata.at(std::string(kSchemaVersionMetadataKey)), "1");
    EXPECT_EQ(parked[i].attempts, 2);
  }
  EXPECT_NE(parked[0].error.find("view busy"), std::string::npos) << parked[0].error;
  EXPECT_NE(parked[1].error.find("negative deposit"), std::string::npos) << parked[1].error;
  EXPECT_NE(parked[1].error.find("upcasting"), std::string::npos) << parked[1].error;

  // Replaying upcasts again: the handler sees 400 cents in EUR.
  broken = false;
  ESTORIA_ASSERT_OK(p->ReplayParked(stored[1].global_position));
  // The upcaster still refuses -1: it stays parked, as stored.
  EXPECT_THAT(p->ReplayParked(stored[2].global_position), StatusIs(StatusCode::kInternal));
  ESTORIA_ASSERT_OK_AND_ASSIGN(parked, p->ListParked());
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_EQ(parked[0].event.data, stored[2].data);
  ESTORIA_ASSERT_OK(p->Stop());
  EXPECT_EQ(view->wallets()[w.id().ToString()], (Wallet{700, "EUR", 2}));
  EXPECT_EQ(view->versions_seen(), std::vector<std::string>(2, "2"));
}

TEST_P(ProcessorSuite, InvalidUpcasterRegistrationIsRefusedByCreate) {
  EventUpcasting bad;
  bad.upcasters.Add("deposited", 0, JsonUpcaster([](nlohmann::json&) {}));
  ProcessorOptions options{.name = "suite_bad_upcast", .upcasting = bad};
  EXPECT_THAT(Processor::Create(store_, MemoryDeadLetterSink([](const Event&) { return Status::Ok(); }), options),
              StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace estoria::testing
