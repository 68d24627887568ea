// NatsSnapshotStore and NatsCheckpointStore (estoria/nats/nats_stores.h, which
// describes the keys and values). Both sit on Bucket: the stream of a NATS
// key-value bucket, written and read with JetStream requests through
// internal::Client rather than libnats's kvStore_* functions, because those
// read with direct gets on the buckets libnats creates, which a 2.9 cluster may
// answer from a replica that has not applied the caller's last write yet.
#include <algorithm>
#include <charconv>
#include <optional>

#include "estoria/backend/json_codec.h"
#include "estoria/backend/validation.h"
#include "estoria/nats/nats_stores.h"
#include "nats_client.h"

namespace estoria::nats {

using internal::Client;
using internal::StoredMsg;

namespace {

// Longer keys risk the servers' 4 KiB limit on a protocol line (the subject and
// a reply inbox share it).
constexpr size_t kMaxKeyLength = 3000;

bool Literal(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// Every byte outside [A-Za-z0-9_-] as "=XX" (uppercase hex): a valid key token.
std::string EscapeKey(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size());
  for (char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    if (Literal(c)) {
      out.push_back(ch);
    } else {
      out.push_back('=');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

// The inverse of EscapeKey; nullopt for a token EscapeKey never writes.
std::optional<std::string> UnescapeKey(std::string_view key) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (key.empty()) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    if (Literal(static_cast<unsigned char>(key[i]))) {
      out.push_back(key[i]);
      continue;
    }
    if (key[i] != '=' || i + 2 >= key.size()) return std::nullopt;
    const int hi = hex(key[i + 1]), lo = hex(key[i + 2]);
    if (hi < 0 || lo < 0 || Literal(static_cast<unsigned char>(hi * 16 + lo))) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

Status ValidateBucketName(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return Status::InvalidArgument("nats: bucket name must have 1 to 64 characters");
  }
  for (char c : name) {
    if (!Literal(static_cast<unsigned char>(c))) {
      return Status::InvalidArgument("nats: bucket name \"" + name + "\" may hold only letters, digits, '-' and '_'");
    }
  }
  return Status::Ok();
}

// A NATS key-value bucket B: the stream KV_B, the value of key K the last
// message on subject $KV.B.K (its revision is the message's sequence).
class Bucket {
 public:
  static Result<std::unique_ptr<Bucket>> Open(const std::vector<std::string>& servers, const std::string& name,
                                              int replicas, std::chrono::milliseconds timeout) {
    if (servers.empty()) return Status::InvalidArgument("nats: no servers given");
    ESTORIA_RETURN_IF_ERROR(ValidateBucketName(name));
    if (replicas < 1 || replicas > 5) {
      return Status::InvalidArgument("nats: replicas must be 1 to 5, not " + std::to_string(replicas));
    }
    if (timeout.count() <= 0) return Status::InvalidArgument("nats: timeout must be positive");
    auto bucket = std::unique_ptr<Bucket>(new Bucket(name));
    ESTORIA_ASSIGN_OR_RETURN(bucket->client_, Client::Connect(servers, timeout));
    // What a KV client creates (history 1), except for direct gets.
    const backend::JsonValue cfg = {{"name", bucket->stream_},
                                    {"subjects", backend::JsonValue::array({bucket->prefix_ + ">"})},
                                    {"retention", "limits"},
                                    {"storage", "file"},
                                    {"num_replicas", replicas},
                                    {"max_msgs_per_subject", 1},
                                    {"max_msgs", -1},
                                    {"max_bytes", -1},
                                    {"max_age", 0},
                                    {"max_msg_size", -1},
                                    {"discard", "new"},
                                    {"duplicate_window", int64_t{120} * 1000 * 1000 * 1000},
                                    {"allow_rollup_hdrs", true},
                                    {"deny_delete", false},
                                    {"deny_purge", false},
                                    {"allow_direct", false}};
    ESTORIA_RETURN_IF_ERROR(bucket->client_->EnsureStream(cfg));
    return bucket;
  }

  const std::string& name() const { return name_; }
  int64_t max_payload() const { return client_->max_payload(); }

  // The key's value; nullopt when it has none or its last entry is another KV
  // client's delete or purge marker.
  Result<std::optional<StoredMsg>> Get(const std::string& key) {
    ESTORIA_ASSIGN_OR_RETURN(auto m, client_->GetMsg(stream_, 0, "", prefix_ + key));
    if (m.has_value()) {
      const std::string* op = m->Header("KV-Operation");
      if (op != nullptr && (*op == "DEL" || *op == "PURGE")) return std::optional<StoredMsg>();
    }
    return m;
  }

  Status Put(const std::string& key, const std::string& value) {
    ESTORIA_ASSIGN_OR_RETURN(auto ack, client_->Publish(prefix_ + key, {}, value));
    if (ack.err_code != 0) {
      return Status::Unavailable("nats: put of " + key + " in bucket " + name_ + " refused: " + ack.error);
    }
    return Status::Ok();
  }

  // The keys matching `pattern` (NATS wildcards) that hold a message.
  Result<std::vector<std::string>> Keys(const std::string& pattern) {
    ESTORIA_ASSIGN_OR_RETURN(auto info, client_->Info(stream_, prefix_ + pattern));
    std::vector<std::string> out;
    out.reserve(info.subjects.size());
    for (auto& subject : info.subjects) {
      if (subject.starts_with(prefix_)) out.push_back(subject.substr(prefix_.size()));
    }
    return out;
  }

  // Removes the messages of the keys matching `pattern` with revisions below
  // `below` (all when 0), message by message (Client::DeleteMsg says why not
  // a purge). How many this call removed.
  Result<uint64_t> Purge(const std::string& pattern, uint64_t below) {
    uint64_t removed = 0;
    uint64_t q = 1;
    while (true) {
      ESTORIA_ASSIGN_OR_RETURN(auto m, client_->GetMsg(stream_, q, prefix_ + pattern, ""));
      if (!m.has_value() || (below > 0 && m->seq >= below)) break;
      ESTORIA_ASSIGN_OR_RETURN(bool gone, client_->DeleteMsg(stream_, m->seq));
      removed += gone ? 1 : 0;
      q = m->seq + 1;
    }
    return removed;
  }

 private:
  explicit Bucket(const std::string& name) : name_(name), stream_("KV_" + name), prefix_("$KV." + name + ".") {}
  std::string name_;
  std::string stream_;  // "KV_<bucket>"
  std::string prefix_;  // "$KV.<bucket>."
  std::unique_ptr<Client> client_;
};

// --- snapshots: key <escaped aggregate id>.<version>, binary value.

constexpr std::string_view kSnapshotMagic = "ESS1";

void PutFixed(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool GetFixed(std::string_view& in, int bytes, uint64_t& v) {
  if (in.size() < static_cast<size_t>(bytes)) return false;
  v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(static_cast<size_t>(bytes));
  return true;
}

bool GetBytes(std::string_view& in, std::string& out) {
  uint64_t n = 0;
  if (!GetFixed(in, 4, n) || n > in.size()) return false;
  out.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

std::string EncodeSnapshot(const Snapshot& s) {
  const std::string id = s.aggregate_id.ToString();
  std::string out(kSnapshotMagic);
  out.reserve(out.size() + 32 + id.size() + s.content_type.size() + s.data.size());
  PutFixed(out, static_cast<uint64_t>(s.version), 8);
  PutFixed(out, static_cast<uint64_t>(s.timestamp.time_since_epoch().count()), 8);
  PutFixed(out, static_cast<uint32_t>(s.schema_version), 4);
  PutFixed(out, id.size(), 4);
  out += id;
  PutFixed(out, s.content_type.size(), 4);
  out += s.content_type;
  out += s.data;
  return out;
}

// The snapshot in `m`, which must be of `id` at `version` (its key).
Result<Snapshot> DecodeSnapshot(const StoredMsg& m, const TypeId& id, int64_t version) {
  std::string_view in = m.data;
  Snapshot s;
  uint64_t v = 0, micros = 0, schema = 0;
  std::string id_text;
  if (in.starts_with(kSnapshotMagic)) {
    in.remove_prefix(kSnapshotMagic.size());
    if (GetFixed(in, 8, v) && GetFixed(in, 8, micros) && GetFixed(in, 4, schema) && GetBytes(in, id_text) &&
        GetBytes(in, s.content_type) && static_cast<int64_t>(v) == version && id_text == id.ToString()) {
      s.aggregate_id = id;
      s.version = version;
      s.timestamp = Timestamp(std::chrono::microseconds(static_cast<int64_t>(micros)));
      s.schema_version = static_cast<int32_t>(static_cast<uint32_t>(schema));
      s.data.assign(in);
      return s;
    }
  }
  return Status::Corruption("nats: " + m.subject + " (revision " + std::to_string(m.seq) +
                            ") does not hold a snapshot of " + id.ToString() + " version " + std::to_string(version));
}

std::string AggregateToken(const TypeId& id) { return EscapeKey(id.ToString()); }

std::string SnapshotKey(const TypeId& id, int64_t version) {
  return AggregateToken(id) + "." + std::to_string(version);
}

Status ValidateAggregateId(const TypeId& id) {
  Status st = TypeId::ValidateTypeName(id.type());
  return st.ok() ? st : st.WithContext("invalid aggregate id");
}

// --- checkpoints: key <escaped name>, JSON value.

Result<std::string> CheckpointKey(std::string_view name, int64_t position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateCheckpoint(name, position));
  std::string key = EscapeKey(name);
  if (key.size() > kMaxKeyLength) {
    return Status::InvalidArgument("checkpoint name too long: its NATS key would have " + std::to_string(key.size()) +
                                   " characters (at most " + std::to_string(kMaxKeyLength) + ")");
  }
  return key;
}

Result<Checkpoint> DecodeCheckpoint(std::string name, const StoredMsg& m) {
  auto j = backend::JsonValue::parse(m.data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded() && j.is_object() && j.contains("position") && j["position"].is_number_integer() &&
      j.contains("updated_at_us") && j["updated_at_us"].is_number_integer()) {
    Checkpoint c;
    c.name = std::move(name);
    c.position = j["position"].get<int64_t>();
    c.updated_at = Timestamp(std::chrono::microseconds(j["updated_at_us"].get<int64_t>()));
    if (c.position >= 0) return c;
  }
  return Status::Corruption("nats: " + m.subject + " (revision " + std::to_string(m.seq) +
                            ") does not hold a checkpoint");
}

}  // namespace

struct NatsSnapshotStore::Impl {
  std::unique_ptr<Bucket> bucket;
  SnapshotRetention retention;

  // The aggregate's versions from its key names, ascending. A key that is not
  // <token>.<version> is Corruption, or skipped when `skip_foreign`.
  Result<std::vector<int64_t>> Versions(const TypeId& id, bool skip_foreign) {
    const std::string token = AggregateToken(id);
    ESTORIA_ASSIGN_OR_RETURN(auto keys, bucket->Keys(token + ".*"));
    std::vector<int64_t> out;
    out.reserve(keys.size());
    for (const auto& key : keys) {
      const std::string_view digits = std::string_view(key).substr(token.size() + 1);
      int64_t v = 0;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
      if (ec == std::errc() && end == digits.data() + digits.size() && v >= 1 && digits == std::to_string(v)) {
        out.push_back(v);
      } else if (!skip_foreign) {
        return Status::Corruption("nats: key " + key + " in bucket " + bucket->name() +
                                  " is not a snapshot version of " + id.ToString());
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

NatsSnapshotStore::NatsSnapshotStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NatsSnapshotStore::~NatsSnapshotStore() = default;

Result<std::shared_ptr<NatsSnapshotStore>> NatsSnapshotStore::Open(NatsSnapshotStoreOptions options) {
  if (options.retention.keep_last < 0) {
    return Status::InvalidArgument("SnapshotRetention.keep_last must not be negative");
  }
  auto impl = std::make_unique<Impl>();
  ESTORIA_ASSIGN_OR_RETURN(impl->bucket,
                           Bucket::Open(options.servers, options.bucket, options.replicas, options.timeout));
  impl->retention = options.retention;
  return std::shared_ptr<NatsSnapshotStore>(new NatsSnapshotStore(std::move(impl)));
}

Status NatsSnapshotStore::Save(const Snapshot& snapshot) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateSnapshot(snapshot));
  Impl& s = *impl_;
  const std::string value = EncodeSnapshot(snapshot);
  if (static_cast<int64_t>(value.size()) > s.bucket->max_payload()) {
    return Status::InvalidArgument("nats: snapshot of " + std::to_string(value.size()) +
                                   " bytes exceeds the server's max_payload of " +
                                   std::to_string(s.bucket->max_payload()) + " bytes");
  }
  ESTORIA_RETURN_IF_ERROR(s.bucket->Put(SnapshotKey(snapshot.aggregate_id, snapshot.version), value));
  if (s.retention.keep_last == 0) return Status::Ok();
  // Every version purged here has keep_last newer ones listed with it, so
  // concurrent savers of one aggregate never purge one of the newest.
  ESTORIA_ASSIGN_OR_RETURN(auto versions, s.Versions(snapshot.aggregate_id, /*skip_foreign=*/true));
  const auto excess = static_cast<int64_t>(versions.size()) - s.retention.keep_last;
  for (int64_t i = 0; i < excess; ++i) {
    ESTORIA_RETURN_IF_ERROR(s.bucket->Purge(SnapshotKey(snapshot.aggregate_id, versions[i]), 0).status());
  }
  return Status::Ok();
}

Result<Snapshot> NatsSnapshotStore::Load(const TypeId& aggregate_id, int64_t max_version) {
  if (max_version < 0) return Status::InvalidArgument("snapshot Load: negative max_version");
  ESTORIA_RETURN_IF_ERROR(ValidateAggregateId(aggregate_id));
  Impl& s = *impl_;
  ESTORIA_ASSIGN_OR_RETURN(auto versions, s.Versions(aggregate_id, /*skip_foreign=*/false));
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (max_version > 0 && *it > max_version) continue;
    ESTORIA_ASSIGN_OR_RETURN(auto m, s.bucket->Get(SnapshotKey(aggregate_id, *it)));
    if (!m.has_value()) continue;  // purged since listed: the next older one is the newest now
    return DecodeSnapshot(*m, aggregate_id, *it);
  }
  return Status::NotFound("no snapshot of " + aggregate_id.ToString() +
                          (max_version > 0 ? " at or below version " + std::to_string(max_version) : std::string()));
}

Result<std::vector<int64_t>> NatsSnapshotStore::ListVersions(const TypeId& aggregate_id) {
  ESTORIA_RETURN_IF_ERROR(ValidateAggregateId(aggregate_id));
  return impl_->Versions(aggregate_id, /*skip_foreign=*/false);
}

Status NatsSnapshotStore::DeleteBelow(const TypeId& aggregate_id, int64_t below_version) {
  if (below_version < 0) return Status::InvalidArgument("snapshot DeleteBelow: negative version");
  ESTORIA_RETURN_IF_ERROR(ValidateAggregateId(aggregate_id));
  Impl& s = *impl_;
  if (below_version == 0) return s.bucket->Purge(AggregateToken(aggregate_id) + ".*", 0).status();
  ESTORIA_ASSIGN_OR_RETURN(auto versions, s.Versions(aggregate_id, /*skip_foreign=*/true));
  for (int64_t v : versions) {
    if (v >= below_version) break;
    ESTORIA_RETURN_IF_ERROR(s.bucket->Purge(SnapshotKey(aggregate_id, v), 0).status());
  }
  return Status::Ok();
}

struct NatsCheckpointStore::Impl {
  std::unique_ptr<Bucket> bucket;
};

NatsCheckpointStore::NatsCheckpointStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NatsCheckpointStore::~NatsCheckpointStore() = default;

Result<std::shared_ptr<NatsCheckpointStore>> NatsCheckpointStore::Open(NatsCheckpointStoreOptions options) {
  auto impl = std::make_unique<Impl>();
  ESTORIA_ASSIGN_OR_RETURN(impl->bucket,
                           Bucket::Open(options.servers, options.bucket, options.replicas, options.timeout));
  return std::shared_ptr<NatsCheckpointStore>(new NatsCheckpointStore(std::move(impl)));
}

Result<int64_t> NatsCheckpointStore::Load(std::string_view name) {
  ESTORIA_ASSIGN_OR_RETURN(std::string key, CheckpointKey(name, 0));
  ESTORIA_ASSIGN_OR_RETURN(auto m, impl_->bucket->Get(key));
  if (!m.has_value()) return int64_t{0};
  ESTORIA_ASSIGN_OR_RETURN(Checkpoint c, DecodeCheckpoint(std::string(name), *m));
  return c.position;
}

Status NatsCheckpointStore::Save(std::string_view name, int64_t position) {
  ESTORIA_ASSIGN_OR_RETURN(std::string key, CheckpointKey(name, position));
  const backend::JsonValue value = {{"position", position}, {"updated_at_us", Now().time_since_epoch().count()}};
  return impl_->bucket->Put(key, value.dump());
}

Result<std::vector<Checkpoint>> NatsCheckpointStore::List() {
  Bucket& bucket = *impl_->bucket;
  ESTORIA_ASSIGN_OR_RETURN(auto keys, bucket.Keys(">"));
  std::vector<Checkpoint> out;
  out.reserve(keys.size());
  for (const auto& key : keys) {
    std::optional<std::string> name = UnescapeKey(key);
    if (!name.has_value()) {
      return Status::Corruption("nats: key " + key + " in bucket " + bucket.name() + " is not a checkpoint name");
    }
    ESTORIA_ASSIGN_OR_RETURN(auto m, bucket.Get(key));
    if (!m.has_value()) continue;  // deleted since listed
    ESTORIA_ASSIGN_OR_RETURN(Checkpoint c, DecodeCheckpoint(std::move(*name), *m));
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const Checkpoint& a, const Checkpoint& b) { return a.name < b.name; });
  return out;
}

Status NatsCheckpointStore::Delete(std::string_view name) {
  ESTORIA_ASSIGN_OR_RETURN(std::string key, CheckpointKey(name, 0));
  Bucket& bucket = *impl_->bucket;
  // Purge up to the revision read: if another writer changed the key since, the
  // purge takes nothing and the key is read again.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    ESTORIA_ASSIGN_OR_RETURN(auto m, bucket.Get(key));
    if (!m.has_value()) return Status::NotFound("no checkpoint named " + std::string(name));
    ESTORIA_ASSIGN_OR_RETURN(uint64_t purged, bucket.Purge(key, m->seq + 1));
    if (purged > 0) return Status::Ok();
  }
  return Status::Unavailable("nats: delete of checkpoint " + std::string(name) + " kept racing with other writers");
}

}  // namespace estoria::nats
