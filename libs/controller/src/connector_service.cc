#include "mcsink/controller/connector_service.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/config/secrets.h"
#include "mcsink/connection/connection.h"
#include "mcsink/controller/internal_topics.h"
#include "mcsink/controller/records.h"
#include "mcsink/controller/status.h"
#include "mcsink/convert/converter.h"
#include "mcsink/journal/kafka_journal.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/transform/transform_service.h"

namespace mcsink::controller {
namespace {

std::string JoinViolations(const std::vector<config::FieldViolation>& violations) {
  return absl::StrJoin(violations, "; ", [](std::string* out, const config::FieldViolation& v) {
    absl::StrAppend(out, v.field, ": ", v.message);
  });
}

// Equal strings take the same time to compare whatever the first difference, so the token
// cannot be guessed byte by byte from response times.
bool SameSecret(absl::string_view a, absl::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

absl::StatusOr<std::unique_ptr<kafka::Admin>> AdminFor(const v1::ConnectorConfig& config) {
  MCSINK_ASSIGN_OR_RETURN(const kafka::Properties props, config::KafkaPropertiesFor(config));
  return kafka::Admin::Create(props);
}

// The internal topics that exist, checked against their rules; in manual mode a missing one is
// a violation too. Nothing is created.
std::vector<config::FieldViolation> CheckExistingTopics(const v1::ConnectorConfig& config) {
  std::vector<config::FieldViolation> out;
  auto admin = AdminFor(config);
  if (!admin.ok()) {
    out.push_back({"kafka_properties", std::string(admin.status().message())});
    return out;
  }
  const bool manual = config.resource_creation() == v1::RESOURCE_CREATION_MANUAL;
  for (const TopicRule& rule : InternalTopicRules(config)) {
    auto described = (*admin)->DescribeTopic(rule.name, absl::Seconds(10));
    if (described.status().code() == absl::StatusCode::kNotFound) {
      if (manual) {
        out.push_back({rule.field, absl::StrCat(rule.role, " ", rule.name,
                                                " does not exist; create it or choose automatic "
                                                "creation")});
      }
      continue;
    }
    if (!described.ok()) {
      out.push_back({rule.field, absl::StrCat("cannot describe ", rule.role, " ", rule.name, ": ",
                                              described.status().message())});
      continue;
    }
    if (absl::Status s = CheckTopic(rule, *described); !s.ok()) {
      // CheckTopic's message starts with the field; the violation names it separately.
      std::string message(s.message());
      const std::string prefix = rule.field + ": ";
      if (absl::StartsWith(message, prefix)) message = message.substr(prefix.size());
      out.push_back({rule.field, message});
    }
  }
  return out;
}

absl::Status ForgetJournalSessions(const v1::ConnectorConfig& config,
                                   const std::map<int32_t, int64_t>& offsets) {
  MCSINK_ASSIGN_OR_RETURN(const kafka::Properties props, config::KafkaPropertiesFor(config));
  journal::KafkaJournalOptions options = journal::JournalOptionsFor(config, props);
  options.owner = "controller";
  // The journal never claims partitions here, so it needs no MaxCompute resolver.
  MCSINK_ASSIGN_OR_RETURN(auto journal, journal::KafkaJournal::Create(options, nullptr));
  std::vector<ingest::TopicPartition> partitions;
  for (const auto& [partition, offset] : offsets) {
    partitions.push_back({config.source_topic(), partition});
  }
  MCSINK_ASSIGN_OR_RETURN(const int forgotten, journal->ForgetSessions(partitions));
  MCSINK_LOG(INFO) << "connector " << config.name() << ": exactly-once journal forgot " << forgotten
                   << " session(s) of the reset partitions";
  return absl::OkStatus();
}

absl::Status NotDeployed(const v1::ConnectorRecord& record, const std::string& what) {
  return absl::FailedPreconditionError(absl::StrCat("connector ", record.config().name(), " is ",
                                                    TargetStateName(record.target_state()), ": ",
                                                    what));
}

}  // namespace

std::optional<TargetProblem> CheckTarget(const v1::ConnectorConfig& config) {
  const v1::MaxComputeTarget& target = config.target();
  const std::string table = absl::StrCat(target.project(), ".", target.table());
  auto connection = connection::Connect(target);
  if (!connection.ok()) {
    const absl::StatusCode code = connection.status().code() == absl::StatusCode::kNotFound
                                      ? absl::StatusCode::kFailedPrecondition
                                      : connection.status().code();
    return TargetProblem{"target", absl::Status(code, absl::StrCat("cannot describe table ", table,
                                                                   " at ", target.endpoint(), ": ",
                                                                   connection.status().message()))};
  }
  auto converter =
      convert::Converter::Create(connection->schema, transform::ConverterOptionsFor(config));
  if (!converter.ok()) {
    return TargetProblem{
        "target.table",
        absl::InvalidArgumentError(
            absl::StrCat("table ", table, " does not fit mode ",
                         v1::Mode_Name(config.mode()).substr(sizeof("MODE_") - 1), " and format ",
                         v1::Format_Name(config.format()).substr(sizeof("FORMAT_") - 1), ": ",
                         converter.status().message()))};
  }
  return std::nullopt;
}

std::vector<config::FieldViolation> ValidateForStorage(const v1::ConnectorConfig& config) {
  std::vector<config::FieldViolation> out = config::Validate(config);
  for (const auto& [name, value] : config.kafka_properties()) {
    if (kafka::IsSecretProperty(name)) {
      out.push_back({absl::StrCat("kafka_properties[", name, "]"),
                     "holds a secret value, which would be stored and shown: give it as a "
                     "reference in kafka_secrets (env or file) instead"});
    }
  }
  return out;
}

ConnectorServiceImpl::ConnectorServiceImpl(ConnectorServiceOptions options)
    : options_(std::move(options)) {
  if (options_.metrics != nullptr) {
    requests_ = &prometheus::BuildCounter()
                     .Name("mcsink_controller_requests_total")
                     .Help("Control-plane API calls, by method and gRPC status code")
                     .Register(*options_.metrics);
  }
}

grpc::Status ConnectorServiceImpl::Handle(grpc::ServerContext* context, const std::string& method,
                                          const std::function<absl::Status()>& body) {
  absl::Status status;
  if (!options_.token.empty()) {
    const auto& metadata = context->client_metadata();
    auto it = metadata.find("authorization");
    const std::string expected = absl::StrCat("Bearer ", options_.token);
    if (it == metadata.end()) {
      status = absl::UnauthenticatedError(
          "this controller requires a token: send the metadata 'authorization: Bearer <token>'");
    } else if (!SameSecret(absl::string_view(it->second.data(), it->second.size()), expected)) {
      status = absl::UnauthenticatedError("the token in 'authorization' is not valid");
    }
  }
  if (status.ok()) status = body();
  if (requests_ != nullptr) {
    requests_->Add({{"method", method}, {"code", absl::StatusCodeToString(status.code())}})
        .Increment();
  }
  if (!status.ok() && status.code() != absl::StatusCode::kNotFound &&
      status.code() != absl::StatusCode::kUnauthenticated) {
    MCSINK_LOG(INFO) << method << ": " << status;
  }
  return ToGrpcStatus(status);
}

absl::StatusOr<v1::ConnectorRecord> ConnectorServiceImpl::Find(const std::string& name) const {
  std::optional<v1::ConnectorRecord> record = options_.store->Get(name);
  if (!record.has_value()) {
    return absl::NotFoundError(absl::StrCat("no connector named '", name, "'"));
  }
  return *record;
}

v1::Connector ConnectorServiceImpl::WithStatus(const v1::ConnectorRecord& record) const {
  v1::Connector out;
  *out.mutable_record() = record;
  *out.mutable_status() = ReadStatus(record, options_.status_timeout);
  return out;
}

absl::StatusOr<v1::ConnectorRecord> ConnectorServiceImpl::SetTarget(
    const std::string& name, v1::TargetState target,
    const std::function<absl::Status(const v1::ConnectorRecord&)>& allowed) {
  return options_.store->Update(
      name,
      [&](const std::optional<v1::ConnectorRecord>& current)
          -> absl::StatusOr<v1::ConnectorRecord> {
        if (!current.has_value()) {
          return absl::NotFoundError(absl::StrCat("no connector named '", name, "'"));
        }
        MCSINK_RETURN_IF_ERROR(allowed(*current));
        v1::ConnectorRecord next = *current;
        next.set_target_state(target);
        return next;
      });
}

grpc::Status ConnectorServiceImpl::CreateConnector(grpc::ServerContext* context,
                                                   const v1::CreateConnectorRequest* request,
                                                   v1::Connector* response) {
  return Handle(context, "CreateConnector", [&]() -> absl::Status {
    const v1::ConnectorConfig config = config::WithDefaults(request->config());
    if (auto violations = ValidateForStorage(config); !violations.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid connector config: ", JoinViolations(violations)));
    }
    const std::string& name = config.name();
    if (options_.store->Get(name).has_value()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "a connector named '", name, "' exists already: choose another name or delete it"));
    }
    if (auto problem = options_.check_target(config); problem.has_value()) {
      return Annotate(problem->status, problem->field);
    }
    MCSINK_ASSIGN_OR_RETURN(auto admin, AdminFor(config));
    MCSINK_RETURN_IF_ERROR(EnsureInternalTopics(*admin, config));
    MCSINK_ASSIGN_OR_RETURN(
        const v1::ConnectorRecord record,
        options_.store->Update(name,
                               [&](const std::optional<v1::ConnectorRecord>& current)
                                   -> absl::StatusOr<v1::ConnectorRecord> {
                                 if (current.has_value()) {
                                   return absl::AlreadyExistsError(absl::StrCat(
                                       "a connector named '", name,
                                       "' was created meanwhile: choose another name"));
                                 }
                                 v1::ConnectorRecord r;
                                 *r.mutable_config() = config;
                                 r.set_target_state(request->deploy() ? v1::TARGET_STATE_RUNNING
                                                                      : v1::TARGET_STATE_STOPPED);
                                 return r;
                               }));
    MCSINK_LOG(INFO) << "connector " << name << " created ("
                     << TargetStateName(record.target_state()) << "): " << config::ToJson(config);
    *response = WithStatus(record);
    return absl::OkStatus();
  });
}

