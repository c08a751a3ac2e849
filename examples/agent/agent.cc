#include "agent.h"

#include <malloc.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "dpu/backend_registry.h"
#include "dpu/chain_manifest.h"
#include "dpu/plan.h"
#include "dpu/reference_backend.h"
#include "dpu/rule_text.h"

namespace dpu_agent {
namespace {

namespace v1 = ::libdpu::agent::v1;
namespace opi_inv = ::opi_api::inventory::v1;
namespace evpn = ::opi_api::network::evpn_gw::v1alpha1;

constexpr char kOriginManifest[] = "manifest";
constexpr char kOriginNf[] = "network-function";

// The text of a small sysfs/procfs file without trailing white space; empty when unreadable.
std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 4096) text.resize(4096);
  return std::string(absl::StripAsciiWhitespace(text));
}

dpu::HealthOptions HealthOptionsOf(const AgentOptions& o) {
  dpu::HealthOptions h;
  h.heartbeat_interval = o.heartbeat_interval;
  h.stale_after = o.stale_after;
  return h;
}

int64_t NowNanos() { return absl::ToUnixNanos(absl::Now()); }

v1::Event MakeEvent(v1::EventKind kind, std::string dpu = "", std::string port = "",
                    std::string detail = "") {
  v1::Event e;
  e.set_kind(kind);
  e.set_dpu(std::move(dpu));
  e.set_port(std::move(port));
  e.set_detail(std::move(detail));
  return e;
}

std::set<std::string> PortsOf(const dpu::DpuInfo& info) {
  std::set<std::string> out;
  for (const auto& r : info.representors) out.insert(r.netdev);
  return out;
}

}  // namespace

void FillPlan(const dpu::Plan& plan, v1::FlowPlan* out) {
  for (const auto& r : plan.adds) out->add_adds(dpu::FormatRule(r));
  for (const auto& c : plan.changes) {
    auto* ch = out->add_changes();
    ch->set_before(dpu::FormatRule(c.before));
    ch->set_after(dpu::FormatRule(c.after));
  }
  for (const auto& r : plan.deletes) out->add_deletes(dpu::FormatRule(r));
  out->set_text(plan.ToString());
}

std::string Agent::NetworkFunctionChainName(const std::string& input, const std::string& output) {
  std::string name = absl::StrCat("nf-", input, "-", output);
  if (dpu::ValidateChainName(name).ok()) return name;
  // Interface names with characters a chain name cannot hold, or too long: a stable digest.
  return absl::StrCat(
      "nf-", dpu::FlowId::FromName(absl::StrCat(input, "\n", output)).ToString().substr(0, 16));
}

Agent::Agent(AgentOptions options, std::unique_ptr<dpu::Backend> backend)
    : options_(std::move(options)),
      backend_(std::move(backend)),
      fleet_(nullptr, HealthOptionsOf(options_)),
      advertise_ip_(options_.advertise_ip),
      advertise_port_(options_.advertise_port),
      listeners_(options_.listeners) {
  // The reference datapath documents every method as safe to call concurrently; other backends
  // are driven one call at a time (the Backend contract).
  concurrent_reads_ = dynamic_cast<dpu::ReferenceBackend*>(backend_.get()) != nullptr;
  backend_name_ = std::string(backend_->name());
  const dpu::Capabilities& caps = backend_->Capabilities();
  for (int f = 0; f < dpu::kNumMatchFields; ++f) {
    if (caps.Supports(static_cast<dpu::MatchField>(f))) {
      capability_names_.push_back(absl::StrCat(
          "match:", std::string(dpu::MatchFieldName(static_cast<dpu::MatchField>(f)))));
    }
  }
  for (int k = 0; k < dpu::kNumActionKinds; ++k) {
    if (caps.Supports(static_cast<dpu::ActionKind>(k))) {
      capability_names_.push_back(absl::StrCat(
          "action:", std::string(dpu::ActionKindName(static_cast<dpu::ActionKind>(k)))));
    }
  }
  dpu::ChainCompileOptions copts;
  copts.count = caps.Supports(dpu::ActionKind::kCount);
  chains_ = std::make_unique<dpu::ChainManager>(*backend_, copts);
  dpu::L2CompileOptions lopts;
  lopts.count = copts.count;
  // The scope lets a restarted agent find the L2 rules its previous run left (RestoreL2()).
  lopts.scope = absl::StrCat("dpu-agent/", options_.agent_id);
  l2_ = std::make_unique<dpu::L2Manager>(*backend_, lopts);
}

void Agent::LockFlowsForRead() {
  if (concurrent_reads_) {
    flow_mu_.ReaderLock();
  } else {
    flow_mu_.Lock();
  }
}

void Agent::UnlockFlowsForRead() {
  if (concurrent_reads_) {
    flow_mu_.ReaderUnlock();
  } else {
    flow_mu_.Unlock();
  }
}

bool Agent::IdsFreshLocked() const {
  // Only the agent writes to its in-process reference datapath: its ids never go stale.
  return ids_valid_ &&
         (concurrent_reads_ || absl::Now() - ids_read_ < options_.dump_resync_interval);
}

absl::Status Agent::ReadIdsLocked() {
  absl::StatusOr<std::vector<dpu::FlowEntry>> dump = backend_->Dump();
  if (!dump.ok()) return dump.status();
  ids_.clear();
  foreign_.clear();
  for (dpu::FlowEntry& e : *dump) {
    ids_.insert(e.rule.id);
    if (e.foreign) foreign_.emplace(e.rule.id, std::move(e.rule));
  }
  ids_valid_ = true;
  ids_read_ = absl::Now();
  return absl::OkStatus();
}

void Agent::ChainsChangedLocked() {
  // The chains' rules are installed exactly (ChainManager edits are all-or-nothing).
  for (const auto& [id, chain] : chain_of_) ids_.erase(id);
  for (const auto& r : chains_->rules()) ids_.insert(r.rule.id);
  chain_of_.clear();
  for (const auto& r : chains_->rules()) chain_of_[r.rule.id] = r.chain;
  generation_.fetch_add(1);
}

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(AgentOptions options,
                                                     std::unique_ptr<dpu::Backend> backend) {
  if (absl::Status s = dpu::ValidateHealthOptions(HealthOptionsOf(options)); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("heartbeat: ", s.message()));
  }
  if (options.node_name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    options.node_name = host;
  }
  if (options.agent_id.empty()) options.agent_id = absl::StrCat("dpu-agent@", options.node_name);
  for (const auto* field : {&options.nf_ingress, &options.nf_egress}) {
    if (field->empty()) continue;  // The served DPU's own ports.
    if (absl::StatusOr<dpu::PortRef> p = dpu::PortRef::Parse(*field); !p.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field == &options.nf_ingress ? "nf_ingress: " : "nf_egress: ", p.status().message()));
    }
  }
  if (backend == nullptr) {
    absl::StatusOr<std::unique_ptr<dpu::Backend>> b = dpu::CreateBackend(options.backend_spec);
    if (!b.ok()) return b.status();
    backend = *std::move(b);
  }
  std::unique_ptr<Agent> agent(new Agent(std::move(options), std::move(backend)));
  agent->fleet_subscription_ =
      agent->fleet_.Subscribe([a = agent.get()](const dpu::DpuTransition& t) {
        v1::Event e = MakeEvent(v1::DPU_STATE_CHANGED, t.dpu, "", t.reason);
        e.set_from_state(std::string(dpu::DpuStateName(t.from)));
        e.set_to_state(std::string(dpu::DpuStateName(t.to)));
        a->Emit(std::move(e));
      });
  {
    absl::MutexLock lock(&agent->mu_);
    if (absl::Status s = agent->RediscoverLocked(/*emit=*/true); !s.ok()) {
      // A node without a readable sysfs still serves flows and chains; say why there are no DPUs.
      agent->report_.warnings.push_back(absl::StrCat("discovery: ", s.message()));
    }
  }
  agent->RestoreL2();
  {
    // The table's ids, read once now (before any client) rather than by the first dump.
    absl::WriterMutexLock lock(&agent->flow_mu_);
    (void)agent->ReadIdsLocked();  // On error the first dump tries again.
  }
  malloc_trim(0);
  agent->ticker_ = std::thread([a = agent.get()] {
    while (!a->stop_.WaitForNotificationWithTimeout(a->options_.heartbeat_interval)) a->Tick();
  });
  return agent;
}

