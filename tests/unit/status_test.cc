#include "estoria/status.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "estoria/testing/matchers.h"

// Counts this thread's allocations through the global operator new, to show
// that an OK Status never allocates. Sanitizers bring their own allocator, so
// those builds keep it and skip the test.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ESTORIA_STATUS_TEST_COUNTS_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define ESTORIA_STATUS_TEST_COUNTS_ALLOCATIONS 0
#endif
#endif
#ifndef ESTORIA_STATUS_TEST_COUNTS_ALLOCATIONS
#define ESTORIA_STATUS_TEST_COUNTS_ALLOCATIONS 1
#endif

#if ESTORIA_STATUS_TEST_COUNTS_ALLOCATIONS
namespace {
thread_local long allocations = 0;
}  // namespace
void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// Out of line, so that GCC does not see the free() of a new'd pointer.
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace estoria {
namespace {

using ::estoria::testing::StatusIs;

static_assert(sizeof(Status) == sizeof(void*), "an OK Status costs one pointer");
static_assert(std::is_nothrow_move_constructible_v<Status> && std::is_nothrow_copy_constructible_v<Status>);

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, EveryCodeHasANameAndPredicate) {
  EXPECT_TRUE(Status::InvalidArgument("x").IsInvalidArgument());
  EXPECT_TRUE(Status::NotFound("x").IsNotFound());
  EXPECT_TRUE(Status::Conflict("x").IsConflict());
  EXPECT_TRUE(Status::AlreadyExists("x").IsAlreadyExists());
  EXPECT_TRUE(Status::FailedPrecondition("x").IsFailedPrecondition());
  EXPECT_TRUE(Status::Unavailable("x").IsUnavailable());
  EXPECT_TRUE(Status::Corruption("x").IsCorruption());
  EXPECT_TRUE(Status::NotSupported("x").IsNotSupported());
  EXPECT_TRUE(Status::Internal("x").IsInternal());
  EXPECT_EQ(Status::Unavailable("down").ToString(), "Unavailable: down");
  EXPECT_FALSE(Status::NotFound("x").IsConflict());
}

TEST(StatusTest, ConflictCarriesDetails) {
  Status s = Status::Conflict(ConflictDetails{"account_x", 3, 5});
  ASSERT_TRUE(s.IsConflict());
  ASSERT_TRUE(s.conflict().has_value());
  EXPECT_EQ(s.conflict()->stream_id, "account_x");
  EXPECT_EQ(s.conflict()->expected_version, 3);
  EXPECT_EQ(s.conflict()->actual_version, 5);
  EXPECT_NE(s.message().find("expected version 3"), std::string::npos);
  EXPECT_NE(s.message().find("found version 5"), std::string::npos);
  EXPECT_FALSE(Status::Conflict("plain").conflict().has_value());
}

TEST(StatusTest, WithContextPrefixesAndKeepsCode) {
  Status s = Status::NotFound("stream x").WithContext("load");
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_EQ(s.message(), "load: stream x");
  EXPECT_TRUE(Status::Ok().WithContext("ignored").ok());
}

TEST(StatusTest, EventsAppendedFlag) {
  Status s = Status::Internal("hook failed");
  EXPECT_FALSE(s.events_appended());
  s.MarkEventsAppended();
  EXPECT_TRUE(s.events_appended());
  EXPECT_NE(s.ToString().find("events were appended"), std::string::npos);
}

TEST(StatusTest, OkStatusNeverAllocates) {
#if ESTORIA_STATUS_TEST_COUNTS_ALLOCATIONS
  const long before = allocations;
  {
    Status a;
    Status b = Status::Ok();
    Status c(StatusCode::kOk, "");
    Status d = b;
    Status e = std::move(c);
    d = a;
    e = std::move(d);
    a.MarkEventsAppended();
    Status f = a.WithContext("ctx");
    EXPECT_TRUE(a.ok() && b.ok() && c.ok() && d.ok() && e.ok() && f.ok());
    EXPECT_EQ(a.message(), "");
    EXPECT_FALSE(a.conflict().has_value());
    EXPECT_FALSE(a.events_appended());
    Result<int> r = 1;
    Status g = r.error();
    EXPECT_TRUE(g.ok());
  }
  EXPECT_EQ(allocations, before);
  Status err = Status::NotFound("x");  // the counter does count
  EXPECT_GT(allocations, before);
#else
  GTEST_SKIP() << "sanitizer build: the allocator is the sanitizer's";
#endif
}

TEST(StatusTest, OkCodeMakesAnOkStatus) {
  Status s(StatusCode::kOk, "dropped");
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s, Status::Ok());
  EXPECT_FALSE(s.MarkEventsAppended().events_appended());  // nothing to mark
}

