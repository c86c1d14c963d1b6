#include "mcsink/common/metrics_server.h"

// cpprest's U() macro clashes with GoogleTest; utility::string_t is std::string on Linux.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_client.h>

#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"
#include "prometheus/counter.h"

namespace mcsink {
namespace {

// Scrapes /metrics over real HTTP.
std::pair<int, std::string> Get(int port, const std::string& path) {
  web::http::client::http_client client("http://127.0.0.1:" + std::to_string(port));
  auto response = client.request(web::http::methods::GET, path).get();
  return {response.status_code(), response.extract_utf8string(true).get()};
}

TEST(MetricsServer, ServesRegistryAndProcessMetricsOverHttp) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family = prometheus::BuildCounter()
                     .Name("mcsink_test_events_total")
                     .Help("Events seen by the test.")
                     .Register(*registry);
  family.Add({{"connector", "demo"}}).Increment(42);

  ASSERT_OK_AND_ASSIGN(auto server, MetricsServer::Start("127.0.0.1:0", registry));
  ASSERT_GT(server->port(), 0);

  const auto [code, body] = Get(server->port(), "/metrics");
  EXPECT_EQ(code, 200);
  EXPECT_NE(body.find("mcsink_test_events_total{connector=\"demo\"} 42"), std::string::npos)
      << body;
  EXPECT_NE(body.find("process_resident_memory_bytes "), std::string::npos) << body;
  EXPECT_NE(body.find("# TYPE process_cpu_seconds_total counter"), std::string::npos) << body;
}

TEST(MetricsServer, RefusesAnAddressInUse) {
  auto registry = std::make_shared<prometheus::Registry>();
  ASSERT_OK_AND_ASSIGN(auto first, MetricsServer::Start("127.0.0.1:0", registry));
  const auto second = MetricsServer::Start("127.0.0.1:" + std::to_string(first->port()), registry);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace mcsink
