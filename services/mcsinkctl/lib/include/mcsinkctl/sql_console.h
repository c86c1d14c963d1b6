// One SQL statement run the way the MaxCompute console runs it, and its output printed the way
// the console prints it: a table for a SELECT, the result text then `OK` for SHOW PARTITIONS and
// DDL. Shared by `mcsinkctl sql` and mclocal-sql, so there is one client of the SQL instance API
// (RestClient::ExecuteSql) and one rendering.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "mcsink/maxcompute_client/credentials.h"
#include "mcsink/maxcompute_client/rest_client.h"

namespace mcsink::ctl {

struct SqlConsoleOptions {
  std::string endpoint;               // e.g. http://127.0.0.1:8080/api
  std::string project;                // the statement runs in this project
  std::optional<std::string> region;  // set: signature V4
  std::shared_ptr<maxcompute_client::CredentialsProvider> credentials;
};

// The statement's console output. A statement MaxCompute rejects is FailedPrecondition
// "FAILED: <the server's message>", as the console shows it; other errors say which request
// failed.
absl::StatusOr<std::string> RunSqlStatement(const SqlConsoleOptions& options,
                                            const std::string& statement);

// The console text of a finished instance (exposed for tests).
absl::StatusOr<std::string> RenderSqlOutcome(const maxcompute_client::SqlOutcome& outcome);

}  // namespace mcsink::ctl
