// Items that arrive on another thread (a stream's acks, a writer's batches), to wait for.
#pragma once

#include <cstddef>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mcsink::testing {

// Items collected from another thread (a stream's acks, a writer's batches), to wait for.
template <typename T>
class Collected {
 public:
  void Add(const T& item) {
    absl::MutexLock lock(&mu_);
    items_.push_back(item);
  }
  // Whether `n` items arrived within `timeout`.
  bool Wait(size_t n, absl::Duration timeout = absl::Seconds(30)) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return items_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  std::vector<T> all() {
    absl::MutexLock lock(&mu_);
    return items_;
  }

 private:
  absl::Mutex mu_;
  std::vector<T> items_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mcsink::testing