void Agent::SetAdvertised(std::string ip, int port) {
  absl::MutexLock lock(&mu_);
  advertise_ip_ = std::move(ip);
  advertise_port_ = port;
}

void Agent::SetListeners(std::vector<std::string> listeners) {
  absl::MutexLock lock(&mu_);
  listeners_ = std::move(listeners);
}

Agent::~Agent() {
  stop_.Notify();
  if (ticker_.joinable()) ticker_.join();
  fleet_.Unsubscribe(fleet_subscription_);
}

// ------------------------------------------------------------------------------------------------
// Events

void Agent::Emit(v1::Event event) {
  absl::MutexLock lock(&events_mu_);
  event.set_sequence(next_sequence_++);
  if (event.time_unix_nanos() == 0) event.set_time_unix_nanos(NowNanos());
  events_.push_back(std::move(event));
  while (events_.size() > options_.event_log_size) events_.pop_front();
  events_cv_.SignalAll();
}

uint64_t Agent::LastSequence() {
  absl::MutexLock lock(&events_mu_);
  return next_sequence_ - 1;
}

std::vector<v1::Event> Agent::EventsAfter(uint64_t after, absl::Duration timeout, bool* lost) {
  absl::MutexLock lock(&events_mu_);
  const absl::Time deadline = absl::Now() + timeout;
  while (next_sequence_ - 1 <= after) {
    if (events_cv_.WaitWithDeadline(&events_mu_, deadline)) break;
  }
  std::vector<v1::Event> out;
  *lost = !events_.empty() && events_.front().sequence() > after + 1;
  for (const auto& e : events_) {
    if (e.sequence() > after) out.push_back(e);
  }
  return out;
}

