// The pipeline benchmark (issue 5's `bench` proof): one run, one table. On a real Kafka broker
// and mclocal, with the same N records of the guide's table shape over 12 partitions, it measures
//   - the two limits: librdkafka alone consuming the topic (the ingest's consumer settings and
//     thread count, nothing else), and the writer alone into mclocal (tunnel_bench's path:
//     already encoded rows through TableWriter and the real Tunnel client);
//   - the pipeline end to end, all-in-one and split (three processes): records/s and MB/s from
//     the processes' start to the moment mclocal's SQL COUNT(*) shows every row committed,
//     CPU-seconds per million records (utime+stime of /proc/<pid>/stat) and peak RSS (VmHWM)
//     of each process;
//   - produce-to-visible latency under a steady produce rate (a fraction of the all-in-one
//     throughput just measured), see MeasureLatency;
// then checks the issue's targets and prints PASS or MISS for each. Timing never fails the run:
// the exit code is non-zero only when a phase could not run (a process died, rows never came).
//
//   pipeline_bench [--records=N] [--concurrency=6] [--commit_interval_seconds=2] ...
//
// The broker is --bootstrap, or the address in $MCSINK_KAFKA_BOOTSTRAP_FILE (the ctest fixture).
// The limits run as child processes of this binary (`pipeline_bench consume-alone|write-alone`)
// so that their CPU and memory are measured like the services'.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "librdkafka/rdkafkacpp.h"
#include "mcsink/common/status.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/connection/tunnel_backend.h"
#include "mcsink/controller/internal_topics.h"
#include "mcsink/ingest/ingest_service.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/kafka/config.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/maxcompute_client/http.h"
#include "mcsink/maxcompute_client/rest_client.h"
#include "mcsink/maxcompute_client/tunnel_client.h"
#include "mcsink/runtime/flags.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/process.h"
#include "mcsink/writer/table_writer.h"

ABSL_FLAG(std::string, bootstrap, "",
          "Kafka bootstrap address (default: the one in $MCSINK_KAFKA_BOOTSTRAP_FILE)");
ABSL_FLAG(int64_t, records, 5'000'000,
          "records produced once and read by every phase; large enough for > 15 s of work");
ABSL_FLAG(int, value_bytes, 100, "bytes of each record's value (the key is its decimal index)");
ABSL_FLAG(int, concurrency, 6, "the connector's consumer threads (6 or 12), also librdkafka's");
ABSL_FLAG(double, latency_rate_fraction, 0.6,
          "the latency phase produces at this fraction of the measured all-in-one records/s");
ABSL_FLAG(int, latency_seconds, 20, "how long the latency phase produces");
ABSL_FLAG(std::string, work_dir, "", "logs and mclocal data (default: a new directory in /tmp)");
ABSL_FLAG(bool, keep, false, "keep work_dir (logs, mclocal data) after the run");
ABSL_FLAG(std::string, phases, "limits,allinone,split,latency",
          "which phases to run (comma separated), e.g. to profile one of them");
ABSL_FLAG(std::vector<std::string>, service_flags, {},
          "extra flags for every pipeline process, comma separated, e.g. --commit_mb=32 (flags a "
          "process does not know make it fail)");
// Child modes.
ABSL_FLAG(std::string, topic, "", "consume-alone: the topic");
ABSL_FLAG(std::string, endpoint, "", "write-alone: mclocal's endpoint (http://host:port)");
ABSL_FLAG(std::string, result_file, "", "child modes: where the result line goes");

namespace mcsink {
namespace {

using testing::ChildProcess;

constexpr int kPartitions = 12;
constexpr char kTableDdl[] =
    "CREATE TABLE IF NOT EXISTS test_kafka(topic STRING,partition BIGINT,offset BIGINT,key "
    "STRING,value STRING) PARTITIONED by (pt STRING);";

std::string KeyOf(int64_t i) { return absl::StrCat(i); }
std::string ValueOf(int64_t i, int value_bytes) {
  std::string v = absl::StrCat("value-", i, "-");
  v.resize(static_cast<size_t>(value_bytes), 'x');
  return v;
}
// Payload (key + value) bytes of records [0, n): what MB/s counts in every phase.
int64_t PayloadBytes(int64_t n, int value_bytes) {
  int64_t bytes = 0;
  for (int64_t i = 0; i < n; ++i) bytes += static_cast<int64_t>(KeyOf(i).size()) + value_bytes;
  return bytes;
}

// --- process accounting --------------------------------------------------------------------

struct ProcessUsage {
  double cpu_seconds = 0;   // user + system
  int64_t peak_rss_kb = 0;  // VmHWM
};

// utime + stime (fields 14 and 15 of /proc/<pid>/stat) and VmHWM of /proc/<pid>/status.
absl::StatusOr<ProcessUsage> ReadUsage(pid_t pid) {
  ProcessUsage usage;
  std::ifstream stat_file(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces; fields are counted after its closing ')'.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) {
    return absl::NotFoundError(absl::StrCat("no /proc/", pid, "/stat: the process is gone"));
  }
  std::vector<std::string> fields = absl::StrSplit(stat.substr(paren + 2), ' ', absl::SkipEmpty());
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::DataLossError(absl::StrCat("unexpected /proc/", pid, "/stat: ", stat));
  }
  usage.cpu_seconds =
      static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "VmHWM:")) {
      rest = absl::StripSuffix(absl::StripAsciiWhitespace(rest), "kB");
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &usage.peak_rss_kb);
    }
  }
  return usage;
}

ProcessUsage SelfUsage() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return {seconds(r.ru_utime) + seconds(r.ru_stime), r.ru_maxrss};
}

// When the first records came through, relative to the phase's start: the start-up time, and
// the count already through at that moment (what the steady-state rate leaves out).
struct FirstVisible {
  double seconds = 0;
  int64_t records = 0;
};

// What a child mode reports: "<records> <bytes> <seconds> <cpu seconds> <peak rss kB> <first
// visible seconds> <records then>".
void WriteResult(int64_t records, int64_t bytes, double seconds, FirstVisible first) {
  const ProcessUsage usage = SelfUsage();
  std::ofstream(absl::GetFlag(FLAGS_result_file))
      << absl::StrFormat("%d %d %.6f %.6f %d %.6f %d\n", records, bytes, seconds, usage.cpu_seconds,
                         usage.peak_rss_kb, first.seconds, first.records);
}

