#include "mcsinkctl/cli.h"

#include <string_view>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/status.h"
#include "mcsink/common/tls.h"
#include "mcsink/maxcompute_client/credentials.h"
#include "mcsinkctl/config_input.h"
#include "mcsinkctl/output.h"
#include "mcsinkctl/sql_console.h"

namespace mcsink::ctl {
namespace {

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// "partition=offset,..." for offsets reset --to.
absl::StatusOr<v1::OffsetList> ParseOffsetList(const std::string& text, const std::string& topic) {
  v1::OffsetList list;
  std::vector<std::string> errors;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    const std::vector<std::string> kv = absl::StrSplit(item, '=');
    int32_t partition = 0;
    int64_t offset = 0;
    if (kv.size() != 2 || !absl::SimpleAtoi(kv[0], &partition) || partition < 0 ||
        !absl::SimpleAtoi(kv[1], &offset) || offset < 0) {
      errors.push_back(absl::StrCat("'", std::string(item),
                                    "' is not PARTITION=OFFSET (both whole numbers, >= 0)"));
      continue;
    }
    v1::PartitionOffset* p = list.add_partitions();
    p->set_topic(topic);
    p->set_partition(partition);
    p->set_committed_offset(offset);
  }
  if (errors.empty() && list.partitions().empty()) {
    errors.push_back("no partition given; e.g. --to 0=42,1=17");
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--to: ", absl::StrJoin(errors, "; ")));
  }
  return list;
}

}  // namespace

Cli::Cli(std::shared_ptr<v1::ConnectorService::StubInterface> stub, EnvLookup env,
         std::ostream& out, std::ostream& err)
    : stub_(std::move(stub)), env_(std::move(env)), out_(out), err_(err) {}

std::unique_ptr<grpc::ClientContext> Cli::Context(const GlobalOptions& global) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + global.rpc_timeout));
  if (global.token) context->AddMetadata("authorization", absl::StrCat("Bearer ", *global.token));
  return context;
}

absl::Status Cli::CallError(const grpc::Status& status, const GlobalOptions& global,
                            const std::string& what) const {
  absl::Status st = FromGrpcStatus(status);
  switch (st.code()) {
    case absl::StatusCode::kUnavailable:
      return absl::UnavailableError(absl::StrCat(
          what, ": the controller at ", global.controller, " is unavailable (", st.message(),
          "); is it running there? point mcsinkctl at it with --controller or MCSINK_CONTROLLER"));
    case absl::StatusCode::kDeadlineExceeded:
      return absl::DeadlineExceededError(
          absl::StrCat(what, ": the controller at ", global.controller, " did not answer in ",
                       absl::FormatDuration(global.rpc_timeout), " (", st.message(), ")"));
    case absl::StatusCode::kUnauthenticated:
      return absl::UnauthenticatedError(
          absl::StrCat(what, ": the controller refused the call (", st.message(),
                       "); give its token with --token-file or MCSINK_TOKEN"));
    default:
      return absl::Status(st.code(), absl::StrCat(what, ": ", st.message()));
  }
}

void Cli::PrintError(const absl::Status& status) {
  const std::string message(status.message());
  // The controller names every bad field as "invalid connector config: field: message; field:
  // message" (config::Normalize's form); one field a line is easier to read and to grep.
  static constexpr std::string_view kHead = "invalid connector config";
  static constexpr std::string_view kSeparator = ": ";
  const size_t head = message.find(std::string(kHead) + std::string(kSeparator));
  if (status.code() == absl::StatusCode::kInvalidArgument && head != std::string::npos) {
    const size_t fields = head + kHead.size() + kSeparator.size();
    err_ << "mcsinkctl: " << message.substr(0, head + kHead.size()) << ":\n";
    for (absl::string_view item : absl::StrSplit(message.substr(fields), "; ")) {
      err_ << "  " << item << "\n";
    }
    return;
  }
  err_ << "mcsinkctl: " << message << "\n";
}

void Cli::Print(const GlobalOptions& global, const google::protobuf::Message& message,
                const std::string& table) {
  out_ << (global.output == OutputFormat::kJson ? ToJson(message) : table);
}

