// Fuzz target: every store URI parser, parse only (nothing is opened or
// connected): the backend SDK's ParseUri and option helpers, sqlite:
// (SqliteEventStore::ParseUri), postgres:// (ParsePostgresUri), nats://
// (NatsEventStore::ParseUri), and OpenEventStore for the schemes that do no I/O
// (memory:, unknown schemes). Invariants: no crash; every refusal is
// InvalidArgument; what is accepted is consistent with the text.
#include <algorithm>
#include <limits>

#include "estoria/backend/uri.h"
#include "estoria/open.h"
#include "fuzz_util.h"
#ifdef ESTORIA_FUZZ_WITH_SQLITE
#include "estoria/sqlite/sqlite_event_store.h"
#endif
#ifdef ESTORIA_FUZZ_WITH_POSTGRES
#include "estoria/postgres/postgres_options.h"
#endif
#ifdef ESTORIA_FUZZ_WITH_NATS
#include "estoria/nats/nats_event_store.h"
#endif

using namespace estoria;

namespace {

void CheckSdk(std::string_view uri) {
  auto parsed = backend::ParseUri(uri);
  if (!parsed) {
    FUZZ_CHECK(parsed.error().IsInvalidArgument());
    return;
  }
  FUZZ_CHECK(!parsed->scheme.empty() && parsed->scheme.find(':') == std::string::npos);
  FUZZ_CHECK(uri.starts_with(parsed->scheme + ":" + parsed->body));
  FUZZ_CHECK(parsed->body.find('?') == std::string::npos);
  for (const backend::UriParam& p : parsed->query) {
    FUZZ_CHECK(p.key.find('&') == std::string::npos && p.key.find('=') == std::string::npos);
    FUZZ_CHECK(p.value.find('&') == std::string::npos);
    auto i = backend::UriInteger(parsed->scheme, p, -5, 1000);
    if (i) FUZZ_CHECK(*i >= -5 && *i <= 1000);
    auto any = backend::UriInteger(parsed->scheme, p, std::numeric_limits<int64_t>::min());
    if (!any) FUZZ_CHECK(any.error().IsInvalidArgument());
    auto d = backend::UriDurability(parsed->scheme, p);
    if (d) FUZZ_CHECK(p.value == "strict" || p.value == "relaxed");
    auto c = backend::UriChoice(parsed->scheme, p, {"rw", "ro", "x"});
    if (c) FUZZ_CHECK(*c < 3);
    FUZZ_CHECK(backend::UriUnknownOption(parsed->scheme, p, "a, b").IsInvalidArgument());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view uri = fuzz::AsText(data, size);
  CheckSdk(uri);

#ifdef ESTORIA_FUZZ_WITH_SQLITE
  if (auto o = sqlite::SqliteEventStore::ParseUri(uri)) {
    FUZZ_CHECK(uri.starts_with("sqlite:") && !o->path.empty());
    FUZZ_CHECK(o->busy_timeout.count() >= 0 && o->wal_autocheckpoint_pages >= 0);
  } else {
    FUZZ_CHECK(o.error().IsInvalidArgument());
  }
#endif
#ifdef ESTORIA_FUZZ_WITH_POSTGRES
  if (auto o = postgres::ParsePostgresUri(uri)) {
    FUZZ_CHECK(uri.starts_with("postgres"));
    FUZZ_CHECK(o->pool_size >= 1 && o->connect_timeout.count() >= 1);
  } else {
    FUZZ_CHECK(o.error().IsInvalidArgument());
  }
#endif
#ifdef ESTORIA_FUZZ_WITH_NATS
  if (auto o = nats::NatsEventStore::ParseUri(uri)) {
    FUZZ_CHECK(uri.starts_with("nats://") && !o->servers.empty());
    FUZZ_CHECK(o->replicas >= 1 && o->replicas <= 5 && o->timeout.count() >= 1 && !o->stream.empty());
    for (const std::string& s : o->servers) FUZZ_CHECK(s.starts_with("nats://") && s.size() > 7);
  } else {
    FUZZ_CHECK(o.error().IsInvalidArgument());
  }
#endif

  // OpenEventStore, only where it does no I/O: memory: and unknown schemes.
  std::string_view scheme = uri.substr(0, uri.find(':'));
  static const std::string_view kIoSchemes[] = {"sqlite", "postgres", "postgresql", "nats"};
  if (std::find(std::begin(kIoSchemes), std::end(kIoSchemes), scheme) == std::end(kIoSchemes)) {
    auto store = OpenEventStore(uri);
    if (uri == "memory:" || uri == "memory") {
      FUZZ_CHECK(store.has_value());
    } else if (uri.starts_with("memory:?")) {  // options (event limits)
      FUZZ_CHECK(store.has_value() || store.error().IsInvalidArgument());
    } else {
      FUZZ_CHECK(!store.has_value() && store.error().IsInvalidArgument());
    }
  }
  return 0;
}
