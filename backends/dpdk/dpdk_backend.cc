#include "backends/dpdk/dpdk_backend.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dpu::dpdk {
namespace {

constexpr uint16_t kRxDesc = 512;
constexpr uint16_t kTxDesc = 512;
constexpr unsigned kPoolSize = 4095;

rte_mempool* SharedPool() {
  static rte_mempool* pool = nullptr;
  if (pool == nullptr) {
    pool = rte_mempool_lookup("dpu_mbufs");
    if (pool == nullptr) {
      pool = rte_pktmbuf_pool_create("dpu_mbufs", kPoolSize, 64, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     static_cast<int>(rte_socket_id()));
    }
  }
  return pool;
}

// Configures and starts @p port with @p rxq rx queues (and as many tx queues), unless libdpu
// already did.
absl::Status EnsurePortStarted(uint16_t port, uint16_t rxq, const std::string& name) {
  // libdpu owns the EAL, so nobody but libdpu can have configured the port.
  if (ConfiguredByLibdpu(port)) return absl::OkStatus();
  rte_eth_dev_info info{};
  int rc = rte_eth_dev_info_get(port, &info);
  if (rc != 0)
    return absl::InternalError(absl::StrCat("dpdk: port ", name, ": ", rte_strerror(-rc)));
  rte_mempool* pool = SharedPool();
  if (pool == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("dpdk: cannot create the mbuf pool: ", rte_strerror(rte_errno)));
  }
  uint16_t nrx = std::max<uint16_t>(1, std::min<uint16_t>(rxq, info.max_rx_queues));
  rte_eth_conf conf{};
  // Some PMDs (net_tap) require as many tx queues as rx queues.
  uint16_t ntx = std::max<uint16_t>(1, std::min<uint16_t>(nrx, info.max_tx_queues));
  rc = rte_eth_dev_configure(port, nrx, ntx, &conf);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("dpdk: configuring port ", name, ": ", rte_strerror(-rc)));
  }
  for (uint16_t q = 0; q < nrx; ++q) {
    rc = rte_eth_rx_queue_setup(port, q, kRxDesc, rte_eth_dev_socket_id(port), nullptr, pool);
    if (rc != 0) {
      return absl::InternalError(
          absl::StrCat("dpdk: rx queue ", q, " of port ", name, ": ", rte_strerror(-rc)));
    }
  }
  for (uint16_t q = 0; q < ntx; ++q) {
    rc = rte_eth_tx_queue_setup(port, q, kTxDesc, rte_eth_dev_socket_id(port), nullptr);
    if (rc != 0) {
      return absl::InternalError(
          absl::StrCat("dpdk: tx queue ", q, " of port ", name, ": ", rte_strerror(-rc)));
    }
  }
  rc = rte_eth_dev_start(port);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("dpdk: starting port ", name, ": ", rte_strerror(-rc)));
  }
  NoteConfiguredPort(port);
  return absl::OkStatus();
}

// A resolver for probing: every name is the probed port.
class FixedResolver : public PortResolver {
 public:
  explicit FixedResolver(uint16_t id) : id_(id) {}
  std::optional<uint16_t> Resolve(std::string_view) const override { return id_; }

 private:
  uint16_t id_;
};

// rte_flow_validate() of @p rule on @p port; "" when accepted, else the PMD's message.
std::string TryValidate(const FlowRule& rule, uint16_t port, const TranslateOptions& o,
                        uint32_t raw_priority = UINT32_MAX, uint32_t group = 0) {
  FixedResolver resolver(port);
  auto t = std::make_unique<FlowTranslation>();
  absl::Status st = Translate(rule, resolver, o, t.get());
  if (!st.ok()) return std::string(st.message());
  if (raw_priority != UINT32_MAX) t->attr.priority = raw_priority;
  if (group != 0) t->attr.group = group;
  rte_flow_error err{};
  int rc = rte_flow_validate(port, &t->attr, t->items, t->actions, &err);
  return rc == 0 ? std::string() : FlowErrorText(err, rc);
}

IpPrefix V4(uint32_t a, int len) { return IpPrefix::Masked(IpAddress::V4(a), len); }

// One probe rule per match field: {exact rule, partial-mask rule (or none)}.
struct FieldProbe {
  MatchField field;
  Match exact;
  std::optional<Match> partial;
};