grpc::Status ConnectorServiceImpl::ValidateConnector(grpc::ServerContext* context,
                                                     const v1::ValidateConnectorRequest* request,
                                                     v1::ValidateConnectorResponse* response) {
  return Handle(context, "ValidateConnector", [&]() -> absl::Status {
    const v1::ConnectorConfig config = config::WithDefaults(request->config());
    std::vector<config::FieldViolation> violations = ValidateForStorage(config);
    if (violations.empty() && request->check_target()) {
      if (auto problem = options_.check_target(config); problem.has_value()) {
        violations.push_back({problem->field, std::string(problem->status.message())});
      }
      for (config::FieldViolation& v : CheckExistingTopics(config)) {
        violations.push_back(std::move(v));
      }
    }
    for (const config::FieldViolation& v : violations) {
      v1::FieldViolation* out = response->add_violations();
      out->set_field(v.field);
      out->set_message(v.message);
    }
    *response->mutable_normalized() = config;
    return absl::OkStatus();
  });
}

grpc::Status ConnectorServiceImpl::GetConnector(grpc::ServerContext* context,
                                                const v1::ConnectorName* request,
                                                v1::Connector* response) {
  return Handle(context, "GetConnector", [&]() -> absl::Status {
    MCSINK_ASSIGN_OR_RETURN(const v1::ConnectorRecord record, Find(request->name()));
    *response = WithStatus(record);
    return absl::OkStatus();
  });
}

