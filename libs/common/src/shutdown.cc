#include "mcsink/common/shutdown.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <cerrno>
#include <cstdlib>

#include "absl/synchronization/mutex.h"

namespace mcsink {
namespace {

sigset_t ShutdownSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockShutdownSignals() {
  const sigset_t set = ShutdownSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void InitService() {
  BlockShutdownSignals();
  // MALLOC_ARENA_MAX in the environment (glibc reads it) overrides the cap, for operators who
  // trade memory for less malloc contention among the threads.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles (about 1% of a
  // service's CPU); the services' locking is checked by the tests' debug builds instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

std::optional<int> WaitForShutdownSignal(absl::Duration timeout) {
  const sigset_t set = ShutdownSet();
  for (;;) {
    int signal_number = -1;
    if (timeout == absl::InfiniteDuration()) {
      if (sigwait(&set, &signal_number) == 0) return signal_number;
      continue;
    }
    const timespec ts = absl::ToTimespec(timeout);
    signal_number = sigtimedwait(&set, nullptr, &ts);
    if (signal_number > 0) return signal_number;
    if (errno == EAGAIN) return std::nullopt;
    // EINTR: another signal interrupted the wait; waiting again restarts the full timeout,
    // which only ever delays a timeout, never a shutdown.
  }
}

}  // namespace mcsink