std::vector<FieldProbe> FieldProbes() {
  std::vector<FieldProbe> out;
  auto mac = [](uint64_t v) { return MacAddress::FromU64(v); };
  auto add = [&](MatchField f, Match exact, std::optional<Match> partial) {
    out.push_back({f, std::move(exact), std::move(partial)});
  };
  Match ip4;
  ip4.eth_type = ethertype::kIpv4;
  Match tcp = ip4;
  tcp.ip_proto = ipproto::kTcp;
  {
    Match e, p;
    e.src_mac = Masked<MacAddress>{mac(0x020000000001), mac(0xffffffffffff)};
    p.src_mac = Masked<MacAddress>{mac(0x020000000000), mac(0xffffff000000)};
    add(MatchField::kSrcMac, e, p);
    e = {};
    p = {};
    e.dst_mac = Masked<MacAddress>{mac(0x020000000001), mac(0xffffffffffff)};
    p.dst_mac = Masked<MacAddress>{mac(0x020000000000), mac(0xffffff000000)};
    add(MatchField::kDstMac, e, p);
  }
  {
    Match e;
    e.eth_type = ethertype::kArp;
    add(MatchField::kEthType, e, std::nullopt);
    e = {};
    e.vlan_id = 10;
    add(MatchField::kVlanId, e, std::nullopt);
    e.vlan_prio = 3;
    add(MatchField::kVlanPrio, e, std::nullopt);
    e = ip4;
    e.ip_proto = ipproto::kUdp;
    add(MatchField::kIpProto, e, std::nullopt);
  }
  {
    Match e = ip4, p = ip4;
    e.src_ip = V4(0x0a000001, 32);
    p.src_ip = V4(0x0a000000, 8);
    add(MatchField::kSrcIp, e, p);
    e = ip4;
    p = ip4;
    e.dst_ip = V4(0x0a000001, 32);
    p.dst_ip = V4(0x0a000000, 8);
    add(MatchField::kDstIp, e, p);
    e = ip4;
    p = ip4;
    e.ip_tos = Masked<uint8_t>{0x10, 0xff};
    p.ip_tos = Masked<uint8_t>{0x10, 0xfc};
    add(MatchField::kIpTos, e, p);
    e = ip4;
    p = ip4;
    e.ip_ttl = Masked<uint8_t>{64, 0xff};
    p.ip_ttl = Masked<uint8_t>{64, 0xf0};
    add(MatchField::kIpTtl, e, p);
  }
  {
    Match e = tcp, p = tcp;
    e.src_port = Masked<uint16_t>{80, 0xffff};
    p.src_port = Masked<uint16_t>{0x100, 0xff00};
    add(MatchField::kSrcPort, e, p);
    e = tcp;
    p = tcp;
    e.dst_port = Masked<uint16_t>{80, 0xffff};
    p.dst_port = Masked<uint16_t>{0x100, 0xff00};
    add(MatchField::kDstPort, e, p);
    e = tcp;
    p = tcp;
    e.tcp_flags = Masked<uint16_t>{tcpflag::kSyn, tcpflag::kAll};
    p.tcp_flags = Masked<uint16_t>{tcpflag::kSyn, tcpflag::kSyn};
    add(MatchField::kTcpFlags, e, p);
  }
  {
    Match e, p;
    e.enc_key_id = 100;
    add(MatchField::kEncKeyId, e, std::nullopt);
    e = {};
    e.enc_src_ip = V4(0xc0a80001, 32);
    p.enc_src_ip = V4(0xc0a80000, 16);
    add(MatchField::kEncSrcIp, e, p);
    e = {};
    p = {};
    e.enc_dst_ip = V4(0xc0a80001, 32);
    p.enc_dst_ip = V4(0xc0a80000, 16);
    add(MatchField::kEncDstIp, e, p);
    e = {};
    e.enc_dst_port = 4789;
    add(MatchField::kEncDstPort, e, std::nullopt);
  }
  return out;
}

struct ActionProbe {
  ActionKind kind;
  Match match;
  std::vector<Action> actions;
};

