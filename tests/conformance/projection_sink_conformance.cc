// ProjectionSinkConformance: the ProjectionSink contract
// (estoria/projection/projection_sink.h), and MakeHandlerSinkUnderTest.
#include "estoria/testing/projection_sink_conformance.h"

#include <algorithm>
#include <mutex>
#include <set>
#include <stdexcept>

#include "estoria/testing/matchers.h"

namespace estoria::testing {

int LinkProjectionSinkConformance() { return 0; }

ProjectionSinkUnderTest MakeHandlerSinkUnderTest(EventHandler verdict, std::shared_ptr<CheckpointStore> checkpoints,
                                                 std::shared_ptr<DeadLetterStore> dead_letters) {
  struct Log {
    std::mutex mu;
    std::vector<int64_t> positions;
  };
  auto log = std::make_shared<Log>();
  EventHandler handler = [log, verdict = std::move(verdict)](const Event& e) -> Status {
    Status s = verdict(e);  // at-least-once: the effect is written only on success
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(log->mu);
      log->positions.push_back(e.global_position);
    }
    return s;
  };
  ProjectionSinkUnderTest out;
  out.sink = std::make_shared<HandlerSink>(std::move(handler), std::move(checkpoints), std::move(dead_letters));
  out.effects = [log]() -> Result<std::vector<int64_t>> {
    std::lock_guard<std::mutex> lock(log->mu);
    return log->positions;
  };
  return out;
}

// A payload the handler refuses (only a ReplayWith transform writes it).
constexpr std::string_view kRefusedData = R"({"refused":true})";

struct ProjectionSinkConformance::Script {
  std::mutex mu;
  std::set<int64_t> fail;   // positions whose handler call returns Conflict
  std::set<int64_t> raise;  // positions whose handler call throws

  void Fail(int64_t p) {
    std::lock_guard<std::mutex> lock(mu);
    fail.insert(p);
  }
  void Raise(int64_t p) {
    std::lock_guard<std::mutex> lock(mu);
    raise.insert(p);
  }
  void Heal() {
    std::lock_guard<std::mutex> lock(mu);
    fail.clear();
    raise.clear();
  }
  Status Verdict(const Event& e) {
    std::lock_guard<std::mutex> lock(mu);
    if (raise.contains(e.global_position)) throw std::runtime_error("conformance handler throws");
    if (fail.contains(e.global_position)) {
      return Status::Conflict("conformance handler refuses " + std::to_string(e.global_position));
    }
    if (e.data == kRefusedData) return Status::Conflict("conformance handler refuses the transformed payload");
    return Status::Ok();
  }
};

void ProjectionSinkConformance::SetUp() {
  script_ = std::make_shared<Script>();
  auto made = GetParam()([script = script_](const Event& e) { return script->Verdict(e); });
  ASSERT_TRUE(made.has_value()) << made.error();
  under_test_ = *std::move(made);
  ASSERT_NE(under_test_.sink, nullptr);
  ASSERT_TRUE(under_test_.effects != nullptr);
  sink_ = under_test_.sink.get();
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The event at global position p of a source log.
Event At(int64_t p) {
  Event e;
  e.id = TypeId("happened", Uuid::NewV7());
  e.stream_id = TypeId::New("conf").value();
  e.stream_version = p;
  e.global_position = p;
  e.timestamp = Now();
  e.content_type = std::string(kJsonContentType);
  e.data = R"({"p":)" + std::to_string(p) + "}";
  e.metadata = {{"k", "v"}};
  return e;
}

DeadLetter Letter(std::string_view name, int64_t p) {
  DeadLetter l;
  l.projection = std::string(name);
  l.event = At(p);
  l.error = "Conflict: conformance handler refuses " + std::to_string(p);
  l.attempts = 3;
  l.parked_at = Now();
  return l;
}

std::vector<int64_t> Effects(const ProjectionSinkUnderTest& t) {
  auto e = t.effects();
  EXPECT_TRUE(e.has_value()) << e.error();
  return e.value_or(std::vector<int64_t>{-1});
}

int64_t Position(ProjectionSink& sink, std::string_view name) {
  auto p = sink.LoadPosition(name);
  EXPECT_TRUE(p.has_value()) << p.error();
  return p.value_or(-1);
}

// One unit: Begin, Apply each position (all must succeed), Commit at `commit`.
void Unit(ProjectionSink& sink, std::string_view name, std::vector<int64_t> positions, int64_t commit) {
  ESTORIA_ASSERT_OK(sink.Begin(name));
  for (int64_t p : positions) ESTORIA_ASSERT_OK(sink.Apply(At(p)));
  ESTORIA_ASSERT_OK(sink.Commit(name, commit));
}

TEST_P(ProjectionSinkConformance, AFreshNameHasNoPosition) {
  EXPECT_EQ(Position(*sink_, "balances"), 0);
  EXPECT_THAT(Effects(under_test_), IsEmpty());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto parked, sink_->dead_letters().List("balances"));
  EXPECT_THAT(parked, IsEmpty());
}

