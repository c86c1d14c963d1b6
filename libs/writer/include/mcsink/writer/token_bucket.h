// A token bucket on an injected clock: at most `capacity` operations at once and `capacity` per
// `period` on average, e.g. MaxCompute's 75 commits per 15 s per table.
#pragma once

#include <cstdint>

#include "absl/time/time.h"

namespace mcsink::writer {

class TokenBucket {
 public:
  // Starts full. `capacity` >= 1, `period` > 0.
  TokenBucket(int64_t capacity, absl::Duration period, absl::Time now);

  // Takes one token if there is one at `now`.
  bool TryTake(absl::Time now);
  // The earliest time at which TryTake can succeed (`now` when a token is available).
  absl::Time NextAvailable(absl::Time now);

 private:
  void Refill(absl::Time now);

  const double capacity_;
  const absl::Duration per_token_;
  double tokens_;
  absl::Time last_;
};

}  // namespace mcsink::writer
