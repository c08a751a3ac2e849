// Capability probe: which match fields and actions this kernel's TC flower accepts, found by
// adding one rule per field and per action kind to a veth pair in a throwaway network namespace.
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "backends/netlink/links.h"
#include "backends/netlink/netlink_backend.h"

// GCC 12 reports -Wmaybe-uninitialized false positives for the std::variant (Action) temporaries
// of the initializer lists below.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace dpu::netlink {
namespace {

constexpr char kDev0[] = "dpuprobe0";
constexpr char kDev1[] = "dpuprobe1";

uint64_t Bit(int i) { return uint64_t{1} << i; }

absl::StatusOr<dpu::Capabilities> Probe() {
  absl::StatusOr<std::unique_ptr<NlSocket>> sock_or = NlSocket::OpenInNewNetns();
  if (!sock_or.ok()) {
    return absl::Status(
        sock_or.status().code(),
        absl::StrCat(sock_or.status().message(),
                     " (the netlink backend needs CAP_NET_ADMIN and CAP_SYS_ADMIN)"));
  }
  NlSocket& sock = **sock_or;
  if (absl::Status s = CreateVethPair(sock, kDev0, kDev1); !s.ok()) return s;
  absl::StatusOr<int> i0 = LinkIndex(sock, kDev0);
  absl::StatusOr<int> i1 = LinkIndex(sock, kDev1);
  if (!i0.ok()) return i0.status();
  if (!i1.ok()) return i1.status();
  (void)SetLinkUp(sock, *i0);
  (void)SetLinkUp(sock, *i1);
  bool created = false;
  if (absl::Status s = EnsureClsact(sock, *i0, &created); !s.ok()) return s;

  PortIndexFn ports = [&](const PortRef& p) -> absl::StatusOr<int> {
    return p.name() == kDev1 ? *i1 : *i0;
  };
  uint16_t pref = 1;
  auto accepts = [&](FlowRule r) {
    r.in_port = PortRef(kDev0);
    r.id = FlowId(0x70726f6265, pref);
    if (r.actions.empty()) r.actions.push_back(DropAction{});
    MsgBuffer buf;
    Location loc{*i0, r.chain, pref++, 1};
    if (!EncodeNewFilter(buf, r, loc, NLM_F_CREATE | NLM_F_EXCL, 0, 0, ports).ok()) return false;
    return sock.Request(buf.At(0)).ok();
  };

  FlowRule ip4;
  ip4.match.eth_type = ETH_P_IP;
  FlowRule tcp = ip4;
  tcp.match.ip_proto = IPPROTO_TCP;
  FlowRule icmp = ip4;
  icmp.match.ip_proto = IPPROTO_ICMP;
  const MacAddress mac({0x02, 0, 0, 0, 0, 1});
  const MacAddress full = MacAddress::Broadcast();
  const MacAddress half({0xff, 0xff, 0xff, 0, 0, 0});
  const IpAddress a1 = IpAddress::V4(0x0a000001);

  dpu::Capabilities caps;
  caps.max_priority = kMaxPriority;
  caps.requires_in_port = true;
  caps.atomic_batches = false;
  caps.readback = true;
  caps.counters = true;

  // Per field: a rule with an exact value, and one with a partial mask (if the model allows).
  struct FieldProbe {
    MatchField field;
    std::function<void(FlowRule&)> exact;
    std::function<void(FlowRule&)> masked;
  };
  std::vector<FieldProbe> fields = {
      {MatchField::kSrcMac,
       [&](FlowRule& r) {
         r.match.src_mac = Masked<MacAddress>{mac, full};
       },
       [&](FlowRule& r) {
         r.match.src_mac = Masked<MacAddress>{MacAddress({2, 0, 0, 0, 0, 0}), half};
       }},
      {MatchField::kDstMac,
       [&](FlowRule& r) {
         r.match.dst_mac = Masked<MacAddress>{mac, full};
       },
       [&](FlowRule& r) {
         r.match.dst_mac = Masked<MacAddress>{MacAddress({2, 0, 0, 0, 0, 0}), half};
       }},
      {MatchField::kEthType, [&](FlowRule& r) { r = ip4; }, nullptr},
      {MatchField::kVlanId, [&](FlowRule& r) { r.match.vlan_id = 10; }, nullptr},
      {MatchField::kVlanPrio, [&](FlowRule& r) { r.match.vlan_id = 10, r.match.vlan_prio = 3; },
       nullptr},
      {MatchField::kIpProto, [&](FlowRule& r) { r = tcp; }, nullptr},
      {MatchField::kSrcIp, [&](FlowRule& r) { r = ip4, r.match.src_ip = IpPrefix::Host(a1); },
       [&](FlowRule& r) { r = ip4, r.match.src_ip = IpPrefix::Masked(a1, 8); }},
      {MatchField::kDstIp, [&](FlowRule& r) { r = ip4, r.match.dst_ip = IpPrefix::Host(a1); },
       [&](FlowRule& r) { r = ip4, r.match.dst_ip = IpPrefix::Masked(a1, 8); }},
      {MatchField::kIpTos,
       [&](FlowRule& r) {
         r = ip4, r.match.ip_tos = Masked<uint8_t>{0x10, 0xff};
       },
       [&](FlowRule& r) {
         r = ip4, r.match.ip_tos = Masked<uint8_t>{0x10, 0xf0};
       }},
      {MatchField::kIpTtl,
       [&](FlowRule& r) {
         r = ip4, r.match.ip_ttl = Masked<uint8_t>{64, 0xff};
       },
       [&](FlowRule& r) {
         r = ip4, r.match.ip_ttl = Masked<uint8_t>{64, 0xc0};
       }},
      {MatchField::kSrcPort,
       [&](FlowRule& r) {
         r = tcp, r.match.src_port = Masked<uint16_t>{80, 0xffff};
       },
       [&](FlowRule& r) {
         r = tcp, r.match.src_port = Masked<uint16_t>{0x100, 0xff00};
       }},
      {MatchField::kDstPort,
       [&](FlowRule& r) {
         r = tcp, r.match.dst_port = Masked<uint16_t>{80, 0xffff};
       },
       [&](FlowRule& r) {
         r = tcp, r.match.dst_port = Masked<uint16_t>{0x100, 0xff00};
       }},
      {MatchField::kTcpFlags,
       [&](FlowRule& r) {
         r = tcp, r.match.tcp_flags = Masked<uint16_t>{2, 0xfff};
       },
       [&](FlowRule& r) {
         r = tcp, r.match.tcp_flags = Masked<uint16_t>{2, 0x12};
       }},
      {MatchField::kEncKeyId, [&](FlowRule& r) { r.match.enc_key_id = 42; }, nullptr},
      {MatchField::kEncSrcIp, [&](FlowRule& r) { r.match.enc_src_ip = IpPrefix::Host(a1); },
       [&](FlowRule& r) { r.match.enc_src_ip = IpPrefix::Masked(a1, 8); }},
      {MatchField::kEncDstIp, [&](FlowRule& r) { r.match.enc_dst_ip = IpPrefix::Host(a1); },
       [&](FlowRule& r) { r.match.enc_dst_ip = IpPrefix::Masked(a1, 8); }},
      {MatchField::kEncDstPort, [&](FlowRule& r) { r.match.enc_dst_port = 4789; }, nullptr},
      {MatchField::kCtState,
       [&](FlowRule& r) {
         r.match.ct_state = Masked<uint8_t>{ct::kTracked | ct::kEstablished, ct::kAll};
       },
       [&](FlowRule& r) {
         r.match.ct_state = Masked<uint8_t>{ct::kTracked, ct::kTracked};
       }},
      {MatchField::kIcmpType,
       [&](FlowRule& r) {
         r = icmp, r.match.icmp_type = Masked<uint8_t>{8, 0xff};
       },
       [&](FlowRule& r) {
         r = icmp, r.match.icmp_type = Masked<uint8_t>{0, 0xf0};
       }},
      {MatchField::kIcmpCode,
       [&](FlowRule& r) {
         r = icmp, r.match.icmp_code = Masked<uint8_t>{0, 0xff};
       },
       [&](FlowRule& r) {
         r = icmp, r.match.icmp_code = Masked<uint8_t>{0, 0xf0};
       }},
  };
  for (const FieldProbe& p : fields) {
    FlowRule r;
    p.exact(r);
    if (!accepts(r)) continue;
    caps.match_fields |= Bit(static_cast<int>(p.field));
    if (p.masked) {
      FlowRule m;
      p.masked(m);
      if (accepts(m)) caps.masked_fields |= Bit(static_cast<int>(p.field));
    }
  }

  auto with = [&](FlowRule base, std::vector<Action> actions) {
    base.actions = std::move(actions);
    return base;
  };
  FlowRule vlan;
  vlan.match.vlan_id = 10;
  FlowRule enc;
  enc.match.enc_key_id = 42;
  FlowRule udp = ip4;
  udp.match.ip_proto = IPPROTO_UDP;
  SetFieldAction set_mac{SetField::kSrcMac, mac, {}, 0};
  SetFieldAction set_dmac{SetField::kDstMac, mac, {}, 0};
  SetFieldAction set_sip{SetField::kSrcIp, {}, a1, 0};
  SetFieldAction set_dip{SetField::kDstIp, {}, a1, 0};
  SetFieldAction set_sport{SetField::kSrcPort, {}, {}, 1234};
  SetFieldAction set_dport{SetField::kDstPort, {}, {}, 1234};
  TunnelEncapAction vx{TunnelType::kVxlan, 42, a1, IpAddress::V4(0x0a000002), 4789};
  TunnelEncapAction gn{TunnelType::kGeneve, 42, a1, IpAddress::V4(0x0a000002), 6081};
  FlowRule chain1;
  chain1.chain = 1;
  std::vector<std::pair<ActionKind, FlowRule>> actions = {
      {ActionKind::kDrop, with({}, {DropAction{}})},
      {ActionKind::kRedirect, with({}, {RedirectAction{PortRef(kDev1)}})},
      {ActionKind::kMirror, with({}, {MirrorAction{PortRef(kDev1)}, DropAction{}})},
      {ActionKind::kVlanPush, with({}, {VlanPushAction{100, 1}})},
      {ActionKind::kVlanPop, with(vlan, {VlanPopAction{}})},
      {ActionKind::kSetSrcMac, with({}, {set_mac})},
      {ActionKind::kSetDstMac, with({}, {set_dmac})},
      {ActionKind::kSetSrcIp, with(ip4, {set_sip})},
      {ActionKind::kSetDstIp, with(ip4, {set_dip})},
      {ActionKind::kSetSrcPort, with(udp, {set_sport})},
      {ActionKind::kSetDstPort, with(tcp, {set_dport})},
      {ActionKind::kVxlanEncap, with({}, {vx, RedirectAction{PortRef(kDev1)}})},
      {ActionKind::kGeneveEncap, with({}, {gn, RedirectAction{PortRef(kDev1)}})},
      {ActionKind::kTunnelDecap, with(enc, {TunnelDecapAction{}})},
      {ActionKind::kCount, with({}, {CountAction{}, DropAction{}})},
      {ActionKind::kPolice, with({}, {PoliceAction{1000000, 10000}})},
      {ActionKind::kGotoChain, with({}, {GotoChainAction{1}})},
  };
  for (auto& [kind, rule] : actions) {
    if (accepts(rule)) caps.actions |= Bit(static_cast<int>(kind));
  }
  caps.max_chain = accepts(with(chain1, {DropAction{}})) ? kMaxChain : 0;
  if (!caps.Supports(ActionKind::kGotoChain)) caps.max_chain = 0;
  return caps;
}

}  // namespace