TEST_P(ProjectionSinkConformance, CommitStoresTheEffectsAndThePosition) {
  ASSERT_NO_FATAL_FAILURE(Unit(*sink_, "balances", {1, 2, 3}, 3));
  EXPECT_EQ(Position(*sink_, "balances"), 3);
  EXPECT_THAT(Effects(under_test_), ElementsAre(1, 2, 3));
  ASSERT_NO_FATAL_FAILURE(Unit(*sink_, "balances", {4}, 6));  // the checkpoint may pass skipped positions
  EXPECT_EQ(Position(*sink_, "balances"), 6);
  EXPECT_THAT(Effects(under_test_), ElementsAre(1, 2, 3, 4));
  // Positions are kept per name.
  EXPECT_EQ(Position(*sink_, "balances_v2"), 0);
  ASSERT_NO_FATAL_FAILURE(Unit(*sink_, "balances_v2", {5}, 5));
  EXPECT_EQ(Position(*sink_, "balances_v2"), 5);
  EXPECT_EQ(Position(*sink_, "balances"), 6);
  // An empty unit moves the checkpoint only.
  ASSERT_NO_FATAL_FAILURE(Unit(*sink_, "balances", {}, 9));
  EXPECT_EQ(Position(*sink_, "balances"), 9);
  EXPECT_THAT(Effects(under_test_), ElementsAre(1, 2, 3, 4, 5));
}

TEST_P(ProjectionSinkConformance, EffectsAreVisibleAtCommitOrAtOnce) {
  ESTORIA_ASSERT_OK(sink_->Begin("balances"));
  ESTORIA_ASSERT_OK(sink_->Apply(At(1)));
  if (sink_->transactional()) {
    EXPECT_THAT(Effects(under_test_), IsEmpty()) << "a transactional sink's effects are visible only at Commit";
  } else {
    EXPECT_THAT(Effects(under_test_), ElementsAre(1)) << "an at-least-once sink's effects are visible at once";
  }
  ESTORIA_ASSERT_OK(sink_->Commit("balances", 1));
  EXPECT_THAT(Effects(under_test_), ElementsAre(1));
  EXPECT_EQ(Position(*sink_, "balances"), 1);
}

TEST_P(ProjectionSinkConformance, AbortKeepsTheLastCommittedPosition) {
  ASSERT_NO_FATAL_FAILURE(Unit(*sink_, "balances", {1}, 1));
  ESTORIA_ASSERT_OK(sink_->Begin("balances"));
  ESTORIA_ASSERT_OK(sink_->Apply(At(2)));
  ESTORIA_ASSERT_OK(sink_->Park(Letter("balances", 3)));
  sink_->Abort();
  EXPECT_EQ(Position(*sink_, "balances"), 1);
  if (sink_->transactional()) {
    EXPECT_THAT(Effects(under_test_), ElementsAre(1)) << "Abort must roll the unit's effects back";
    EXPECT_THAT(sink_->dead_letters().Get("balances", 3), StatusIs(StatusCode::kNotFound))
        << "Abort must roll the unit's parked events back";
  }
  // The sink takes a new unit after an Abort.
  ASSERT_NO_FATAL_FAILURE(Unit(*sink_, "balances", {2, 3}, 3));
  EXPECT_EQ(Position(*sink_, "balances"), 3);
  auto effects = Effects(under_test_);
  ASSERT_GE(effects.size(), 3u);
  EXPECT_THAT(std::vector<int64_t>(effects.end() - 2, effects.end()), ElementsAre(2, 3));
  if (sink_->transactional()) {
    EXPECT_THAT(effects, ElementsAre(1, 2, 3));
  }
}

