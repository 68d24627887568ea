// estoria_redis_cache_peer: another process sharing a Redis aggregate cache
// with redis_cache_test (issue 18). Usage:
//   estoria_redis_cache_peer SQLITE_PATH REDIS_URI NAMESPACE ACTION ID [AMOUNT]
// ACTION: deposit        load through CachedStore(Redis), append, save
//         deposit-bypass append through the event store only (no cache)
//         load           load through CachedStore(Redis)
// Prints "version=V balance=B hits=H" and exits 0; prints the error and exits 1.
#include <cstdlib>
#include <iostream>
#include <string>

#include "../aggregate/test_types.h"
#include "estoria/cached_store.h"
#include "estoria/event_sourced_store.h"
#include "estoria/redis/redis_aggregate_cache.h"
#include "estoria/sqlite/sqlite_event_store.h"

using namespace estoria;       // NOLINT
using namespace estoria_test;  // NOLINT

int main(int argc, char** argv) {
  if (argc < 6) {
    std::cerr << "usage: estoria_redis_cache_peer SQLITE_PATH REDIS_URI NAMESPACE ACTION ID [AMOUNT]\n";
    return 2;
  }
  std::string path = argv[1], uri = argv[2], ns = argv[3], action = argv[4];
  auto id = Uuid::Parse(argv[5]);
  int64_t amount = argc > 6 ? std::atoll(argv[6]) : 0;
  auto events = sqlite::SqliteEventStore::OpenUri("sqlite:" + path);
  auto cache = redis::RedisAggregateCache::OpenUri(uri);
  if (!events || !cache || !id) {
    std::cerr << "peer: open failed\n";
    return 1;
  }
  auto base = EventSourcedStore<Account, Opened, BalanceChanged, Closed>::Create(*events, "account");
  auto cached = CachedStore<Account>::Create(base, {.cache = *cache, .cache_namespace = ns});
  AggregateStore<Account>& store = action == "deposit-bypass" ? static_cast<AggregateStore<Account>&>(*base) : *cached;
  auto a = store.Load(*id);
  if (!a) {
    std::cerr << "peer: load: " << a.error() << "\n";
    return 1;
  }
  if (action != "load") {
    a->Append(BalanceChanged{amount});
    Status st = store.Save(*a);
    if (!st.ok()) {
      std::cerr << "peer: save: " << st << "\n";
      return 1;
    }
  }
  std::cout << "version=" << a->version() << " balance=" << a->state().balance << " hits=" << cached->stats().hits
            << std::endl;
  return 0;
}