// --- one row of the table ------------------------------------------------------------------

struct ProcessRow {
  std::string name;
  ProcessUsage usage;
};

// Two rates per phase, measured the same way in every phase:
//   - from start: all records over the time from the phase's start (process start, or the
//     child's main()) until the last record is through;
//   - steady state: the records after the first ones came through, over the time from then to
//     the end. "Came through" is what the phase delivers: a row visible in MaxCompute (the
//     pipelines: COUNT(*) > 0; the writer alone: the first acknowledged commit), a record
//     returned by consume() (librdkafka alone).
// start-up = the phase's start until then. A short run is dominated by start-up (group join,
// exactly-once claims, the first commit interval); the steady-state rate is what a long-running
// connector sustains.
struct PhaseResult {
  std::string name;
  int64_t records = 0;
  int64_t bytes = 0;
  double seconds = 0;
  FirstVisible first;
  std::vector<ProcessRow> processes;
  double records_per_second() const { return seconds > 0 ? records / seconds : 0; }
  double mb_per_second() const { return seconds > 0 ? bytes / 1e6 / seconds : 0; }
  double steady_records_per_second() const {
    const double s = seconds - first.seconds;
    return s > 0 ? static_cast<double>(records - first.records) / s : 0;
  }
};

// --- mclocal -------------------------------------------------------------------------------

class Mclocal {
 public:
  static absl::StatusOr<std::unique_ptr<Mclocal>> Start(const std::string& dir) {
    std::filesystem::create_directories(dir);
    auto m = std::unique_ptr<Mclocal>(new Mclocal());
    MCSINK_ASSIGN_OR_RETURN(
        m->process_,
        ChildProcess::Start({MCSINK_MCLOCAL, "--address=127.0.0.1:0",
                             "--port_file=" + dir + "/port", "--data_dir=" + dir + "/data"},
                            dir + "/mclocal.log"));
    MCSINK_ASSIGN_OR_RETURN(const std::string port,
                            testing::WaitForFileLine(dir + "/port", absl::Seconds(30)));
    m->endpoint_ = "http://127.0.0.1:" + port;
    auto credentials = std::make_shared<maxcompute_client::StaticCredentialsProvider>(
        maxcompute_client::Credentials{"bench-ak", "bench-sk"});
    maxcompute_client::RestClientOptions options{.endpoint = m->endpoint_ + "/api",
                                                 .project = "connector_test"};
    // mclocal runs SQL at once; a short first poll keeps COUNT(*) at a few milliseconds.
    options.sql_poll_interval = absl::Milliseconds(5);
    options.sql_poll_max_interval = absl::Milliseconds(50);
    MCSINK_ASSIGN_OR_RETURN(m->rest_, maxcompute_client::RestClient::Create(options, credentials));
    MCSINK_RETURN_IF_ERROR(m->rest_->RunSql({.query = kTableDdl}).status());
    return m;
  }

  // Rows committed in test_kafka, as any reader of the table sees them.
  absl::StatusOr<int64_t> CountRows() {
    MCSINK_ASSIGN_OR_RETURN(auto results,
                            rest_->RunSql({.query = "SELECT COUNT(*) FROM test_kafka;"}));
    if (results.empty()) return absl::DataLossError("COUNT(*) returned no result");
    std::vector<std::string> lines =
        absl::StrSplit(absl::StripTrailingAsciiWhitespace(results[0].text), '\n');
    int64_t n = 0;
    if (lines.empty() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(lines.back()), &n)) {
      return absl::DataLossError(absl::StrCat("COUNT(*) is not a number: ", results[0].text));
    }
    return n;
  }

  const std::string& endpoint() const { return endpoint_; }
  ChildProcess& process() { return process_; }

 private:
  Mclocal() = default;
  ChildProcess process_ = *ChildProcess::Start({"/bin/true"}, "/dev/null");
  std::string endpoint_;
  std::unique_ptr<maxcompute_client::RestClient> rest_;
};

// --- the benchmark -------------------------------------------------------------------------

struct Service {
  std::string name;
  std::string log;
  int metrics_port = 0;
  std::optional<ChildProcess> process;  // set once started
};

class Bench {
 public:
  Bench(std::string self, std::string bootstrap, std::string dir)
      : self_(std::move(self)), bootstrap_(std::move(bootstrap)), dir_(std::move(dir)) {}

