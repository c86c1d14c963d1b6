#include "mcsinkctl/sql_console.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mclocal/render.h"
#include "mcsink/common/status.h"

namespace mcsink::ctl {

namespace mcc = maxcompute_client;

absl::StatusOr<std::string> RenderSqlOutcome(const mcc::SqlOutcome& outcome) {
  if (!outcome.status.succeeded()) {
    std::string text;
    for (const mcc::TaskResultInfo& r : outcome.results) {
      if (!r.text.empty()) absl::StrAppend(&text, text.empty() ? "" : "\n", r.text);
    }
    if (text.empty()) text = absl::StrCat("instance ", outcome.instance_id, " failed");
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return absl::FailedPreconditionError(absl::StrCat("FAILED: ", text));
  }
  std::string out;
  for (const mcc::TaskResultInfo& r : outcome.results) {
    if (r.format == "csv") {
      std::vector<std::string> names;
      std::vector<std::vector<std::optional<std::string>>> rows;
      if (auto st = mclocal::ParseCsv(r.text, &names, &rows); !st.ok()) {
        return Annotate(st, absl::StrCat("the CSV result of instance ", outcome.instance_id));
      }
      absl::StrAppend(&out, mclocal::RenderConsoleTable(names, outcome.column_types, rows));
      continue;
    }
    if (!r.text.empty()) {
      absl::StrAppend(&out, r.text, r.text.back() == '\n' ? "" : "\n", "\n");
    }
    absl::StrAppend(&out, "OK\n");
  }
  if (outcome.results.empty()) out = "OK\n";
  return out;
}

absl::StatusOr<std::string> RunSqlStatement(const SqlConsoleOptions& options,
                                            const std::string& statement) {
  if (options.project.empty()) {
    return absl::InvalidArgumentError(
        "no MaxCompute project: name the project the statement runs in (--project)");
  }
  std::string sql = statement;
  while (!sql.empty() && (sql.back() == ' ' || sql.back() == '\n' || sql.back() == '\t')) {
    sql.pop_back();
  }
  if (sql.empty()) return absl::InvalidArgumentError("the SQL statement is empty");
  mcc::RestClientOptions rest;
  rest.endpoint = options.endpoint;
  rest.project = options.project;
  rest.region = options.region;
  rest.retry.max_attempts = 3;
  // A console answers in human time: poll quickly at first.
  rest.sql_poll_interval = absl::Milliseconds(100);
  rest.sql_poll_max_interval = absl::Seconds(1);
  MCSINK_ASSIGN_OR_RETURN(auto client, mcc::RestClient::Create(rest, options.credentials));
  mcc::SqlTask task;
  task.query = std::move(sql);
  MCSINK_ASSIGN_OR_RETURN(const mcc::SqlOutcome outcome, client->ExecuteSql(task));
  return RenderSqlOutcome(outcome);
}

}  // namespace mcsink::ctl
