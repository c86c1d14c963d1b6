// mclocal-sql: runs one SQL statement against a MaxCompute endpoint (mclocal, or the real
// service) through the instances API and prints the result the way the MaxCompute console does:
// a table for SELECT, the partition list then "OK" for SHOW PARTITIONS, "OK" for DDL. Keys are
// read from ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET.
//
//   mclocal-sql --endpoint=http://127.0.0.1:8080/api --project=connector_test
//       'select * from test_kafka where pt="11-17-2020 14";'
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mcsink/common/status.h"
#include "mcsink/maxcompute_client/credentials.h"
#include "mcsinkctl/sql_console.h"

ABSL_FLAG(std::string, endpoint, "http://127.0.0.1:8080/api", "MaxCompute service endpoint");
ABSL_FLAG(std::string, project, "", "project to run the statement in");
ABSL_FLAG(std::string, e, "", "the statement (or give it as the argument)");

namespace mcc = mcsink::maxcompute_client;

namespace {

absl::Status Run(const std::string& statement) {
  // Keys come from the environment, never the command line (ps would show them); mclocal's
  // permissive mode takes any, so without them it signs as "mclocal".
  mcc::Credentials creds{"mclocal", "mclocal", "", {}};
  if (auto env = mcc::EnvCredentialsProvider().Get(); env.ok()) creds = *std::move(env);
  mcsink::ctl::SqlConsoleOptions options;
  options.endpoint = absl::GetFlag(FLAGS_endpoint);
  options.project = absl::GetFlag(FLAGS_project);
  options.credentials = std::make_shared<mcc::StaticCredentialsProvider>(std::move(creds));
  // The one SQL console of the project (shared with `mcsinkctl sql`).
  MCSINK_ASSIGN_OR_RETURN(const std::string out, mcsink::ctl::RunSqlStatement(options, statement));
  std::cout << out;
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