std::vector<ActionProbe> ActionProbes() {
  Match tcp;
  tcp.eth_type = ethertype::kIpv4;
  tcp.ip_proto = ipproto::kTcp;
  tcp.dst_port = Masked<uint16_t>{80, 0xffff};
  Match vlan;
  vlan.vlan_id = 10;
  Match tun;
  tun.enc_key_id = 5;
  IpAddress a = IpAddress::V4(0x0a000001), b = IpAddress::V4(0x0a000002);
  auto set = [](SetField f) {
    SetFieldAction s;
    s.field = f;
    s.mac = MacAddress::FromU64(0x020000000002);
    s.ip = IpAddress::V4(0x0a000003);
    s.port = 8080;
    return s;
  };
  TunnelEncapAction vx{TunnelType::kVxlan, 5, a, b, 4789};
  TunnelEncapAction ge{TunnelType::kGeneve, 5, a, b, 6081};
  return {
      {ActionKind::kDrop, {}, {DropAction{}}},
      {ActionKind::kRedirect, {}, {RedirectAction{PortRef("queue:0")}}},
      {ActionKind::kMirror, {}, {MirrorAction{PortRef("queue:0")}, DropAction{}}},
      {ActionKind::kVlanPush, {}, {VlanPushAction{10, 0}}},
      {ActionKind::kVlanPop, vlan, {VlanPopAction{}}},
      {ActionKind::kSetSrcMac, {}, {set(SetField::kSrcMac)}},
      {ActionKind::kSetDstMac, {}, {set(SetField::kDstMac)}},
      {ActionKind::kSetSrcIp, tcp, {set(SetField::kSrcIp)}},
      {ActionKind::kSetDstIp, tcp, {set(SetField::kDstIp)}},
      {ActionKind::kSetSrcPort, tcp, {set(SetField::kSrcPort)}},
      {ActionKind::kSetDstPort, tcp, {set(SetField::kDstPort)}},
      {ActionKind::kVxlanEncap, {}, {vx}},
      {ActionKind::kGeneveEncap, {}, {ge}},
      {ActionKind::kTunnelDecap, tun, {TunnelDecapAction{}}},
      {ActionKind::kCount, {}, {CountAction{}}},
      {ActionKind::kGotoChain, {}, {GotoChainAction{1}}},
  };
}

// Probes what @p port accepts, with rte_flow_validate only (nothing is created).
void ProbePort(PortState& p) {
  TranslateOptions& o = p.translate;
  o.priority_levels = 1;
  FlowRule base;
  base.in_port = PortRef(p.name);
  base.actions = {DropAction{}};
  std::string drop_err = TryValidate(base, p.id, o);
  std::vector<Action> base_actions = {DropAction{}};
  if (!drop_err.empty()) {
    base.actions = {};  // pass = QUEUE 0
    std::string pass_err = TryValidate(base, p.id, o);
    if (!pass_err.empty()) {
      p.flows_supported = false;
      p.unsupported_reason = drop_err;
      return;
    }
    base_actions = {};
  }
  p.flows_supported = true;
  dpu::Capabilities& c = p.caps;
  c = dpu::Capabilities{};
  // Priorities: the largest raw rte_flow priority the PMD accepts.
  // Binary search over 0..65535 (acceptance is monotone in the priority value).
  uint32_t lo = 0, hi = 65535;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo + 1) / 2;
    if (TryValidate(base, p.id, o, mid).empty()) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  o.priority_levels = lo + 1;
  c.max_priority = ModelPriorityLevels(o.priority_levels) - 1;
  // Chains: a rule in group 1 and a JUMP to it must both be accepted (some PMDs, net_tap among
  // them, ignore attr.group, which would silently put every chain into one table).
  FlowRule jump = base;
  jump.actions = {GotoChainAction{1}};
  c.max_chain =
      TryValidate(base, p.id, o, UINT32_MAX, 1).empty() && TryValidate(jump, p.id, o).empty()
          ? 65535
          : 0;
  for (const FieldProbe& f : FieldProbes()) {
    FlowRule r = base;
    r.match = f.exact;
    if (!TryValidate(r, p.id, o).empty()) continue;
    bool maskable = false;
    if (f.partial) {
      r.match = *f.partial;
      maskable = TryValidate(r, p.id, o).empty();
    }
    c.Add(f.field, maskable);
  }
  // set_* : SET_* actions first, MODIFY_FIELD when the PMD only takes that.
  for (const ActionProbe& a : ActionProbes()) {
    if (a.kind == ActionKind::kGotoChain && c.max_chain == 0) continue;
    FlowRule r = base;
    r.match = a.match;
    r.actions = a.actions;
    if (a.kind == ActionKind::kCount || a.kind == ActionKind::kVlanPush ||
        (a.kind >= ActionKind::kSetSrcMac && a.kind <= ActionKind::kSetDstPort) ||
        a.kind == ActionKind::kVxlanEncap || a.kind == ActionKind::kGeneveEncap ||
        a.kind == ActionKind::kTunnelDecap || a.kind == ActionKind::kVlanPop) {
      for (const Action& x : base_actions) r.actions.push_back(x);
    }
    std::string err = TryValidate(r, p.id, o);
    if (!err.empty() && a.kind >= ActionKind::kSetSrcMac && a.kind <= ActionKind::kSetDstPort) {
      TranslateOptions mf = o;
      mf.use_modify_field = true;
      FixedResolver resolver(p.id);
      auto t = std::make_unique<FlowTranslation>();
      if (Translate(r, resolver, mf, t.get()).ok()) {
        rte_flow_error e{};
        if (rte_flow_validate(p.id, &t->attr, t->items, t->actions, &e) == 0) {
          o.use_modify_field = true;
          err.clear();
        }
      }
    }
    if (a.kind == ActionKind::kRedirect && !err.empty()) {
      FlowRule r2 = base;
      r2.actions = {RedirectAction{PortRef(p.name)}};
      err = TryValidate(r2, p.id, o);
    }
    if (err.empty()) c.Add(a.kind);
  }
  // Police needs rte_mtr meter objects.
  rte_mtr_capabilities mcap{};
  rte_mtr_error merr{};
  if (rte_mtr_capabilities_get(p.id, &mcap, &merr) == 0 && mcap.n_max > 0) {
    p.has_meters = true;
    c.Add(ActionKind::kPolice);
  }
  c.requires_in_port = false;
  c.atomic_batches = false;  // rte_flow has no transaction; Apply() rolls back by hand.
  c.readback = false;        // rte_flow cannot list rules; Dump() is this process's view.
  c.counters = c.Supports(ActionKind::kCount);
}

}  // namespace