  absl::Status Run() {
    const int64_t n = absl::GetFlag(FLAGS_records);
    const int value_bytes = absl::GetFlag(FLAGS_value_bytes);
    const std::set<std::string> phases = absl::StrSplit(absl::GetFlag(FLAGS_phases), ',');
    MCSINK_ASSIGN_OR_RETURN(admin_, kafka::Admin::Create({{"bootstrap.servers", bootstrap_}}));
    topic_ = testing::UniqueTopicName("bench-input");
    MCSINK_RETURN_IF_ERROR(admin_->CreateTopic({.name = topic_, .partitions = kPartitions}));
    bytes_ = PayloadBytes(n, value_bytes);
    std::cerr << "bench: producing " << n << " records (" << bytes_ / 1e6 << " MB) to " << topic_
              << "\n";
    const absl::Time produce_start = absl::Now();
    MCSINK_RETURN_IF_ERROR(testing::ProduceTestRecords(
        bootstrap_, topic_, n, KeyOf, [&](int64_t i) { return ValueOf(i, value_bytes); }));
    produce_seconds_ = absl::ToDoubleSeconds(absl::Now() - produce_start);

    // A phase that fails (a process died, rows stopped coming) is reported in the table and
    // the others still run: one run shows everything it could measure.
    std::vector<std::string> failures;
    auto run = [&](const std::string& phase, auto result, auto& into) {
      if (result.ok()) {
        into = *std::move(result);
      } else {
        failures.push_back(absl::StrCat(phase, ": ", result.status().ToString()));
        std::cerr << "bench: " << failures.back() << "\n";
      }
    };
    std::optional<PhaseResult> consume, write, allinone, split;
    if (phases.contains("limits")) {
      run("librdkafka alone", ConsumeAlone(n), consume);
      run("writer alone", WriteAlone(n), write);
    }
    if (phases.contains("allinone")) run("all-in-one", RunPipeline("all-in-one", n), allinone);
    if (phases.contains("split")) run("split", RunPipeline("split", n), split);
    std::optional<Latency> latency;
    if (phases.contains("latency")) {
      // Without a measured throughput, a modest fixed rate.
      const double rate = absl::GetFlag(FLAGS_latency_rate_fraction) *
                          (allinone ? allinone->records_per_second() : 50'000.0);
      run("latency", MeasureLatency(rate), latency);
    }
    Print(n, consume, write, allinone, split, latency);
    for (const std::string& f : failures) std::cout << "  FAILED " << f << "\n";
    if (!failures.empty()) {
      return absl::InternalError(absl::StrCat(failures.size(), " phase(s) failed (above)"));
    }
    return absl::OkStatus();
  }

 private:
  struct Latency {
    double rate = 0;
    int64_t records = 0;
    double p50 = 0, p99 = 0, max = 0;
    std::optional<double> writer_p50, writer_p99;  // the writer's own histogram
  };

  std::map<std::string, std::string> Env() const {
    return {{"MC_AK", "bench-ak"}, {"MC_SK", "bench-sk"}, {"MCSINK_LOG_LEVEL", "info"}};
  }

  std::string NewDir(const std::string& name) {
    const std::string d = absl::StrCat(dir_, "/", ++phase_counter_, "-", name);
    std::filesystem::create_directories(d);
    return d;
  }

  // A connector config for `topic` into `mclocal`, with a new name (so a new consumer group).
  std::string WriteConfig(const std::string& dir, const std::string& topic,
                          const Mclocal& mclocal) {
    const std::string name = absl::StrCat("bench-", getpid(), "-", phase_counter_);
    const std::string path = dir + "/connector.json";
    std::ofstream(path) << absl::StrCat(
        R"({"name": ")", name, R"(", "source_topic": ")", topic, R"(", "concurrency": )",
        absl::GetFlag(FLAGS_concurrency), R"(, "kafka_properties": {"bootstrap.servers": ")",
        bootstrap_, R"("}, "target": {"endpoint": ")", mclocal.endpoint(),
        R"(/api", "tunnel_endpoint": ")", mclocal.endpoint(),
        R"(", "project": "connector_test", "table": "test_kafka",
           "access_key_id": {"env": "MC_AK"}, "access_key_secret": {"env": "MC_SK"}}})");
    return path;
  }

  // Starts the pipeline in `mode` ("all-in-one" or "split") on `config`.
  absl::StatusOr<std::vector<Service>> StartPipeline(const std::string& mode,
                                                     const std::string& dir,
                                                     const std::string& config) {
    const std::string commit =
        absl::StrCat("--commit_interval_seconds=", absl::GetFlag(FLAGS_commit_interval_seconds));
    // The connector's internal topics (offsets, errors, ...) exist before its services start,
    // as the controller deploys a connector; the split writer needs them from its start.
    MCSINK_ASSIGN_OR_RETURN(const v1::ConnectorConfig connector, config::LoadJsonFile(config));
    MCSINK_RETURN_IF_ERROR(controller::EnsureInternalTopics(*admin_, connector));
    std::vector<Service> services;
    auto start = [&](const std::string& name, std::vector<std::string> argv) -> absl::Status {
      Service s{
          .name = name, .log = dir + "/" + name + ".log", .metrics_port = testing::FreePort()};
      argv.push_back("--connector_config=" + config);
      for (const std::string& flag : absl::GetFlag(FLAGS_service_flags)) argv.push_back(flag);
      argv.push_back(absl::StrCat("--metrics_address=127.0.0.1:", s.metrics_port));
      MCSINK_ASSIGN_OR_RETURN(s.process, ChildProcess::Start(argv, s.log, Env()));
      services.push_back(std::move(s));
      return absl::OkStatus();
    };
    if (mode == "all-in-one") {
      MCSINK_RETURN_IF_ERROR(
          start("mcsink", {MCSINK_ALLINONE, "--grpc_address=127.0.0.1:0", commit}));
      return services;
    }
    const std::string transform = absl::StrCat("127.0.0.1:", testing::FreePort());
    const std::string writer = absl::StrCat("127.0.0.1:", testing::FreePort());
    MCSINK_RETURN_IF_ERROR(start("writer", {MCSINK_WRITER, "--grpc_address=" + writer, commit}));
    MCSINK_RETURN_IF_ERROR(start("transform", {MCSINK_TRANSFORM, "--grpc_address=" + transform,
                                               "--writer_address=" + writer}));
    MCSINK_RETURN_IF_ERROR(start("ingest", {MCSINK_INGEST, "--grpc_address=127.0.0.1:0",
                                            "--transform_address=" + transform}));
    return services;
  }

  // Polls COUNT(*) every 50 ms until it reaches `rows`; fails when a service died or the count
  // stopped moving for a minute (30 commit intervals by default). Returns the first poll that
  // showed rows (the time relative to `start`).
  absl::StatusOr<FirstVisible> WaitForRows(Mclocal& mclocal, std::vector<Service>& services,
                                           int64_t rows, absl::Time start) {
    const std::atomic<int64_t> target{rows};
    std::vector<std::pair<absl::Time, int64_t>> polls;
    MCSINK_RETURN_IF_ERROR(PollRows(mclocal, services, target, &polls));
    for (const auto& [time, count] : polls) {
      if (count > 0) return FirstVisible{absl::ToDoubleSeconds(time - start), count};
    }
    return FirstVisible{};
  }

  // The same, with a target that may be set later (from another thread), recording every poll's
  // (time, count) in `polls`.
  absl::Status PollRows(Mclocal& mclocal, std::vector<Service>& services,
                        const std::atomic<int64_t>& target,
                        std::vector<std::pair<absl::Time, int64_t>>* polls) {
    int64_t last = -1;
    absl::Time last_change = absl::Now();
    while (true) {
      const absl::Time now = absl::Now();
      auto count = mclocal.CountRows();
      if (count.ok()) {
        if (polls != nullptr) polls->emplace_back(now, *count);
        if (*count >= target.load()) return absl::OkStatus();
        if (*count != last) last_change = now;
        last = *count;
      }
      for (Service& s : services) {
        if (!s.process->Running()) {
          return absl::InternalError(
              absl::StrCat(s.name, " exited during the benchmark; see ", s.log));
        }
      }
      if (now - last_change > absl::Minutes(1)) {
        return absl::DeadlineExceededError(
            absl::StrCat("rows stopped at ", last, " of ", target.load(),
                         " for a minute; see the logs in ", dir_, " (--keep keeps them)"));
      }
      absl::SleepFor(absl::Milliseconds(50) - (absl::Now() - now));
    }
  }

  // Usage of every service, then SIGTERM; a drain that fails is an error.
  absl::StatusOr<std::vector<ProcessRow>> StopAll(std::vector<Service>& services,
                                                  Mclocal& mclocal) {
    std::vector<ProcessRow> rows;
    for (Service& s : services) {
      MCSINK_ASSIGN_OR_RETURN(ProcessUsage u, ReadUsage(s.process->pid()));
      rows.push_back({s.name, u});
    }
    MCSINK_ASSIGN_OR_RETURN(ProcessUsage m, ReadUsage(mclocal.process().pid()));
    rows.push_back({"(mclocal)", m});
    // Stop upstream first, as an operator would: ingest drains through transform and writer.
    for (auto it = services.rbegin(); it != services.rend(); ++it) {
      const int code = it->process->Stop(absl::Seconds(60));
      if (code != 0) {
        return absl::InternalError(
            absl::StrCat(it->name, " exited with ", code, " on SIGTERM; see ", it->log));
      }
    }
    mclocal.process().Stop();
    return rows;
  }

  absl::StatusOr<PhaseResult> RunPipeline(const std::string& mode, int64_t n) {
    const std::string dir = NewDir(mode);
    MCSINK_ASSIGN_OR_RETURN(auto mclocal, Mclocal::Start(dir + "/mclocal"));
    const std::string config = WriteConfig(dir, topic_, *mclocal);
    std::cerr << "bench: " << mode << " (logs in " << dir << ")\n";
    const absl::Time start = absl::Now();
    MCSINK_ASSIGN_OR_RETURN(auto services, StartPipeline(mode, dir, config));
    MCSINK_ASSIGN_OR_RETURN(const FirstVisible first, WaitForRows(*mclocal, services, n, start));
    PhaseResult r{.name = mode,
                  .records = n,
                  .bytes = bytes_,
                  .seconds = absl::ToDoubleSeconds(absl::Now() - start),
                  .first = first};
    MCSINK_ASSIGN_OR_RETURN(r.processes, StopAll(services, *mclocal));
    return r;
  }

  // Runs this binary in a child mode and reads its result line. With `mclocal`, the times are
  // the pipelines': from the child's start until COUNT(*) (polled every 50 ms while the child
  // runs) first shows rows and until it shows all `rows` (or the child exits, having drained).
  absl::StatusOr<PhaseResult> RunChild(const std::string& name, const std::string& process,
                                       const std::string& dir, std::vector<std::string> args,
                                       Mclocal* mclocal = nullptr, int64_t rows = 0) {
    const std::string result = dir + "/result";
    std::vector<std::string> argv = {self_};
    for (auto& a : args) argv.push_back(std::move(a));
    argv.push_back("--result_file=" + result);
    const absl::Time start = absl::Now();
    MCSINK_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Start(argv, dir + "/log"));
    std::optional<FirstVisible> first;
    std::optional<absl::Time> end;
    while (mclocal != nullptr && !end) {
      const absl::Time now = absl::Now();
      if (!child.Running()) {
        end = now;
        break;
      }
      absl::StatusOr<int64_t> count = mclocal->CountRows();
      if (count.ok() && *count > 0 && !first) {
        first = FirstVisible{absl::ToDoubleSeconds(now - start), *count};
      }
      if (count.ok() && *count >= rows) end = now;
      absl::SleepFor(absl::Milliseconds(50) - (absl::Now() - now));
    }
    const std::optional<int> code = child.Wait(absl::Minutes(30));
    if (code != 0) {
      return absl::InternalError(
          absl::StrCat(name, " failed (exit ", code.value_or(-1), "); see ", dir, "/log"));
    }
    std::ifstream in(result);
    PhaseResult r{.name = name};
    ProcessUsage u;
    if (!(in >> r.records >> r.bytes >> r.seconds >> u.cpu_seconds >> u.peak_rss_kb >>
          r.first.seconds >> r.first.records)) {
      return absl::DataLossError(absl::StrCat(name, ": no result in ", result));
    }
    if (mclocal != nullptr) {
      r.seconds = absl::ToDoubleSeconds(*end - start);
      // A run shorter than one poll: everything became visible at once, at the end.
      r.first = first.value_or(FirstVisible{r.seconds, r.records});
    }
    r.processes.push_back({process, u});
    return r;
  }

  absl::StatusOr<PhaseResult> ConsumeAlone(int64_t n) {
    const std::string dir = NewDir("consume-alone");
    std::cerr << "bench: librdkafka alone\n";
    return RunChild("librdkafka alone", "consumer", dir,
                    {"consume-alone", "--bootstrap=" + bootstrap_, "--topic=" + topic_,
                     absl::StrCat("--records=", n),
                     absl::StrCat("--concurrency=", absl::GetFlag(FLAGS_concurrency))});
  }

  absl::StatusOr<PhaseResult> WriteAlone(int64_t n) {
    const std::string dir = NewDir("write-alone");
    MCSINK_ASSIGN_OR_RETURN(auto mclocal, Mclocal::Start(dir + "/mclocal"));
    std::cerr << "bench: writer alone\n";
    MCSINK_ASSIGN_OR_RETURN(
        PhaseResult r,
        RunChild("writer alone", "writer", dir,
                 {"write-alone", "--endpoint=" + mclocal->endpoint(), absl::StrCat("--records=", n),
                  absl::StrCat("--value_bytes=", absl::GetFlag(FLAGS_value_bytes)),
                  absl::StrCat("--commit_interval_seconds=",
                               absl::GetFlag(FLAGS_commit_interval_seconds))},
                 mclocal.get(), n));
    MCSINK_ASSIGN_OR_RETURN(const int64_t rows, mclocal->CountRows());
    if (rows != n) {
      return absl::DataLossError(absl::StrCat("writer alone: ", rows, " rows committed of ", n));
    }
    MCSINK_ASSIGN_OR_RETURN(ProcessUsage m, ReadUsage(mclocal->process().pid()));
    r.processes.push_back({"(mclocal)", m});
    mclocal->process().Stop();
    return r;
  }

  // Produce-to-visible latency. The all-in-one pipeline runs on a new empty topic; a warm-up of
  // 1000 records proves it is assigned and committing. Then a producer thread sends at `rate`
  // records/s for --latency_seconds, in 5 ms ticks, recording when each tick's records were
  // handed to librdkafka (cumulative count per tick). Meanwhile COUNT(*) is polled every 50 ms.
  // Record k counts as visible at the first poll that shows >= k rows (beyond the warm-up): the
  // writer commits in arrival order per table and pt, so the k-th row to be committed stands
  // for the k-th produced; with 12 partitions consumed in parallel this is exact up to the
  // order in which partitions' batches reach the writer (tens of ms), and the 50 ms polling
  // adds at most 50 ms. Each tick is charged the latency of its last record.
  absl::StatusOr<Latency> MeasureLatency(double rate) {
    const std::string dir = NewDir("latency");
    const std::string topic = testing::UniqueTopicName("bench-latency");
    MCSINK_RETURN_IF_ERROR(admin_->CreateTopic({.name = topic, .partitions = kPartitions}));
    MCSINK_ASSIGN_OR_RETURN(auto mclocal, Mclocal::Start(dir + "/mclocal"));
    const std::string config = WriteConfig(dir, topic, *mclocal);
    std::cerr << "bench: latency at " << static_cast<int64_t>(rate) << " records/s (logs in " << dir
              << ")\n";
    MCSINK_ASSIGN_OR_RETURN(auto services, StartPipeline("all-in-one", dir, config));
    const int value_bytes = absl::GetFlag(FLAGS_value_bytes);
    constexpr int64_t kWarmup = 1000;
    MCSINK_RETURN_IF_ERROR(testing::ProduceTestRecords(
        bootstrap_, topic, kWarmup, KeyOf, [&](int64_t i) { return ValueOf(i, value_bytes); }));
    MCSINK_RETURN_IF_ERROR(WaitForRows(*mclocal, services, kWarmup, absl::Now()).status());
    const std::string metrics_url =
        absl::StrCat("http://127.0.0.1:", services.front().metrics_port);
    // The histogram may not be exported before its first observation: then it starts at zero.
    auto histogram_before = WriterHistogram(metrics_url);
    if (absl::IsNotFound(histogram_before.status())) histogram_before = std::map<double, double>();

    std::vector<std::pair<absl::Time, int64_t>> ticks;  // (produce time, cumulative records)
    absl::Status produced;
    std::thread producer([&] { produced = ProduceAtRate(topic, rate, &ticks); });
    std::vector<std::pair<absl::Time, int64_t>> polls;
    std::atomic<int64_t> target{std::numeric_limits<int64_t>::max()};
    absl::Status waited;
    // The poller stops when the producer is done and every produced row is visible.
    std::thread poller([&] { waited = PollRows(*mclocal, services, target, &polls); });
    producer.join();
    target = kWarmup + (ticks.empty() ? 0 : ticks.back().second);
    if (!produced.ok()) target = 0;  // stop the poller
    poller.join();
    MCSINK_RETURN_IF_ERROR(produced);
    MCSINK_RETURN_IF_ERROR(waited);
    auto histogram_after = WriterHistogram(metrics_url);
    MCSINK_RETURN_IF_ERROR(StopAll(services, *mclocal).status());

    // Weighted percentiles over ticks.
    std::vector<std::pair<double, int64_t>> samples;  // (latency s, records)
    size_t p = 0;
    int64_t previous = 0;
    for (const auto& [time, cumulative] : ticks) {
      while (p < polls.size() && polls[p].second - kWarmup < cumulative) ++p;
      if (p == polls.size()) return absl::InternalError("a produced record was never visible");
      samples.emplace_back(absl::ToDoubleSeconds(polls[p].first - time), cumulative - previous);
      previous = cumulative;
    }
    Latency l{.rate = rate, .records = previous};
    std::sort(samples.begin(), samples.end());
    auto percentile = [&](double q) {
      const double wanted = q * static_cast<double>(previous);
      double seen = 0;
      for (const auto& [latency, count] : samples) {
        seen += static_cast<double>(count);
        if (seen >= wanted) return latency;
      }
      return samples.empty() ? 0.0 : samples.back().first;
    };
    l.p50 = percentile(0.5);
    l.p99 = percentile(0.99);
    l.max = samples.empty() ? 0 : samples.back().first;
    if (histogram_before.ok() && histogram_after.ok()) {
      std::vector<std::pair<double, double>> delta;
      for (const auto& [le, count] : *histogram_after) {
        const double before = histogram_before->contains(le) ? histogram_before->at(le) : 0;
        delta.emplace_back(le, count - before);
      }
      l.writer_p50 = HistogramQuantile(delta, 0.5);
      l.writer_p99 = HistogramQuantile(delta, 0.99);
    } else {
      std::cerr << "bench: no writer histogram: "
                << (histogram_before.ok() ? histogram_after.status() : histogram_before.status())
                << "\n";
    }
    return l;
  }

  absl::Status ProduceAtRate(const std::string& topic, double rate,
                             std::vector<std::pair<absl::Time, int64_t>>* ticks) {
    std::unique_ptr<RdKafka::Conf> conf;
    MCSINK_ASSIGN_OR_RETURN(conf, kafka::MakeConf({{"bootstrap.servers", bootstrap_},
                                                   {"linger.ms", "5"},
                                                   {"enable.idempotence", "true"}}));
    std::string err;
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
    if (producer == nullptr) return absl::InternalError("producer: " + err);
    const int value_bytes = absl::GetFlag(FLAGS_value_bytes);
    const absl::Duration duration = absl::Seconds(absl::GetFlag(FLAGS_latency_seconds));
    const absl::Time start = absl::Now();
    int64_t sent = 0;
    for (absl::Time now = start; now - start < duration; now = absl::Now()) {
      const auto due = static_cast<int64_t>(rate * absl::ToDoubleSeconds(now - start));
      for (; sent < due; ++sent) {
        const std::string key = KeyOf(sent);
        std::string value = ValueOf(sent, value_bytes);
        while (producer->produce(topic, RdKafka::Topic::PARTITION_UA,
                                 RdKafka::Producer::RK_MSG_COPY, value.data(), value.size(),
                                 key.data(), key.size(), 0, nullptr) == RdKafka::ERR__QUEUE_FULL) {
          producer->poll(1);
        }
      }
      if (ticks->empty() || ticks->back().second != sent) ticks->emplace_back(now, sent);
      producer->poll(0);
      absl::SleepFor(absl::Milliseconds(5) - (absl::Now() - now));
    }
    if (producer->flush(60'000) != RdKafka::ERR_NO_ERROR) {
      return absl::DeadlineExceededError("the latency producer could not flush in 60 s");
    }
    return absl::OkStatus();
  }

  // The writer's mcsink_writer_produce_to_commit_seconds buckets (le -> cumulative count).
  absl::StatusOr<std::map<double, double>> WriterHistogram(const std::string& url) {
    MCSINK_ASSIGN_OR_RETURN(auto client, maxcompute_client::HttpClient::Create({.base_url = url}));
    maxcompute_client::HttpRequest request;
    request.path = "/metrics";
    MCSINK_ASSIGN_OR_RETURN(auto response, client->Send(request));
    std::map<double, double> buckets;
    for (absl::string_view line : absl::StrSplit(response.body, '\n')) {
      if (!absl::ConsumePrefix(&line, "mcsink_writer_produce_to_commit_seconds_bucket{")) continue;
      // `le` is the last label (and "table=\"" also ends in le=").
      const size_t le = line.rfind("le=\"");
      const size_t end = line.find('"', le + 4);
      const size_t space = line.rfind(' ');
      if (le == absl::string_view::npos || end == absl::string_view::npos) continue;
      const std::string bound(line.substr(le + 4, end - le - 4));
      double b = 0, count = 0;
      if (bound == "+Inf") {
        b = std::numeric_limits<double>::infinity();
      } else if (!absl::SimpleAtod(bound, &b)) {
        continue;
      }
      if (absl::SimpleAtod(line.substr(space + 1), &count)) buckets[b] += count;
    }
    if (buckets.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "no mcsink_writer_produce_to_commit_seconds in ", url, "/metrics (HTTP ", response.status,
          ", ", response.body.size(), " bytes: ", response.body.substr(0, 120), ")"));
    }
    return buckets;
  }

  // Prometheus' histogram_quantile: linear interpolation inside the bucket.
  static std::optional<double> HistogramQuantile(const std::vector<std::pair<double, double>>& b,
                                                 double q) {
    if (b.empty() || b.back().second <= 0) return std::nullopt;
    const double rank = q * b.back().second;
    double lower = 0, below = 0;
    for (const auto& [le, count] : b) {
      if (count >= rank) {
        if (std::isinf(le)) return lower;
        return lower + (le - lower) * (count > below ? (rank - below) / (count - below) : 0);
      }
      lower = le;
      below = count;
    }
    return std::nullopt;
  }

  void Print(int64_t n, const std::optional<PhaseResult>& consume,
             const std::optional<PhaseResult>& write, const std::optional<PhaseResult>& allinone,
             const std::optional<PhaseResult>& split, const std::optional<Latency>& latency) {
    const int commit_interval = absl::GetFlag(FLAGS_commit_interval_seconds);
    std::cout << absl::StrFormat(
        "\nmcsink pipeline benchmark: %d records (%.1f MB of keys and %d-byte values) over %d "
        "partitions; concurrency %d; commit interval %d s; %d cores; produced at %.0f "
        "records/s\n\n",
        n, bytes_ / 1e6, absl::GetFlag(FLAGS_value_bytes), kPartitions,
        absl::GetFlag(FLAGS_concurrency), commit_interval, std::thread::hardware_concurrency(),
        n / produce_seconds_);
    std::cout << absl::StrFormat("%-18s %11s %11s %8s\n", "", "from start", "steady", "start-up");
    std::cout << absl::StrFormat("%-18s %11s %11s %8s %8s %8s  %-12s %10s %10s\n", "run",
                                 "records/s", "records/s", "seconds", "MB/s", "seconds", "process",
                                 "CPU-s/Mrec", "peak RSS MB");
    auto row = [&](const std::optional<PhaseResult>& r) {
      if (!r) return;
      bool first = true;
      for (const ProcessRow& p : r->processes) {
        const std::string lead =
            first ? absl::StrFormat("%-18s %11.0f %11.0f %8.2f %8.1f %8.2f", r->name,
                                    r->records_per_second(), r->steady_records_per_second(),
                                    r->first.seconds, r->mb_per_second(), r->seconds)
                  : std::string(18 + 1 + 11 + 1 + 11 + 1 + 8 + 1 + 8 + 1 + 8, ' ');
        std::cout << absl::StrFormat("%s  %-12s %10.2f %10.1f\n", lead, p.name,
                                     p.usage.cpu_seconds / (r->records / 1e6),
                                     p.usage.peak_rss_kb / 1024.0);
        first = false;
      }
    };
    row(consume);
    row(write);
    row(allinone);
    row(split);
    std::cout << "  from start: all records over the phase's time. steady: the records after "
                 "the first came through, over the time since.\n  start-up: start until the "
                 "first came through (COUNT(*) > 0; librdkafka alone: the first consume()).\n  "
                 "MB/s is from start; CPU-s/Mrec covers the whole phase, start-up included.\n";
    if (latency) {
      std::cout << absl::StrFormat(
          "\nproduce-to-visible latency, all-in-one at %.0f records/s (%.0f%% of all-in-one) for "
          "%d s, %d records: p50 %.2f s, p99 %.2f s, max %.2f s\n  (visible = mclocal's COUNT(*) "
          "polled every 50 ms reaches the record's place in the produce timeline)\n",
          latency->rate, 100 * absl::GetFlag(FLAGS_latency_rate_fraction),
          absl::GetFlag(FLAGS_latency_seconds), latency->records, latency->p50, latency->p99,
          latency->max);
      if (latency->writer_p50) {
        std::cout << absl::StrFormat(
            "  writer's mcsink_writer_produce_to_commit_seconds (per batch, oldest record, "
            "interpolated in its buckets): p50 %.2f s, p99 %.2f s\n",
            *latency->writer_p50, *latency->writer_p99);
      }
    }
    std::cout << "\ntargets\n";
    auto target = [](const std::string& what, bool measured, bool pass, const std::string& detail) {
      std::cout << absl::StrFormat("  %-4s %-60s %s\n",
                                   !measured ? "-"
                                   : pass    ? "PASS"
                                             : "MISS",
                                   what, measured ? detail : "not measured in this run");
    };
    // Each throughput target twice: on steady-state rates (what a running connector sustains)
    // and on rates from start (start-up included), each from the same kind of rate throughout.
    using Rate = double (PhaseResult::*)() const;
    const std::pair<const char*, Rate> rates[] = {
        {"steady state", &PhaseResult::steady_records_per_second},
        {"from start", &PhaseResult::records_per_second}};
    for (const auto& [rate_name, rate] : rates) {
      const std::string what =
          absl::StrCat("all-in-one >= 70% of the lower limit (", rate_name, ")");
      if (consume && write && allinone) {
        const double alone = ((*consume).*rate)(), written = ((*write).*rate)();
        const double lower = std::min(alone, written);
        const double ratio = ((*allinone).*rate)() / lower;
        target(what, true, ratio >= 0.7,
               absl::StrFormat("%.0f%% of %.0f records/s (%s)", 100 * ratio, lower,
                               alone < written ? "librdkafka alone" : "writer alone"));
      } else {
        target(what, false, false, "");
      }
    }
    if (consume && write) {
      // Not a target: what the 70% target asks of this machine. Any pipeline consumes what
      // librdkafka alone consumes and writes what the writer alone writes into mclocal, on the
      // same cores, so those processes' CPU per record bounds its rate from above (the broker's
      // CPU and everything in between, conversion included, only lower it).
      double cpu = 0;
      for (const PhaseResult* r : {&*consume, &*write}) {
        for (const ProcessRow& p : r->processes) cpu += p.usage.cpu_seconds / (r->records / 1e6);
      }
      const double cores = std::thread::hardware_concurrency();
      const double lower =
          std::min(consume->steady_records_per_second(), write->steady_records_per_second());
      std::cout << absl::StrFormat(
          "  (ceiling) consuming + writing + mclocal cost %.2f CPU-s per million records: on %.0f "
          "cores no pipeline here exceeds %.0f records/s, %.0f%% of the lower limit (steady)\n",
          cpu, cores, cores / cpu * 1e6, 100 * cores / cpu * 1e6 / lower);
    }
    for (const auto& [rate_name, rate] : rates) {
      const std::string what = absl::StrCat("split >= 80% of all-in-one (", rate_name, ")");
      if (allinone && split) {
        const double ratio = ((*split).*rate)() / ((*allinone).*rate)();
        target(what, true, ratio >= 0.8, absl::StrFormat("%.0f%%", 100 * ratio));
      } else {
        target(what, false, false, "");
      }
    }
    if (latency) {
      target(absl::StrFormat("p99 latency <= commit interval + 2 s (%d s)", commit_interval + 2),
             true, latency->p99 <= commit_interval + 2,
             absl::StrFormat("p99 %.2f s", latency->p99));
    } else {
      target("p99 latency <= commit interval + 2 s", false, false, "");
    }
  }

  const std::string self_, bootstrap_, dir_;
  std::unique_ptr<kafka::Admin> admin_;
  std::string topic_;
  int64_t bytes_ = 0;
  double produce_seconds_ = 0;
  int phase_counter_ = 0;
};