TEST(StatusTest, ErrorCopyIsIndependentOfTheOriginal) {
  auto original = std::make_unique<Status>(Status::Unavailable("server down"));
  Status copy = *original;
  Status assigned;
  assigned = *original;
  original->MarkEventsAppended();
  EXPECT_TRUE(original->events_appended());
  EXPECT_FALSE(copy.events_appended());
  EXPECT_FALSE(assigned.events_appended());
  *original = Status::NotFound("other");
  original.reset();
  EXPECT_TRUE(copy.IsUnavailable());
  EXPECT_EQ(copy.message(), "server down");
  EXPECT_EQ(copy.ToString(), "Unavailable: server down");
  EXPECT_EQ(assigned, copy);
  // Marking a copy leaves the other copies alone too.
  Status other = copy;
  copy.MarkEventsAppended();
  EXPECT_TRUE(copy.events_appended());
  EXPECT_FALSE(other.events_appended());
  EXPECT_FALSE(assigned.events_appended());
}

TEST(StatusTest, SelfAssignmentKeepsTheError) {
  Status s = Status::Corruption("bad page");
  Status& alias = s;
  s = alias;
  EXPECT_EQ(s.ToString(), "Corruption: bad page");
  s = std::move(alias);
  EXPECT_EQ(s.ToString(), "Corruption: bad page");
}

TEST(StatusTest, MovedFromErrorIsNeverOk) {
  Status a = Status::Conflict("taken");
  Status b = std::move(a);
  EXPECT_TRUE(b.IsConflict());
  EXPECT_EQ(b.message(), "taken");
  EXPECT_FALSE(a.ok());  // NOLINT(bugprone-use-after-move): the documented state
  EXPECT_TRUE(a.IsInternal());
  Status c;
  c = std::move(b);
  EXPECT_TRUE(c.IsConflict());
  EXPECT_TRUE(b.IsInternal());  // NOLINT(bugprone-use-after-move)
  Status copy_of_moved = b;     // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(copy_of_moved.IsInternal());
  copy_of_moved.MarkEventsAppended();  // gets a record of its own
  EXPECT_TRUE(copy_of_moved.events_appended());
  EXPECT_FALSE(b.events_appended());  // NOLINT(bugprone-use-after-move)
  a = Status::NotFound("again");
  EXPECT_TRUE(a.IsNotFound());
  Status ok;
  Status ok2 = std::move(ok);
  EXPECT_TRUE(ok.ok());  // NOLINT(bugprone-use-after-move): an OK Status stays OK
  EXPECT_TRUE(ok2.ok());
}

TEST(StatusTest, ConflictDetailsAndEventsAppendedSurviveCopiesAndMoves) {
  Status original = Status::Conflict(ConflictDetails{"account_x", 3, 5}).MarkEventsAppended();
  auto check = [](const Status& s, const char* what) {
    SCOPED_TRACE(what);
    ASSERT_TRUE(s.IsConflict());
    ASSERT_TRUE(s.conflict().has_value());
    EXPECT_EQ(s.conflict()->stream_id, "account_x");
    EXPECT_EQ(s.conflict()->expected_version, 3);
    EXPECT_EQ(s.conflict()->actual_version, 5);
    EXPECT_TRUE(s.events_appended());
  };
  check(original, "original");
  Status copied = original;
  check(copied, "copy-constructed");
  Status assigned = Status::NotFound("x");
  assigned = copied;
  check(assigned, "copy-assigned");
  Status moved = std::move(copied);
  check(moved, "move-constructed");
  Status move_assigned;
  move_assigned = std::move(assigned);
  check(move_assigned, "move-assigned");
  Status with_context = move_assigned.WithContext("save");
  check(with_context, "WithContext");
  EXPECT_EQ(with_context.message(), "save: " + original.message());
  EXPECT_EQ(move_assigned.message(), original.message());
  Result<int> r = with_context;
  check(r.error(), "through a Result");
}

TEST(StatusTest, CopiesMayLiveInManyThreads) {
  const Status shared = Status::Internal("boom");
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        Status copy = shared;
        if (i % 3 == 0) copy.MarkEventsAppended();
        Status moved = std::move(copy);
        if (moved.message() != "boom") mismatches.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(shared.ToString(), "Internal: boom");
  EXPECT_FALSE(shared.events_appended());
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> a = 42;
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, 42);
  EXPECT_TRUE(a.error().ok());
  Result<int> b = Status::NotFound("nope");
  EXPECT_FALSE(b.has_value());
  EXPECT_THAT(b, StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(b.value_or(7), 7);
}

