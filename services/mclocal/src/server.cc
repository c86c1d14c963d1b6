#define _TURN_OFF_PLATFORM_STRING  // cpprest's U() macro clashes with other code
#include "mclocal/server.h"

#include <cpprest/json.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "mclocal/render.h"
#include "mclocal/sql_executor.h"
#include "mclocal/xml.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/maxcompute/compression.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/maxcompute/wire_format.h"
#include "mcsink/maxcompute_client/signing.h"
#include "mcsink/maxcompute_client/sts.h"
#include "mcsink/maxcompute_client/url.h"
#include "prometheus/text_serializer.h"

namespace mclocal {
namespace fs = std::filesystem;
namespace mc = mcsink::maxcompute;
namespace mcc = mcsink::maxcompute_client;
using json = web::json::value;

namespace {

constexpr int64_t kMaxBlockId = 20000;  // block ids are 0..19999 (protocol §6)

std::string Lower(std::string_view s) {
  return absl::AsciiStrToLower(absl::string_view(s.data(), s.size()));
}

std::string RandomHex(int n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string out(static_cast<size_t>(n), '0');
  for (auto& c : out) c = kHex[rng() % 16];
  return out;
}

std::string NewId() {
  return absl::StrCat(absl::FormatTime("%Y%m%d%H%M%S", absl::Now(), absl::UTCTimeZone()),
                      RandomHex(16));
}

std::string HttpDate(absl::Time t) { return mcc::FormatHttpDate(t); }

json SchemaColumnsJson(const std::vector<mc::Column>& cols, bool tunnel_style, int first_id) {
  json arr = json::array();
  for (size_t i = 0; i < cols.size(); ++i) {
    json c = json::object();
    c["name"] = json::string(cols[i].name);
    c["type"] = json::string(Lower(cols[i].type.ToString()));
    c["comment"] = json::string("");
    if (tunnel_style) {
      c["nullable"] = json::boolean(cols[i].nullable);
      c["column_id"] = json::string(absl::StrCat(first_id + static_cast<int>(i)));
      c["default_value"] = json::null();
    } else {
      c["isNullable"] = json::boolean(cols[i].nullable);
      c["label"] = json::string("");
      c["extendedLabels"] = json::array();
    }
    arr[i] = c;
  }
  return arr;
}

json TunnelSchemaJson(const mc::TableSchema& schema) {
  json s = json::object();
  s["columns"] = SchemaColumnsJson(schema.columns, true, 0);
  s["partitionKeys"] =
      SchemaColumnsJson(schema.partition_columns, true, static_cast<int>(schema.columns.size()));
  s["IsVirtualView"] = json::boolean(false);
  return s;
}

int HttpStatusOf(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kDataLoss:
      return 400;
    case absl::StatusCode::kResourceExhausted:
      return 413;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

// What a request is, for metrics and fault rules.
struct Route {
  std::string kind = "other";
  bool tunnel = false;
};

}  // namespace

absl::StatusOr<std::vector<AccessKey>> ParseKeysFile(std::string_view content,
                                                     std::string_view source) {
  std::vector<AccessKey> keys;
  int line_no = 0;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(content.data(), content.size()), '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() < 2 || f.size() > 3) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(source), ":", line_no,
                       ": expected '<access key id> <secret> [<security token>]'"));
    }
    keys.push_back(AccessKey{f[0], f[1], f.size() == 3 ? f[2] : "", std::nullopt});
  }
  return keys;
}

struct UploadBlock {
  fs::path path;
  int64_t records = 0;
  int64_t bytes = 0;
  int64_t create_time = 0;
};

struct UploadSession {
  std::string id;
  std::string project, table;
  PartitionSpec spec;
  mc::TableSchema schema;
  bool overwrite = false;
  absl::Time created;
  std::mutex mu;
  std::map<int64_t, UploadBlock> blocks;
  std::string status = "normal";
};

struct DownloadSession {
  std::string id;
  std::string project, table;
  PartitionSpec spec;
  mc::TableSchema schema;
  fs::path dir;
  std::vector<DataFile> files;  // snapshot at creation
  int64_t records = 0;
  absl::Time created;
};

struct StreamSession {
  std::string id;
  absl::Time created;
  std::string project, table;
  PartitionSpec spec;
  mc::TableSchema schema;
  std::atomic<int64_t> packs{0};
};

struct Instance {
  std::string id;
  std::string project;
  std::string task_name = "AnonymousSQLTask";
  std::string job_xml;
  absl::Time start, end;
  bool success = false;
  std::string result;  // text, CSV or the error message
  std::string format = "text";
  std::vector<std::string> column_types;
};

struct Server::Impl {
  ServerOptions options;
  std::unique_ptr<Storage> storage;
  std::unique_ptr<SqlExecutor> sql_executor;
  FaultInjector* faults = nullptr;
  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Histogram>* latency = nullptr;
  prometheus::Counter* rows_uploaded = nullptr;
  prometheus::Counter* rows_committed = nullptr;
  prometheus::Counter* rows_downloaded = nullptr;
  prometheus::Counter* commits = nullptr;

  std::mutex mu;  // the maps below (each session has its own lock)
  std::string advertised;
  std::map<std::string, std::shared_ptr<UploadSession>> uploads;
  std::map<std::string, std::shared_ptr<DownloadSession>> downloads;
  std::map<std::string, std::shared_ptr<StreamSession>> streams;
  std::map<std::string, std::shared_ptr<Instance>> instances;
  std::map<std::string, AccessKey> sts_keys;  // issued by AssumeRole

  // ---- request plumbing ----
  struct Ctx {
    HttpRequest& req;
    std::string request_id;
    std::string path;        // decoded, /api stripped
    mcc::QueryParams query;  // decoded
    Route route;
    std::vector<std::string> segs;

    bool Has(std::string_view name) const {
      for (const auto& [k, v] : query) {
        if (k == name) return true;
      }
      return false;
    }
    std::string Param(std::string_view name) const {
      for (const auto& [k, v] : query) {
        if (k == name) return v;
      }
      return "";
    }
  };

