// mclocal-sql: runs one SQL statement against a MaxCompute endpoint (mclocal, or the real
// service) through the instances API and prints the result the way the MaxCompute console does:
// a table for SELECT, the partition list then "OK" for SHOW PARTITIONS, "OK" for DDL. Keys are
// read from ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET.
//
//   mclocal-sql --endpoint=http://127.0.0.1:8080/api --project=connector_test
//       'select * from test_kafka where pt="11-17-2020 14";'
#include <iostream>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "mclocal/render.h"
#include "mclocal/xml.h"
#include "mcsink/common/status.h"
#include "mcsink/maxcompute_client/credentials.h"
#include "mcsink/maxcompute_client/http.h"
#include "mcsink/maxcompute_client/signing.h"

ABSL_FLAG(std::string, endpoint, "http://127.0.0.1:8080/api", "MaxCompute service endpoint");
ABSL_FLAG(std::string, project, "", "project to run the statement in");
ABSL_FLAG(std::string, e, "", "the statement (or give it as the argument)");

namespace mcc = mcsink::maxcompute_client;

namespace {

absl::StatusOr<mcc::HttpResponse> Send(mcc::HttpClient& client, mcc::HttpRequest req) {
  MCSINK_ASSIGN_OR_RETURN(mcc::HttpResponse resp, client.Send(req));
  if (resp.status >= 300) {
    const std::string msg = mclocal::XmlElementText(resp.body, "Message").value_or(resp.body);
    return absl::UnknownError(
        absl::StrCat("HTTP ", resp.status, " from ", req.method, " ", req.path, ": ",
                     mclocal::XmlElementText(resp.body, "Code").value_or(""), " ", msg));
  }
  return resp;
}

absl::Status Run(const std::string& statement) {
  const std::string project = absl::GetFlag(FLAGS_project);
  if (project.empty()) return absl::InvalidArgumentError("--project is required");
  // Keys come from the environment, never the command line (ps would show them); mclocal's
  // permissive mode takes any, so without them it signs as "mclocal".
  mcc::Credentials creds{"mclocal", "mclocal", "", {}};
  if (auto env = mcc::EnvCredentialsProvider().Get(); env.ok()) creds = *std::move(env);
  mcc::HttpClientOptions options;
  options.base_url = absl::GetFlag(FLAGS_endpoint);
  options.retry.max_attempts = 3;
  auto signer = [creds](mcc::HttpRequest* r) {
    mcc::RemoveHeader(&r->headers, "Date");
    mcc::SignRequest(r->method, r->path, r->query, &r->headers, creds, absl::Now(), std::nullopt);
    return absl::OkStatus();
  };
  MCSINK_ASSIGN_OR_RETURN(auto client, mcc::HttpClient::Create(options, signer));

  std::string sql = statement;
  while (!sql.empty() && (sql.back() == ' ' || sql.back() == '\n')) sql.pop_back();
  if (sql.empty() || sql.back() != ';') sql += ';';
  mcc::HttpRequest create;
  create.method = "POST";
  create.path = absl::StrCat("/projects/", project, "/instances");
  create.query = {{"curr_project", project}};
  create.headers = {{"Content-Type", "application/xml"}};
  create.SetBody(absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Instance><Job><Priority>9</Priority><Tasks>"
      "<SQL><Name>AnonymousSQLTask</Name><Config/><Query><![CDATA[",
      sql, "]]></Query></SQL></Tasks><DAG><RunMode>Sequence</RunMode></DAG></Job></Instance>"));
  MCSINK_ASSIGN_OR_RETURN(mcc::HttpResponse created, Send(*client, create));
  const auto location = created.Header("Location");
  if (!location) return absl::UnknownError("the instance create response has no Location header");
  const std::string id(location->substr(location->rfind('/') + 1));
  const std::string resource = absl::StrCat("/projects/", project, "/instances/", id);

  // Wait for the instance to terminate.
  for (int attempt = 0;; ++attempt) {
    mcc::HttpRequest status;
    status.path = resource;
    status.query = {{"curr_project", project}};
    MCSINK_ASSIGN_OR_RETURN(mcc::HttpResponse st, Send(*client, status));
    if (mclocal::XmlElementText(st.body, "Status").value_or("") == "Terminated") break;
    if (attempt > 600) return absl::DeadlineExceededError("instance did not finish in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100 * (attempt + 1), 1000)));
  }
  mcc::HttpRequest result;
  result.path = resource;
  result.query = {{"curr_project", project}, {"result", ""}};
  MCSINK_ASSIGN_OR_RETURN(mcc::HttpResponse res, Send(*client, result));
  const std::string task_status = mclocal::XmlElementText(res.body, "Status").value_or("");
  const std::string text = mclocal::XmlElementText(res.body, "Result").value_or("");
  if (task_status != "Success") return absl::UnknownError(absl::StrCat("FAILED: ", text));
  const size_t fmt = res.body.find("Format=\"csv\"");
  if (fmt != std::string::npos) {
    std::vector<std::string> names;
    std::vector<std::vector<std::optional<std::string>>> rows;
    MCSINK_RETURN_IF_ERROR(mclocal::ParseCsv(text, &names, &rows));
    std::vector<std::string> types;
    if (auto t = res.Header("x-mclocal-column-types"); t && !t->empty()) {
      types = absl::StrSplit(std::string(*t), ',');
    }
    std::cout << mclocal::RenderConsoleTable(names, types, rows);
    return absl::OkStatus();
  }
  if (!text.empty()) std::cout << text << (text.back() == '\n' ? "" : "\n") << "\n";
  std::cout << "OK\n";
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "mclocal-sql --endpoint=http://127.0.0.1:8080/api --project=P 'show partitions t;'");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  std::string statement = absl::GetFlag(FLAGS_e);
  for (size_t i = 1; i < args.size(); ++i) {
    if (!statement.empty()) statement += ' ';
    statement += args[i];
  }
  if (statement.empty()) {
    std::cerr << "give a statement: mclocal-sql --project=P 'show partitions t;'\n";
    return 2;
  }
  const absl::Status st = Run(statement);
  if (!st.ok()) {
    std::cerr << st.message() << "\n";
    return 1;
  }
  return 0;
}
