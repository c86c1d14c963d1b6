#include "mcsink/runtime/controller_host.h"

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/config/secrets.h"

ABSL_FLAG(std::string, kafka_bootstrap_servers, "",
          "Kafka cluster where the controller keeps its connector registry (host:port,...)");
ABSL_FLAG(std::string, registry_topic, "mcsink-connectors",
          "the registry topic (1 partition, compact; created when missing)");
ABSL_FLAG(std::string, token_file, "",
          "file holding the API token clients must send as 'authorization: Bearer <token>' "
          "(default: the environment variable MCSINK_CONTROLLER_TOKEN; neither: no token)");

namespace mcsink::runtime {

absl::StatusOr<std::string> ControllerToken() {
  v1::SecretRef ref;
  if (const std::string file = absl::GetFlag(FLAGS_token_file); !file.empty()) {
    ref.set_file(file);
  } else if (std::getenv("MCSINK_CONTROLLER_TOKEN") != nullptr) {
    ref.set_env("MCSINK_CONTROLLER_TOKEN");
  } else {
    return std::string();
  }
  MCSINK_ASSIGN_OR_RETURN(std::string token, config::ReadSecret(ref));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        "the controller token is empty: put a token in --token_file or MCSINK_CONTROLLER_TOKEN, "
        "or give neither to run without one");
  }
  return token;
}

absl::StatusOr<ControllerHost> StartControllerHost(prometheus::Registry& registry) {
  const std::string bootstrap = absl::GetFlag(FLAGS_kafka_bootstrap_servers);
  if (bootstrap.empty()) {
    return absl::InvalidArgumentError(
        "--kafka_bootstrap_servers is required: the controller keeps its connectors in Kafka");
  }
  ControllerHost host;
  MCSINK_ASSIGN_OR_RETURN(host.token, ControllerToken());
  MCSINK_ASSIGN_OR_RETURN(host.store, controller::ConnectorStore::Open(
                                          {.kafka = {{"bootstrap.servers", bootstrap}},
                                           .registry_topic = absl::GetFlag(FLAGS_registry_topic),
                                           .metrics = &registry}));
  host.service =
      std::make_unique<controller::ConnectorServiceImpl>(controller::ConnectorServiceOptions{
          .store = host.store.get(), .token = host.token, .metrics = &registry});
  MCSINK_LOG(INFO) << "controller: registry " << absl::GetFlag(FLAGS_registry_topic) << " on "
                   << bootstrap << (host.token.empty() ? ", no token" : ", token required");
  return host;
}

}  // namespace mcsink::runtime
