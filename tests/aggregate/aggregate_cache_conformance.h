// Conformance tests of an AggregateCache implementation (issue 18): compare-
// and-set by version, delete, TTL expiry, namespaces. A test binary includes
// this header and instantiates the suite with factories of caches:
//   INSTANTIATE_TEST_SUITE_P(Lru, AggregateCacheConformance,
//                            ::testing::Values(CacheFactory{"lru", [] { ... }}));
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "estoria/aggregate_cache.h"
#include "estoria/event.h"
#include "estoria/testing/matchers.h"

namespace estoria_test {

struct CacheFactory {
  std::string name;
  std::function<std::shared_ptr<estoria::AggregateCache>()> make;
};
inline std::string CacheFactoryName(const ::testing::TestParamInfo<CacheFactory>& info) { return info.param.name; }

class AggregateCacheConformance : public ::testing::TestWithParam<CacheFactory> {
 protected:
  void SetUp() override {
    cache_ = GetParam().make();
    // A factory returns null when its server is not configured.
    if (!cache_) GTEST_SKIP() << GetParam().name << ": no cache server configured";
    // Fresh namespaces: a shared cache may hold other tests' entries.
    ns_ = "t-" + estoria::Uuid::NewV7().ToString();
    other_ns_ = "u-" + estoria::Uuid::NewV7().ToString();
  }
  void TearDown() override {
    if (cache_) {
      (void)cache_->Clear(ns_);
      (void)cache_->Clear(other_ns_);
    }
  }
  static constexpr std::chrono::milliseconds kNoTtl{0};
  std::shared_ptr<estoria::AggregateCache> cache_;
  std::string ns_, other_ns_;
};

TEST_P(AggregateCacheConformance, GetOfAMissingEntryIsNotFound) {
  auto got = cache_->Get(ns_, "k");
  ASSERT_FALSE(got.has_value());
  EXPECT_TRUE(got.error().IsNotFound()) << got.error();
}

TEST_P(AggregateCacheConformance, PutNeverReplacesANewerVersionByAnOlderOne) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(bool stored, cache_->Put(ns_, "k", 5, "five", kNoTtl));
  EXPECT_TRUE(stored);
  ESTORIA_ASSERT_OK_AND_ASSIGN(stored, cache_->Put(ns_, "k", 4, "four", kNoTtl));
  EXPECT_FALSE(stored);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto got, cache_->Get(ns_, "k"));
  EXPECT_EQ(got.version, 5);
  EXPECT_EQ(got.data, "five");
  // The same version replaces; a newer one too.
  ESTORIA_ASSERT_OK_AND_ASSIGN(stored, cache_->Put(ns_, "k", 5, "five again", kNoTtl));
  EXPECT_TRUE(stored);
  ESTORIA_ASSERT_OK_AND_ASSIGN(got, cache_->Get(ns_, "k"));
  EXPECT_EQ(got.data, "five again");
  ESTORIA_ASSERT_OK_AND_ASSIGN(stored, cache_->Put(ns_, "k", 9, "nine", kNoTtl));
  EXPECT_TRUE(stored);
  ESTORIA_ASSERT_OK_AND_ASSIGN(got, cache_->Get(ns_, "k"));
  EXPECT_EQ(got.version, 9);
  EXPECT_EQ(got.data, "nine");
}

TEST_P(AggregateCacheConformance, BytesRoundTripVerbatim) {
  std::string bytes("a\0b\nc\xff", 6);
  ESTORIA_ASSERT_OK(cache_->Put(ns_, "k", 1, bytes, kNoTtl));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto got, cache_->Get(ns_, "k"));
  EXPECT_EQ(got.data, bytes);
}

TEST_P(AggregateCacheConformance, DeleteRemovesTheEntry) {
  ESTORIA_ASSERT_OK(cache_->Put(ns_, "k", 3, "x", kNoTtl));
  ESTORIA_ASSERT_OK_AND_ASSIGN(bool deleted, cache_->Delete(ns_, "k"));
  EXPECT_TRUE(deleted);
  ESTORIA_ASSERT_OK_AND_ASSIGN(deleted, cache_->Delete(ns_, "k"));
  EXPECT_FALSE(deleted);
  EXPECT_FALSE(cache_->Get(ns_, "k").has_value());
  // After a delete any version may be put again (the delete forgets the version).
  ESTORIA_ASSERT_OK_AND_ASSIGN(bool stored, cache_->Put(ns_, "k", 1, "y", kNoTtl));
  EXPECT_TRUE(stored);
}

TEST_P(AggregateCacheConformance, EntriesExpireAfterTheirTtl) {
  using namespace std::chrono_literals;
  ESTORIA_ASSERT_OK(cache_->Put(ns_, "short", 1, "x", 60ms));
  ESTORIA_ASSERT_OK(cache_->Put(ns_, "kept", 1, "x", 60ms));
  ESTORIA_ASSERT_OK(cache_->Put(ns_, "kept", 2, "y", kNoTtl));  // a put without TTL makes it persistent
  ESTORIA_ASSERT_OK(cache_->Put(ns_, "long", 1, "x", 60s));
  ESTORIA_ASSERT_OK(cache_->Get(ns_, "short"));
  std::this_thread::sleep_for(150ms);
  auto expired = cache_->Get(ns_, "short");
  ASSERT_FALSE(expired.has_value());
  EXPECT_TRUE(expired.error().IsNotFound()) << expired.error();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto kept, cache_->Get(ns_, "kept"));
  EXPECT_EQ(kept.version, 2);
  ESTORIA_ASSERT_OK(cache_->Get(ns_, "long"));
  // An expired entry holds no version: an older one may be put.
  ESTORIA_ASSERT_OK(cache_->Put(ns_, "old", 7, "x", 30ms));
  std::this_thread::sleep_for(100ms);
  ESTORIA_ASSERT_OK_AND_ASSIGN(bool stored, cache_->Put(ns_, "old", 3, "z", kNoTtl));
  EXPECT_TRUE(stored);
}

TEST_P(AggregateCacheConformance, NamespacesAreSeparate) {
  ESTORIA_ASSERT_OK(cache_->Put(ns_, "k", 5, "mine", kNoTtl));
  ESTORIA_ASSERT_OK(cache_->Put(other_ns_, "k", 1, "other", kNoTtl));  // not compared with ns_'s version
  ESTORIA_ASSERT_OK(cache_->Put(ns_, "j", 1, "j", kNoTtl));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto mine, cache_->Get(ns_, "k"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other, cache_->Get(other_ns_, "k"));
  EXPECT_EQ(mine.data, "mine");
  EXPECT_EQ(other.data, "other");
  EXPECT_EQ(cache_->Usage(ns_).size, 2u);
  EXPECT_EQ(cache_->Usage(other_ns_).size, 1u);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t cleared, cache_->Clear(ns_));
  EXPECT_EQ(cleared, 2);
  EXPECT_FALSE(cache_->Get(ns_, "k").has_value());
  EXPECT_EQ(cache_->Usage(ns_).size, 0u);
  ESTORIA_ASSERT_OK(cache_->Get(other_ns_, "k"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(bool deleted, cache_->Delete(ns_, "k"));
  EXPECT_FALSE(deleted);
}

TEST_P(AggregateCacheConformance, PutRejectsBadArguments) {
  using estoria::StatusCode;
  using estoria::testing::StatusIs;
  EXPECT_THAT(cache_->Put(ns_, "k", 0, "x", kNoTtl), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(cache_->Put(ns_, "k", 1, "x", std::chrono::milliseconds(-1)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_FALSE(cache_->Get(ns_, "k").has_value());
}

}  // namespace estoria_test
