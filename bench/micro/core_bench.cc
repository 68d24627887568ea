// Micro-benchmarks of core hot paths: TypeId, JSON payload codec round trips,
// timestamps, memory store appends and reads.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "estoria/event.h"
#include "estoria/memory/memory_event_store.h"
#include "estoria/type_id.h"

namespace {

estoria::WritableEvent Deposit() {
  estoria::WritableEvent e;
  e.type = "deposited";
  e.data = R"({"amount":1})";
  return e;
}

void BM_UuidNewV7(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(estoria::Uuid::NewV7());
}
BENCHMARK(BM_UuidNewV7);

void BM_TypeIdToString(benchmark::State& state) {
  estoria::TypeId id("account", estoria::Uuid::NewV7());
  for (auto _ : state) benchmark::DoNotOptimize(id.ToString());
}
BENCHMARK(BM_TypeIdToString);

void BM_TypeIdParse(benchmark::State& state) {
  std::string text = estoria::TypeId("account", estoria::Uuid::NewV7()).ToString();
  for (auto _ : state) benchmark::DoNotOptimize(estoria::TypeId::Parse(text));
}
BENCHMARK(BM_TypeIdParse);

struct Deposited {
  int64_t amount = 0;
  std::string reference;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Deposited, amount, reference)

void BM_JsonEncode(benchmark::State& state) {
  Deposited d{1234, "invoice-2026-0042"};
  for (auto _ : state) benchmark::DoNotOptimize(nlohmann::json(d).dump());
}
BENCHMARK(BM_JsonEncode);

void BM_JsonDecode(benchmark::State& state) {
  std::string text = nlohmann::json(Deposited{1234, "invoice-2026-0042"}).dump();
  for (auto _ : state) benchmark::DoNotOptimize(nlohmann::json::parse(text).get<Deposited>());
}
BENCHMARK(BM_JsonDecode);

void BM_FormatTimestamp(benchmark::State& state) {
  estoria::Timestamp t = estoria::Now();
  for (auto _ : state) benchmark::DoNotOptimize(estoria::FormatTimestamp(t));
}
BENCHMARK(BM_FormatTimestamp);

void BM_MemoryAppend(benchmark::State& state) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  const int batch = static_cast<int>(state.range(0));
  std::vector<estoria::WritableEvent> events(batch, Deposit());
  std::vector<estoria::TypeId> streams;
  for (int i = 0; i < 1000; ++i) streams.emplace_back("account", estoria::Uuid::NewV7());
  std::vector<int64_t> versions(streams.size(), 0);
  size_t i = 0;
  for (auto _ : state) {
    size_t s = i++ % streams.size();
    auto r = store->AppendStream(streams[s], events, estoria::AppendOptions::ExpectVersion(versions[s]));
    if (!r) state.SkipWithError(r.error().ToString().c_str());
    versions[s] += batch;
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_MemoryAppend)->Arg(1)->Arg(10)->Arg(100);

void BM_MemoryReadStream(benchmark::State& state) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  estoria::TypeId id("account", estoria::Uuid::NewV7());
  std::vector<estoria::WritableEvent> events(state.range(0), Deposit());
  (void)store->AppendStream(id, events);
  for (auto _ : state) {
    auto it = store->ReadStream(id);
    auto all = estoria::Collect(**it);
    benchmark::DoNotOptimize(all);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_MemoryReadStream)->Arg(100)->Arg(1000);

}  // namespace
