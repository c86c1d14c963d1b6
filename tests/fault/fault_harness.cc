#include "fault_harness.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "e2e_harness.h"
#include "mcsink/kafka/config.h"
#include "mcsink/maxcompute_client/http.h"

namespace mcsink::fault {
namespace {

using testing::ChildProcess;
namespace mcc = maxcompute_client;

// Runs `command` through the shell; its output, or an error naming the command and its output.
absl::StatusOr<std::string> RunCommand(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("cannot run: ", command));
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int status = ::pclose(pipe);
  if (status != 0) {
    return absl::InternalError(absl::StrCat("'", command, "' failed (status ", status, "): ", out));
  }
  return out;
}

std::string LastLine(const std::string& text) {
  std::vector<std::string> lines =
      absl::StrSplit(absl::StripTrailingAsciiWhitespace(text), '\n', absl::SkipEmpty());
  return lines.empty() ? "" : std::string(absl::StripAsciiWhitespace(lines.back()));
}

bool Poisoned(const FaultPlan& plan, int64_t i) { return i % plan.poison_every == 13; }

std::string ValueOf(const FaultPlan& plan, int64_t i) {
  // Unique per run and record; a poisoned one starts with bytes that are not UTF-8.
  return Poisoned(plan, i) ? absl::StrCat("\xff\xfe", "poison-", plan.seed, "-", i)
                           : absl::StrCat("fault-", plan.seed, "-", i);
}

// Records each delivered record's (partition, offset) by its index (the message's opaque).
class PlacementReport : public RdKafka::DeliveryReportCb {
 public:
  explicit PlacementReport(int64_t n) : placed(n, {-1, -1}) {}
  void dr_cb(RdKafka::Message& message) override {
    const auto i = reinterpret_cast<intptr_t>(message.msg_opaque());
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      ++failed;
      last_error = message.errstr();
      return;
    }
    placed[i] = {message.partition(), message.offset()};
  }
  std::vector<std::pair<int32_t, int64_t>> placed;
  int64_t failed = 0;
  std::string last_error;
};

// How long a fault that waits for a request of its kind (a commit, a block) waits for one: the
// writer commits every second while records come.
constexpr absl::Duration kFaultWait = absl::Seconds(15);

// One run of a plan: the processes, the timeline and the checks.
class Run {
 public:
  Run(const FaultPlan& plan, KafkaBroker& broker, std::string dir)
      : plan_(plan), broker_(broker), dir_(std::move(dir)) {
    report_.seed = plan.seed;
    // Records keep coming until after the last fault, so that each fault meets work in flight.
    produce_over_ = plan.produce_over;
    if (!plan.events.empty()) {
      produce_over_ = std::max(produce_over_, plan.events.back().at + absl::Seconds(5));
    }
  }

  RunReport Execute() {
    std::filesystem::create_directories(dir_);
    if (absl::Status st = Setup(); !st.ok()) return Fail("setup", st);
    if (absl::Status st = StartPipeline(); !st.ok()) return Fail("start the pipeline", st);
    t0_ = absl::Now();
    PlacementReport placement(plan_.records);
    absl::Status produced;
    std::thread producer([&] { produced = Produce(placement); });
    for (const FaultEvent& event : plan_.events) {
      absl::SleepFor(t0_ + event.at - absl::Now());
      ReviveDeadProcesses();
      if (absl::Status st = Inject(event); !st.ok()) {
        Problem(absl::StrCat("injecting ", FaultKindName(event.kind), ": ", st.ToString()));
      }
    }
    faults_done_.Notify();
    producer.join();
    if (!produced.ok()) return Fail("produce", produced);
    if (placement.failed > 0) {
      return Fail("produce",
                  absl::InternalError(absl::StrCat(
                      placement.failed, " records were not delivered: ", placement.last_error)));
    }
    Log(absl::StrCat("produced ", plan_.records, " records"));
    ReviveDeadProcesses();
    WaitForCatchUp();
    StopPipeline();
    Verify(placement.placed);
    if (mclocal_) mclocal_->Stop(absl::Seconds(10));
    return report_;
  }

 private:
  RunReport Fail(const std::string& what, const absl::Status& status) {
    Problem(absl::StrCat(what, ": ", status.ToString()));
    StopPipeline();
    if (mclocal_) mclocal_->Stop(absl::Seconds(10));
    return report_;
  }

  void Log(const std::string& line) {
    const std::string entry =
        absl::StrFormat("t+%5.1fs %s", absl::ToDoubleSeconds(absl::Now() - t0_), line);
    std::cout << "[fault seed=" << plan_.seed << "] " << entry << std::endl;
    report_.timeline.push_back(entry);
  }
  void Problem(const std::string& line) {
    Log("PROBLEM: " + line);
    report_.problems.push_back(line);
  }

