// mclocal: a MaxCompute-compatible local server (REST, SQL instances, Tunnel, STS) on one port.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "mclocal/http_server.h"
#include "mclocal/server.h"
#include "mclocal/storage.h"
#include "mcsink/common/log.h"
#include "mcsink/common/metrics_server.h"
#include "mcsink/common/shutdown.h"

ABSL_FLAG(std::string, address, "127.0.0.1:8080",
          "host:port to serve on; port 0 picks a free port");
ABSL_FLAG(std::string, port_file, "",
          "if set, the bound port is written here (atomically) once the server accepts requests");
ABSL_FLAG(std::string, data_dir, "./mclocal-data", "directory holding tables and committed data");
ABSL_FLAG(std::string, auth, "permissive",
          "permissive (accept any request) or strict (verify V2/V4/STS signatures)");
ABSL_FLAG(std::string, keys_file, "",
          "strict mode keys: lines of '<access key id> <secret> [<security token>]'");
ABSL_FLAG(std::string, metrics_address, "",
          "host:port for the Prometheus /metrics endpoint; empty disables it");
ABSL_FLAG(std::string, advertised_address, "",
          "host:port clients are told to use for the tunnel (default: the bound address)");
ABSL_FLAG(std::vector<std::string>, fault, {},
          "fault injection rules, comma separated, e.g. put_block:fail:503@2,commit:crash");
ABSL_FLAG(int, max_body_mb, 512,
          "largest request body accepted (as sent, maybe compressed), in MiB");
ABSL_FLAG(int, max_block_mb, 1024, "largest block or stream pack after decompression, in MiB");
ABSL_FLAG(int, max_connections, 64, "most concurrent connections");
ABSL_FLAG(int, session_ttl_minutes, 24 * 60,
          "tunnel sessions expire this long after creation (the real service: 24 h)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("mclocal --address=127.0.0.1:0 --port_file=F --data_dir=D");
  absl::ParseCommandLine(argc, argv);
  mcsink::BlockShutdownSignals();

  mclocal::ServerOptions options;
  const std::string auth = absl::GetFlag(FLAGS_auth);
  if (auth == "strict") {
    options.auth = mclocal::AuthMode::kStrict;
  } else if (auth != "permissive") {
    MCSINK_LOG(ERROR) << "--auth must be permissive or strict, not '" << auth << "'";
    return 2;
  }
  if (const std::string keys_file = absl::GetFlag(FLAGS_keys_file); !keys_file.empty()) {
    auto content = mclocal::ReadWholeFile(keys_file);
    if (!content.ok()) {
      MCSINK_LOG(ERROR) << "cannot read --keys_file: " << content.status();
      return 2;
    }
    auto keys = mclocal::ParseKeysFile(*content, keys_file);
    if (!keys.ok()) {
      MCSINK_LOG(ERROR) << keys.status();
      return 2;
    }
    options.keys = *std::move(keys);
  }
  options.session_ttl = absl::Minutes(absl::GetFlag(FLAGS_session_ttl_minutes));
  options.max_block_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_block_mb)) << 20;

  auto storage = mclocal::Storage::Open(absl::GetFlag(FLAGS_data_dir));
  if (!storage.ok()) {
    MCSINK_LOG(ERROR) << "cannot open --data_dir: " << storage.status();
    return 1;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  auto server = mclocal::Server::Create(options, *std::move(storage), registry);
  if (!server.ok()) {
    MCSINK_LOG(ERROR) << server.status();
    return 2;
  }
  if (auto st = (*server)->faults().Apply(absl::GetFlag(FLAGS_fault)); !st.ok()) {
    MCSINK_LOG(ERROR) << "--fault: " << st;
    return 2;
  }
  mclocal::Server* handler = server->get();
  mclocal::HttpServerOptions http_options;
  http_options.max_body_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_max_body_mb)) << 20;
  http_options.max_connections = absl::GetFlag(FLAGS_max_connections);
  auto http = mclocal::HttpServer::Start(
      absl::GetFlag(FLAGS_address),
      [handler](mclocal::HttpRequest& req) { return handler->Handle(req); }, http_options);
  if (!http.ok()) {
    MCSINK_LOG(ERROR) << http.status();
    return 1;
  }
  std::string advertised = absl::GetFlag(FLAGS_advertised_address);
  if (advertised.empty()) {
    const std::string host = (*http)->host() == "0.0.0.0" ? "127.0.0.1" : (*http)->host();
    advertised = absl::StrCat(host, ":", (*http)->port());
  }
  handler->set_advertised_address(advertised);

  std::unique_ptr<mcsink::MetricsServer> metrics;
  if (const std::string ma = absl::GetFlag(FLAGS_metrics_address); !ma.empty()) {
    auto m = mcsink::MetricsServer::Start(ma, registry);
    if (!m.ok()) {
      MCSINK_LOG(ERROR) << "--metrics_address: " << m.status();
      return 1;
    }
    metrics = *std::move(m);
    // tests/deploy/promharness.py reads the port from this line; keep its wording.
    MCSINK_LOG(INFO) << "metrics on port " << metrics->port();
  }
  if (const std::string pf = absl::GetFlag(FLAGS_port_file); !pf.empty()) {
    if (auto st = mclocal::WriteFileAtomically(pf, absl::StrCat((*http)->port(), "\n")); !st.ok()) {
      MCSINK_LOG(ERROR) << "--port_file: " << st;
      return 1;
    }
  }
  MCSINK_LOG(INFO) << "mclocal serving on " << (*http)->host() << ":" << (*http)->port()
                   << " (auth " << auth << ", data " << absl::GetFlag(FLAGS_data_dir) << ")";
  const auto signal = mcsink::WaitForShutdownSignal();
  MCSINK_LOG(INFO) << "signal " << signal.value_or(0) << ", stopping";
  (*http)->Stop();
  return 0;
}
