// mcsinkctl's commands: each calls ConnectorService (or MaxCompute, for `sql`) and prints a
// table or JSON. Kept out of main() so tests run commands against an in-process server.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "mcsink/v1/controller.grpc.pb.h"
#include "mcsinkctl/args.h"

namespace mcsink::ctl {

class Cli {
 public:
  // `stub` may be null for commands that need no controller (help, sql without --connector).
  Cli(std::shared_ptr<v1::ConnectorService::StubInterface> stub, EnvLookup env, std::ostream& out,
      std::ostream& err);

  // Runs one parsed invocation; returns the exit code (see ExitCode).
  int Run(const Invocation& invocation);

 private:
  absl::Status Dispatch(const Invocation& inv, int* exit_code);
  absl::Status Create(const Invocation& inv, int* exit_code);
  absl::Status Validate(const Invocation& inv, int* exit_code);
  absl::Status Get(const Invocation& inv);
  absl::Status List(const Invocation& inv);
  absl::Status Lifecycle(const Invocation& inv, int* exit_code);
  absl::Status Delete(const Invocation& inv);
  absl::Status Status(const Invocation& inv);
  absl::Status Offsets(const Invocation& inv);
  absl::Status Watch(const Invocation& inv);
  absl::Status Sql(const Invocation& inv, int* exit_code);

  // Polls the connector's status until it is `want`, FAILED, or --wait-timeout passes, showing
  // progress on stderr. `after` is the record our call produced: a status that has not seen its
  // restart generation is not yet an answer, nor is a FAILED status older than it.
  int WaitFor(const GlobalOptions& global, const v1::ConnectorRecord& after,
              v1::ConnectorState want);

  std::unique_ptr<grpc::ClientContext> Context(const GlobalOptions& global) const;
  // The call's error with what to do about it.
  absl::Status CallError(const grpc::Status& status, const GlobalOptions& global,
                         const std::string& what) const;
  void PrintError(const absl::Status& status);
  void Print(const GlobalOptions& global, const google::protobuf::Message& message,
             const std::string& table);

  std::shared_ptr<v1::ConnectorService::StubInterface> stub_;
  EnvLookup env_;
  std::ostream& out_;
  std::ostream& err_;
};

// A channel to the controller at `global.controller`: TLS when TLS files are given, else
// plaintext. InvalidArgument naming the file when one cannot be used.
absl::StatusOr<std::shared_ptr<grpc::Channel>> ControllerChannel(const GlobalOptions& global);

// The whole program: parse `args` (without the program name), connect, run; the exit code.
int Main(const std::vector<std::string>& args, const EnvLookup& env, std::ostream& out,
         std::ostream& err);

}  // namespace mcsink::ctl
