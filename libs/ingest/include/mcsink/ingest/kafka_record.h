// A consumed Kafka message as the pipeline's KafkaRecord: one conversion, for the batches ingest
// sends and for the records it reads back for the dead-letter topic.
#pragma once

#include <cstdint>

#include "mcsink/v1/pipeline.pb.h"

namespace RdKafka {
class Message;
}

namespace mcsink::ingest {

// Fills `record` (cleared first) with the message's partition, offset, timestamp, key, value and
// headers; a null key or value stays absent. Returns an estimate of the heap memory the record
// holds in a batch (message objects, strings and payload), which bounds what ingest keeps in
// flight without walking the batch again (Message::SpaceUsedLong costs as much as building it).
int64_t ToKafkaRecord(const RdKafka::Message& message, v1::KafkaRecord* record);

}  // namespace mcsink::ingest
