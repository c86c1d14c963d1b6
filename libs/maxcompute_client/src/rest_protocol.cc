#include "mcsink/maxcompute_client/rest_protocol.h"

// cpprest's U() macro clashes with other code; utility::string_t is std::string on Linux.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>
#include <openssl/rand.h>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "mcsink/common/strings.h"

namespace mcsink::maxcompute_client {
namespace {

namespace ptree = boost::property_tree;

constexpr char kErrorCodePayload[] = "type.mcsink.dev/maxcompute.error_code";
constexpr size_t kMaxBodyInMessage = 200;

absl::StatusOr<ptree::ptree> ParseXml(std::string_view body, std::string_view what) {
  std::istringstream in{std::string(body)};
  ptree::ptree tree;
  try {
    ptree::read_xml(in, tree);
  } catch (const ptree::xml_parser_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        AsAbsl(what), " is not well-formed XML: ", e.message(), " at line ", e.line()));
  }
  return tree;
}

// The trimmed text of child `path`, or "" when absent.
std::string Text(const ptree::ptree& node, const char* path) {
  const auto child = node.get_child_optional(path);
  if (!child) return "";
  return std::string(absl::StripAsciiWhitespace(child->data()));
}

std::optional<int64_t> Int(const ptree::ptree& node, const char* path) {
  int64_t value;
  const std::string text = Text(node, path);
  if (text.empty() || !absl::SimpleAtoi(text, &value)) return std::nullopt;
  return value;
}

std::string Upper(std::string text) { return absl::AsciiStrToUpper(text); }

std::optional<web::json::value> ParseJson(std::string_view text) {
  try {
    return web::json::value::parse(std::string(text));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string JsonString(const web::json::value& object, const char* name) {
  if (!object.is_object() || !object.has_field(name)) return "";
  const web::json::value& v = object.at(name);
  if (v.is_string()) return v.as_string();
  if (v.is_null()) return "";
  return v.serialize();
}

// A JSON boolean that some servers send as a string.
bool JsonBool(const web::json::value& object, const char* name, bool fallback) {
  if (!object.is_object() || !object.has_field(name)) return fallback;
  const web::json::value& v = object.at(name);
  if (v.is_boolean()) return v.as_bool();
  if (v.is_string()) return absl::EqualsIgnoreCase(v.as_string(), "true");
  return fallback;
}

std::optional<int64_t> JsonInt(const web::json::value& object, const char* name) {
  if (!object.is_object() || !object.has_field(name)) return std::nullopt;
  const web::json::value& v = object.at(name);
  if (v.is_number() && v.as_number().is_int64()) return v.as_number().to_int64();
  int64_t parsed;
  if (v.is_string() && absl::SimpleAtoi(v.as_string(), &parsed)) return parsed;
  return std::nullopt;
}

absl::StatusOr<std::vector<ColumnInfo>> ParseColumns(const web::json::value& schema,
                                                     const char* key) {
  std::vector<ColumnInfo> columns;
  if (!schema.has_field(key) || schema.at(key).is_null()) return columns;
  if (!schema.at(key).is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("table schema JSON '", key, "' is not an array"));
  }
  for (const web::json::value& c : schema.at(key).as_array()) {
    ColumnInfo column;
    column.name = JsonString(c, "name");
    column.type = JsonString(c, "type");
    column.comment = JsonString(c, "comment");
    column.nullable = JsonBool(c, "isNullable", true);
    if (column.name.empty() || column.type.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("table schema JSON '", key, "' entry ",
                                                     columns.size(), " lacks a name or type"));
    }
    columns.push_back(std::move(column));
  }
  return columns;
}

std::string RandomGuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) {
    // Uniqueness is best-effort here; MaxCompute only uses the uuid for de-duplication hints.
    const uint64_t t = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
    for (size_t i = 0; i < sizeof(b); ++i) b[i] = static_cast<unsigned char>(t >> (i % 8 * 8));
  }
  b[6] = (b[6] & 0x0F) | 0x40;  // version 4
  b[8] = (b[8] & 0x3F) | 0x80;  // RFC 4122 variant
  const std::string hex =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(b), sizeof(b)));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