grpc::Status ConnectorServiceImpl::ListConnectors(grpc::ServerContext* context,
                                                  const v1::ListConnectorsRequest* /*request*/,
                                                  v1::ListConnectorsResponse* response) {
  return Handle(context, "ListConnectors", [&]() -> absl::Status {
    // Each status is read from Kafka (its status topic and offsets, up to status_timeout): read
    // them side by side, a bounded number at a time, so a list of many connectors answers in
    // about the time of the slowest instead of their sum.
    const std::vector<v1::ConnectorRecord> records = options_.store->List();
    for (const v1::ConnectorRecord& record : records) {
      *response->add_connectors()->mutable_record() = record;
    }
    constexpr size_t kMaxParallelReads = 8;
    std::atomic<size_t> next{0};
    auto read = [&] {
      for (size_t i = next++; i < records.size(); i = next++) {
        *response->mutable_connectors(static_cast<int>(i))->mutable_status() =
            ReadStatus(records[i], options_.status_timeout);
      }
    };
    std::vector<std::thread> readers;
    for (size_t t = 1; t < std::min(kMaxParallelReads, records.size()); ++t) {
      readers.emplace_back(read);
    }
    read();
    for (std::thread& t : readers) t.join();
    return absl::OkStatus();
  });
}

grpc::Status ConnectorServiceImpl::DeployConnector(grpc::ServerContext* context,
                                                   const v1::ConnectorName* request,
                                                   v1::Connector* response) {
  return Handle(context, "DeployConnector", [&]() -> absl::Status {
    MCSINK_ASSIGN_OR_RETURN(const v1::ConnectorRecord record,
                            SetTarget(request->name(), v1::TARGET_STATE_RUNNING,
                                      [](const v1::ConnectorRecord&) { return absl::OkStatus(); }));
    *response = WithStatus(record);
    return absl::OkStatus();
  });
}

