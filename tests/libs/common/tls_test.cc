// TLS between mcsink processes: a GrpcServer with a certificate answers TLS clients that trust
// its CA and refuses plaintext; with a CA it requires client certificates signed by that CA
// (mutual TLS); the plaintext health port serves health only; bad files are clear errors that
// name the file. Certificates are made by the openssl CLI in the test's temp dir.
#include "mcsink/common/tls.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/v1/pipeline.grpc.pb.h"
#include "test_certificates.h"

namespace mcsink {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// The suite's certificates, made once (see test_certificates.h) and removed at exit.
const testing::TestCertificates& Certs() {
  struct Holder {
    testing::TestCertificates certs;
    ~Holder() { std::filesystem::remove_all(certs.dir()); }
  };
  static const Holder holder{[] {
    auto made = testing::TestCertificates::Create(::testing::TempDir() + "/tls-certs-" +
                                                  std::to_string(::getpid()));
    // Nothing can run without them: stop with the reason.
    if (!made.ok()) {
      std::cerr << made.status() << "\n";
      std::abort();
    }
    return *std::move(made);
  }()};
  return holder.certs;
}

TlsConfig LoadOrDie(const TlsFiles& files) {
  auto config = TlsConfig::Load(files);
  EXPECT_OK(config.status());
  return config.ok() ? *config : TlsConfig();
}

// The result of a health check of the whole server over `channel`.
grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                         HealthCheckResponse::ServingStatus* serving = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  HealthCheckResponse resp;
  const grpc::Status status = Health::NewStub(channel)->Check(&ctx, HealthCheckRequest(), &resp);
  if (serving != nullptr) *serving = resp.status();
  return status;
}

std::string Local(int port) { return absl::StrCat("127.0.0.1:", port); }

std::unique_ptr<GrpcServer> StartServer(const TlsConfig& tls, grpc::Service* service = nullptr) {
  GrpcServerOptions options;
  options.tls = tls;
  if (service != nullptr) options.services = {{service, v1::Transform::service_full_name()}};
  auto server = GrpcServer::Start(options);
  EXPECT_OK(server.status());
  return server.ok() ? std::move(*server) : nullptr;
}

TEST(TlsServer, AnswersHealthCheckOverATlsChannelThatTrustsItsCa) {
  const auto& certs = Certs();
  // Given a server with a certificate and no CA (TLS, no client certificates)
  auto server = StartServer(LoadOrDie(certs.Files("server.crt", "server.key", "")));
  ASSERT_NE(server, nullptr);
  // When a client that trusts the CA checks its health
  auto channel = CreateChannel(Local(server->port()), LoadOrDie(certs.Files("", "", "ca.crt")));
  HealthCheckResponse::ServingStatus serving = HealthCheckResponse::UNKNOWN;
  const grpc::Status status = CheckHealth(channel, &serving);
  // Then it is answered
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(serving, HealthCheckResponse::SERVING);
}

