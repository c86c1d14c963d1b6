#include "mcsink/ingest/kafka_record.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <string>

namespace mcsink::ingest {
namespace {

// A string field: the std::string object protobuf allocates, and its buffer beyond the inline one.
int64_t StringMemory(size_t size) {
  constexpr size_t kInline = 15;  // libstdc++'s short-string capacity
  return static_cast<int64_t>(sizeof(std::string) + (size > kInline ? size + 1 : 0));
}

}  // namespace

int64_t ToKafkaRecord(const RdKafka::Message& msg, v1::KafkaRecord* record) {
  record->Clear();
  // The message object, and its pointer in the batch's repeated field.
  int64_t memory = static_cast<int64_t>(sizeof(v1::KafkaRecord) + sizeof(void*));
  record->set_partition(msg.partition());
  record->set_offset(msg.offset());
  const RdKafka::MessageTimestamp ts = msg.timestamp();
  record->set_timestamp_ms(ts.timestamp);
  switch (ts.type) {
    case RdKafka::MessageTimestamp::MSG_TIMESTAMP_CREATE_TIME:
      record->set_timestamp_type(v1::KafkaRecord::TIMESTAMP_CREATE_TIME);
      break;
    case RdKafka::MessageTimestamp::MSG_TIMESTAMP_LOG_APPEND_TIME:
      record->set_timestamp_type(v1::KafkaRecord::TIMESTAMP_LOG_APPEND_TIME);
      break;
    default:
      record->set_timestamp_type(v1::KafkaRecord::TIMESTAMP_NONE);
  }
  if (msg.key_pointer() != nullptr) {
    record->set_key(static_cast<const char*>(msg.key_pointer()), msg.key_len());
    memory += StringMemory(msg.key_len());
  }
  if (msg.payload() != nullptr) {
    record->set_value(static_cast<const char*>(msg.payload()), msg.len());
    memory += StringMemory(msg.len());
  }
  // Through the C message: the C++ binding's headers() allocates a Headers copy for every
  // message, also for the common one without headers (7% of ingest's CPU in a profile).
  // c_ptr() is not const in the binding, though reading headers does not modify the message.
  rd_kafka_message_t* c_msg = const_cast<RdKafka::Message&>(msg).c_ptr();
  rd_kafka_headers_t* headers = nullptr;
  if (c_msg != nullptr && rd_kafka_message_headers(c_msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      headers != nullptr) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      v1::KafkaHeader* out = record->add_headers();
      out->set_key(name);
      memory += static_cast<int64_t>(sizeof(v1::KafkaHeader) + sizeof(void*)) +
                StringMemory(out->key().size());
      if (value != nullptr) {
        out->set_value(static_cast<const char*>(value), size);
        memory += StringMemory(size);
      }
    }
  }
  return memory;
}

}  // namespace mcsink::ingest
