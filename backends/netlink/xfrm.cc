// IpsecManager over NETLINK_XFRM (libmnl): SAs (XFRM_MSG_NEWSA/GETSA/DELSA/FLUSHSA), policies
// (XFRM_MSG_NEWPOLICY/GETPOLICY/DELPOLICY/FLUSHPOLICY), offload (XFRMA_OFFLOAD_DEV) checked
// against the device's ethtool features first. See docs/ipsec.md.

#include "backends/netlink/xfrm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <linux/udp.h>
#include <linux/xfrm.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "internal/ipsec_factory.h"
#include "internal/string_view.h"

#ifndef XFRM_OFFLOAD_PACKET
#define XFRM_OFFLOAD_PACKET 4
#endif

namespace dpu::netlink {
namespace {

using internal::Cat;
using internal::SV;

constexpr uint64_t kInf = XFRM_INF;

uint64_t ToKernelLimit(uint64_t v) { return v == 0 ? kInf : v; }
uint64_t FromKernelLimit(uint64_t v) { return v == kInf ? 0 : v; }

uint16_t Family(const IpAddress& a) { return a.is_v4() ? AF_INET : AF_INET6; }

void PutAddr(xfrm_address_t* out, const IpAddress& a) {
  std::memset(out, 0, sizeof(*out));
  std::memcpy(out, a.bytes().data(), a.size());
}

IpAddress GetAddr(const xfrm_address_t& in, uint16_t family) {
  const auto* b = reinterpret_cast<const uint8_t*>(&in);
  if (family == AF_INET6) {
    std::array<uint8_t, 16> bytes;
    std::memcpy(bytes.data(), b, 16);
    return IpAddress::V6(bytes);
  }
  return IpAddress::V4((uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) |
                       b[3]);
}

void PutSelector(xfrm_selector* sel, const IpsecSelector& s) {
  std::memset(sel, 0, sizeof(*sel));
  sel->family = Family(s.src.address());
  PutAddr(&sel->saddr, s.src.address());
  PutAddr(&sel->daddr, s.dst.address());
  sel->prefixlen_s = static_cast<uint8_t>(s.src.length());
  sel->prefixlen_d = static_cast<uint8_t>(s.dst.length());
  sel->proto = s.protocol;
  if (s.src_port != 0) {
    sel->sport = htons(s.src_port);
    sel->sport_mask = 0xffff;
  }
  if (s.dst_port != 0) {
    sel->dport = htons(s.dst_port);
    sel->dport_mask = 0xffff;
  }
}

IpsecSelector GetSelector(const xfrm_selector& sel) {
  IpsecSelector s;
  uint16_t fam = sel.family == AF_INET6 ? AF_INET6 : AF_INET;
  s.src = IpPrefix::Masked(GetAddr(sel.saddr, fam), sel.prefixlen_s);
  s.dst = IpPrefix::Masked(GetAddr(sel.daddr, fam), sel.prefixlen_d);
  s.protocol = sel.proto;
  if (sel.sport_mask != 0) s.src_port = ntohs(sel.sport);
  if (sel.dport_mask != 0) s.dst_port = ntohs(sel.dport);
  return s;
}

const char* AuthKernelName(IpsecAuth a) {
  switch (a) {
    case IpsecAuth::kHmacSha1:
      return "hmac(sha1)";
    case IpsecAuth::kHmacSha256:
      return "hmac(sha256)";
    case IpsecAuth::kHmacSha512:
      return "hmac(sha512)";
  }
  return "";
}

uint32_t DefaultIcvBits(IpsecAuth a) {
  switch (a) {
    case IpsecAuth::kHmacSha1:
      return 96;
    case IpsecAuth::kHmacSha256:
      return 128;
    case IpsecAuth::kHmacSha512:
      return 256;
  }
  return 0;
}

std::string Truncated(const char* s, size_t n) { return std::string(s, strnlen(s, n)); }

absl::Status KernelError(const NlError& e, std::string_view what) {
  return absl::Status(CodeForErrno(e.error), Cat(what, ": ", e.Describe()));
}

}  // namespace

nlmsghdr* PutNewSa(MsgBuffer* buf, const SecurityAssociation& sa, int ifindex) {
  nlmsghdr* nlh = buf->Begin(4096);
  nlh->nlmsg_type = XFRM_MSG_NEWSA;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  auto* p =
      static_cast<xfrm_usersa_info*>(mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_usersa_info)));
  p->family = Family(sa.dst);
  PutAddr(&p->id.daddr, sa.dst);
  PutAddr(&p->saddr, sa.src);
  p->id.spi = htonl(sa.spi);
  p->id.proto = IPPROTO_ESP;
  p->mode = sa.mode == IpsecMode::kTunnel ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
  p->reqid = sa.reqid;
  p->lft.soft_byte_limit = ToKernelLimit(sa.lifetime.soft_bytes);
  p->lft.hard_byte_limit = ToKernelLimit(sa.lifetime.hard_bytes);
  p->lft.soft_packet_limit = ToKernelLimit(sa.lifetime.soft_packets);
  p->lft.hard_packet_limit = ToKernelLimit(sa.lifetime.hard_packets);
  p->lft.soft_add_expires_seconds = sa.lifetime.soft_seconds;
  p->lft.hard_add_expires_seconds = sa.lifetime.hard_seconds;
  if (sa.replay_window <= 32) {
    p->replay_window = static_cast<uint8_t>(sa.replay_window);
  } else {
    // Windows above 32 packets travel as a bitmap state (as `ip xfrm` sends them).
    uint32_t words = (sa.replay_window + 31) / 32;
    std::vector<char> esn(sizeof(xfrm_replay_state_esn) + words * 4, 0);
    auto* r = reinterpret_cast<xfrm_replay_state_esn*>(esn.data());
    r->bmp_len = words;
    r->replay_window = sa.replay_window;
    mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, esn.size(), esn.data());
  }
  if (const auto* a = std::get_if<IpsecAead>(&sa.crypto)) {
    std::vector<char> v(sizeof(xfrm_algo_aead) + a->key.size(), 0);
    auto* alg = reinterpret_cast<xfrm_algo_aead*>(v.data());
    std::strncpy(alg->alg_name, "rfc4106(gcm(aes))", sizeof(alg->alg_name) - 1);
    alg->alg_key_len = static_cast<unsigned>(a->key.size() * 8);
    alg->alg_icv_len = a->icv_bits;
    std::memcpy(alg->alg_key, a->key.data(), a->key.size());
    mnl_attr_put(nlh, XFRMA_ALG_AEAD, v.size(), v.data());
  } else {
    const auto& c = std::get<IpsecCipherAuth>(sa.crypto);
    std::vector<char> v(sizeof(xfrm_algo) + c.cipher_key.size(), 0);
    auto* alg = reinterpret_cast<xfrm_algo*>(v.data());
    std::strncpy(alg->alg_name, "cbc(aes)", sizeof(alg->alg_name) - 1);
    alg->alg_key_len = static_cast<unsigned>(c.cipher_key.size() * 8);
    std::memcpy(alg->alg_key, c.cipher_key.data(), c.cipher_key.size());
    mnl_attr_put(nlh, XFRMA_ALG_CRYPT, v.size(), v.data());
    std::vector<char> w(sizeof(xfrm_algo_auth) + c.auth_key.size(), 0);
    auto* au = reinterpret_cast<xfrm_algo_auth*>(w.data());
    std::strncpy(au->alg_name, AuthKernelName(c.auth), sizeof(au->alg_name) - 1);
    au->alg_key_len = static_cast<unsigned>(c.auth_key.size() * 8);
    au->alg_trunc_len = c.icv_bits != 0 ? c.icv_bits : DefaultIcvBits(c.auth);
    std::memcpy(au->alg_key, c.auth_key.data(), c.auth_key.size());
    mnl_attr_put(nlh, XFRMA_ALG_AUTH_TRUNC, w.size(), w.data());
  }
  if (sa.natt) {
    xfrm_encap_tmpl e{};
    e.encap_type = UDP_ENCAP_ESPINUDP;
    e.encap_sport = htons(sa.natt->src_port);
    e.encap_dport = htons(sa.natt->dst_port);
    mnl_attr_put(nlh, XFRMA_ENCAP, sizeof(e), &e);
  }
  if (ifindex != 0) {
    xfrm_user_offload o{};
    o.ifindex = ifindex;
    if (sa.direction == SaDirection::kIn) o.flags |= XFRM_OFFLOAD_INBOUND;
    if (sa.dst.is_v6()) o.flags |= XFRM_OFFLOAD_IPV6;
    if (sa.offload.mode == IpsecOffloadMode::kPacket) o.flags |= XFRM_OFFLOAD_PACKET;
    mnl_attr_put(nlh, XFRMA_OFFLOAD_DEV, sizeof(o), &o);
  }
  buf->Commit(nlh);
  return nlh;
}