  HttpResponse Error(const Ctx& ctx, int status, absl::string_view code_view,
                     absl::string_view message_view) {
    const std::string code(code_view), message(message_view);
    HttpResponse r;
    r.status = status;
    if (ctx.route.tunnel) {
      json body = json::object();
      body["Code"] = json::string(code);
      body["Message"] = json::string(message);
      body["RequestId"] = json::string(ctx.request_id);
      r.body = body.serialize();
      r.SetHeader("Content-Type", "application/json");
    } else {
      r.body =
          absl::StrCat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>", XmlEscape(code),
                       "</Code><Message>", XmlEscape(message), "</Message><RequestId>",
                       ctx.request_id, "</RequestId><HostId>mclocal</HostId></Error>");
      r.SetHeader("Content-Type", "application/xml");
    }
    return r;
  }
  HttpResponse StatusError(const Ctx& ctx, const absl::Status& st,
                           absl::string_view not_found_code) {
    std::string code = "InvalidArgument";
    switch (st.code()) {
      case absl::StatusCode::kNotFound:
        code = std::string(not_found_code);
        break;
      case absl::StatusCode::kAlreadyExists:
        code = "ObjectAlreadyExists";
        break;
      case absl::StatusCode::kDataLoss:
        code = "MalformedDataStream";
        break;
      case absl::StatusCode::kResourceExhausted:
        code = "DataExceedsLimit";
        break;
      case absl::StatusCode::kFailedPrecondition:
        code = "StatusConflict";
        break;
      case absl::StatusCode::kInternal:
      case absl::StatusCode::kUnknown:
        code = "InternalServerError";
        break;
      default:
        break;
    }
    return Error(ctx, HttpStatusOf(st), code, st.message());
  }
  static HttpResponse Xml(std::string body, int status = 200) {
    HttpResponse r;
    r.status = status;
    r.body = absl::StrCat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", body);
    r.SetHeader("Content-Type", "application/xml");
    return r;
  }
  static HttpResponse Json(const json& body, int status = 200) {
    HttpResponse r;
    r.status = status;
    r.body = body.serialize();
    r.SetHeader("Content-Type", "application/json");
    return r;
  }

  Route Classify(const std::string& method, const std::vector<std::string>& segs,
                 const std::vector<std::pair<std::string, std::string>>& q) const {
    auto has = [&](std::string_view n) {
      return std::any_of(q.begin(), q.end(), [&](const auto& kv) { return kv.first == n; });
    };
    Route r;
    if (segs.empty()) {
      r.kind = "sts";
      return r;
    }
    if (segs[0] == "admin" || (segs.size() == 1 && segs[0] == "metrics")) {
      r.kind = "admin";
      return r;
    }
    const size_t n = segs.size();
    if (n >= 3 && segs[n - 1] == "streams") {
      r.tunnel = true;
      r.kind = method == "PUT"                        ? "stream_write"
               : method == "POST" && !has("uploadid") ? "create_stream"
                                                      : "stream";
      return r;
    }
    if (has("uploads")) return {"create_upload", true};
    if (has("uploadid")) {
      if (method == "PUT") return {"put_block", true};
      if (method == "POST") return {"commit", true};
      return {"get_upload", true};
    }
    if (has("downloads")) return {"create_download", true};
    if (has("downloadid")) return {has("data") ? "read" : "get_download", true};
    if (n >= 3 && segs[2] == "instances") {
      r.kind = method == "POST" ? "sql" : "instance";
      return r;
    }
    r.kind = "rest";
    return r;
  }

  // ---- auth ----
  std::optional<AccessKey> FindKey(const std::string& id) {
    for (const auto& k : options.keys) {
      if (k.id == id) return k;
    }
    std::lock_guard lock(mu);
    auto it = sts_keys.find(id);
    if (it != sts_keys.end()) return it->second;
    return std::nullopt;
  }

  std::optional<HttpResponse> Authenticate(const Ctx& ctx) {
    if (options.auth == AuthMode::kPermissive) return std::nullopt;
    const HttpRequest& req = ctx.req;
    mcc::Headers headers(req.headers.begin(), req.headers.end());
    const auto auth_header = req.Header("Authorization");
    if (!auth_header) {
      return Error(ctx, 401, "Unauthorized", "the request has no Authorization header");
    }
    auto parsed = mcc::ParseAuthorization(*auth_header);
    if (!parsed.ok()) return Error(ctx, 401, "Unauthorized", parsed.status().message());
    const auto date_header = req.Header("Date");
    if (!date_header) return Error(ctx, 403, "AuthenticationRequestExpired", "missing Date header");
    auto date = mcc::ParseHttpDate(*date_header);
    if (!date.ok()) {
      return Error(ctx, 403, "AuthenticationRequestExpired",
                   absl::StrCat("unparsable Date header: ", date.status().message()));
    }
    const absl::Duration skew = absl::AbsDuration(absl::Now() - *date);
    if (skew > options.max_clock_skew) {
      return Error(ctx, 403, "AuthenticationRequestExpired",
                   absl::StrCat("request Date ", std::string(*date_header), " is ",
                                absl::FormatDuration(skew), " away from the server clock (limit ",
                                absl::FormatDuration(options.max_clock_skew), ")"));
    }
    if (parsed->v4_scope && parsed->v4_scope->date != mcc::FormatScopeDate(*date)) {
      return Error(ctx, 403, "SignatureNotMatch",
                   "the V4 credential date does not match the Date header's UTC day");
    }
    auto key = FindKey(parsed->access_key_id);
    if (!key) {
      return Error(ctx, 403, "InvalidAccessKeyId",
                   absl::StrCat("access key id '", parsed->access_key_id, "' is not known"));
    }
    if (!key->security_token.empty()) {
      const auto token = req.Header(mcc::kStsTokenHeader);
      if (!token || *token != key->security_token) {
        return Error(ctx, 403, "InvalidSecurityToken",
                     "authorization-sts-token is missing or does not match the access key");
      }
      if (key->expiration && absl::Now() > *key->expiration) {
        return Error(ctx, 403, "SecurityTokenExpired", "the STS credentials have expired");
      }
    }
    const std::string canonical =
        mcc::BuildCanonicalString(req.method, ctx.path, ctx.query, headers);
    const std::string expected = mcc::ComputeSignature(canonical, key->secret, parsed->v4_scope);
    if (!mcc::SignaturesEqual(expected, parsed->signature)) {
      // The canonical string holds no secret; it is what a client's debug log shows to compare.
      MCSINK_LOG(DEBUG) << "signature mismatch for " << parsed->access_key_id
                        << "; canonical string:\n"
                        << canonical;
      return Error(ctx, 403, "SignatureNotMatch",
                   "the request signature does not match; check the access key secret");
    }
    return std::nullopt;
  }

  // ---- STS AssumeRole ----
  HttpResponse AssumeRole(const Ctx& ctx) {
    mcc::QueryParams params = ctx.query;
    if (ctx.req.method == "POST" && !ctx.req.body.empty()) {
      auto form = mcc::ParseQueryString(ctx.req.body);  // form encoding, as the query
      if (form.ok()) params.insert(params.end(), form->begin(), form->end());
    }
    auto get = [&](std::string_view n) -> std::string {
      for (const auto& [k, v] : params) {
        if (k == n) return v;
      }
      return "";
    };
    Ctx sts_ctx = ctx;
    sts_ctx.route.tunnel = true;  // STS answers JSON
    if (get("Action") != "AssumeRole") {
      return Error(sts_ctx, 400, "InvalidAction.NotFound",
                   "only Action=AssumeRole is served at this path");
    }
    const std::string role_arn = get("RoleArn");
    if (auto st = mcc::ValidateRoleArn(role_arn); !st.ok()) {
      return Error(sts_ctx, 400, "InvalidParameter.RoleArn", st.message());
    }
    if (options.auth == AuthMode::kStrict) {
      auto key = FindKey(get("AccessKeyId"));
      if (!key) {
        return Error(sts_ctx, 404, "InvalidAccessKeyId.NotFound",
                     "Specified access key is not found.");
      }
      mcc::QueryParams unsigned_params;
      for (const auto& kv : params) {
        if (kv.first != "Signature") unsigned_params.push_back(kv);
      }
      const std::string expected = mcc::PopSignature(ctx.req.method, unsigned_params, key->secret);
      if (!mcc::SignaturesEqual(expected, get("Signature"))) {
        return Error(sts_ctx, 400, "SignatureDoesNotMatch",
                     "Specified signature is not matched with our calculation.");
      }
    }
    int64_t seconds = absl::ToInt64Seconds(options.sts_duration);
    if (!get("DurationSeconds").empty() && !absl::SimpleAtoi(get("DurationSeconds"), &seconds)) {
      return Error(sts_ctx, 400, "InvalidParameter.DurationSeconds",
                   "DurationSeconds is not a number");
    }
    AccessKey key{absl::StrCat("STS.", RandomHex(24)), RandomHex(40), RandomHex(64),
                  absl::Now() + absl::Seconds(seconds)};
    {
      std::lock_guard lock(mu);
      sts_keys[key.id] = key;
    }
    json creds = json::object();
    creds["AccessKeyId"] = json::string(key.id);
    creds["AccessKeySecret"] = json::string(key.secret);
    creds["SecurityToken"] = json::string(key.security_token);
    creds["Expiration"] =
        json::string(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *key.expiration, absl::UTCTimeZone()));
    json user = json::object();
    user["Arn"] = json::string(absl::StrCat(role_arn, "/", get("RoleSessionName")));
    user["AssumedRoleId"] = json::string(absl::StrCat(RandomHex(18), ":", get("RoleSessionName")));
    json body = json::object();
    body["RequestId"] = json::string(ctx.request_id);
    body["AssumedRoleUser"] = user;
    body["Credentials"] = creds;
    return Json(body);
  }

  // ---- metadata ----
  std::string TableXml(const TableInfo& t) {
    int64_t records = 0, bytes = 0, modified = t.create_time;
    std::vector<PartitionInfo> parts;
    if (t.schema.partition_columns.empty()) {
      auto p = storage->GetPartition(t.project, t.name, {});
      if (p.ok()) parts.push_back(*p);
    } else if (auto ps = storage->ListPartitions(t.project, t.name); ps.ok()) {
      parts = *ps;
    }
    for (const auto& p : parts) {
      records += p.RecordCount();
      bytes += p.ByteSize();
      modified = std::max(modified, p.modified_time);
    }
    json s = json::object();
    s["tableName"] = json::string(t.name);
    s["comment"] = json::string(t.comment);
    s["owner"] = json::string("ALIYUN$mclocal");
    s["createTime"] = json::number(t.create_time);
    s["lastDDLTime"] = json::number(t.create_time);
    s["lastModifiedTime"] = json::number(modified);
    s["lastAccessTime"] = json::number(modified);
    s["lifecycle"] = json::number(t.lifecycle);
    s["size"] = json::number(bytes);
    s["recordNum"] = json::number(records);
    s["isVirtualView"] = json::boolean(false);
    s["isExternal"] = json::boolean(false);
    s["columns"] = SchemaColumnsJson(t.schema.columns, false, 0);
    s["partitionKeys"] = SchemaColumnsJson(t.schema.partition_columns, false, 0);
    json reserved = json::object();
    reserved["Transactional"] = json::string("false");
    s["Reserved"] = json::string(reserved.serialize());
    return absl::StrCat("<Table><Name>", XmlEscape(t.name), "</Name><TableId>", XmlEscape(t.name),
                        "</TableId><Comment>", XmlEscape(t.comment),
                        "</Comment><Owner>ALIYUN$mclocal</Owner><Project>", XmlEscape(t.project),
                        "</Project><SchemaName>default</SchemaName><CreationTime>",
                        HttpDate(absl::FromUnixSeconds(t.create_time)),
                        "</CreationTime><LastModifiedTime>",
                        HttpDate(absl::FromUnixSeconds(modified)),
                        "</LastModifiedTime><Type>MANAGED_TABLE</Type><Schema>",
                        XmlEscape(s.serialize()), "</Schema></Table>");
  }

  std::string PartitionJson(const PartitionInfo& p) {
    json s = json::object();
    s["createTime"] = json::number(p.create_time);
    s["lastDDLTime"] = json::number(p.create_time);
    s["lastModifiedTime"] = json::number(p.modified_time);
    s["lastAccessTime"] = json::number(p.modified_time);
    s["partitionSize"] = json::number(p.ByteSize());
    s["partitionRecordNum"] = json::number(p.RecordCount());
    s["fileNum"] = json::number(static_cast<int64_t>(p.files.size()));
    return s.serialize();
  }

  HttpResponse HandleTableRest(const Ctx& ctx, const std::string& project,
                               const std::string& table) {
    if (ctx.req.method != "GET" && ctx.req.method != "HEAD") {
      return Error(ctx, 405, "MethodNotAllowed",
                   absl::StrCat(ctx.req.method, " is not supported on a table; use SQL for DDL"));
    }
    auto info = storage->GetTable(project, table);
    if (!info.ok()) return StatusError(ctx, info.status(), "NoSuchTable");
    if (ctx.Has("partitions")) {
      auto parts = storage->ListPartitions(project, table);
      if (!parts.ok()) return StatusError(ctx, parts.status(), "NoSuchTable");
      PartitionSpec prefix;
      if (!ctx.Param("partition").empty()) {
        auto p = ParsePartitionSpec(ctx.Param("partition"), info->schema, false);
        if (!p.ok()) return Error(ctx, 400, "InvalidPartitionSpec", p.status().message());
        prefix = *p;
      }
      const bool names_only = ctx.Has("name");
      int64_t max_items = 10000;
      if (!ctx.Param("maxitems").empty()) absl::SimpleAtoi(ctx.Param("maxitems"), &max_items);
      if (max_items < 1) max_items = 10000;
      // The marker is the name of the last partition of the previous page; paging resumes after
      // it in the listing's order.
      const std::string marker = ctx.Param("marker");
      bool past_marker = marker.empty();
      std::string body = "<Partitions>";
      int64_t emitted = 0;
      std::string last_emitted, next_marker;
      for (const auto& p : *parts) {
        const std::string name = PartitionSpecToString(p.spec);
        if (!past_marker) {
          past_marker = name == marker;
          continue;
        }
        if (!std::equal(prefix.begin(), prefix.end(), p.spec.begin(),
                        [](const auto& a, const auto& b) { return a.second == b.second; })) {
          continue;
        }
        if (emitted == max_items) {
          next_marker = last_emitted;
          break;
        }
        last_emitted = name;
        ++emitted;
        if (names_only) {
          absl::StrAppend(&body, "<Partition><Name>", XmlEscape(name), "</Name></Partition>");
          continue;
        }
        absl::StrAppend(&body, "<Partition>");
        for (const auto& [k, v] : p.spec) {
          absl::StrAppend(&body, "<Column Name=\"", XmlEscape(k), "\" Value=\"", XmlEscape(v),
                          "\"/>");
        }
        absl::StrAppend(&body, "<CreationTime>", p.create_time, "</CreationTime><LastDDLTime>",
                        p.create_time, "</LastDDLTime><LastModifiedTime>", p.modified_time,
                        "</LastModifiedTime><PartitionSize>", p.ByteSize(),
                        "</PartitionSize><PartitionRecordCount>", p.RecordCount(),
                        "</PartitionRecordCount></Partition>");
      }
      absl::StrAppend(&body, "<Marker>", XmlEscape(next_marker), "</Marker><MaxItems>", max_items,
                      "</MaxItems></Partitions>");
      return Xml(body);
    }
    if (ctx.Has("partition")) {
      auto spec = ParsePartitionSpec(ctx.Param("partition"), info->schema, true);
      if (!spec.ok()) return Error(ctx, 400, "InvalidPartitionSpec", spec.status().message());
      auto p = storage->GetPartition(project, table, *spec);
      if (!p.ok()) return StatusError(ctx, p.status(), "NoSuchPartition");
      return Xml(absl::StrCat("<Partition><Schema>", XmlEscape(PartitionJson(*p)),
                              "</Schema></Partition>"));
    }
    return Xml(TableXml(*info));
  }

  // ---- SQL instances ----
  HttpResponse CreateInstance(const Ctx& ctx, const std::string& project) {
    auto inst = std::make_shared<Instance>();
    inst->id = NewId();
    inst->project = project;
    inst->job_xml = ctx.req.body;
    inst->start = absl::Now();
    if (auto name = XmlElementText(ctx.req.body, "Name")) {
      // The first <Name> inside <SQL> is the task name; a <Job><Name> may precede it.
      const size_t sql_pos = ctx.req.body.find("<SQL");
      if (sql_pos != std::string::npos) {
        if (auto task = XmlElementText(std::string_view(ctx.req.body).substr(sql_pos), "Name")) {
          inst->task_name = *task;
        }
      }
    }
    auto query = XmlElementText(ctx.req.body, "Query");
    if (!query) {
      return Error(ctx, 400, "InvalidArgument",
                   "the instance has no <SQL><Query>; mclocal runs SQL tasks only");
    }
    auto result = sql_executor->Run(project, *query);
    inst->end = absl::Now();
    SweepExpired();
    inst->success = result.ok();
    if (result.ok()) {
      inst->result = std::move(result->text);
      inst->format = std::move(result->format);
      inst->column_types = std::move(result->column_types);
    } else {
      inst->result = std::string(result.status().message());
    }
    MCSINK_LOG(DEBUG) << "instance " << inst->id << " ran '" << *query
                      << "': " << (result.ok() ? "OK" : result.status().ToString());
    {
      std::lock_guard lock(mu);
      instances[inst->id] = inst;
    }
    HttpResponse r;
    r.status = 201;
    const std::string host(ctx.req.Header("Host").value_or(advertised));
    r.SetHeader("Location",
                absl::StrCat("http://", host, "/api/projects/", project, "/instances/", inst->id));
    return r;
  }

  std::string TaskXml(const Instance& inst, bool with_result) {
    std::string out = absl::StrCat("<Task Type=\"SQL\"><Name>", XmlEscape(inst.task_name),
                                   "</Name><StartTime>", HttpDate(inst.start),
                                   "</StartTime><EndTime>", HttpDate(inst.end), "</EndTime>");
    if (with_result) {
      absl::StrAppend(&out, "<Result Format=\"", inst.format, "\">", XmlEscape(inst.result),
                      "</Result>");
    }
    absl::StrAppend(&out, "<Status>", inst.success ? "Success" : "Failed",
                    "</Status><Histories/></Task>");
    return out;
  }

  HttpResponse GetInstance(const Ctx& ctx, const std::string& id) {
    std::shared_ptr<Instance> inst;
    {
      std::lock_guard lock(mu);
      auto it = instances.find(id);
      if (it != instances.end()) inst = it->second;
    }
    if (!inst) {
      return Error(ctx, 404, "NoSuchObject", absl::StrCat("instance ", id, " does not exist"));
    }
    if (ctx.Has("downloads") || ctx.Has("downloadid")) {
      // pyodps falls back to reading ?result when the instance tunnel is refused this way.
      return Error(ctx, 400, "InstanceTypeNotSupported",
                   "mclocal has no instance tunnel; read SQL results through ?result "
                   "(at most 10000 rows)");
    }
    HttpResponse r;
    if (ctx.req.method == "PUT") {
      r = Xml("<Instance><Status>Terminated</Status></Instance>");
    } else if (ctx.Has("taskstatus")) {
      r = Xml(absl::StrCat("<Instance><Status>Terminated</Status><Tasks>", TaskXml(*inst, false),
                           "</Tasks></Instance>"));
    } else if (ctx.Has("result")) {
      r = Xml(absl::StrCat("<Instance><Tasks>", TaskXml(*inst, true), "</Tasks></Instance>"));
      r.SetHeader("x-mclocal-column-types", absl::StrJoin(inst->column_types, ","));
    } else if (ctx.Has("source")) {
      // The submitted <Job> element (clients send it inside <Instance>).
      const size_t begin = inst->job_xml.find("<Job");
      const size_t end = inst->job_xml.rfind("</Job>");
      r = Xml(begin == std::string::npos || end == std::string::npos
                  ? "<Job/>"
                  : inst->job_xml.substr(begin, end + 6 - begin));
    } else {
      r = Xml(absl::StrCat("<Instance><Name>", inst->id,
                           "</Name><Owner>ALIYUN$mclocal</Owner>"
                           "<StartTime>",
                           HttpDate(inst->start), "</StartTime><EndTime>", HttpDate(inst->end),
                           "</EndTime><Status>Terminated</Status></Instance>"));
    }
    r.SetHeader("x-odps-owner", "ALIYUN$mclocal");
    r.SetHeader("x-odps-start-time", HttpDate(inst->start));
    r.SetHeader("x-odps-end-time", HttpDate(inst->end));
    return r;
  }

  // Forgets sessions and instances older than the session lifetime (24 h, as the real service),
  // so a long-running server's memory stays bounded; staged blocks of dropped uploads go too.
  void SweepExpired() {
    const absl::Time cutoff = absl::Now() - options.session_ttl;
    std::vector<std::string> dropped_uploads;
    {
      std::lock_guard lock(mu);
      for (auto it = uploads.begin(); it != uploads.end();) {
        if (it->second->created < cutoff) {
          dropped_uploads.push_back(it->first);
          it = uploads.erase(it);
        } else {
          ++it;
        }
      }
      std::erase_if(downloads, [&](const auto& kv) { return kv.second->created < cutoff; });
      std::erase_if(streams, [&](const auto& kv) { return kv.second->created < cutoff; });
      std::erase_if(instances, [&](const auto& kv) { return kv.second->end < cutoff; });
      std::erase_if(sts_keys, [&](const auto& kv) {
        return kv.second.expiration && *kv.second.expiration < absl::Now();
      });
    }
    for (const auto& id : dropped_uploads) storage->DiscardStaging(id);
  }

  bool IsExpired(const std::string& id, absl::Time created) {
    return faults->IsExpired(id) || created < absl::Now() - options.session_ttl;
  }

  // ---- Tunnel upload ----
  json UploadJson(UploadSession& s) {
    json j = json::object();
    j["UploadID"] = json::string(s.id);
    j["Status"] = json::string(s.status);
    j["Schema"] = TunnelSchemaJson(s.schema);
    json blocks = json::array();
    size_t i = 0;
    for (const auto& [id, b] : s.blocks) {
      json e = json::object();
      e["BlockID"] = json::number(id);
      e["RecordCount"] = json::number(b.records);
      e["CreateTime"] = json::number(b.create_time);
      e["Date"] = json::string(HttpDate(absl::FromUnixSeconds(b.create_time)));
      e["FileName"] = json::string(b.path.filename().string());
      e["Version"] = json::number(0);
      blocks[i++] = e;
    }
    j["UploadedBlockList"] = blocks;
    j["MaxFieldSize"] = json::number(mc::wire::kMaxCellBytes);
    j["QuotaName"] = json::string("");
    j["Owner"] = json::string("ALIYUN$mclocal");
    j["Initiated"] = json::string(HttpDate(s.created));
    j["IsOverwrite"] = json::boolean(s.overwrite);
    return j;
  }

  // Resolves the table and the (complete) partition of a tunnel request.
  absl::StatusOr<std::pair<TableInfo, PartitionSpec>> TunnelTarget(const Ctx& ctx,
                                                                   const std::string& project,
                                                                   const std::string& table) {
    MCSINK_ASSIGN_OR_RETURN(TableInfo info, storage->GetTable(project, table));
    auto spec = ParsePartitionSpec(ctx.Param("partition"), info.schema, true);
    if (!spec.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("InvalidPartitionSpec: ", spec.status().message()));
    }
    return std::make_pair(std::move(info), *std::move(spec));
  }

  HttpResponse TargetError(const Ctx& ctx, const absl::Status& st) {
    if (absl::StartsWith(st.message(), "InvalidPartitionSpec: ")) {
      return Error(ctx, 400, "InvalidPartitionSpec",
                   st.message().substr(std::string("InvalidPartitionSpec: ").size()));
    }
    return StatusError(ctx, st, "NoSuchTable");
  }

  HttpResponse CreateUpload(const Ctx& ctx, const std::string& project, const std::string& table) {
    auto target = TunnelTarget(ctx, project, table);
    if (!target.ok()) return TargetError(ctx, target.status());
    auto& [info, spec] = *target;
    auto part = storage->GetPartition(project, table, spec);
    if (absl::IsNotFound(part.status()) && ctx.Param("create_partition") == "true" &&
        !spec.empty()) {
      auto added = storage->AddPartition(project, table, spec, true);
      if (!added.ok()) return StatusError(ctx, added.status(), "NoSuchPartition");
      part = storage->GetPartition(project, table, spec);
    }
    if (!part.ok()) return StatusError(ctx, part.status(), "NoSuchPartition");
    auto s = std::make_shared<UploadSession>();
    s->id = NewId();
    s->project = project;
    s->table = info.name;
    s->spec = spec;
    s->schema = info.schema;
    s->overwrite = ctx.Param("overwrite") == "true";
    s->created = absl::Now();
    SweepExpired();
    {
      std::lock_guard lock(mu);
      uploads[s->id] = s;
    }
    std::lock_guard lock(s->mu);
    return Json(UploadJson(*s));
  }

  std::shared_ptr<UploadSession> FindUpload(const std::string& id) {
    std::lock_guard lock(mu);
    auto it = uploads.find(id);
    return it == uploads.end() ? nullptr : it->second;
  }

  // A session of this table, from memory or else, once committed, from the storage's index of
  // committed upload ids: a restart (or the expiry sweep) forgets sessions, yet a client whose
  // commit answer was lost must still see CLOSED and have its repeated commit succeed, not
  // re-upload into a new session (duplicates). Never-committed sessions stay forgotten (404).
  std::shared_ptr<UploadSession> FindUploadOrCommitted(const std::string& id,
                                                       const std::string& project,
                                                       const std::string& table) {
    if (auto s = FindUpload(id)) return s;
    std::optional<CommittedUpload> c = storage->FindCommitted(id);
    if (!c || c->project != project || c->table != absl::AsciiStrToLower(table)) return nullptr;
    auto info = storage->GetTable(project, table);
    if (!info.ok()) return nullptr;
    auto s = std::make_shared<UploadSession>();
    s->id = id;
    s->project = project;
    s->table = info->name;
    s->schema = info->schema;
    s->created = absl::FromUnixSeconds(c->commit_time);
    s->status = "closed";
    for (const auto& b : c->blocks) {
      s->blocks[b.block_id] =
          UploadBlock{c->partition_dir / b.file.name, b.file.records, b.file.bytes, c->commit_time};
    }
    return s;
  }

  HttpResponse UploadNotFound(const Ctx& ctx, const std::string& id) {
    return Error(ctx, 404, "NoSuchUpload",
                 absl::StrCat("upload session '", id,
                              "' does not exist (it may have expired or "
                              "the server restarted); create a new session"));
  }

  HttpResponse Expired(const Ctx& ctx, const std::string& id) {
    return Error(ctx, 400, "StatusConflict",
                 absl::StrCat("session '", id, "' has expired; create a new session"));
  }

  // Decompresses and validates one record stream body.
  absl::StatusOr<std::pair<std::string, int64_t>> DecodeBody(const Ctx& ctx,
                                                             const mc::TableSchema& schema) {
    const std::string encoding(ctx.req.Header("Content-Encoding").value_or(""));
    auto compression = mc::ParseContentEncoding(encoding);
    if (!compression) {
      return absl::InvalidArgumentError(
          absl::StrCat("UnsupportedCompression: Content-Encoding '", encoding,
                       "' is not supported by mclocal; send deflate or no compression"));
    }
    std::string data;
    if (*compression == mc::Compression::kNone) {
      data = std::move(ctx.req.body);
    } else {
      MCSINK_ASSIGN_OR_RETURN(data,
                              mc::Decompress(*compression, ctx.req.body, options.max_block_bytes));
    }
    mc::RecordStreamReader reader(schema, data, {.max_cell_bytes = mc::wire::kMaxCellBytes});
    mc::Row row;
    while (true) {
      MCSINK_ASSIGN_OR_RETURN(bool got, reader.Next(&row));
      if (!got) break;
    }
    return std::make_pair(std::move(data), reader.records_read());
  }

  HttpResponse DecodeError(const Ctx& ctx, const absl::Status& st) {
    if (absl::StartsWith(st.message(), "UnsupportedCompression: ")) {
      return Error(ctx, 400, "UnsupportedCompression",
                   st.message().substr(std::string("UnsupportedCompression: ").size()));
    }
    if (absl::IsResourceExhausted(st)) {
      return Error(ctx, 413, "DataExceedsLimit", st.message());
    }
    const std::string msg(st.message());
    // The decoder reports the 8 MiB cell limit as InvalidArgument like other schema mismatches;
    // its wording is the only way to tell them apart (see the report: a distinct code would be
    // better).
    if (absl::IsInvalidArgument(st) && absl::StrContains(msg, "exceeds the limit")) {
      return Error(ctx, 400, "DataExceedsLimit", msg);
    }
    return Error(ctx, 400, "MalformedDataStream", msg);
  }

  HttpResponse PutBlock(const Ctx& ctx) {
    const std::string id = ctx.Param("uploadid");
    auto s = FindUpload(id);
    if (!s) return UploadNotFound(ctx, id);
    if (IsExpired(id, s->created)) return Expired(ctx, id);
    int64_t block_id = -1;
    if (!absl::SimpleAtoi(ctx.Param("blockid"), &block_id) || block_id < 0 ||
        block_id >= kMaxBlockId) {
      return Error(ctx, 400, "InvalidBlockID",
                   absl::StrCat("blockid '", ctx.Param("blockid"),
                                "' is invalid: block ids are "
                                "0..",
                                kMaxBlockId - 1));
    }
    {
      std::lock_guard lock(s->mu);
      if (s->status != "normal") {
        return Error(ctx, 400, "StatusConflict",
                     absl::StrCat("upload session ", id, " is ", s->status,
                                  "; blocks can only be written before commit"));
      }
    }
    auto decoded = DecodeBody(ctx, s->schema);
    if (!decoded.ok()) return DecodeError(ctx, decoded.status());
    auto staging = storage->StagingDir(id);
    if (!staging.ok()) return StatusError(ctx, staging.status(), "NoSuchUpload");
    const fs::path path = *staging / absl::StrCat("block-", block_id, ".rec");
    std::lock_guard lock(s->mu);
    if (s->status != "normal") {
      return Error(ctx, 400, "StatusConflict",
                   absl::StrCat("upload session ", id, " was committed while the block was sent"));
    }
    // Same id again: the rename replaces the earlier block (last writer wins). No fsync here:
    // staged blocks do not survive a restart anyway; Commit makes them durable.
    if (auto st = WriteFileAtomically(path, decoded->first, /*durable=*/false); !st.ok()) {
      return StatusError(ctx, st, "NoSuchUpload");
    }
    s->blocks[block_id] =
        UploadBlock{path, decoded->second, static_cast<int64_t>(decoded->first.size()),
                    absl::ToUnixSeconds(absl::Now())};
    rows_uploaded->Increment(static_cast<double>(decoded->second));
    HttpResponse r;
    r.status = 200;
    return r;
  }

  HttpResponse GetUpload(const Ctx& ctx, const std::string& project, const std::string& table) {
    const std::string id = ctx.Param("uploadid");
    auto s = FindUploadOrCommitted(id, project, table);
    if (!s) return UploadNotFound(ctx, id);
    if (IsExpired(id, s->created)) return Expired(ctx, id);
    std::lock_guard lock(s->mu);
    return Json(UploadJson(*s));
  }

  HttpResponse Commit(const Ctx& ctx, const std::string& project, const std::string& table) {
    const std::string id = ctx.Param("uploadid");
    auto s = FindUploadOrCommitted(id, project, table);
    if (!s) return UploadNotFound(ctx, id);
    std::lock_guard lock(s->mu);
    // A committed session answers a repeated commit even once expired; an open one cannot commit.
    if (s->status == "normal" && IsExpired(id, s->created)) return Expired(ctx, id);
    if (s->status == "normal") {
      std::vector<StagedBlock> blocks;
      for (const auto& [bid, b] : s->blocks) blocks.push_back({bid, b.path, b.records, b.bytes});
      auto st = storage->Commit(s->project, s->table, s->spec, id, blocks, s->overwrite);
      if (!st.ok()) return StatusError(ctx, st, "NoSuchPartition");
      int64_t rows = 0;
      for (const auto& b : blocks) rows += b.records;
      rows_committed->Increment(static_cast<double>(rows));
      commits->Increment();
      s->status = "closed";
      storage->DiscardStaging(id);
    }
    return Json(UploadJson(*s));
  }

  // ---- Tunnel download ----
  json DownloadJson(const DownloadSession& d) {
    json j = json::object();
    j["DownloadID"] = json::string(d.id);
    j["Status"] = json::string("normal");
    j["RecordCount"] = json::number(d.records);
    j["Schema"] = TunnelSchemaJson(d.schema);
    j["QuotaName"] = json::string("");
    j["Owner"] = json::string("ALIYUN$mclocal");
    j["Initiated"] = json::string(HttpDate(d.created));
    return j;
  }

  HttpResponse CreateDownload(const Ctx& ctx, const std::string& project,
                              const std::string& table) {
    auto target = TunnelTarget(ctx, project, table);
    if (!target.ok()) return TargetError(ctx, target.status());
    auto& [info, spec] = *target;
    auto part = storage->GetPartition(project, table, spec);
    if (!part.ok()) return StatusError(ctx, part.status(), "NoSuchPartition");
    auto d = std::make_shared<DownloadSession>();
    d->id = NewId();
    d->project = project;
    d->table = info.name;
    d->spec = spec;
    d->schema = info.schema;
    d->dir = storage->PartitionDir(project, info.name, spec);
    d->files = part->files;
    d->records = part->RecordCount();
    d->created = absl::Now();
    SweepExpired();
    {
      std::lock_guard lock(mu);
      downloads[d->id] = d;
    }
    return Json(DownloadJson(*d));
  }

  std::shared_ptr<DownloadSession> FindDownload(const Ctx& ctx) {
    std::lock_guard lock(mu);
    auto it = downloads.find(ctx.Param("downloadid"));
    return it == downloads.end() ? nullptr : it->second;
  }

  HttpResponse ReadRows(const Ctx& ctx) {
    auto d = FindDownload(ctx);
    const std::string id = ctx.Param("downloadid");
    if (!d) {
      return Error(ctx, 404, "NoSuchDownload",
                   absl::StrCat("download session '", id, "' does not exist; create a new one"));
    }
    if (IsExpired(id, d->created)) return Expired(ctx, id);
    if (!ctx.Has("data")) return Json(DownloadJson(*d));
    // rowrange=(start,count)
    std::string range(absl::StripAsciiWhitespace(ctx.Param("rowrange")));
    int64_t start = 0, count = 0;
    std::vector<std::string> rc;
    if (range.size() >= 2 && range.front() == '(' && range.back() == ')') {
      rc = absl::StrSplit(range.substr(1, range.size() - 2), ',');
    }
    if (rc.size() != 2 || !absl::SimpleAtoi(rc[0], &start) || !absl::SimpleAtoi(rc[1], &count) ||
        start < 0 || count < 0 || start > d->records) {
      return Error(ctx, 400, "InvalidRowRange",
                   absl::StrCat("rowrange '", range,
                                "' is invalid: expected (start,count) with "
                                "0 <= start <= ",
                                d->records));
    }
    count = std::min(count, d->records - start);
    // Projection: requested columns, in request order.
    mc::TableSchema out_schema;
    std::vector<int> pick;
    const std::string columns = ctx.Param("columns");
    if (columns.empty()) {
      out_schema.columns = d->schema.columns;
      for (size_t i = 0; i < d->schema.columns.size(); ++i) pick.push_back(static_cast<int>(i));
    } else {
      const std::vector<std::string> names = absl::StrSplit(columns, ',');
      for (const std::string& name : names) {
        auto idx = d->schema.ColumnIndex(name);
        if (!idx) {
          return Error(ctx, 400, "InvalidColumnSpec",
                       absl::StrCat("column '", name, "' is not a data column of the table"));
        }
        pick.push_back(*idx);
        out_schema.columns.push_back(d->schema.columns[static_cast<size_t>(*idx)]);
      }
    }
    std::string body;
    mc::RecordEncoder encoder(&body);
    mc::StreamTrailer trailer;
    int64_t skipped = 0;
    mc::Row row, projected(pick.size());
    for (const auto& f : d->files) {
      if (trailer.count() == count) break;
      if (skipped + f.records <= start) {
        skipped += f.records;
        continue;
      }
      auto data = ReadWholeFile(d->dir / f.name);
      if (!data.ok()) {
        return Error(ctx, 410, "NoSuchDownload",
                     "the partition was overwritten since this download session began");
      }
      mc::RecordStreamReader reader(d->schema, *data);
      while (trailer.count() < count) {
        auto got = reader.Next(&row);
        if (!got.ok()) return StatusError(ctx, got.status(), "NoSuchDownload");
        if (!*got) break;
        if (skipped < start) {
          ++skipped;
          continue;
        }
        for (size_t i = 0; i < pick.size(); ++i) projected[i] = row[static_cast<size_t>(pick[i])];
        auto crc = mc::EncodeRow(out_schema, projected, &encoder);
        if (!crc.ok()) return StatusError(ctx, crc.status(), "NoSuchDownload");
        trailer.Add(*crc);
      }
    }
    trailer.AppendTo(&body);
    rows_downloaded->Increment(static_cast<double>(trailer.count()));
    HttpResponse r;
    r.SetHeader("Content-Type", "application/octet-stream");
    const std::string accept = Lower(ctx.req.Header("Accept-Encoding").value_or(""));
    if (absl::StrContains(accept, "deflate")) {
      auto compressed = mc::DeflateCompress(body, 1);
      if (compressed.ok()) {
        r.body = *std::move(compressed);
        r.SetHeader("Content-Encoding", "deflate");
        return r;
      }
    }
    r.body = std::move(body);
    return r;
  }

  // ---- Stream tunnel ----
  json StreamJson(const StreamSession& s) {
    json j = json::object();
    j["session_name"] = json::string(s.id);
    j["schema"] = TunnelSchemaJson(s.schema);
    j["schema_version"] = json::number(0);
    json slot = json::array();
    slot[0] = json::string("0");
    slot[1] = json::string(advertised);
    json slots = json::array();
    slots[0] = slot;
    j["slots"] = slots;
    j["status"] = json::string("normal");
    j["quota_name"] = json::string("");
    return j;
  }

  HttpResponse HandleStreams(const Ctx& ctx, const std::string& project, const std::string& table) {
    if (ctx.req.method == "POST" && !ctx.Has("uploadid")) {
      auto info = storage->GetTable(project, table);
      if (!info.ok()) return StatusError(ctx, info.status(), "NoSuchTable");
      auto spec = ParsePartitionSpec(ctx.Param("partition"), info->schema, true);
      if (!spec.ok()) return Error(ctx, 400, "InvalidPartitionSpec", spec.status().message());
      auto part = storage->GetPartition(project, table, *spec);
      if (absl::IsNotFound(part.status()) && ctx.Has("create_partition")) {
        auto added = storage->AddPartition(project, table, *spec, true);
        if (!added.ok()) return StatusError(ctx, added.status(), "NoSuchPartition");
        part = storage->GetPartition(project, table, *spec);
      }
      if (!part.ok()) return StatusError(ctx, part.status(), "NoSuchPartition");
      auto s = std::make_shared<StreamSession>();
      s->id = NewId();
      s->project = project;
      s->table = info->name;
      s->spec = *spec;
      s->schema = info->schema;
      s->created = absl::Now();
      SweepExpired();
      {
        std::lock_guard lock(mu);
        streams[s->id] = s;
      }
      return Json(StreamJson(*s));
    }
    const std::string id = ctx.Param("uploadid");
    std::shared_ptr<StreamSession> s;
    {
      std::lock_guard lock(mu);
      auto it = streams.find(id);
      if (it != streams.end()) s = it->second;
    }
    if (!s) {
      return Error(ctx, 404, "NoSuchUpload",
                   absl::StrCat("stream session '", id, "' does not exist; create a new one"));
    }
    if (IsExpired(id, s->created)) return Expired(ctx, id);
    if (ctx.req.method == "GET" || ctx.req.method == "POST") return Json(StreamJson(*s));
    if (ctx.req.method != "PUT") {
      return Error(ctx, 405, "MethodNotAllowed", "streams accept POST, GET and PUT");
    }
    auto decoded = DecodeBody(ctx, s->schema);
    if (!decoded.ok()) return DecodeError(ctx, decoded.status());
    // Each pack is committed on its own, like a one-block upload session.
    const std::string pack_id = absl::StrCat(s->id, "-", s->packs.fetch_add(1));
    auto staging = storage->StagingDir(pack_id);
    if (!staging.ok()) return StatusError(ctx, staging.status(), "NoSuchUpload");
    const fs::path path = *staging / "block-0.rec";
    if (auto st = WriteFileAtomically(path, decoded->first, /*durable=*/false); !st.ok()) {
      return StatusError(ctx, st, "NoSuchUpload");
    }
    auto st = storage->Commit(
        s->project, s->table, s->spec, pack_id,
        {{0, path, decoded->second, static_cast<int64_t>(decoded->first.size())}}, false);
    storage->DiscardStaging(pack_id);
    if (!st.ok()) return StatusError(ctx, st, "NoSuchPartition");
    rows_uploaded->Increment(static_cast<double>(decoded->second));
    rows_committed->Increment(static_cast<double>(decoded->second));
    HttpResponse r;
    r.SetHeader("odps-tunnel-slot-num", "1");
    r.SetHeader("odps-tunnel-routed-server", advertised);
    return r;
  }

  // ---- admin ----
  HttpResponse Admin(const Ctx& ctx) {
    if (ctx.segs[0] == "metrics") {
      HttpResponse r;
      r.body = prometheus::TextSerializer().Serialize(registry->Collect());
      r.SetHeader("Content-Type", "text/plain; version=0.0.4");
      return r;
    }
    if (ctx.segs.size() == 2 && ctx.segs[1] == "faults") {
      if (ctx.req.method == "GET") {
        HttpResponse r;
        r.body = faults->Describe();
        return r;
      }
      if (ctx.req.method == "DELETE") {
        faults->Clear();
        return HttpResponse{};
      }
      if (ctx.req.method == "POST" || ctx.req.method == "PUT") {
        std::vector<std::string> specs = absl::StrSplit(ctx.req.body, absl::ByAnyChar("\n;"));
        auto st = faults->Apply(specs);
        if (!st.ok()) return Error(ctx, 400, "InvalidArgument", st.message());
        return HttpResponse{};
      }
    }
    if (ctx.segs.size() == 2 && ctx.segs[1] == "health") {
      HttpResponse r;
      r.body = "ok\n";
      return r;
    }
    return Error(ctx, 404, "NoSuchObject",
                 "admin endpoints: GET/POST/DELETE /admin/faults, GET /admin/health");
  }

  HttpResponse InjectedError(const Ctx& ctx, const FaultRule& fault) {
    return Error(ctx, fault.status,
                 fault.status == 503 ? "ServiceUnavailable" : "InternalServerError",
                 absl::StrCat("injected fault on ", ctx.route.kind, " request #", fault.seen));
  }

  // ---- dispatch ----
  HttpResponse Dispatch(Ctx& ctx) {
    const auto& s = ctx.segs;
    if (ctx.route.kind == "admin") return Admin(ctx);
    if (ctx.route.kind == "sts") {
      if (ctx.req.method == "GET" && ctx.query.empty()) {
        HttpResponse r;
        r.body = "mclocal: a MaxCompute-compatible local server\n";
        return r;
      }
      return AssumeRole(ctx);
    }
    if (auto denied = Authenticate(ctx)) return *denied;
    if (s.size() < 2 || s[0] != "projects") {
      return Error(ctx, 404, "NoSuchObject",
                   absl::StrCat("no such resource '", ctx.path, "'; resources are /projects/..."));
    }
    const std::string project = s[1];
    if (auto st = Storage::ValidateName("project", project); !st.ok()) {
      return Error(ctx, 400, "InvalidProjectName", st.message());
    }
    std::vector<std::string> rest(s.begin() + 2, s.end());
    // /projects/{p}/schemas/{s}/... is the same table space here.
    if (rest.size() >= 2 && rest[0] == "schemas") rest.erase(rest.begin(), rest.begin() + 2);
    if (rest.empty()) {
      if (ctx.req.method != "GET" && ctx.req.method != "HEAD") {
        return Error(ctx, 405, "MethodNotAllowed", "projects are read-only");
      }
      return Xml(absl::StrCat("<Project><Name>", XmlEscape(project),
                              "</Name><Comment/>"
                              "<Owner>ALIYUN$mclocal</Owner><State>AVAILABLE</State>"
                              "<Properties><Property><Name>odps.schema.model.enabled</Name>"
                              "<Value>false</Value></Property></Properties></Project>"));
    }
    if (rest[0] == "tunnel" && rest.size() == 1) {
      HttpResponse r;
      r.body = advertised;
      r.SetHeader("Content-Type", "text/plain");
      return r;
    }
    if (rest[0] == "instances") {
      if (rest.size() == 1 && ctx.req.method == "POST") return CreateInstance(ctx, project);
      if (rest.size() == 2) return GetInstance(ctx, rest[1]);
      return Error(ctx, 404, "NoSuchObject", "instances: POST /instances or GET /instances/{id}");
    }
    if (rest[0] == "tables") {
      if (rest.size() == 1) {
        if (!ctx.Param("name").empty() || true) {
          std::string body = "<Tables>";
          const std::string prefix = Lower(ctx.Param("name"));
          for (const auto& t : storage->ListTables(project)) {
            if (!absl::StartsWith(t.name, prefix)) continue;
            absl::StrAppend(&body, TableXml(t));
          }
          absl::StrAppend(&body, "<Marker></Marker><MaxItems>1000</MaxItems></Tables>");
          return Xml(body);
        }
      }
      const std::string table = rest[1];
      if (auto st = Storage::ValidateName("table", table); !st.ok()) {
        return Error(ctx, 400, "InvalidTableName", st.message());
      }
      if (rest.size() == 3 && rest[2] == "streams") return HandleStreams(ctx, project, table);
      if (rest.size() == 2) {
        const std::string& k = ctx.route.kind;
        if (k == "create_upload") return CreateUpload(ctx, project, table);
        if (k == "put_block") return PutBlock(ctx);
        if (k == "commit") return Commit(ctx, project, table);
        if (k == "get_upload") return GetUpload(ctx, project, table);
        if (k == "create_download") return CreateDownload(ctx, project, table);
        if (k == "read" || k == "get_download") return ReadRows(ctx);
        return HandleTableRest(ctx, project, table);
      }
    }
    return Error(ctx, 404, "NoSuchObject", absl::StrCat("no such resource '", ctx.path, "'"));
  }
};