int Cli::Run(const Invocation& invocation) {
  int exit_code = kExitOk;
  const absl::Status st = Dispatch(invocation, &exit_code);
  if (!st.ok()) {
    PrintError(st);
    return ExitCodeFor(st);
  }
  return exit_code;
}

absl::Status Cli::Dispatch(const Invocation& inv, int* exit_code) {
  const std::string& c = inv.command.front();
  if (c == "help") {
    out_ << UsageText();
    return absl::OkStatus();
  }
  if (c == "sql") return Sql(inv, exit_code);
  if (!stub_) return absl::InternalError("no controller connection");
  if (c == "create") return Create(inv, exit_code);
  if (c == "validate") return Validate(inv, exit_code);
  if (c == "get") return Get(inv);
  if (c == "list") return List(inv);
  if (c == "deploy" || c == "pause" || c == "resume" || c == "restart") {
    return Lifecycle(inv, exit_code);
  }
  if (c == "delete") return Delete(inv);
  if (c == "status") return Status(inv);
  if (c == "offsets") return Offsets(inv);
  if (c == "watch") return Watch(inv);
  return UsageError(absl::StrCat("unknown command '", c, "'"));
}

absl::Status Cli::Create(const Invocation& inv, int* exit_code) {
  auto config = ConfigFromInvocation(inv);
  if (!config.ok()) return config.status();
  v1::CreateConnectorRequest request;
  *request.mutable_config() = *std::move(config);
  request.set_deploy(inv.Has("deploy"));
  const std::string name = request.config().name();
  v1::Connector response;
  auto context = Context(inv.global);
  const grpc::Status st = stub_->CreateConnector(context.get(), request, &response);
  if (!st.ok()) return CallError(st, inv.global, absl::StrCat("create connector ", name));
  Print(inv.global, response,
        absl::StrCat(
            "connector ", name, " created",
            request.deploy() ? " and deployed" : " (not deployed: mcsinkctl deploy " + name + ")",
            "\n"));
  if (inv.global.wait && request.deploy()) {
    *exit_code = WaitFor(inv.global, response.record(), v1::CONNECTOR_STATE_RUNNING);
  }
  return absl::OkStatus();
}

absl::Status Cli::Validate(const Invocation& inv, int* exit_code) {
  auto config = ConfigFromInvocation(inv);
  if (!config.ok()) return config.status();
  v1::ValidateConnectorRequest request;
  *request.mutable_config() = *std::move(config);
  request.set_check_target(inv.Has("check-target"));
  v1::ValidateConnectorResponse response;
  auto context = Context(inv.global);
  const grpc::Status st = stub_->ValidateConnector(context.get(), request, &response);
  if (!st.ok()) {
    return CallError(st, inv.global, absl::StrCat("validate connector ", request.config().name()));
  }
  std::vector<std::pair<std::string, std::string>> violations;
  for (const v1::FieldViolation& v : response.violations()) {
    violations.emplace_back(v.field(), v.message());
  }
  if (violations.empty()) {
    Print(inv.global, response,
          absl::StrCat("connector ", request.config().name(), ": the config is valid\n"));
    return absl::OkStatus();
  }
  Print(inv.global, response, RenderViolations(violations));
  err_ << "mcsinkctl: the config of " << request.config().name() << " has " << violations.size()
       << (violations.size() == 1 ? " problem\n" : " problems\n");
  *exit_code = kExitInvalid;
  return absl::OkStatus();
}

absl::Status Cli::Get(const Invocation& inv) {
  v1::ConnectorName request;
  request.set_name(inv.positionals[0]);
  v1::Connector response;
  auto context = Context(inv.global);
  const grpc::Status st = stub_->GetConnector(context.get(), request, &response);
  if (!st.ok()) return CallError(st, inv.global, absl::StrCat("get connector ", request.name()));
  Print(inv.global, response, RenderConnector(response));
  return absl::OkStatus();
}

absl::Status Cli::List(const Invocation& inv) {
  v1::ListConnectorsResponse response;
  auto context = Context(inv.global);
  const grpc::Status st =
      stub_->ListConnectors(context.get(), v1::ListConnectorsRequest(), &response);
  if (!st.ok()) return CallError(st, inv.global, "list connectors");
  Print(inv.global, response, RenderConnectorList(response));
  return absl::OkStatus();
}

