// PlanBatch and AddWrites (see batch_plan.h).
#include "batch_plan.h"

#include "estoria/backend/json_codec.h"
#include "estoria/backend/validation.h"
#include "event_codec.h"
#include "pg_wire.h"
#include "sync_point.h"

namespace estoria::postgres::internal {

using postgres::PgParams;

BatchPlan PlanBatch(std::span<const BatchItem> items, int64_t head, std::map<std::string, PlannedStream> streams,
                    std::unordered_map<Uuid, backend::StoredEventLocation> stored, Timestamp timestamp) {
  BatchPlan plan;
  plan.head = head;
  plan.position = head;
  plan.timestamp = timestamp;
  plan.outcomes.resize(items.size());
  for (size_t b = 0; b < items.size(); ++b) {
    const BatchItem& req = items[b];
    std::vector<std::optional<backend::StoredEventLocation>> where(req.events.size());
    for (size_t i = 0; i < req.events.size(); ++i) {
      if (!req.events[i].id) continue;
      auto it = stored.find(*req.events[i].id);
      if (it != stored.end()) where[i] = it->second;
    }
    Status st = backend::ClassifyStoredIds(*req.stream_id, req.events, *req.options, where);
    PlannedStream& stream = streams[*req.stream_key];
    if (st.ok()) st = backend::CheckExpectation(*req.stream_id, *req.options, stream.exists, stream.version);
    if (!st.ok()) {
      if (st.IsConflict()) ++plan.conflicts;
      plan.outcomes[b] = st;
      continue;
    }
    std::vector<Event> out;
    out.reserve(req.events.size());
    for (const WritableEvent& w : req.events) {
      Event e;
      e.id = TypeId(w.type, w.id.value_or(Uuid::NewV7()));
      e.stream_id = *req.stream_id;
      e.stream_version = ++stream.version;
      e.global_position = ++plan.position;
      e.timestamp = timestamp;
      e.content_type = w.content_type;
      e.data = w.data;
      e.metadata = w.metadata;
      stored[e.id.uuid()] = backend::StoredEventLocation{*req.stream_id, e.stream_version};
      out.push_back(std::move(e));
    }
    if (!stream.exists) stream.first_position = out.front().global_position;
    stream.exists = true;
    stream.touched = true;
    if (plan.probe.IsNil()) plan.probe = out.front().id.uuid();
    ++plan.accepted;
    plan.outcomes[b] = std::move(out);
  }
  plan.streams = std::move(streams);
  return plan;
}

Status AddLogWrites(postgres::PgPipeline& pipeline, const Statements& s, std::span<const Event* const> events,
                    std::span<const int64_t> positions, std::span<const StreamRowWrite> streams, int64_t head,
                    bool notify) {
  using namespace postgres;  // the type OIDs and binary encoders
  std::vector<std::string> pos, sid, ver, eid, etype, ts, ctype, data, meta, stype;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = *events[i];
    pos.push_back(PgBinaryInt64(positions[i]));
    sid.push_back(e.stream_id.ToString());
    ver.push_back(PgBinaryInt64(e.stream_version));
    eid.push_back(PgBinaryUuid(e.id.uuid()));
    etype.push_back(e.id.type());
    ts.push_back(PgBinaryTimestamp(e.timestamp));
    ctype.push_back(e.content_type);
    data.push_back(e.data);
    ESTORIA_ASSIGN_OR_RETURN(std::string json, backend::EncodeMetadataJson(e.metadata));
    meta.push_back(PgBinaryJsonb(json));
    stype.push_back(e.stream_id.type());
  }
  std::vector<std::string> skey, stname, sver, sfirst, slast;
  for (const StreamRowWrite& st : streams) {
    skey.push_back(st.key);
    stname.push_back(st.key.substr(0, st.key.rfind('_')));
    sver.push_back(PgBinaryInt64(st.version));
    sfirst.push_back(PgBinaryInt64(st.first_position));
    slast.push_back(PgBinaryTimestamp(st.last));
  }
  pipeline
      .Add(s.insert_events, PgParams()
                                .Binary(PgBinaryArray(kInt8Oid, pos), kInt8ArrayOid)
                                .Binary(PgBinaryArray(kTextOid, sid), kTextArrayOid)
                                .Binary(PgBinaryArray(kInt8Oid, ver), kInt8ArrayOid)
                                .Binary(PgBinaryArray(kUuidOid, eid), kUuidArrayOid)
                                .Binary(PgBinaryArray(kTextOid, etype), kTextArrayOid)
                                .Binary(PgBinaryArray(kTimestamptzOid, ts), kTimestamptzArrayOid)
                                .Binary(PgBinaryArray(kTextOid, ctype), kTextArrayOid)
                                .Binary(PgBinaryArray(kByteaOid, data), kByteaArrayOid)
                                .Binary(PgBinaryArray(kJsonbOid, meta), kJsonbArrayOid)
                                .Binary(PgBinaryArray(kTextOid, stype), kTextArrayOid))
      .Add(s.upsert_streams, PgParams()
                                 .Binary(PgBinaryArray(kTextOid, skey), kTextArrayOid)
                                 .Binary(PgBinaryArray(kTextOid, stname), kTextArrayOid)
                                 .Binary(PgBinaryArray(kInt8Oid, sver), kInt8ArrayOid)
                                 .Binary(PgBinaryArray(kInt8Oid, sfirst), kInt8ArrayOid)
                                 .Binary(PgBinaryArray(kTimestamptzOid, slast), kTimestamptzArrayOid))
      .Add(s.set_head, PgParams().Int64(head));
  if (notify) AddNotify(pipeline, s, head);
  return Status::Ok();
}

void AddNotify(postgres::PgPipeline& pipeline, const Statements& s, int64_t head) {
  const std::string* channel = &s.notify_channel;
#ifdef ESTORIA_ENABLE_SYNC_POINTS
  // Test builds: a test may send this NOTIFY to another channel (the control
  // of a wake-up test: the commit happens, no listener hears of it).
  std::string test_channel = s.notify_channel;
  ESTORIA_TEST_SYNC_POINT_CALLBACK("PostgresStore::NotifyChannel", &test_channel);
  channel = &test_channel;
#endif
  pipeline.Add(s.notify, PgParams().Text(*channel).Text(std::to_string(head)));
}

Status AddWrites(postgres::PgPipeline& pipeline, const Statements& s, const BatchPlan& plan, bool notify) {
  std::vector<const Event*> events;
  std::vector<int64_t> positions;
  for (const auto& o : plan.outcomes) {
    if (!o->has_value()) continue;
    for (const Event& e : **o) {
      events.push_back(&e);
      positions.push_back(e.global_position);
    }
  }
  std::vector<StreamRowWrite> streams;
  for (const auto& [key, st] : plan.streams) {
    if (st.touched) streams.push_back(StreamRowWrite{key, st.version, st.first_position, plan.timestamp});
  }
  return AddLogWrites(pipeline, s, events, positions, streams, plan.position, notify);
}

}  // namespace estoria::postgres::internal
