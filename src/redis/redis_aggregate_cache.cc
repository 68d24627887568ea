// RedisAggregateCache: AggregateCache entries as Redis hashes, written by a
// compare-and-set Lua script.
#include "estoria/redis/redis_aggregate_cache.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>
#include <mutex>
#include <vector>

#include "estoria/backend/uri.h"

namespace estoria::redis {

namespace {

// KEYS[1] entry; ARGV[1] version, ARGV[2] bytes, ARGV[3] ttl in ms (0 = none).
// 1 when written, 0 when the entry holds a newer version.
constexpr std::string_view kPutScript = R"lua(
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return 1
)lua";

struct ContextFree {
  void operator()(redisContext* c) const {
    if (c != nullptr) redisFree(c);
  }
};
using Connection = std::unique_ptr<redisContext, ContextFree>;
struct ReplyFree {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string EscapeGlob(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  return out;
}

std::string_view ReplyText(const redisReply& r) { return std::string_view(r.str, r.len); }

}  // namespace

struct RedisAggregateCache::Impl {
  explicit Impl(RedisCacheOptions o) : options(std::move(o)) {}

  std::string Key(std::string_view ns, std::string_view key) const {
    std::string k;
    k.reserve(options.key_prefix.size() + ns.size() + key.size() + 2);
    k.append(options.key_prefix).push_back(':');
    k.append(ns).push_back(':');
    k.append(key);
    return k;
  }

  std::string Where() const { return "redis " + options.host + ":" + std::to_string(options.port); }

  Result<Connection> Connect() const {
    Connection c(redisConnectWithTimeout(options.host.c_str(), options.port, ToTimeval(options.connect_timeout)));
    if (!c) return Status::Unavailable(Where() + ": cannot allocate a connection");
    if (c->err != 0) return Status::Unavailable(Where() + ": " + c->errstr);
    if (redisSetTimeout(c.get(), ToTimeval(options.command_timeout)) != REDIS_OK) {
      return Status::Unavailable(Where() + ": cannot set the command timeout");
    }
    if (options.db != 0) {
      std::string db = std::to_string(options.db);
      auto reply = Command(c.get(), {"SELECT", db});
      if (!reply) return reply.error();
      if ((*reply)->type == REDIS_REPLY_ERROR) {
        return Status::Unavailable(Where() + ": SELECT " + db + ": " + std::string(ReplyText(**reply)));
      }
    }
    return c;
  }

  // One command; Unavailable when the connection failed (it is then unusable).
  Result<Reply> Command(redisContext* c, std::initializer_list<std::string_view> args) const {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    Reply r(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!r) return Status::Unavailable(Where() + ": " + (c->err != 0 ? std::string(c->errstr) : "no reply"));
    return r;
  }

  Result<Connection> Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        Connection c = std::move(idle.back());
        idle.pop_back();
        return c;
      }
    }
    return Connect();
  }
  void Release(Connection c) {
    if (c->err != 0) return;  // broken: dropped
    std::lock_guard<std::mutex> lock(mu);
    if (idle.size() < options.max_idle) idle.push_back(std::move(c));
  }

  // Runs one command on a pooled connection.
  Result<Reply> Run(std::initializer_list<std::string_view> args) {
    ESTORIA_ASSIGN_OR_RETURN(auto c, Acquire());
    auto reply = Command(c.get(), args);
    if (reply) Release(std::move(c));
    return reply;
  }

  // A server error reply as a status.
  Status ServerError(std::string_view what, const redisReply& r) const {
    std::string text(ReplyText(r));
    if (text.rfind("WRONGTYPE", 0) == 0) return Status::Corruption(Where() + ": " + std::string(what) + ": " + text);
    return Status::Unavailable(Where() + ": " + std::string(what) + ": " + text);
  }

  const RedisCacheOptions options;
  std::string script_sha;
  std::mutex mu;
  std::vector<Connection> idle;
};

RedisAggregateCache::RedisAggregateCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RedisAggregateCache::~RedisAggregateCache() = default;