// --- child mode: librdkafka alone ------------------------------------------------------------

// The ingest's consumers minus everything after consume(): --concurrency threads in one group,
// with the librdkafka properties ConsumerWorker sets (fetch queue shared among the threads as
// runtime::ApplyIngestFlags shares it). Each message's key and value are read, nothing more.
int ConsumeAlone() {
  const int threads = absl::GetFlag(FLAGS_concurrency);
  const int64_t n = absl::GetFlag(FLAGS_records);
  ingest::IngestServiceOptions ingest_options;
  runtime::ApplyIngestFlags(static_cast<uint32_t>(threads), &ingest_options);
  kafka::Properties props = {
      {"bootstrap.servers", absl::GetFlag(FLAGS_bootstrap)},
      {"group.id", absl::StrCat("bench-alone-", getpid())},
  };
  ingest::SetConsumerProperties(ingest_options.tuning.fetch_queue_kbytes,
                                /*start_from_earliest=*/true, &props);
  std::atomic<int64_t> records{0}, bytes{0};
  std::atomic<bool> failed{false};
  const absl::Time start = absl::Now();
  std::vector<std::thread> workers;
  absl::Mutex mu;
  absl::Time first = absl::InfiniteFuture();
  absl::Time done = absl::InfiniteFuture();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto conf = kafka::MakeConf(props);
      std::string err;
      std::unique_ptr<RdKafka::KafkaConsumer> consumer(
          conf.ok() ? RdKafka::KafkaConsumer::create(conf->get(), err) : nullptr);
      if (consumer == nullptr ||
          consumer->subscribe({absl::GetFlag(FLAGS_topic)}) != RdKafka::ERR_NO_ERROR) {
        std::cerr << "consumer " << t << ": " << (conf.ok() ? err : conf.status().ToString())
                  << "\n";
        failed = true;
        return;
      }
      while (records.load(std::memory_order_relaxed) < n && !failed.load()) {
        std::unique_ptr<RdKafka::Message> msg(consumer->consume(100));
        if (msg->err() != RdKafka::ERR_NO_ERROR) continue;
        const int64_t size = static_cast<int64_t>(msg->len() + msg->key_len());
        bytes.fetch_add(size, std::memory_order_relaxed);
        const int64_t before = records.fetch_add(1, std::memory_order_relaxed);
        if (before == 0) {
          absl::MutexLock lock(&mu);
          first = absl::Now();
        }
        if (before + 1 == n) {
          absl::MutexLock lock(&mu);
          done = absl::Now();
        }
      }
      consumer->close();
    });
  }
  for (auto& w : workers) w.join();
  if (failed.load()) return 1;
  WriteResult(records.load(), bytes.load(), absl::ToDoubleSeconds(done - start),
              {absl::ToDoubleSeconds(first - start), 1});
  return 0;
}