TEST(TlsServer, AnswersADnsNameInItsCertificate) {
  const auto& certs = Certs();
  auto server = StartServer(LoadOrDie(certs.Files("server.crt", "server.key", "")));
  ASSERT_NE(server, nullptr);
  auto channel = CreateChannel(absl::StrCat("localhost:", server->port()),
                               LoadOrDie(certs.Files("", "", "ca.crt")));
  const grpc::Status status = CheckHealth(channel);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST(TlsServer, RefusesAPlaintextClient) {
  const auto& certs = Certs();
  auto server = StartServer(LoadOrDie(certs.Files("server.crt", "server.key", "")));
  ASSERT_NE(server, nullptr);
  // A default TlsConfig is plaintext.
  const grpc::Status status = CheckHealth(CreateChannel(Local(server->port()), TlsConfig()));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST(TlsClient, RefusesAServerItsCaDidNotSign) {
  const auto& certs = Certs();
  auto server = StartServer(LoadOrDie(certs.Files("server.crt", "server.key", "")));
  ASSERT_NE(server, nullptr);
  auto channel =
      CreateChannel(Local(server->port()), LoadOrDie(certs.Files("", "", "other-ca.crt")));
  EXPECT_EQ(CheckHealth(channel).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(MutualTls, RefusesAClientWithoutACertificate) {
  const auto& certs = Certs();
  // Given a server with a CA: clients must present a certificate signed by it
  auto server = StartServer(LoadOrDie(certs.Files("server.crt", "server.key", "ca.crt")));
  ASSERT_NE(server, nullptr);
  // When a client that trusts the server but has no certificate calls, then it is refused
  auto channel = CreateChannel(Local(server->port()), LoadOrDie(certs.Files("", "", "ca.crt")));
  EXPECT_EQ(CheckHealth(channel).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(MutualTls, AcceptsAClientWithACertificateSignedByTheCa) {
  const auto& certs = Certs();
  auto server = StartServer(LoadOrDie(certs.Files("server.crt", "server.key", "ca.crt")));
  ASSERT_NE(server, nullptr);
  auto channel = CreateChannel(Local(server->port()),
                               LoadOrDie(certs.Files("client.crt", "client.key", "ca.crt")));
  HealthCheckResponse::ServingStatus serving = HealthCheckResponse::UNKNOWN;
  const grpc::Status status = CheckHealth(channel, &serving);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(serving, HealthCheckResponse::SERVING);
}

TEST(MutualTls, RefusesAClientCertificateFromAnotherCa) {
  const auto& certs = Certs();
  auto server = StartServer(LoadOrDie(certs.Files("server.crt", "server.key", "ca.crt")));
  ASSERT_NE(server, nullptr);
  // The client trusts the server's CA but its own certificate comes from another CA.
  auto channel =
      CreateChannel(Local(server->port()),
                    LoadOrDie(certs.Files("other-client.crt", "other-client.key", "ca.crt")));
  EXPECT_EQ(CheckHealth(channel).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(MutualTls, TheServersOwnCertificateWorksAsAClientCertificate) {
  // How the services run: one certificate per service, presented both ways.
  const auto& certs = Certs();
  const TlsConfig tls = LoadOrDie(certs.Files("server.crt", "server.key", "ca.crt"));
  auto server = StartServer(tls);
  ASSERT_NE(server, nullptr);
  const grpc::Status status = CheckHealth(CreateChannel(Local(server->port()), tls));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST(HealthPort, AnswersPlaintextHealthChecksAndNothingElseWhileTheServicePortNeedsTls) {
  const auto& certs = Certs();
  v1::Transform::Service transform;  // unimplemented methods: reaching it gives UNIMPLEMENTED
  GrpcServerOptions options;
  options.tls = LoadOrDie(certs.Files("server.crt", "server.key", "ca.crt"));
  options.services = {{&transform, v1::Transform::service_full_name()}};
  options.health_address = "127.0.0.1:0";
  ASSERT_OK_AND_ASSIGN(auto server, GrpcServer::Start(options));
  ASSERT_GT(server->health_port(), 0);
  ASSERT_NE(server->health_port(), server->port());
  auto plaintext = CreateChannel(Local(server->health_port()), TlsConfig());

  // Health answers in plaintext, for the server and for the service, and follows SetServing.
  HealthCheckResponse::ServingStatus serving = HealthCheckResponse::UNKNOWN;
  ASSERT_TRUE(CheckHealth(plaintext, &serving).ok());
  EXPECT_EQ(serving, HealthCheckResponse::SERVING);
  {
    grpc::ClientContext ctx;
    HealthCheckRequest req;
    req.set_service(v1::Transform::service_full_name());
    HealthCheckResponse resp;
    ASSERT_TRUE(Health::NewStub(plaintext)->Check(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING);
  }
  server->SetServing(false);
  ASSERT_TRUE(CheckHealth(plaintext, &serving).ok());
  EXPECT_EQ(serving, HealthCheckResponse::NOT_SERVING);

  // The service itself is not there in plaintext.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = v1::Transform::NewStub(plaintext)->Convert(&ctx);
  stream->WritesDone();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  // And the service port still refuses plaintext.
  EXPECT_EQ(CheckHealth(CreateChannel(Local(server->port()), TlsConfig())).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(HealthPort, AHealthAddressInUseIsAClearErrorNamingIt) {
  ASSERT_OK_AND_ASSIGN(auto first, GrpcServer::Start({}));
  GrpcServerOptions options;
  options.health_address = Local(first->port());
  const auto second = GrpcServer::Start(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("health port on " + options.health_address),
            std::string::npos)
      << second.status();
}

TEST(GrpcServerTls, RefusesToServeTlsWithACaButNoCertificate) {
  const auto& certs = Certs();
  GrpcServerOptions options;
  options.tls = LoadOrDie(certs.Files("", "", "ca.crt"));
  const auto server = GrpcServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("no certificate"), std::string::npos) << server.status();
}

TEST(TlsConfig, NoFilesMeansPlaintext) {
  ASSERT_OK_AND_ASSIGN(const TlsConfig tls, TlsConfig::Load({}));
  EXPECT_FALSE(tls.enabled());
  // And a plaintext server answers a channel made from it.
  auto server = StartServer(tls);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(CheckHealth(CreateChannel(Local(server->port()), tls)).ok());
}

TEST(TlsConfig, AMissingFileIsANotFoundErrorNamingIt) {
  const auto& certs = Certs();
  const std::string missing = certs.Path("no-such.pem");
  for (const TlsFiles& files :
       {TlsFiles{missing, certs.Path("server.key"), ""},
        TlsFiles{certs.Path("server.crt"), missing, ""},
        TlsFiles{certs.Path("server.crt"), certs.Path("server.key"), missing}}) {
    const auto tls = TlsConfig::Load(files);
    ASSERT_FALSE(tls.ok());
    EXPECT_EQ(tls.status().code(), absl::StatusCode::kNotFound);
    EXPECT_NE(tls.status().message().find("'" + missing + "'"), std::string::npos) << tls.status();
    EXPECT_NE(tls.status().message().find("No such file"), std::string::npos) << tls.status();
  }
}

TEST(TlsConfig, AnUnreadableFileIsAnErrorNamingIt) {
  const auto& certs = Certs();
  // A directory opens but cannot be read as a file.
  const auto dir = TlsConfig::Load({.ca_file = certs.Path("")});
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("TLS CA file '" + certs.Path("") + "'"), std::string::npos)
      << dir.status();
}

TEST(TlsConfig, AFileThatIsNotPemIsRefusedNamingIt) {
  const auto& certs = Certs();
  // A CSR is PEM, but not a certificate; the .ext file is not PEM at all.
  for (const char* name : {"server.csr", "server.ext"}) {
    const auto tls = TlsConfig::Load({.ca_file = certs.Path(name)});
    ASSERT_FALSE(tls.ok()) << name;
    EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(tls.status().message().find("TLS CA file '" + certs.Path(name) + "'"),
              std::string::npos)
        << tls.status();
  }
  const auto key = TlsConfig::Load(certs.Files("server.crt", "server.crt", ""));
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("TLS key file '" + certs.Path("server.crt") + "'"),
            std::string::npos)
      << key.status();
}

TEST(TlsConfig, AKeyOfAnotherCertificateIsRefused) {
  const auto& certs = Certs();
  const auto tls = TlsConfig::Load(certs.Files("server.crt", "client.key", ""));
  ASSERT_FALSE(tls.ok());
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(tls.status().message().find("does not belong to the certificate"), std::string::npos)
      << tls.status();
  EXPECT_NE(tls.status().message().find(certs.Path("client.key")), std::string::npos);
}

TEST(TlsConfig, ACertificateWithoutItsKeyIsRefused) {
  const auto& certs = Certs();
  const auto tls = TlsConfig::Load(certs.Files("server.crt", "", "ca.crt"));
  ASSERT_FALSE(tls.ok());
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(tls.status().message().find(certs.Path("server.crt")), std::string::npos)
      << tls.status();
}

}  // namespace
}  // namespace mcsink
