// estoria/status.h: Status (an error code plus message) and Result<T> (a value or
// a Status), the error model of every public Estoria function.
//
// Thread safety: Status and Result are values. Distinct objects may be used from
// distinct threads freely, and const member functions of one object may be called
// from many threads at once; a non-const call (assignment, MarkEventsAppended,
// moving from it) needs the object to itself. Copies of an error Status share one
// immutable heap record through an atomic count, so copies living in different
// threads need no coordination.
//
// No function of the public API throws; failures are reported as a Status.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace estoria {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,     // the caller passed something malformed
  kNotFound = 2,            // the named thing does not exist
  kConflict = 3,            // optimistic concurrency: an expectation failed
  kAlreadyExists = 4,       // e.g. an idempotent re-append of the same events
  kFailedPrecondition = 5,  // the system is not in a state allowing the call
  kUnavailable = 6,         // transient: retry may succeed (server down, busy)
  kCorruption = 7,          // stored data is damaged or of an unknown format
  kNotSupported = 8,        // the backend lacks the capability
  kInternal = 9,            // a bug, or an exception from a user callback
};

// The canonical name of a code, e.g. "Conflict".
std::string_view StatusCodeName(StatusCode code);

// Details attached to a Conflict from an append expectation.
struct ConflictDetails {
  std::string stream_id{};        // the stream whose expectation failed
  int64_t expected_version = -1;  // expected version; -1 = "must exist"
  int64_t actual_version = 0;     // version found; 0 = stream does not exist
};

// Representation: one pointer. An OK Status is a null pointer and never
// allocates; an error points to a heap record (code, message, conflict details,
// events-appended flag) shared by its copies through an atomic count and copied
// before it is modified (MarkEventsAppended on a shared record). So
// sizeof(Status) == sizeof(void*), copying an error costs one atomic increment,
// and moving any Status costs no allocation.
//
// A moved-from Status that held an error reports Internal ("Status accessed
// after move"), never OK, so an error moved out of a Result cannot later read
// as success; a moved-from OK Status stays OK. Either may be assigned to or
// destroyed.
class [[nodiscard]] Status {
 public:
  constexpr Status() noexcept = default;  // OK
  // A code of kOk makes an OK Status (the message is dropped).
  Status(StatusCode code, std::string message);