std::string XmlEscape(std::string_view text) {
  return absl::StrReplaceAll(
      AsAbsl(text),
      {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&apos;"}});
}

std::string CData(std::string_view text) {
  // `]]>` cannot appear inside a CDATA section: end the section before `>` and start a new one.
  return absl::StrCat("<![CDATA[", absl::StrReplaceAll(AsAbsl(text), {{"]]>", "]]]]><![CDATA[>"}}),
                      "]]>");
}

absl::StatusCode CodeForHttpStatus(const HttpResponse& response) {
  switch (response.status) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      // J: 409 with Retry-After means "back off and retry" (instance creation under load).
      return response.Header("Retry-After") ? absl::StatusCode::kUnavailable
                                            : absl::StatusCode::kAlreadyExists;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 501:
      return absl::StatusCode::kUnimplemented;
    default:
      if (response.status >= 500) return absl::StatusCode::kUnavailable;
      if (response.status >= 400) return absl::StatusCode::kFailedPrecondition;
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::StatusOr<TableInfo> ParseTableXml(std::string_view body) {
  auto tree = ParseXml(body, "table response");
  if (!tree.ok()) return tree.status();
  const auto table_node = tree->get_child_optional("Table");
  if (!table_node) return absl::InvalidArgumentError("table response has no <Table> root");
  const ptree::ptree& t = *table_node;
  TableInfo info;
  info.name = Text(t, "Name");
  info.table_id = Text(t, "TableId");
  info.project = Text(t, "Project");
  info.schema_name = Text(t, "SchemaName");
  info.owner = Text(t, "Owner");
  info.comment = Text(t, "Comment");
  info.type = Text(t, "Type");
  const std::string schema_text = Text(t, "Schema");
  if (schema_text.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("table response for '", info.name, "' has no <Schema> JSON"));
  }
  const std::optional<web::json::value> schema = ParseJson(schema_text);
  if (!schema || !schema->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("table response for '", info.name,
                                                   "' has a <Schema> that is not a JSON object"));
  }
  auto columns = ParseColumns(*schema, "columns");
  if (!columns.ok()) return columns.status();
  info.columns = *std::move(columns);
  auto partition_keys = ParseColumns(*schema, "partitionKeys");
  if (!partition_keys.ok()) return partition_keys.status();
  info.partition_keys = *std::move(partition_keys);
  if (info.name.empty()) info.name = JsonString(*schema, "tableName");
  if (info.owner.empty()) info.owner = JsonString(*schema, "owner");
  if (info.comment.empty()) info.comment = JsonString(*schema, "comment");
  info.lifecycle_days = JsonInt(*schema, "lifecycle");
  // Reserved is JSON carried as a string inside the JSON (sometimes an object).
  if (schema->has_field("Reserved")) {
    const web::json::value& raw = schema->at("Reserved");
    std::optional<web::json::value> reserved =
        raw.is_string() ? ParseJson(raw.as_string()) : std::optional<web::json::value>(raw);
    if (reserved && reserved->is_object()) {
      info.transactional = JsonBool(*reserved, "Transactional", false);
      if (reserved->has_field("PrimaryKey") && reserved->at("PrimaryKey").is_array()) {
        for (const auto& key : reserved->at("PrimaryKey").as_array()) {
          if (key.is_string()) info.primary_key.push_back(key.as_string());
        }
      }
    }
  }
  return info;
}

std::string PartitionInfo::Spec() const {
  return absl::StrJoin(values, ",", absl::PairFormatter("="));
}

absl::StatusOr<PartitionPage> ParsePartitionsXml(std::string_view body) {
  auto tree = ParseXml(body, "partition list response");
  if (!tree.ok()) return tree.status();
  const auto root = tree->get_child_optional("Partitions");
  if (!root) return absl::InvalidArgumentError("partition list response has no <Partitions> root");
  PartitionPage page;
  page.marker = Text(*root, "Marker");
  for (const auto& [key, node] : *root) {
    if (key != "Partition") continue;
    PartitionInfo partition;
    for (const auto& [child_key, child] : node) {
      if (child_key != "Column") continue;
      partition.values.emplace_back(child.get("<xmlattr>.Name", ""),
                                    child.get("<xmlattr>.Value", ""));
    }
    if (partition.values.empty()) {
      // The `?partitions&name` form: <Name>pt=1,region=hz</Name>.
      for (absl::string_view kv : absl::StrSplit(Text(node, "Name"), ',', absl::SkipEmpty())) {
        const std::pair<std::string, std::string> split =
            absl::StrSplit(kv, absl::MaxSplits('=', 1));
        partition.values.emplace_back(
            split.first, std::string(absl::StripPrefix(absl::StripSuffix(split.second, "'"), "'")));
      }
    }
    if (partition.values.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("partition ", page.partitions.size(),
                                                     " in the list response has no columns"));
    }
    partition.creation_time = Int(node, "CreationTime");
    partition.last_modified_time = Int(node, "LastModifiedTime");
    partition.size_bytes = Int(node, "PartitionSize");
    partition.record_count = Int(node, "PartitionRecordCount");
    page.partitions.push_back(std::move(partition));
  }
  return page;
}

std::string BuildSqlInstanceXml(const SqlTask& task) {
  std::string query = task.query;
  const absl::string_view trimmed = absl::StripTrailingAsciiWhitespace(query);
  if (trimmed.empty() || trimmed.back() != ';') query = absl::StrCat(trimmed, ";");
  web::json::value settings = web::json::value::object();
  for (const auto& [key, value] : task.settings) settings[key] = web::json::value::string(value);
  const std::string guid = task.guid.empty() ? RandomGuid() : task.guid;
  std::string xml = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Instance><Job><Priority>", task.priority,
      "</Priority><Tasks><SQL><Name>", XmlEscape(task.task_name), "</Name><Config>",
      "<Property><Name>uuid</Name><Value>", XmlEscape(guid), "</Value></Property>");
  if (!task.settings.empty()) {
    absl::StrAppend(&xml, "<Property><Name>settings</Name><Value>", XmlEscape(settings.serialize()),
                    "</Value></Property>");
  }
  absl::StrAppend(&xml, "</Config><Query>", CData(query),
                  "</Query></SQL></Tasks><DAG><RunMode>Sequence</RunMode></DAG></Job></Instance>");
  return xml;
}

