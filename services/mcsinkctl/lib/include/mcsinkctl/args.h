// mcsinkctl's command line: global flags, the subcommand, its flags and positional arguments,
// and the exit codes every command shares.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mcsink::ctl {

// What a script can rely on. Documented in `mcsinkctl --help` and services/mcsinkctl/README.md.
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,            // unknown command or flag, missing argument
  kExitInvalid = 2,          // invalid config or argument (every bad field is printed)
  kExitNotFound = 3,         // no such connector
  kExitUnauthenticated = 4,  // missing or wrong token, or permission denied
  kExitUnavailable = 5,      // the controller (or MaxCompute) cannot be reached, or timed out
  kExitFailedState = 6,      // --wait: the connector reached FAILED
  kExitConflict = 7,         // already exists, or not allowed in the current state
  kExitWaitTimeout = 8,      // --wait: not RUNNING before --wait-timeout
  kExitSqlFailed = 9,        // MaxCompute rejected the SQL statement
  kExitError = 10,           // anything else (internal error)
};

// The exit code for an error status (by its code; OK -> 0).
int ExitCodeFor(const absl::Status& status);

enum class OutputFormat { kTable, kJson };

struct GlobalOptions {
  std::string controller = "127.0.0.1:50051";
  std::optional<std::string> token;  // sent as `authorization: Bearer <token>`; never printed
  // TLS to the controller (PEM files): a CA alone verifies the controller; a certificate and key
  // are presented for mutual TLS. All empty: plaintext.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  OutputFormat output = OutputFormat::kTable;
  bool wait = false;
  absl::Duration wait_timeout = absl::Minutes(5);
  absl::Duration poll_interval = absl::Seconds(1);
  absl::Duration rpc_timeout = absl::Seconds(30);
};

struct Invocation {
  GlobalOptions global;
  // The subcommand's words: {"create"}, {"offsets", "reset"}, {"help"}.
  std::vector<std::string> command;
  std::vector<std::string> positionals;
  // Flag name (without dashes) -> values, in order (repeatable flags have several).
  std::map<std::string, std::vector<std::string>> flags;

  bool Has(const std::string& flag) const { return flags.count(flag) > 0; }
  // The last value of a flag, or nullopt.
  std::optional<std::string> Get(const std::string& flag) const;
};

// Reads an environment variable (nullopt when unset); tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnvironment();

// Parses `args` (without the program name). Global flags may come before or after the
// subcommand; `--flag=value` and `--flag value` are both accepted; `-f`, `-o` and `-e` are short
// for --file, --output and --execute. The controller address comes from --controller, else
// MCSINK_CONTROLLER; the token from --token-file, else MCSINK_TOKEN. Errors: a UsageError (exit
// 1) when the command line is wrong in form, InvalidArgument (exit 2) for a bad value.
absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args, const EnvLookup& env);

// A usage error: the command line is wrong in form (exit 1), as opposed to a bad value (exit 2).
absl::Status UsageError(const std::string& message);
bool IsUsageError(const absl::Status& status);

// The help text: every command, its flags, and the exit codes.
std::string UsageText();

}  // namespace mcsink::ctl