  Status(const Status& other) noexcept : rep_(other.rep_) { Ref(rep_); }
  Status(Status&& other) noexcept : rep_(other.rep_) {
    if (rep_ != nullptr) other.rep_ = MovedFromRep();
  }
  Status& operator=(const Status& other) noexcept {  // NOLINT(bugprone-unhandled-self-assignment): Ref first
    Ref(other.rep_);                                 // first: other may be *this
    Unref(rep_);
    rep_ = other.rep_;
    return *this;
  }
  Status& operator=(Status&& other) noexcept {
    if (this != &other) {
      Unref(rep_);
      rep_ = other.rep_;
      if (rep_ != nullptr) other.rep_ = MovedFromRep();
    }
    return *this;
  }
  ~Status() { Unref(rep_); }

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {StatusCode::kConflict, std::move(msg)}; }
  static Status Conflict(ConflictDetails details);
  static Status AlreadyExists(std::string msg) { return {StatusCode::kAlreadyExists, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) { return {StatusCode::kFailedPrecondition, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status NotSupported(std::string msg) { return {StatusCode::kNotSupported, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ == nullptr ? StatusCode::kOk : rep_->code; }
  // Empty for an OK Status.
  const std::string& message() const { return rep_ == nullptr ? EmptyString() : rep_->message; }

  bool IsInvalidArgument() const { return code() == StatusCode::kInvalidArgument; }
  bool IsNotFound() const { return code() == StatusCode::kNotFound; }
  bool IsConflict() const { return code() == StatusCode::kConflict; }
  bool IsAlreadyExists() const { return code() == StatusCode::kAlreadyExists; }
  bool IsFailedPrecondition() const { return code() == StatusCode::kFailedPrecondition; }
  bool IsUnavailable() const { return code() == StatusCode::kUnavailable; }
  bool IsCorruption() const { return code() == StatusCode::kCorruption; }
  bool IsNotSupported() const { return code() == StatusCode::kNotSupported; }
  bool IsInternal() const { return code() == StatusCode::kInternal; }

  // Present on Conflicts raised by an append expectation.
  const std::optional<ConflictDetails>& conflict() const { return rep_ == nullptr ? NoConflict() : rep_->conflict; }

  // True when this error happened after events were durably appended (for
  // example a hook or snapshot failing after Save's append): the caller must not
  // retry the append; discard the aggregate and reload. MarkEventsAppended sets
  // it on an error and does nothing on an OK Status (which carries nothing).
  bool events_appended() const { return rep_ != nullptr && rep_->events_appended; }
  Status& MarkEventsAppended() &;
  Status MarkEventsAppended() && { return std::move(MarkEventsAppended()); }

  // Returns a copy whose message is "context: message".
  Status WithContext(std::string_view context) const;

  // "Conflict: message" (or "OK").
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.rep_ == b.rep_ || (a.code() == b.code() && a.message() == b.message());
  }

 private:
  struct Rep {
    // Owners of this record; immortal records (the moved-from one) are not counted.
    mutable std::atomic<int32_t> refs{1};
    bool immortal = false;
    bool events_appended = false;
    StatusCode code = StatusCode::kInternal;
    std::string message;
    std::optional<ConflictDetails> conflict;
  };

  static void Ref(const Rep* rep) noexcept {
    if (rep != nullptr && !rep->immortal) rep->refs.fetch_add(1, std::memory_order_relaxed);
  }
  static void Unref(Rep* rep) noexcept {
    if (rep != nullptr) UnrefNonNull(rep);
  }
  static void UnrefNonNull(Rep* rep) noexcept;
  static Rep* MovedFromRep() noexcept;
  static const std::string& EmptyString() noexcept;
  static const std::optional<ConflictDetails>& NoConflict() noexcept;
  // Gives this Status a record of its own (copying a shared one) to modify.
  Rep* MutableRep();

  Rep* rep_ = nullptr;  // nullptr: OK
};

std::ostream& operator<<(std::ostream& os, const Status& s);

template <typename T>
class Result;

namespace internal {
// What Result<T>::error() refers to when a value is held. Constant-initialized
// (a null pointer), so usable during static initialization.
inline constinit const Status kOkStatus;

template <typename R>
inline constexpr bool kIsResult = false;
template <typename U>
inline constexpr bool kIsResult<Result<U>> = true;

// Whether Result<T> has a converting constructor from Result<U> whose value is
// passed to T's constructor as Arg (const U& or U&&).
template <typename T, typename U, typename Arg>
inline constexpr bool kConvertsFromResult =
    !std::is_same_v<T, U> && std::is_constructible_v<T, Arg> && !std::is_constructible_v<T, Result<U>&> &&
    !std::is_constructible_v<T, const Result<U>&> && !std::is_constructible_v<T, Result<U>&&> &&
    !std::is_constructible_v<T, const Result<U>&&>;
}  // namespace internal

// Result<T>: either a T or a non-OK Status. Member names follow std::expected:
// has_value(), value(), error(), operator*, operator->, value_or().
// Calling value() on an error aborts the process with the status printed (a bug
// in the caller); check has_value() or use ESTORIA_ASSIGN_OR_RETURN.
//
// The accessors are ref-qualified like std::optional's: on an lvalue they
// return references into the Result; on an rvalue value() and operator* return
// T&&, value_or() moves the value, and error() returns the Status by value,
// moved out (std::move(r).error() costs no atomic increment; the Result is left
// holding a moved-from error, which is Internal, never OK). By-value error()
// on rvalues also keeps `const Status& e = F().error();` from dangling.
//
// Converting constructors: a Result<U> converts to a Result<T> when T can be
// constructed from U, as abseil's StatusOr does: the value is converted, or the
// error carried over (copied from an lvalue, moved from an rvalue). The
// conversion is implicit when U converts implicitly to T (e.g.
// Result<std::shared_ptr<Derived>> or Result<std::unique_ptr<Derived>> to the
// Base pointer, Result<int> to Result<int64_t>) and explicit otherwise (e.g.
// Result<std::string_view> to Result<std::string>). It is disabled when T could
// also be constructed from the Result<U> itself, which would be ambiguous:
// Result<bool> does not convert from Result<int> at all (bool would take the
// Result's explicit operator bool), and a Result<std::any> made from a
// Result<int> holds that Result<int> as its value.
template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(const T& value) : v_(std::in_place_index<0>, value) {}        // NOLINT
  Result(T&& value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  template <typename U,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, Status> &&
                                        !internal::kIsResult<std::decay_t<U>>>>
  Result(U&& value) : v_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT
  template <typename U, std::enable_if_t<internal::kConvertsFromResult<T, U, const U&>, int> = 0>
  explicit(!std::is_convertible_v<const U&, T>) Result(const Result<U>& other)  // NOLINT
      : v_(Convert(other)) {}
  template <typename U, std::enable_if_t<internal::kConvertsFromResult<T, U, U&&>, int> = 0>
  explicit(!std::is_convertible_v<U&&, T>) Result(Result<U>&& other)  // NOLINT
      : v_(Convert(std::move(other))) {}
  Result(Status status) : v_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    if (std::get<1>(v_).ok()) {
      std::get<1>(v_) = Status::Internal("Result constructed from an OK status");
    }
  }

  bool has_value() const { return v_.index() == 0; }
  bool ok() const { return has_value(); }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    CheckValue();
    return std::get<0>(v_);
  }
  const T& value() const& {
    CheckValue();
    return std::get<0>(v_);
  }
  T&& value() && {
    CheckValue();
    return std::get<0>(std::move(v_));
  }
  const T&& value() const&& {
    CheckValue();
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T&& operator*() const&& { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    if (has_value()) return std::get<0>(v_);
    return static_cast<T>(std::forward<U>(fallback));
  }
  template <typename U>
  T value_or(U&& fallback) && {
    if (has_value()) return std::get<0>(std::move(v_));
    return static_cast<T>(std::forward<U>(fallback));
  }

  // The error; an OK Status when a value is held. On an lvalue, a reference
  // valid while this Result lives and is not assigned to; on an rvalue, the
  // Status moved out.
  const Status& error() const& { return has_value() ? internal::kOkStatus : std::get<1>(v_); }
  Status error() && {
    if (has_value()) return Status();
    return std::get<1>(std::move(v_));
  }
  // Synonyms of error(), by the name abseil's StatusOr uses.
  const Status& status() const& { return error(); }
  Status status() && { return std::move(*this).error(); }

 private:
  using Variant = std::variant<T, Status>;
  template <typename R>
  static Variant Convert(R&& other) {
    if (other.has_value()) return Variant(std::in_place_index<0>, *std::forward<R>(other));
    return Variant(std::in_place_index<1>, std::forward<R>(other).error());
  }

  void CheckValue() const;
  Variant v_;
};

namespace internal {
[[noreturn]] void DieOnBadResultAccess(const Status& s);
}  // namespace internal

template <typename T>
void Result<T>::CheckValue() const {
  if (!has_value()) internal::DieOnBadResultAccess(std::get<1>(v_));
}

// Propagation helpers.
#define ESTORIA_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::estoria::Status estoria_status_ = (expr);        \
    if (!estoria_status_.ok()) return estoria_status_; \
  } while (0)

#define ESTORIA_CONCAT_INNER_(a, b) a##b
#define ESTORIA_CONCAT_(a, b) ESTORIA_CONCAT_INNER_(a, b)
#define ESTORIA_ASSIGN_OR_RETURN(lhs, expr) \
  ESTORIA_ASSIGN_OR_RETURN_IMPL_(ESTORIA_CONCAT_(estoria_result_, __LINE__), lhs, expr)
#define ESTORIA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.has_value()) return std::move(tmp).error(); \
  lhs = std::move(tmp).value()

}  // namespace estoria