TEST(ResultTest, OkStatusBecomesInternalError) {
  Result<int> r = Status::Ok();
  EXPECT_THAT(r, StatusIs(StatusCode::kInternal));
}

TEST(ResultTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.has_value());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

static_assert(std::is_same_v<decltype(std::declval<Result<int>&>().error()), const Status&>);
static_assert(std::is_same_v<decltype(std::declval<const Result<int>&>().error()), const Status&>);
static_assert(std::is_same_v<decltype(std::declval<Result<int>>().error()), Status>);
static_assert(std::is_same_v<decltype(std::declval<Result<int>>().status()), Status>);
static_assert(std::is_same_v<decltype(*std::declval<const Result<int>>()), const int&&>);

TEST(ResultTest, ErrorOnAnLvalueRefersIntoTheResult) {
  Result<int> r = Status::NotFound("nope");
  const Status& a = r.error();
  const Status& b = r.status();
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(a.ToString(), "NotFound: nope");
  const Result<int> v = 3;
  EXPECT_TRUE(v.error().ok());
  const Result<std::string> w = std::string("x");
  EXPECT_EQ(&v.error(), &w.error());  // the one shared OK Status
}

TEST(ResultTest, ErrorOnAnRvalueMovesTheStatusOut) {
  Result<std::string> r = Status::Conflict(ConflictDetails{"s1", 2, 4}).MarkEventsAppended();
  const std::string message = r.error().message();
  Status moved = std::move(r).error();
  EXPECT_TRUE(moved.IsConflict());
  EXPECT_EQ(moved.message(), message);
  ASSERT_TRUE(moved.conflict().has_value());
  EXPECT_EQ(moved.conflict()->actual_version, 4);
  EXPECT_TRUE(moved.events_appended());
  // The source is left valid: still an error (never OK), and assignable.
  EXPECT_FALSE(r.has_value());   // NOLINT(bugprone-use-after-move)
  EXPECT_FALSE(r.error().ok());  // NOLINT(bugprone-use-after-move)
  EXPECT_THAT(r, StatusIs(StatusCode::kInternal));
  r = std::string("value");
  EXPECT_EQ(*r, "value");
  // On a value, an rvalue error() is OK and leaves the value alone.
  EXPECT_TRUE(std::move(r).error().ok());
  EXPECT_EQ(*r, "value");  // NOLINT(bugprone-use-after-move)
  // A temporary's error binds without dangling.
  const Status& e = Result<int>(Status::Unavailable("down")).error();
  EXPECT_EQ(e.ToString(), "Unavailable: down");
}

TEST(ResultTest, ValueOrOnAnRvalueMovesTheValue) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(9);
  std::unique_ptr<int> p = std::move(r).value_or(nullptr);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 9);
  Result<std::unique_ptr<int>> e = Status::NotFound("x");
  EXPECT_EQ(std::move(e).value_or(nullptr), nullptr);
}

struct Base {
  virtual ~Base() = default;
  virtual int Id() const { return 1; }
};
struct Derived : Base {
  int Id() const override { return 2; }
};

static_assert(std::is_convertible_v<Result<std::shared_ptr<Derived>>, Result<std::shared_ptr<Base>>>);
static_assert(std::is_convertible_v<const Result<std::shared_ptr<Derived>>&, Result<std::shared_ptr<Base>>>);
static_assert(std::is_convertible_v<Result<std::unique_ptr<Derived>>, Result<std::unique_ptr<Base>>>);
static_assert(!std::is_constructible_v<Result<std::unique_ptr<Base>>, const Result<std::unique_ptr<Derived>>&>);
static_assert(!std::is_constructible_v<Result<std::shared_ptr<Derived>>, Result<std::shared_ptr<Base>>>);
static_assert(std::is_convertible_v<Result<int>, Result<int64_t>>);
// Explicit where the value's conversion is.
static_assert(std::is_constructible_v<Result<std::string>, Result<std::string_view>>);
static_assert(!std::is_convertible_v<Result<std::string_view>, Result<std::string>>);
// bool would be ambiguous (Result's explicit operator bool): no conversion.
static_assert(!std::is_constructible_v<Result<bool>, Result<int>>);

