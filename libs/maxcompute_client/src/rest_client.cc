#include "mcsink/maxcompute_client/rest_client.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/common/strings.h"
#include "mcsink/maxcompute_client/signing.h"

namespace mcsink::maxcompute_client {
namespace {}  // namespace

absl::StatusOr<std::unique_ptr<RestClient>> RestClient::Create(
    RestClientOptions options, std::shared_ptr<CredentialsProvider> credentials) {
  if (options.project.empty()) {
    return absl::InvalidArgumentError("RestClientOptions.project is empty: name the project");
  }
  if (!credentials) return absl::InvalidArgumentError("RestClient needs a credentials provider");
  HttpClientOptions http;
  http.base_url = options.endpoint;
  http.timeout = options.timeout;
  http.retry = options.retry;
  auto client = HttpClient::Create(std::move(http), MakeOdpsSigner(credentials, options.region));
  if (!client.ok()) return Annotate(client.status(), "MaxCompute service endpoint");
  return std::unique_ptr<RestClient>(new RestClient(std::move(options), *std::move(client)));
}

RestClient::RestClient(RestClientOptions options, std::unique_ptr<HttpClient> http)
    : options_(std::move(options)), http_(std::move(http)) {}

std::string RestClient::TablePath(std::string_view table, std::string_view schema) const {
  if (schema.empty())
    return absl::StrCat("/projects/", options_.project, "/tables/", AsAbsl(table));
  return absl::StrCat("/projects/", options_.project, "/schemas/", AsAbsl(schema), "/tables/",
                      AsAbsl(table));
}

absl::StatusOr<HttpResponse> RestClient::Call(HttpRequest request, std::string_view operation) {
  if (std::none_of(request.query.begin(), request.query.end(),
                   [](const QueryParam& p) { return p.first == "curr_project"; })) {
    request.query.emplace_back("curr_project", options_.project);
  }
  SetHeader(&request.headers, "x-odps-user-agent", options_.user_agent);
  SetHeader(&request.headers, "User-Agent", options_.user_agent);
  auto response = http_->Send(request);
  if (!response.ok()) return Annotate(response.status(), AsAbsl(operation));
  if (response->status < 200 || response->status > 299) {
    return MaxComputeErrorToStatus(*response, operation);
  }
  return response;
}

absl::StatusOr<TableInfo> RestClient::GetTable(std::string_view table, std::string_view schema) {
  HttpRequest request;
  request.path = TablePath(table, schema);
  const std::string operation = absl::StrCat("get table ", options_.project, ".", AsAbsl(table));
  MCSINK_ASSIGN_OR_RETURN(const HttpResponse response, Call(std::move(request), operation));
  auto info = ParseTableXml(response.body);
  if (!info.ok()) return Annotate(info.status(), operation);
  return info;
}

absl::StatusOr<std::vector<PartitionInfo>> RestClient::ListPartitions(std::string_view table,
                                                                      std::string_view prefix_spec,
                                                                      int page_size,
                                                                      std::string_view schema) {
  const std::string operation =
      absl::StrCat("list partitions of ", options_.project, ".", AsAbsl(table));
  std::vector<PartitionInfo> partitions;
  std::string marker;
  for (;;) {
    HttpRequest request;
    request.path = TablePath(table, schema);
    request.query = {{"partitions", ""},
                     {"expectmarker", "true"},
                     {"maxitems", absl::StrCat(std::max(1, page_size))}};
    if (!prefix_spec.empty()) request.query.emplace_back("partition", std::string(prefix_spec));
    if (!marker.empty()) request.query.emplace_back("marker", marker);
    MCSINK_ASSIGN_OR_RETURN(const HttpResponse response, Call(std::move(request), operation));
    auto page = ParsePartitionsXml(response.body);
    if (!page.ok()) return Annotate(page.status(), operation);
    for (PartitionInfo& p : page->partitions) partitions.push_back(std::move(p));
    if (page->marker.empty()) return partitions;
    if (page->marker == marker) {
      return absl::InternalError(absl::StrCat(operation, ": the server returned marker '", marker,
                                              "' twice; stopping to avoid an endless listing"));
    }
    marker = std::move(page->marker);
  }
}

absl::StatusOr<std::string> RestClient::CreateSqlInstance(const SqlTask& task) {
  HttpRequest request;
  request.method = "POST";
  request.path = absl::StrCat("/projects/", options_.project, "/instances");
  request.headers = {{"Content-Type", "application/xml"}};
  request.SetBody(BuildSqlInstanceXml(task));
  const std::string operation =
      absl::StrCat("create SQL instance ", task.task_name, " in ", options_.project);
  MCSINK_ASSIGN_OR_RETURN(const HttpResponse response, Call(std::move(request), operation));
  const auto location = response.Header("Location");
  if (!location) {
    return absl::InternalError(
        absl::StrCat(operation, ": HTTP ", response.status, " without a Location header"));
  }
  auto id = InstanceIdFromLocation(*location);
  if (!id.ok()) return Annotate(id.status(), operation);
  return id;
}

absl::StatusOr<InstanceStatusInfo> RestClient::GetInstanceStatus(std::string_view instance_id) {
  HttpRequest request;
  request.path = absl::StrCat("/projects/", options_.project, "/instances/", AsAbsl(instance_id));
  request.query = {{"taskstatus", ""}};
  const std::string operation = absl::StrCat("get status of instance ", AsAbsl(instance_id));
  MCSINK_ASSIGN_OR_RETURN(const HttpResponse response, Call(std::move(request), operation));
  auto status = ParseInstanceStatusXml(response.body);
  if (!status.ok()) return Annotate(status.status(), operation);
  return status;
}

absl::StatusOr<std::pair<std::vector<TaskResultInfo>, HttpResponse>>
RestClient::FetchInstanceResult(std::string_view instance_id) {
  HttpRequest request;
  request.path = absl::StrCat("/projects/", options_.project, "/instances/", AsAbsl(instance_id));
  request.query = {{"result", ""}};
  const std::string operation = absl::StrCat("get result of instance ", AsAbsl(instance_id));
  MCSINK_ASSIGN_OR_RETURN(HttpResponse response, Call(std::move(request), operation));
  auto results = ParseInstanceResultXml(response.body);
  if (!results.ok()) return Annotate(results.status(), operation);
  return std::make_pair(*std::move(results), std::move(response));
}

absl::StatusOr<std::vector<TaskResultInfo>> RestClient::GetInstanceResult(
    std::string_view instance_id) {
  MCSINK_ASSIGN_OR_RETURN(auto fetched, FetchInstanceResult(instance_id));
  return std::move(fetched.first);
}

absl::StatusOr<SqlOutcome> RestClient::ExecuteSql(const SqlTask& task) {
  SqlOutcome outcome;
  MCSINK_ASSIGN_OR_RETURN(outcome.instance_id, CreateSqlInstance(task));
  const absl::Time deadline = absl::Now() + options_.sql_timeout;
  absl::Duration interval = options_.sql_poll_interval;
  for (;;) {
    MCSINK_ASSIGN_OR_RETURN(outcome.status, GetInstanceStatus(outcome.instance_id));
    if (outcome.status.terminated()) break;
    if (absl::Now() + interval > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("SQL instance ", outcome.instance_id, " (", task.task_name, ") still ",
                       outcome.status.status, " after ", absl::FormatDuration(options_.sql_timeout),
                       "; raise RestClientOptions.sql_timeout or check the instance in Logview"));
    }
    absl::SleepFor(interval);
    interval = std::min(interval * 2, options_.sql_poll_max_interval);
  }
  MCSINK_ASSIGN_OR_RETURN(auto fetched, FetchInstanceResult(outcome.instance_id));
  outcome.results = std::move(fetched.first);
  if (auto types = fetched.second.Header("x-mclocal-column-types"); types && !types->empty()) {
    outcome.column_types = absl::StrSplit(std::string(*types), ',');
  }
  return outcome;
}

