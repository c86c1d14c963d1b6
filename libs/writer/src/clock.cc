#include "mcsink/writer/clock.h"

#include <algorithm>

namespace mcsink::writer {

RealClock* RealClock::Get() {
  static RealClock* clock = new RealClock();
  return clock;
}

absl::Time SimulatedClock::Now() {
  absl::MutexLock lock(&mu_);
  return now_;
}

bool SimulatedClock::AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                                       absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    waiting_.push_back(mu);
  }
  auto done = [&]() { return cond.Eval() || Now() >= deadline; };
  mu->Await(absl::Condition(&done));
  const bool result = cond.Eval();
  absl::MutexLock lock(&mu_);
  waiting_.erase(std::find(waiting_.begin(), waiting_.end(), mu));
  return result;
}

void SimulatedClock::Advance(absl::Duration d) {
  std::vector<absl::Mutex*> waiting;
  {
    absl::MutexLock lock(&mu_);
    now_ += d;
    waiting = waiting_;
  }
  // Releasing a mutex makes absl re-evaluate its waiters' conditions, which now see the new time.
  // Not under mu_: the waiters lock mu_ inside their conditions.
  for (absl::Mutex* mu : waiting) {
    mu->Lock();
    mu->Unlock();
  }
}

}  // namespace mcsink::writer