// --- child mode: the writer alone ------------------------------------------------------------

// tunnel_bench's path with the services' writer options (runtime flags): rows of the guide's
// table, encoded once into a 5000-row batch, added as copies (their content repeats; for
// mclocal and the Tunnel client only the bytes count) through TableWriter and the real Tunnel
// client, with deflate as the services use it, until all are committed.
int WriteAlone() {
  const int64_t n = absl::GetFlag(FLAGS_records);
  const std::string endpoint = absl::GetFlag(FLAGS_endpoint);
  const int value_bytes = absl::GetFlag(FLAGS_value_bytes);
  constexpr int kRowsPerBatch = 5000;
  auto credentials = std::make_shared<maxcompute_client::StaticCredentialsProvider>(
      maxcompute_client::Credentials{"bench-ak", "bench-sk"});
  auto rest = maxcompute_client::RestClient::Create(
      {.endpoint = endpoint + "/api", .project = "connector_test"}, credentials);
  auto tunnel = maxcompute_client::TunnelClient::Create(
      {.endpoint = endpoint, .project = "connector_test"}, credentials);
  if (!rest.ok() || !tunnel.ok()) {
    std::cerr << "clients: " << (rest.ok() ? tunnel.status() : rest.status()) << "\n";
    return 1;
  }
  // A batch of `rows` rows and their payload bytes.
  auto encode = [&](int64_t rows) {
    std::pair<v1::RowBatch, int64_t> out;
    v1::RowGroup* group = out.first.add_groups();
    group->set_pt("bench");
    maxcompute::RecordEncoder encoder(group->mutable_encoded_rows());
    for (int64_t i = 0; i < rows; ++i) {
      const std::string key = KeyOf(i);
      encoder.WriteBytes(0, "bench-input");
      encoder.WriteInteger(1, i % kPartitions);
      encoder.WriteInteger(2, i);
      encoder.WriteBytes(3, key);
      encoder.WriteBytes(4, ValueOf(i, value_bytes));
      group->add_row_crcs(encoder.EndRecord());
      out.second += static_cast<int64_t>(key.size()) + value_bytes;
    }
    group->set_row_count(static_cast<uint64_t>(rows));
    return out;
  };
  const auto [batch_template, template_bytes] = encode(kRowsPerBatch);
  const auto [last_batch, last_bytes] = encode(n % kRowsPerBatch);
  connection::MaxComputeTunnelBackend backend(rest->get(), tunnel->get());
  std::atomic<int64_t> acked{0};
  std::atomic<bool> failed{false};
  writer::TableWriterCallbacks callbacks;
  callbacks.on_ack = [&](v1::Ack) { acked++; };
  callbacks.on_failure = [&](const writer::WriteFailure& f) {
    std::cerr << "write failure: " << f.status << "\n";
    failed = true;
  };
  auto table = writer::TableWriter::Create(runtime::WriterOptionsFromFlags("test_kafka"), &backend,
                                           callbacks);
  if (!table.ok()) {
    std::cerr << table.status() << "\n";
    return 1;
  }
  const absl::Time start = absl::Now();
  int64_t rows = 0, bytes = 0, batches = 0;
  while (rows < n) {
    const bool full = n - rows >= kRowsPerBatch;
    v1::RowBatch batch = full ? batch_template : last_batch;
    batch.set_batch_id(static_cast<uint64_t>(++batches));
    rows += full ? kRowsPerBatch : n % kRowsPerBatch;
    bytes += full ? template_bytes : last_bytes;
    if (absl::Status s = (*table)->Add(std::move(batch)); !s.ok()) {
      std::cerr << "add: " << s << "\n";
      return 1;
    }
  }
  const absl::Status drained = (*table)->Drain(absl::Now() + absl::Minutes(10));
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!drained.ok() || failed.load() || acked.load() != batches) {
    std::cerr << "not all committed: " << drained << ", " << acked.load() << " of " << batches
              << " batches acknowledged\n";
    return 1;
  }
  // The parent times this phase by COUNT(*), as it times the pipelines (RunChild).
  WriteResult(rows, bytes, seconds, {});
  return 0;
}

