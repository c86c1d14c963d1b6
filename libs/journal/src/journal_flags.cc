#include "mcsink/journal/journal_flags.h"

#include <utility>

#include "absl/flags/flag.h"
#include "mcsink/common/log.h"

ABSL_FLAG(bool, exactly_once, true,
          "exactly-once delivery into MaxCompute through the journal in the connector's offset "
          "topic (docs/exactly-once.md); false: at-least-once");

namespace mcsink::journal {

bool ExactlyOnceEnabled() { return absl::GetFlag(FLAGS_exactly_once); }

absl::StatusOr<std::unique_ptr<KafkaJournal>> JournalFromFlags(
    const v1::ConnectorConfig& connector, const kafka::Properties& kafka_properties,
    writer::TunnelBackend* resolver, prometheus::Registry* registry) {
  if (!ExactlyOnceEnabled()) {
    MCSINK_LOG(WARNING) << "--exactly_once=false: connector " << connector.name()
                        << " delivers at least once (a restart may write records twice)";
    return std::unique_ptr<KafkaJournal>();
  }
  KafkaJournalOptions options = JournalOptionsFor(connector, kafka_properties);
  options.registry = registry;
  return KafkaJournal::Create(std::move(options), resolver);
}

}  // namespace mcsink::journal
