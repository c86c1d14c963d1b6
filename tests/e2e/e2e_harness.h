// The end-to-end harness: a real Kafka broker (the `kafka` fixture), mclocal as a process with
// the guide's table, a 12-partition source topic and a connector config; helpers to produce,
// count and download rows, and to read the error topic.
#pragma once
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "librdkafka/rdkafkacpp.h"
#include "mcsink/common/status.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/maxcompute/compression.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute_client/credentials.h"
#include "mcsink/maxcompute_client/rest_client.h"
#include "mcsink/maxcompute_client/tunnel_client.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/process.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink {

using testing::ChildProcess;

// One row of the guide's table test_kafka(topic, partition, offset, key, value) PARTITIONED BY pt.
struct GuideTableRow {
  std::string topic;
  int64_t partition = 0;
  int64_t offset = 0;
  std::string key, value, pt;
};

// Calls `visit` with every row of the guide's table, downloaded partition by partition through
// the Tunnel (rows are visited, not collected: a table may hold millions).
inline absl::Status ForEachGuideTableRow(maxcompute_client::RestClient& rest,
                                         maxcompute_client::TunnelClient& tunnel,
                                         const std::function<void(const GuideTableRow&)>& visit) {
  MCSINK_ASSIGN_OR_RETURN(const auto partitions, rest.ListPartitions("test_kafka"));
  maxcompute::TableSchema schema;
  for (const char* c : {"topic", "key", "value"}) schema.columns.push_back({c, {}});
  schema.columns.insert(schema.columns.begin() + 1, {{"partition", {maxcompute::TypeKind::kBigint}},
                                                     {"offset", {maxcompute::TypeKind::kBigint}}});
  GuideTableRow out;
  for (const auto& p : partitions) {
    out.pt = p.values.at(0).second;
    const maxcompute_client::UploadTarget target{"test_kafka", p.Spec(), ""};
    MCSINK_ASSIGN_OR_RETURN(const auto session, tunnel.CreateDownloadSession(target));
    MCSINK_ASSIGN_OR_RETURN(const auto data,
                            tunnel.ReadRows(target, session.download_id, 0, session.record_count));
    std::string stream = data.body;
    if (!data.content_encoding.empty()) {
      const auto encoding = maxcompute::ParseContentEncoding(data.content_encoding);
      if (!encoding) {
        return absl::DataLossError(absl::StrCat(
            "download of ", p.Spec(), ": unknown Content-Encoding '", data.content_encoding, "'"));
      }
      MCSINK_ASSIGN_OR_RETURN(stream, maxcompute::Decompress(*encoding, data.body, 1u << 30));
    }
    maxcompute::RecordStreamReader reader(schema, stream);
    maxcompute::Row row;
    while (true) {
      MCSINK_ASSIGN_OR_RETURN(const bool more, reader.Next(&row));
      if (!more) break;
      out.topic = std::get<std::string>(row[0]);
      out.partition = std::get<int64_t>(row[1]);
      out.offset = std::get<int64_t>(row[2]);
      out.key = std::get<std::string>(row[3]);
      out.value = std::get<std::string>(row[4]);
      visit(out);
    }
  }
  return absl::OkStatus();
}

inline int64_t RecordsToProduce() {
  const char* env = std::getenv("MCSINK_E2E_RECORDS");
  int64_t n = 0;
  return env != nullptr && absl::SimpleAtoi(env, &n) ? n : 1'000'000;
}

class PipelineE2ETest : public ::testing::Test {
 protected:
  // Extra flags for mclocal, e.g. fault injection.
  virtual std::vector<std::string> MclocalFlags() const { return {}; }

  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(bootstrap_, testing::KafkaFixtureBootstrap());
    ASSERT_OK_AND_ASSIGN(admin_, kafka::Admin::Create({{"bootstrap.servers", bootstrap_}}));
    dir_ = ::testing::TempDir() + "/" + testing::UniqueTopicName("e2e");
    std::filesystem::create_directories(dir_);
    topic_ = testing::UniqueTopicName("maxcompute-test-input");

