#include "mcsink/writer/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace mcsink::writer {

TokenBucket::TokenBucket(int64_t capacity, absl::Duration period, absl::Time now)
    : capacity_(static_cast<double>(capacity)),
      per_token_(period / static_cast<double>(capacity)),
      tokens_(static_cast<double>(capacity)),
      last_(now) {}

void TokenBucket::Refill(absl::Time now) {
  if (now <= last_) return;
  tokens_ = std::min(capacity_, tokens_ + absl::FDivDuration(now - last_, per_token_));
  last_ = now;
}

bool TokenBucket::TryTake(absl::Time now) {
  Refill(now);
  // A small epsilon: refills are computed in floating point and must not miss by a rounding.
  if (tokens_ < 1.0 - 1e-9) return false;
  tokens_ = std::max(0.0, tokens_ - 1.0);
  return true;
}

absl::Time TokenBucket::NextAvailable(absl::Time now) {
  Refill(now);
  if (tokens_ >= 1.0 - 1e-9) return now;
  return last_ + per_token_ * (1.0 - tokens_);
}

}  // namespace mcsink::writer
