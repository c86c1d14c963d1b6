// The control-plane API (proto/mcsink/v1/controller.proto, service ConnectorService) on a
// ConnectorStore: validation that names every bad field, the target table and internal topics
// checked at create, target states the data plane converges to, status, offsets, and a watch
// stream. Requires `authorization: Bearer <token>` when a token is configured.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/controller/connector_store.h"
#include "mcsink/v1/controller.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"

namespace mcsink::controller {

// What is wrong with a connector's target: the field concerned and the error (its code says
// whether the config is wrong, InvalidArgument, or the target cannot be reached or lacks the
// table, FailedPrecondition or Unavailable).
struct TargetProblem {
  std::string field;
  absl::Status status;
};

// Describes the target table and checks its schema against the config's mode and format.
using TargetChecker =
    std::function<std::optional<TargetProblem>(const v1::ConnectorConfig& config)>;

// The real check: connection::Connect (credentials, REST, table schema), then the converter's
// own check of the schema (convert::Converter::Create), which names the column.
std::optional<TargetProblem> CheckTarget(const v1::ConnectorConfig& config);

// Rules the controller adds to config::Validate: a config that is stored must hold no secret
// values, so secret-looking kafka_properties are refused (they belong in kafka_secrets).
std::vector<config::FieldViolation> ValidateForStorage(const v1::ConnectorConfig& config);

struct ConnectorServiceOptions {
  ConnectorStore* store = nullptr;  // not owned
  // Empty: no authentication.
  std::string token;
  TargetChecker check_target = CheckTarget;
  // Delete waits this long for the data plane to report the connector stopped.
  absl::Duration delete_wait = absl::Seconds(10);
  // How long a status read may take.
  absl::Duration status_timeout = absl::Seconds(10);
  // Where `mcsink_controller_requests_total{method,code}` is kept; may be null.
  prometheus::Registry* metrics = nullptr;
};

class ConnectorServiceImpl final : public v1::ConnectorService::Service {
 public:
  explicit ConnectorServiceImpl(ConnectorServiceOptions options);

  grpc::Status CreateConnector(grpc::ServerContext* context,
                               const v1::CreateConnectorRequest* request,
                               v1::Connector* response) override;
  grpc::Status ValidateConnector(grpc::ServerContext* context,
                                 const v1::ValidateConnectorRequest* request,
                                 v1::ValidateConnectorResponse* response) override;
  grpc::Status GetConnector(grpc::ServerContext* context, const v1::ConnectorName* request,
                            v1::Connector* response) override;
  grpc::Status ListConnectors(grpc::ServerContext* context,
                              const v1::ListConnectorsRequest* request,
                              v1::ListConnectorsResponse* response) override;
  grpc::Status DeployConnector(grpc::ServerContext* context, const v1::ConnectorName* request,
                               v1::Connector* response) override;
  grpc::Status PauseConnector(grpc::ServerContext* context, const v1::ConnectorName* request,
                              v1::Connector* response) override;
  grpc::Status ResumeConnector(grpc::ServerContext* context, const v1::ConnectorName* request,
                               v1::Connector* response) override;
  grpc::Status RestartConnector(grpc::ServerContext* context,
                                const v1::RestartConnectorRequest* request,
                                v1::Connector* response) override;
  grpc::Status DeleteConnector(grpc::ServerContext* context,
                               const v1::DeleteConnectorRequest* request,
                               v1::DeleteConnectorResponse* response) override;
  grpc::Status GetConnectorStatus(grpc::ServerContext* context, const v1::ConnectorName* request,
                                  v1::ConnectorStatus* response) override;
  grpc::Status GetOffsets(grpc::ServerContext* context, const v1::ConnectorName* request,
                          v1::ConnectorOffsets* response) override;
  grpc::Status ResetOffsets(grpc::ServerContext* context, const v1::ResetOffsetsRequest* request,
                            v1::ConnectorOffsets* response) override;
  grpc::Status WatchConnectors(grpc::ServerContext* context,
                               const v1::WatchConnectorsRequest* request,
                               grpc::ServerWriter<v1::ConnectorEvent>* writer) override;

 private:
  // Checks the token, runs `body`, counts the call by method and code.
  grpc::Status Handle(grpc::ServerContext* context, const std::string& method,
                      const std::function<absl::Status()>& body);
  absl::StatusOr<v1::ConnectorRecord> Find(const std::string& name) const;
  // Sets the target state of `name`; `allowed` says from which target states.
  absl::StatusOr<v1::ConnectorRecord> SetTarget(
      const std::string& name, v1::TargetState target,
      const std::function<absl::Status(const v1::ConnectorRecord&)>& allowed);
  v1::Connector WithStatus(const v1::ConnectorRecord& record) const;

  const ConnectorServiceOptions options_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
};

}  // namespace mcsink::controller