TEST(ResultTest, ConvertsSharedPtrDerivedToBase) {
  Result<std::shared_ptr<Derived>> d = std::make_shared<Derived>();
  Result<std::shared_ptr<Base>> from_lvalue = d;
  ASSERT_TRUE(from_lvalue.has_value());
  EXPECT_EQ((*from_lvalue)->Id(), 2);
  EXPECT_EQ(from_lvalue->get(), d->get());  // the same object, now shared
  EXPECT_EQ(d->use_count(), 2);
  Result<std::shared_ptr<Base>> from_rvalue = std::move(d);
  ASSERT_TRUE(from_rvalue.has_value());
  EXPECT_EQ(from_rvalue->get(), from_lvalue->get());
  EXPECT_EQ(from_lvalue->use_count(), 2);  // moved, not copied

  const Result<std::shared_ptr<Derived>> err = Status::Conflict(ConflictDetails{"s", 1, 2});
  Result<std::shared_ptr<Base>> err_copy = err;
  EXPECT_THAT(err_copy, StatusIs(StatusCode::kConflict));
  EXPECT_EQ(err_copy.error().message(), err.error().message());
  ASSERT_TRUE(err_copy.error().conflict().has_value());
  EXPECT_EQ(err_copy.error().conflict()->actual_version, 2);
  EXPECT_THAT(err, StatusIs(StatusCode::kConflict));  // a copy leaves the source alone
}

Result<std::unique_ptr<Derived>> MakeDerived(bool fail) {
  if (fail) return Status::Unavailable("no derived");
  return std::make_unique<Derived>();
}
Result<std::unique_ptr<Base>> MakeBase(bool fail) {
  Result<std::unique_ptr<Derived>> d = MakeDerived(fail);
  return d;  // implicitly moved, then converted
}

TEST(ResultTest, ConvertsUniquePtrDerivedToBase) {
  Result<std::unique_ptr<Derived>> d = MakeDerived(false);
  Derived* raw = d->get();
  Result<std::unique_ptr<Base>> b = std::move(d);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->get(), raw);
  EXPECT_EQ((*b)->Id(), 2);
  EXPECT_EQ(*d, nullptr);  // NOLINT(bugprone-use-after-move): ownership moved
  Result<std::unique_ptr<Base>> via_return = MakeBase(false);
  ASSERT_TRUE(via_return.has_value());
  EXPECT_EQ((*via_return)->Id(), 2);
  Result<std::unique_ptr<Base>> err = MakeBase(true);
  EXPECT_THAT(err, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(err.error().message(), "no derived");
}

TEST(ResultTest, ConvertsValuesExplicitlyWhereTheValueDoes) {
  Result<int> i = 7;
  Result<int64_t> widened = i;
  EXPECT_EQ(*widened, 7);
  Result<std::string_view> view = std::string_view("abc");
  Result<std::string> str(view);
  EXPECT_EQ(*str, "abc");
  Result<std::string> str_err(Result<std::string_view>(Status::NotFound("gone")));
  EXPECT_THAT(str_err, StatusIs(StatusCode::kNotFound));
  // A Result of a Result wraps rather than converts.
  Result<Result<int>> nested = Result<int>(Status::NotFound("inner"));
  ASSERT_TRUE(nested.has_value());
  EXPECT_THAT(*nested, StatusIs(StatusCode::kNotFound));
}

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd");
  return x / 2;
}
Result<int> Quarter(int x) {
  ESTORIA_ASSIGN_OR_RETURN(int h, Half(x));
  ESTORIA_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}
Status CheckEven(int x) {
  ESTORIA_RETURN_IF_ERROR(Half(x).error());
  return Status::Ok();
}

Result<int> ConflictingAppend() { return Status::Conflict(ConflictDetails{"s1", 1, 2}); }
Result<int64_t> Forward() {
  ESTORIA_ASSIGN_OR_RETURN(int v, ConflictingAppend());
  return v;
}

TEST(ResultTest, PropagationMacros) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_THAT(Quarter(6), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(Quarter(6).error().message(), "odd");
  ESTORIA_EXPECT_OK(CheckEven(4));
  EXPECT_THAT(CheckEven(3), StatusIs(StatusCode::kInvalidArgument));
  Result<int64_t> forwarded = Forward();
  ASSERT_TRUE(forwarded.error().conflict().has_value());
  EXPECT_EQ(forwarded.error().conflict()->stream_id, "s1");
}

TEST(ResultDeathTest, ValueOnErrorAborts) {
  Result<int> r = Status::NotFound("gone");
  EXPECT_DEATH({ (void)r.value(); }, "NotFound: gone");
}

}  // namespace
}  // namespace estoria