absl::StatusOr<std::string> InstanceIdFromLocation(std::string_view location) {
  while (!location.empty() && location.back() == '/') location.remove_suffix(1);
  const size_t slash = location.rfind('/');
  const std::string_view id =
      slash == std::string_view::npos ? location : location.substr(slash + 1);
  if (id.empty() || location.find("/instances/") == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance Location '", AsAbsl(location), "' does not end in /instances/<id>"));
  }
  return std::string(id);
}

bool InstanceStatusInfo::succeeded() const {
  if (!terminated()) return false;
  for (const TaskStatusInfo& task : tasks) {
    if (task.status != "SUCCESS") return false;
  }
  return true;
}

absl::StatusOr<InstanceStatusInfo> ParseInstanceStatusXml(std::string_view body) {
  auto tree = ParseXml(body, "instance status response");
  if (!tree.ok()) return tree.status();
  const auto root = tree->get_child_optional("Instance");
  if (!root) return absl::InvalidArgumentError("instance status response has no <Instance> root");
  InstanceStatusInfo info;
  info.status = Upper(Text(*root, "Status"));
  if (const auto tasks = root->get_child_optional("Tasks")) {
    for (const auto& [key, node] : *tasks) {
      if (key != "Task") continue;
      info.tasks.push_back(TaskStatusInfo{Text(node, "Name"), node.get("<xmlattr>.Type", ""),
                                          Upper(Text(node, "Status"))});
    }
  }
  if (info.status.empty()) {
    return absl::InvalidArgumentError("instance status response has no <Status>");
  }
  return info;
}

absl::StatusOr<std::vector<TaskResultInfo>> ParseInstanceResultXml(std::string_view body) {
  auto tree = ParseXml(body, "instance result response");
  if (!tree.ok()) return tree.status();
  const auto tasks = tree->get_child_optional("Instance.Tasks");
  if (!tasks)
    return absl::InvalidArgumentError("instance result response has no <Instance><Tasks>");
  std::vector<TaskResultInfo> results;
  for (const auto& [key, node] : *tasks) {
    if (key != "Task") continue;
    TaskResultInfo result;
    result.name = Text(node, "Name");
    result.status = Upper(Text(node, "Status"));
    if (const auto r = node.get_child_optional("Result")) {
      result.format = r->get("<xmlattr>.Format", "");
      result.text = r->data();
      if (absl::EqualsIgnoreCase(r->get("<xmlattr>.Transform", ""), "Base64")) {
        std::string decoded;
        if (!absl::Base64Unescape(absl::StripAsciiWhitespace(result.text), &decoded)) {
          return absl::InvalidArgumentError(
              absl::StrCat("task '", result.name, "' result is marked Base64 but is not base64"));
        }
        result.text = std::move(decoded);
      }
    }
    results.push_back(std::move(result));
  }
  return results;
}

absl::Status MaxComputeErrorToStatus(const HttpResponse& response, std::string_view operation) {
  std::string code;
  std::string message;
  std::string request_id;
  if (const auto tree = ParseXml(response.body, "error body"); tree.ok()) {
    if (const auto error = tree->get_child_optional("Error")) {
      code = Text(*error, "Code");
      message = Text(*error, "Message");
      request_id = Text(*error, "RequestId");
    }
  }
  if (code.empty()) {
    if (const auto json = ParseJson(response.body); json && json->is_object()) {
      code = JsonString(*json, "Code");
      message = JsonString(*json, "Message");
      request_id = JsonString(*json, "RequestId");
    }
  }
  if (request_id.empty()) {
    if (const auto header = response.Header("x-odps-request-id")) request_id = std::string(*header);
  }
  if (code.empty() && message.empty() && !response.body.empty()) {
    message = response.body.substr(0, kMaxBodyInMessage);
    if (response.body.size() > kMaxBodyInMessage) message += "...";
  }
  std::string text = absl::StrCat(AsAbsl(operation), " failed: HTTP ", response.status);
  if (!code.empty()) absl::StrAppend(&text, " ", code);
  if (!message.empty()) absl::StrAppend(&text, ": ", message);
  if (!request_id.empty()) absl::StrAppend(&text, " (request id ", request_id, ")");
  absl::Status status(CodeForHttpStatus(response), text);
  if (!code.empty()) status.SetPayload(kErrorCodePayload, absl::Cord(code));
  return status;
}

std::optional<std::string> MaxComputeErrorCode(const absl::Status& status) {
  const auto payload = status.GetPayload(kErrorCodePayload);
  if (!payload) return std::nullopt;
  return std::string(*payload);
}

}  // namespace mcsink::maxcompute_client
