// mclocal_interop_tool: uploads and downloads rows through the Tunnel with our own code (the
// mcsink_maxcompute codec; uploads and downloads through mcsink_maxcompute_client's
// TunnelClient), so the pytest
// interop tests can compare what pyodps writes and reads with what we write and read.
//
// Rows are JSON lines: one array per row, one entry per data column, null or the value's
// canonical text, exact for every type:
//   integers: decimal        BOOLEAN: true/false      DECIMAL: its text
//   DOUBLE:   16 hex digits of the IEEE bits          FLOAT: 8 hex digits of the bits
//   STRING, VARCHAR, CHAR, BINARY, JSON: hex of the bytes
//   DATE: days since 1970-01-01   DATETIME: epoch milliseconds   TIMESTAMP: seconds:nanos
//
//   mclocal_interop_tool upload   --endpoint=URL --project=P --table=T [--partition=pt=x]
//                                 --rows=FILE [--block_rows=N] [--deflate]
//   mclocal_interop_tool download --endpoint=URL --project=P --table=T [--partition=pt=x]
//                                 [--deflate]   (prints JSON lines)
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "mcsink/common/status.h"
#include "mcsink/maxcompute/compression.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/maxcompute_client/http.h"
#include "mcsink/maxcompute_client/signing.h"
#include "mcsink/maxcompute_client/tunnel_client.h"

ABSL_FLAG(std::string, endpoint, "", "tunnel endpoint, e.g. http://127.0.0.1:8080");
ABSL_FLAG(std::string, project, "", "project");
ABSL_FLAG(std::string, table, "", "table");
ABSL_FLAG(std::string, partition, "", "partition spec, e.g. pt=x");
ABSL_FLAG(std::string, rows, "", "JSON-lines file of rows to upload");
ABSL_FLAG(int, block_rows, 1000, "rows per block");
ABSL_FLAG(bool, deflate, false, "compress bodies with deflate");
ABSL_FLAG(std::string, access_id, "ak", "AccessKey id");
ABSL_FLAG(std::string, access_key, "sk", "AccessKey secret");

namespace mc = mcsink::maxcompute;
namespace mcc = mcsink::maxcompute_client;
using json = web::json::value;

namespace {

std::string Hex(std::string_view bytes) {
  return absl::BytesToHexString(absl::string_view(bytes.data(), bytes.size()));
}

absl::StatusOr<mc::Value> FromCanonical(const mc::Type& type, const json& v) {
  if (v.is_null()) return mc::Value{};
  if (!v.is_string()) return absl::InvalidArgumentError("values must be strings or null");
  const std::string s = v.as_string();
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("bad value '", s, "' for ", type.ToString()));
  };
  switch (type.kind) {
    case mc::TypeKind::kBigint:
    case mc::TypeKind::kInt:
    case mc::TypeKind::kSmallint:
    case mc::TypeKind::kTinyint: {
      int64_t x;
      if (!absl::SimpleAtoi(s, &x)) return bad();
      return mc::Value{x};
    }
    case mc::TypeKind::kBoolean:
      return mc::Value{s == "true"};
    case mc::TypeKind::kDouble: {
      uint64_t bits;
      if (!absl::SimpleHexAtoi(s, &bits)) return bad();
      double d;
      std::memcpy(&d, &bits, 8);
      return mc::Value{d};
    }
    case mc::TypeKind::kFloat: {
      uint32_t bits;
      if (!absl::SimpleHexAtoi(s, &bits)) return bad();
      float f;
      std::memcpy(&f, &bits, 4);
      return mc::Value{f};
    }
    case mc::TypeKind::kDecimal:
      return mc::Value{s};
    case mc::TypeKind::kString:
    case mc::TypeKind::kVarchar:
    case mc::TypeKind::kChar:
    case mc::TypeKind::kBinary:
    case mc::TypeKind::kJson:
      return mc::Value{absl::HexStringToBytes(s)};
    case mc::TypeKind::kDate: {
      int64_t x;
      if (!absl::SimpleAtoi(s, &x)) return bad();
      return mc::Value{mc::Date{x}};
    }
    case mc::TypeKind::kDatetime: {
      int64_t x;
      if (!absl::SimpleAtoi(s, &x)) return bad();
      return mc::Value{mc::Datetime{x}};
    }
    case mc::TypeKind::kTimestamp: {
      std::vector<std::string> p = absl::StrSplit(s, ':');
      int64_t sec;
      int32_t ns;
      if (p.size() != 2 || !absl::SimpleAtoi(p[0], &sec) || !absl::SimpleAtoi(p[1], &ns))
        return bad();
      return mc::Value{mc::Timestamp{sec, ns}};
    }
  }
  return bad();
}

json ToCanonical(const mc::Value& v) {
  struct V {
    json operator()(std::monostate) const { return json::null(); }
    json operator()(int64_t x) const { return json::string(absl::StrCat(x)); }
    json operator()(bool b) const { return json::string(b ? "true" : "false"); }
    json operator()(double d) const {
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      return json::string(absl::StrFormat("%016x", bits));
    }
    json operator()(float f) const {
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      return json::string(absl::StrFormat("%08x", bits));
    }
    json operator()(const std::string& s) const { return json::string(Hex(s)); }
    json operator()(const mc::Date& d) const {
      return json::string(absl::StrCat(d.days_since_epoch));
    }
    json operator()(const mc::Datetime& d) const {
      return json::string(absl::StrCat(d.epoch_millis));
    }
    json operator()(const mc::Timestamp& t) const {
      return json::string(absl::StrCat(t.epoch_seconds, ":", t.nanos));
    }
  };
  return std::visit(V{}, v);
}