  // ---- setup ----
  absl::Status Setup() {
    MCSINK_ASSIGN_OR_RETURN(admin_,
                            kafka::Admin::Create({{"bootstrap.servers", broker_.bootstrap()}}));
    topic_ = testing::UniqueTopicName(absl::StrCat("fault-", plan_.seed));
    name_ = testing::UniqueTopicName(absl::StrCat("fault-sink-", plan_.seed));
    MCSINK_RETURN_IF_ERROR(admin_->CreateTopic({.name = topic_, .partitions = plan_.partitions}));
    MCSINK_RETURN_IF_ERROR(StartMclocal());
    auto credentials = std::make_shared<mcc::StaticCredentialsProvider>(
        mcc::Credentials{"mclocal-ak", "mclocal-sk"});
    MCSINK_ASSIGN_OR_RETURN(
        rest_, mcc::RestClient::Create(
                   {.endpoint = endpoint_ + "/api", .project = "connector_test"}, credentials));
    MCSINK_ASSIGN_OR_RETURN(
        tunnel_, mcc::TunnelClient::Create({.endpoint = endpoint_, .project = "connector_test"},
                                           credentials));
    mcc::HttpClientOptions admin_options{.base_url = endpoint_};
    admin_options.timeout = absl::Seconds(10);
    admin_options.retry.max_attempts = 3;
    MCSINK_ASSIGN_OR_RETURN(mclocal_admin_, mcc::HttpClient::Create(admin_options));
    MCSINK_RETURN_IF_ERROR(
        rest_
            ->RunSql({.query = "CREATE TABLE IF NOT EXISTS test_kafka(topic STRING,"
                               "partition BIGINT,offset BIGINT,key STRING,value STRING) "
                               "PARTITIONED by (pt STRING);"})
            .status());
    // A 6 s session timeout (the broker's minimum) so that the group notices a killed consumer
    // in seconds, not the default 45.
    std::ofstream(dir_ + "/connector.json") << absl::StrCat(
        R"({"name": ")", name_,
        R"(", "failure_policy": "FAILURE_POLICY_CONTINUE", "source_topic": ")", topic_,
        R"(", "kafka_properties": {"bootstrap.servers": ")", broker_.bootstrap(),
        R"(", "session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"},
           "target": {"endpoint": ")",
        endpoint_, R"(/api", "tunnel_endpoint": ")", endpoint_,
        R"(", "project": "connector_test", "table": "test_kafka",
           "access_key_id": {"env": "MC_AK"}, "access_key_secret": {"env": "MC_SK"}}})");
    transform_address_ = absl::StrCat("127.0.0.1:", testing::FreePort());
    writer_address_ = absl::StrCat("127.0.0.1:", testing::FreePort());
    return absl::OkStatus();
  }

  // The first start picks a free port; restarts reuse it and the data directory, as a restarted
  // service would keep its address and disk.
  absl::Status StartMclocal() {
    const std::string port_file = dir_ + "/mclocal.port";
    std::filesystem::remove(port_file);
    MCSINK_ASSIGN_OR_RETURN(
        ChildProcess process,
        ChildProcess::Start({MCSINK_MCLOCAL, absl::StrCat("--address=127.0.0.1:", mclocal_port_),
                             "--port_file=" + port_file, "--data_dir=" + dir_ + "/mclocal"},
                            dir_ + "/mclocal.log"));
    mclocal_.emplace(std::move(process));
    MCSINK_ASSIGN_OR_RETURN(const std::string port,
                            testing::WaitForFileLine(port_file, absl::Seconds(30)));
    if (!absl::SimpleAtoi(port, &mclocal_port_)) {
      return absl::InternalError(absl::StrCat("mclocal wrote port '", port, "'"));
    }
    endpoint_ = absl::StrCat("http://127.0.0.1:", mclocal_port_);
    return absl::OkStatus();
  }

  std::map<std::string, std::string> Env() const {
    return {{"MC_AK", "mclocal-ak"}, {"MC_SK", "mclocal-sk"}, {"MCSINK_LOG_LEVEL", "info"}};
  }
  std::string Config() const { return "--connector_config=" + dir_ + "/connector.json"; }

  absl::StatusOr<ChildProcess> StartIngest(int instance) {
    return ChildProcess::Start(
        {MCSINK_INGEST, Config(), "--transform_address=" + transform_address_,
         "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0"},
        absl::StrCat(dir_, "/ingest-", instance, ".log"), Env());
  }
  absl::StatusOr<ChildProcess> StartTransform() {
    return ChildProcess::Start(
        {MCSINK_TRANSFORM, Config(), "--grpc_address=" + transform_address_,
         "--writer_address=" + writer_address_, "--metrics_address=127.0.0.1:0"},
        dir_ + "/transform.log", Env());
  }
  absl::StatusOr<ChildProcess> StartWriter() {
    return ChildProcess::Start({MCSINK_WRITER, Config(), "--grpc_address=" + writer_address_,
                                "--metrics_address=127.0.0.1:0", "--commit_interval_seconds=1"},
                               dir_ + "/writer.log", Env());
  }
  absl::StatusOr<ChildProcess> StartAllInOne(int instance) {
    return ChildProcess::Start({MCSINK_ALLINONE, Config(), "--grpc_address=127.0.0.1:0",
                                "--metrics_address=127.0.0.1:0", "--commit_interval_seconds=1"},
                               absl::StrCat(dir_, "/mcsink-", instance, ".log"), Env());
  }

  // The pipeline's processes, each with how to start it again.
  struct Slot {
    std::string name;
    std::function<absl::StatusOr<ChildProcess>()> start;
    std::optional<ChildProcess> process;
  };

  absl::Status StartSlot(Slot& slot) {
    MCSINK_ASSIGN_OR_RETURN(ChildProcess p, slot.start());
    slot.process.emplace(std::move(p));
    return absl::OkStatus();
  }

  absl::Status StartPipeline() {
    if (plan_.mode == Mode::kSplit) {
      slots_.push_back({"writer", [this] { return StartWriter(); }, {}});
      slots_.push_back({"transform", [this] { return StartTransform(); }, {}});
      slots_.push_back({"ingest", [this] { return StartIngest(1); }, {}});
    } else {
      slots_.push_back({"mcsink", [this] { return StartAllInOne(1); }, {}});
    }
    // Ingest (or all-in-one) first: the first ingest of a connector creates its internal
    // topics, which the writer needs to start. The faults start once they exist.
    MCSINK_RETURN_IF_ERROR(StartSlot(slots_.back()));
    MCSINK_RETURN_IF_ERROR(WaitForInternalTopics());
    for (auto it = slots_.rbegin() + 1; it != slots_.rend(); ++it) {
      MCSINK_RETURN_IF_ERROR(StartSlot(*it));
    }
    return absl::OkStatus();
  }

  absl::Status WaitForInternalTopics() {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    for (const char* prefix :
         {"connect-offset-", "connect-config-", "connect-status-", "connect-error-"}) {
      const std::string topic = prefix + name_;
      while (!admin_->DescribeTopic(topic, absl::Seconds(5)).ok()) {
        if (absl::Now() > deadline) {
          return absl::DeadlineExceededError(absl::StrCat(
              "internal topic ", topic, " not created within 60 s of the first ingest's start"));
        }
        absl::SleepFor(absl::Milliseconds(200));
      }
    }
    return absl::OkStatus();
  }

  Slot* Find(const std::string& name) {
    for (Slot& slot : slots_) {
      if (slot.name == name) return &slot;
    }
    return nullptr;
  }

  // The one that commits: the writer, or the all-in-one process.
  Slot& Committer() { return *Find(plan_.mode == Mode::kSplit ? "writer" : "mcsink"); }

  absl::Status KillAndRestart(Slot& slot, absl::Duration pause, const std::string& why) {
    const pid_t pid = slot.process->pid();
    slot.process->Kill();
    absl::SleepFor(pause);
    MCSINK_RETURN_IF_ERROR(StartSlot(slot));
    Log(absl::StrCat("kill -9 ", slot.name, " (pid ", pid, ") ", why, "; restarted after ",
                     absl::FormatDuration(pause), " as pid ", slot.process->pid()));
    return absl::OkStatus();
  }

  // A pipeline process that exited without being told to is a bug of its own: say so, and start
  // it again so the run can still measure delivery.
  void ReviveDeadProcesses() {
    for (Slot& slot : slots_) {
      if (slot.process && !slot.process->Running()) {
        const int code = slot.process->Stop(absl::ZeroDuration());
        Problem(absl::StrCat(slot.name, " exited by itself (", code, "); see ", dir_, "/",
                             slot.name, "*.log"));
        if (absl::Status st = StartSlot(slot); !st.ok()) Problem(st.ToString());
      }
    }
    if (mclocal_ && !mclocal_->Running()) {
      Problem("mclocal exited by itself; restarting it");
      if (absl::Status st = StartMclocal(); !st.ok()) Problem(st.ToString());
    }
  }

  void StopPipeline() {
    // Ingest first, so that what it has read drains through transform and the writer.
    for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) {
      if (!it->process) continue;
      const int code = it->process->Stop(absl::Seconds(60));
      if (code != 0) Problem(absl::StrCat(it->name, " did not drain cleanly: exit ", code));
      it->process.reset();
    }
  }

  // ---- mclocal's /admin/faults ----
  absl::Status SetFaults(const std::string& rules) {
    mcc::HttpRequest request;
    request.method = rules.empty() ? "DELETE" : "POST";
    request.path = "/admin/faults";
    if (!rules.empty()) request.SetBody(rules);
    MCSINK_ASSIGN_OR_RETURN(const mcc::HttpResponse response, mclocal_admin_->Send(request));
    if (response.status != 200) {
      return absl::InternalError(absl::StrCat("mclocal refused faults '", rules,
                                              "': ", response.status, " ", response.body));
    }
    return absl::OkStatus();
  }

  // Waits until mclocal's first rule has acted at least once (a rule counts from when it was
  // set); false when no request of its kind came within `timeout`.
  bool WaitForFaultFired(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    mcc::HttpRequest request;
    request.path = "/admin/faults";
    while (absl::Now() < deadline) {
      auto response = mclocal_admin_->Send(request);
      if (response.ok() && !absl::StrContains(response->body, " fired=0\n") &&
          absl::StrContains(response->body, " fired=")) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  absl::Status HoldFaults(const std::string& rules, absl::Duration hold, const std::string& what) {
    MCSINK_RETURN_IF_ERROR(SetFaults(rules));
    Log(absl::StrCat("mclocal ", what, " for ", absl::FormatDuration(hold), ": ",
                     absl::StrJoin(absl::StrSplit(rules, '\n'), ", ")));
    absl::SleepFor(hold);
    Log(absl::StrCat("  mclocal faults cleared; they acted on: ", FiredCounts()));
    return SetFaults("");
  }

  // mclocal_commits_total from mclocal's /metrics (-1 when it cannot be read).
  double CommitsPublished() {
    mcc::HttpRequest request;
    request.path = "/metrics";
    auto response = mclocal_admin_->Send(request);
    if (!response.ok()) return -1;
    for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
      if (absl::ConsumePrefix(&line, "mclocal_commits_total ")) {
        double n = 0;
        return absl::SimpleAtod(line, &n) ? n : -1;
      }
    }
    return -1;
  }

  // mclocal's account of the current rules, on one line ("<rule> seen=.. fired=..; ...").
  std::string FiredCounts() {
    mcc::HttpRequest request;
    request.path = "/admin/faults";
    auto response = mclocal_admin_->Send(request);
    if (!response.ok()) return response.status().ToString();
    return absl::StrJoin(absl::StrSplit(absl::StripTrailingAsciiWhitespace(response->body), '\n'),
                         "; ");
  }

  absl::Status OneShotFault(const std::string& rule, const std::string& what) {
    MCSINK_RETURN_IF_ERROR(SetFaults(rule));
    const bool fired = WaitForFaultFired(kFaultWait);
    MCSINK_RETURN_IF_ERROR(SetFaults(""));
    Log(absl::StrCat("mclocal ", what, " (", rule, ")",
                     fired ? "" : ": no request of that kind came, nothing injected"));
    return absl::OkStatus();
  }

  // ---- the faults ----
  absl::Status Inject(const FaultEvent& e) {
    switch (e.kind) {
      case FaultKind::kKillIngest:
      case FaultKind::kKillTransform:
      case FaultKind::kKillWriter:
      case FaultKind::kKillAllInOne: {
        const std::string name = e.kind == FaultKind::kKillIngest      ? "ingest"
                                 : e.kind == FaultKind::kKillTransform ? "transform"
                                 : e.kind == FaultKind::kKillWriter    ? "writer"
                                                                       : "mcsink";
        Slot* slot = Find(name);
        if (slot == nullptr) return absl::InvalidArgumentError(name + " is not in this mode");
        return KillAndRestart(*slot, e.hold, "at a random moment");
      }
      case FaultKind::kKillWriterMidCommit: {
        const bool after = e.variant == 1;
        const double commits_before = CommitsPublished();
        MCSINK_RETURN_IF_ERROR(
            SetFaults(absl::StrCat("commit:delay:5000", after ? ":after" : "", "@1")));
        const bool fired = WaitForFaultFired(kFaultWait);
        Slot& committer = Committer();
        if (!fired) {
          MCSINK_RETURN_IF_ERROR(SetFaults(""));
          return KillAndRestart(committer, e.hold, "(no commit came to kill it in)");
        }
        // A rule fires as the request arrives; "after" means once mclocal has published the
        // commit, which its counter shows (the answer is held back for 5 s meanwhile).
        const absl::Time published_by = absl::Now() + absl::Seconds(4);
        while (after && CommitsPublished() <= commits_before && absl::Now() < published_by) {
          absl::SleepFor(absl::Milliseconds(20));
        }
        const absl::Status killed = KillAndRestart(
            committer, e.hold,
            after ? "after mclocal published its commit, before the answer (between commit and "
                    "journal)"
                  : "while its commit request was in flight (mclocal publishes it later)");
        MCSINK_RETURN_IF_ERROR(SetFaults(""));
        return killed;
      }
      case FaultKind::kKillMclocal: {
        const pid_t pid = mclocal_->pid();
        mclocal_->Kill();
        absl::SleepFor(e.hold);
        MCSINK_RETURN_IF_ERROR(StartMclocal());
        Log(absl::StrCat("kill -9 mclocal (pid ", pid, "); restarted after ",
                         absl::FormatDuration(e.hold), " on the same port and data"));
        return absl::OkStatus();
      }
      case FaultKind::kCrashMclocalMidCommit: {
        const std::string rule =
            e.variant == 0 ? "commit.blocks_moved:crash@1" : "commit:crash:after@1";
        MCSINK_RETURN_IF_ERROR(SetFaults(rule));
        const bool crashed = mclocal_->Wait(kFaultWait).has_value();
        if (!crashed) {
          MCSINK_RETURN_IF_ERROR(SetFaults(""));
          Log(absl::StrCat("mclocal crash (", rule, "): no commit came, nothing injected"));
          return absl::OkStatus();
        }
        absl::SleepFor(e.hold);
        MCSINK_RETURN_IF_ERROR(StartMclocal());
        Log(absl::StrCat("mclocal crashed inside a commit (", rule, "); restarted after ",
                         absl::FormatDuration(e.hold)));
        return absl::OkStatus();
      }
      case FaultKind::kMclocalErrors: {
        static const char* kRules[] = {"put_block:fail:500\ncommit:fail:503",
                                       "create_upload:fail:503\nsql:fail:500",
                                       "commit:fail:500:after"};
        return HoldFaults(kRules[e.variant % 3], e.hold, "answers 5xx");
      }
      case FaultKind::kMclocalDrops: {
        static const char* kRules[] = {"put_block:drop", "commit:drop",
                                       "commit:drop:after\nput_block:drop:after"};
        return HoldFaults(kRules[e.variant % 3], e.hold, "drops connections");
      }
      case FaultKind::kMclocalSlowCommits:
        return HoldFaults(absl::StrCat("commit:delay:", absl::ToInt64Milliseconds(e.hold)),
                          e.hold * 3, "answers commits late");
      case FaultKind::kMclocalLostCommitAnswer:
        return OneShotFault("commit:drop:after@1", "published a commit and lost its answer");
      case FaultKind::kMclocalExpiredSessions:
        return OneShotFault(e.variant == 0 ? "put_block:expire@1" : "commit:expire@1",
                            "expired an upload session under the writer");
      case FaultKind::kBrokerRestart: {
        if (!broker_.restartable()) {
          return absl::FailedPreconditionError("the shared kafka fixture is not ours to restart");
        }
        const absl::Time start = absl::Now();
        MCSINK_RETURN_IF_ERROR(broker_.Restart(e.variant == 1));
        Log(absl::StrCat("Kafka broker ", e.variant == 1 ? "killed (-9)" : "stopped",
                         " and restarted on the same ports and data, down for ",
                         absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Seconds(1)))));
        return absl::OkStatus();
      }
      case FaultKind::kRebalance: {
        Slot extra{
            plan_.mode == Mode::kSplit ? "ingest-2" : "mcsink-2",
            [this] { return plan_.mode == Mode::kSplit ? StartIngest(2) : StartAllInOne(2); },
            {}};
        MCSINK_RETURN_IF_ERROR(StartSlot(extra));
        Log(absl::StrCat("rebalance: ", extra.name, " joins the group (pid ", extra.process->pid(),
                         ")"));
        absl::SleepFor(e.hold);
        if (e.variant == 1) {
          extra.process->Kill();
          Log(absl::StrCat("rebalance: kill -9 ", extra.name));
        } else {
          const int code = extra.process->Stop(absl::Seconds(60));
          Log(absl::StrCat("rebalance: ", extra.name, " stopped (SIGTERM, exit ", code, ")"));
          if (code != 0) Problem(absl::StrCat(extra.name, " did not drain cleanly: ", code));
        }
        return absl::OkStatus();
      }
    }
    return absl::InvalidArgumentError("unknown fault");
  }

  // ---- records ----
  absl::Status Produce(PlacementReport& report) {
    MCSINK_ASSIGN_OR_RETURN(
        std::unique_ptr<RdKafka::Conf> conf,
        kafka::MakeConf({{"bootstrap.servers", broker_.bootstrap()},
                         {"enable.idempotence", "true"},  // no duplicates of our own making
                         {"linger.ms", "5"},
                         {"message.timeout.ms", "180000"}}));
    std::string err;
    if (conf->set("dr_cb", &report, err) != RdKafka::Conf::CONF_OK) {
      return absl::InternalError(err);
    }
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
    if (producer == nullptr) return absl::InternalError(err);
    // Spread over produce_over in 50 slices, so that faults land while records keep coming; the
    // last 5 slices wait for the last fault, so that records always arrive after it.
    constexpr int kSlices = 50;
    for (int slice = 0; slice < kSlices; ++slice) {
      absl::SleepFor(t0_ + produce_over_ * slice / kSlices - absl::Now());
      if (slice == kSlices - 5) faults_done_.WaitForNotification();
      const int64_t begin = plan_.records * slice / kSlices;
      const int64_t end = plan_.records * (slice + 1) / kSlices;
      for (int64_t i = begin; i < end; ++i) {
        const std::string key = absl::StrCat(i);
        const std::string value = ValueOf(plan_, i);
        RdKafka::ErrorCode code;
        while ((code = producer->produce(
                    topic_, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                    const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0,
                    reinterpret_cast<void*>(i))) == RdKafka::ERR__QUEUE_FULL) {
          producer->poll(10);
        }
        if (code != RdKafka::ERR_NO_ERROR) {
          return absl::InternalError(
              absl::StrCat("produce record ", i, " to ", topic_, ": ", RdKafka::err2str(code)));
        }
      }
      producer->poll(0);
    }
    if (producer->flush(240'000) != RdKafka::ERR_NO_ERROR) {
      return absl::DeadlineExceededError(absl::StrCat("flush to ", topic_, " timed out"));
    }
    return absl::OkStatus();
  }

  // ---- catching up ----
  absl::StatusOr<int64_t> CountRows() {
    MCSINK_ASSIGN_OR_RETURN(auto results,
                            rest_->RunSql({.query = "SELECT COUNT(*) FROM test_kafka;"}));
    if (results.empty()) return absl::DataLossError("no result");
    int64_t n = 0;
    if (!absl::SimpleAtoi(LastLine(results[0].text), &n)) {
      return absl::DataLossError(absl::StrCat("not a count: ", results[0].text));
    }
    return n;
  }

  absl::StatusOr<bool> CommittedToEnd() {
    MCSINK_ASSIGN_OR_RETURN(const auto watermarks, admin_->Watermarks(topic_));
    MCSINK_ASSIGN_OR_RETURN(const auto committed,
                            admin_->CommittedOffsets("connect-" + name_, topic_));
    for (const auto& w : watermarks) {
      if (w.high == 0) continue;
      const auto it = committed.find(w.partition);
      if (it == committed.end() || it->second < w.high) return false;
    }
    return true;
  }

  // Caught up: the group committed every partition to its end and the table then holds still
  // for 2 s (a commit that was in flight lands in that time).
  void WaitForCatchUp() {
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + absl::Minutes(3);
    int64_t last_rows = -1;
    absl::Time stable_since = absl::InfiniteFuture();
    while (absl::Now() < deadline) {
      auto done = CommittedToEnd();
      auto rows = CountRows();
      if (done.ok() && *done && rows.ok()) {
        if (*rows != last_rows) {
          last_rows = *rows;
          stable_since = absl::Now();
        } else if (absl::Now() - stable_since >= absl::Seconds(2)) {
          report_.caught_up = true;
          break;
        }
      }
      absl::SleepFor(absl::Milliseconds(500));
    }
    report_.catch_up_time = absl::Now() - start;
    Log(report_.caught_up
            ? absl::StrCat(
                  "caught up: offsets committed to the end, ", last_rows, " rows, after ",
                  absl::FormatDuration(absl::Trunc(report_.catch_up_time, absl::Milliseconds(100))))
            : "NOT caught up within 3 minutes (committed offsets short of the log end)");
    if (!report_.caught_up) report_.problems.push_back("the pipeline did not catch up");
  }

  // ---- checks ----
  void Verify(const std::vector<std::pair<int32_t, int64_t>>& placed) {
    std::map<std::pair<int64_t, int64_t>, int64_t> index;  // (partition, offset) -> record
    for (int64_t i = 0; i < static_cast<int64_t>(placed.size()); ++i) {
      index[{placed[i].first, placed[i].second}] = i;
      ++(Poisoned(plan_, i) ? report_.expected_errors : report_.expected_rows);
    }
    report_.produced = static_cast<int64_t>(placed.size());

    std::map<std::pair<int64_t, int64_t>, int> seen;
    const absl::Status read = ForEachGuideTableRow(*rest_, *tunnel_, [&](const GuideTableRow& row) {
      ++report_.rows;
      const auto it = index.find({row.partition, row.offset});
      if (row.topic != topic_ || it == index.end() || Poisoned(plan_, it->second) ||
          row.key != absl::StrCat(it->second) || row.value != ValueOf(plan_, it->second)) {
        ++report_.wrong;
        return;
      }
      if (++seen[{row.partition, row.offset}] > 1) ++report_.duplicates;
    });
    if (!read.ok()) Problem(absl::StrCat("reading the table: ", read.ToString()));
    report_.distinct = static_cast<int64_t>(seen.size());
    report_.missing = report_.expected_rows - report_.distinct;

    std::map<std::pair<int64_t, int64_t>, int> errors;
    const absl::Status errors_read = ReadErrorTopic([&](int64_t partition, int64_t offset) {
      ++report_.error_records;
      const auto it = index.find({partition, offset});
      if (it == index.end() || !Poisoned(plan_, it->second)) {
        ++report_.error_wrong;
        return;
      }
      if (++errors[{partition, offset}] > 1) ++report_.error_duplicates;
    });
    if (!errors_read.ok())
      Problem(absl::StrCat("reading the error topic: ", errors_read.ToString()));
    report_.error_missing = report_.expected_errors - static_cast<int64_t>(errors.size());
  }

  // Every record of the error topic, from its beginning to its end (the watermarks read before).
  absl::Status ReadErrorTopic(const std::function<void(int64_t, int64_t)>& visit) {
    const std::string error_topic = "connect-error-" + name_;
    auto watermarks = admin_->Watermarks(error_topic);
    if (!watermarks.ok()) {
      return report_.expected_errors == 0 ? absl::OkStatus() : watermarks.status();
    }
    MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf,
                            kafka::MakeConf({{"bootstrap.servers", broker_.bootstrap()},
                                             {"group.id", name_ + "-checker"},
                                             {"enable.auto.commit", "false"},
                                             // Only committed transactions count, and the end
                                             // is reported: with a transactional producer the
                                             // last offsets are control records, never
                                             // delivered as messages.
                                             {"isolation.level", "read_committed"},
                                             {"enable.partition.eof", "true"}}));
    std::string err;
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(
        RdKafka::KafkaConsumer::create(conf.get(), err));
    if (consumer == nullptr) return absl::InternalError(err);
    std::vector<RdKafka::TopicPartition*> assignment;
    std::map<int32_t, int64_t> remaining;  // partition -> end offset still to reach
    for (const auto& w : *watermarks) {
      if (w.high <= w.low) continue;
      assignment.push_back(RdKafka::TopicPartition::create(error_topic, w.partition, w.low));
      remaining[w.partition] = w.high;
    }
    consumer->assign(assignment);
    RdKafka::TopicPartition::destroy(assignment);
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!remaining.empty() && absl::Now() < deadline) {
      std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
      if (m->err() == RdKafka::ERR__PARTITION_EOF) {
        const auto it = remaining.find(m->partition());
        if (it != remaining.end() && m->offset() >= it->second) remaining.erase(it);
        continue;
      }
      if (m->err() != RdKafka::ERR_NO_ERROR) continue;
      std::map<std::string, std::string> h;
      if (m->headers() != nullptr) {
        for (const auto& header : m->headers()->get_all()) {
          h[header.key()] =
              std::string(static_cast<const char*>(header.value()), header.value_size());
        }
      }
      int64_t partition = -1;
      int64_t offset = -1;
      if (h["mcsink.source.topic"] != topic_ ||
          !absl::SimpleAtoi(h["mcsink.source.partition"], &partition) ||
          !absl::SimpleAtoi(h["mcsink.source.offset"], &offset)) {
        partition = offset = -1;  // counted as wrong
      }
      visit(partition, offset);
      const auto it = remaining.find(m->partition());
      if (it != remaining.end() && m->offset() + 1 >= it->second) remaining.erase(it);
    }
    consumer->close();
    if (!remaining.empty()) {
      return absl::DeadlineExceededError(
          absl::StrCat("error topic ", error_topic, " not read to its end within 60 s"));
    }
    return absl::OkStatus();
  }

  const FaultPlan& plan_;
  KafkaBroker& broker_;
  const std::string dir_;
  RunReport report_;
  absl::Duration produce_over_;
  absl::Notification faults_done_;
  absl::Time t0_ = absl::Now();
  std::string topic_, name_, endpoint_, transform_address_, writer_address_;
  int mclocal_port_ = 0;
  std::optional<ChildProcess> mclocal_;
  std::vector<Slot> slots_;
  std::unique_ptr<kafka::Admin> admin_;
  std::unique_ptr<mcc::RestClient> rest_;
  std::unique_ptr<mcc::TunnelClient> tunnel_;
  std::unique_ptr<mcc::HttpClient> mclocal_admin_;
};

}  // namespace