absl::Status Cli::Lifecycle(const Invocation& inv, int* exit_code) {
  const std::string& c = inv.command.front();
  const std::string& name = inv.positionals[0];
  v1::ConnectorName request;
  request.set_name(name);
  v1::Connector response;
  auto context = Context(inv.global);
  grpc::Status st;
  if (c == "deploy") {
    st = stub_->DeployConnector(context.get(), request, &response);
  } else if (c == "pause") {
    st = stub_->PauseConnector(context.get(), request, &response);
  } else if (c == "resume") {
    st = stub_->ResumeConnector(context.get(), request, &response);
  } else {
    v1::RestartConnectorRequest restart;
    restart.set_name(name);
    restart.set_only_failed_partitions(inv.Has("only-failed"));
    st = stub_->RestartConnector(context.get(), restart, &response);
  }
  if (!st.ok()) return CallError(st, inv.global, absl::StrCat(c, " connector ", name));
  std::string done =
      absl::StrCat("connector ", name, ": ", c,
                   c == "restart" && inv.Has("only-failed") ? " of the failed partitions requested"
                                                            : " requested",
                   " (target ", ShortName(response.record().target_state()), ", now ",
                   ShortName(response.status().state()), ")\n");
  Print(inv.global, response, done);
  if (inv.global.wait) {
    *exit_code = WaitFor(inv.global, response.record(),
                         c == "pause" ? v1::CONNECTOR_STATE_PAUSED : v1::CONNECTOR_STATE_RUNNING);
  }
  return absl::OkStatus();
}

absl::Status Cli::Delete(const Invocation& inv) {
  v1::DeleteConnectorRequest request;
  request.set_name(inv.positionals[0]);
  request.set_delete_internal_topics(inv.Has("delete-topics"));
  v1::DeleteConnectorResponse response;
  auto context = Context(inv.global);
  const grpc::Status st = stub_->DeleteConnector(context.get(), request, &response);
  if (!st.ok()) return CallError(st, inv.global, absl::StrCat("delete connector ", request.name()));
  Print(inv.global, response,
        absl::StrCat("connector ", request.name(), " deleted",
                     request.delete_internal_topics() ? ", with its internal topics" : "", "\n"));
  return absl::OkStatus();
}

absl::Status Cli::Status(const Invocation& inv) {
  v1::ConnectorName request;
  request.set_name(inv.positionals[0]);
  v1::ConnectorStatus response;
  auto context = Context(inv.global);
  const grpc::Status st = stub_->GetConnectorStatus(context.get(), request, &response);
  if (!st.ok()) {
    return CallError(st, inv.global, absl::StrCat("status of connector ", request.name()));
  }
  Print(inv.global, response, RenderStatus(response));
  return absl::OkStatus();
}

absl::Status Cli::Offsets(const Invocation& inv) {
  const std::string& name = inv.positionals[0];
  v1::ConnectorOffsets response;
  auto context = Context(inv.global);
  if (inv.command[1] == "get") {
    v1::ConnectorName request;
    request.set_name(name);
    const grpc::Status st = stub_->GetOffsets(context.get(), request, &response);
    if (!st.ok()) return CallError(st, inv.global, absl::StrCat("offsets of connector ", name));
    Print(inv.global, response, RenderOffsets(response));
    return absl::OkStatus();
  }
  const int choices =
      (inv.Has("to-earliest") ? 1 : 0) + (inv.Has("to-latest") ? 1 : 0) + (inv.Has("to") ? 1 : 0);
  if (choices != 1) {
    return UsageError(
        "offsets reset needs exactly one of --to-earliest, --to-latest, --to P=OFFSET,...");
  }
  v1::ResetOffsetsRequest request;
  request.set_name(name);
  if (inv.Has("to-earliest")) {
    request.set_earliest(true);
  } else if (inv.Has("to-latest")) {
    request.set_latest(true);
  } else {
    auto list = ParseOffsetList(*inv.Get("to"), inv.Get("topic").value_or(""));
    if (!list.ok()) return list.status();
    *request.mutable_offsets() = *std::move(list);
  }
  const grpc::Status st = stub_->ResetOffsets(context.get(), request, &response);
  if (!st.ok()) {
    absl::Status error = CallError(st, inv.global, absl::StrCat("reset offsets of ", name));
    if (error.code() == absl::StatusCode::kFailedPrecondition) {
      return absl::FailedPreconditionError(
          absl::StrCat(error.message(), "; pause it first: mcsinkctl pause ", name, " --wait"));
    }
    return error;
  }
  Print(inv.global, response, RenderOffsets(response));
  return absl::OkStatus();
}