namespace {

// Bump when Probe() changes what it tests or how, so results of an older probe are not reused.
constexpr int kProbeRevision = 2;  // 2: icmp_type, icmp_code.
constexpr char kDefaultCachePath[] = "/run/libdpu/netlink-caps";

// The whole content of a small file, or nullopt.
std::optional<std::string> ReadSmallFile(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[256];
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  if (n <= 0) return std::nullopt;
  return std::string(absl::StripAsciiWhitespace(absl::string_view(buf, static_cast<size_t>(n))));
}

}  // namespace

std::string ProbeCachePath() {
  const char* env = std::getenv("DPU_NETLINK_PROBE_CACHE");
  if (env == nullptr) return kDefaultCachePath;
  std::string v(env);
  if (v == "off" || v.empty()) return "";
  return v;
}

std::optional<std::string> ProbeCacheKey() {
  std::optional<std::string> boot = ReadSmallFile("/proc/sys/kernel/random/boot_id");
  if (!boot || boot->empty()) return std::nullopt;
  struct utsname u {};
  if (uname(&u) != 0) return std::nullopt;
  // depmod rewrites modules.dep whenever modules of this kernel are installed or removed.
  std::string modules = "none";
  struct stat st {};
  if (stat(absl::StrCat("/lib/modules/", u.release, "/modules.dep").c_str(), &st) == 0) {
    modules = absl::StrCat(st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, "/", st.st_size);
  }
  std::string key = absl::StrCat("probe=", kProbeRevision, " boot=", *boot, " release=", u.release,
                                 " modules=", modules);
  for (char& c : key) {
    if (c == '\n') c = ' ';
  }
  return key;
}

