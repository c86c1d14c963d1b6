// Time for the writer's timers (commit interval, retry backoff, rate limits). Injected so tests
// drive time by hand instead of sleeping.
#pragma once

#include <atomic>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mcsink::writer {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // With `mu` held: waits until `cond` holds or Now() reaches `deadline`; returns whether `cond`
  // holds. Like absl::Mutex::AwaitWithDeadline, but on this clock's time.
  virtual bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                                 absl::Time deadline) = 0;
};

// Wall-clock time. A process-wide instance: RealClock::Get().
class RealClock final : public Clock {
 public:
  static RealClock* Get();
  absl::Time Now() override { return absl::Now(); }
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                         absl::Time deadline) override {
    return mu->AwaitWithDeadline(cond, deadline);
  }
};

// Time that moves only when Advance is called; waiters wake when it passes their deadline.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::UnixEpoch() + absl::Hours(24 * 365 * 56))
      : now_(start) {}

  absl::Time Now() override;
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                         absl::Time deadline) override;
  void Advance(absl::Duration d);

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  // Mutexes with a waiter right now; Advance cycles them so their conditions are re-evaluated.
  std::vector<absl::Mutex*> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mcsink::writer
