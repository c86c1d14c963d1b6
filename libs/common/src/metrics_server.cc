#include "mcsink/common/metrics_server.h"

#include <unistd.h>

#include <exception>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "prometheus/client_metric.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/metric_family.h"

namespace mcsink {
namespace {

prometheus::MetricFamily Gauge(std::string name, std::string help, double value,
                               prometheus::MetricType type = prometheus::MetricType::Gauge) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
  return family;
}

// The standard process_* metrics, read from /proc/self/stat on every scrape.
class ProcessMetrics : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::ifstream in("/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Fields after the command name, which is in parentheses and may contain spaces.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return {};
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string field; fields >> field;) f.push_back(field);
    // f[0] is field 3 (state); utime=14, stime=15, starttime=22, vsize=23, rss=24.
    auto at = [&f](int field_number) -> double {
      const size_t i = static_cast<size_t>(field_number - 3);
      return i < f.size() ? std::stod(f[i]) : 0.0;
    };
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    return {
        Gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
              (at(14) + at(15)) / ticks, prometheus::MetricType::Counter),
        Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", at(24) * page),
        Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", at(23)),
        Gauge("process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.",
              BootTime() + at(22) / ticks),
    };
  }

 private:
  static double BootTime() {
    std::ifstream in("/proc/stat");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
    }
    return 0;
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  try {
    server->exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve /metrics on ", address, ": ", e.what()));
  }
  server->registry_ = std::move(registry);
  server->process_metrics_ = std::make_shared<ProcessMetrics>();
  server->exposer_->RegisterCollectable(server->registry_);
  server->exposer_->RegisterCollectable(server->process_metrics_);
  const auto ports = server->exposer_->GetListeningPorts();
  server->port_ = ports.empty() ? 0 : ports.front();
  return server;
}

MetricsServer::~MetricsServer() = default;

}  // namespace mcsink
