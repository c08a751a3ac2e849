// The p4runtime backend against servers that behave like the ones libdpu did not write
// (BMv2/PI, Stratum, NVIDIA DPL), played by examples/p4rt-target in its compatibility modes:
// --continue-only (every atomicity but CONTINUE_ON_ERROR refused with UNIMPLEMENTED, as PI
// does), --any-device (any device id accepted at arbitration, the pipeline push to another one
// failing, as PI does), --ignore-roles, and its default refusal of a duplicate election id by
// closing the stream with a reason. One test per point of issue #25: atomicity learned without
// a probe and chosen by the caller, undo that keeps what it can (counters), unique election
// ids, the server's reason at stream close, device id hints, roles.
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "backends/p4runtime/p4runtime_backend.h"
#include "dpu/backend_registry.h"
#include "dpu/packet.h"
#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "p4rt_test_util.h"

namespace dpu::p4rt {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::PipelineFile;
using testing::RawClient;
using testing::TargetProcess;

std::string Spec(const TargetProcess& t, const std::string& extra) {
  return t.address() + "?p4info=" + PipelineFile("dpu_ref.p4info.txt") +
         "&config=" + PipelineFile("dpu_ref.swdpu") +
         "&mapping=" + PipelineFile("dpu_ref.mapping.yaml") + extra;
}

absl::StatusOr<std::unique_ptr<P4RuntimeBackend>> Open(const TargetProcess& t,
                                                       const std::string& extra) {
  auto o = BackendOptions::Parse(Spec(t, extra));
  if (!o.ok()) return o.status();
  return P4RuntimeBackend::Create(*o);
}

std::unique_ptr<P4RuntimeBackend> Connect(const TargetProcess& t, const std::string& extra) {
  auto b = Open(t, extra);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? std::move(*b) : nullptr;
}

FlowRule Rule(const std::string& text) {
  auto r = ParseRule(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return *r;
}

std::vector<FlowRule> Rules(const std::vector<std::string>& texts) {
  std::vector<FlowRule> out;
  for (const auto& t : texts) out.push_back(Rule(t));
  return out;
}

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

std::set<std::string> Owned(Backend& b) {
  auto d = b.Dump();
  EXPECT_TRUE(d.ok()) << d.status();
  std::set<std::string> out;
  for (const auto& e : *d)
    out.insert((e.foreign ? "foreign " : "") + FormatRule(e.rule) + " id=" + e.rule.id.ToString());
  return out;
}

// The target's log of refused requests (--log), one line each.
class TargetLog {
 public:
  TargetLog() {
    static int n = 0;
    path_ = absl::StrCat("/tmp/p4rt-servers-test-", getpid(), "-", n++, ".log");
    unlink(path_.c_str());
  }
  ~TargetLog() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }
  std::vector<std::string> Lines() const {
    std::ifstream f(path_);
    std::vector<std::string> out;
    for (std::string l; std::getline(f, l);) out.push_back(l);
    return out;
  }
  size_t Count(const std::string& what) const {
    size_t n = 0;
    for (const auto& l : Lines()) n += absl::StrContains(l, what);
    return n;
  }

 private:
  std::string path_;
};

// ---- 1. atomicity -------------------------------------------------------------------------

TEST(P4rtServers, AtomicityIsLearnedFromTheFirstBatchWithoutAProbe) {
  TargetLog log;
  TargetProcess t({"--continue-only", "--log", log.path()});
  auto b = Connect(t, "&device_id=1");
  ASSERT_NE(b, nullptr);
  // Connecting wrote nothing: no probe, so nothing in the server's error log.
  EXPECT_TRUE(log.Lines().empty()) << log.Lines()[0];
  EXPECT_FALSE(b->target_atomic().has_value());
  EXPECT_FALSE(b->Capabilities().atomic_batches);  // not known to be atomic

  // One update is atomic by itself: written CONTINUE_ON_ERROR, it teaches nothing, logs nothing.
  ASSERT_TRUE(b->Apply({Rules({"priority=1 in_port=1 actions=drop"}), {}}).ok());
  EXPECT_TRUE(log.Lines().empty());
  EXPECT_FALSE(b->target_atomic().has_value());
  EXPECT_TRUE(b->last_apply().atomic);

  // The first batch of several updates: the target refuses ROLLBACK_ON_ERROR as a whole, the
  // backend learns it and writes the batch best effort. One refusal in the log, ever.
  ASSERT_TRUE(b->Apply({Rules({"priority=2 in_port=2 actions=drop",
                               "priority=3 in_port=3 actions=redirect:4"}),
                        {}})
                  .ok());
  EXPECT_EQ(b->target_atomic(), false);
  EXPECT_FALSE(b->Capabilities().atomic_batches);
  EXPECT_FALSE(b->last_apply().atomic);
  EXPECT_EQ(log.Count("ROLLBACK_ON_ERROR"), 1u);
  ASSERT_TRUE(
      b->Apply(
           {Rules({"priority=4 in_port=4 actions=drop", "priority=5 in_port=5 actions=drop"}), {}})
          .ok());
  EXPECT_EQ(log.Lines().size(), 1u);
  EXPECT_EQ(Owned(*b).size(), 5u);

  // On a target that is atomic, the first batch says so.
  TargetLog log2;
  TargetProcess atomic({"--log", log2.path()});
  auto a = Connect(atomic, "&device_id=1");
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(a->target_atomic().has_value());
  ASSERT_TRUE(a->Apply({Rules({"priority=2 in_port=2 actions=drop",
                               "priority=3 in_port=3 actions=redirect:4"}),
                        {}})
                  .ok());
  EXPECT_EQ(a->target_atomic(), true);
  EXPECT_TRUE(a->Capabilities().atomic_batches);
  EXPECT_TRUE(a->last_apply().atomic);
  EXPECT_TRUE(log2.Lines().empty());
}

TEST(P4rtServers, RequireAtomicIsRefusedUpFrontNamingTheTarget) {
  TargetLog log;
  TargetProcess t({"--continue-only", "--log", log.path()});
  auto b = Connect(t, "&device_id=1&atomicity=require");
  ASSERT_NE(b, nullptr);
  absl::Status s = b->Apply(
      {Rules({"priority=2 in_port=2 actions=drop", "priority=3 in_port=3 actions=redirect:4"}),
       {}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(Msg(s), HasSubstr(t.address()));
  EXPECT_THAT(Msg(s), HasSubstr("atomicity=require"));
  // The server's own words, verbatim.
  EXPECT_THAT(Msg(s), HasSubstr("UNIMPLEMENTED: atomicity ROLLBACK_ON_ERROR is not implemented "
                                "by this target (CONTINUE_ON_ERROR only)"));
  EXPECT_THAT(Msg(s), HasSubstr("nothing was written"));
  EXPECT_TRUE(Owned(*b).empty());
  EXPECT_EQ(b->target_atomic(), false);
  // Now known: the next batch is refused before anything is sent (no new refusal logged).
  const size_t logged = log.Lines().size();
  s = b->Apply(
      {Rules({"priority=5 in_port=5 actions=drop", "priority=6 in_port=6 actions=drop"}), {}});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(log.Lines().size(), logged);
  EXPECT_TRUE(Owned(*b).empty());
  // A single update is atomic anywhere.
  ASSERT_TRUE(b->Apply({Rules({"priority=1 in_port=1 actions=drop"}), {}}).ok());
  EXPECT_EQ(Owned(*b).size(), 1u);
}

TEST(P4rtServers, BestEffortNeverAsksForRollback) {
  TargetLog log;
  TargetProcess t({"--continue-only", "--log", log.path()});
  auto b = Connect(t, "&device_id=1&atomicity=best-effort");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->target_atomic(), false);
  ASSERT_TRUE(b->Apply({Rules({"priority=2 in_port=2 actions=drop",
                               "priority=3 in_port=3 actions=redirect:4"}),
                        {}})
                  .ok());
  EXPECT_FALSE(b->last_apply().atomic);
  EXPECT_TRUE(log.Lines().empty());
  EXPECT_EQ(b->last_apply().writes, 1);
}

// Sends @p n copies of a packet on port 1 to dst port @p dport through the target.
void Traffic(const TargetProcess& t, int n, uint16_t dport) {
  // A new election id per call: the previous client's stream may not be gone from the target
  // yet, and a duplicate id would be refused.
  static uint64_t election = 0;
  RawClient io(t.address(), 1);
  ASSERT_EQ(io.Arbitrate(++election, "packet-io"), 0);
  const MacAddress a = *MacAddress::Parse("02:00:00:00:00:01"),
                   x = *MacAddress::Parse("04:00:00:00:00:01");
  auto p = PacketBuilder()
               .Eth(a, x)
               .Ipv4(*IpAddress::Parse("10.2.0.1"), *IpAddress::Parse("8.8.8.8"))
               .Tcp(1000, dport)
               .Build();
  ASSERT_TRUE(p.ok());
  for (int i = 0; i < n; ++i) {
    p4::v1::PacketIn got;
    ASSERT_TRUE(io.Inject(1, *p, &got));
  }
}

uint64_t Packets(P4RuntimeBackend& b, const FlowId& id) {
  auto s = b.Stats(id);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? s->packets : ~0ULL;
}

// A refused insert on a target without atomicity: nothing was deleted yet (deletes go last),
// the inserted entries are deleted again and the modified one is MODIFYed back, keeping its
// direct counter.
TEST(P4rtServers, UndoOfARefusedInsertKeepsEntriesAndCounters) {
  TargetProcess t({"--continue-only"});
  auto b = Connect(t, "&device_id=1");
  ASSERT_NE(b, nullptr);
  std::vector<FlowRule> base = Rules({
      "priority=10 in_port=1 eth_type=ipv4 ip_proto=tcp dst_port=22 actions=count,drop",
      "priority=11 in_port=1 eth_type=ipv4 ip_proto=tcp dst_port=23 actions=count,drop",
  });
  ASSERT_TRUE(b->Apply({base, {}}).ok());
  Traffic(t, 3, 22);
  Traffic(t, 2, 23);
  ASSERT_EQ(Packets(*b, base[0].id), 3u);
  ASSERT_EQ(Packets(*b, base[1].id), 2u);

  // A foreign entry (another role) takes the key the batch's last insert wants.
  RawClient other(t.address(), 1);
  ASSERT_EQ(other.Arbitrate(1, "other"), 0);
  auto fe = b->mapping().ToEntry(Rule("priority=50 in_port=9 actions=drop"));
  ASSERT_TRUE(fe.ok());
  fe->clear_metadata();
  p4::v1::Update fu;
  fu.set_type(p4::v1::Update::INSERT);
  *fu.mutable_entity()->mutable_table_entry() = *fe;
  ASSERT_TRUE(other.Write({fu}).ok());
  const auto before = Owned(*b);

  FlowBatch batch;
  batch.deletes = {base[1].id};
  FlowRule modified = base[0];
  modified.actions = {CountAction{}, RedirectAction{PortRef("7")}};
  batch.upserts = {modified, Rule("priority=20 in_port=20 actions=drop"),
                   Rule("priority=50 in_port=9 actions=redirect:1")};
  absl::Status s = b->Apply(batch);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_EQ(FailedOperationIndex(s), 3u) << s;
  EXPECT_THAT(Msg(s), HasSubstr("not atomic"));
  const ApplyReport& r = b->last_apply();
  EXPECT_FALSE(r.atomic);
  EXPECT_EQ(r.applied, 2u);
  EXPECT_EQ(r.deleted_again, 1u);
  EXPECT_EQ(r.modified_back, 1u);
  EXPECT_EQ(r.reinserted, 0u);  // the delete was never sent
  EXPECT_EQ(r.undo_failed, 0u);
  EXPECT_EQ(Owned(*b), before);
  // Counters survived: the modified entry was modified back, the other never touched.
  EXPECT_EQ(Packets(*b, base[0].id), 3u);
  EXPECT_EQ(Packets(*b, base[1].id), 2u);
  Traffic(t, 1, 22);
  EXPECT_EQ(Packets(*b, base[0].id), 4u);

  // A successful MODIFY keeps the counter too (the target keeps the entry).
  ASSERT_TRUE(b->Apply({{modified}, {}}).ok());
  EXPECT_EQ(Packets(*b, base[0].id), 4u);
}

// A refused delete: the entries deleted before it are inserted again, and the report says
// their direct counters restart at 0.
TEST(P4rtServers, UndoOfARefusedDeleteSaysWhatIsLost) {
  TargetProcess t({"--continue-only"});
  auto b = Connect(t, "&device_id=1");
  ASSERT_NE(b, nullptr);
  std::vector<FlowRule> base = Rules({
      "priority=10 in_port=1 eth_type=ipv4 ip_proto=tcp dst_port=22 actions=count,drop",
      "priority=11 in_port=2 actions=drop",
  });
  ASSERT_TRUE(b->Apply({base, {}}).ok());
  Traffic(t, 3, 22);
  ASSERT_EQ(Packets(*b, base[0].id), 3u);
  // Someone removes base[1] behind the backend's back: deleting it is refused (NOT_FOUND).
  RawClient other(t.address(), 1);
  ASSERT_EQ(other.Arbitrate(1, "other"), 0);
  auto e1 = b->mapping().ToEntry(base[1]);
  ASSERT_TRUE(e1.ok());
  p4::v1::Update du;
  du.set_type(p4::v1::Update::DELETE);
  *du.mutable_entity()->mutable_table_entry() = KeyOnly(*e1);
  ASSERT_TRUE(other.Write({du}).ok());

  FlowBatch batch;
  batch.deletes = {base[0].id, base[1].id};
  batch.upserts = Rules({"priority=20 in_port=20 actions=drop"});
  absl::Status s = b->Apply(batch);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_EQ(FailedOperationIndex(s), 1u) << s;
  const ApplyReport& r = b->last_apply();
  EXPECT_EQ(r.applied, 2u);  // the insert, then the first delete
  EXPECT_EQ(r.deleted_again, 1u);
  EXPECT_EQ(r.reinserted, 1u);
  EXPECT_THAT(Msg(s), HasSubstr("1 deleted entries inserted again (their direct counters "
                                "restart at 0)"));
  // base[0] is back (the refused batch changed nothing else), with a fresh counter.
  auto owned = Owned(*b);
  EXPECT_EQ(owned.count(FormatRule(base[0]) + " id=" + base[0].id.ToString()), 1u);
  EXPECT_EQ(owned.size(), 1u);
  EXPECT_EQ(Packets(*b, base[0].id), 0u);
}

// ---- 2. election ids ------------------------------------------------------------------------

TEST(P4rtServers, DefaultElectionIdsAreUniquePerBackendAndProcess) {
  TargetProcess t;
  auto a = Connect(t, "&device_id=1");
  ASSERT_NE(a, nullptr);
  auto b = Connect(t, "&device_id=1");  // both at the default: no collision
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a->session().election_id(), b->session().election_id());
  // The newer client wins primacy, as a restarted controller should; the older one is told.
  EXPECT_GT(b->session().election_id(), a->session().election_id());
  ASSERT_TRUE(b->Apply({Rules({"priority=1 in_port=1 actions=drop"}), {}}).ok());
  absl::Status s = a->Apply({Rules({"priority=2 in_port=2 actions=drop"}), {}});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(Msg(s), HasSubstr("primacy"));

  // Another process on this node draws another id.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    ElectionId id = UniqueElectionId();
    std::string out = id.ToString();
    (void)!write(fds[1], out.data(), out.size());
    _exit(0);
  }
  close(fds[1]);
  char buf[128] = {};
  ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(buf, static_cast<size_t>(n)), UniqueElectionId().ToString());
  EXPECT_NE(std::string(buf, static_cast<size_t>(n)), a->session().election_id().ToString());

  // Still settable.
  auto c = Connect(t, "&device_id=1&election_id=18446744073709551614:9");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->session().election_id(), (ElectionId{18446744073709551614ULL, 9}));
}