std::string FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kKillIngest:
      return "kill-ingest";
    case FaultKind::kKillTransform:
      return "kill-transform";
    case FaultKind::kKillWriter:
      return "kill-writer";
    case FaultKind::kKillAllInOne:
      return "kill-allinone";
    case FaultKind::kKillWriterMidCommit:
      return "kill-writer-mid-commit";
    case FaultKind::kKillMclocal:
      return "kill-mclocal";
    case FaultKind::kCrashMclocalMidCommit:
      return "crash-mclocal-mid-commit";
    case FaultKind::kMclocalErrors:
      return "mclocal-5xx";
    case FaultKind::kMclocalDrops:
      return "mclocal-drops";
    case FaultKind::kMclocalSlowCommits:
      return "mclocal-slow-commits";
    case FaultKind::kMclocalLostCommitAnswer:
      return "mclocal-lost-commit-answer";
    case FaultKind::kMclocalExpiredSessions:
      return "mclocal-expired-session";
    case FaultKind::kBrokerRestart:
      return "kafka-broker-restart";
    case FaultKind::kRebalance:
      return "rebalance";
  }
  return "unknown";
}

bool FaultPlan::NeedsPrivateBroker() const {
  for (const FaultEvent& e : events) {
    if (e.kind == FaultKind::kBrokerRestart) return true;
  }
  return false;
}