nlmsghdr* PutNewPolicy(MsgBuffer* buf, const IpsecPolicy& pol, int ifindex) {
  nlmsghdr* nlh = buf->Begin(4096);
  nlh->nlmsg_type = XFRM_MSG_NEWPOLICY;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  auto* p = static_cast<xfrm_userpolicy_info*>(
      mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_userpolicy_info)));
  PutSelector(&p->sel, pol.selector);
  p->lft.soft_byte_limit = kInf;
  p->lft.hard_byte_limit = kInf;
  p->lft.soft_packet_limit = kInf;
  p->lft.hard_packet_limit = kInf;
  p->priority = pol.priority;
  p->dir = pol.direction == PolicyDirection::kOut  ? XFRM_POLICY_OUT
           : pol.direction == PolicyDirection::kIn ? XFRM_POLICY_IN
                                                   : XFRM_POLICY_FWD;
  p->action = pol.action == PolicyAction::kAllow ? XFRM_POLICY_ALLOW : XFRM_POLICY_BLOCK;
  if (!pol.templates.empty()) {
    std::vector<xfrm_user_tmpl> t(pol.templates.size());
    for (size_t i = 0; i < t.size(); ++i) {
      const IpsecTemplate& s = pol.templates[i];
      std::memset(&t[i], 0, sizeof(t[i]));
      t[i].id.proto = IPPROTO_ESP;
      t[i].id.spi = htonl(s.spi);
      if (s.mode == IpsecMode::kTunnel) {
        t[i].family = Family(s.dst);
        PutAddr(&t[i].id.daddr, s.dst);
        PutAddr(&t[i].saddr, s.src);
      } else {
        t[i].family = p->sel.family;
      }
      t[i].reqid = s.reqid;
      t[i].mode = s.mode == IpsecMode::kTunnel ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
      t[i].optional = s.optional ? 1 : 0;
      t[i].aalgos = ~0u;
      t[i].ealgos = ~0u;
      t[i].calgos = ~0u;
    }
    mnl_attr_put(nlh, XFRMA_TMPL, t.size() * sizeof(xfrm_user_tmpl), t.data());
  }
  if (ifindex != 0) {
    xfrm_user_offload o{};
    o.ifindex = ifindex;
    o.flags = XFRM_OFFLOAD_PACKET;
    if (pol.direction == PolicyDirection::kIn) o.flags |= XFRM_OFFLOAD_INBOUND;
    if (pol.selector.src.is_v6()) o.flags |= XFRM_OFFLOAD_IPV6;
    mnl_attr_put(nlh, XFRMA_OFFLOAD_DEV, sizeof(o), &o);
  }
  buf->Commit(nlh);
  return nlh;
}

