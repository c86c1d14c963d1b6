// Our MaxCompute client into mclocal: rows of the guide's table (100-byte values) already
// encoded in memory, written by the writer through the real Tunnel client (upload sessions,
// blocks, commit) into a committed partition. Prints rows/s and MB/s, uncompressed and deflate.
// Target: at least 1,000,000 rows/s on a 2-core machine, so MaxCompute's side is never the
// pipeline's bottleneck. Usage: tunnel_bench MCLOCAL_BINARY [ROWS]
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "mcsink/connection/tunnel_backend.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/maxcompute_client/rest_client.h"
#include "mcsink/maxcompute_client/tunnel_client.h"
#include "mcsink/testing/process.h"
#include "mcsink/writer/table_writer.h"

namespace mcsink {
namespace {

constexpr int kRowsPerBatch = 5000;

std::vector<v1::RowBatch> SeedBatches(int64_t rows, const std::string& pt) {
  std::vector<v1::RowBatch> batches;
  for (int64_t offset = 0; offset < rows;) {
    v1::RowBatch& batch = batches.emplace_back();
    batch.set_batch_id(batches.size());
    v1::RowGroup* group = batch.add_groups();
    group->set_pt(pt);
    maxcompute::RecordEncoder encoder(group->mutable_encoded_rows());
    const std::string value(100, 'v');
    for (int i = 0; i < kRowsPerBatch && offset < rows; ++i, ++offset) {
      encoder.WriteBytes(0, "maxcompute-test-input");
      encoder.WriteInteger(1, offset % 12);
      encoder.WriteInteger(2, offset);
      encoder.WriteBytes(3, std::to_string(offset));
      encoder.WriteBytes(4, value);
      group->add_row_crcs(encoder.EndRecord());
    }
    group->set_row_count(static_cast<uint64_t>(group->row_crcs_size()));
  }
  return batches;
}

int Run(const std::string& mclocal, int64_t rows) {
  const std::string dir =
      std::filesystem::temp_directory_path() / absl::StrCat("tunnel-bench-", getpid());
  std::filesystem::create_directories(dir);
  auto server = testing::ChildProcess::Start(
      {mclocal, "--address=127.0.0.1:0", "--port_file=" + dir + "/port", "--data_dir=" + dir},
      dir + "/mclocal.log");
  if (!server.ok()) return 1;
  auto port = testing::WaitForFileLine(dir + "/port", absl::Seconds(30));
  if (!port.ok()) return 1;
  const std::string endpoint = "http://127.0.0.1:" + *port;
  auto credentials = std::make_shared<maxcompute_client::StaticCredentialsProvider>(
      maxcompute_client::Credentials{"bench", "bench"});
  auto rest = maxcompute_client::RestClient::Create(
      {.endpoint = endpoint + "/api", .project = "connector_test"}, credentials);
  auto tunnel = maxcompute_client::TunnelClient::Create(
      {.endpoint = endpoint, .project = "connector_test"}, credentials);
  if (!rest.ok() || !tunnel.ok()) return 1;
  if (!(*rest)
           ->RunSql({.query = "CREATE TABLE test_kafka(topic STRING,partition BIGINT,offset "
                              "BIGINT,key STRING,value STRING) PARTITIONED by (pt STRING);"})
           .ok()) {
    return 1;
  }

  std::cout << absl::StrFormat("%-12s %12s %12s %10s %12s\n", "compression", "rows", "MB",
                               "seconds", "rows/s");
  int failures = 0;
  for (auto compression : {maxcompute::Compression::kNone, maxcompute::Compression::kDeflate}) {
    const std::string name = compression == maxcompute::Compression::kNone ? "none" : "deflate";
    std::vector<v1::RowBatch> batches = SeedBatches(rows, "bench " + name);
    int64_t bytes = 0;
    for (const auto& b : batches) bytes += static_cast<int64_t>(b.groups(0).encoded_rows().size());
    connection::MaxComputeTunnelBackend backend(rest->get(), tunnel->get(), compression);
    writer::TableWriterOptions options;
    options.table = "test_kafka";
    options.block_bytes = 64 << 20;  // the Java SDK's buffer
    options.commit_bytes = int64_t{1} << 40;
    options.commit_interval = absl::Hours(1);
    options.max_buffered_bytes = int64_t{1} << 40;
    std::atomic<int64_t> acked{0};
    writer::TableWriterCallbacks callbacks;
    callbacks.on_ack = [&](v1::Ack) { acked++; };
    callbacks.on_failure = [&](const writer::WriteFailure& f) {
      std::cerr << "failure: " << f.status << "\n";
      failures++;
    };
    auto table = writer::TableWriter::Create(options, &backend, callbacks);
    if (!table.ok()) return 1;
    const int64_t n = static_cast<int64_t>(batches.size());
    const absl::Time start = absl::Now();
    for (auto& b : batches) (void)(*table)->Add(std::move(b));
    const absl::Status drained = (*table)->Drain(absl::Now() + absl::Minutes(5));
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (!drained.ok() || acked.load() != n) {
      std::cerr << "not all committed: " << drained << "\n";
      failures++;
    }
    std::cout << absl::StrFormat("%-12s %12d %12.1f %10.3f %12.0f\n", name, rows, bytes / 1e6,
                                 seconds, rows / seconds);
  }
  server->Stop();
  std::filesystem::remove_all(dir);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace mcsink

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: tunnel_bench MCLOCAL_BINARY [ROWS]\n";
    return 2;
  }
  return mcsink::Run(argv[1], argc > 2 ? std::stoll(argv[2]) : 2'000'000);
}