std::string FaultPlan::Describe() const {
  std::string out =
      absl::StrCat("seed=", seed, " mode=", mode == Mode::kSplit ? "split" : "allinone",
                   " partitions=", partitions, " records=", records, " poisoned=1/", poison_every,
                   " over ", absl::FormatDuration(produce_over), "; faults:");
  for (const FaultEvent& e : events) {
    absl::StrAppend(&out, " [t+", absl::FormatDuration(e.at), " ", FaultKindName(e.kind), "/",
                    e.variant, " hold ", absl::FormatDuration(e.hold), "]");
  }
  return out;
}

FaultPlan RandomPlan(uint64_t seed) {
  std::mt19937_64 random(seed);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(random);
  };
  FaultPlan plan;
  plan.seed = seed;
  plan.mode = uniform(0, 2) == 0 ? Mode::kAllInOne : Mode::kSplit;
  plan.partitions = static_cast<int>(uniform(2, 12));
  plan.records = uniform(10, 40) * 1000;
  plan.produce_over = absl::Seconds(uniform(8, 16));
  std::vector<FaultKind> kinds = {FaultKind::kKillWriterMidCommit,
                                  FaultKind::kKillMclocal,
                                  FaultKind::kCrashMclocalMidCommit,
                                  FaultKind::kMclocalErrors,
                                  FaultKind::kMclocalDrops,
                                  FaultKind::kMclocalSlowCommits,
                                  FaultKind::kMclocalLostCommitAnswer,
                                  FaultKind::kMclocalExpiredSessions,
                                  FaultKind::kRebalance};
  if (plan.mode == Mode::kSplit) {
    for (FaultKind k :
         {FaultKind::kKillIngest, FaultKind::kKillTransform, FaultKind::kKillWriter}) {
      kinds.push_back(k);
      kinds.push_back(k);  // kills twice as likely as each mclocal condition
    }
  } else {
    kinds.insert(kinds.end(), 4, FaultKind::kKillAllInOne);
  }
  kinds.push_back(FaultKind::kBrokerRestart);
  const int count = static_cast<int>(uniform(3, 6));
  absl::Duration at = absl::Milliseconds(uniform(500, 2500));
  for (int i = 0; i < count; ++i) {
    FaultEvent e;
    e.kind = kinds[uniform(0, static_cast<int64_t>(kinds.size()) - 1)];
    e.at = at;
    e.variant = static_cast<int>(uniform(0, 2));
    e.hold = e.kind == FaultKind::kRebalance ? absl::Seconds(uniform(3, 8))
                                             : absl::Milliseconds(uniform(0, 3000));
    if (e.kind == FaultKind::kKillWriterMidCommit || e.kind == FaultKind::kBrokerRestart ||
        e.kind == FaultKind::kCrashMclocalMidCommit) {
      e.variant %= 2;
    }
    plan.events.push_back(e);
    // Faults are injected one after another; the next starts a little after this one's moment
    // (later still if this one takes longer).
    at += absl::Milliseconds(uniform(1000, 4000));
  }
  return plan;
}

