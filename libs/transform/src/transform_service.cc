#include "mcsink/transform/transform_service.h"

#include <limits>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"

namespace mcsink::transform {

// The ingest stream a batch came on; its writes are serialized, and it is cleared when the call
// ends so late acknowledgements are dropped (ingest resends after reconnecting).
struct TransformService::Upstream {
  absl::Mutex mu;
  grpc::ServerReaderWriter<v1::Ack, v1::RecordBatch>* stream ABSL_GUARDED_BY(mu);
};

// A converted batch waiting for its parts: the writer's ack of its rows (its failed records are
// in the error topic before the rows are sent, so their outcome is in `ack` already).
struct TransformService::Pending {
  std::shared_ptr<Upstream> upstream;
  v1::Ack ack;  // to send upstream once every part is done
  // The records the RowBatch carries when some of the batch's records were left out of it (sent
  // to the error topic, or held back by a stop); empty: the same as ack.ranges().
  google::protobuf::RepeatedPtrField<v1::OffsetRange> written;
  int parts = 0;
  bool failed = false;
};

namespace {

// The epoch under which `batch` carries `partition`'s records (0 when no range names it).
int64_t EpochOf(const v1::RecordBatch& batch, int32_t partition) {
  for (const v1::OffsetRange& range : batch.ranges()) {
    if (range.partition() == partition) return range.epoch();
  }
  return 0;
}

}  // namespace

google::protobuf::RepeatedPtrField<v1::OffsetRange> RangesOf(const v1::RecordBatch& batch,
                                                             const std::vector<bool>& included) {
  google::protobuf::RepeatedPtrField<v1::OffsetRange> out;
  // Per partition, the range the partition's previous record extended (null after a record
  // left out), so runs never span an excluded record.
  std::map<int32_t, v1::OffsetRange*> open;
  for (int i = 0; i < batch.records_size(); ++i) {
    const v1::KafkaRecord& r = batch.records(i);
    v1::OffsetRange*& range = open[r.partition()];
    if (!included[static_cast<size_t>(i)]) {
      range = nullptr;
      continue;
    }
    if (range == nullptr) {
      range = out.Add();
      range->set_topic(batch.topic());
      range->set_partition(r.partition());
      range->set_first_offset(r.offset());
      // Ingest re-sends a FENCED range only under the epoch it still owns.
      range->set_epoch(EpochOf(batch, r.partition()));
    }
    range->set_last_offset(r.offset());
  }
  return out;
}

// Leaves the offsets of `hole` out of `ranges` (a RowBatch's, which the writer journals as
// written: docs/exactly-once.md). Offsets that are neither in the rows nor in the error topic (held
// back by a stop, or refused by the error topic) must not be journaled, or the partition's next
// owner would skip them as already in the table.
void CutOut(google::protobuf::RepeatedPtrField<v1::OffsetRange>* ranges,
            const v1::OffsetRange& hole) {
  google::protobuf::RepeatedPtrField<v1::OffsetRange> out;
  for (const v1::OffsetRange& r : *ranges) {
    if (r.partition() != hole.partition() || r.last_offset() < hole.first_offset() ||
        r.first_offset() > hole.last_offset()) {
      *out.Add() = r;
      continue;
    }
    if (r.first_offset() < hole.first_offset()) {
      v1::OffsetRange* before = out.Add();
      *before = r;
      before->set_last_offset(hole.first_offset() - 1);
    }
    if (r.last_offset() > hole.last_offset()) {
      v1::OffsetRange* after = out.Add();
      *after = r;
      after->set_first_offset(hole.last_offset() + 1);
    }
  }
  ranges->Swap(&out);
}

int64_t MinTimestampMs(const v1::RecordBatch& batch) {
  int64_t min = 0;
  for (const v1::KafkaRecord& r : batch.records()) {
    if (r.timestamp_type() == v1::KafkaRecord::TIMESTAMP_NONE || r.timestamp_ms() <= 0) continue;
    if (min == 0 || r.timestamp_ms() < min) min = r.timestamp_ms();
  }
  return min;
}

convert::ConverterOptions ConverterOptionsFor(const v1::ConnectorConfig& c) {
  convert::ConverterOptions o;
  o.table_name = c.target().table();
  switch (c.mode()) {
    case v1::MODE_KEY:
      o.mode = convert::Mode::kKey;
      break;
    case v1::MODE_VALUE:
      o.mode = convert::Mode::kValue;
      break;
    default:
      o.mode = convert::Mode::kDefault;
  }
  switch (c.format()) {
    case v1::FORMAT_BINARY:
      o.format = convert::Format::kBinary;
      break;
    case v1::FORMAT_CSV:
      o.format = convert::Format::kCsv;
      break;
    case v1::FORMAT_JSON:
      o.format = convert::Format::kJson;
      break;
    default:
      o.format = convert::Format::kText;
  }
  if (!c.csv_delimiter().empty()) o.csv_delimiter = c.csv_delimiter()[0];
  o.json_unknown_keys = c.json_ignore_unknown_keys() ? convert::UnknownKeyPolicy::kIgnore
                                                     : convert::UnknownKeyPolicy::kReject;
  o.granularity = c.granularity() == v1::GRANULARITY_DAY      ? convert::Granularity::kDay
                  : c.granularity() == v1::GRANULARITY_MINUTE ? convert::Granularity::kMinute
                                                              : convert::Granularity::kHour;
  o.pt_format = c.partition_format() == v1::PARTITION_FORMAT_ISO ? convert::PtFormat::kIso
                                                                 : convert::PtFormat::kLegacy;
  if (!c.time_zone().empty()) o.time_zone = c.time_zone();
  o.time_source = c.time_source() == v1::TIME_SOURCE_RECORD_TIME ? convert::TimeSource::kRecordTime
                                                                 : convert::TimeSource::kWallClock;
  return o;
}

TransformService::TransformService(TransformServiceOptions options, prometheus::Registry& registry)
    : options_(std::move(options)), metrics_(registry, options_.connector.name()) {}

absl::StatusOr<std::unique_ptr<TransformService>> TransformService::Create(
    TransformServiceOptions options, prometheus::Registry& registry) {
  // The schema must fit the config before any stream opens.
  MCSINK_RETURN_IF_ERROR(
      convert::Converter::Create(options.schema, ConverterOptionsFor(options.connector)).status());
  std::unique_ptr<TransformService> service(new TransformService(std::move(options), registry));
  const v1::ConnectorConfig& c = service->options_.connector;
  ErrorTopicOptions errors;
  errors.properties = service->options_.kafka_properties;
  errors.connector = c.name();
  errors.role = "errors";
  if (service->options_.exactly_once) {
    errors.offset_topic = c.topics().offset_topic();
    errors.consumer_group = c.consumer_group();
  }
  errors.transaction_timeout = service->options_.error_transaction_timeout;
  MCSINK_ASSIGN_OR_RETURN(service->errors_, ErrorTopicWriter::Create(std::move(errors)));
  std::shared_ptr<v1::Writer::Stub> stub = v1::Writer::NewStub(service->options_.writer_channel);
  pipeline::StreamClientOptions stream_options;
  stream_options.name = c.name() + ": transform->writer";
  stream_options.max_unacked_bytes = service->options_.max_unacked_bytes;
  TransformService* self = service.get();
  service->writer_ = std::make_unique<pipeline::StreamClient<v1::RowBatch, v1::Ack>>(
      stream_options, [stub](grpc::ClientContext* ctx) { return stub->Write(ctx); },
      [self](const v1::Ack& ack) { self->OnWriterAck(ack); });
  return service;
}

TransformService::~TransformService() { Stop(absl::ZeroDuration()); }

void TransformService::Stop(absl::Duration drain) {
  if (writer_ != nullptr) writer_->Close(drain);
  if (errors_ != nullptr) errors_->Flush(drain);
}

grpc::Status TransformService::Convert(grpc::ServerContext*,
                                       grpc::ServerReaderWriter<v1::Ack, v1::RecordBatch>* stream) {
  auto converter =
      convert::Converter::Create(options_.schema, ConverterOptionsFor(options_.connector));
  if (!converter.ok())
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        std::string(converter.status().message()));
  auto upstream = std::make_shared<Upstream>();
  {
    absl::MutexLock lock(&upstream->mu);
    upstream->stream = stream;
  }
  convert::ConvertedBatch converted;
  v1::RecordBatch batch;
  while (stream->Read(&batch)) Process(batch, **converter, converted, upstream);
  absl::MutexLock lock(&upstream->mu);
  upstream->stream = nullptr;
  return grpc::Status::OK;
}