absl::Status Cli::Watch(const Invocation& inv) {
  v1::WatchConnectorsRequest request;
  if (!inv.positionals.empty()) request.set_name(inv.positionals[0]);
  // A watch runs until the server ends it or the user interrupts: no deadline.
  grpc::ClientContext context;
  if (inv.global.token) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", *inv.global.token));
  }
  auto reader = stub_->WatchConnectors(&context, request);
  v1::ConnectorEvent event;
  while (reader->Read(&event)) {
    out_ << (inv.global.output == OutputFormat::kJson ? ToJson(event, /*pretty=*/false)
                                                      : RenderEvent(event));
    out_.flush();
  }
  const grpc::Status st = reader->Finish();
  if (!st.ok()) return CallError(st, inv.global, "watch connectors");
  return absl::OkStatus();
}

absl::Status Cli::Sql(const Invocation& inv, int* exit_code) {
  std::string statement = inv.Get("execute").value_or("");
  for (const std::string& word : inv.positionals) {
    absl::StrAppend(&statement, statement.empty() ? "" : " ", word);
  }
  if (statement.empty()) {
    return UsageError("give a statement: mcsinkctl sql -e 'show partitions test_kafka;'");
  }
  SqlConsoleOptions options;
  if (auto connector = inv.Get("connector")) {
    if (!stub_) return absl::InternalError("no controller connection");
    v1::ConnectorName request;
    request.set_name(*connector);
    v1::Connector response;
    auto context = Context(inv.global);
    const grpc::Status st = stub_->GetConnector(context.get(), request, &response);
    if (!st.ok()) return CallError(st, inv.global, absl::StrCat("get connector ", *connector));
    const v1::MaxComputeTarget& target = response.record().config().target();
    options.endpoint = target.endpoint();
    options.project = target.project();
    if (!target.region().empty()) options.region = target.region();
  }
  if (auto v = inv.Get("endpoint")) options.endpoint = *v;
  if (auto v = inv.Get("project")) options.project = *v;
  if (auto v = inv.Get("region")) options.region = *v;
  if (options.endpoint.empty() || options.project.empty()) {
    return UsageError(
        "sql needs a MaxCompute endpoint and project: --connector NAME, or --endpoint URL "
        "--project P");
  }
  const auto id = env_("ALIBABA_CLOUD_ACCESS_KEY_ID");
  const auto secret = env_("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
  if (!id || id->empty() || !secret || secret->empty()) {
    return absl::InvalidArgumentError(
        "sql signs its requests with an AccessKey: set ALIBABA_CLOUD_ACCESS_KEY_ID and "
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET (any values for mclocal)");
  }
  maxcompute_client::Credentials credentials;
  credentials.access_key_id = *id;
  credentials.access_key_secret = *secret;
  if (auto token = env_("ALIBABA_CLOUD_SECURITY_TOKEN"); token && !token->empty()) {
    credentials.security_token = *token;
  }
  options.credentials =
      std::make_shared<maxcompute_client::StaticCredentialsProvider>(std::move(credentials));
  auto output = RunSqlStatement(options, statement);
  if (!output.ok()) {
    if (output.status().code() == absl::StatusCode::kFailedPrecondition &&
        StartsWith(std::string(output.status().message()), "FAILED: ")) {
      // The console's own words for a rejected statement, and an exit code of its own.
      err_ << output.status().message() << "\n";
      *exit_code = kExitSqlFailed;
      return absl::OkStatus();
    }
    return output.status();
  }
  out_ << *output;
  return absl::OkStatus();
}

int Cli::WaitFor(const GlobalOptions& global, const v1::ConnectorRecord& after,
                 v1::ConnectorState want) {
  const std::string& name = after.config().name();
  const absl::Time deadline = absl::Now() + global.wait_timeout;
  std::string last_progress;
  v1::ConnectorStatus status;
  for (;;) {
    v1::ConnectorName request;
    request.set_name(name);
    auto context = Context(global);
    const grpc::Status st = stub_->GetConnectorStatus(context.get(), request, &status);
    if (!st.ok()) {
      const absl::Status error = CallError(st, global, absl::StrCat("status of connector ", name));
      PrintError(error);
      return ExitCodeFor(error);
    }
    // A restart is only answered by a status that has seen its generation; a FAILED status only
    // counts when written after our change (a deploy of a failed connector starts it afresh).
    const bool seen_restart = status.observed_restart_generation() >= after.restart_generation();
    const bool fresh = status.updated_at_ms() >= after.updated_at_ms();
    int running = 0;
    for (const auto& p : status.partitions()) running += p.state() == v1::PARTITION_STATE_RUNNING;
    std::string progress = absl::StrCat(name, ": ", ShortName(status.state()));
    if (!status.partitions().empty()) {
      absl::StrAppend(&progress, ", ", running, "/", status.partitions_size(),
                      " partitions running");
    }
    if (progress != last_progress) {
      err_ << progress << "\n";
      last_progress = progress;
    }
    if (seen_restart && status.state() == want) return kExitOk;
    if (seen_restart && fresh && status.state() == v1::CONNECTOR_STATE_FAILED) {
      err_ << "mcsinkctl: connector " << name << " FAILED"
           << (status.message().empty() ? "" : ": " + status.message()) << "\n";
      for (const auto& p : status.partitions()) {
        if (p.state() == v1::PARTITION_STATE_STOPPED || !p.last_error().message().empty()) {
          err_ << "  " << p.topic() << "/" << p.partition() << " " << ShortName(p.state()) << ": "
               << p.last_error().code() << " " << p.last_error().message() << "\n";
        }
      }
      err_ << "  see: mcsinkctl status " << name << "; after fixing: mcsinkctl restart " << name
           << "\n";
      return kExitFailedState;
    }
    if (absl::Now() + global.poll_interval > deadline) {
      err_ << "mcsinkctl: connector " << name << " is " << ShortName(status.state()) << ", not "
           << ShortName(want) << ", after " << absl::FormatDuration(global.wait_timeout)
           << "; see mcsinkctl status " << name << " (raise --wait-timeout to wait longer)\n";
      return kExitWaitTimeout;
    }
    absl::SleepFor(global.poll_interval);
  }
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ControllerChannel(const GlobalOptions& global) {
  auto tls = TlsConfig::Load({.cert_file = global.tls_cert_file,
                              .key_file = global.tls_key_file,
                              .ca_file = global.tls_ca_file});
  if (!tls.ok()) {
    // A missing or unreadable file is a bad argument here (exit 2), whatever its errno.
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-ca-file/--tls-cert-file/--tls-key-file: ", tls.status().message()));
  }
  return CreateChannel(global.controller, *tls);
}

int Main(const std::vector<std::string>& args, const EnvLookup& env, std::ostream& out,
         std::ostream& err) {
  auto invocation = ParseArgs(args, env);
  if (!invocation.ok()) {
    err << "mcsinkctl: " << invocation.status().message() << "\n";
    return ExitCodeFor(invocation.status());
  }
  std::shared_ptr<v1::ConnectorService::StubInterface> stub;
  const std::string& c = invocation->command.front();
  if (c != "help" && (c != "sql" || invocation->Has("connector"))) {
    auto channel = ControllerChannel(invocation->global);
    if (!channel.ok()) {
      err << "mcsinkctl: " << channel.status().message() << "\n";
      return ExitCodeFor(channel.status());
    }
    stub = v1::ConnectorService::NewStub(*std::move(channel));
  }
  Cli cli(std::move(stub), env, out, err);
  return cli.Run(*invocation);
}

}  // namespace mcsink::ctl