// Our Tunnel client, on the flags' endpoint and keys, with no retries.
absl::StatusOr<std::unique_ptr<mcc::TunnelClient>> Client() {
  mcc::TunnelClientOptions options;
  options.endpoint = absl::GetFlag(FLAGS_endpoint);
  options.project = absl::GetFlag(FLAGS_project);
  options.retry.max_attempts = 1;
  auto credentials = std::make_shared<mcc::StaticCredentialsProvider>(
      mcc::Credentials{absl::GetFlag(FLAGS_access_id), absl::GetFlag(FLAGS_access_key), "", {}});
  return mcc::TunnelClient::Create(options, credentials);
}

// The data columns a session reports, as our schema.
absl::StatusOr<mc::TableSchema> SchemaOf(const std::vector<mcc::ColumnInfo>& columns) {
  mc::TableSchema schema;
  for (const auto& col : columns) {
    MCSINK_ASSIGN_OR_RETURN(mc::Type type, mc::Type::Parse(col.type));
    schema.columns.push_back(mc::Column{col.name, type, col.nullable});
  }
  return schema;
}

// Uploads through mcsink_maxcompute_client's TunnelClient (the production upload path): one
// session, blocks of --block_rows rows, commit with the block-list check.
absl::Status Upload() {
  MCSINK_ASSIGN_OR_RETURN(auto client, Client());
  const mcc::UploadTarget target{absl::GetFlag(FLAGS_table), absl::GetFlag(FLAGS_partition), ""};
  MCSINK_ASSIGN_OR_RETURN(mcc::UploadSessionInfo session, client->CreateUploadSession(target));
  MCSINK_ASSIGN_OR_RETURN(const mc::TableSchema schema, SchemaOf(session.columns));
  std::ifstream in(absl::GetFlag(FLAGS_rows));
  if (!in) return absl::NotFoundError("cannot open --rows");
  std::vector<mc::Row> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const json arr = json::parse(line);
    mc::Row row;
    for (size_t i = 0; i < arr.size(); ++i) {
      MCSINK_ASSIGN_OR_RETURN(mc::Value v, FromCanonical(schema.columns.at(i).type, arr.at(i)));
      row.push_back(std::move(v));
    }
    rows.push_back(std::move(row));
  }
  const size_t per_block = static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_block_rows)));
  std::vector<int64_t> blocks;
  for (size_t start = 0; start < rows.size() || blocks.empty(); start += per_block) {
    const size_t n = std::min(per_block, rows.size() - start);
    MCSINK_ASSIGN_OR_RETURN(std::string body,
                            mc::EncodeRecordStream(schema, std::span(rows).subspan(start, n)));
    std::string encoding;
    if (absl::GetFlag(FLAGS_deflate)) {
      MCSINK_ASSIGN_OR_RETURN(body, mc::DeflateCompress(body));
      encoding = "deflate";
    }
    const int64_t block = static_cast<int64_t>(blocks.size());
    MCSINK_RETURN_IF_ERROR(client->UploadBlock(target, session.upload_id, block,
                                               std::make_shared<const std::string>(std::move(body)),
                                               encoding));
    blocks.push_back(block);
  }
  MCSINK_ASSIGN_OR_RETURN(mcc::UploadSessionInfo committed,
                          client->CommitUpload(target, session.upload_id, blocks));
  std::cout << session.upload_id << " " << committed.status << "\n";
  return absl::OkStatus();
}

absl::Status Download() {
  MCSINK_ASSIGN_OR_RETURN(auto client, Client());
  const mcc::UploadTarget target{absl::GetFlag(FLAGS_table), absl::GetFlag(FLAGS_partition), ""};
  MCSINK_ASSIGN_OR_RETURN(mcc::DownloadSessionInfo session, client->CreateDownloadSession(target));
  MCSINK_ASSIGN_OR_RETURN(const mc::TableSchema schema, SchemaOf(session.columns));
  MCSINK_ASSIGN_OR_RETURN(mcc::DownloadedRows data,
                          client->ReadRows(target, session.download_id, 0, session.record_count));
  std::string body = std::move(data.body);
  if (data.content_encoding == "deflate") {
    MCSINK_ASSIGN_OR_RETURN(body, mc::DeflateDecompress(body, size_t{1} << 30));
  }
  MCSINK_ASSIGN_OR_RETURN(std::vector<mc::Row> rows, mc::DecodeRecordStream(schema, body));
  for (const auto& row : rows) {
    json arr = json::array();
    for (size_t i = 0; i < row.size(); ++i) {
      // DECIMAL is text in a std::string, like STRING; its canonical form is the text itself.
      const bool decimal = schema.columns[i].type.kind == mc::TypeKind::kDecimal;
      arr[i] = decimal && !mc::IsNull(row[i]) ? json::string(std::get<std::string>(row[i]))
                                              : ToCanonical(row[i]);
    }
    std::cout << arr.serialize() << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::cerr << "usage: mclocal_interop_tool upload|download --endpoint=... --project=... "
                 "--table=...\n";
    return 2;
  }
  const std::string cmd = args[1];
  absl::Status st;
  try {
    st = cmd == "upload"     ? Upload()
         : cmd == "download" ? Download()
                             : absl::InvalidArgumentError("unknown command");
  } catch (const std::exception& e) {
    st = absl::InternalError(e.what());
  }
  if (!st.ok()) {
    std::cerr << st << "\n";
    return 1;
  }
  return 0;
}