absl::StatusOr<Options> ParseSpec(std::string_view args) {
  Options o;
  std::string_view eal = args, rest;
  size_t pos = std::string_view::npos;
  // "--" as a word of its own separates EAL arguments from backend options.
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == '-' && args[i + 1] == '-' && (i == 0 || args[i - 1] == ' ') &&
        (i + 2 == args.size() || args[i + 2] == ' ')) {
      pos = i;
      break;
    }
  }
  if (pos != std::string_view::npos) {
    eal = args.substr(0, pos);
    rest = args.substr(pos + 2);
  }
  absl::StatusOr<std::vector<std::string>> split = SplitArgs(eal);
  if (!split.ok()) return split.status();
  o.eal_args = *std::move(split);
  for (absl::string_view opt : absl::StrSplit(AV(rest), ' ', absl::SkipEmpty())) {
    if (opt == "transfer") {
      o.transfer = true;
    } else if (absl::ConsumePrefix(&opt, "rxq=")) {
      uint32_t n = 0;
      if (!absl::SimpleAtoi(opt, &n) || n == 0 || n > kMaxRssQueues) {
        return absl::InvalidArgumentError(
            absl::StrCat("dpdk: rxq: '", opt, "' is not a queue count from 1 to ", kMaxRssQueues));
      }
      o.rxq = static_cast<uint16_t>(n);
    } else if (absl::ConsumePrefix(&opt, "flow_api=")) {
      if (opt == "auto") {
        o.flow_api = FlowApiPreference::kAuto;
      } else if (opt == "sync") {
        o.flow_api = FlowApiPreference::kSync;
      } else if (opt == "async") {
        o.flow_api = FlowApiPreference::kAsync;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("dpdk: flow_api: '", opt, "' is not auto, sync or async"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "dpdk: unknown option '", opt, "' after '--' (known: rxq=N, transfer, flow_api=)"));
    }
  }
  return o;
}

absl::StatusOr<std::unique_ptr<DpdkBackend>> DpdkBackend::Create(std::string_view args) {
  absl::StatusOr<Options> options = ParseSpec(args);
  if (!options.ok()) return options.status();
  absl::StatusOr<std::unique_ptr<EalRef>> eal = AcquireEal(options->eal_args);
  if (!eal.ok()) return eal.status();
  std::unique_ptr<DpdkBackend> b(new DpdkBackend(*std::move(eal), *std::move(options)));
  absl::Status st = b->Init();
  if (!st.ok()) return st;
  return b;
}

DpdkBackend::DpdkBackend(std::unique_ptr<EalRef> eal, Options options)
    : eal_(std::move(eal)), options_(std::move(options)) {}

DpdkBackend::~DpdkBackend() { (void)Flush(); }