absl::StatusOr<SaState> ParseSa(const nlmsghdr* nlh,
                                const std::function<std::string(int)>& ifname) {
  if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(xfrm_usersa_info)) {
    return absl::InternalError("xfrm: short XFRM_MSG_NEWSA");
  }
  const auto* p = static_cast<const xfrm_usersa_info*>(mnl_nlmsg_get_payload(nlh));
  SaState st;
  SecurityAssociation& sa = st.sa;
  sa.spi = ntohl(p->id.spi);
  sa.dst = GetAddr(p->id.daddr, p->family);
  sa.src = GetAddr(p->saddr, p->family);
  sa.mode = p->mode == XFRM_MODE_TUNNEL ? IpsecMode::kTunnel : IpsecMode::kTransport;
  sa.reqid = p->reqid;
  sa.replay_window = p->replay_window;
  sa.lifetime.soft_bytes = FromKernelLimit(p->lft.soft_byte_limit);
  sa.lifetime.hard_bytes = FromKernelLimit(p->lft.hard_byte_limit);
  sa.lifetime.soft_packets = FromKernelLimit(p->lft.soft_packet_limit);
  sa.lifetime.hard_packets = FromKernelLimit(p->lft.hard_packet_limit);
  sa.lifetime.soft_seconds = p->lft.soft_add_expires_seconds;
  sa.lifetime.hard_seconds = p->lft.hard_add_expires_seconds;
  st.counters.bytes = p->curlft.bytes;
  st.counters.packets = p->curlft.packets;
  st.counters.add_time = p->curlft.add_time;
  st.counters.use_time = p->curlft.use_time;
  st.counters.replay_errors = p->stats.replay;
  st.counters.replay_window_errors = p->stats.replay_window;
  st.counters.integrity_failures = p->stats.integrity_failed;
  bool have_crypto = false;
  IpsecCipherAuth ca;
  bool have_cipher = false, have_auth = false;
  absl::Status err;
  ForEachAttr(nlh, sizeof(xfrm_usersa_info), [&](const nlattr* a) {
    const void* v = mnl_attr_get_payload(a);
    size_t len = mnl_attr_get_payload_len(a);
    switch (mnl_attr_get_type(a)) {
      case XFRMA_ALG_AEAD: {
        if (len < sizeof(xfrm_algo_aead)) break;
        const auto* alg = static_cast<const xfrm_algo_aead*>(v);
        size_t klen = alg->alg_key_len / 8;
        if (len < sizeof(xfrm_algo_aead) + klen) break;
        IpsecAead aead;
        aead.algorithm = klen == 36 ? AeadAlgorithm::kAesGcm256 : AeadAlgorithm::kAesGcm128;
        aead.key.assign(reinterpret_cast<const uint8_t*>(alg->alg_key),
                        reinterpret_cast<const uint8_t*>(alg->alg_key) + klen);
        aead.icv_bits = alg->alg_icv_len;
        std::string name = Truncated(alg->alg_name, sizeof(alg->alg_name));
        if (name != "rfc4106(gcm(aes))") {
          err = absl::UnimplementedError(Cat("SA ", sa.spi, ": AEAD ", name, " is not supported"));
        }
        sa.crypto = aead;
        have_crypto = true;
        break;
      }
      case XFRMA_ALG_CRYPT: {
        if (len < sizeof(xfrm_algo)) break;
        const auto* alg = static_cast<const xfrm_algo*>(v);
        size_t klen = alg->alg_key_len / 8;
        if (len < sizeof(xfrm_algo) + klen) break;
        std::string name = Truncated(alg->alg_name, sizeof(alg->alg_name));
        if (name != "cbc(aes)") {
          err =
              absl::UnimplementedError(Cat("SA ", sa.spi, ": cipher ", name, " is not supported"));
        }
        ca.cipher_key.assign(reinterpret_cast<const uint8_t*>(alg->alg_key),
                             reinterpret_cast<const uint8_t*>(alg->alg_key) + klen);
        have_cipher = true;
        break;
      }
      case XFRMA_ALG_AUTH_TRUNC: {
        if (len < sizeof(xfrm_algo_auth)) break;
        const auto* alg = static_cast<const xfrm_algo_auth*>(v);
        size_t klen = alg->alg_key_len / 8;
        if (len < sizeof(xfrm_algo_auth) + klen) break;
        std::string name = Truncated(alg->alg_name, sizeof(alg->alg_name));
        if (name == "hmac(sha1)") {
          ca.auth = IpsecAuth::kHmacSha1;
        } else if (name == "hmac(sha256)") {
          ca.auth = IpsecAuth::kHmacSha256;
        } else if (name == "hmac(sha512)") {
          ca.auth = IpsecAuth::kHmacSha512;
        } else {
          err = absl::UnimplementedError(Cat("SA ", sa.spi, ": auth ", name, " is not supported"));
        }
        ca.auth_key.assign(reinterpret_cast<const uint8_t*>(alg->alg_key),
                           reinterpret_cast<const uint8_t*>(alg->alg_key) + klen);
        ca.icv_bits = alg->alg_trunc_len == DefaultIcvBits(ca.auth) ? 0 : alg->alg_trunc_len;
        have_auth = true;
        break;
      }
      case XFRMA_ENCAP: {
        if (len < sizeof(xfrm_encap_tmpl)) break;
        const auto* e = static_cast<const xfrm_encap_tmpl*>(v);
        sa.natt = IpsecNatT{ntohs(e->encap_sport), ntohs(e->encap_dport)};
        break;
      }
      case XFRMA_OFFLOAD_DEV: {
        if (len < sizeof(xfrm_user_offload)) break;
        const auto* o = static_cast<const xfrm_user_offload*>(v);
        sa.offload.mode = (o->flags & XFRM_OFFLOAD_PACKET) != 0 ? IpsecOffloadMode::kPacket
                                                                : IpsecOffloadMode::kCrypto;
        sa.offload.device = ifname(o->ifindex);
        sa.direction =
            (o->flags & XFRM_OFFLOAD_INBOUND) != 0 ? SaDirection::kIn : SaDirection::kOut;
        break;
      }
      case XFRMA_REPLAY_VAL: {
        if (len < sizeof(xfrm_replay_state)) break;
        const auto* r = static_cast<const xfrm_replay_state*>(v);
        st.out_seq = r->oseq;
        st.in_seq = r->seq;
        break;
      }
      case XFRMA_REPLAY_ESN_VAL: {
        if (len < sizeof(xfrm_replay_state_esn)) break;
        const auto* r = static_cast<const xfrm_replay_state_esn*>(v);
        st.out_seq = r->oseq;
        st.in_seq = r->seq;
        sa.replay_window = r->replay_window;
        break;
      }
      default:
        break;
    }
  });
  if (!err.ok()) return err;
  if (!have_crypto) {
    if (!have_cipher || !have_auth) {
      return absl::UnimplementedError(
          Cat("SA ", SaId{sa.dst, sa.spi}.ToString(), ": no AEAD and no cipher + auth pair"));
    }
    sa.crypto = ca;
  }
  return st;
}

