// Which acknowledgements ingest leaves alone because the batch was fenced (exactly-once: the
// partition's new owner reads it again) instead of dead-lettering it or stopping its partition.
#include "gtest/gtest.h"
#include "mcsink/ingest/ingest_service.h"
#include "mcsink/pipeline/failure_codes.h"

namespace mcsink::ingest {
namespace {

v1::Ack AckWithFailures(const std::vector<std::string>& codes) {
  v1::Ack ack;
  ack.set_batch_id(7);
  for (const std::string& code : codes) {
    v1::BatchFailure* f = ack.add_failures();
    f->set_code(code);
    f->set_message("why");
  }
  return ack;
}

TEST(OnlyFenced, EveryFailureFencedMeansReadAgainByTheNewOwner) {
  EXPECT_TRUE(OnlyFenced(AckWithFailures({pipeline::kFenced})));
  EXPECT_TRUE(OnlyFenced(AckWithFailures({pipeline::kFenced, pipeline::kFenced})));
}

TEST(OnlyFenced, AnyOtherFailureStillGoesToTheFailurePolicy) {
  // A record that also failed for a reason of its own must still be dead-lettered (or stop the
  // partition), even if the writer's part of the batch was fenced.
  EXPECT_FALSE(OnlyFenced(AckWithFailures({pipeline::kFenced, "ERROR_TOPIC_UNDELIVERABLE"})));
  EXPECT_FALSE(OnlyFenced(AckWithFailures({pipeline::kWriterFailed})));
}

TEST(OnlyFenced, AckWithoutFailuresIsAnAcknowledgement) {
  EXPECT_FALSE(OnlyFenced(AckWithFailures({})));
}

}  // namespace
}  // namespace mcsink::ingest
