// Tests of the batch helpers (BatchError, FailedOperationIndex, CheckBatchIds) and of
// Backend::Validate()'s default implementation.

#include <string>

#include "absl/strings/cord.h"
#include "dpu/backend.h"
#include "dpu/capabilities.h"
#include "dpu/flow_rule.h"
#include "dpu/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_backend.h"

namespace dpu {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::StartsWith;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

FlowRule RuleWithId(uint64_t lo) {
  FlowRule r;
  r.id = FlowId(0, lo);
  r.match.eth_type = ethertype::kIpv4;
  r.actions.push_back(DropAction{});
  return r;
}

TEST(BatchErrorTest, MessageNamesPositionKindIdAndReason) {
  const FlowId id(0x1, 0xabc);
  absl::Status s = BatchError(absl::StatusCode::kFailedPrecondition, 3, true, id, "device busy");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Msg(s), "operation 3 (delete id 00000000000000010000000000000abc): device busy");
  absl::Status u = BatchError(absl::StatusCode::kResourceExhausted, 0, false, id, "table full");
  EXPECT_THAT(Msg(u), StartsWith("operation 0 (upsert id "));
}

TEST(BatchErrorTest, IndexRoundTripsThroughPayload) {
  for (size_t index : {size_t{0}, size_t{7}, size_t{1} << 40}) {
    absl::Status s = BatchError(absl::StatusCode::kInternal, index, false, FlowId(0, 1), "x");
    EXPECT_THAT(FailedOperationIndex(s), Optional(index));
  }
}

TEST(BatchErrorTest, OkCodeStillYieldsAnError) {
  absl::Status s = BatchError(absl::StatusCode::kOk, 2, false, FlowId(0, 1), "odd");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(FailedOperationIndex(s), Optional(size_t{2}));
}

TEST(FailedOperationIndexTest, AbsentForOtherStatuses) {
  EXPECT_EQ(FailedOperationIndex(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(FailedOperationIndex(absl::InternalError("operation 3 (delete id x): y")),
            std::nullopt);
  absl::Status garbage = absl::InternalError("x");
  garbage.SetPayload("type.libdpu.dev/dpu.BatchOperationIndex", absl::Cord("12x"));
  EXPECT_EQ(FailedOperationIndex(garbage), std::nullopt);
}

TEST(CheckBatchIdsTest, AcceptsDistinctIds) {
  FlowBatch batch;
  batch.deletes = {FlowId(0, 1), FlowId(0, 2)};
  batch.upserts = {RuleWithId(3), RuleWithId(4)};
  EXPECT_TRUE(CheckBatchIds(batch).ok());
  EXPECT_TRUE(CheckBatchIds(FlowBatch{}).ok());
}

TEST(CheckBatchIdsTest, DuplicateDeleteNamesBothPositions) {
  FlowBatch batch;
  batch.deletes = {FlowId(0, 1), FlowId(0, 2), FlowId(0, 1)};
  absl::Status s = CheckBatchIds(batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FailedOperationIndex(s), Optional(size_t{2}));
  EXPECT_THAT(Msg(s), StartsWith("operation 2 (delete id 00000000000000000000000000000001)"));
  EXPECT_THAT(Msg(s), HasSubstr("operation 0"));
}

TEST(CheckBatchIdsTest, IdInDeletesAndUpsertsIsRefusedAtUpsertPosition) {
  FlowBatch batch;
  batch.deletes = {FlowId(0, 5)};
  batch.upserts = {RuleWithId(6), RuleWithId(5)};
  absl::Status s = CheckBatchIds(batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  // Deletes are numbered first: delete 5 is operation 0, upserts are operations 1 and 2.
  EXPECT_THAT(FailedOperationIndex(s), Optional(size_t{2}));
  EXPECT_THAT(Msg(s), HasSubstr("upsert"));
}

TEST(CheckBatchIdsTest, ZeroIdIsRefused) {
  FlowBatch batch;
  batch.upserts = {RuleWithId(1), RuleWithId(0)};
  absl::Status s = CheckBatchIds(batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FailedOperationIndex(s), Optional(size_t{1}));
  EXPECT_THAT(Msg(s), HasSubstr("zero"));
  FlowBatch del;
  del.deletes = {FlowId()};
  EXPECT_THAT(FailedOperationIndex(CheckBatchIds(del)), Optional(size_t{0}));
}

TEST(BackendValidateTest, RunsValidateRuleFirst) {
  testing::InMemoryTestBackend backend(Capabilities::All());
  FlowRule r = RuleWithId(1);
  r.match.dst_port = Masked<uint16_t>{80, 0xffff};  // No ip_proto: invalid in the model.
  absl::Status s = backend.Validate(r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(s), StartsWith("dst_port"));
  EXPECT_EQ(backend.device_calls, 0);
}

TEST(BackendValidateTest, ThenChecksCapabilities) {
  Capabilities caps;
  caps.Add(ActionKind::kDrop);  // eth_type is not supported.
  testing::InMemoryTestBackend backend(caps);
  absl::Status s = backend.Validate(RuleWithId(1));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(Msg(s), HasSubstr("eth_type"));
  EXPECT_THAT(Msg(s), HasSubstr("inmemory"));
  caps.Add(MatchField::kEthType);
  testing::InMemoryTestBackend capable(caps);
  EXPECT_TRUE(capable.Validate(RuleWithId(1)).ok());
  EXPECT_EQ(backend.device_calls + capable.device_calls, 0);
}

}  // namespace
}  // namespace dpu