void TransformService::Process(const v1::RecordBatch& batch, convert::Converter& converter,
                               convert::ConvertedBatch& converted,
                               const std::shared_ptr<Upstream>& upstream) {
  const absl::Time start = absl::Now();
  // Zero-copy views of the records for the converter.
  std::vector<convert::KafkaHeaderView> headers;
  for (const v1::KafkaRecord& r : batch.records()) {
    for (const v1::KafkaHeader& h : r.headers()) headers.push_back({h.key(), h.value()});
  }
  std::vector<convert::KafkaRecordView> views;
  views.reserve(static_cast<size_t>(batch.records_size()));
  size_t header_index = 0;
  for (const v1::KafkaRecord& r : batch.records()) {
    convert::KafkaRecordView v;
    v.topic = batch.topic();
    v.partition = r.partition();
    v.offset = r.offset();
    v.timestamp_ms = r.timestamp_ms();
    v.timestamp_type = r.timestamp_type() == v1::KafkaRecord::TIMESTAMP_CREATE_TIME
                           ? convert::TimestampType::kCreateTime
                       : r.timestamp_type() == v1::KafkaRecord::TIMESTAMP_LOG_APPEND_TIME
                           ? convert::TimestampType::kLogAppendTime
                           : convert::TimestampType::kNone;
    if (r.has_key()) v.key = r.key();
    if (r.has_value()) v.value = r.value();
    v.headers = std::span<const convert::KafkaHeaderView>(headers.data() + header_index,
                                                          static_cast<size_t>(r.headers_size()));
    header_index += static_cast<size_t>(r.headers_size());
    views.push_back(v);
  }
  converter.Convert(views, &converted);

  const bool stop_policy = options_.connector.failure_policy() == v1::FAILURE_POLICY_STOP;
  auto pending = std::make_shared<Pending>();
  pending->upstream = upstream;
  pending->ack.set_batch_id(batch.batch_id());
  *pending->ack.mutable_ranges() = batch.ranges();
  std::vector<const convert::RecordError*> to_report;
  std::map<int32_t, int64_t> stops;  // partition -> first offset not to write, in this batch
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    id = ++next_id_;
    // A newer epoch of a stopped partition: ingest restarted it (or a new owner claimed it), so
    // its records are converted again; a record that still fails stops it again.
    for (const v1::OffsetRange& range : batch.ranges()) {
      auto it = stopped_.find({range.topic(), range.partition()});
      if (it == stopped_.end() || range.epoch() <= it->second.epoch) continue;
      MCSINK_LOG(INFO) << options_.connector.name() << ": " << range.topic() << "["
                       << range.partition() << "] stopped at offset " << it->second.failure.offset()
                       << " under epoch " << it->second.epoch << " runs again under epoch "
                       << range.epoch();
      stopped_.erase(it);
    }
    for (const convert::RecordError& e : converted.errors) {
      metrics_.OnConversionError(convert::ErrorCodeName(e.code));
      if (!stop_policy) {
        to_report.push_back(&e);
        continue;
      }
      const v1::KafkaRecord& r = batch.records(static_cast<int>(e.input_index));
      auto [it, fresh] = stopped_.try_emplace({batch.topic(), r.partition()});
      if (fresh || r.offset() < it->second.failure.offset()) {
        it->second.epoch = EpochOf(batch, r.partition());
        v1::PartitionFailure& f = it->second.failure;
        f.set_topic(batch.topic());
        f.set_partition(r.partition());
        f.set_offset(r.offset());
        f.set_code(std::string(convert::ErrorCodeName(e.code)));
        f.set_message(e.message);
        metrics_.OnPartitionStopped();
        MCSINK_LOG(ERROR) << options_.connector.name() << ": " << batch.topic() << "["
                          << r.partition() << "] stopped at offset " << r.offset() << ": "
                          << e.message;
      }
    }
    for (const v1::OffsetRange& range : batch.ranges()) {
      auto it = stopped_.find({range.topic(), range.partition()});
      if (it == stopped_.end()) continue;
      stops[range.partition()] = it->second.failure.offset();
      *pending->ack.add_stopped() = it->second.failure;
    }
  }

  v1::RowBatch rows;
  rows.set_batch_id(id);
  rows.set_connector(batch.connector());
  *rows.mutable_ranges() = batch.ranges();
  for (const auto& [partition, offset] : stops) {
    v1::OffsetRange held_back;
    held_back.set_partition(partition);
    held_back.set_first_offset(offset);
    held_back.set_last_offset(std::numeric_limits<int64_t>::max());
    CutOut(rows.mutable_ranges(), held_back);
  }
  rows.set_min_timestamp_ms(MinTimestampMs(batch));
  // Flow control: ingest is held back, or this stage is (its unacknowledged rows wait for the
  // writer's commits): either way the writer should commit now.
  rows.set_flush_hint(batch.flush_hint() || writer_->congested());
  rows.set_redelivery(batch.redelivery());
  if (!converted.errors.empty() || !stops.empty()) {
    // Which records the rows hold, in case the writer gives them back for the dead-letter topic.
    std::vector<bool> included(static_cast<size_t>(batch.records_size()), true);
    for (const convert::RecordError& e : converted.errors) included[e.input_index] = false;
    for (int i = 0; i < batch.records_size(); ++i) {
      const v1::KafkaRecord& r = batch.records(i);
      auto stop = stops.find(r.partition());
      if (stop != stops.end() && r.offset() >= stop->second) {
        included[static_cast<size_t>(i)] = false;
      }
    }
    pending->written = RangesOf(batch, included);
  }
  int64_t row_count = 0;
  for (convert::PartitionRows& p : converted.partitions) {
    v1::RowGroup* group = rows.add_groups();
    group->set_pt(p.pt);
    if (stops.empty()) {
      group->set_row_count(p.row_count());
      group->mutable_row_crcs()->Add(p.crcs.begin(), p.crcs.end());
      group->set_encoded_rows(std::move(p.data));
    } else {
      // Rows of a stopped partition at or after the failed record are not written.
      std::string* data = group->mutable_encoded_rows();
      size_t begin = 0;
      for (size_t i = 0; i < p.row_count(); ++i) {
        const v1::KafkaRecord& r = batch.records(static_cast<int>(p.input_indices[i]));
        auto stop = stops.find(r.partition());
        if (stop == stops.end() || r.offset() < stop->second) {
          data->append(p.data, begin, p.record_ends[i] - begin);
          group->add_row_crcs(p.crcs[i]);
        }
        begin = p.record_ends[i];
      }
      group->set_row_count(static_cast<uint64_t>(group->row_crcs_size()));
    }
    row_count += static_cast<int64_t>(group->row_count());
  }
  metrics_.OnBatchConverted(batch.records_size(), row_count,
                            absl::ToDoubleSeconds(absl::Now() - start));

  // The failed records are in the error topic before the rows go to the writer: once the
  // writer commits the rows, a replay skips the batch, so its failed records must be there
  // already (docs/exactly-once.md). One transaction per batch with errors; others do not wait.
  if (!to_report.empty()) {
    absl::StatusOr<std::vector<v1::BatchFailure>> undelivered = ReportErrors(batch, to_report);
    if (!undelivered.ok()) {
      // Not acknowledged: ingest does not commit it, so it is read again after a restart.
      MCSINK_LOG(ERROR) << options_.connector.name() << ": batch " << batch.batch_id()
                        << " not acknowledged: " << undelivered.status().message();
      return;
    }
    for (v1::BatchFailure& f : *undelivered) {
      for (const v1::OffsetRange& r : f.ranges()) CutOut(rows.mutable_ranges(), r);
      *pending->ack.add_failures() = std::move(f);
    }
  }

  // A batch without rows still goes to the writer when it carries the flush hint (ingest sends
  // one without records before waiting for acknowledgements): the writer must see it.
  const bool to_writer = row_count > 0 || rows.flush_hint();
  if (!to_writer) {
    absl::MutexLock lock(&upstream->mu);
    if (upstream->stream != nullptr) upstream->stream->Write(pending->ack);
    return;
  }
  pending->parts = 1;
  {
    absl::MutexLock lock(&mu_);
    pending_[id] = pending;
    metrics_.SetInFlight(static_cast<int64_t>(pending_.size()));
  }
  if (absl::Status s = writer_->Send(std::move(rows)); !s.ok()) PartDone(id, false);
}

