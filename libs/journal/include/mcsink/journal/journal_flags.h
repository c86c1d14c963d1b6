// The services' switch for the exactly-once journal: --exactly_once (default true).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "mcsink/journal/kafka_journal.h"

namespace mcsink::journal {

// --exactly_once.
bool ExactlyOnceEnabled();

// The connector's journal, or null when --exactly_once=false (at-least-once, e.g. to measure
// the journal's cost). `resolver` as for KafkaJournal::Create; `registry` (may be null) gets
// its metrics.
absl::StatusOr<std::unique_ptr<KafkaJournal>> JournalFromFlags(
    const v1::ConnectorConfig& connector, const kafka::Properties& kafka_properties,
    writer::TunnelBackend* resolver, prometheus::Registry* registry = nullptr);

}  // namespace mcsink::journal