std::vector<v1::Event> Agent::InitialEvents() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Event> out;
  const int64_t now = NowNanos();
  for (const auto& info : report_.dpus) {
    v1::Event e = MakeEvent(v1::DPU_ADDED, info.name, "", "initial state");
    if (auto lc = fleet_.Lifecycle(info.name); lc.ok()) {
      e.set_to_state(std::string(dpu::DpuStateName((*lc)->state())));
    }
    e.set_time_unix_nanos(now);
    out.push_back(e);
    for (const auto& port : PortsOf(info)) {
      v1::Event p = MakeEvent(v1::PORT_ADDED, info.name, port, "initial state");
      p.set_time_unix_nanos(now);
      out.push_back(p);
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Discovery, heartbeats

absl::Status Agent::RediscoverLocked(bool emit) {
  dpu::DiscoveryOptions dopts;
  dopts.sysfs_root = options_.sysfs_root;
  absl::StatusOr<dpu::DiscoveryReport> report = dpu::DiscoverDpus(dopts);
  last_discovery_ = absl::Now();
  if (!report.ok()) return report.status();
  std::map<std::string, std::set<std::string>> before, after;
  for (const auto& d : report_.dpus) before[d.name] = PortsOf(d);
  for (const auto& d : report->dpus) after[d.name] = PortsOf(d);
  report_ = *std::move(report);
  const dpu::FleetSyncResult sync = fleet_.Sync(report_);
  for (const auto& name : sync.added) {
    if (auto m = fleet_.Monitor(name); m.ok()) {
      // A DPU that failed because heartbeats stopped is back once they resume.
      (*m)->SetRecoveryAction([this](dpu::DpuLifecycle&) -> absl::Status {
        const absl::Time last = absl::FromUnixNanos(last_ping_nanos_.load());
        if (absl::Now() - last <= options_.stale_after) return absl::OkStatus();
        return absl::UnavailableError("no heartbeat from the dpu-operator daemon");
      });
    }
  }
  if (!emit) return absl::OkStatus();
  auto state_of = [this](const std::string& name) {
    auto lc = fleet_.Lifecycle(name);
    return lc.ok() ? std::string(dpu::DpuStateName((*lc)->state())) : std::string();
  };
  for (const auto& name : sync.added) {
    v1::Event e = MakeEvent(v1::DPU_ADDED, name, "", "discovered");
    e.set_to_state(state_of(name));
    Emit(e);
  }
  for (const auto& name : sync.returned) {
    v1::Event e = MakeEvent(v1::DPU_ADDED, name, "", "discovered again");
    e.set_to_state(state_of(name));
    Emit(e);
  }
  for (const auto& name : sync.removed)
    Emit(MakeEvent(v1::DPU_REMOVED, name, "", "not found by discovery"));
  for (const auto& [name, ports] : after) {
    const std::set<std::string>& old = before[name];
    for (const auto& p : ports) {
      if (!old.contains(p)) Emit(MakeEvent(v1::PORT_ADDED, name, p));
    }
    for (const auto& p : old) {
      if (!ports.contains(p)) Emit(MakeEvent(v1::PORT_REMOVED, name, p));
    }
  }
  for (const auto& [name, ports] : before) {
    if (after.contains(name)) continue;
    for (const auto& p : ports) Emit(MakeEvent(v1::PORT_REMOVED, name, p));
  }
  return absl::OkStatus();
}

void Agent::Tick() {
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    for (auto& [id, peer] : peers_) {
      if (!peer.stale && now - peer.last_ping > options_.stale_after) {
        peer.stale = true;
        Emit(MakeEvent(
            v1::PEER_STALE, "", "",
            absl::StrCat(
                id, ": no ping for ",
                absl::FormatDuration(absl::Trunc(now - peer.last_ping, absl::Milliseconds(100))),
                " (stale after ", absl::FormatDuration(options_.stale_after), ")")));
      }
    }
    if (options_.rediscover_interval > absl::ZeroDuration() &&
        now - last_discovery_ >= options_.rediscover_interval) {
      (void)RediscoverLocked(/*emit=*/true);
    }
  }
  fleet_.TickAll();  // Not under mu_: recovery actions take it.
}

std::vector<const dpu::DpuInfo*> Agent::BoundDpusLocked() const {
  std::vector<const dpu::DpuInfo*> out;
  for (const auto& d : report_.dpus) {
    if (bound_.empty() || bound_.contains(d.name)) out.push_back(&d);
  }
  return out;
}

bool Agent::HealthyLocked() const {
  for (const auto& name : bound_) {
    auto lc = fleet_.Lifecycle(name);
    if (!lc.ok() || (*lc)->state() != dpu::DpuState::kReady || !fleet_.Present(name)) return false;
  }
  return true;
}

// ------------------------------------------------------------------------------------------------
// Vendor API

// Whether dpu-operator's @p id names DPU @p d: its discovered name, serial number or the PCI
// address of any of its PFs, bare or as the daemon's detectors write it (':' replaced by '-',
// after a "VENDOR-dpu-"/"VENDOR-ipu-" prefix, e.g. "marvell-dpu-0002-1f-00.0"), or the DPU-side
// platform identifier ("marvell-dpu", "intel-ipu") when it names this DPU's vendor.
static bool IdentifierNames(const std::string& id, const dpu::DpuInfo& d) {
  if (id == d.name || (!d.serial.empty() && id == d.serial)) return true;
  for (const auto& pf : d.pfs) {
    const std::string pci = pf.pci_address.ToString();
    std::string sanitized = pci;
    std::replace(sanitized.begin(), sanitized.end(), ':', '-');
    if (id == pci || id == sanitized || absl::EndsWith(id, absl::StrCat("-", sanitized))) {
      return true;
    }
  }
  const std::string vendor = absl::AsciiStrToLower(d.vendor);
  return !vendor.empty() &&
         (id == absl::StrCat(vendor, "-dpu") || id == absl::StrCat(vendor, "-ipu"));
}

namespace {

// Runs @p argv (no shell) and waits for it. @return OK when it exits 0.
absl::Status RunTool(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (int e = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ); e != 0) {
    return absl::InternalError(absl::StrCat("cannot run ", argv[0], ": ", std::strerror(e)));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("'", absl::StrJoin(argv, " "), "' failed (status ",
                                            WIFEXITED(status) ? WEXITSTATUS(status) : -1, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Agent::ConfigureCommInterface(bool dpu_mode) {
  // What upstream's EnableIPV6LinkLocal does (vendor-specific-plugins/common/vspnetutils.go),
  // minus asking NetworkManager to unmanage the link (a node-setup matter).
  const std::string& ifname = options_.comm_interface;
  const std::string conf = absl::StrCat(options_.proc_root, "/sys/net/ipv6/conf/", ifname, "/");
  auto fail = [&](const absl::Status& s) {
    return absl::FailedPreconditionError(
        absl::StrCat("comm_interface: configuring ", ifname, ": ", s.message()));
  };
  {
    std::ifstream probe(conf + "addr_gen_mode");
    if (!probe) {
      return fail(absl::NotFoundError(absl::StrCat("no IPv6 configuration at ", conf,
                                                   " (no such interface, or IPv6 disabled)")));
    }
    std::string mode;
    std::getline(probe, mode);
    std::ofstream(conf + "optimistic_dad") << "1\n";  // As upstream: best effort.
    if (mode != "0") {  // Not EUI-64: set it, and toggle the link so the address is made.
      std::ofstream set(conf + "addr_gen_mode");
      set << "0\n";
      set.flush();
      if (!set)
        return fail(absl::InternalError(absl::StrCat("cannot write ", conf, "addr_gen_mode")));
      if (absl::Status s = RunTool({"ip", "link", "set", ifname, "down"}); !s.ok()) return fail(s);
    }
  }
  if (absl::Status s = RunTool({"ip", "link", "set", ifname, "up"}); !s.ok()) return fail(s);
  const std::string addr = dpu_mode ? "fe80::1/64" : "fe80::2/64";
  if (absl::Status s = RunTool({"ip", "addr", "replace", addr, "dev", ifname, "optimistic"});
      !s.ok()) {
    return fail(s);
  }
  return absl::OkStatus();
}

absl::Status Agent::Init(const Vendor::InitRequest& req, Vendor::IpPort* resp) {
  absl::MutexLock lock(&mu_);
  const std::string& id = req.dpu_identifier();
  auto match = [&]() {
    std::set<std::string> bound;
    for (const auto& d : report_.dpus) {
      if (id.empty() || IdentifierNames(id, d)) bound.insert(d.name);
    }
    return bound;
  };
  std::set<std::string> bound = match();
  if (bound.empty() && !id.empty()) {
    (void)RediscoverLocked(/*emit=*/true);  // The daemon may have seen the DPU before us.
    bound = match();
  }
  if (bound.empty() && !id.empty()) {
    std::vector<std::string> known;
    for (const auto& d : report_.dpus) known.push_back(d.name);
    return absl::NotFoundError(absl::StrFormat(
        "dpu_identifier: no DPU named \"%s\" (by name, serial, PCI address or dpu-operator "
        "identifier) on this node; known: [%s]",
        id, absl::StrJoin(known, ", ")));
  }
  // dpu-operator's daemon retries Init until it succeeds and gives up at once on an error
  // saying "already initialized": a repeated Init for the same DPU and side (a retry after a
  // lost answer, a restarted daemon) succeeds with the same answer; an Init for another DPU or
  // side is that permanent error.
  if (initialized_ && (req.dpu_mode() != dpu_mode_ || bound != bound_)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "dpu_identifier: already initialized for \"%s\" (dpu_mode=%s); restart the plugin to "
        "serve \"%s\" (dpu_mode=%s)",
        dpu_identifier_, dpu_mode_ ? "true" : "false", id, req.dpu_mode() ? "true" : "false"));
  }
  for (const auto& d : report_.dpus) {
    if (!bound.contains(d.name)) continue;
    const bool dpu_side = d.side == dpu::DpuSide::kDpu;
    if (!id.empty() && dpu_side != req.dpu_mode()) {
      return absl::FailedPreconditionError(
          absl::StrFormat("dpu_mode: %s, but DPU %s is seen from its %s side here",
                          req.dpu_mode() ? "true" : "false", d.name, dpu_side ? "DPU" : "host"));
    }
  }
  if (!options_.comm_interface.empty() && options_.configure_comm_interface) {
    if (absl::Status s = ConfigureCommInterface(req.dpu_mode()); !s.ok()) return s;
  }
  initialized_ = true;
  dpu_mode_ = req.dpu_mode();
  dpu_identifier_ = req.dpu_identifier();
  bound_ = bound;
  last_ping_nanos_ = NowNanos();
  for (const auto& name : bound_) {
    auto lc = fleet_.Lifecycle(name);
    if (lc.ok() && (*lc)->state() == dpu::DpuState::kDiscovered) {
      (void)(*lc)->TransitionTo(dpu::DpuState::kReady, "vendor plugin initialised by the daemon");
    }
    if (auto m = fleet_.Monitor(name); m.ok()) (*m)->Heartbeat();
  }
  if (!options_.comm_interface.empty()) {
    // What dpu-operator's Marvell and Intel plugins return: the DPU side's link-local address
    // on the host<->DPU channel, with the zone escaped for a gRPC target on the host side.
    resp->set_ip(
        absl::StrCat("[fe80::1", req.dpu_mode() ? "%" : "%25", options_.comm_interface, "]"));
    resp->set_port(options_.daemon_port);
    return absl::OkStatus();
  }
  resp->set_ip(advertise_ip_);
  resp->set_port(advertise_port_);
  return absl::OkStatus();
}

absl::Status Agent::CreateNetworkFunction(const Vendor::NFRequest& req) {
  // dpu-operator's daemon sends the MAC addresses of the function pod's two interfaces.
  absl::StatusOr<dpu::MacAddress> in_mac = dpu::MacAddress::Parse(req.input());
  absl::StatusOr<dpu::MacAddress> out_mac = dpu::MacAddress::Parse(req.output());
  if (in_mac.ok() && out_mac.ok()) return CreateNetworkFunctionByMac(req, *in_mac, *out_mac);
  if (in_mac.ok() != out_mac.ok()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: \"%s\" is not a MAC address, but %s is: give both as MAC addresses or both as "
        "port names",
        in_mac.ok() ? "output" : "input", in_mac.ok() ? req.output() : req.input(),
        in_mac.ok() ? "input" : "output"));
  }
  absl::StatusOr<dpu::PortRef> in = dpu::PortRef::Parse(req.input());
  if (!in.ok()) return absl::InvalidArgumentError(absl::StrCat("input: ", in.status().message()));
  absl::StatusOr<dpu::PortRef> out = dpu::PortRef::Parse(req.output());
  if (!out.ok())
    return absl::InvalidArgumentError(absl::StrCat("output: ", out.status().message()));
  dpu::ServiceChain chain;
  chain.name = NetworkFunctionChainName(req.input(), req.output());
  chain.hops.push_back(dpu::NetworkFunction{.name = "nf", .ingress = *in, .egress = *out});
  chain.bidirectional = true;
  chain.priority = options_.nf_priority;
  absl::WriterMutexLock flow(&flow_mu_);
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::pair<dpu::PortRef, dpu::PortRef>> ends = NfEndsLocked();
  if (!ends.ok()) return ends.status();
  chain.ingress = ends->first;
  chain.egress = ends->second;
  if (auto it = chain_origin_.find(chain.name);
      it != chain_origin_.end() && it->second != kOriginNf) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "chain \"%s\" exists and was applied from a manifest, not by CreateNetworkFunction",
        chain.name));
  }
  absl::Status upserted = chains_->Upsert(chain);
  ChainsChangedLocked();
  if (!upserted.ok()) return upserted;
  chain_origin_[chain.name] = kOriginNf;
  Emit(MakeEvent(v1::CHAIN_APPLIED, "", "", chain.name));
  return absl::OkStatus();
}

