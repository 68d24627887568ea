// The backend SDK's URI parsing, scheme registry and connection pool
// (estoria/backend/uri.h, registry.h, connection_pool.h) and the paged
// iterator (paged_iterator.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "estoria/backend/connection_pool.h"
#include "estoria/backend/paged_iterator.h"
#include "estoria/backend/registry.h"
#include "estoria/backend/uri.h"
#include "estoria/testing/matchers.h"

namespace estoria::backend {
namespace {

using estoria::testing::StatusIs;

TEST(UriTest, SplitsSchemeBodyAndQueryInOrder) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(ParsedUri u, ParseUri("nats://a:4222,b:4222?stream=s&&replicas=3&flag"));
  EXPECT_EQ(u.scheme, "nats");
  EXPECT_EQ(u.body, "//a:4222,b:4222");
  ASSERT_EQ(u.query.size(), 3u);
  EXPECT_EQ(u.query[0].key, "stream");
  EXPECT_EQ(u.query[0].value, "s");
  EXPECT_EQ(u.query[1].key, "replicas");
  EXPECT_EQ(u.query[2].key, "flag");
  EXPECT_EQ(u.query[2].value, "");
  EXPECT_THAT(ParseUri("no-scheme").status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseUri(":body").status(), StatusIs(StatusCode::kInvalidArgument));
}

TEST(UriTest, TypedOptionsNameTheBadValue) {
  UriParam n{"replicas", "3"};
  EXPECT_EQ(UriInteger("nats", n, 1, 5).value(), 3);
  for (const char* bad : {"", "x", "3x", "0", "6", "-1"}) {
    auto r = UriInteger("nats", UriParam{"replicas", bad}, 1, 5);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message().find("replicas=" + std::string(bad)), std::string::npos) << r.error();
  }
  EXPECT_EQ(UriDurability("sqlite", UriParam{"durability", "relaxed"}).value(), Durability::kRelaxed);
  EXPECT_THAT(UriDurability("sqlite", UriParam{"durability", "lax"}).status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(UriChoice("sqlite", UriParam{"mode", "ro"}, {"rw", "ro"}).value(), 1u);
  EXPECT_THAT(UriUnknownOption("sqlite", UriParam{"nope", "1"}, "mode"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(RegistryTest, RegistersOnceAndFindsByScheme) {
  auto opener = [](std::string_view) -> Result<std::shared_ptr<EventStore>> {
    return Status::Unavailable("test opener");
  };
  EXPECT_THAT(RegisterEventStoreScheme("", opener), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RegisterEventStoreScheme("9x", opener), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RegisterEventStoreScheme("sdk-test", nullptr), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK(RegisterEventStoreScheme("sdk-test", opener));
  EXPECT_THAT(RegisterEventStoreScheme("sdk-test", opener), StatusIs(StatusCode::kAlreadyExists));
  ESTORIA_ASSERT_OK_AND_ASSIGN(EventStoreOpener found, FindEventStoreScheme("sdk-test"));
  EXPECT_THAT(found("sdk-test:x").status(), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(FindEventStoreScheme("sdk-missing").status(), StatusIs(StatusCode::kNotFound));
  auto schemes = RegisteredEventStoreSchemes();
  EXPECT_NE(std::find(schemes.begin(), schemes.end(), "sdk-test"), schemes.end());
}

struct FakeConn {
  int id = 0;
  bool healthy = true;
};

TEST(ConnectionPoolTest, BoundsWaitsReusesAndDiscards) {
  int opened = 0;
  ConnectionPool<FakeConn>::Options o;
  o.open = [&]() -> Result<std::unique_ptr<FakeConn>> { return std::make_unique<FakeConn>(FakeConn{++opened}); };
  o.check_in = [](FakeConn& c) { return c.healthy; };
  o.max_open = 1;
  o.wait_timeout = std::chrono::milliseconds(20);
  o.name = "fake";
  ConnectionPool<FakeConn> pool(std::move(o));
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, pool.Acquire());
    EXPECT_EQ(a->id, 1);
    // At the limit: the next Acquire waits, then gives up with Unavailable.
    EXPECT_THAT(pool.Acquire().status(), StatusIs(StatusCode::kUnavailable));
  }
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto again, pool.Acquire());
    EXPECT_EQ(again->id, 1);  // reused
    again->healthy = false;   // check_in refuses it: closed
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto fresh, pool.Acquire());
  EXPECT_EQ(fresh->id, 2);
  fresh.Discard();
}

TEST(ConnectionPoolTest, AFailedOpenOrCheckOutFreesItsSlot) {
  bool fail = true;
  ConnectionPool<FakeConn>::Options o;
  o.open = [&]() -> Result<std::unique_ptr<FakeConn>> {
    if (fail) return Status::Unavailable("server down");
    return std::make_unique<FakeConn>();
  };
  o.check_out = [](FakeConn& c) { return c.healthy ? Status::Ok() : Status::Unavailable("lost"); };
  o.max_open = 1;
  o.wait_timeout = std::chrono::milliseconds(20);
  ConnectionPool<FakeConn> pool(std::move(o));
  EXPECT_THAT(pool.Acquire().status(), StatusIs(StatusCode::kUnavailable));
  fail = false;
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto c, pool.Acquire());  // the failed open did not keep the slot
    c->healthy = true;
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto c, pool.Acquire());
  c->healthy = false;
}