grpc::Status ConnectorServiceImpl::PauseConnector(grpc::ServerContext* context,
                                                  const v1::ConnectorName* request,
                                                  v1::Connector* response) {
  return Handle(context, "PauseConnector", [&]() -> absl::Status {
    MCSINK_ASSIGN_OR_RETURN(
        const v1::ConnectorRecord record,
        SetTarget(request->name(), v1::TARGET_STATE_PAUSED, [](const v1::ConnectorRecord& r) {
          return r.target_state() == v1::TARGET_STATE_STOPPED
                     ? NotDeployed(r, "only a deployed connector can be paused; deploy it first")
                     : absl::OkStatus();
        }));
    *response = WithStatus(record);
    return absl::OkStatus();
  });
}

grpc::Status ConnectorServiceImpl::ResumeConnector(grpc::ServerContext* context,
                                                   const v1::ConnectorName* request,
                                                   v1::Connector* response) {
  return Handle(context, "ResumeConnector", [&]() -> absl::Status {
    MCSINK_ASSIGN_OR_RETURN(
        const v1::ConnectorRecord record,
        SetTarget(request->name(), v1::TARGET_STATE_RUNNING, [](const v1::ConnectorRecord& r) {
          return r.target_state() == v1::TARGET_STATE_STOPPED
                     ? NotDeployed(r, "only a paused connector can be resumed; deploy it instead")
                     : absl::OkStatus();
        }));
    *response = WithStatus(record);
    return absl::OkStatus();
  });
}

grpc::Status ConnectorServiceImpl::RestartConnector(grpc::ServerContext* context,
                                                    const v1::RestartConnectorRequest* request,
                                                    v1::Connector* response) {
  return Handle(context, "RestartConnector", [&]() -> absl::Status {
    MCSINK_ASSIGN_OR_RETURN(
        const v1::ConnectorRecord record,
        options_.store->Update(request->name(),
                               [&](const std::optional<v1::ConnectorRecord>& current)
                                   -> absl::StatusOr<v1::ConnectorRecord> {
                                 if (!current.has_value()) {
                                   return absl::NotFoundError(
                                       absl::StrCat("no connector named '", request->name(), "'"));
                                 }
                                 if (current->target_state() != v1::TARGET_STATE_RUNNING) {
                                   return NotDeployed(*current,
                                                      "only a running connector can be restarted; "
                                                      "deploy or resume it instead");
                                 }
                                 v1::ConnectorRecord next = *current;
                                 next.set_restart_generation(current->restart_generation() + 1);
                                 next.set_restart_only_failed(request->only_failed_partitions());
                                 return next;
                               }));
    *response = WithStatus(record);
    return absl::OkStatus();
  });
}

