// event_store_core.h (internal): PostgresEventStore::Core, the state shared by
// postgres_event_store.cc and postgres_event_importer.cc: options, the store
// core (statements, pool), the append notifier and the group-commit writer.
//
// Thread safety: the members are thread safe; the struct is immutable after Open.
#pragma once

#include <memory>

#include "append_notifier.h"
#include "append_writer.h"
#include "estoria/postgres/postgres_event_store.h"
#include "store_core.h"

namespace estoria::postgres {

struct PostgresEventStore::Core {
  PostgresOptions options;
  std::shared_ptr<postgres::internal::StoreCore> store;
  std::unique_ptr<postgres::internal::AppendNotifier> notifier;
  std::unique_ptr<postgres::internal::AppendWriter> writer;  // destroyed before notifier
};

}  // namespace estoria::postgres