std::optional<dpu::Capabilities> ReadProbeCache(const std::string& path, const std::string& key) {
  if (path.empty()) return std::nullopt;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  // Trusted only when written by root or by this user, and writable by nobody else.
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
      (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || st.st_size > 4096) {
    close(fd);
    return std::nullopt;
  }
  char buf[4097];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return std::nullopt;
  dpu::Capabilities caps;
  caps.max_priority = kMaxPriority;
  caps.requires_in_port = true;
  caps.atomic_batches = false;
  caps.readback = true;
  caps.counters = true;
  bool key_ok = false;
  int fields = 0;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(buf, static_cast<size_t>(n)), '\n', absl::SkipEmpty())) {
    if (line.front() == '#') continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    if (kv.first == "key") {
      key_ok = kv.second == key;
      continue;
    }
    uint64_t v = 0;
    if (!absl::SimpleHexAtoi(kv.second, &v)) return std::nullopt;
    if (kv.first == "match_fields") {
      caps.match_fields = v, ++fields;
    } else if (kv.first == "masked_fields") {
      caps.masked_fields = v, ++fields;
    } else if (kv.first == "actions") {
      caps.actions = v, ++fields;
    } else if (kv.first == "max_chain") {
      caps.max_chain = static_cast<uint32_t>(v), ++fields;
    }
  }
  if (!key_ok || fields != 4) return std::nullopt;
  return caps;
}