bool RunReport::ExactlyOnce() const {
  return caught_up && duplicates == 0 && missing == 0 && wrong == 0 && error_duplicates == 0 &&
         error_missing == 0 && error_wrong == 0 && problems.empty();
}

std::string RunReport::Summary() const {
  return absl::StrCat("seed=", seed, " ", ExactlyOnce() ? "EXACTLY-ONCE" : "FAILED", " | produced ",
                      produced, " | table: expected ", expected_rows, ", rows ", rows,
                      ", distinct ", distinct, ", duplicates ", duplicates, ", missing ", missing,
                      ", wrong ", wrong, " | error topic: expected ", expected_errors, ", records ",
                      error_records, ", duplicates ", error_duplicates, ", missing ", error_missing,
                      ", wrong ", error_wrong, " | ", caught_up ? "caught up" : "NOT caught up",
                      " | problems ", problems.size());
}

absl::StatusOr<std::unique_ptr<KafkaBroker>> KafkaBroker::Fixture() {
  MCSINK_ASSIGN_OR_RETURN(std::string bootstrap, testing::KafkaFixtureBootstrap());
  return std::unique_ptr<KafkaBroker>(new KafkaBroker(std::move(bootstrap), ""));
}

absl::StatusOr<std::unique_ptr<KafkaBroker>> KafkaBroker::StartPrivate(const std::string& dir) {
  MCSINK_ASSIGN_OR_RETURN(const std::string out,
                          RunCommand(absl::StrCat(MCSINK_KAFKA_LOCAL, " start ", dir)));
  return std::unique_ptr<KafkaBroker>(new KafkaBroker(LastLine(out), dir));
}