absl::StatusOr<std::vector<v1::BatchFailure>> TransformService::ReportErrors(
    const v1::RecordBatch& batch, const std::vector<const convert::RecordError*>& errors) {
  // The outcome of each record, filled by the error topic writer's thread.
  struct Outcome {
    absl::Mutex mu;
    size_t left ABSL_GUARDED_BY(mu) = 0;
    std::vector<absl::Status> statuses ABSL_GUARDED_BY(mu);
  };
  auto outcome = std::make_shared<Outcome>();
  {
    absl::MutexLock lock(&outcome->mu);
    outcome->left = errors.size();
    outcome->statuses.resize(errors.size());
  }
  const std::string& error_topic = options_.connector.topics().error_topic();
  for (size_t i = 0; i < errors.size(); ++i) {
    const convert::RecordError& e = *errors[i];
    const v1::KafkaRecord& r = batch.records(static_cast<int>(e.input_index));
    ErrorRecord record{batch.topic(), &r, std::string(convert::ErrorCodeName(e.code)), e.column,
                       e.message};
    errors_->Send(error_topic, record, [outcome, i](const absl::Status& delivery) {
      absl::MutexLock lock(&outcome->mu);
      outcome->statuses[i] = delivery;
      --outcome->left;
    });
  }
  std::vector<absl::Status> statuses;
  {
    absl::MutexLock lock(&outcome->mu);
    auto all = [&outcome]() ABSL_SHARED_LOCKS_REQUIRED(outcome->mu) { return outcome->left == 0; };
    outcome->mu.Await(absl::Condition(&all));
    statuses = outcome->statuses;
  }
  std::vector<v1::BatchFailure> failures;
  for (size_t i = 0; i < errors.size(); ++i) {
    const absl::Status& delivery = statuses[i];
    metrics_.OnErrorRecordDelivered(delivery.ok());
    if (delivery.ok()) continue;
    if (absl::IsCancelled(delivery)) return delivery;  // stopping: the batch is read again
    // The record is neither in the table nor in the error topic: ingest gives it to the
    // dead-letter topic (or stops the partition), so it is not lost and does not stall the
    // partition.
    const convert::RecordError& e = *errors[i];
    const v1::KafkaRecord& r = batch.records(static_cast<int>(e.input_index));
    v1::BatchFailure& f = failures.emplace_back();
    f.set_code(kErrorTopicUndeliverable);
    f.set_message(absl::StrCat("the record failed conversion (",
                               std::string(convert::ErrorCodeName(e.code)),
                               ") and could not be sent to the error topic: ", delivery.message()));
    v1::OffsetRange* range = f.add_ranges();
    range->set_topic(batch.topic());
    range->set_partition(r.partition());
    range->set_first_offset(r.offset());
    range->set_last_offset(r.offset());
  }
  return failures;
}

void TransformService::PartDone(uint64_t id, bool ok, std::vector<v1::BatchFailure> failures) {
  std::shared_ptr<Pending> done;
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending& p = *it->second;
    if (!ok) p.failed = true;
    for (v1::BatchFailure& f : failures) {
      if (f.ranges().empty()) {
        *f.mutable_ranges() = p.written.empty() ? p.ack.ranges() : p.written;
      }
      *p.ack.add_failures() = std::move(f);
    }
    if (--p.parts > 0) return;
    done = it->second;
    pending_.erase(it);
    metrics_.SetInFlight(static_cast<int64_t>(pending_.size()));
  }
  if (done->failed) {
    // Not acknowledged: ingest does not commit it, so it is read again after a restart.
    MCSINK_LOG(ERROR) << options_.connector.name() << ": batch " << done->ack.batch_id()
                      << " not acknowledged: a part of it failed";
    return;
  }
  absl::MutexLock lock(&done->upstream->mu);
  if (done->upstream->stream != nullptr) done->upstream->stream->Write(done->ack);
}

void TransformService::OnWriterAck(const v1::Ack& ack) {
  PartDone(ack.batch_id(), true, {ack.failures().begin(), ack.failures().end()});
}

}  // namespace mcsink::transform