absl::Status Agent::DeleteNetworkFunction(const Vendor::NFRequest& req) {
  if (req.input().empty()) return absl::InvalidArgumentError("input: must not be empty");
  if (req.output().empty()) return absl::InvalidArgumentError("output: must not be empty");
  if (dpu::MacAddress::Parse(req.input()).ok() && dpu::MacAddress::Parse(req.output()).ok()) {
    return DeleteNetworkFunctionByMac(req);
  }
  const std::string name = NetworkFunctionChainName(req.input(), req.output());
  absl::WriterMutexLock lock(&flow_mu_);
  auto it = chain_origin_.find(name);
  if (it == chain_origin_.end() || it->second != kOriginNf) {
    return absl::NotFoundError(absl::StrFormat(
        "no network function with input \"%s\" and output \"%s\"", req.input(), req.output()));
  }
  absl::Status removed = chains_->Remove(name);
  ChainsChangedLocked();
  if (!removed.ok()) return removed;
  chain_origin_.erase(it);
  Emit(MakeEvent(v1::CHAIN_REMOVED, "", "", name));
  return absl::OkStatus();
}

absl::Status Agent::GetDevices(Vendor::DeviceListResponse* resp) {
  absl::MutexLock lock(&mu_);
  for (const dpu::DpuInfo* d : BoundDpusLocked()) {
    std::string health = "Healthy";
    if (auto lc = fleet_.Lifecycle(d->name); lc.ok()) {
      const dpu::DpuState s = (*lc)->state();
      if (s != dpu::DpuState::kReady && s != dpu::DpuState::kDiscovered) health = "Unhealthy";
    }
    if (!fleet_.Present(d->name)) health = "Unhealthy";
    for (const auto& pf : d->pfs) {
      for (const auto& vf : pf.vfs) {
        const std::string id = vf.pci_address.ToString();
        Vendor::Device dev;
        dev.set_id(id);
        dev.set_health(health);
        std::string numa =
            ReadText(absl::StrCat(options_.sysfs_root, "/bus/pci/devices/", id, "/numa_node"));
        if (numa.empty() || numa == "-1") numa = "0";
        dev.mutable_topology()->set_node(numa);
        (*resp->mutable_devices())[id] = dev;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Agent::SetNumVfs(const Vendor::VfCount& req, Vendor::VfCount* resp) {
  if (req.vf_cnt() < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("vf_cnt: must be 0 or more, got %d", req.vf_cnt()));
  }
  absl::MutexLock lock(&mu_);
  std::vector<const dpu::DpuInfo*> dpus = BoundDpusLocked();
  if (dpus.empty()) return absl::FailedPreconditionError("SetNumVfs: no DPU found on this node");
  if (dpus.size() > 1) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "SetNumVfs: %d DPUs on this node; call LifeCycleService.Init with dpu_identifier first",
        dpus.size()));
  }
  const dpu::PhysicalFunction* pf = nullptr;
  for (const auto& p : dpus[0]->pfs) {
    if (p.sriov_total_vfs > 0) {
      pf = &p;
      break;
    }
  }
  if (pf == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrFormat("SetNumVfs: DPU %s has no SR-IOV capable PF", dpus[0]->name));
  }
  if (static_cast<uint32_t>(req.vf_cnt()) > pf->sriov_total_vfs) {
    return absl::InvalidArgumentError(
        absl::StrFormat("vf_cnt: %d exceeds sriov_totalvfs %d of PF %s", req.vf_cnt(),
                        pf->sriov_total_vfs, pf->pci_address.ToString()));
  }
  const std::string path = absl::StrCat(options_.sysfs_root, "/bus/pci/devices/",
                                        pf->pci_address.ToString(), "/sriov_numvfs");
  auto write = [&path](int n) -> absl::Status {
    std::ofstream f(path, std::ios::out | std::ios::trunc);
    if (!f) return absl::PermissionDeniedError(absl::StrCat("SetNumVfs: cannot open ", path));
    f << n << "\n";
    f.flush();
    if (!f)
      return absl::InternalError(absl::StrCat("SetNumVfs: writing ", n, " to ", path, " failed"));
    return absl::OkStatus();
  };
  if (pf->sriov_num_vfs != static_cast<uint32_t>(req.vf_cnt())) {
    // The kernel refuses to change a non-zero VF count directly: go through 0.
    if (pf->sriov_num_vfs != 0 && req.vf_cnt() != 0) {
      if (absl::Status s = write(0); !s.ok()) return s;
    }
    if (absl::Status s = write(req.vf_cnt()); !s.ok()) return s;
  }
  int now = 0;
  if (!absl::SimpleAtoi(ReadText(path), &now)) {
    return absl::InternalError(absl::StrCat("SetNumVfs: cannot read back ", path));
  }
  (void)RediscoverLocked(/*emit=*/true);
  resp->set_vf_cnt(now);
  return absl::OkStatus();
}

absl::Status Agent::Ping(const Vendor::PingRequest& req, Vendor::PingResponse* resp) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  const std::string sender = req.sender_id().empty() ? "(anonymous)" : req.sender_id();
  auto [it, inserted] = peers_.try_emplace(sender);
  if (inserted || it->second.stale) {
    Emit(MakeEvent(v1::PEER_ALIVE, "", "", sender));
  }
  it->second.last_ping = now;
  it->second.stale = false;
  last_ping_nanos_ = absl::ToUnixNanos(now);
  for (const auto& name : bound_) {
    if (auto m = fleet_.Monitor(name); m.ok()) (*m)->Heartbeat();
  }
  resp->set_timestamp(absl::ToUnixNanos(now));
  resp->set_responder_id(options_.agent_id);
  resp->set_healthy(HealthyLocked());
  return absl::OkStatus();
}

// ------------------------------------------------------------------------------------------------
// OPI

