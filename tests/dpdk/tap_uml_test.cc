// The DPDK backend driving the real net_tap PMD (which implements rte_flow with TC flower on its
// tap netdev) and net_null (no flow support), inside a user-mode-linux kernel.
// Registered with dpu_add_uml_test: it does not run on the host.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "backends/dpdk/dpdk_backend.h"
#include "dpu/backend_registry.h"
#include "dpu/rule_text.h"
#include "tests/dpdk/tap_test_util.h"

namespace dpu::dpdk {
namespace {

using ::testing::HasSubstr;
using testing::TcFilters;

constexpr char kEal[] =
    "--no-huge --no-pci -m 128 --no-shconf --lcores=0@0,1@0 --vdev=net_tap0,iface=dtap0 "
    "--vdev=net_null0";

DpdkBackend& Shared() {
  static DpdkBackend* b = [] {
    auto r = DpdkBackend::Create(kEal);
    if (!r.ok()) {
      std::fprintf(stderr, "cannot create the dpdk backend: %s\n",
                   std::string(r.status().message()).c_str());
      std::abort();
    }
    return r->release();
  }();
  return *b;
}

FlowRule R(const std::string& text) {
  absl::StatusOr<FlowRule> r = ParseRule(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return r.ok() ? *r : FlowRule{};
}

// The first action of a tc filter: its kind and (for skbedit) queue_mapping, -1 when absent.
std::string Kind(const nlohmann::json& f) {
  return f["options"]["actions"][0].value("kind", std::string());
}
int Queue(const nlohmann::json& f) { return f["options"]["actions"][0].value("queue_mapping", -1); }

const PortState* Port(DpdkBackend& b, const std::string& name) {
  for (const PortState& p : b.ports()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

class TapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(b().Flush().ok());
    ASSERT_TRUE(TcFilters("dtap0").empty());
  }
  void TearDown() override { (void)b().Flush(); }
  DpdkBackend& b() { return Shared(); }
};

TEST_F(TapTest, PortsAreProbed) {
  ASSERT_EQ(b().ports().size(), 2u);
  const PortState* tap = Port(b(), "net_tap0");
  const PortState* null = Port(b(), "net_null0");
  ASSERT_NE(tap, nullptr);
  ASSERT_NE(null, nullptr);
  EXPECT_EQ(tap->driver, "net_tap");
  EXPECT_TRUE(tap->flows_supported);
  EXPECT_EQ(tap->nb_rx_queues, 4);
  EXPECT_FALSE(null->flows_supported);
  EXPECT_FALSE(null->unsupported_reason.empty());
  EXPECT_TRUE(b().owns_eal());
  // net_tap has no template API: the backend says so and uses the synchronous API.
  EXPECT_EQ(tap->flow_api.api, FlowApi::kSync);
  EXPECT_THAT(tap->flow_api.reason, HasSubstr("rte_flow_info_get"));

  const dpu::Capabilities& c = b().Capabilities();
  std::printf("net_tap capabilities (probed):\n%s\n", c.ToString().c_str());
  for (MatchField f : {MatchField::kSrcMac, MatchField::kDstMac, MatchField::kEthType,
                       MatchField::kVlanId, MatchField::kIpProto, MatchField::kSrcIp,
                       MatchField::kDstIp, MatchField::kSrcPort, MatchField::kDstPort}) {
    EXPECT_TRUE(c.Supports(f)) << MatchFieldName(f);
  }
  EXPECT_FALSE(c.Supports(MatchField::kCtState));
  EXPECT_FALSE(c.Supports(MatchField::kEncKeyId));  // net_tap has no VXLAN item.
  EXPECT_TRUE(c.Supports(ActionKind::kDrop));
  EXPECT_TRUE(c.Supports(ActionKind::kRedirect));
  EXPECT_FALSE(c.Supports(ActionKind::kCount));  // net_tap has no COUNT action.
  EXPECT_FALSE(c.counters);
  EXPECT_EQ(c.max_chain, 0u);  // net_tap ignores groups and has no JUMP.
  // The highest priority is probed: accepted at the limit, OutOfRange beyond it.
  EXPECT_GT(c.max_priority, 0u);
  FlowRule top = R("in_port=net_tap0 eth_type=ipv4 actions=drop");
  top.priority = static_cast<uint16_t>(c.max_priority);
  EXPECT_TRUE(b().Validate(top).ok());
  top.priority = static_cast<uint16_t>(c.max_priority + 1);
  EXPECT_EQ(b().Validate(top).code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(c.requires_in_port);  // Two ports.
}

TEST_F(TapTest, NullPmdRefusesEveryRuleClearly) {
  FlowRule r = R("in_port=net_null0 eth_type=ipv4 actions=drop");
  absl::Status st = b().Validate(r);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(st.message()), HasSubstr("'net_null0'"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("supports no rte_flow rules"));
  FlowBatch batch;
  batch.upserts = {R("in_port=net_tap0 eth_type=ipv4 actions=drop"), r};
  st = b().Apply(batch);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(FailedOperationIndex(st), 1u);
  EXPECT_TRUE(b().Dump()->empty());
  EXPECT_TRUE(TcFilters("dtap0").empty());
}

TEST_F(TapTest, UnknownPortsAreNamed) {
  absl::Status st = b().Validate(R("in_port=net_bogus7 actions=drop"));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("in_port: unknown DPDK port 'net_bogus7'"));
  st = b().Validate(R("eth_type=ipv4 actions=drop"));  // Two ports: in_port is required.
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  st = b().Validate(R("in_port=net_tap0 actions=redirect:queue:9"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("queue 9 out of range"));
  // Ports also resolve by id.
  EXPECT_TRUE(b().Validate(R("in_port=0 eth_type=ipv4 actions=drop")).ok());
}

TEST_F(TapTest, ValidateReturnsThePmdsMessage) {
  // Redirecting to another port (PORT_ID) passes the capability check but net_tap refuses it.
  absl::Status st = b().Validate(R("in_port=net_tap0 eth_type=ipv4 actions=redirect:net_null0"));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("port 'net_tap0' refuses the rule"));
  st = b().Validate(R("in_port=net_tap0 eth_type=ipv4 actions=count,drop"));
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(st.message()), HasSubstr("count"));
}

TEST_F(TapTest, CreateListDestroyFlushAsSeenByTheKernel) {
  FlowRule drop80 =
      R("priority=10 in_port=net_tap0 eth_type=ipv4 ip_proto=tcp dst_port=80 "
        "actions=drop");
  FlowRule q2 =
      R("priority=10 in_port=net_tap0 eth_type=ipv4 ip_proto=udp dst_port=53 "
        "actions=redirect:queue:2");
  FlowRule q1 =
      R("priority=5 in_port=net_tap0 eth_type=ipv4 src_ip=10.1.0.0/16 "
        "actions=redirect:queue:1");
  FlowBatch add;
  add.upserts = {drop80, q2, q1};
  ASSERT_TRUE(b().Apply(add).ok());

  // Each IP rule is two TC filters: untagged (protocol ip) and its VLAN twin (802.1Q).
  auto filters = TcFilters("dtap0");
  ASSERT_EQ(filters.size(), 6u);
  int drops = 0, queue2 = 0, queue1 = 0, tagged = 0;
  for (const auto& f : filters) {
    const auto& keys = f["options"]["keys"];
    if (f.value("protocol", "") == "802.1Q") ++tagged;
    if (Kind(f) == "gact") {
      ++drops;
      EXPECT_EQ(keys.value("ip_proto", ""), "tcp");
      EXPECT_EQ(keys.value("dst_port", 0), 80);
    } else if (Kind(f) == "skbedit" && Queue(f) == 2) {
      ++queue2;
      EXPECT_EQ(keys.value("ip_proto", ""), "udp");
      EXPECT_EQ(keys.value("dst_port", 0), 53);
    } else if (Kind(f) == "skbedit" && Queue(f) == 1) {
      ++queue1;
      EXPECT_EQ(keys.value("src_ip", ""), "10.1.0.0/16");
    }
  }
  EXPECT_EQ(drops, 2);
  EXPECT_EQ(queue2, 2);
  EXPECT_EQ(queue1, 2);
  EXPECT_EQ(tagged, 3);
  // Higher model priority = lower TC preference number (evaluated first).
  int pref_drop = 0, pref_q1 = 0;
  for (const auto& f : filters) {
    if (Kind(f) == "gact") pref_drop = f.value("pref", 0);
    if (Queue(f) == 1) pref_q1 = f.value("pref", 0);
  }
  EXPECT_LT(pref_drop, pref_q1);

  auto dump = b().Dump();
  ASSERT_TRUE(dump.ok());
  EXPECT_EQ(dump->size(), 3u);
  EXPECT_EQ(*b().Get(q2.id), q2);

  FlowBatch del;
  del.deletes = {drop80.id};
  ASSERT_TRUE(b().Apply(del).ok());
  EXPECT_EQ(TcFilters("dtap0").size(), 4u);
  EXPECT_EQ(b().Get(drop80.id).status().code(), absl::StatusCode::kNotFound);
  // Deleting it again is NotFound and changes nothing.
  absl::Status st = b().Apply(del);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(TcFilters("dtap0").size(), 4u);

  // Upsert with new actions under the same id replaces the rule.
  FlowRule q2b = q2;
  q2b.actions = {RedirectAction{PortRef("queue:3")}};
  FlowBatch change;
  change.upserts = {q2b};
  ASSERT_TRUE(b().Apply(change).ok());
  filters = TcFilters("dtap0");
  ASSERT_EQ(filters.size(), 4u);
  bool saw3 = false;
  for (const auto& f : filters) {
    EXPECT_NE(Queue(f), 2);
    if (Queue(f) == 3) saw3 = true;
  }
  EXPECT_TRUE(saw3);
  EXPECT_EQ(*b().Get(q2.id), q2b);

  ASSERT_TRUE(b().Flush().ok());
  EXPECT_TRUE(TcFilters("dtap0").empty());
  EXPECT_TRUE(b().Dump()->empty());
}

TEST_F(TapTest, BatchIsAllOrNothingWhenTheKernelRefuses) {
  FlowRule a =
      R("priority=3 in_port=net_tap0 eth_type=ipv4 ip_proto=tcp dst_port=22 "
        "actions=drop");
  FlowRule b2 =
      R("priority=3 in_port=net_tap0 eth_type=ipv4 ip_proto=tcp dst_port=23 "
        "actions=drop");
  // Same key and priority as a, different id: rte_flow_validate accepts it, but TC flower
  // refuses a second filter with an identical key (EEXIST) when it is created.
  FlowRule dup = a;
  dup.id = FlowId::FromName("duplicate");
  ASSERT_TRUE(b().Validate(dup).ok());
  FlowBatch batch;
  batch.upserts = {a, b2, dup};
  absl::Status st = b().Apply(batch);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(FailedOperationIndex(st), 2u);
  EXPECT_THAT(std::string(st.message()), HasSubstr("refused the rule"));
  EXPECT_TRUE(TcFilters("dtap0").empty()) << "a and b2 must have been destroyed again";
  EXPECT_TRUE(b().Dump()->empty());

  // A batch that fails validation touches nothing either.
  FlowBatch bad;
  bad.upserts = {a, R("in_port=net_tap0 actions=redirect:nowhere")};
  st = b().Apply(bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FailedOperationIndex(st), 1u);
  EXPECT_TRUE(TcFilters("dtap0").empty());

  // And a replaced rule survives a failed batch untouched.
  FlowBatch one;
  one.upserts = {a};
  ASSERT_TRUE(b().Apply(one).ok());
  FlowRule a2 = a;
  a2.actions = {RedirectAction{PortRef("queue:1")}};
  FlowBatch replace_and_fail;
  replace_and_fail.upserts = {a2, b2, dup};
  st = b().Apply(replace_and_fail);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(*b().Get(a.id), a);
  auto filters = TcFilters("dtap0");
  ASSERT_EQ(filters.size(), 2u);  // a and its VLAN twin.
  EXPECT_EQ(Kind(filters[0]), "gact");
  EXPECT_EQ(Kind(filters[1]), "gact");
}

TEST_F(TapTest, StatsSayWhyThereAreNone) {
  FlowRule r = R("in_port=net_tap0 eth_type=ipv4 actions=drop");
  FlowBatch batch;
  batch.upserts = {r};
  ASSERT_TRUE(b().Apply(batch).ok());
  auto s = b().Stats(r.id);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("no count action"));
  EXPECT_EQ(b().Stats(FlowId::FromName("nope")).status().code(), absl::StatusCode::kNotFound);
}

// Frames: Ethernet (src kTestSrcMac) / IPv4 / TCP or UDP, last byte = tag.
std::vector<uint8_t> Frame(uint32_t src, uint32_t dst, uint8_t proto, uint16_t sport,
                           uint16_t dport, uint8_t tag) {
  std::vector<uint8_t> f(14 + 20 + (proto == 6 ? 20 : 8) + 1, 0);
  std::memset(f.data(), 0xff, 6);
  std::memcpy(f.data() + 6, testing::kTestSrcMac, 6);
  f[12] = 0x08;
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  uint16_t len = static_cast<uint16_t>(f.size() - 14);
  ip[2] = len >> 8;
  ip[3] = len & 0xff;
  ip[8] = 64;
  ip[9] = proto;
  for (int i = 0; i < 4; ++i) {
    ip[12 + i] = static_cast<uint8_t>(src >> (24 - 8 * i));
    ip[16 + i] = static_cast<uint8_t>(dst >> (24 - 8 * i));
  }
  uint8_t* l4 = ip + 20;
  l4[0] = sport >> 8;
  l4[1] = sport & 0xff;
  l4[2] = dport >> 8;
  l4[3] = dport & 0xff;
  if (proto == 6) {
    l4[12] = 0x50;
    l4[13] = 0x02;
  } else {
    l4[5] = 9;
  }
  f.back() = tag;
  return f;
}

TEST_F(TapTest, RealPacketsAreDroppedOrQueued) {
  FlowBatch batch;
  batch.upserts = {
      R("priority=10 in_port=net_tap0 eth_type=ipv4 ip_proto=tcp dst_port=80 actions=drop"),
      R("priority=10 in_port=net_tap0 eth_type=ipv4 ip_proto=udp dst_port=53 "
        "actions=redirect:queue:2"),
      R("priority=5 in_port=net_tap0 eth_type=ipv4 src_ip=10.1.0.0/16 actions=redirect:queue:3"),
      R("priority=1 in_port=net_tap0 eth_type=ipv4"),  // No actions: pass = queue 0.
  };
  ASSERT_TRUE(b().Apply(batch).ok());
  testing::PacketSocket sock("dtap0");
  ASSERT_TRUE(sock.ok());
  // VLAN 7 on top of the tap: frames sent there leave dtap0 tagged (the kernel's usual
  // accelerated tag, which TC flower sees as 802.1Q; tun puts the tag into the frame).
  testing::Run("ip link add link dtap0 name dtap0.7 type vlan id 7 && ip link set dtap0.7 up");
  testing::PacketSocket vlan7("dtap0.7");
  ASSERT_TRUE(vlan7.ok());
  const uint16_t port = Port(b(), "net_tap0")->id;
  (void)testing::ReceiveTagged(port, 4, std::chrono::milliseconds(50));    // Drain chatter.
  ASSERT_TRUE(sock.Send(Frame(0x0a000001, 0x0a000002, 6, 1234, 80, 1)));   // drop
  ASSERT_TRUE(sock.Send(Frame(0x0a000001, 0x0a000002, 17, 1234, 53, 2)));  // queue 2
  ASSERT_TRUE(sock.Send(Frame(0x0a010005, 0x0a000002, 6, 1234, 443, 3)));  // queue 3
  ASSERT_TRUE(sock.Send(Frame(0x0a010005, 0x0a000002, 6, 1234, 80, 4)));   // drop (prio 10)
  ASSERT_TRUE(sock.Send(Frame(0x0b000001, 0x0a000002, 6, 1234, 22, 5)));   // pass: queue 0
  // eth_type=ipv4 also matches IPv4 behind a VLAN tag (the rule's VLAN twin).
  ASSERT_TRUE(vlan7.Send(Frame(0x0a000001, 0x0a000002, 6, 1234, 80, 7)));   // drop
  ASSERT_TRUE(vlan7.Send(Frame(0x0a000001, 0x0a000002, 17, 1234, 53, 8)));  // queue 2
  auto got = testing::ReceiveTagged(port, 4, std::chrono::milliseconds(500));
  EXPECT_EQ(got.count(1), 0u) << "dropped";
  EXPECT_EQ(got.count(4), 0u) << "dropped";
  ASSERT_EQ(got.count(2), 1u);
  EXPECT_EQ(got[2], 2);
  ASSERT_EQ(got.count(3), 1u);
  EXPECT_EQ(got[3], 3);
  ASSERT_EQ(got.count(5), 1u);
  EXPECT_EQ(got[5], 0);
  EXPECT_EQ(got.count(7), 0u) << "tagged, dropped";
  ASSERT_EQ(got.count(8), 1u);
  EXPECT_EQ(got[8], 2);

  // After a flush the same TCP/80 frame is delivered again.
  ASSERT_TRUE(b().Flush().ok());
  ASSERT_TRUE(sock.Send(Frame(0x0a000001, 0x0a000002, 6, 1234, 80, 6)));
  got = testing::ReceiveTagged(port, 4, std::chrono::milliseconds(500));
  EXPECT_EQ(got.count(6), 1u);
  testing::Run("ip link del dtap0.7");
}

TEST_F(TapTest, DestroyingABackendRemovesItsRulesAndTheEalStays) {
  {
    auto other = CreateBackend(std::string("dpdk:") + kEal);  // Same arguments: joins.
    ASSERT_TRUE(other.ok()) << other.status();
    FlowBatch batch;
    batch.upserts = {R("in_port=net_tap0 eth_type=ipv4 ip_proto=tcp dst_port=9 actions=drop")};
    ASSERT_TRUE((*other)->Apply(batch).ok());
    EXPECT_EQ(TcFilters("dtap0").size(), 2u);
  }
  EXPECT_TRUE(TcFilters("dtap0").empty());
  // The process EAL is still usable.
  FlowBatch batch;
  batch.upserts = {R("in_port=net_tap0 eth_type=ipv4 ip_proto=tcp dst_port=9 actions=drop")};
  ASSERT_TRUE(b().Apply(batch).ok());
  EXPECT_EQ(TcFilters("dtap0").size(), 2u);
}

TEST_F(TapTest, OneEalPerProcess) {
  Shared();
  auto other = DpdkBackend::Create("--no-huge -m 128 --no-pci");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(other.status().message()), HasSubstr("one EAL per process"));
  // Forcing the async API on a PMD without it fails with the reason.
  other = DpdkBackend::Create(std::string(kEal) + " -- flow_api=async");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(other.status().message()), HasSubstr("flow_api=async"));
  // Only --vdev options may be added to a running EAL: the device is hot-plugged.
  auto plugged = DpdkBackend::Create("--vdev=net_null5");
  ASSERT_TRUE(plugged.ok()) << plugged.status();
  EXPECT_NE(Port(**plugged, "net_null5"), nullptr);
}

}  // namespace
}  // namespace dpu::dpdk
