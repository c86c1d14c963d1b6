// A gRPC server with what every mcsink service offers: the standard health service
// (grpc.health.v1.Health) and server reflection, on an address that may use port 0, in plaintext
// or TLS (mutual TLS with a CA), optionally with a plaintext port that serves health only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "mcsink/common/tls.h"

namespace mcsink {

// A service to serve, with its full name for the health service
// (e.g. mcsink::v1::Transform::service_full_name()).
struct ServiceEntry {
  grpc::Service* service;  // not owned; must outlive the server
  std::string name;
};

struct GrpcServerOptions {
  std::string address = "127.0.0.1:0";  // host:port; port 0 picks a free port
  std::vector<ServiceEntry> services;
  int max_message_bytes = 64 << 20;  // batches may exceed gRPC's 4 MiB default
  // Transport security of `address`; default plaintext. Serving TLS needs a certificate.
  TlsConfig tls;
  // When set, a second, plaintext listener (host:port, port 0 picks one) with only the health
  // service (and reflection): for probes that cannot speak TLS, such as the kubelet's gRPC probe.
  std::string health_address;
};

class GrpcServer {
 public:
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const GrpcServerOptions& options);
  ~GrpcServer();

  int port() const { return port_; }
  // The port of GrpcServerOptions::health_address, 0 without one.
  int health_port() const { return health_port_; }
  grpc::Server* server() const { return server_.get(); }
  // A channel to this server inside the process, with no socket in between.
  std::shared_ptr<grpc::Channel> InProcessChannel() const;
  // Sets the health status of the server and of every registered service (on both listeners).
  void SetServing(bool serving);
  // Stops accepting calls, lets running calls finish until `grace`, then cancels them.
  void Shutdown(absl::Duration grace);

 private:
  GrpcServer() = default;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_server_;  // null without a health_address
  std::vector<std::string> service_names_;
  int port_ = 0;
  int health_port_ = 0;
  bool shut_down_ = false;
};

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace mcsink