const RedisCacheOptions& RedisAggregateCache::options() const { return impl_->options; }

Result<std::shared_ptr<RedisAggregateCache>> RedisAggregateCache::Open(RedisCacheOptions options) {
  if (options.host.empty()) return Status::InvalidArgument("redis cache: empty host");
  if (options.port < 1 || options.port > 65535) return Status::InvalidArgument("redis cache: port out of range");
  if (options.db < 0) return Status::InvalidArgument("redis cache: negative db");
  if (options.connect_timeout.count() <= 0 || options.command_timeout.count() <= 0) {
    return Status::InvalidArgument("redis cache: timeouts must be positive");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  ESTORIA_ASSIGN_OR_RETURN(auto c, impl->Connect());
  ESTORIA_ASSIGN_OR_RETURN(auto reply, impl->Command(c.get(), {"SCRIPT", "LOAD", kPutScript}));
  if (reply->type != REDIS_REPLY_STRING) return impl->ServerError("SCRIPT LOAD", *reply);
  impl->script_sha.assign(ReplyText(*reply));
  impl->Release(std::move(c));
  return std::make_shared<RedisAggregateCache>(std::move(impl));
}

Result<std::shared_ptr<RedisAggregateCache>> RedisAggregateCache::OpenUri(std::string_view uri) {
  ESTORIA_ASSIGN_OR_RETURN(auto parsed, backend::ParseUri(uri));
  if (parsed.scheme != "redis") return Status::InvalidArgument("redis cache: URI scheme must be redis:");
  if (parsed.body.rfind("//", 0) != 0) return Status::InvalidArgument("redis cache: expected redis://host[:port][/db]");
  RedisCacheOptions o;
  std::string_view rest = std::string_view(parsed.body).substr(2);
  std::string_view authority = rest.substr(0, rest.find('/'));
  std::string_view path = authority.size() < rest.size() ? rest.substr(authority.size() + 1) : std::string_view();
  auto parse_int = [](std::string_view s, int* out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos) {
    if (!parse_int(authority.substr(colon + 1), &o.port))
      return Status::InvalidArgument("redis cache: bad port in URI");
    authority = authority.substr(0, colon);
  }
  if (!authority.empty()) o.host = std::string(authority);
  if (!path.empty() && !parse_int(path, &o.db)) return Status::InvalidArgument("redis cache: bad db in URI");
  for (const auto& p : parsed.query) {
    if (p.key == "namespace") {
      if (p.value.empty()) return Status::InvalidArgument("redis: URI option namespace=: expected a key prefix");
      o.key_prefix = p.value;
    } else if (p.key == "connect_timeout_ms") {
      ESTORIA_ASSIGN_OR_RETURN(auto v, backend::UriInteger("redis", p, 1, 3600000));
      o.connect_timeout = std::chrono::milliseconds(v);
    } else if (p.key == "timeout_ms") {
      ESTORIA_ASSIGN_OR_RETURN(auto v, backend::UriInteger("redis", p, 1, 3600000));
      o.command_timeout = std::chrono::milliseconds(v);
    } else {
      return backend::UriUnknownOption("redis", p, "namespace, connect_timeout_ms, timeout_ms");
    }
  }
  return Open(std::move(o));
}

Result<CachedAggregate> RedisAggregateCache::Get(std::string_view ns, std::string_view key) {
  std::string k = impl_->Key(ns, key);
  ESTORIA_ASSIGN_OR_RETURN(auto reply, impl_->Run({"HMGET", k, "v", "d"}));
  if (reply->type == REDIS_REPLY_ERROR) return impl_->ServerError("HMGET", *reply);
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
    return Status::Corruption(impl_->Where() + ": unexpected HMGET reply");
  }
  const redisReply* v = reply->element[0];
  const redisReply* d = reply->element[1];
  if (v->type == REDIS_REPLY_NIL) return Status::NotFound("not cached");
  CachedAggregate out;
  std::string_view vs = ReplyText(*v);
  auto [p, ec] = std::from_chars(vs.data(), vs.data() + vs.size(), out.version);
  if (v->type != REDIS_REPLY_STRING || ec != std::errc() || p != vs.data() + vs.size() ||
      d->type != REDIS_REPLY_STRING) {
    return Status::Corruption(impl_->Where() + ": malformed cache entry " + k);
  }
  out.data.assign(ReplyText(*d));
  return out;
}

