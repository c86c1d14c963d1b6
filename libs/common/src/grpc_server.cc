#include "mcsink/common/grpc_server.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace mcsink {

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const GrpcServerOptions& options) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  if (options.tls.enabled() && !options.tls.has_certificate()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot serve gRPC over TLS on ", options.address,
                     ": a CA file is given but no certificate and key to serve with"));
  }

  std::unique_ptr<GrpcServer> out(new GrpcServer());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, options.tls.ServerCredentials(), &out->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // Without this a second server could bind the same port (SO_REUSEPORT) and split the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (const ServiceEntry& entry : options.services) {
    builder.RegisterService(entry.service);
    out->service_names_.push_back(entry.name);
  }
  out->server_ = builder.BuildAndStart();
  if (out->server_ == nullptr || out->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve gRPC",
                                               options.tls.enabled() ? " over TLS" : "", " on ",
                                               options.address, " (address in use or not valid)"));
  }
  if (!options.health_address.empty()) {
    // A server of its own, so that nothing but health (and reflection) is reachable without TLS.
    grpc::ServerBuilder health;
    health.AddListeningPort(options.health_address, grpc::InsecureServerCredentials(),
                            &out->health_port_);
    health.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    out->health_server_ = health.BuildAndStart();
    if (out->health_server_ == nullptr || out->health_port_ == 0) {
      // `out` going out of scope stops the main server.
      return absl::UnavailableError(absl::StrCat("cannot serve the gRPC health port on ",
                                                 options.health_address,
                                                 " (address in use or not valid)"));
    }
  }
  out->SetServing(true);
  return out;
}

GrpcServer::~GrpcServer() { Shutdown(absl::ZeroDuration()); }

std::shared_ptr<grpc::Channel> GrpcServer::InProcessChannel() const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return server_->InProcessChannel(args);
}

void GrpcServer::SetServing(bool serving) {
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    if (server == nullptr) continue;
    if (auto* health = server->GetHealthCheckService(); health != nullptr) {
      health->SetServingStatus(serving);
      for (const std::string& name : service_names_) health->SetServingStatus(name, serving);
    }
  }
}

void GrpcServer::Shutdown(absl::Duration grace) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  SetServing(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  // Health goes last: probes see NOT_SERVING until the service port is closed.
  if (health_server_ != nullptr) {
    health_server_->Shutdown(absl::ToChronoTime(absl::Now()));
    health_server_->Wait();
  }
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace mcsink