TEST_P(ProjectionSinkConformance, AFailedCallIsUndoneAndTheUnitGoesOn) {
  script_->Fail(2);
  ESTORIA_ASSERT_OK(sink_->Begin("balances"));
  ESTORIA_ASSERT_OK(sink_->Apply(At(1)));
  Status failed = sink_->Apply(At(2));
  EXPECT_EQ(failed.code(), StatusCode::kConflict) << failed;  // the handler's status
  EXPECT_THAT(failed.message(), HasSubstr("conformance handler refuses 2"));
  ESTORIA_ASSERT_OK(sink_->Apply(At(3)));
  ESTORIA_ASSERT_OK(sink_->Commit("balances", 3));
  EXPECT_THAT(Effects(under_test_), ElementsAre(1, 3));
  EXPECT_EQ(Position(*sink_, "balances"), 3);
  // Retrying the failed event in a later unit succeeds once the handler does.
  script_->Heal();
  ASSERT_NO_FATAL_FAILURE(Unit(*sink_, "balances", {2}, 3));
  EXPECT_THAT(Effects(under_test_), ElementsAre(1, 3, 2));
}

TEST_P(ProjectionSinkConformance, AThrowingHandlerIsInternalAndUndone) {
  script_->Raise(2);
  ESTORIA_ASSERT_OK(sink_->Begin("balances"));
  ESTORIA_ASSERT_OK(sink_->Apply(At(1)));
  EXPECT_THAT(sink_->Apply(At(2)), StatusIs(StatusCode::kInternal));
  ESTORIA_ASSERT_OK(sink_->Apply(At(3)));
  ESTORIA_ASSERT_OK(sink_->Commit("balances", 3));
  EXPECT_THAT(Effects(under_test_), ElementsAre(1, 3));
  EXPECT_EQ(Position(*sink_, "balances"), 3);
}

TEST_P(ProjectionSinkConformance, ParkIsStoredWithTheUnit) {
  DeadLetter letter = Letter("balances", 2);
  ESTORIA_ASSERT_OK(sink_->Begin("balances"));
  ESTORIA_ASSERT_OK(sink_->Apply(At(1)));
  ESTORIA_ASSERT_OK(sink_->Park(letter));
  if (sink_->transactional()) {
    EXPECT_THAT(sink_->dead_letters().Get("balances", 2), StatusIs(StatusCode::kNotFound))
        << "a transactional sink's parked events are visible only at Commit";
  }
  ESTORIA_ASSERT_OK(sink_->Commit("balances", 2));
  ESTORIA_ASSERT_OK_AND_ASSIGN(DeadLetter parked, sink_->dead_letters().Get("balances", 2));
  EXPECT_EQ(parked.event, letter.event);
  EXPECT_TRUE(parked == letter) << parked.error << " attempts " << parked.attempts;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, sink_->dead_letters().List("balances"));
  EXPECT_EQ(all.size(), 1u);
  EXPECT_EQ(Position(*sink_, "balances"), 2);
  EXPECT_THAT(Effects(under_test_), ElementsAre(1));
}

