// Micro-benchmarks of the aggregate layer: codecs, applying events, and
// hydrating an aggregate from a memory store (decode + apply per event).
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "estoria/aggregate.h"
#include "estoria/codec.h"
#include "estoria/event_sourced_store.h"
#include "estoria/memory/memory_event_store.h"

namespace {

struct MicroAccount {
  int64_t balance = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MicroAccount, balance)

struct MicroDeposited {
  static constexpr std::string_view kType = "deposited";
  int64_t amount = 0;
  void ApplyTo(MicroAccount& a) const { a.balance += amount; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MicroDeposited, amount)

void BM_JsonCodecEncode(benchmark::State& state) {
  MicroDeposited d{42};
  for (auto _ : state) benchmark::DoNotOptimize(estoria::JsonCodec::Encode(d));
}
BENCHMARK(BM_JsonCodecEncode);

void BM_JsonCodecDecode(benchmark::State& state) {
  std::string data = estoria::JsonCodec::Encode(MicroDeposited{42}).value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(estoria::JsonCodec::Decode<MicroDeposited>(estoria::kJsonContentType, data));
  }
}
BENCHMARK(BM_JsonCodecDecode);

void BM_ApplyEvent(benchmark::State& state) {
  MicroAccount a;
  MicroDeposited d{1};
  for (auto _ : state) {
    estoria::ApplyEventTo(a, d);
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_ApplyEvent);

void BM_HydrateFromMemory(benchmark::State& state) {
  auto events = estoria::memory::MemoryEventStore::Open().value();
  auto store = estoria::EventSourcedStore<MicroAccount, MicroDeposited>::Create(events, "account");
  auto a = store->New().value();
  for (int64_t i = 0; i < state.range(0); ++i) a.Append(MicroDeposited{1});
  if (!store->Save(a).ok()) state.SkipWithError("save failed");
  for (auto _ : state) {
    auto loaded = store->Load(a.id().uuid());
    benchmark::DoNotOptimize(loaded);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_HydrateFromMemory)->Arg(10)->Arg(1000);

}  // namespace