    std::vector<std::string> args = {MCSINK_MCLOCAL, "--address=127.0.0.1:0",
                                     "--port_file=" + dir_ + "/mclocal.port",
                                     "--data_dir=" + dir_ + "/mclocal"};
    for (const std::string& flag : MclocalFlags()) args.push_back(flag);
    ASSERT_OK_AND_ASSIGN(mclocal_, ChildProcess::Start(args, dir_ + "/mclocal.log"));
    ASSERT_OK_AND_ASSIGN(const std::string port,
                         testing::WaitForFileLine(dir_ + "/mclocal.port", absl::Seconds(30)));
    endpoint_ = "http://127.0.0.1:" + port;
    auto credentials = std::make_shared<maxcompute_client::StaticCredentialsProvider>(
        maxcompute_client::Credentials{"mclocal-ak", "mclocal-sk"});
    ASSERT_OK_AND_ASSIGN(
        rest_, maxcompute_client::RestClient::Create(
                   {.endpoint = endpoint_ + "/api", .project = "connector_test"}, credentials));
    ASSERT_OK_AND_ASSIGN(tunnel_,
                         maxcompute_client::TunnelClient::Create(
                             {.endpoint = endpoint_, .project = "connector_test"}, credentials));
    // The guide's table.
    ASSERT_OK(rest_->RunSql({.query = "CREATE TABLE IF NOT EXISTS test_kafka(topic STRING,"
                                      "partition BIGINT,offset BIGINT,key STRING,value STRING) "
                                      "PARTITIONED by (pt STRING);"}));
    ASSERT_OK(admin_->CreateTopic({.name = topic_, .partitions = 12}));
    WriteConfig();
  }

  void WriteConfig(const std::string& failure_policy = "FAILURE_POLICY_CONTINUE") {
    name_ = testing::UniqueTopicName("sink");
    std::ofstream(dir_ + "/connector.json")
        << absl::StrCat(R"({"name": ")", name_, R"(", "failure_policy": ")", failure_policy,
                        R"(", "source_topic": ")", topic_,
                        R"(", "kafka_properties": {"bootstrap.servers": ")", bootstrap_, R"("},
           "target": {"endpoint": ")",
                        endpoint_, R"(/api", "tunnel_endpoint": ")", endpoint_,
                        R"(", "project": "connector_test", "table": "test_kafka",
           "access_key_id": {"env": "MC_AK"}, "access_key_secret": {"env": "MC_SK"}}})");
  }

  std::map<std::string, std::string> Env() const {
    return {{"MC_AK", "mclocal-ak"}, {"MC_SK", "mclocal-sk"}, {"MCSINK_LOG_LEVEL", "info"}};
  }

  absl::Status Produce(int64_t count) {
    return testing::ProduceTestRecords(
        bootstrap_, topic_, count, [](int64_t i) { return absl::StrCat(i); },
        [](int64_t i) { return absl::StrCat("value-", i); });
  }

  absl::StatusOr<int64_t> CountRows() {
    MCSINK_ASSIGN_OR_RETURN(auto results,
                            rest_->RunSql({.query = "SELECT COUNT(*) FROM test_kafka;"}));
    if (results.empty()) return absl::DataLossError("no result");
    // CSV: a header line, then the count.
    std::vector<std::string> lines =
        absl::StrSplit(absl::StripTrailingAsciiWhitespace(results[0].text), '\n');
    int64_t n = 0;
    if (lines.empty() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(lines.back()), &n)) {
      return absl::DataLossError(absl::StrCat("not a count: ", results[0].text));
    }
    return n;
  }

  // Waits until the table holds `expected` rows (or stops growing for a minute).
  int64_t WaitForRows(int64_t expected, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    int64_t rows = -1;
    while (absl::Now() < deadline) {
      auto n = CountRows();
      if (n.ok()) rows = *n;
      if (rows >= expected) break;
      absl::SleepFor(absl::Seconds(1));
    }
    return rows;
  }

  // Waits until the connector's group has committed every partition up to its log end, i.e.
  // until everything produced is acknowledged as durable in the table (a row count cannot tell
  // that when duplicates are allowed). True when it has within `timeout`.
  bool WaitForGroupAtLogEnd(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      auto committed = admin_->CommittedOffsets("connect-" + name_, topic_);
      auto watermarks = admin_->Watermarks(topic_);
      if (committed.ok() && watermarks.ok()) {
        bool done = !watermarks->empty();
        for (const auto& w : *watermarks) {
          auto it = committed->find(w.partition);
          done = done && (w.high == w.low || (it != committed->end() && it->second >= w.high));
        }
        if (done) return true;
      }
      absl::SleepFor(absl::Seconds(1));
    }
    return false;
  }

  // Every row of the table, downloaded through the Tunnel and checked: each record of the topic
  // is there (distinct (partition, offset) == expected) with its topic and value; with
  // `exactly_once`, no record is there twice.
  void ExpectEveryRecord(int64_t expected, bool exactly_once) {
    std::set<std::pair<int64_t, int64_t>> seen;
    int64_t rows = 0;
    int64_t wrong = 0;
    ASSERT_OK(ForEachGuideTableRow(*rest_, *tunnel_, [&](const GuideTableRow& row) {
      ++rows;
      // The guide's HOUR format in GMT+08:00: MM-dd-yyyy HH.
      EXPECT_EQ(row.pt.size(), 13u) << row.pt;
      if (row.topic != topic_ || row.value != "value-" + row.key) ++wrong;
      seen.emplace(row.partition, row.offset);
    }));
    if (exactly_once) {
      EXPECT_EQ(rows, expected) << "rows in the table";
    }
    std::cout << "table: " << rows << " rows, " << seen.size() << " distinct records\n";
    EXPECT_EQ(static_cast<int64_t>(seen.size()), expected) << "distinct (partition, offset)";
    EXPECT_EQ(wrong, 0) << "rows whose topic or value do not match their record";
    ASSERT_OK_AND_ASSIGN(const auto watermarks, admin_->Watermarks(topic_));
    for (const auto& w : watermarks) {
      for (int64_t o = w.low; o < w.high; o += std::max<int64_t>(1, (w.high - w.low) / 50)) {
        EXPECT_TRUE(seen.contains({w.partition, o})) << w.partition << "@" << o;
      }
    }
  }

  // Starts the all-in-one process on the current config.
  absl::StatusOr<ChildProcess> StartAllInOne(const std::string& log = "mcsink.log") {
    return ChildProcess::Start({MCSINK_ALLINONE, "--connector_config=" + dir_ + "/connector.json",
                                "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
                                "--commit_interval_seconds=1"},
                               dir_ + "/" + log, Env());
  }

  // Extra flags for every service StartServiceProcess starts, e.g. TLS.
  virtual std::vector<std::string> ServiceFlags() const { return {}; }

  // Starts the service executable `binary` (e.g. MCSINK_WRITER) on the current config with
  // `flags` and ServiceFlags(); its output goes to <dir_>/<name>.log.
  absl::StatusOr<ChildProcess> StartServiceProcess(const std::string& binary,
                                                   const std::string& name,
                                                   std::vector<std::string> flags) {
    std::vector<std::string> args = {binary, "--connector_config=" + dir_ + "/connector.json",
                                     "--metrics_address=127.0.0.1:0"};
    args.insert(args.end(), flags.begin(), flags.end());
    for (const std::string& flag : ServiceFlags()) args.push_back(flag);
    return ChildProcess::Start(args, dir_ + "/" + name + ".log", Env());
  }

  // Records of the error topic, as (source partition, source offset) -> error code.
  std::map<std::pair<int32_t, int64_t>, std::string> ReadErrorTopic(size_t expected) {
    std::map<std::pair<int32_t, int64_t>, std::string> out;
    auto conf = kafka::MakeConf({{"bootstrap.servers", bootstrap_},
                                 {"group.id", name_ + "-reader"},
                                 {"auto.offset.reset", "earliest"}});
    std::string err;
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(
        RdKafka::KafkaConsumer::create(conf->get(), err));
    consumer->subscribe({"connect-error-" + name_});
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    // Expecting nothing, a few seconds of silence will do.
    absl::Time stop_at = expected == 0 ? absl::Now() + absl::Seconds(5) : deadline;
    while (absl::Now() < stop_at) {
      std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
      if (m->err() != RdKafka::ERR_NO_ERROR) continue;
      std::map<std::string, std::string> h;
      for (const auto& header : m->headers()->get_all()) {
        h[header.key()] =
            std::string(static_cast<const char*>(header.value()), header.value_size());
      }
      int32_t p = 0;
      int64_t o = 0;
      EXPECT_TRUE(absl::SimpleAtoi(h["mcsink.source.partition"], &p));
      EXPECT_TRUE(absl::SimpleAtoi(h["mcsink.source.offset"], &o));
      EXPECT_EQ(h["mcsink.source.topic"], topic_);
      EXPECT_FALSE(h["mcsink.error.message"].empty());
      out[{p, o}] = h["mcsink.error.code"];
      if (out.size() == expected) stop_at = std::min(deadline, absl::Now() + absl::Seconds(2));
    }
    consumer->close();
    return out;
  }

  std::string bootstrap_, dir_, topic_, endpoint_, name_;
  std::unique_ptr<kafka::Admin> admin_;
  ChildProcess mclocal_ = *ChildProcess::Start({"/bin/true"}, "/dev/null");
  std::unique_ptr<maxcompute_client::RestClient> rest_;
  std::unique_ptr<maxcompute_client::TunnelClient> tunnel_;
};

}  // namespace mcsink