absl::StatusOr<std::unique_ptr<Server>> Server::Create(
    ServerOptions options, std::unique_ptr<Storage> storage,
    std::shared_ptr<prometheus::Registry> registry) {
  if (options.auth == AuthMode::kStrict && options.keys.empty()) {
    return absl::InvalidArgumentError("strict auth needs at least one access key (--keys_file)");
  }
  auto server = std::unique_ptr<Server>(new Server());
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  impl.options = std::move(options);
  impl.advertised = impl.options.advertised_address;
  impl.storage = std::move(storage);
  impl.sql_executor =
      std::make_unique<SqlExecutor>(impl.storage.get(), impl.options.max_result_rows);
  impl.faults = &server->faults_;
  FaultInjector* faults = &server->faults_;
  impl.storage->set_step_hook([faults](std::string_view step) {
    const auto rule = faults->OnRequest(step);
    if (rule && rule->action == FaultRule::Action::kCrash) {
      MCSINK_LOG(WARNING) << "fault: crashing at " << step;
      std::_Exit(137);
    }
  });
  impl.registry = registry ? registry : std::make_shared<prometheus::Registry>();
  impl.requests = &prometheus::BuildCounter()
                       .Name("mclocal_requests_total")
                       .Help("HTTP requests by kind and response status.")
                       .Register(*impl.registry);
  impl.latency = &prometheus::BuildHistogram()
                      .Name("mclocal_request_duration_seconds")
                      .Help("Time to answer a request, by kind.")
                      .Register(*impl.registry);
  auto& rows = prometheus::BuildCounter()
                   .Name("mclocal_rows_total")
                   .Help("Rows through the tunnel, by stage.")
                   .Register(*impl.registry);
  impl.rows_uploaded = &rows.Add({{"stage", "uploaded"}});
  impl.rows_committed = &rows.Add({{"stage", "committed"}});
  impl.rows_downloaded = &rows.Add({{"stage", "downloaded"}});
  impl.commits = &prometheus::BuildCounter()
                      .Name("mclocal_commits_total")
                      .Help("Upload sessions committed.")
                      .Register(*impl.registry)
                      .Add({});
  return server;
}