grpc::Status ConnectorServiceImpl::DeleteConnector(grpc::ServerContext* context,
                                                   const v1::DeleteConnectorRequest* request,
                                                   v1::DeleteConnectorResponse* /*response*/) {
  return Handle(context, "DeleteConnector", [&]() -> absl::Status {
    MCSINK_ASSIGN_OR_RETURN(v1::ConnectorRecord record, Find(request->name()));
    const std::string& name = request->name();
    if (record.target_state() != v1::TARGET_STATE_STOPPED) {
      MCSINK_ASSIGN_OR_RETURN(
          record, SetTarget(name, v1::TARGET_STATE_STOPPED,
                            [](const v1::ConnectorRecord&) { return absl::OkStatus(); }));
      // Give the data plane a moment to stop consuming, so nothing writes the connector's
      // topics once they are gone. A data plane that does not answer does not block the delete.
      const absl::Time deadline = absl::Now() + options_.delete_wait;
      while (absl::Now() < deadline && !context->IsCancelled()) {
        const v1::ConnectorStatus status = ReadStatus(record, options_.status_timeout);
        if (status.state() == v1::CONNECTOR_STATE_STOPPED &&
            status.updated_at_ms() >= record.updated_at_ms()) {
          break;
        }
        absl::SleepFor(absl::Milliseconds(500));
      }
    }
    MCSINK_RETURN_IF_ERROR(options_.store->Delete(name));
    MCSINK_LOG(INFO) << "connector " << name << " deleted";
    if (!request->delete_internal_topics()) return absl::OkStatus();
    MCSINK_ASSIGN_OR_RETURN(auto admin, AdminFor(record.config()));
    std::vector<std::string> problems;
    for (const TopicRule& rule : InternalTopicRules(record.config())) {
      absl::Status s = admin->DeleteTopic(rule.name);
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) {
        problems.push_back(absl::StrCat(rule.role, " ", rule.name, ": ", s.message()));
      }
    }
    if (!problems.empty()) {
      return absl::UnavailableError(
          absl::StrCat("connector ", name, " is deleted, but some internal topics were not: ",
                       absl::StrJoin(problems, "; "), "; delete them with a Kafka tool"));
    }
    return absl::OkStatus();
  });
}

grpc::Status ConnectorServiceImpl::GetConnectorStatus(grpc::ServerContext* context,
                                                      const v1::ConnectorName* request,
                                                      v1::ConnectorStatus* response) {
  return Handle(context, "GetConnectorStatus", [&]() -> absl::Status {
    MCSINK_ASSIGN_OR_RETURN(const v1::ConnectorRecord record, Find(request->name()));
    *response = ReadStatus(record, options_.status_timeout);
    return absl::OkStatus();
  });
}

grpc::Status ConnectorServiceImpl::GetOffsets(grpc::ServerContext* context,
                                              const v1::ConnectorName* request,
                                              v1::ConnectorOffsets* response) {
  return Handle(context, "GetOffsets", [&]() -> absl::Status {
    MCSINK_ASSIGN_OR_RETURN(const v1::ConnectorRecord record, Find(request->name()));
    MCSINK_ASSIGN_OR_RETURN(auto admin, AdminFor(record.config()));
    MCSINK_ASSIGN_OR_RETURN(*response, ReadOffsets(*admin, record.config()));
    return absl::OkStatus();
  });
}

