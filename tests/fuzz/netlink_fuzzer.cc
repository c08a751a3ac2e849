// Fuzz target: rtnetlink replies as the netlink backend receives them (backends/netlink): one
// receive buffer is walked by ProcessReplies() (acks, errors with extended ack text, DONE), and
// every data message is decoded as the backend does (RTM_NEWTFILTER by DecodeFilter(),
// RTM_NEWLINK by DecodeLink() and, as the port manager reads a PF's VFs, DecodeVfs()). Seeds are
// real kernel replies (capture-netlink-seeds.py in UML; link-vfs-* from netdevsim,
// capture-devlink-seeds.py in qemu).
//
// Checks, besides memory safety: a filter decoded as exact, valid and encodable encodes to a
// message that decodes back to the same rule (the dump -> plan -> apply round trip); decoded VFs
// come sorted by index, and a VF's MAC set request (EncodeVfSet()) decodes to its index and MAC.
#include <linux/rtnetlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "backends/netlink/links.h"
#include "backends/netlink/nl_socket.h"
#include "backends/netlink/tc_codec.h"
#include "backends/netlink/vf_codec.h"
#include "dpu/flow_rule.h"
#include "dpu/rule_text.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using dpu::netlink::DecodedFilter;

// Even ifindexes have a name, odd ones do not (the decoder then names the port by number).
std::string NameOf(int ifindex) {
  return ifindex % 2 == 0 ? absl::StrCat("eth", ifindex) : std::string();
}

absl::StatusOr<int> IndexOf(const dpu::PortRef& port) {
  absl::string_view name = port.name();
  int index = 0;
  if (absl::ConsumePrefix(&name, "eth") && absl::SimpleAtoi(name, &index)) return index;
  if (absl::SimpleAtoi(port.name(), &index)) return index;
  return absl::NotFoundError(absl::StrCat("no port ", port.name()));
}

void CheckRoundTrip(const DecodedFilter& f) {
  if (!f.is_filter || !f.flower || !f.exact.ok()) return;
  if (!dpu::ValidateRule(f.rule).ok() || !dpu::netlink::CheckEncodable(f.rule).ok()) return;
  dpu::netlink::MsgBuffer buf;
  absl::Status s = dpu::netlink::EncodeNewFilter(buf, f.rule, f.loc, 0, 1, f.flower_flags, IndexOf,
                                                 /*with_cookie=*/true);
  if (!s.ok()) return;  // e.g. a port the encoder cannot resolve
  absl::StatusOr<DecodedFilter> again = dpu::netlink::DecodeFilter(buf.At(0), NameOf);
  DPU_FUZZ_CHECK(again.ok(), again.status().ToString());
  DPU_FUZZ_CHECK(again->exact.ok(), dpu::FormatRule(f.rule) + ": " + again->exact.ToString());
  DPU_FUZZ_CHECK(again->rule == f.rule,
                 dpu::FormatRule(f.rule) + " re-decodes as " + dpu::FormatRule(again->rule));
}

void CheckVfs(const nlmsghdr* nlh) {
  uint32_t num_vfs = 0;
  absl::StatusOr<std::vector<dpu::VfInfo>> vfs = dpu::netlink::DecodeVfs(nlh, &num_vfs);
  if (!vfs.ok()) return;
  std::vector<char> buf(1024);
  for (size_t i = 0; i < vfs->size(); ++i) {
    const dpu::VfInfo& vf = (*vfs)[i];
    if (i > 0) DPU_FUZZ_CHECK((*vfs)[i - 1].index <= vf.index, "VFs out of order");
    nlmsghdr* req = dpu::netlink::EncodeVfSet(buf.data(), buf.size(), 3, vf.index,
                                              dpu::netlink::VfField::kMac, vf);
    uint32_t n = 0;
    absl::StatusOr<std::vector<dpu::VfInfo>> again = dpu::netlink::DecodeVfs(req, &n);
    DPU_FUZZ_CHECK(again.ok() && again->size() == 1, again.status().ToString());
    DPU_FUZZ_CHECK((*again)[0].index == vf.index && (*again)[0].mac == vf.mac,
                   absl::StrCat("VF ", vf.index, " ", vf.mac.ToString(), " re-decodes as ",
                                (*again)[0].index, " ", (*again)[0].mac.ToString()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < sizeof(nlmsghdr)) return 0;
  // A buffer of exactly the input's size (libFuzzer's is, too), aligned as recvmsg's would be.
  std::unique_ptr<char[]> buf(new char[size]);
  std::memcpy(buf.get(), data, size);
  nlmsghdr first;
  std::memcpy(&first, data, sizeof(first));

  absl::flat_hash_map<int, std::string> links;
  std::vector<dpu::netlink::NlError> errors;
  absl::Status data_status;
  auto on_data = [&](const nlmsghdr* nlh) -> absl::Status {
    if (nlh->nlmsg_type == RTM_NEWLINK) {
      CheckVfs(nlh);
      return dpu::netlink::DecodeLink(nlh, &links);
    }
    if (nlh->nlmsg_type == RTM_NEWTFILTER) {
      absl::StatusOr<DecodedFilter> f = dpu::netlink::DecodeFilter(nlh, NameOf);
      if (f.ok()) {
        (void)dpu::FormatRule(f->rule);
        CheckRoundTrip(*f);
      }
    }
    return absl::OkStatus();
  };
  (void)dpu::netlink::ProcessReplies(buf.get(), size, first.nlmsg_pid, first.nlmsg_seq, &errors,
                                     on_data, &data_status);
  for (const dpu::netlink::NlError& e : errors) {
    DPU_FUZZ_CHECK(e.error > 0, absl::StrCat("errno ", e.error, " is not an error"));
    (void)e.Describe();
    DPU_FUZZ_CHECK(e.msg.size() <= size, "extack text longer than the buffer");
  }
  return 0;
}