bool WriteProbeCache(const std::string& path, const std::string& key,
                     const dpu::Capabilities& caps) {
  if (path.empty()) return false;
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  std::string tmp = absl::StrCat(path, ".tmp.XXXXXX");
  int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return false;
  std::string text = absl::StrCat(
      "# libdpu netlink backend: TC flower capabilities probed on this boot of this kernel\n"
      "# (docs/netlink-backend.md, \"Capabilities\"). Safe to delete: the next open re-probes.\n",
      "key ", key, "\nmatch_fields ", absl::Hex(caps.match_fields), "\nmasked_fields ",
      absl::Hex(caps.masked_fields), "\nactions ", absl::Hex(caps.actions), "\nmax_chain ",
      absl::Hex(caps.max_chain), "\n");
  bool ok = fchmod(fd, 0644) == 0 &&
            write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = close(fd) == 0 && ok;
  if (ok) ok = rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) unlink(tmp.c_str());
  return ok;
}

absl::StatusOr<dpu::Capabilities> ProbeCapabilities() {
  static absl::Mutex mu;
  static std::optional<absl::StatusOr<dpu::Capabilities>>* cached =
      new std::optional<absl::StatusOr<dpu::Capabilities>>();
  absl::MutexLock lock(&mu);
  if (cached->has_value()) return **cached;
  const std::string path = ProbeCachePath();
  std::optional<std::string> key = path.empty() ? std::nullopt : ProbeCacheKey();
  if (key) {
    if (std::optional<dpu::Capabilities> caps = ReadProbeCache(path, *key)) {
      *cached = *caps;
      return **cached;
    }
  }
  *cached = Probe();
  if (key && cached->value().ok()) (void)WriteProbeCache(path, *key, cached->value().value());
  return **cached;
}

}  // namespace dpu::netlink