Server::~Server() = default;

void Server::set_advertised_address(std::string address) {
  std::lock_guard lock(impl_->mu);
  impl_->advertised = std::move(address);
}

HttpResponse Server::Handle(HttpRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  Impl& impl = *impl_;
  Impl::Ctx ctx{request, NewId(), "", {}, {}, {}};
  const std::string_view target = request.target;
  const size_t q = target.find('?');
  const std::string raw_path(target.substr(0, q));
  const std::string raw_query(q == std::string_view::npos ? "" : target.substr(q + 1));
  auto path = mcc::PercentDecode(raw_path);
  // Decoded the way both SDKs sign: %XX escapes, and `+` as a space (pyodps sends spaces as `+`).
  auto query = mcc::ParseQueryString(raw_query);
  HttpResponse response;
  if (!path.ok() || !query.ok()) {
    response = impl.Error(ctx, 400, "InvalidArgument", "malformed percent-encoding in the URL");
  } else {
    ctx.path = std::string(mcc::StripPathPrefix(*path, "/api"));
    ctx.query = *std::move(query);
    for (absl::string_view seg : absl::StrSplit(ctx.path, '/', absl::SkipEmpty())) {
      ctx.segs.emplace_back(seg);
    }
    ctx.route = impl.Classify(request.method, ctx.segs, ctx.query);
    if (request.Header("x-odps-tunnel-version")) ctx.route.tunnel = true;
    std::optional<FaultRule> fault;
    if (ctx.route.kind != "admin") fault = faults_.OnRequest(ctx.route.kind);
    if (fault) {
      MCSINK_LOG(INFO) << "fault injected on " << ctx.route.kind << " request #" << fault->seen;
    }
    using Action = FaultRule::Action;
    const bool before = fault && !fault->after;
    if (before && fault->action == Action::kExpire) {
      // The session the request names (upload, download or stream), expired just before it is
      // served: as if the client had held it past its lifetime.
      for (const char* param : {"uploadid", "downloadid"}) {
        if (!ctx.Param(param).empty()) faults_.Expire(ctx.Param(param));
      }
    }
    if (before && fault->action == Action::kCrash) {
      MCSINK_LOG(WARNING) << "fault: crashing before " << ctx.route.kind;
      std::_Exit(137);
    }
    if (before && fault->action == Action::kDelay) {
      std::this_thread::sleep_for(std::chrono::milliseconds(fault->delay_ms));
    }
    if (before && fault->action == Action::kDrop) {
      response.drop_connection = true;
    } else if (before && fault->action == Action::kFail) {
      response = impl.InjectedError(ctx, *fault);
    } else {
      response = impl.Dispatch(ctx);
    }
    if (fault && fault->after) {
      // The work is done (a commit is published); the client never learns it did.
      MCSINK_LOG(WARNING) << "fault: " << fault->text << " after " << ctx.route.kind << " answered "
                          << response.status;
      switch (fault->action) {
        case Action::kCrash:
          std::_Exit(137);
        case Action::kDelay:
          std::this_thread::sleep_for(std::chrono::milliseconds(fault->delay_ms));
          break;
        case Action::kDrop:
          response = HttpResponse{};
          response.drop_connection = true;
          break;
        case Action::kFail:
          response = impl.InjectedError(ctx, *fault);
          break;
        case Action::kExpire:
          break;
      }
    }
  }
  response.SetHeader("x-odps-request-id", ctx.request_id);
  response.SetHeader("Date", mcc::FormatHttpDate(absl::Now()));
  if (!response.Header("Content-Type")) response.SetHeader("Content-Type", "text/plain");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  impl.requests->Add({{"kind", ctx.route.kind}, {"status", absl::StrCat(response.status)}})
      .Increment();
  impl.latency
      ->Add({{"kind", ctx.route.kind}},
            prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.02, 0.1, 0.5, 2, 10})
      .Observe(seconds);
  if (response.status >= 500) {
    MCSINK_LOG(WARNING) << request.method << " " << request.target << " -> " << response.status;
  }
  return response;
}

}  // namespace mclocal
