// mcsinkctl against a real `mcsink` (embedded controller), a real Kafka broker (fixture) and
// mclocal: the connector's whole life through the CLI, the token, and secrets. Every mcsinkctl
// run is a separate process, as a user or a script runs it.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/process.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/v1/controller.pb.h"

namespace mcsink {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;
using ::testing::HasSubstr;
using ::testing::Not;

struct CtlResult {
  int code;
  std::string output;  // stdout and stderr
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class McsinkctlE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(bootstrap_, testing::KafkaFixtureBootstrap());
    const std::string unique = testing::UniqueTopicName("ctl");
    dir_ = (fs::temp_directory_path() / ("mcsinkctl-e2e-" + unique)).string();
    fs::create_directories(dir_);
    // Values that appear nowhere else, so finding one in a log can only be a leak.
    token_ = absl::StrCat("tok-", unique, "-Zq81");
    secret_ = absl::StrCat("sk-", unique, "-Wv27");
    name_ = absl::StrCat("e2e-", getpid());
    topic_ = unique + "-in";
    std::ofstream(dir_ + "/token") << token_ << "\n";
    // mclocal checks signatures against this key: rows only arrive if the connector read the
    // secret through its reference.
    std::ofstream(dir_ + "/keys") << "ak-e2e " << secret_ << "\n";

    ASSERT_OK_AND_ASSIGN(
        mclocal_,
        ChildProcess::Start(
            {MCSINK_MCLOCAL, "--address=127.0.0.1:0", "--port_file=" + dir_ + "/mclocal.port",
             "--data_dir=" + dir_ + "/mclocal", "--auth=strict", "--keys_file=" + dir_ + "/keys"},
            dir_ + "/mclocal.log"));
    ASSERT_OK_AND_ASSIGN(const std::string port,
                         testing::WaitForFileLine(dir_ + "/mclocal.port", absl::Seconds(30)));
    endpoint_ = absl::StrCat("http://127.0.0.1:", port, "/api");