absl::Status Agent::GetInventory(const opi_inv::GetInventoryRequest& req,
                                 opi_inv::Inventory* resp) {
  const std::string dmi = options_.sysfs_root + "/class/dmi/id/";
  auto* bios = resp->mutable_bios();
  bios->set_vendor(ReadText(dmi + "bios_vendor"));
  bios->set_version(ReadText(dmi + "bios_version"));
  bios->set_date(ReadText(dmi + "bios_date"));
  auto* sys = resp->mutable_system();
  sys->set_family(ReadText(dmi + "product_family"));
  sys->set_name(ReadText(dmi + "product_name"));
  sys->set_vendor(ReadText(dmi + "sys_vendor"));
  sys->set_serial_number(ReadText(dmi + "product_serial"));
  sys->set_uuid(ReadText(dmi + "product_uuid"));
  sys->set_sku(ReadText(dmi + "product_sku"));
  sys->set_version(ReadText(dmi + "product_version"));
  auto* board = resp->mutable_baseboard();
  board->set_asset_tag(ReadText(dmi + "board_asset_tag"));
  board->set_serial_number(ReadText(dmi + "board_serial"));
  board->set_vendor(ReadText(dmi + "board_vendor"));
  board->set_version(ReadText(dmi + "board_version"));
  board->set_product(ReadText(dmi + "board_name"));
  auto* chassis = resp->mutable_chassis();
  chassis->set_asset_tag(ReadText(dmi + "chassis_asset_tag"));
  chassis->set_serial_number(ReadText(dmi + "chassis_serial"));
  chassis->set_type(ReadText(dmi + "chassis_type"));
  chassis->set_vendor(ReadText(dmi + "chassis_vendor"));
  chassis->set_version(ReadText(dmi + "chassis_version"));
  {
    static const std::map<std::string, std::string> kChassisTypes = {{"1", "Other"},
                                                                     {"2", "Unknown"},
                                                                     {"3", "Desktop"},
                                                                     {"9", "Laptop"},
                                                                     {"10", "Notebook"},
                                                                     {"17", "Main Server Chassis"},
                                                                     {"23", "Rack Mount Chassis"},
                                                                     {"24", "Sealed-case PC"},
                                                                     {"28", "Blade"},
                                                                     {"35", "Mini PC"},
                                                                     {"36", "Stick PC"}};
    auto it = kChassisTypes.find(chassis->type());
    if (it != kChassisTypes.end()) chassis->set_type_description(it->second);
  }
  // Processors: logical CPUs and distinct (physical id, core id) pairs of cpuinfo.
  {
    std::ifstream in(options_.proc_root + "/cpuinfo");
    std::string line, physical = "0";
    uint32_t threads = 0;
    std::set<std::pair<std::string, std::string>> cores;
    while (std::getline(in, line)) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits(':', 1));
      const std::string key(absl::StripAsciiWhitespace(kv.first));
      const std::string value(absl::StripAsciiWhitespace(kv.second));
      if (key == "processor") ++threads;
      if (key == "physical id") physical = value;
      if (key == "core id") cores.emplace(physical, value);
    }
    resp->mutable_processor()->set_total_threads(threads);
    resp->mutable_processor()->set_total_cores(cores.empty() ? threads : cores.size());
  }
  {
    std::ifstream in(options_.proc_root + "/meminfo");
    std::string line;
    while (std::getline(in, line)) {
      int64_t kb = 0;
      if (absl::StartsWith(line, "MemTotal:") &&
          absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(line.substr(9)), " kB"),
                           &kb)) {
        resp->mutable_memory()->set_total_usable_bytes(kb * 1024);
      }
    }
    int64_t block = 0;
    int64_t online = 0;
    const std::string mem = options_.sysfs_root + "/devices/system/memory/";
    if (absl::SimpleHexAtoi(ReadText(mem + "block_size_bytes"), &block) && block > 0) {
      for (int i = 0; i < 1 << 16; ++i) {
        const std::string state = ReadText(absl::StrCat(mem, "memory", i, "/state"));
        if (state.empty()) {
          if (i > 0 && online > 0) break;
          continue;
        }
        if (state == "online") ++online;
      }
    }
    resp->mutable_memory()->set_total_physical_bytes(
        online > 0 ? block * online : resp->memory().total_usable_bytes());
  }
  absl::MutexLock lock(&mu_);
  for (const auto& d : report_.dpus) {
    auto add = [&](const dpu::PciAddress& addr, const std::string& driver) {
      const std::string dir =
          absl::StrCat(options_.sysfs_root, "/bus/pci/devices/", addr.ToString(), "/");
      auto* p = resp->add_pci();
      p->set_address(addr.ToString());
      p->set_driver(driver);
      p->set_vendor(ReadText(dir + "vendor"));
      p->set_product(ReadText(dir + "device"));
      p->set_revision(ReadText(dir + "revision"));
      const std::string sv = ReadText(dir + "subsystem_vendor");
      const std::string sd = ReadText(dir + "subsystem_device");
      if (!sv.empty() || !sd.empty()) p->set_subsystem(absl::StrCat(sv, ":", sd));
      const std::string cls = ReadText(dir + "class");  // 0xCCSSPP
      if (cls.size() == 8 && absl::StartsWith(cls, "0x")) {
        p->set_class_(absl::StrCat("0x", cls.substr(2, 2)));
        p->set_subclass(absl::StrCat("0x", cls.substr(4, 2)));
      }
    };
    for (const auto& pf : d.pfs) {
      add(pf.pci_address, pf.driver);
      for (const auto& vf : pf.vfs) {
        std::string driver;
        char buf[512];
        const std::string link = absl::StrCat(options_.sysfs_root, "/bus/pci/devices/",
                                              vf.pci_address.ToString(), "/driver");
        if (ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1); n > 0) {
          std::string target(buf, n);
          driver = target.substr(target.find_last_of('/') + 1);
        }
        add(vf.pci_address, driver);
      }
    }
  }
  return absl::OkStatus();
}

// CreateBridgePort, GetBridgePort, ListBridgePorts, DeleteBridgePort: agent_l2.cc.

// ------------------------------------------------------------------------------------------------
// libdpu.agent.v1

absl::Status Agent::GetAgentInfo(v1::AgentInfo* resp) {
  // Only agent state (mu_, never held long) and what the constructor cached from the backend:
  // no flow lock, so this answers while flows are being applied or dumped.
  resp->set_agent_id(options_.agent_id);
  resp->set_node(options_.node_name);
  resp->set_backend(options_.backend_spec);
  resp->set_backend_name(backend_name_);
  for (const auto& c : capability_names_) resp->add_capabilities(c);
  absl::MutexLock lock(&mu_);
  for (const auto& l : listeners_) resp->add_listeners(l);
  resp->set_dpu_mode(dpu_mode_);
  resp->set_dpu_identifier(dpu_identifier_);
  return absl::OkStatus();
}

void Agent::FillDpuLocked(const dpu::DpuInfo& info, v1::Dpu* out) const {
  out->set_name(info.name);
  out->set_vendor(info.vendor);
  out->set_model(info.model);
  out->set_side(std::string(dpu::DpuSideName(info.side)));
  out->set_mode(std::string(dpu::DpuModeName(info.mode)));
  if (auto lc = fleet_.Lifecycle(info.name); lc.ok()) {
    out->set_state(std::string(dpu::DpuStateName((*lc)->state())));
  }
  out->set_present(fleet_.Present(info.name));
  out->set_pci_address(info.pci_address.ToString());
  out->set_serial(info.serial);
  out->set_firmware_version(info.firmware_version);
  out->set_num_vfs(info.NumVfs());
  out->set_total_vfs(info.TotalVfs());
  for (const auto& r : info.representors) {
    auto* p = out->add_ports();
    p->set_netdev(r.netdev);
    p->set_phys_port_name(r.phys_port_name);
    p->set_kind(std::string(dpu::RepresentorKindName(r.port.kind)));
  }
}

