// End to end with TLS: the split pipeline (ingest, transform, writer as processes, on a real
// Kafka broker and mclocal) with mutual TLS on every gRPC hop, from --tls_cert_file,
// --tls_key_file and --tls_ca_file, delivers every record; the services' ports refuse plaintext
// and clients without a certificate, and their plaintext health ports answer probes.
#include <optional>

#include "../../e2e/e2e_harness.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "mcsink/common/tls.h"
#include "test_certificates.h"

namespace mcsink {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// A health check of the whole server; waits for the server to come up within 60 s.
grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, bool wait_for_ready) {
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(wait_for_ready);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  HealthCheckResponse resp;
  grpc::Status status = Health::NewStub(channel)->Check(&ctx, HealthCheckRequest(), &resp);
  if (status.ok() && resp.status() != HealthCheckResponse::SERVING) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "not serving");
  }
  return status;
}

class TlsPipelineE2ETest : public PipelineE2ETest {
 protected:
  void SetUp() override {
    PipelineE2ETest::SetUp();
    if (HasFatalFailure()) return;
    auto certs = testing::TestCertificates::Create(dir_ + "/certs");
    ASSERT_OK(certs.status());
    certs_.emplace(*std::move(certs));
  }

  // One certificate for every service, presented as server and as client, as in
  // deploy/k8s/components/tls.
  std::vector<std::string> ServiceFlags() const override {
    return {"--tls_cert_file=" + certs_->Path("server.crt"),
            "--tls_key_file=" + certs_->Path("server.key"),
            "--tls_ca_file=" + certs_->Path("ca.crt")};
  }

  std::optional<testing::TestCertificates> certs_;
};

TEST_F(TlsPipelineE2ETest, SplitModeWithMutualTlsOnEveryHopDeliversEveryRecord) {
  const int64_t n = 5000;
  const std::string ingest_addr = absl::StrCat("127.0.0.1:", testing::FreePort());
  const std::string transform_addr = absl::StrCat("127.0.0.1:", testing::FreePort());
  const std::string writer_addr = absl::StrCat("127.0.0.1:", testing::FreePort());
  const std::string health_addr = absl::StrCat("127.0.0.1:", testing::FreePort());
  ASSERT_OK_AND_ASSIGN(const TlsConfig mtls,
                       TlsConfig::Load(certs_->Files("client.crt", "client.key", "ca.crt")));
  ASSERT_OK_AND_ASSIGN(const TlsConfig no_cert, TlsConfig::Load(certs_->Files("", "", "ca.crt")));
  // Waits until the service at `addr` answers over mutual TLS, then checks that it refuses
  // plaintext and clients without a certificate of the CA.
  auto expect_mtls_only = [&](const std::string& addr) {
    const grpc::Status up = CheckHealth(CreateChannel(addr, mtls), /*wait_for_ready=*/true);
    ASSERT_TRUE(up.ok()) << addr << ": " << up.error_message() << " (see the logs in " << dir_
                         << ")";
    EXPECT_FALSE(CheckHealth(CreateChannel(addr, TlsConfig()), false).ok()) << addr;
    EXPECT_FALSE(CheckHealth(CreateChannel(addr, no_cert), false).ok()) << addr;
  };

  // Given the three services with mutual TLS (transform also with a plaintext health port).
  // Ingest goes first: it creates the connector's internal topics, which the writer needs, before
  // it serves; it dials transform lazily.
  ASSERT_OK_AND_ASSIGN(ChildProcess ingest,
                       StartServiceProcess(MCSINK_INGEST, "ingest",
                                           {"--transform_address=" + transform_addr,
                                            "--grpc_address=" + ingest_addr}));
  ASSERT_NO_FATAL_FAILURE(expect_mtls_only(ingest_addr));
  ASSERT_OK_AND_ASSIGN(ChildProcess writer, StartServiceProcess(MCSINK_WRITER, "writer",
                                                                {"--grpc_address=" + writer_addr,
                                                                 "--commit_interval_seconds=1"}));
  ASSERT_OK_AND_ASSIGN(
      ChildProcess transform,
      StartServiceProcess(MCSINK_TRANSFORM, "transform",
                          {"--grpc_address=" + transform_addr, "--writer_address=" + writer_addr,
                           "--health_address=" + health_addr}));
  ASSERT_NO_FATAL_FAILURE(expect_mtls_only(writer_addr));
  ASSERT_NO_FATAL_FAILURE(expect_mtls_only(transform_addr));
  EXPECT_TRUE(CheckHealth(CreateChannel(health_addr, TlsConfig()), true).ok())
      << "transform's plaintext health port";

  // When records are produced, then every one arrives, once
  ASSERT_OK(Produce(n));
  EXPECT_EQ(WaitForRows(n, absl::Minutes(3)), n);
  EXPECT_EQ(ingest.Stop(absl::Seconds(60)), 0);
  EXPECT_EQ(transform.Stop(absl::Seconds(30)), 0);
  EXPECT_EQ(writer.Stop(absl::Seconds(30)), 0);
  ExpectEveryRecord(n, /*exactly_once=*/true);
}

}  // namespace
}  // namespace mcsink