Result<bool> RedisAggregateCache::Put(std::string_view ns, std::string_view key, int64_t version, std::string_view data,
                                      std::chrono::milliseconds ttl) {
  if (version < 1) return Status::InvalidArgument("cache put: version must be >= 1");
  if (ttl.count() < 0) return Status::InvalidArgument("cache put: negative ttl");
  std::string k = impl_->Key(ns, key);
  std::string v = std::to_string(version);
  std::string t = std::to_string(ttl.count());
  ESTORIA_ASSIGN_OR_RETURN(auto reply, impl_->Run({"EVALSHA", impl_->script_sha, "1", k, v, data, t}));
  if (reply->type == REDIS_REPLY_ERROR && ReplyText(*reply).rfind("NOSCRIPT", 0) == 0) {
    // The server lost its script cache (restart, SCRIPT FLUSH): EVAL loads it again.
    ESTORIA_ASSIGN_OR_RETURN(reply, impl_->Run({"EVAL", kPutScript, "1", k, v, data, t}));
  }
  if (reply->type == REDIS_REPLY_ERROR) return impl_->ServerError("put", *reply);
  if (reply->type != REDIS_REPLY_INTEGER) return Status::Unavailable(impl_->Where() + ": unexpected put reply");
  return reply->integer == 1;
}

Result<bool> RedisAggregateCache::Delete(std::string_view ns, std::string_view key) {
  ESTORIA_ASSIGN_OR_RETURN(auto reply, impl_->Run({"DEL", impl_->Key(ns, key)}));
  if (reply->type == REDIS_REPLY_ERROR) return impl_->ServerError("DEL", *reply);
  return reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
}

namespace {
// Calls visit(batch reply) for each SCAN batch of keys matching `pattern`.
template <typename Visit>
Status Scan(RedisAggregateCache::Impl& impl, const std::string& pattern, Visit visit) {
  std::string cursor = "0";
  do {
    ESTORIA_ASSIGN_OR_RETURN(auto reply, impl.Run({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}));
    if (reply->type == REDIS_REPLY_ERROR) return impl.ServerError("SCAN", *reply);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || reply->element[1]->type != REDIS_REPLY_ARRAY) {
      return Status::Unavailable(impl.Where() + ": unexpected SCAN reply");
    }
    cursor.assign(ReplyText(*reply->element[0]));
    ESTORIA_RETURN_IF_ERROR(visit(*reply->element[1]));
  } while (cursor != "0");
  return Status::Ok();
}
}  // namespace

Result<int64_t> RedisAggregateCache::Clear(std::string_view ns) {
  int64_t removed = 0;
  std::string pattern = EscapeGlob(impl_->Key(ns, "")) + "*";
  ESTORIA_RETURN_IF_ERROR(Scan(*impl_, pattern, [&](const redisReply& keys) -> Status {
    for (size_t i = 0; i < keys.elements; ++i) {
      ESTORIA_ASSIGN_OR_RETURN(auto reply, impl_->Run({"DEL", ReplyText(*keys.element[i])}));
      if (reply->type == REDIS_REPLY_INTEGER) removed += reply->integer;
    }
    return Status::Ok();
  }));
  return removed;
}

AggregateCacheUsage RedisAggregateCache::Usage(std::string_view ns) {
  AggregateCacheUsage usage;
  std::string pattern = EscapeGlob(impl_->Key(ns, "")) + "*";
  (void)Scan(*impl_, pattern, [&](const redisReply& keys) -> Status {
    usage.size += keys.elements;
    return Status::Ok();
  });
  return usage;
}

}  // namespace estoria::redis