absl::Status Agent::ListDpus(v1::ListDpusResponse* resp) {
  absl::MutexLock lock(&mu_);
  for (const auto& d : report_.dpus) FillDpuLocked(d, resp->add_dpus());
  for (const auto& w : report_.warnings) resp->add_warnings(w);
  return absl::OkStatus();
}

absl::Status Agent::Rediscover(v1::ListDpusResponse* resp) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = RediscoverLocked(/*emit=*/true); !s.ok()) return s;
  for (const auto& d : report_.dpus) FillDpuLocked(d, resp->add_dpus());
  for (const auto& w : report_.warnings) resp->add_warnings(w);
  return absl::OkStatus();
}

absl::Status Agent::ApplyFlows(const v1::ApplyFlowsRequest& req, v1::ApplyFlowsResponse* resp) {
  absl::StatusOr<std::vector<dpu::FlowRule>> rules = dpu::ParseRules(req.rules());
  if (!rules.ok())
    return absl::InvalidArgumentError(absl::StrCat("rules: ", rules.status().message()));
  std::vector<dpu::FlowId> deletes;
  for (int i = 0; i < req.delete_ids_size(); ++i) {
    absl::StatusOr<dpu::FlowId> id = dpu::FlowId::Parse(req.delete_ids(i));
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("delete_ids[%d]: %s", i, id.status().message()));
    }
    deletes.push_back(*id);
  }
  absl::WriterMutexLock lock(&flow_mu_);
  const auto& chain_of = chain_of_;
  const auto& bridge_of = bridge_of_;
  for (size_t i = 0; i < rules->size(); ++i) {
    if (auto it = chain_of.find((*rules)[i].id); it != chain_of.end()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "rules: rule %d (id %s) belongs to chain \"%s\"; change the chain instead", i + 1,
          (*rules)[i].id.ToString(), it->second));
    }
    if (auto it = bridge_of.find((*rules)[i].id); it != bridge_of.end()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "rules: rule %d (id %s) belongs to logical bridge \"%s\"; change its bridge ports "
          "instead",
          i + 1, (*rules)[i].id.ToString(), it->second));
    }
    if (absl::Status s = backend_->Validate((*rules)[i]); !s.ok()) {
      return absl::Status(s.code(), absl::StrFormat("rules: rule %d: %s", i + 1, s.message()));
    }
  }
  for (size_t i = 0; i < deletes.size(); ++i) {
    if (auto it = chain_of.find(deletes[i]); it != chain_of.end()) {
      return absl::FailedPreconditionError(
          absl::StrFormat("delete_ids[%d]: %s belongs to chain \"%s\"; delete the chain instead", i,
                          deletes[i].ToString(), it->second));
    }
    if (auto it = bridge_of.find(deletes[i]); it != bridge_of.end()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "delete_ids[%d]: %s belongs to logical bridge \"%s\"; delete its bridge ports instead", i,
          deletes[i].ToString(), it->second));
    }
  }
  // The plan reads back only the ids of the request (O(request), not a dump of the table).
  dpu::FlowBatch request;
  request.upserts = *std::move(rules);
  request.deletes = std::move(deletes);
  absl::StatusOr<dpu::Plan> plan = dpu::PlanBatch(*backend_, request);
  if (!plan.ok()) {
    const std::optional<size_t> at = dpu::FailedOperationIndex(plan.status());
    if (!at.has_value()) return plan.status();
    const size_t ndeletes = request.deletes.size();
    if (*at < ndeletes) {
      if (absl::IsNotFound(plan.status())) {
        return absl::NotFoundError(absl::StrFormat("delete_ids[%d]: no rule with id %s", *at,
                                                   request.deletes[*at].ToString()));
      }
      return absl::Status(plan.status().code(),
                          absl::StrFormat("delete_ids[%d]: %s", *at, plan.status().message()));
    }
    return absl::Status(
        plan.status().code(),
        absl::StrFormat("rules: rule %d: %s", *at - ndeletes + 1, plan.status().message()));
  }
  FillPlan(*plan, resp->mutable_plan());
  if (req.dry_run() || plan->empty()) return absl::OkStatus();
  absl::Status applied = backend_->Apply(plan->ToBatch());
  generation_.fetch_add(1);  // Even a failed batch may have been undone on the device.
  if (!applied.ok()) {
    ids_valid_ = false;  // All-or-nothing, but read the table again rather than trust that.
    return applied;
  }
  for (const auto& r : plan->adds) ids_.insert(r.id);
  for (const auto& r : plan->deletes) ids_.erase(r.id);
  resp->set_applied(true);
  Emit(MakeEvent(v1::FLOWS_APPLIED, "", "",
                 absl::StrFormat("%d added, %d changed, %d deleted", plan->adds.size(),
                                 plan->changes.size(), plan->deletes.size())));
  return absl::OkStatus();
}

// ------------------------------------------------------------------------------------------------
// DumpFlows / StreamFlows: a snapshot of the table's ids (sorted), pages read by id.

struct Agent::DumpSnapshot {
  uint64_t id = 0;
  uint64_t generation = 0;
  std::vector<dpu::FlowId> ids;  // Every rule's id, sorted.
  // Foreign rules cannot be read back by id (only owned ones can): kept as dumped.
  absl::flat_hash_map<dpu::FlowId, dpu::FlowRule> foreign;
};

struct Agent::DumpFilter {
  std::string owner;  // "", "chain/NAME", "none", "foreign".
  std::optional<uint32_t> chain;
  std::string id_prefix;    // Lower-case hex.
  dpu::FlowId first, last;  // The ids the prefix covers.
  std::string fingerprint;  // Of the filters, carried by page tokens.
};

namespace {

constexpr char kTokenTag[] = "dump1";

}  // namespace

absl::StatusOr<std::shared_ptr<const Agent::DumpSnapshot>> Agent::SnapshotFor(
    uint64_t token_snapshot) {
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&dump_mu_);
    for (auto it = snapshot_used_.begin(); it != snapshot_used_.end();) {
      if (now - it->second > options_.dump_snapshot_ttl) {
        snapshots_.erase(it->first);
        it = snapshot_used_.erase(it);
      } else {
        ++it;
      }
    }
    if (token_snapshot != 0) {
      if (auto it = snapshots_.find(token_snapshot); it != snapshots_.end()) {
        snapshot_used_[token_snapshot] = now;
        return it->second;
      }
    } else {
      // A dump that starts before the next write shares the snapshot of this generation.
      const uint64_t generation = generation_.load();
      for (const auto& [id, snap] : snapshots_) {
        if (snap->generation == generation) {
          snapshot_used_[id] = now;
          return snap;
        }
      }
    }
  }
  auto snap = std::make_shared<DumpSnapshot>();
  bool rebuilt = false;
  {
    // The agent keeps the ids of the table (ids_), updated by its own writes; a dump copies them
    // (16 bytes a rule) instead of dumping the backend. They are read from the backend again
    // when unknown, and every dump_resync_interval, so rules written behind the agent's back
    // show up too.
    LockFlowsForRead();
    bool fresh = IdsFreshLocked();
    if (!fresh) {
      UnlockFlowsForRead();
      flow_mu_.Lock();
      if (!IdsFreshLocked()) {
        if (absl::Status s = ReadIdsLocked(); !s.ok()) {
          flow_mu_.Unlock();
          return s;
        }
        rebuilt = true;
      }
      snap->generation = generation_.load();
      snap->ids.assign(ids_.begin(), ids_.end());
      snap->foreign = foreign_;
      flow_mu_.Unlock();
    } else {
      snap->generation = generation_.load();
      snap->ids.assign(ids_.begin(), ids_.end());
      snap->foreign = foreign_;
      UnlockFlowsForRead();
    }
  }
  // A dump's copy of the table is gone: give its pages back to the system now.
  if (rebuilt) malloc_trim(0);
  absl::MutexLock lock(&dump_mu_);
  snap->id = next_snapshot_++;
  snapshots_[snap->id] = snap;
  snapshot_used_[snap->id] = now;
  while (snapshots_.size() > std::max<size_t>(options_.max_dump_snapshots, 1)) {
    auto oldest =
        std::min_element(snapshot_used_.begin(), snapshot_used_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    snapshots_.erase(oldest->first);
    snapshot_used_.erase(oldest);
  }
  return std::shared_ptr<const DumpSnapshot>(std::move(snap));
}

