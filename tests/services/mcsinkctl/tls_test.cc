// mcsinkctl to a controller that serves TLS: with the CA it connects, without it the controller
// is unavailable (a plaintext client cannot talk to a TLS server).
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsinkctl/cli.h"
#include "test_certificates.h"  // tests/libs/common (H-TLS's openssl-made certificates)

namespace mcsink::ctl {
namespace {

using ::testing::HasSubstr;

// Answers ListConnectors with no connectors.
class EmptyController final : public v1::ConnectorService::Service {
  grpc::Status ListConnectors(grpc::ServerContext*, const v1::ListConnectorsRequest*,
                              v1::ListConnectorsResponse*) override {
    return grpc::Status::OK;
  }
};

TEST(CliTls, TheCaFileMakesMcsinkctlTalkTlsToTheController) {
  // given a controller serving TLS with a certificate for 127.0.0.1
  ASSERT_OK_AND_ASSIGN(
      auto certs, testing::TestCertificates::Create(::testing::TempDir() + "/mcsinkctl-tls-certs"));
  ASSERT_OK_AND_ASSIGN(TlsConfig tls, TlsConfig::Load(certs.Files("server.crt", "server.key", "")));
  EmptyController service;
  GrpcServerOptions options;
  options.services = {{&service, v1::ConnectorService::service_full_name()}};
  options.tls = tls;
  ASSERT_OK_AND_ASSIGN(auto server, GrpcServer::Start(options));
  const std::string controller = absl::StrCat("--controller=127.0.0.1:", server->port());
  auto no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  std::ostringstream out, err;
  // when mcsinkctl trusts the CA, then it lists
  EXPECT_EQ(Main({"list", controller, "--tls-ca-file=" + certs.Path("ca.crt")}, no_env, out, err),
            kExitOk)
      << err.str();
  EXPECT_THAT(out.str(), HasSubstr("no connectors"));
  // and in plaintext it cannot
  std::ostringstream out2, err2;
  EXPECT_EQ(Main({"list", controller}, no_env, out2, err2), kExitUnavailable);
}

}  // namespace
}  // namespace mcsink::ctl