KafkaBroker::~KafkaBroker() {
  if (!dir_.empty()) {
    auto stopped = RunCommand(absl::StrCat(MCSINK_KAFKA_LOCAL, " stop ", dir_));
    if (!stopped.ok()) {
      std::cerr << stopped.status() << "\n";
    } else {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }
}

absl::Status KafkaBroker::Restart(bool kill) {
  MCSINK_ASSIGN_OR_RETURN(
      const std::string out,
      RunCommand(absl::StrCat(MCSINK_KAFKA_LOCAL, " restart ", dir_, kill ? " kill" : "")));
  if (LastLine(out) != bootstrap_) {
    return absl::InternalError(
        absl::StrCat("the broker came back on ", LastLine(out), ", not ", bootstrap_));
  }
  return absl::OkStatus();
}

RunReport ExecutePlan(const FaultPlan& plan, KafkaBroker& broker, const std::string& dir) {
  std::cout << "[fault] plan: " << plan.Describe() << std::endl;
  RunReport report = Run(plan, broker, dir).Execute();
  std::cout << "[fault] result: " << report.Summary() << std::endl;
  // The logs of a failed run stay for a look; a good run leaves nothing behind.
  if (report.ExactlyOnce()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  } else {
    std::cout << "[fault] logs and mclocal data of seed " << plan.seed << ": " << dir << std::endl;
  }
  return report;
}

int RunsFromEnv(int fallback) {
  const char* env = std::getenv("MCSINK_FAULT_RUNS");
  int runs = 0;
  return env != nullptr && absl::SimpleAtoi(env, &runs) && runs > 0 ? runs : fallback;
}

uint64_t SeedFromEnv() {
  const char* env = std::getenv("MCSINK_FAULT_SEED");
  uint64_t seed = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &seed)) return seed;
  return static_cast<uint64_t>(absl::ToUnixMicros(absl::Now())) % 1'000'000'007;
}

}  // namespace mcsink::fault
