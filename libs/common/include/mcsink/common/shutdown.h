// Clean shutdown on SIGTERM or SIGINT: call BlockShutdownSignals() first thing in main (before
// any thread starts, so every thread inherits the mask), then WaitForShutdownSignal() where the
// main thread should sleep until it is time to drain.
#pragma once

#include <optional>

#include "absl/time/time.h"

namespace mcsink {

void BlockShutdownSignals();

// What every service does first in main: BlockShutdownSignals, and cap glibc's malloc arenas at
// two, since a service's many threads (consumers, gRPC, librdkafka) would otherwise each keep an
// arena of freed memory and inflate resident memory well beyond what the service holds
// (MALLOC_ARENA_MAX in the environment overrides the cap). Turns off Abseil's Mutex deadlock
// detection, which Debian's build runs on every lock.
void InitService();

// The signal number received, or nullopt when `timeout` passed first.
std::optional<int> WaitForShutdownSignal(absl::Duration timeout = absl::InfiniteDuration());

}  // namespace mcsink