int Main(int argc, char** argv) {
  // The services' default is 30 s; a shorter interval keeps the commit tail of each phase short
  // (--commit_interval_seconds still overrides it).
  absl::SetFlag(&FLAGS_commit_interval_seconds, 2);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  const std::string mode = positional.size() > 1 ? positional[1] : "";
  if (mode == "consume-alone") return ConsumeAlone();
  if (mode == "write-alone") return WriteAlone();
  if (!mode.empty()) {
    std::cerr << "unknown mode " << mode << "; usage: pipeline_bench [--records=N] ...\n";
    return 2;
  }
  std::string bootstrap = absl::GetFlag(FLAGS_bootstrap);
  if (bootstrap.empty()) {
    auto fixture = testing::KafkaFixtureBootstrap();
    if (!fixture.ok()) {
      std::cerr << "no broker: pass --bootstrap=HOST:PORT (" << fixture.status() << ")\n";
      return 2;
    }
    bootstrap = *fixture;
  }
  std::string dir = absl::GetFlag(FLAGS_work_dir);
  if (dir.empty()) {
    dir = std::filesystem::temp_directory_path() / absl::StrCat("mcsink-bench-", getpid());
  }
  std::filesystem::create_directories(dir);
  Bench bench(std::filesystem::canonical("/proc/self/exe"), bootstrap, dir);
  const absl::Status status = bench.Run();
  if (!status.ok()) {
    std::cerr << "bench failed: " << status << " (logs kept in " << dir << ")\n";
    return 1;
  }
  if (!absl::GetFlag(FLAGS_keep)) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace mcsink

int main(int argc, char** argv) { return mcsink::Main(argc, argv); }