absl::StatusOr<PolicyState> ParsePolicy(const nlmsghdr* nlh,
                                        const std::function<std::string(int)>& ifname) {
  if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(xfrm_userpolicy_info)) {
    return absl::InternalError("xfrm: short XFRM_MSG_NEWPOLICY");
  }
  const auto* p = static_cast<const xfrm_userpolicy_info*>(mnl_nlmsg_get_payload(nlh));
  PolicyState st;
  IpsecPolicy& pol = st.policy;
  pol.selector = GetSelector(p->sel);
  pol.priority = p->priority;
  pol.direction = p->dir == XFRM_POLICY_OUT  ? PolicyDirection::kOut
                  : p->dir == XFRM_POLICY_IN ? PolicyDirection::kIn
                                             : PolicyDirection::kFwd;
  pol.action = p->action == XFRM_POLICY_ALLOW ? PolicyAction::kAllow : PolicyAction::kBlock;
  st.index = p->index;
  st.add_time = p->curlft.add_time;
  st.use_time = p->curlft.use_time;
  ForEachAttr(nlh, sizeof(xfrm_userpolicy_info), [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == XFRMA_OFFLOAD_DEV &&
        mnl_attr_get_payload_len(a) >= sizeof(xfrm_user_offload)) {
      const auto* o = static_cast<const xfrm_user_offload*>(mnl_attr_get_payload(a));
      if (o->flags & XFRM_OFFLOAD_PACKET) {
        pol.offload.mode = IpsecOffloadMode::kPacket;
        pol.offload.device = ifname ? ifname(o->ifindex) : Cat("ifindex ", o->ifindex);
      }
      return;
    }
    if (mnl_attr_get_type(a) != XFRMA_TMPL) return;
    size_t n = mnl_attr_get_payload_len(a) / sizeof(xfrm_user_tmpl);
    const auto* t = static_cast<const xfrm_user_tmpl*>(mnl_attr_get_payload(a));
    for (size_t i = 0; i < n; ++i) {
      IpsecTemplate tm;
      tm.mode = t[i].mode == XFRM_MODE_TUNNEL ? IpsecMode::kTunnel : IpsecMode::kTransport;
      if (tm.mode == IpsecMode::kTunnel) {
        tm.src = GetAddr(t[i].saddr, t[i].family);
        tm.dst = GetAddr(t[i].id.daddr, t[i].family);
      }
      tm.reqid = t[i].reqid;
      tm.spi = ntohl(t[i].id.spi);
      tm.optional = t[i].optional != 0;
      pol.templates.push_back(tm);
    }
  });
  return st;
}

namespace {

// Runs @p f on a short-lived thread inside the namespace @p netns (empty: the caller's).
template <typename F>
absl::Status InNetns(const std::string& netns, F f) {
  if (netns.empty()) return f();
  int nsfd = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    int err = errno;
    return absl::Status(CodeForErrno(err), Cat("network namespace ", netns, ": ", strerror(err)));
  }
  absl::Status result;
  std::thread t([&] {
    if (setns(nsfd, CLONE_NEWNET) != 0) {
      result = absl::Status(CodeForErrno(errno), Cat("setns ", netns, ": ", strerror(errno)));
      return;
    }
    result = f();
  });
  t.join();
  close(nsfd);
  return result;
}

bool SameConfig(const SecurityAssociation& a, const SecurityAssociation& b) {
  // The kernel does not keep the direction of a software SA (Linux 6.1); compare the rest.
  SecurityAssociation x = a, y = b;
  if (x.offload.mode == IpsecOffloadMode::kNone) x.direction = y.direction;
  x.offload.allow_fallback = y.offload.allow_fallback;
  return x == y;
}

class XfrmManager : public IpsecManager {
 public:
  XfrmManager(std::unique_ptr<NlSocket> sock, int ioctl_fd)
      : sock_(std::move(sock)), ioctl_fd_(ioctl_fd) {}
  ~XfrmManager() override {
    if (ioctl_fd_ >= 0) close(ioctl_fd_);
  }

