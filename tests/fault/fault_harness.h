// The fault-injection harness for exactly-once delivery (issue 6, "Proof"). One run: a fresh
// topic, mclocal with the guide's table and a connector; the pipeline (split: mcsink-ingest,
// mcsink-transform, mcsink-writer; or all-in-one mcsink) starts, records with unique payloads
// (some poisoned: invalid UTF-8, which go to the error topic) are produced while faults are
// injected on a timeline; once the pipeline has caught up (the group's committed offsets reach
// the log end and the table stops changing), the table must hold each (topic, partition, offset)
// exactly once with its payload, and the error topic each poisoned record exactly once.
//
// A run is described by a FaultPlan; RandomPlan(seed) draws one, so a printed seed reproduces
// the plan (the interleaving with the pipeline's own timing is, by nature, only approximate).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/testing/process.h"

namespace mcsink::fault {

enum class Mode { kSplit, kAllInOne };

enum class FaultKind {
  kKillIngest,     // kill -9 of mcsink-ingest, restarted after `hold`
  kKillTransform,  // kill -9 of mcsink-transform
  kKillWriter,     // kill -9 of mcsink-writer
  kKillAllInOne,   // kill -9 of mcsink (all-in-one)
  // The writer (or all-in-one) dies while a commit request is in flight. variant 0: before
  // mclocal publishes it (the request is delayed, then published after the writer is gone);
  // variant 1: after mclocal published it, before the answer arrives, i.e. between the commit
  // and the journal's "done".
  kKillWriterMidCommit,
  kKillMclocal,  // kill -9 of mclocal at a random moment; restarted on the same port and data
  kCrashMclocalMidCommit,    // mclocal exits inside a commit (variant 0: blocks moved, manifest not
                             // replaced; 1: commit published, answer not sent)
  kMclocalErrors,            // 5xx answers for `hold` (variant picks the request kinds)
  kMclocalDrops,             // connections closed unanswered, before or after the work, for `hold`
  kMclocalSlowCommits,       // commits answered late (a delay of `hold` each), for 3 * `hold`
  kMclocalLostCommitAnswer,  // one commit is published but its answer is lost (drop after)
  kMclocalExpiredSessions,   // upload sessions expire under the writer (at a block or commit)
  kBrokerRestart,  // the Kafka broker restarts on the same ports and data (variant 1: kill -9)
  kRebalance,      // a second ingest (or all-in-one) joins for `hold`, then leaves (variant 1:
                   // killed)
};

std::string FaultKindName(FaultKind kind);

struct FaultEvent {
  absl::Duration at;  // since the pipeline started
  FaultKind kind;
  int variant = 0;
  absl::Duration hold = absl::Seconds(1);
};

struct FaultPlan {
  uint64_t seed = 0;
  Mode mode = Mode::kSplit;
  int partitions = 6;
  int64_t records = 30'000;
  int64_t poison_every = 997;  // record i is poisoned when i % poison_every == 13
  absl::Duration produce_over = absl::Seconds(10);
  std::vector<FaultEvent> events;  // in time order

  bool NeedsPrivateBroker() const;
  std::string Describe() const;
};

// A plan drawn from `seed`: mode, size, and 3 to 6 faults of every kind the mode allows (a plan
// with a broker restart runs on a private broker, see KafkaBroker).
FaultPlan RandomPlan(uint64_t seed);

// What a run found. The run passes when every count of loss or duplication is 0.
struct RunReport {
  uint64_t seed = 0;
  int64_t produced = 0;
  int64_t expected_rows = 0;    // records not poisoned
  int64_t rows = 0;             // rows in the table
  int64_t distinct = 0;         // distinct expected (partition, offset) found
  int64_t duplicates = 0;       // rows beyond the first of a (partition, offset)
  int64_t missing = 0;          // expected records not in the table
  int64_t wrong = 0;            // rows of another topic, unknown or poisoned offsets, wrong payload
  int64_t expected_errors = 0;  // poisoned records
  int64_t error_records = 0;    // records in the error topic
  int64_t error_duplicates = 0;
  int64_t error_missing = 0;
  int64_t error_wrong = 0;  // error records for offsets that were not poisoned
  bool caught_up = false;
  absl::Duration catch_up_time;
  std::vector<std::string> timeline;  // what was injected, when
  std::vector<std::string> problems;  // harness-level failures (production, downloads, exits)

  bool ExactlyOnce() const;
  std::string Summary() const;
};

// A Kafka broker for the runs: the CTest `kafka` fixture, or a private one (started by
// deploy/kafka/kafka-local.sh in its own directory) that a run may restart without disturbing
// other suites.
class KafkaBroker {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaBroker>> Fixture();
  static absl::StatusOr<std::unique_ptr<KafkaBroker>> StartPrivate(const std::string& dir);
  ~KafkaBroker();

  const std::string& bootstrap() const { return bootstrap_; }
  bool restartable() const { return !dir_.empty(); }
  // Same ports, same data; returns once the broker answers again.
  absl::Status Restart(bool kill);

 private:
  KafkaBroker(std::string bootstrap, std::string dir)
      : bootstrap_(std::move(bootstrap)), dir_(std::move(dir)) {}
  std::string bootstrap_;
  std::string dir_;  // empty for the fixture (not ours to restart)
};

// Executes `plan` on `broker` with its files under `dir`, and checks the result.
RunReport ExecutePlan(const FaultPlan& plan, KafkaBroker& broker, const std::string& dir);

// Env MCSINK_FAULT_RUNS (default `fallback`) and MCSINK_FAULT_SEED (default: from the clock).
int RunsFromEnv(int fallback);
uint64_t SeedFromEnv();

}  // namespace mcsink::fault
