#include "mcsink/common/grpc_server.h"

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/v1/pipeline.grpc.pb.h"

namespace mcsink {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// The serving status of `service`; an RPC error (e.g. NOT_FOUND for an unknown service) fails
// the calling test.
HealthCheckResponse::ServingStatus Check(Health::Stub& stub, const std::string& service) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckRequest req;
  req.set_service(service);
  HealthCheckResponse resp;
  const grpc::Status status = stub.Check(&ctx, req, &resp);
  EXPECT_TRUE(status.ok()) << service << ": " << status.error_message();
  return resp.status();
}

grpc::StatusCode CheckCode(Health::Stub& stub, const std::string& service) {
  grpc::ClientContext ctx;
  HealthCheckRequest req;
  req.set_service(service);
  HealthCheckResponse resp;
  return stub.Check(&ctx, req, &resp).error_code();
}

TEST(GrpcServer, ServesHealthOverTcpForServerAndRegisteredService) {
  mcsink::v1::Transform::Service transform;  // unimplemented methods are fine for health
  GrpcServerOptions options;
  options.services = {{&transform, mcsink::v1::Transform::service_full_name()}};
  ASSERT_OK_AND_ASSIGN(auto server, GrpcServer::Start(options));
  ASSERT_GT(server->port(), 0);

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = Health::NewStub(channel);
  EXPECT_EQ(Check(*stub, ""), HealthCheckResponse::SERVING);
  EXPECT_EQ(Check(*stub, "mcsink.v1.Transform"), HealthCheckResponse::SERVING);

  EXPECT_EQ(CheckCode(*stub, "no.such.Service"), grpc::StatusCode::NOT_FOUND);

  server->SetServing(false);
  EXPECT_EQ(Check(*stub, ""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check(*stub, "mcsink.v1.Transform"), HealthCheckResponse::NOT_SERVING);
}

TEST(GrpcServer, InProcessChannelReachesTheSameServer) {
  GrpcServerOptions options;
  ASSERT_OK_AND_ASSIGN(auto server, GrpcServer::Start(options));
  auto stub = Health::NewStub(server->InProcessChannel());
  EXPECT_EQ(Check(*stub, ""), HealthCheckResponse::SERVING);
}

TEST(GrpcServer, RefusesAnAddressInUseWithAClearError) {
  ASSERT_OK_AND_ASSIGN(auto first, GrpcServer::Start({}));
  GrpcServerOptions options;
  options.address = "127.0.0.1:" + std::to_string(first->port());
  const auto second = GrpcServer::Start(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(options.address), std::string::npos);
}

TEST(GrpcStatus, ConvertsCodesBothWays) {
  const absl::Status s = absl::FailedPreconditionError("paused");
  const grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(g.error_message(), "paused");
  EXPECT_EQ(FromGrpcStatus(g), s);
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace mcsink