  absl::StatusOr<IpsecOffloadCapabilities> OffloadCapabilities(std::string_view device) override {
    IpsecOffloadCapabilities c;
    c.device = std::string(device);
    absl::StatusOr<int> idx = IfIndex(device);
    if (!idx.ok()) return idx.status();
    absl::StatusOr<bool> esp = HasEspOffload(c.device);
    if (!esp.ok()) return esp.status();
    if (!*esp) {
      c.crypto_reason = Cat(device,
                            " has no IPsec offload: its ethtool feature esp-hw-offload is off or "
                            "absent (the driver implements no xfrmdev_ops)");
      c.packet_reason = c.crypto_reason;
    } else {
      c.crypto = true;
    }
    utsname u{};
    uname(&u);
    int major = 0, minor = 0;
    sscanf(u.release, "%d.%d", &major, &minor);
    bool kernel_packet = major > 6 || (major == 6 && minor >= 2);
    if (c.packet_reason.empty() && !kernel_packet) {
      c.packet_reason = Cat("kernel ", u.release,
                            " has no XFRM packet offload (XFRM_OFFLOAD_PACKET came in Linux 6.2)");
    }
    c.packet = c.crypto && kernel_packet;
    return c;
  }

  absl::StatusOr<InstallReport> Install(const IpsecBundle& bundle) override {
    if (absl::Status s = internal::ValidateBundle(bundle); !s.ok()) return s;
    InstallReport report;
    std::vector<int> ifindex;
    if (absl::Status s = Prepare(bundle, {}, &ifindex, &report); !s.ok()) return s;
    std::vector<bool> sa_skip(bundle.sas.size(), false), pol_skip(bundle.policies.size(), false);
    if (absl::Status s = Apply(bundle, ifindex, sa_skip, pol_skip, {}); !s.ok()) return s;
    return report;
  }

  absl::StatusOr<InstallReport> Rekey(const std::vector<SaId>& old_out,
                                      const std::vector<SaId>& old_in,
                                      const IpsecBundle& replacement) override {
    if (absl::Status s = internal::ValidateBundle(replacement); !s.ok()) return s;
    for (const auto* list : {&old_out, &old_in}) {
      for (const SaId& id : *list) {
        absl::StatusOr<SaState> st = GetSa(id);
        if (!st.ok()) return st.status();
      }
    }
    // What of the replacement is installed already (identically: kept; differently: refused).
    absl::StatusOr<std::vector<SaState>> sas = ListSas();
    if (!sas.ok()) return sas.status();
    absl::StatusOr<std::vector<PolicyState>> pols = ListPolicies();
    if (!pols.ok()) return pols.status();
    std::vector<bool> sa_skip(replacement.sas.size(), false);
    std::vector<bool> pol_skip(replacement.policies.size(), false);
    for (size_t i = 0; i < replacement.sas.size(); ++i) {
      for (const SaState& s : *sas) {
        if (IdOf(s.sa) != IdOf(replacement.sas[i])) continue;
        if (!SameConfig(replacement.sas[i], s.sa)) {
          return absl::AlreadyExistsError(Cat("sas[", i, "].spi: ", IdOf(s.sa).ToString(),
                                              " is installed with another configuration"));
        }
        sa_skip[i] = true;
      }
    }
    for (size_t i = 0; i < replacement.policies.size(); ++i) {
      for (const PolicyState& p : *pols) {
        if (p.policy == replacement.policies[i]) pol_skip[i] = true;
      }
    }
    InstallReport report;
    std::vector<int> ifindex;
    if (absl::Status s = Prepare(replacement, pol_skip, &ifindex, &report); !s.ok()) return s;
    if (absl::Status s = Apply(replacement, ifindex, sa_skip, pol_skip, /*inbound_first=*/true);
        !s.ok()) {
      return s;
    }
    for (const auto* list : {&old_out, &old_in}) {
      for (const SaId& id : *list) {
        bool replaced_by_itself = false;
        for (const SecurityAssociation& n : replacement.sas) {
          if (IdOf(n) == id) replaced_by_itself = true;
        }
        if (replaced_by_itself) continue;
        if (absl::Status s = DeleteSa(id); !s.ok()) {
          return absl::Status(s.code(), Cat("rekey: the replacement is installed but deleting ",
                                            id.ToString(), " failed: ", SV(s.message())));
        }
      }
    }
    return report;
  }

  absl::StatusOr<InstallReport> ReplacePolicies(const std::vector<IpsecPolicy>& policies) override {
    IpsecBundle b;
    b.policies = policies;
    if (absl::Status s = internal::ValidateBundle(b); !s.ok()) return s;
    absl::StatusOr<std::vector<PolicyState>> installed = ListPolicies();
    if (!installed.ok()) return installed.status();
    std::vector<std::optional<IpsecPolicy>> old(policies.size());
    for (size_t i = 0; i < policies.size(); ++i) {
      const IpsecPolicy& p = policies[i];
      for (const PolicyState& q : *installed) {
        if (IdOf(q.policy) == IdOf(p)) {
          old[i] = q.policy;
          continue;
        }
        if (q.policy.direction == p.direction && q.policy.priority == p.priority &&
            q.policy.selector.Overlaps(p.selector)) {
          return absl::InvalidArgumentError(
              Cat("policies[", i, "].selector: overlaps the installed policy ",
                  q.policy.selector.src.ToString(), " -> ", q.policy.selector.dst.ToString(),
                  " (same direction ", PolicyDirectionName(p.direction), " and priority ",
                  p.priority, ")"));
        }
      }
    }
    InstallReport report;
    std::vector<int> ifindex(policies.size(), 0);
    for (size_t i = 0; i < policies.size(); ++i) {
      const IpsecPolicy& p = policies[i];
      if (absl::Status s =
              OffloadTo(p.offload, Cat("policies[", i, "].offload."),
                        Cat("policy ", p.selector.src.ToString(), " -> ", p.selector.dst.ToString(),
                            " dir ", PolicyDirectionName(p.direction)),
                        &ifindex[i], &report);
          !s.ok()) {
        return s;
      }
    }
    auto update = [&](const IpsecPolicy& p, int idx) -> absl::StatusOr<NlError> {
      MsgBuffer buf;
      nlmsghdr* nlh = PutNewPolicy(&buf, p, idx);
      nlh->nlmsg_type = XFRM_MSG_UPDPOLICY;
      return sock_->RequestRaw(nlh);
    };
    for (size_t i = 0; i < policies.size(); ++i) {
      absl::StatusOr<NlError> e = update(policies[i], ifindex[i]);
      if (e.ok() && e->error == 0) continue;
      // Put back what was there before, newest first.
      for (size_t j = i; j-- > 0;) {
        if (old[j]) {
          // Put back as read (an offloaded one on its device).
          int idx = 0;
          if (old[j]->offload.mode == IpsecOffloadMode::kPacket) {
            absl::StatusOr<int> i2 = IfIndex(old[j]->offload.device);
            if (i2.ok()) idx = *i2;
          }
          (void)update(*old[j], idx);
        } else {
          (void)DeletePolicy(IdOf(policies[j]));
        }
      }
      if (!e.ok()) return e.status();
      return absl::Status(CodeForErrno(e->error),
                          Cat("policies[", i, "]: the kernel refused it: ", e->Describe(),
                              "; the policies are as they were"));
    }
    return report;
  }