absl::Status Agent::DumpPage(const DumpFilter& filter, const DumpSnapshot& snap, size_t* pos,
                             size_t limit, size_t page_size, v1::DumpFlowsResponse* resp) {
  size_t bytes = 0;
  while (*pos < limit && static_cast<size_t>(resp->flows_size()) < page_size) {
    // A chunk of candidates, read by id under one (shared) flow lock.
    const size_t want = std::min<size_t>(page_size - resp->flows_size(), 1024);
    const size_t end = std::min(limit, *pos + std::max<size_t>(want, 64));
    std::vector<dpu::FlowId> owned;
    owned.reserve(end - *pos);
    for (size_t k = *pos; k < end; ++k) {
      if (!snap.foreign.contains(snap.ids[k])) owned.push_back(snap.ids[k]);
    }
    std::vector<std::string> owners(owned.size());
    absl::StatusOr<std::vector<std::optional<dpu::FlowRule>>> rules;
    LockFlowsForRead();
    rules = dpu::LookupRules(*backend_, owned);
    if (rules.ok()) {
      for (size_t j = 0; j < owned.size(); ++j) {
        if (auto it = chain_of_.find(owned[j]); it != chain_of_.end()) {
          owners[j] = "chain/" + it->second;
        } else if (auto b = bridge_of_.find(owned[j]); b != bridge_of_.end()) {
          owners[j] = "bridge/" + b->second;  // The rules of the L2 network.
        }
      }
    }
    UnlockFlowsForRead();
    if (!rules.ok()) return rules.status();
    size_t j = 0;
    for (size_t k = *pos; k < end; ++k) {
      const dpu::FlowId& id = snap.ids[k];
      const dpu::FlowRule* rule = nullptr;
      std::string owner;
      bool foreign = false;
      if (auto f = snap.foreign.find(id); f != snap.foreign.end()) {
        rule = &f->second;
        foreign = true;
      } else {
        const std::optional<dpu::FlowRule>& got = (*rules)[j];
        owner = owners[j];
        ++j;
        if (got.has_value()) rule = &*got;  // Not: deleted since the snapshot.
      }
      bool keep = rule != nullptr;
      if (keep && !filter.owner.empty()) {
        keep = filter.owner == "foreign" ? foreign
               : filter.owner == "none"  ? !foreign && owner.empty()
                                         : owner == filter.owner;
      }
      if (keep && filter.chain.has_value()) keep = rule->chain == *filter.chain;
      if (keep) {
        v1::Flow flow;
        flow.set_id(id.ToString());
        flow.set_rule(dpu::FormatRule(*rule));
        flow.set_foreign(foreign);
        flow.set_owner(owner);
        const size_t size = flow.ByteSizeLong() + 8;  // + field tag and length
        if (bytes + size > options_.dump_reply_bytes && resp->flows_size() > 0)
          return absl::OkStatus();
        bytes += size;
        *resp->add_flows() = std::move(flow);
      }
      *pos = k + 1;
      if (static_cast<size_t>(resp->flows_size()) >= page_size) return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

namespace {

// Parses the filters of a DumpFlowsRequest.
absl::Status ParseDumpFilter(const v1::DumpFlowsRequest& req, std::string* owner,
                             std::optional<uint32_t>* chain, std::string* prefix) {
  if (req.page_size() < 0 || req.page_size() > 10000) {
    return absl::InvalidArgumentError(
        absl::StrFormat("page_size: must be 0 to 10000, got %d", req.page_size()));
  }
  *owner = req.owner();
  if (!owner->empty() && *owner != "none" && *owner != "foreign" &&
      !(absl::StartsWith(*owner, "chain/") && owner->size() > 6) &&
      !(absl::StartsWith(*owner, "bridge/") && owner->size() > 7)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "owner: \"%s\" is not \"chain/NAME\", \"bridge/NAME\", \"none\" or \"foreign\"", *owner));
  }
  if (req.has_chain()) *chain = req.chain();
  *prefix = absl::AsciiStrToLower(req.id_prefix());
  if (prefix->size() > 32) {
    return absl::InvalidArgumentError(
        absl::StrFormat("id_prefix: at most 32 hex digits, got %d", prefix->size()));
  }
  for (char c : *prefix) {
    if (!absl::ascii_isxdigit(c)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("id_prefix: \"%s\" is not hex digits", req.id_prefix()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Agent::DumpFlows(const v1::DumpFlowsRequest& req, v1::DumpFlowsResponse* resp) {
  DumpFilter filter;
  if (absl::Status s = ParseDumpFilter(req, &filter.owner, &filter.chain, &filter.id_prefix);
      !s.ok()) {
    return s;
  }
  filter.first =
      *dpu::FlowId::Parse(filter.id_prefix + std::string(32 - filter.id_prefix.size(), '0'));
  filter.last =
      *dpu::FlowId::Parse(filter.id_prefix + std::string(32 - filter.id_prefix.size(), 'f'));
  filter.fingerprint =
      absl::StrFormat("%016x", absl::HashOf(filter.owner, filter.chain.has_value(),
                                            filter.chain.value_or(0), filter.id_prefix));
  // The token: "dump1:SNAPSHOT:LAST-ID:FILTERS", web-safe base64.
  uint64_t token_snapshot = 0;
  std::optional<dpu::FlowId> after;
  if (!req.page_token().empty()) {
    std::string decoded;
    std::vector<std::string> parts;
    if (absl::WebSafeBase64Unescape(req.page_token(), &decoded)) {
      parts = absl::StrSplit(decoded, ':');
    }
    absl::StatusOr<dpu::FlowId> last =
        parts.size() == 4 ? dpu::FlowId::Parse(parts[2]) : absl::InvalidArgumentError("");
    if (parts.size() != 4 || parts[0] != kTokenTag ||
        !absl::SimpleAtoi(parts[1], &token_snapshot) || !last.ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("page_token: \"%s\" was not returned by DumpFlows", req.page_token()));
    }
    if (parts[3] != filter.fingerprint) {
      return absl::InvalidArgumentError(
          "page_token: it was returned for other filters (owner, chain, id_prefix); send the "
          "filters of the first page with every page");
    }
    after = *last;
  }
  absl::StatusOr<std::shared_ptr<const DumpSnapshot>> snap = SnapshotFor(token_snapshot);
  if (!snap.ok()) return snap.status();
  const std::vector<dpu::FlowId>& ids = (*snap)->ids;
  size_t pos = std::lower_bound(ids.begin(), ids.end(), filter.first) - ids.begin();
  const size_t limit = std::upper_bound(ids.begin(), ids.end(), filter.last) - ids.begin();
  if (after.has_value()) {
    pos = std::max<size_t>(pos, std::upper_bound(ids.begin(), ids.end(), *after) - ids.begin());
  }
  const size_t start = pos;
  const bool whole = req.page_size() == 0;
  const size_t page_size = whole ? std::numeric_limits<size_t>::max() : req.page_size();
  if (absl::Status s = DumpPage(filter, **snap, &pos, limit, page_size, resp); !s.ok()) return s;
  if (pos < limit) {
    if (whole) {
      resp->Clear();
      return absl::FailedPreconditionError(absl::StrFormat(
          "DumpFlows: the %d rules do not fit one reply of at most %d bytes; pass page_size "
          "(and then page_token) or call StreamFlows",
          limit - start, options_.dump_reply_bytes));
    }
    if (pos == start) return absl::InternalError("DumpFlows: no progress (a rule too large?)");
    resp->set_next_page_token(absl::WebSafeBase64Escape(absl::StrCat(
        kTokenTag, ":", (*snap)->id, ":", ids[pos - 1].ToString(), ":", filter.fingerprint)));
  }
  return absl::OkStatus();
}

absl::Status Agent::StreamFlows(const v1::DumpFlowsRequest& req,
                                const std::function<bool(const v1::DumpFlowsResponse&)>& write) {
  v1::DumpFlowsRequest page = req;
  if (page.page_size() == 0) page.set_page_size(1000);
  while (true) {
    v1::DumpFlowsResponse resp;
    if (absl::Status s = DumpFlows(page, &resp); !s.ok()) return s;
    if (!write(resp)) return absl::OkStatus();
    if (resp.next_page_token().empty()) return absl::OkStatus();
    page.set_page_token(resp.next_page_token());
  }
}

absl::Status Agent::GetFlowStats(const v1::GetFlowStatsRequest& req,
                                 v1::GetFlowStatsResponse* resp) {
  std::vector<dpu::FlowId> ids;
  for (int i = 0; i < req.ids_size(); ++i) {
    absl::StatusOr<dpu::FlowId> id = dpu::FlowId::Parse(req.ids(i));
    if (!id.ok()) {
      return absl::InvalidArgumentError(absl::StrFormat("ids[%d]: %s", i, id.status().message()));
    }
    ids.push_back(*id);
  }
  LockFlowsForRead();
  absl::Cleanup unlock = [this] { UnlockFlowsForRead(); };
  const bool all = ids.empty();
  if (all) {
    absl::StatusOr<std::vector<dpu::FlowEntry>> dump = backend_->Dump();
    if (!dump.ok()) return dump.status();
    for (const auto& e : *dump) {
      for (const auto& a : e.rule.actions) {
        if (dpu::KindOf(a) == dpu::ActionKind::kCount) {
          ids.push_back(e.rule.id);
          break;
        }
      }
    }
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    absl::StatusOr<dpu::FlowStats> st = backend_->Stats(ids[i]);
    if (!st.ok()) {
      if (all && absl::IsUnimplemented(st.status())) continue;
      return absl::Status(
          st.status().code(),
          absl::StrFormat("ids[%d] (%s): %s", i, ids[i].ToString(), st.status().message()));
    }
    auto* out = resp->add_stats();
    out->set_id(ids[i].ToString());
    out->set_packets(st->packets);
    out->set_bytes(st->bytes);
    if (st->last_used) out->set_last_used_unix_nanos(absl::ToUnixNanos(*st->last_used));
  }
  return absl::OkStatus();
}

absl::Status Agent::CommitChainsLocked(const std::vector<dpu::ServiceChain>& chains, bool dry_run,
                                       v1::FlowPlan* plan_out) {
  absl::StatusOr<dpu::Plan> plan = chains_->PlanReplace(chains);
  if (!plan.ok()) return plan.status();
  FillPlan(*plan, plan_out);
  if (dry_run) return absl::OkStatus();
  absl::Status replaced = chains_->Replace(chains);
  ChainsChangedLocked();
  return replaced;
}

absl::Status Agent::ApplyChains(const v1::ApplyChainsRequest& req, v1::ApplyChainsResponse* resp) {
  absl::StatusOr<std::vector<dpu::ServiceChain>> parsed = dpu::ParseChainManifests(req.manifest());
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("manifest: ", parsed.status().message()));
  }
  if (parsed->empty()) return absl::InvalidArgumentError("manifest: no ServiceFunctionChain in it");
  absl::WriterMutexLock lock(&flow_mu_);
  std::vector<dpu::ServiceChain> next = chains_->chains();
  for (const auto& c : *parsed) {
    auto origin = chain_origin_.find(c.name);
    if (origin != chain_origin_.end() && origin->second == kOriginNf) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "manifest: chain \"%s\" belongs to a network function (Vendor.CreateNetworkFunction)",
          c.name));
    }
    auto it = std::find_if(next.begin(), next.end(),
                           [&](const dpu::ServiceChain& x) { return x.name == c.name; });
    if (it != next.end()) {
      *it = c;
    } else {
      next.push_back(c);
    }
    resp->add_chains(c.name);
  }
  if (absl::Status s = CommitChainsLocked(next, req.dry_run(), resp->mutable_plan()); !s.ok()) {
    return s;
  }
  if (req.dry_run()) return absl::OkStatus();
  resp->set_applied(true);
  for (const auto& c : *parsed) {
    chain_origin_[c.name] = kOriginManifest;
    Emit(MakeEvent(v1::CHAIN_APPLIED, "", "", c.name));
  }
  return absl::OkStatus();
}