absl::Status DpdkBackend::Init() {
  uint16_t id;
  RTE_ETH_FOREACH_DEV(id) {
    PortState p;
    p.id = id;
    char name[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(id, name);
    p.name = name;
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(id, &info) == 0 && info.driver_name) p.driver = info.driver_name;
    if (eal_->owned()) {
      absl::Status st = EnsurePortStarted(id, options_.rxq, p.name);
      if (!st.ok()) return st;
    }
    rte_eth_dev_info_get(id, &info);
    p.nb_rx_queues = info.nb_rx_queues;
    p.translate.transfer = options_.transfer;
    p.translate.tap_vlan_quirk = p.driver == "net_tap";
    p.translate.nb_rx_queues = p.nb_rx_queues;
    ports_.push_back(std::move(p));
  }
  if (ports_.empty()) {
    return absl::FailedPreconditionError(
        "dpdk: the EAL has no ethdev ports (add --vdev=net_tap0,iface=NAME or allow a PCI device)");
  }
  for (PortState& p : ports_) {
    if (options_.transfer) {
      uint16_t proxy;
      rte_flow_error err{};
      int rc = rte_flow_pick_transfer_proxy(p.id, &proxy, &err);
      if (rc != 0) {
        p.flows_supported = false;
        p.unsupported_reason = absl::StrCat("no transfer proxy (", FlowErrorText(err, rc), ")");
        continue;
      }
    }
    ProbePort(p);
    if (!p.flows_supported) {
      p.flow_api = {FlowApi::kSync, "sync: the PMD supports no flows"};
      continue;
    }
    absl::StatusOr<FlowApiDecision> d = ChooseFlowApi(p.id, options_.flow_api);
    if (!d.ok()) return d.status();
    p.flow_api = *d;
  }
  // Capabilities: those of the only port, or what every flow-capable port supports.
  bool first = true;
  for (const PortState& p : ports_) {
    if (!p.flows_supported) continue;
    if (first) {
      caps_ = p.caps;
      first = false;
      continue;
    }
    caps_.match_fields &= p.caps.match_fields;
    caps_.masked_fields &= p.caps.masked_fields;
    caps_.actions &= p.caps.actions;
    caps_.max_priority = std::min(caps_.max_priority, p.caps.max_priority);
    caps_.max_chain = std::min(caps_.max_chain, p.caps.max_chain);
    caps_.counters = caps_.counters && p.caps.counters;
  }
  if (first) {
    caps_ = dpu::Capabilities{};
    caps_.match_fields = 0;
    caps_.actions = 0;
    caps_.max_priority = 0;
  }
  caps_.requires_in_port = ports_.size() > 1;
  caps_.atomic_batches = false;
  caps_.readback = false;
  return absl::OkStatus();
}

std::optional<uint16_t> DpdkBackend::Resolve(std::string_view name) const {
  if (name.empty()) {
    if (ports_.size() == 1) return ports_[0].id;
    return std::nullopt;
  }
  for (const PortState& p : ports_) {
    if (p.name == name) return p.id;
  }
  uint32_t id = 0;
  if (absl::SimpleAtoi(AV(name), &id)) {
    for (const PortState& p : ports_) {
      if (p.id == id) return p.id;
    }
  }
  return std::nullopt;
}

const PortState* DpdkBackend::PortFor(uint16_t id) const {
  for (const PortState& p : ports_) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

absl::Status DpdkBackend::Prepare(const FlowRule& rule, uint32_t meter_id, Translations* out,
                                  const PortState** port) const {
  absl::Status st = ValidateRule(rule);
  if (!st.ok()) return st;
  std::optional<uint16_t> in = Resolve(rule.in_port.name());
  if (!in) {
    if (rule.in_port.empty()) {
      return absl::InvalidArgumentError(
          "in_port: required (the DPDK backend manages more than one port)");
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "in_port: unknown DPDK port '", rule.in_port.name(), "' (neither a port name nor an id)"));
  }
  const PortState* p = PortFor(*in);
  if (!p->flows_supported) {
    return absl::UnimplementedError(
        absl::StrCat("dpdk: port '", p->name, "' (driver ", p->driver,
                     ") supports no rte_flow rules: ", p->unsupported_reason));
  }
  st = p->caps.CheckRule(rule, "dpdk");
  if (!st.ok()) return st;
  TranslateOptions o = p->translate;
  o.meter_id = meter_id;
  out->clear();
  out->push_back(std::make_unique<FlowTranslation>());
  st = Translate(rule, *this, o, out->back().get());
  if (!st.ok()) return st;
  if (NeedsVlanTwin(rule)) {
    o.vlan_twin = true;
    out->push_back(std::make_unique<FlowTranslation>());
    st = Translate(rule, *this, o, out->back().get());
    if (!st.ok()) return st;
  }
  *port = p;
  return absl::OkStatus();
}