TEST_P(ProjectionSinkConformance, ReplayAppliesAndDiscards) {
  ESTORIA_ASSERT_OK(sink_->Begin("balances"));
  ESTORIA_ASSERT_OK(sink_->Park(Letter("balances", 2)));
  ESTORIA_ASSERT_OK(sink_->Park(Letter("balances", 4)));
  ESTORIA_ASSERT_OK(sink_->Commit("balances", 4));
  ESTORIA_ASSERT_OK(sink_->Replay("balances", 2));
  EXPECT_THAT(Effects(under_test_), ElementsAre(2));
  EXPECT_THAT(sink_->dead_letters().Get("balances", 2), StatusIs(StatusCode::kNotFound));
  ESTORIA_ASSERT_OK(sink_->dead_letters().Get("balances", 4));
  EXPECT_THAT(sink_->Replay("balances", 2), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(sink_->Replay("balances", 99), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(sink_->Replay("nobody", 4), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(Effects(under_test_), ElementsAre(2));
}

TEST_P(ProjectionSinkConformance, AFailedReplayKeepsTheEventParked) {
  ESTORIA_ASSERT_OK(sink_->Begin("balances"));
  ESTORIA_ASSERT_OK(sink_->Park(Letter("balances", 4)));
  ESTORIA_ASSERT_OK(sink_->Park(Letter("balances", 5)));
  ESTORIA_ASSERT_OK(sink_->Commit("balances", 5));
  script_->Fail(4);
  script_->Raise(5);
  Status failed = sink_->Replay("balances", 4);
  EXPECT_EQ(failed.code(), StatusCode::kConflict) << failed;
  EXPECT_THAT(failed.message(), HasSubstr("conformance handler refuses 4"));
  EXPECT_THAT(sink_->Replay("balances", 5), StatusIs(StatusCode::kInternal));
  ESTORIA_ASSERT_OK(sink_->dead_letters().Get("balances", 4));
  ESTORIA_ASSERT_OK(sink_->dead_letters().Get("balances", 5));
  EXPECT_THAT(Effects(under_test_), IsEmpty());
  // Once the handler succeeds, so does the replay.
  script_->Heal();
  ESTORIA_ASSERT_OK(sink_->Replay("balances", 4));
  ESTORIA_ASSERT_OK(sink_->Replay("balances", 5));
  EXPECT_THAT(Effects(under_test_), ElementsAre(4, 5));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto left, sink_->dead_letters().List("balances"));
  EXPECT_THAT(left, IsEmpty());
  EXPECT_EQ(Position(*sink_, "balances"), 5);
}

TEST_P(ProjectionSinkConformance, ReplayWithTransformsACopyAndKeepsTheStoredEvent) {
  DeadLetter two = Letter("balances", 2);
  ESTORIA_ASSERT_OK(sink_->Begin("balances"));
  ESTORIA_ASSERT_OK(sink_->Park(two));
  ESTORIA_ASSERT_OK(sink_->Park(Letter("balances", 3)));
  ESTORIA_ASSERT_OK(sink_->Commit("balances", 3));
  // The handler sees the transformed copy: it refuses this payload.
  std::vector<std::string> seen;
  Status refused = sink_->ReplayWith("balances", 2, [&](Event& e) {
    seen.push_back(e.data);
    e.data = std::string(kRefusedData);
    return Status::Ok();
  });
  EXPECT_EQ(refused.code(), StatusCode::kConflict) << refused;
  EXPECT_THAT(seen, ElementsAre(two.event.data));  // given the stored event
  // A failing or throwing transform is returned like a handler error.
  EXPECT_THAT(sink_->ReplayWith("balances", 2, [](Event&) { return Status::Corruption("cannot upcast"); }),
              StatusIs(StatusCode::kCorruption));
  EXPECT_THAT(sink_->ReplayWith("balances", 2, [](Event&) -> Status { throw std::runtime_error("step threw"); }),
              StatusIs(StatusCode::kInternal));
  EXPECT_THAT(Effects(under_test_), IsEmpty());
  ESTORIA_ASSERT_OK_AND_ASSIGN(DeadLetter still, sink_->dead_letters().Get("balances", 2));
  EXPECT_EQ(still.event, two.event);  // the dead letter keeps the stored event
  // A transform the handler accepts: applied and discarded; no transform = Replay.
  ESTORIA_ASSERT_OK(sink_->ReplayWith("balances", 2, [](Event& e) {
    e.data = R"({"p":2,"upcast":true})";
    return Status::Ok();
  }));
  ESTORIA_ASSERT_OK(sink_->ReplayWith("balances", 3, nullptr));
  EXPECT_THAT(Effects(under_test_), ElementsAre(2, 3));
  EXPECT_THAT(sink_->ReplayWith("balances", 2, [](Event&) { return Status::Ok(); }), StatusIs(StatusCode::kNotFound));
}

}  // namespace
}  // namespace estoria::testing
