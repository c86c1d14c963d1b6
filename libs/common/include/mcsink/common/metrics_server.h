// The Prometheus /metrics endpoint every service exposes, with process metrics
// (CPU seconds, resident memory, start time) alongside the service's own registry.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/registry.h"

namespace prometheus {
class Exposer;
}

namespace mcsink {

class MetricsServer {
 public:
  // Serves `registry` at http://<address>/metrics. `address` is host:port; port 0 picks a free
  // port (see port()). Fails with a clear status if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address, std::shared_ptr<prometheus::Registry> registry);
  ~MetricsServer();

  int port() const { return port_; }
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> process_metrics_;
  int port_ = 0;
};

}  // namespace mcsink