// Yields positions 1..n in pages through the FetchInto form, checking what the
// iterator hands it: an empty vector that keeps its capacity across pages.
TEST(PagedIteratorTest, FetchIntoRefillsOneVector) {
  int64_t next = 1, calls = 0;
  const int64_t n = 10;
  size_t capacity_seen = 0;
  PagedIterator it(PagedIterator::FetchInto([&](int64_t limit, std::vector<Event>& page) -> Status {
                     EXPECT_TRUE(page.empty());
                     EXPECT_GE(page.capacity(), capacity_seen);  // never shrinks
                     EXPECT_EQ(limit, 4);
                     ++calls;
                     for (int64_t i = 0; i < limit && next <= n; ++i) page.emplace_back().global_position = next++;
                     capacity_seen = page.capacity();
                     return Status::Ok();
                   }),
                   /*total_limit=*/0, /*page_size=*/4);
  for (int64_t want = 1; want <= n; ++want) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(std::optional<Event> e, it.Next());
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->global_position, want);
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::optional<Event> end, it.Next());
  EXPECT_FALSE(end.has_value());
  EXPECT_EQ(calls, 3);  // 4 + 4 + 2: the short page ends the scan
  ESTORIA_ASSERT_OK_AND_ASSIGN(end, it.Next());
  EXPECT_FALSE(end.has_value());
  EXPECT_EQ(calls, 3);
}

TEST(PagedIteratorTest, TotalLimitAndStickyErrorInBothForms) {
  // The total limit caps each request and the events handed out.
  int64_t next = 1;
  std::vector<int64_t> limits;
  PagedIterator limited(PagedIterator::FetchInto([&](int64_t limit, std::vector<Event>& page) -> Status {
                          limits.push_back(limit);
                          for (int64_t i = 0; i < limit; ++i) page.emplace_back().global_position = next++;
                          return Status::Ok();
                        }),
                        /*total_limit=*/5, /*page_size=*/3);
  int64_t got = 0;
  for (;;) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(std::optional<Event> e, limited.Next());
    if (!e) break;
    EXPECT_EQ(e->global_position, ++got);
  }
  EXPECT_EQ(got, 5);
  EXPECT_EQ(limits, (std::vector<int64_t>{3, 2}));

  // An error after a good page: the page's events first, then the error on
  // every call, with no further fetch; what the failing fetch appended is
  // never handed out.
  int fetches = 0;
  PagedIterator failing(PagedIterator::FetchInto([&](int64_t, std::vector<Event>& page) -> Status {
                          page.emplace_back().global_position = ++fetches;
                          return fetches == 1 ? Status::Ok() : Status::Corruption("bad row");
                        }),
                        0, 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::optional<Event> first, failing.Next());
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->global_position, 1);
  EXPECT_THAT(failing.Next(), StatusIs(StatusCode::kCorruption));
  EXPECT_THAT(failing.Next(), StatusIs(StatusCode::kCorruption));
  EXPECT_EQ(fetches, 2);

  // The vector-returning form behaves the same.
  int vector_fetches = 0;
  PagedIterator by_vector(PagedIterator::Fetch([&](int64_t limit) -> Result<std::vector<Event>> {
                            if (++vector_fetches > 1) return Status::Unavailable("gone");
                            std::vector<Event> page(static_cast<size_t>(limit));
                            for (size_t i = 0; i < page.size(); ++i)
                              page[i].global_position = static_cast<int64_t>(i) + 1;
                            return page;
                          }),
                          0, 2);
  for (int64_t want : {1, 2}) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(std::optional<Event> e, by_vector.Next());
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->global_position, want);
  }
  EXPECT_THAT(by_vector.Next(), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(by_vector.Next(), StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(vector_fetches, 2);
}

}  // namespace
}  // namespace estoria::backend