absl::Status DpdkBackend::Validate(const FlowRule& rule) const {
  Translations ts;
  const PortState* port = nullptr;
  absl::Status st = Prepare(rule, 0, &ts, &port);
  if (!st.ok()) return st;
  bool police = std::any_of(rule.actions.begin(), rule.actions.end(), [](const Action& a) {
    return std::holds_alternative<PoliceAction>(a);
  });
  if (police) return absl::OkStatus();  // The meter object exists only at Apply() time.
  for (size_t i = 0; i < ts.size(); ++i) {
    const FlowTranslation& t = *ts[i];
    rte_flow_error err{};
    int rc = rte_flow_validate(t.port_id, &t.attr, t.items, t.actions, &err);
    if (rc != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("dpdk: port '", port->name, "' refuses the rule",
                       i == 1 ? " (its VLAN-tagged twin)" : "", ": ", FlowErrorText(err, rc)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CreatedFlow>> DpdkBackend::CreateAll(const PortState& port,
                                                                const Translations& ts,
                                                                bool* async) {
  std::vector<CreatedFlow> out;
  *async = port.flow_api.api == FlowApi::kAsync;
  if (*async) {
    std::vector<const FlowTranslation*> batch;
    for (const auto& t : ts) batch.push_back(t.get());
    size_t failed = 0;
    return CreateAsync(port.id, batch, &failed);
  }
  for (const auto& t : ts) {
    absl::StatusOr<CreatedFlow> f = CreateSync(t->port_id, *t);
    if (!f.ok()) {
      for (const CreatedFlow& c : out) (void)DestroyFlow(c, false);
      return f.status();
    }
    out.push_back(*f);
  }
  return out;
}

absl::StatusOr<uint32_t> DpdkBackend::MakeMeter(uint16_t port_id, const PoliceAction& p) {
  uint32_t id = next_meter_id_++;
  rte_mtr_error err{};
  rte_mtr_meter_profile prof{};
  prof.alg = RTE_MTR_SRTCM_RFC2697;
  prof.srtcm_rfc2697.cir = p.rate_bps / 8;
  prof.srtcm_rfc2697.cbs = p.burst_bytes;
  prof.srtcm_rfc2697.ebs = 0;
  int rc = rte_mtr_meter_profile_add(port_id, id, &prof, &err);
  if (rc != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("police: meter profile: ", err.message ? err.message : rte_strerror(-rc)));
  }
  static const rte_flow_action kRedDrop[] = {{RTE_FLOW_ACTION_TYPE_DROP, nullptr},
                                             {RTE_FLOW_ACTION_TYPE_END, nullptr}};
  rte_mtr_meter_policy_params policy{};
  policy.actions[RTE_COLOR_RED] = kRedDrop;
  rc = rte_mtr_meter_policy_add(port_id, id, &policy, &err);
  if (rc != 0) {
    rte_mtr_meter_profile_delete(port_id, id, &err);
    return absl::FailedPreconditionError(
        absl::StrCat("police: meter policy: ", err.message ? err.message : rte_strerror(-rc)));
  }
  rte_mtr_params params{};
  params.meter_profile_id = id;
  params.meter_enable = 1;
  params.meter_policy_id = id;
  rc = rte_mtr_create(port_id, id, &params, 0, &err);
  if (rc != 0) {
    rte_mtr_meter_policy_delete(port_id, id, &err);
    rte_mtr_meter_profile_delete(port_id, id, &err);
    return absl::FailedPreconditionError(
        absl::StrCat("police: meter: ", err.message ? err.message : rte_strerror(-rc)));
  }
  return id;
}

void DpdkBackend::FreeMeter(uint16_t port_id, uint32_t meter_id) {
  if (meter_id == 0) return;
  rte_mtr_error err{};
  rte_mtr_destroy(port_id, meter_id, &err);
  rte_mtr_meter_policy_delete(port_id, meter_id, &err);
  rte_mtr_meter_profile_delete(port_id, meter_id, &err);
}

absl::Status DpdkBackend::DestroyFlows(Installed& in) {
  while (!in.flows.empty()) {
    absl::Status st = DestroyFlow(in.flows.back(), in.async);
    if (!st.ok()) return st;
    in.flows.pop_back();
  }
  return absl::OkStatus();
}

absl::Status DpdkBackend::Uninstall(Installed& in) {
  absl::Status st = DestroyFlows(in);
  FreeMeter(in.port_id, in.meter_id);
  in.meter_id = 0;
  return st;
}

absl::Status DpdkBackend::Reinstall(Installed& in) {
  Translations ts;
  const PortState* port = nullptr;
  absl::Status st = Prepare(in.rule, in.meter_id, &ts, &port);
  if (!st.ok()) return st;
  bool async = false;
  absl::StatusOr<std::vector<CreatedFlow>> f = CreateAll(*port, ts, &async);
  if (!f.ok()) return f.status();
  in.flows = *std::move(f);
  in.async = async;
  return absl::OkStatus();
}

absl::Status DpdkBackend::Apply(const FlowBatch& batch) {
  absl::Status st = CheckBatchIds(batch);
  if (!st.ok()) return st;
  const size_t nd = batch.deletes.size();
  for (size_t i = 0; i < nd; ++i) {
    if (!installed_.contains(batch.deletes[i])) {
      return BatchError(absl::StatusCode::kNotFound, i, true, batch.deletes[i],
                        "no such rule installed");
    }
  }
  // 1. Check and translate everything before touching the device.
  std::vector<Translations> tr(batch.upserts.size());
  std::vector<const PortState*> ports(batch.upserts.size(), nullptr);
  for (size_t i = 0; i < batch.upserts.size(); ++i) {
    const FlowRule& r = batch.upserts[i];
    auto it = installed_.find(r.id);
    if (it != installed_.end() && it->second.rule == r) continue;  // Already so: no-op.
    st = Prepare(r, 0, &tr[i], &ports[i]);
    if (!st.ok()) return BatchError(st.code(), nd + i, false, r.id, SV(st.message()));
  }

  // Undo log: flows removed from the device (re-created on failure) and flows created (destroyed
  // on failure).
  std::vector<FlowId> removed;
  std::vector<Installed> created;
  auto rollback = [&]() -> std::string {
    std::string problems;
    for (auto it = created.rbegin(); it != created.rend(); ++it) {
      absl::Status s = Uninstall(*it);
      if (!s.ok())
        absl::StrAppend(&problems, "; rollback could not destroy a new flow: ", s.message());
    }
    for (const FlowId& id : removed) {
      Installed& old = installed_.at(id);
      absl::Status s = DestroyFlows(old);  // What a failed destroy left behind.
      if (s.ok()) s = Reinstall(old);
      if (!s.ok()) {
        absl::StrAppend(&problems, "; rollback could not restore ", id.ToString(), ": ",
                        s.message());
        FreeMeter(old.port_id, old.meter_id);
        installed_.erase(id);
      }
    }
    return problems;
  };

  // 2. Remove deleted and replaced rules first: PMDs (net_tap/TC flower among them) refuse a
  // second flow with the same key, so a replacement cannot coexist with its predecessor.
  auto remove = [&](const FlowId& id, size_t index, bool is_delete) -> absl::Status {
    Installed& old = installed_.at(id);
    absl::Status s = DestroyFlows(old);
    if (!s.ok()) {
      removed.push_back(id);  // Partly destroyed: re-create it whole.
      std::string extra = rollback();
      return BatchError(absl::StatusCode::kInternal, index, is_delete, id,
                        absl::StrCat("rte_flow_destroy failed: ", s.message(), extra));
    }
    removed.push_back(id);
    return absl::OkStatus();
  };
  for (size_t i = 0; i < nd; ++i) {
    st = remove(batch.deletes[i], i, true);
    if (!st.ok()) return st;
  }
  for (size_t i = 0; i < batch.upserts.size(); ++i) {
    if (!tr[i].empty() && installed_.contains(batch.upserts[i].id)) {
      st = remove(batch.upserts[i].id, nd + i, false);
      if (!st.ok()) return st;
    }
  }

  // 3. Create the new flows.
  for (size_t i = 0; i < batch.upserts.size(); ++i) {
    if (tr[i].empty()) continue;
    const FlowRule& r = batch.upserts[i];
    const PortState* port = ports[i];
    Installed in;
    in.rule = r;
    in.port_id = port->id;
    for (const Action& a : r.actions) {
      const auto* p = std::get_if<PoliceAction>(&a);
      if (p == nullptr) continue;
      absl::StatusOr<uint32_t> m = MakeMeter(port->id, *p);
      if (!m.ok()) {
        std::string extra = rollback();
        return BatchError(m.status().code(), nd + i, false, r.id,
                          absl::StrCat(m.status().message(), extra));
      }
      in.meter_id = *m;
      st = Prepare(r, in.meter_id, &tr[i], &port);
      if (!st.ok()) {
        FreeMeter(port->id, in.meter_id);
        std::string extra = rollback();
        return BatchError(st.code(), nd + i, false, r.id, absl::StrCat(st.message(), extra));
      }
    }
    absl::StatusOr<std::vector<CreatedFlow>> f = CreateAll(*port, tr[i], &in.async);
    if (!f.ok()) {
      FreeMeter(port->id, in.meter_id);
      std::string extra = rollback();
      return BatchError(
          absl::StatusCode::kFailedPrecondition, nd + i, false, r.id,
          absl::StrCat("port '", port->name, "' refused the rule: ", f.status().message(), extra));
    }
    in.flows = *std::move(f);
    created.push_back(std::move(in));
  }

  // 4. Commit.
  for (const FlowId& id : removed) {
    Installed& old = installed_.at(id);
    FreeMeter(old.port_id, old.meter_id);
    installed_.erase(id);
  }
  for (Installed& in : created) {
    FlowId id = in.rule.id;
    installed_[id] = std::move(in);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FlowEntry>> DpdkBackend::Dump() {
  std::vector<FlowEntry> out;
  out.reserve(installed_.size());
  for (const auto& [id, in] : installed_) out.push_back(FlowEntry{in.rule, false});
  std::sort(out.begin(), out.end(),
            [](const FlowEntry& a, const FlowEntry& b) { return a.rule.id < b.rule.id; });
  return out;
}

absl::StatusOr<FlowRule> DpdkBackend::Get(const FlowId& id) {
  auto it = installed_.find(id);
  if (it == installed_.end()) {
    return absl::NotFoundError(absl::StrCat("dpdk: no rule ", id.ToString()));
  }
  return it->second.rule;
}

absl::StatusOr<FlowStats> DpdkBackend::Stats(const FlowId& id) {
  auto it = installed_.find(id);
  if (it == installed_.end()) {
    return absl::NotFoundError(absl::StrCat("dpdk: no rule ", id.ToString()));
  }
  const Installed& in = it->second;
  bool count = std::any_of(in.rule.actions.begin(), in.rule.actions.end(),
                           [](const Action& a) { return std::holds_alternative<CountAction>(a); });
  if (!count) {
    return absl::UnimplementedError(
        absl::StrCat("dpdk: rule ", id.ToString(), " has no count action"));
  }
  rte_flow_action_count conf{};
  rte_flow_action action[2] = {{RTE_FLOW_ACTION_TYPE_COUNT, &conf},
                               {RTE_FLOW_ACTION_TYPE_END, nullptr}};
  uint64_t packets = 0, bytes = 0;
  for (const CreatedFlow& f : in.flows) {  // The rule and its VLAN twin count together.
    rte_flow_query_count q{};
    rte_flow_error err{};
    int rc = rte_flow_query(f.port_id, f.flow, action, &q, &err);
    if (rc != 0) {
      return absl::UnimplementedError(
          absl::StrCat("dpdk: the PMD cannot query the COUNT action: ", FlowErrorText(err, rc)));
    }
    if (q.hits_set) packets += q.hits;
    if (q.bytes_set) bytes += q.bytes;
  }
  FlowStats s;
  s.packets = packets;
  s.bytes = bytes;
  return s;
}

absl::Status DpdkBackend::Flush() {
  absl::Status first;
  std::vector<FlowId> ids;
  for (const auto& [id, in] : installed_) ids.push_back(id);
  for (const FlowId& id : ids) {
    absl::Status st = Uninstall(installed_.at(id));
    if (st.ok()) {
      installed_.erase(id);
    } else if (first.ok()) {
      first = absl::InternalError(
          absl::StrCat("dpdk: cannot destroy rule ", id.ToString(), ": ", st.message()));
    }
  }
  return first;
}

rte_flow* DpdkBackend::FlowHandle(const FlowId& id) const {
  auto it = installed_.find(id);
  return it == installed_.end() || it->second.flows.empty() ? nullptr : it->second.flows[0].flow;
}

void RegisterBackend(BackendRegistry& registry) {
  (void)registry.Register(
      "dpdk", [](std::string_view args) -> absl::StatusOr<std::unique_ptr<Backend>> {
        absl::StatusOr<std::unique_ptr<DpdkBackend>> b = DpdkBackend::Create(args);
        if (!b.ok()) return b.status();
        return std::unique_ptr<Backend>(*std::move(b));
      });
}

}  // namespace dpu::dpdk