absl::StatusOr<std::vector<TaskResultInfo>> RestClient::RunSql(const SqlTask& task) {
  MCSINK_ASSIGN_OR_RETURN(SqlOutcome outcome, ExecuteSql(task));
  if (outcome.status.succeeded()) return std::move(outcome.results);
  std::string detail;
  for (const TaskStatusInfo& t : outcome.status.tasks) {
    if (t.status == "SUCCESS") continue;
    absl::StrAppend(&detail, detail.empty() ? "" : "; ", "task ", t.name, " ", t.status);
    for (const TaskResultInfo& r : outcome.results) {
      if (r.name == t.name && !r.text.empty()) absl::StrAppend(&detail, ": ", r.text);
    }
  }
  return absl::FailedPreconditionError(absl::StrCat("SQL instance ", outcome.instance_id, " (",
                                                    task.task_name, ") failed: ", detail,
                                                    ". Query: ", task.query.substr(0, 200)));
}

absl::StatusOr<std::string> RestClient::GetTunnelEndpoint(std::string_view quota_name) {
  HttpRequest request;
  request.path = absl::StrCat("/projects/", options_.project, "/tunnel");
  request.query = {{"service", ""}};
  if (!quota_name.empty()) request.query.emplace_back("quotaName", std::string(quota_name));
  const std::string operation = absl::StrCat("discover the tunnel endpoint of ", options_.project);
  MCSINK_ASSIGN_OR_RETURN(const HttpResponse response, Call(std::move(request), operation));
  const absl::string_view host = absl::StripAsciiWhitespace(response.body);
  if (host.empty() || absl::StrContains(host, "/")) {
    return absl::InternalError(
        absl::StrCat(operation, ": expected 'host[:port]', got '", host.substr(0, 100), "'"));
  }
  const std::string scheme =
      absl::StartsWithIgnoreCase(options_.endpoint, "https://") ? "https" : "http";
  return absl::StrCat(scheme, "://", host);
}

}  // namespace mcsink::maxcompute_client