    controller_ = absl::StrCat("127.0.0.1:", testing::FreePort());
    ASSERT_OK_AND_ASSIGN(
        mcsink_,
        ChildProcess::Start({MCSINK_ALLINONE, "--kafka_bootstrap_servers=" + bootstrap_,
                             "--registry_topic=" + unique + "-registry",
                             "--grpc_address=" + controller_, "--metrics_address=127.0.0.1:0",
                             "--token_file=" + dir_ + "/token", "--commit_interval_seconds=2"},
                            dir_ + "/mcsink.log",
                            {{"ALIBABA_CLOUD_ACCESS_KEY_ID", "ak-e2e"},
                             {"ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret_}}));
    // The controller answers once its registry is read.
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    CtlResult list{-1, ""};
    while (absl::Now() < deadline) {
      list = Ctl({"list"});
      if (list.code == 0) break;
      ASSERT_TRUE(mcsink_->Running()) << ReadFile(dir_ + "/mcsink.log");
      absl::SleepFor(absl::Milliseconds(200));  // between polls of the condition
    }
    ASSERT_EQ(list.code, 0) << list.output << ReadFile(dir_ + "/mcsink.log");

    ASSERT_OK_AND_ASSIGN(auto admin, kafka::Admin::Create({{"bootstrap.servers", bootstrap_}}));
    ASSERT_OK(admin->CreateTopic({.name = topic_, .partitions = 3}));
    const CtlResult table = Ctl({"sql", "--endpoint=" + endpoint_, "--project=connector_test", "-e",
                                 "CREATE TABLE IF NOT EXISTS test_kafka(topic STRING,partition "
                                 "BIGINT,offset BIGINT,key STRING,value STRING) PARTITIONED by "
                                 "(pt STRING);"});
    ASSERT_EQ(table.code, 0) << table.output;
  }

  void TearDown() override {
    if (mcsink_) mcsink_->Stop(absl::Seconds(30));
    if (mclocal_) mclocal_->Stop(absl::Seconds(10));
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Runs mcsinkctl with the controller and token from the environment, as a script would.
  CtlResult Ctl(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                bool with_token = true) {
    const std::string log = absl::StrCat(dir_, "/ctl-", ++ctl_runs_, ".log");
    std::vector<std::string> argv = {MCSINKCTL};
    argv.insert(argv.end(), args.begin(), args.end());
    env.emplace("MCSINK_CONTROLLER", controller_);
    if (with_token) env.emplace("MCSINK_TOKEN", token_);
    env.emplace("ALIBABA_CLOUD_ACCESS_KEY_ID", "ak-e2e");
    env.emplace("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret_);
    auto child = ChildProcess::Start(argv, log, env);
    if (!child.ok()) return {-1, std::string(child.status().message())};
    const std::optional<int> code = child->Wait(absl::Seconds(180));
    if (!code) child->Stop(absl::Seconds(1));
    return {code.value_or(-1), ReadFile(log)};
  }

  void WriteConfig() {
    std::ofstream(dir_ + "/connector.yaml") << "# written by mcsinkctl_e2e_test\n"
                                            << "name: " << name_ << "\n"
                                            << "source_topic: " << topic_ << "\n"
                                            << "concurrency: 6\n"
                                            << "kafka_properties:\n"
                                            << "  bootstrap.servers: \"" << bootstrap_ << "\"\n"
                                            << "target:\n"
                                            << "  endpoint: \"" << endpoint_ << "\"\n"
                                            << "  project: connector_test\n"
                                            << "  table: test_kafka\n"
                                            << "  access_key_id:\n"
                                            << "    env: ALIBABA_CLOUD_ACCESS_KEY_ID\n"
                                            << "  access_key_secret:\n"
                                            << "    env: ALIBABA_CLOUD_ACCESS_KEY_SECRET\n";
  }

  // Rows of test_kafka, counted through `mcsinkctl sql --connector`, until `want` or the deadline.
  int64_t WaitForRows(int64_t want, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    int64_t rows = -1;
    const std::regex cell(R"(\|\s*([0-9]+)\s*\|)");
    while (absl::Now() < deadline) {
      const CtlResult r =
          Ctl({"sql", "--connector=" + name_, "-e", "SELECT COUNT(*) FROM test_kafka;"});
      std::smatch m;
      if (r.code == 0 && std::regex_search(r.output, m, cell)) rows = std::stoll(m[1]);
      if (rows >= want) break;
      absl::SleepFor(absl::Milliseconds(200));  // between polls of the condition
    }
    return rows;
  }

  std::string bootstrap_, dir_, token_, secret_, name_, topic_, endpoint_, controller_;
  std::optional<ChildProcess> mclocal_;
  std::optional<ChildProcess> mcsink_;
  int ctl_runs_ = 0;
};

TEST_F(McsinkctlE2ETest, AConnectorLivesItsWholeLifeThroughTheCli) {
  // given the connector's YAML
  WriteConfig();
  // when it is created and deployed, and records arrive
  const CtlResult created =
      Ctl({"create", "-f", dir_ + "/connector.yaml", "--deploy", "--wait", "--wait-timeout=120s"});
  ASSERT_EQ(created.code, 0) << created.output << ReadFile(dir_ + "/mcsink.log");
  EXPECT_THAT(created.output,
              HasSubstr(absl::StrCat("connector ", name_, " created and deployed")));
  EXPECT_THAT(created.output, HasSubstr(absl::StrCat(name_, ": RUNNING")));
  ASSERT_OK(testing::ProduceTestRecords(
      bootstrap_, topic_, 5, [](int64_t i) { return absl::StrCat("k", i); },
      [](int64_t i) { return absl::StrCat("v", i); }));
  // then
  EXPECT_EQ(WaitForRows(5, absl::Minutes(2)), 5) << ReadFile(dir_ + "/mcsink.log");

  const CtlResult list = Ctl({"list"});
  EXPECT_EQ(list.code, 0);
  EXPECT_THAT(list.output, HasSubstr("NAME"));
  EXPECT_THAT(list.output, HasSubstr(name_));

  const CtlResult status = Ctl({"status", name_, "-o", "json"});
  ASSERT_EQ(status.code, 0) << status.output;
  v1::ConnectorStatus parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(status.output, &parsed).ok())
      << status.output;
  EXPECT_EQ(parsed.name(), name_);
  EXPECT_EQ(parsed.state(), v1::CONNECTOR_STATE_RUNNING);

  const CtlResult offsets = Ctl({"offsets", "get", name_});
  EXPECT_EQ(offsets.code, 0) << offsets.output;
  EXPECT_THAT(offsets.output, HasSubstr("consumer group connect-" + name_));

  // Offsets move only while paused.
  const CtlResult running_reset = Ctl({"offsets", "reset", name_, "--to-earliest"});
  EXPECT_EQ(running_reset.code, 7) << running_reset.output;
  EXPECT_THAT(running_reset.output, HasSubstr("mcsinkctl pause " + name_));
  const CtlResult paused = Ctl({"pause", name_, "--wait", "--wait-timeout=60s"});
  EXPECT_EQ(paused.code, 0) << paused.output;
  EXPECT_THAT(paused.output, HasSubstr(name_ + ": PAUSED"));
  const CtlResult reset = Ctl({"offsets", "reset", name_, "--to-latest"});
  EXPECT_EQ(reset.code, 0) << reset.output;
  const CtlResult resumed = Ctl({"resume", name_, "--wait", "--wait-timeout=60s"});
  EXPECT_EQ(resumed.code, 0) << resumed.output;

  // Restarting only the failed partitions (none failed here) keeps the connector running: the
  // data plane acts on the new generation without rebuilding it.
  const std::string started = "connector " + name_ + " running:";
  auto starts = [&] {
    const std::string log = ReadFile(dir_ + "/mcsink.log");
    int n = 0;
    for (size_t at = log.find(started); at != std::string::npos; at = log.find(started, at + 1)) {
      ++n;
    }
    return n;
  };
  const int starts_before = starts();
  const CtlResult restarted =
      Ctl({"restart", name_, "--only-failed", "--wait", "--wait-timeout=60s"});
  EXPECT_EQ(restarted.code, 0) << restarted.output;
  EXPECT_THAT(restarted.output, HasSubstr(name_ + ": RUNNING"));
  EXPECT_THAT(ReadFile(dir_ + "/mcsink.log"),
              HasSubstr("connector " + name_ + ": restarted its failed partitions (generation 1)"));
  EXPECT_EQ(starts(), starts_before);

  EXPECT_EQ(Ctl({"get", "no-such-connector"}).code, 3);
  const CtlResult deleted = Ctl({"delete", name_});
  EXPECT_EQ(deleted.code, 0) << deleted.output;
  EXPECT_EQ(Ctl({"get", name_}).code, 3);
}

TEST_F(McsinkctlE2ETest, AnInvalidConfigIsRefusedWithEveryBadFieldAndExitCodeTwo) {
  const CtlResult r = Ctl(
      {"create", "--name", "Bad_Name", "--concurrency", "7", "--format", "csv", "--topic", topic_});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\n  name: "));
  EXPECT_THAT(r.output, HasSubstr("\n  concurrency: "));
  EXPECT_THAT(r.output, HasSubstr("\n  format: "));
  const CtlResult v = Ctl({"validate", "--name", "Bad_Name", "--topic", topic_});
  EXPECT_EQ(v.code, 2) << v.output;
  EXPECT_THAT(v.output, HasSubstr("FIELD"));
}

TEST_F(McsinkctlE2ETest, WithoutTheRightTokenTheControllerRefusesAndTheExitCodeIsFour) {
  const CtlResult none = Ctl({"list"}, {}, /*with_token=*/false);
  EXPECT_EQ(none.code, 4) << none.output;
  EXPECT_THAT(none.output, HasSubstr("--token-file or MCSINK_TOKEN"));
  std::ofstream(dir_ + "/wrong-token") << "not-the-token\n";
  EXPECT_EQ(Ctl({"list", "--token-file=" + dir_ + "/wrong-token"}, {}, false).code, 4);
  EXPECT_EQ(Ctl({"list", "--token-file=" + dir_ + "/token"}, {}, false).code, 0);
}

TEST_F(McsinkctlE2ETest, NeitherTheSecretNorTheTokenAppearsInAnyLogOrOutput) {
  // given a connector whose AccessKey secret is given by reference, running and delivering
  WriteConfig();
  const CtlResult created =
      Ctl({"create", "-f", dir_ + "/connector.yaml", "--deploy", "--wait", "--wait-timeout=120s"});
  ASSERT_EQ(created.code, 0) << created.output;
  ASSERT_OK(testing::ProduceTestRecords(
      bootstrap_, topic_, 3, [](int64_t i) { return absl::StrCat(i); },
      [](int64_t i) { return absl::StrCat(i); }));
  ASSERT_EQ(WaitForRows(3, absl::Minutes(2)), 3) << "the secret reference did not work";

  // when every read command runs in both formats, and a watch prints the records
  std::vector<CtlResult> outputs;
  for (const char* format : {"table", "json"}) {
    for (std::vector<std::string> args : {std::vector<std::string>{"get", name_},
                                          {"list"},
                                          {"status", name_},
                                          {"offsets", "get", name_},
                                          {"validate", "-f", dir_ + "/connector.yaml"}}) {
      args.push_back(absl::StrCat("--output=", format));
      outputs.push_back(Ctl(args));
      EXPECT_EQ(outputs.back().code, 0)
          << absl::StrJoin(args, " ") << ": " << outputs.back().output;
    }
  }
  {
    const std::string log = dir_ + "/ctl-watch.log";
    ASSERT_OK_AND_ASSIGN(
        ChildProcess watch,
        ChildProcess::Start({MCSINKCTL, "watch", name_, "-o", "json"}, log,
                            {{"MCSINK_CONTROLLER", controller_}, {"MCSINK_TOKEN", token_}}));
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline && ReadFile(log).find(name_) == std::string::npos) {
      ASSERT_TRUE(watch.Running()) << ReadFile(log);
      absl::SleepFor(absl::Milliseconds(100));  // between polls of the condition
    }
    watch.Stop(absl::Seconds(5));
    EXPECT_THAT(ReadFile(log), HasSubstr("ALIBABA_CLOUD_ACCESS_KEY_SECRET"));
  }
  // Stopped first, so their logs are complete.
  EXPECT_EQ(mcsink_->Stop(absl::Seconds(30)), 0);
  mcsink_.reset();
  mclocal_->Stop(absl::Seconds(10));
  mclocal_.reset();

  // then the outputs show the reference, and no log of any process holds either value
  EXPECT_THAT(outputs[0].output, HasSubstr("target.access_key_secret.env"));
  EXPECT_THAT(outputs[0].output, HasSubstr("ALIBABA_CLOUD_ACCESS_KEY_SECRET"));
  int logs = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().extension() != ".log") continue;
    ++logs;
    const std::string text = ReadFile(entry.path().string());
    EXPECT_THAT(text, Not(HasSubstr(secret_))) << entry.path();
    EXPECT_THAT(text, Not(HasSubstr(token_))) << entry.path();
  }
  // mclocal, mcsink, the watch and every mcsinkctl run.
  EXPECT_GE(logs, 3 + static_cast<int>(outputs.size()));
  EXPECT_FALSE(ReadFile(dir_ + "/mcsink.log").empty());
}

}  // namespace
}  // namespace mcsink
