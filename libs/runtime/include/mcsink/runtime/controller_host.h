// The controller as the executables host it (mcsink-controller, and the all-in-one mcsink in
// controller mode): its flags, its token, and its store and API started from them.
#pragma once

#include <memory>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "mcsink/controller/connector_service.h"
#include "mcsink/controller/connector_store.h"
#include "prometheus/registry.h"

ABSL_DECLARE_FLAG(std::string, kafka_bootstrap_servers);
ABSL_DECLARE_FLAG(std::string, registry_topic);
ABSL_DECLARE_FLAG(std::string, token_file);

namespace mcsink::runtime {

// The API token: the content of --token_file (one trailing newline removed), else the
// environment variable MCSINK_CONTROLLER_TOKEN, else empty (no authentication). Never logged.
absl::StatusOr<std::string> ControllerToken();

struct ControllerHost {
  std::string token;
  std::unique_ptr<controller::ConnectorStore> store;
  std::unique_ptr<controller::ConnectorServiceImpl> service;
};

// Opens the registry on --kafka_bootstrap_servers (--registry_topic) and builds the API, with
// its metrics in `registry`.
absl::StatusOr<ControllerHost> StartControllerHost(prometheus::Registry& registry);

}  // namespace mcsink::runtime