grpc::Status ConnectorServiceImpl::ResetOffsets(grpc::ServerContext* context,
                                                const v1::ResetOffsetsRequest* request,
                                                v1::ConnectorOffsets* response) {
  return Handle(context, "ResetOffsets", [&]() -> absl::Status {
    MCSINK_ASSIGN_OR_RETURN(const v1::ConnectorRecord record, Find(request->name()));
    const v1::ConnectorConfig& config = record.config();
    if (record.target_state() != v1::TARGET_STATE_PAUSED) {
      return NotDeployed(record,
                         "offsets can be reset only while the connector is PAUSED; "
                         "pause it first");
    }
    MCSINK_ASSIGN_OR_RETURN(auto admin, AdminFor(config));
    MCSINK_ASSIGN_OR_RETURN(const v1::ConnectorOffsets current, ReadOffsets(*admin, config));
    std::map<int32_t, int64_t> offsets;
    switch (request->to_case()) {
      case v1::ResetOffsetsRequest::kEarliest:
      case v1::ResetOffsetsRequest::kLatest:
        for (const v1::PartitionOffset& p : current.partitions()) {
          offsets[p.partition()] = request->to_case() == v1::ResetOffsetsRequest::kEarliest
                                       ? p.log_start_offset()
                                       : p.log_end_offset();
        }
        break;
      case v1::ResetOffsetsRequest::kOffsets: {
        std::vector<std::string> problems;
        for (const v1::PartitionOffset& p : request->offsets().partitions()) {
          const std::string where =
              absl::StrCat("offsets.partitions[", p.topic(), "/", p.partition(), "]");
          if (!p.topic().empty() && p.topic() != config.source_topic()) {
            problems.push_back(absl::StrCat(where, ": topic must be the source topic ",
                                            config.source_topic(), " (or empty)"));
            continue;
          }
          const v1::PartitionOffset* known = nullptr;
          for (const v1::PartitionOffset& c : current.partitions()) {
            if (c.partition() == p.partition()) known = &c;
          }
          if (known == nullptr) {
            problems.push_back(absl::StrCat(where, ": ", config.source_topic(), " has ",
                                            current.partitions_size(), " partitions"));
          } else if (p.committed_offset() < known->log_start_offset() ||
                     p.committed_offset() > known->log_end_offset()) {
            problems.push_back(absl::StrCat(where, ": offset ", p.committed_offset(),
                                            " is outside the log [", known->log_start_offset(),
                                            ", ", known->log_end_offset(), "]"));
          } else {
            offsets[p.partition()] = p.committed_offset();
          }
        }
        if (!problems.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat("cannot reset offsets: ", absl::StrJoin(problems, "; ")));
        }
        break;
      }
      default:
        return absl::InvalidArgumentError("to: say where to reset to: earliest, latest or offsets");
    }
    MCSINK_RETURN_IF_ERROR(Annotate(
        admin->AlterCommittedOffsets(config.consumer_group(), config.source_topic(), offsets),
        absl::StrCat("connector ", config.name())));
    // Exactly-once: the journal remembers which offsets were written and the next owner would
    // skip them; after a reset they must be written again. Retrying the reset repeats this.
    if (absl::Status s = ForgetJournalSessions(config, offsets); !s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("connector ", config.name(),
                                 ": offsets were reset, but the exactly-once journal could not "
                                 "forget the sessions of those partitions (",
                                 s.message(), "); call ResetOffsets again before resuming"));
    }
    MCSINK_LOG(INFO) << "connector " << config.name() << ": offsets of " << offsets.size()
                     << " partition(s) reset";
    MCSINK_ASSIGN_OR_RETURN(*response, ReadOffsets(*admin, config));
    return absl::OkStatus();
  });
}

grpc::Status ConnectorServiceImpl::WatchConnectors(grpc::ServerContext* context,
                                                   const v1::WatchConnectorsRequest* request,
                                                   grpc::ServerWriter<v1::ConnectorEvent>* writer) {
  return Handle(context, "WatchConnectors", [&]() -> absl::Status {
    std::unique_ptr<Subscription> subscription = options_.store->Watch(request->name());
    while (!context->IsCancelled()) {
      MCSINK_ASSIGN_OR_RETURN(std::optional<v1::ConnectorEvent> event,
                              subscription->Next(absl::Milliseconds(500)));
      if (!event.has_value()) continue;
      if (!writer->Write(*event)) break;  // the client went away
    }
    return absl::OkStatus();
  });
}

}  // namespace mcsink::controller