  absl::StatusOr<std::vector<SaState>> ListSas() override {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = XFRM_MSG_GETSA;
    std::vector<SaState> out;
    absl::Status s = sock_->Dump(nlh, [&](const nlmsghdr* m) -> absl::Status {
      if (m->nlmsg_type != XFRM_MSG_NEWSA) return absl::OkStatus();
      const auto* p = static_cast<const xfrm_usersa_info*>(mnl_nlmsg_get_payload(m));
      if (p->id.proto != IPPROTO_ESP) return absl::OkStatus();
      absl::StatusOr<SaState> st = ParseSa(m, [&](int i) { return IfName(i); });
      if (!st.ok()) return st.status();
      out.push_back(std::move(*st));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<SaState> GetSa(const SaId& id) override {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh = PutSaId(buf, XFRM_MSG_GETSA, id);
    std::optional<SaState> got;
    absl::Status perr;
    absl::StatusOr<NlError> e = sock_->RequestRaw(nlh, [&](const nlmsghdr* m) -> absl::Status {
      if (m->nlmsg_type != XFRM_MSG_NEWSA) return absl::OkStatus();
      absl::StatusOr<SaState> st = ParseSa(m, [&](int i) { return IfName(i); });
      if (!st.ok()) return st.status();
      got = std::move(*st);
      return absl::OkStatus();
    });
    if (!e.ok()) return e.status();
    if (e->error == ESRCH || e->error == ENOENT) {
      return absl::NotFoundError(Cat("SA ", id.ToString(), " is not installed"));
    }
    if (e->error != 0) return KernelError(*e, Cat("get SA ", id.ToString()));
    if (!got) return absl::NotFoundError(Cat("SA ", id.ToString(), " is not installed"));
    return *got;
  }

  absl::Status DeleteSa(const SaId& id) override {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh = PutSaId(buf, XFRM_MSG_DELSA, id);
    absl::StatusOr<NlError> e = sock_->RequestRaw(nlh);
    if (!e.ok()) return e.status();
    if (e->error == ESRCH || e->error == ENOENT) {
      return absl::NotFoundError(Cat("SA ", id.ToString(), " is not installed"));
    }
    if (e->error != 0) return KernelError(*e, Cat("delete SA ", id.ToString()));
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<PolicyState>> ListPolicies() override {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = XFRM_MSG_GETPOLICY;
    std::vector<PolicyState> out;
    absl::Status s = sock_->Dump(nlh, [&](const nlmsghdr* m) -> absl::Status {
      if (m->nlmsg_type != XFRM_MSG_NEWPOLICY) return absl::OkStatus();
      const auto* p = static_cast<const xfrm_userpolicy_info*>(mnl_nlmsg_get_payload(m));
      // Per-socket policies (dir >= XFRM_POLICY_MAX) are not the namespace's.
      if (p->dir >= XFRM_POLICY_MAX) return absl::OkStatus();
      absl::StatusOr<PolicyState> st = ParsePolicy(m, [&](int i) { return IfName(i); });
      if (!st.ok()) return st.status();
      out.push_back(std::move(*st));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::Status DeletePolicy(const PolicyId& id) override {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh = PutPolicyId(buf, id);
    absl::StatusOr<NlError> e = sock_->RequestRaw(nlh);
    if (!e.ok()) return e.status();
    std::string name = Cat("policy ", id.selector.src.ToString(), " -> ",
                           id.selector.dst.ToString(), " dir ", PolicyDirectionName(id.direction));
    if (e->error == ENOENT || e->error == ESRCH) {
      return absl::NotFoundError(Cat(name, " is not installed"));
    }
    if (e->error != 0) return KernelError(*e, Cat("delete ", name));
    return absl::OkStatus();
  }

  absl::Status Flush() override {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = XFRM_MSG_FLUSHPOLICY;
    if (absl::Status s = sock_->Request(nlh); !s.ok()) return s;
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = XFRM_MSG_FLUSHSA;
    auto* f =
        static_cast<xfrm_usersa_flush*>(mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_usersa_flush)));
    f->proto = IPPROTO_ESP;
    return sock_->Request(nlh);
  }

 private:
  static nlmsghdr* PutSaId(char* buf, uint16_t type, const SaId& id) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    auto* p = static_cast<xfrm_usersa_id*>(mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_usersa_id)));
    PutAddr(&p->daddr, id.dst);
    p->spi = htonl(id.spi);
    p->family = Family(id.dst);
    p->proto = IPPROTO_ESP;
    return nlh;
  }

  static nlmsghdr* PutPolicyId(char* buf, const PolicyId& id) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = XFRM_MSG_DELPOLICY;
    auto* p = static_cast<xfrm_userpolicy_id*>(
        mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_userpolicy_id)));
    PutSelector(&p->sel, id.selector);
    p->dir = id.direction == PolicyDirection::kOut  ? XFRM_POLICY_OUT
             : id.direction == PolicyDirection::kIn ? XFRM_POLICY_IN
                                                    : XFRM_POLICY_FWD;
    return nlh;
  }

  absl::StatusOr<int> IfIndex(std::string_view device) {
    ifreq ifr{};
    if (device.empty() || device.size() >= IFNAMSIZ) {
      return absl::InvalidArgumentError(Cat("device: '", device, "' is not a device name"));
    }
    std::memcpy(ifr.ifr_name, device.data(), device.size());
    if (ioctl(ioctl_fd_, SIOCGIFINDEX, &ifr) != 0) {
      return absl::NotFoundError(Cat("device: no network device '", device, "' in this namespace"));
    }
    return ifr.ifr_ifindex;
  }

  std::string IfName(int index) {
    ifreq ifr{};
    ifr.ifr_ifindex = index;
    if (ioctl(ioctl_fd_, SIOCGIFNAME, &ifr) != 0) return Cat("ifindex ", index);
    return Truncated(ifr.ifr_name, IFNAMSIZ);
  }

  // The "esp-hw-offload" ethtool feature of @p dev, active or not.
  absl::StatusOr<bool> HasEspOffload(const std::string& dev) {
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, dev.c_str(), IFNAMSIZ - 1);
    std::vector<char> info(sizeof(ethtool_sset_info) + sizeof(uint32_t), 0);
    auto* si = reinterpret_cast<ethtool_sset_info*>(info.data());
    si->cmd = ETHTOOL_GSSET_INFO;
    si->sset_mask = 1ull << ETH_SS_FEATURES;
    ifr.ifr_data = reinterpret_cast<char*>(si);
    if (ioctl(ioctl_fd_, SIOCETHTOOL, &ifr) != 0 || si->sset_mask == 0) return false;
    uint32_t n = si->data[0];
    std::vector<char> strs(sizeof(ethtool_gstrings) + size_t{n} * ETH_GSTRING_LEN, 0);
    auto* gs = reinterpret_cast<ethtool_gstrings*>(strs.data());
    gs->cmd = ETHTOOL_GSTRINGS;
    gs->string_set = ETH_SS_FEATURES;
    gs->len = n;
    ifr.ifr_data = reinterpret_cast<char*>(gs);
    if (ioctl(ioctl_fd_, SIOCETHTOOL, &ifr) != 0) return false;
    int bit = -1;
    for (uint32_t i = 0; i < n; ++i) {
      const char* s = reinterpret_cast<const char*>(gs->data) + size_t{i} * ETH_GSTRING_LEN;
      if (Truncated(s, ETH_GSTRING_LEN) == "esp-hw-offload") bit = static_cast<int>(i);
    }
    if (bit < 0) return false;
    uint32_t blocks = (n + 31) / 32;
    std::vector<char> fb(sizeof(ethtool_gfeatures) + blocks * sizeof(ethtool_get_features_block),
                         0);
    auto* gf = reinterpret_cast<ethtool_gfeatures*>(fb.data());
    gf->cmd = ETHTOOL_GFEATURES;
    gf->size = blocks;
    ifr.ifr_data = reinterpret_cast<char*>(gf);
    if (ioctl(ioctl_fd_, SIOCETHTOOL, &ifr) != 0) return false;
    return (gf->features[bit / 32].active & (1u << (bit % 32))) != 0;
  }

  // Where @p req offloads to: the device's ifindex, or 0 (software) when it asks for none or
  // cannot and allows fallback (then a note names @p what). @p field prefixes the errors.
  absl::Status OffloadTo(const IpsecOffloadRequest& req, const std::string& field,
                         const std::string& what, int* ifindex, InstallReport* report) {
    *ifindex = 0;
    if (req.mode == IpsecOffloadMode::kNone) return absl::OkStatus();
    absl::StatusOr<IpsecOffloadCapabilities> c = OffloadCapabilities(req.device);
    if (!c.ok()) return absl::Status(c.status().code(), Cat(field, SV(c.status().message())));
    bool can = req.mode == IpsecOffloadMode::kCrypto ? c->crypto : c->packet;
    const std::string& why =
        req.mode == IpsecOffloadMode::kCrypto ? c->crypto_reason : c->packet_reason;
    if (can) {
      absl::StatusOr<int> idx = IfIndex(req.device);
      if (!idx.ok()) return idx.status();
      *ifindex = *idx;
      return absl::OkStatus();
    }
    if (!req.allow_fallback) {
      return absl::FailedPreconditionError(
          Cat(field, "mode: ", IpsecOffloadModeName(req.mode), " offload refused: ", why));
    }
    report->notes.push_back(Cat(what, ": ", IpsecOffloadModeName(req.mode),
                                " offload not possible (", why,
                                "); installed without offload (kernel software ESP) as "
                                "allow_fallback permits"));
    return absl::OkStatus();
  }

  // Checks the offload of every SA and policy and the overlap of new policies with installed
  // ones; fills @p ifindex (SAs, then policies; 0 = software) and notes of fallbacks.
  absl::Status Prepare(const IpsecBundle& b, const std::vector<bool>& pol_skip,
                       std::vector<int>* ifindex, InstallReport* report) {
    ifindex->assign(b.sas.size() + b.policies.size(), 0);
    for (size_t i = 0; i < b.sas.size(); ++i) {
      const SecurityAssociation& sa = b.sas[i];
      if (absl::Status s = OffloadTo(sa.offload, Cat("sas[", i, "].offload."),
                                     Cat("SA ", IdOf(sa).ToString()), &(*ifindex)[i], report);
          !s.ok()) {
        return s;
      }
    }
    for (size_t i = 0; i < b.policies.size(); ++i) {
      const IpsecPolicy& p = b.policies[i];
      if (absl::Status s =
              OffloadTo(p.offload, Cat("policies[", i, "].offload."),
                        Cat("policy ", p.selector.src.ToString(), " -> ", p.selector.dst.ToString(),
                            " dir ", PolicyDirectionName(p.direction)),
                        &(*ifindex)[b.sas.size() + i], report);
          !s.ok()) {
        return s;
      }
    }
    if (b.policies.empty()) return absl::OkStatus();
    absl::StatusOr<std::vector<PolicyState>> installed = ListPolicies();
    if (!installed.ok()) return installed.status();
    for (size_t i = 0; i < b.policies.size(); ++i) {
      if (!pol_skip.empty() && pol_skip[i]) continue;
      const IpsecPolicy& p = b.policies[i];
      for (const PolicyState& q : *installed) {
        if (q.policy.direction == p.direction && q.policy.priority == p.priority &&
            q.policy.selector.Overlaps(p.selector)) {
          return absl::InvalidArgumentError(
              Cat("policies[", i, "].selector: overlaps the installed policy ",
                  q.policy.selector.src.ToString(), " -> ", q.policy.selector.dst.ToString(),
                  " (same direction ", PolicyDirectionName(p.direction), " and priority ",
                  p.priority, ")"));
        }
      }
    }
    return absl::OkStatus();
  }

  // Sends the SAs (inbound first when @p inbound_first) and policies not skipped in one batch;
  // when the kernel refuses one, removes those it accepted and returns its error.
  absl::Status Apply(const IpsecBundle& b, const std::vector<int>& ifindex,
                     const std::vector<bool>& sa_skip, const std::vector<bool>& pol_skip,
                     bool inbound_first) {
    MsgBuffer buf;
    struct Sent {
      uint32_t seq;
      bool is_sa;
      size_t index;
    };
    std::vector<Sent> sent;
    std::vector<size_t> order;
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t i = 0; i < b.sas.size(); ++i) {
        bool in = b.sas[i].direction == SaDirection::kIn;
        if (inbound_first ? (pass == 0) != in : pass == 1) continue;
        order.push_back(i);
      }
    }
    for (size_t i : order) {
      if (sa_skip[i]) continue;
      nlmsghdr* nlh = PutNewSa(&buf, b.sas[i], ifindex[i]);
      nlh->nlmsg_seq = sock_->NextSeq();
      sent.push_back({nlh->nlmsg_seq, true, i});
    }
    for (size_t i = 0; i < b.policies.size(); ++i) {
      if (pol_skip[i]) continue;
      nlmsghdr* nlh = PutNewPolicy(&buf, b.policies[i], ifindex[b.sas.size() + i]);
      nlh->nlmsg_seq = sock_->NextSeq();
      sent.push_back({nlh->nlmsg_seq, false, i});
    }
    if (sent.empty()) return absl::OkStatus();
    if (absl::Status s = sock_->Send(buf.data(), buf.size()); !s.ok()) return s;
    std::vector<NlError> errors;
    if (absl::Status s = sock_->Collect(sent.back().seq, &errors); !s.ok()) return s;
    if (errors.empty()) return absl::OkStatus();
    // Roll back what was accepted, then report the first refusal naming its element.
    const NlError& first = errors.front();
    std::string what;
    for (const Sent& s : sent) {
      bool failed = false;
      for (const NlError& e : errors) failed |= e.seq == s.seq;
      if (s.seq == first.seq) {
        what = s.is_sa ? Cat("sas[", s.index, "] (SA ", IdOf(b.sas[s.index]).ToString(), ")")
                       : Cat("policies[", s.index, "]");
      }
      if (failed) continue;
      if (s.is_sa) {
        (void)DeleteSa(IdOf(b.sas[s.index]));
      } else {
        (void)DeletePolicy(IdOf(b.policies[s.index]));
      }
    }
    return absl::Status(CodeForErrno(first.error),
                        Cat(what, ": the kernel refused it: ", first.Describe(),
                            "; nothing of the bundle was kept"));
  }

  std::unique_ptr<NlSocket> sock_;
  int ioctl_fd_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<IpsecManager>> CreateIpsecManager(
    const IpsecManagerOptions& options) {
  absl::StatusOr<std::unique_ptr<NlSocket>> sock =
      options.netns.empty() ? NlSocket::Open(NETLINK_XFRM)
                            : NlSocket::OpenInNetns(options.netns, NETLINK_XFRM);
  if (!sock.ok()) {
    if (sock.status().code() == absl::StatusCode::kUnimplemented) {
      return absl::UnimplementedError(
          Cat("NETLINK_XFRM is not available (load xfrm_user): ", SV(sock.status().message())));
    }
    return sock.status();
  }
  int fd = -1;
  absl::Status s = InNetns(options.netns, [&]() -> absl::Status {
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(Cat("socket: ", strerror(errno)));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return std::unique_ptr<IpsecManager>(new XfrmManager(std::move(*sock), fd));
}

void RegisterIpsecManager() { internal::SetIpsecManagerFactory(CreateIpsecManager); }

}  // namespace dpu::netlink