absl::Status Agent::DeleteChain(const v1::DeleteChainRequest& req, v1::DeleteChainResponse* resp) {
  if (req.name().empty()) return absl::InvalidArgumentError("name: must not be empty");
  absl::WriterMutexLock lock(&flow_mu_);
  if (chains_->Find(req.name()) == nullptr) {
    if (req.allow_missing()) return absl::OkStatus();
    return absl::NotFoundError(absl::StrFormat("name: no chain \"%s\"", req.name()));
  }
  if (chain_origin_[req.name()] == kOriginNf) {
    return absl::FailedPreconditionError(
        absl::StrFormat("name: chain \"%s\" belongs to a network function; use "
                        "Vendor.NetworkFunctionService.DeleteNetworkFunction",
                        req.name()));
  }
  absl::StatusOr<dpu::Plan> plan = chains_->PlanRemove(req.name());
  if (!plan.ok()) return plan.status();
  FillPlan(*plan, resp->mutable_plan());
  if (req.dry_run()) return absl::OkStatus();
  absl::Status removed = chains_->Remove(req.name());
  ChainsChangedLocked();
  if (!removed.ok()) return removed;
  chain_origin_.erase(req.name());
  resp->set_applied(true);
  Emit(MakeEvent(v1::CHAIN_REMOVED, "", "", req.name()));
  return absl::OkStatus();
}

absl::Status Agent::ListChains(v1::ListChainsResponse* resp) {
  absl::ReaderMutexLock lock(&flow_mu_);  // Chain state only: no backend call.
  for (const auto& c : chains_->chains()) {
    auto* out = resp->add_chains();
    out->set_name(c.name);
    out->set_manifest(dpu::FormatChainManifest(c));
    auto origin = chain_origin_.find(c.name);
    out->set_origin(origin == chain_origin_.end() ? kOriginManifest : origin->second);
    for (const auto& r : chains_->rules()) {
      if (r.chain == c.name) out->add_rule_ids(r.rule.id.ToString());
    }
  }
  return absl::OkStatus();
}

}  // namespace dpu_agent