TEST(P4rtServers, DuplicateElectionIdShowsTheServersReasonAtOnce) {
  TargetProcess t;
  auto a = Connect(t, "&device_id=1&election_id=1");
  ASSERT_NE(a, nullptr);
  const absl::Time start = absl::Now();
  auto b = Open(t, "&device_id=1&election_id=1&connect_timeout_ms=20000");
  ASSERT_FALSE(b.ok());
  // The server's status at stream close, verbatim, and no retrying until the timeout.
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << b.status();
  EXPECT_THAT(Msg(b.status()),
              HasSubstr("closed the StreamChannel during arbitration (device_id 1, role '', "
                        "election id 1): INVALID_ARGUMENT: election id already used by another "
                        "client of this role"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

// ---- 3. device ids --------------------------------------------------------------------------

TEST(P4rtServers, WrongDeviceIdIsNamedInTheError) {
  // A server that refuses the arbitration for a device it does not serve.
  {
    TargetProcess t({"--device-id", "0"});
    auto b = Open(t, "&device_id=1");
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.status().code(), absl::StatusCode::kNotFound) << b.status();
    EXPECT_THAT(Msg(b.status()), HasSubstr("device_id 1 is not served here"));
    EXPECT_THAT(Msg(b.status()), HasSubstr("this request used device_id 1"));
    EXPECT_THAT(Msg(b.status()), HasSubstr("BMv2 simple_switch_grpc serves 0"));
  }
  // BMv2-like: arbitration and Capabilities succeed for any id, the pipeline push fails.
  {
    TargetProcess t({"--like-bmv2"});
    auto b = Open(t, "&device_id=1");
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.status().code(), absl::StatusCode::kUnknown) << b.status();
    EXPECT_THAT(Msg(b.status()), HasSubstr("SetForwardingPipelineConfig: cannot assign device 1"));
    EXPECT_THAT(Msg(b.status()), HasSubstr("this request used device_id 1"));
    // With the server's id, everything works.
    auto ok = Open(t, "&device_id=0");
    ASSERT_TRUE(ok.ok()) << ok.status();
    ASSERT_TRUE((*ok)
                    ->Apply({Rules({"priority=1 in_port=1 actions=drop",
                                    "priority=2 in_port=2 actions=drop"}),
                             {}})
                    .ok());
    EXPECT_EQ((*ok)->target_atomic(), false);
  }
  // An error that has nothing to do with the device id gets no hint.
  {
    TargetProcess t;
    auto b = Connect(t, "&device_id=1");
    ASSERT_NE(b, nullptr);
    RawClient other(t.address(), 1);
    ASSERT_EQ(other.Arbitrate(1, "other"), 0);
    auto fe = b->mapping().ToEntry(Rule("priority=50 in_port=9 actions=drop"));
    ASSERT_TRUE(fe.ok());
    p4::v1::Update fu;
    fu.set_type(p4::v1::Update::INSERT);
    *fu.mutable_entity()->mutable_table_entry() = *fe;
    ASSERT_TRUE(other.Write({fu}).ok());
    absl::Status s = b->Apply({Rules({"priority=50 in_port=9 actions=drop"}), {}});
    ASSERT_FALSE(s.ok());
    EXPECT_THAT(Msg(s), Not(HasSubstr("device_id")));
  }
}

// ---- 4. roles -------------------------------------------------------------------------------

TEST(P4rtServers, RolesAreSeparateWhereHonouredAndCompeteWhereIgnored) {
  // p4rt-target honours roles: a role=r1 client and a default-role client are both primary.
  {
    TargetProcess t;
    auto r1 = Connect(t, "&device_id=1&role=r1&election_id=10");
    auto def = Connect(t, "&device_id=1&election_id=20");
    ASSERT_NE(r1, nullptr);
    ASSERT_NE(def, nullptr);
    EXPECT_TRUE(r1->Apply({Rules({"priority=1 in_port=1 actions=drop"}), {}}).ok());
    EXPECT_TRUE(def->Apply({Rules({"priority=2 in_port=2 actions=drop"}), {}}).ok());
  }
  // Like BMv2 (roles ignored): the default-role client with the higher id demotes r1, whose
  // next write says so.
  {
    TargetProcess t({"--like-bmv2"});
    auto r1 = Connect(t, "&device_id=0&role=r1&election_id=10");
    ASSERT_NE(r1, nullptr);
    auto def = Connect(t, "&device_id=0&election_id=20");
    ASSERT_NE(def, nullptr);
    for (int i = 0; i < 200 && r1->session().primary(); ++i) absl::SleepFor(absl::Milliseconds(10));
    absl::Status s = r1->Apply({Rules({"priority=1 in_port=1 actions=drop"}), {}});
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(Msg(s), HasSubstr("lost primacy: election id 10 is below the primary's 20"));
  }
}

}  // namespace
}  // namespace dpu::p4rt
