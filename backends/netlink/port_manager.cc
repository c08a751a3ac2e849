// PortManager over rtnetlink (IFLA_VF_*), devlink (generic netlink) and sysfs (sriov_numvfs).

#include "backends/netlink/port_manager.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backends/netlink/devlink.h"
#include "backends/netlink/links.h"
#include "backends/netlink/nl_socket.h"
#include "backends/netlink/vf_codec.h"
#include "discovery/sysfs.h"
#include "internal/port_manager_factory.h"
#include "internal/string_view.h"

namespace dpu::netlink {
namespace {

using internal::AV;
using internal::Cat;
using internal::SV;
namespace sysfs = discovery_internal;

constexpr size_t kBufSize = 8192;

char* Buf() {
  thread_local char buf[kBufSize];
  return buf;
}

absl::Status Prefix(const absl::Status& s, std::string_view what) {
  if (s.ok()) return s;
  return absl::Status(s.code(), Cat(what, ": ", SV(s.message())));
}

// A PF resolved to everything the calls need.
struct Pf {
  std::string name;        // As the caller gave it.
  std::string device_dir;  // sysfs directory of the device (resolved, under sysfs_root).
  DevlinkHandle handle;    // devlink handle of the device.
  std::string netdev;      // The PF's netdev (may be empty for devlink-only calls).
};

// "p0", "p12": an uplink's phys_port_name.
bool IsUplinkName(std::string_view n) {
  if (n.size() < 2 || n[0] != 'p') return false;
  for (size_t i = 1; i < n.size(); ++i) {
    if (n[i] < '0' || n[i] > '9') return false;
  }
  return true;
}

class NetlinkPortManager : public PortManager {
 public:
  NetlinkPortManager(PortManagerOptions options, std::unique_ptr<NlSocket> rt)
      : options_(std::move(options)), rt_(std::move(rt)) {}

  absl::StatusOr<SriovInfo> GetSriov(std::string_view pf) override {
    absl::StatusOr<Pf> p = Resolve(pf, /*need_netdev=*/false);
    if (!p.ok()) return p.status();
    return ReadSriov(*p);
  }

  absl::Status SetNumVfs(std::string_view pf, uint32_t num_vfs) override {
    absl::StatusOr<Pf> p = Resolve(pf, false);
    if (!p.ok()) return p.status();
    absl::StatusOr<SriovInfo> cur = ReadSriov(*p);
    if (!cur.ok()) return cur.status();
    if (cur->total_vfs && num_vfs > *cur->total_vfs) {
      return absl::InvalidArgumentError(
          Cat("num_vfs: ", num_vfs, " exceeds sriov_totalvfs ", *cur->total_vfs, " of ", p->name));
    }
    if (cur->num_vfs == num_vfs) return absl::OkStatus();
    const std::string path = p->device_dir + "/sriov_numvfs";
    if (cur->num_vfs != 0 && num_vfs != 0) {
      // The kernel refuses to change a non-zero count to another (EBUSY): go through 0.
      if (absl::Status s = WriteNumber(path, 0); !s.ok()) {
        return Prefix(s, Cat("num_vfs: writing 0 to ", path));
      }
    }
    absl::Status s = WriteNumber(path, num_vfs);
    if (s.ok()) return s;
    absl::Status result = Prefix(s, Cat("num_vfs: writing ", num_vfs, " to ", path));
    if (cur->num_vfs != 0) {
      absl::Status back = WriteNumber(path, cur->num_vfs);
      if (!back.ok()) {
        return absl::DataLossError(Cat(SV(result.message()), "; ROLLBACK INCOMPLETE: restoring ",
                                       cur->num_vfs, " VFs failed: ", SV(back.message())));
      }
    }
    return result;
  }

  absl::StatusOr<std::vector<VfInfo>> ListVfs(std::string_view pf) override {
    absl::StatusOr<Pf> p = Resolve(pf, true);
    if (!p.ok()) return p.status();
    return ReadVfs(*p);
  }

  absl::StatusOr<VfInfo> GetVf(std::string_view pf, uint32_t vf) override {
    absl::StatusOr<Pf> p = Resolve(pf, true);
    if (!p.ok()) return p.status();
    absl::StatusOr<std::vector<VfInfo>> vfs = ReadVfs(*p);
    if (!vfs.ok()) return vfs.status();
    return FindVf(*p, *vfs, vf);
  }

  absl::Status SetVf(std::string_view pf, uint32_t vf, const VfSettings& settings) override {
    if (absl::Status v = ValidateVfSettings(settings); !v.ok()) return v;
    absl::StatusOr<Pf> p = Resolve(pf, true);
    if (!p.ok()) return p.status();
    absl::StatusOr<std::vector<VfInfo>> vfs = ReadVfs(*p);
    if (!vfs.ok()) return vfs.status();
    absl::StatusOr<VfInfo> before = FindVf(*p, *vfs, vf);
    if (!before.ok()) return before.status();
    if (settings.empty()) return absl::OkStatus();
    if (settings.min_tx_rate && !settings.max_tx_rate && before->max_tx_rate != 0 &&
        *settings.min_tx_rate > before->max_tx_rate) {
      return absl::InvalidArgumentError(Cat("min_tx_rate: ", *settings.min_tx_rate,
                                            " Mbit/s exceeds the VF's max_tx_rate ",
                                            before->max_tx_rate, " Mbit/s"));
    }
    if (settings.max_tx_rate && !settings.min_tx_rate && *settings.max_tx_rate != 0 &&
        before->min_tx_rate > *settings.max_tx_rate) {
      return absl::InvalidArgumentError(Cat("max_tx_rate: ", *settings.max_tx_rate,
                                            " Mbit/s is below the VF's min_tx_rate ",
                                            before->min_tx_rate, " Mbit/s"));
    }
    absl::StatusOr<int> ifindex = LinkIndex(*rt_, p->netdev);
    if (!ifindex.ok()) return ifindex.status();

    // The wanted values, and the fields to send, in the kernel's order.
    VfInfo want = *before;
    std::vector<VfField> fields;
    if (settings.mac) {
      want.mac = *settings.mac;
      fields.push_back(VfField::kMac);
    }
    if (settings.vlan) {
      want.vlan = *settings.vlan;
      fields.push_back(VfField::kVlan);
    }
    if (settings.min_tx_rate || settings.max_tx_rate) {
      want.min_tx_rate = settings.min_tx_rate.value_or(before->min_tx_rate);
      want.max_tx_rate = settings.max_tx_rate.value_or(before->max_tx_rate);
      fields.push_back(VfField::kRate);
    }
    if (settings.spoofchk) {
      want.spoofchk = settings.spoofchk;
      fields.push_back(VfField::kSpoofchk);
    }
    if (settings.link_state) {
      want.link_state = settings.link_state;
      fields.push_back(VfField::kLinkState);
    }
    if (settings.trust) {
      want.trust = settings.trust;
      fields.push_back(VfField::kTrust);
    }
    // One request per field, so a refusal names its field and what was set before it can be
    // set back exactly.
    for (size_t i = 0; i < fields.size(); ++i) {
      absl::Status s = SendVf(*ifindex, vf, fields[i], want);
      if (s.ok()) continue;
      std::string field_name(VfFieldName(fields[i]));
      if (fields[i] == VfField::kRate) {
        field_name = settings.max_tx_rate ? "max_tx_rate" : "min_tx_rate";
      }
      absl::Status err(s.code(), Cat(p->name, " vf ", vf, " ", field_name,
                                     ": kernel refused: ", SV(s.message())));
      std::string undo_errors;
      for (size_t j = i; j-- > 0;) {
        if (!VfFieldKnown(fields[j], *before)) continue;
        absl::Status u = SendVf(*ifindex, vf, fields[j], *before);
        if (!u.ok()) {
          undo_errors +=
              Cat("; setting ", VfFieldName(fields[j]), " back failed: ", SV(u.message()));
        }
      }
      if (!undo_errors.empty()) {
        return absl::DataLossError(Cat(SV(err.message()), "; ROLLBACK INCOMPLETE", undo_errors));
      }
      return err;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<DevlinkHandle> DevlinkHandleOf(std::string_view pf) override {
    absl::StatusOr<Pf> p = Resolve(pf, false);
    if (!p.ok()) return p.status();
    return p->handle;
  }

  absl::StatusOr<EswitchMode> GetEswitchMode(std::string_view pf) override {
    absl::StatusOr<Pf> p = Resolve(pf, false);
    if (!p.ok()) return p.status();
    absl::StatusOr<Devlink*> dl = GetDevlink();
    if (!dl.ok()) return dl.status();
    return (*dl)->GetEswitchMode(p->handle);
  }

  absl::Status SetEswitchMode(std::string_view pf, EswitchMode mode) override {
    if (mode != EswitchMode::kLegacy && mode != EswitchMode::kSwitchdev) {
      return absl::InvalidArgumentError(Cat("mode: ", EswitchModeName(mode),
                                            " is not an eswitch mode to set (legacy, "
                                            "switchdev)"));
    }
    absl::StatusOr<Pf> p = Resolve(pf, false);
    if (!p.ok()) return p.status();
    absl::StatusOr<Devlink*> dl = GetDevlink();
    if (!dl.ok()) return dl.status();
    absl::StatusOr<EswitchMode> cur = (*dl)->GetEswitchMode(p->handle);
    if (!cur.ok()) return cur.status();
    if (*cur == mode) return absl::OkStatus();
    return (*dl)->SetEswitchMode(p->handle, mode);
  }

  absl::StatusOr<std::vector<DevlinkPort>> ListPorts(std::string_view pf) override {
    absl::StatusOr<Pf> p = Resolve(pf, false);
    if (!p.ok()) return p.status();
    absl::StatusOr<Devlink*> dl = GetDevlink();
    if (!dl.ok()) return dl.status();
    return (*dl)->ListPorts(p->handle);
  }

  absl::StatusOr<DevlinkPort> GetPort(std::string_view pf, uint32_t port_index) override {
    absl::StatusOr<Pf> p = Resolve(pf, false);
    if (!p.ok()) return p.status();
    absl::StatusOr<Devlink*> dl = GetDevlink();
    if (!dl.ok()) return dl.status();
    return (*dl)->GetPort(p->handle, port_index);
  }

  absl::Status SetPortFunction(std::string_view pf, uint32_t port_index,
                               const PortFunctionSettings& settings) override {
    if (settings.hw_addr && settings.hw_addr->IsMulticast()) {
      return absl::InvalidArgumentError(
          Cat("hw_addr: ", settings.hw_addr->ToString(), " is a multicast address"));
    }
    if (settings.state && *settings.state != PortFunctionState::kActive &&
        *settings.state != PortFunctionState::kInactive) {
      return absl::InvalidArgumentError(
          Cat("state: ", static_cast<int>(*settings.state), " is not a port function state"));
    }
    absl::StatusOr<Pf> p = Resolve(pf, false);
    if (!p.ok()) return p.status();
    absl::StatusOr<Devlink*> dl = GetDevlink();
    if (!dl.ok()) return dl.status();
    absl::StatusOr<DevlinkPort> before = (*dl)->GetPort(p->handle, port_index);
    if (!before.ok()) return before.status();
    if (settings.empty()) return absl::OkStatus();
    const std::string where = Cat(p->handle.ToString(), " port ", port_index, " function ");
    if (!before->function) {
      return absl::UnimplementedError(Cat(where, settings.hw_addr ? "hw_addr" : "state",
                                          ": the port has no function (driver reports none)"));
    }
    PortFunctionSettings first;
    first.hw_addr = settings.hw_addr;
    PortFunctionSettings second;
    second.state = settings.state;
    if (first.hw_addr) {
      absl::Status s = (*dl)->SetPortFunction(p->handle, port_index, first);
      if (!s.ok()) return absl::Status(s.code(), Cat(where, "hw_addr: ", SV(s.message())));
    }
    if (second.state) {
      absl::Status s = (*dl)->SetPortFunction(p->handle, port_index, second);
      if (!s.ok()) {
        absl::Status err(s.code(), Cat(where, "state: ", SV(s.message())));
        if (first.hw_addr && before->function->hw_addr) {
          PortFunctionSettings undo;
          undo.hw_addr = before->function->hw_addr;
          absl::Status u = (*dl)->SetPortFunction(p->handle, port_index, undo);
          if (!u.ok()) {
            return absl::DataLossError(
                Cat(SV(err.message()),
                    "; ROLLBACK INCOMPLETE: setting hw_addr back failed: ", SV(u.message())));
          }
        }
        return err;
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<DevlinkPort> AddSubfunction(std::string_view pf, uint32_t pf_number,
                                             uint32_t sf_number) override {
    if (pf_number > UINT16_MAX) {
      return absl::InvalidArgumentError(Cat("pf_number: ", pf_number, " is not in 0-65535"));
    }
    absl::StatusOr<Pf> p = Resolve(pf, false);
    if (!p.ok()) return p.status();
    absl::StatusOr<Devlink*> dl = GetDevlink();
    if (!dl.ok()) return dl.status();
    return (*dl)->AddSubfunction(p->handle, pf_number, sf_number);
  }

  absl::Status DeleteSubfunction(std::string_view pf, uint32_t port_index) override {
    absl::StatusOr<Pf> p = Resolve(pf, false);
    if (!p.ok()) return p.status();
    absl::StatusOr<Devlink*> dl = GetDevlink();
    if (!dl.ok()) return dl.status();
    absl::StatusOr<DevlinkPort> port = (*dl)->GetPort(p->handle, port_index);
    if (!port.ok()) return port.status();
    if (port->flavour != DevlinkPortFlavour::kPciSf) {
      return absl::InvalidArgumentError(
          Cat("port_index: port ", port_index, " of ", p->handle.ToString(), " is a ",
              DevlinkPortFlavourName(port->flavour), " port, not a subfunction (pcisf)"));
    }
    return (*dl)->DeletePort(p->handle, port_index);
  }

 private:
  absl::StatusOr<Devlink*> GetDevlink() {
    if (!devlink_) {
      absl::StatusOr<std::unique_ptr<Devlink>> d = Devlink::Open();
      if (!d.ok()) return d.status();
      devlink_ = std::move(*d);
    }
    return devlink_.get();
  }

  // Resolves a PF reference (netdev, PCI address or devlink handle).
  absl::StatusOr<Pf> Resolve(std::string_view ref, bool need_netdev) {
    Pf p;
    p.name = std::string(ref);
    const std::string& root = options_.sysfs_root;
    if (ref.empty()) return absl::InvalidArgumentError("pf: must not be empty");
    std::string dir;
    if (ref.find('/') != std::string_view::npos) {
      absl::StatusOr<DevlinkHandle> h = DevlinkHandle::Parse(ref);
      if (!h.ok()) return Prefix(h.status(), "pf");
      dir = Cat(root, "/bus/", h->bus, "/devices/", h->device);
    } else if (absl::StatusOr<PciAddress> a = PciAddress::Parse(ref); a.ok()) {
      dir = Cat(root, "/bus/pci/devices/", a->ToString());
    } else {
      if (!sysfs::IsValidIfName(AV(ref))) {
        return absl::InvalidArgumentError(
            Cat("pf: '", ref,
                "' is neither a netdev name, a PCI address (DDDD:BB:DD.F) nor a devlink handle "
                "(BUS/DEVICE)"));
      }
      std::string net = Cat(root, "/class/net/", ref);
      if (!sysfs::EntryExists(net)) {
        return absl::NotFoundError(Cat("pf: netdev '", ref, "' not found (no ", net, ")"));
      }
      dir = net + "/device";
      if (!sysfs::EntryExists(dir)) {
        return absl::FailedPreconditionError(Cat("pf: netdev '", ref, "' has no parent device (",
                                                 dir, " is missing), so it is not a PF"));
      }
      p.netdev = std::string(ref);
    }
    char real[PATH_MAX];
    if (realpath(dir.c_str(), real) == nullptr) {
      return absl::NotFoundError(Cat("pf: '", ref, "': no device at ", dir));
    }
    p.device_dir = real;
    // The devlink handle: the device's bus (its subsystem link) and name.
    absl::StatusOr<std::string> bus = sysfs::ReadLinkBasename(p.device_dir + "/subsystem");
    if (!bus.ok()) {
      return absl::FailedPreconditionError(
          Cat("pf: '", ref, "': ", p.device_dir, " has no subsystem link"));
    }
    p.handle.bus = *bus;
    p.handle.device = p.device_dir.substr(p.device_dir.rfind('/') + 1);
    if (p.netdev.empty() && need_netdev) {
      absl::StatusOr<std::vector<std::string>> names = sysfs::ListDir(p.device_dir + "/net");
      if (names.ok()) {
        for (const std::string& n : *names) {
          absl::StatusOr<std::string> ppn =
              sysfs::ReadAttribute(p.device_dir + "/net/" + n + "/phys_port_name");
          if (!ppn.ok() || ppn->empty() || IsUplinkName(*ppn)) {
            p.netdev = n;
            break;
          }
        }
      }
      if (p.netdev.empty()) {
        return absl::FailedPreconditionError(Cat("pf: '", ref, "' (", p.handle.ToString(),
                                                 ") has no PF netdev under ", p.device_dir,
                                                 "/net"));
      }
    }
    return p;
  }

  absl::StatusOr<SriovInfo> ReadSriov(const Pf& p) {
    SriovInfo info;
    absl::StatusOr<uint64_t> num =
        sysfs::ReadUnsigned(p.device_dir + "/sriov_numvfs", false, UINT32_MAX);
    if (!num.ok()) {
      if (absl::IsNotFound(num.status())) {
        return absl::FailedPreconditionError(Cat("pf: '", p.name, "' (", p.handle.ToString(),
                                                 ") has no SR-IOV (no ", p.device_dir,
                                                 "/sriov_numvfs)"));
      }
      return Prefix(num.status(), Cat("pf: '", p.name, "'"));
    }
    info.num_vfs = static_cast<uint32_t>(*num);
    absl::StatusOr<uint64_t> total =
        sysfs::ReadUnsigned(p.device_dir + "/sriov_totalvfs", false, UINT32_MAX);
    if (total.ok()) info.total_vfs = static_cast<uint32_t>(*total);
    return info;
  }

  static absl::Status WriteNumber(const std::string& path, uint32_t value) {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return absl::Status(CodeForErrno(errno), Cat("open: ", strerror(errno)));
    std::string text = Cat(value, "\n");
    ssize_t n = write(fd, text.data(), text.size());
    int err = errno;
    close(fd);
    if (n < 0) return absl::Status(CodeForErrno(err), strerror(err));
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<VfInfo>> ReadVfs(const Pf& p) {
    absl::StatusOr<int> ifindex = LinkIndex(*rt_, p.netdev);
    if (!ifindex.ok()) return Prefix(ifindex.status(), "pf");
    nlmsghdr* nlh = EncodeGetLinkVfs(Buf(), kBufSize, *ifindex);
    absl::StatusOr<std::vector<VfInfo>> vfs = std::vector<VfInfo>{};
    uint32_t num = 0;
    absl::Status s = rt_->Request(nlh, [&](const nlmsghdr* reply) {
      if (reply->nlmsg_type == RTM_NEWLINK) vfs = DecodeVfs(reply, &num);
      return absl::OkStatus();
    });
    if (!s.ok()) return Prefix(s, Cat("read VFs of ", p.netdev));
    if (!vfs.ok()) return Prefix(vfs.status(), Cat("read VFs of ", p.netdev));
    // The VFs' PCI addresses, for PCI PFs (virtfnN links).
    for (VfInfo& v : *vfs) {
      absl::StatusOr<std::string> target =
          sysfs::ReadLinkBasename(Cat(p.device_dir, "/virtfn", v.index));
      if (!target.ok()) continue;
      absl::StatusOr<PciAddress> a = PciAddress::Parse(*target);
      if (a.ok()) v.pci_address = *a;
    }
    return vfs;
  }

  absl::StatusOr<VfInfo> FindVf(const Pf& p, const std::vector<VfInfo>& vfs, uint32_t vf) {
    for (const VfInfo& v : vfs) {
      if (v.index == vf) return v;
    }
    return absl::InvalidArgumentError(Cat("vf: ", vf, " is not a VF of ", p.name, " (it has ",
                                          vfs.size(), " VF", vfs.size() == 1 ? "" : "s",
                                          vfs.empty() ? "; set num_vfs first" : "", ")"));
  }

  // Whether @p before holds a value for @p field that can be sent back.
  static bool VfFieldKnown(VfField field, const VfInfo& before) {
    switch (field) {
      case VfField::kSpoofchk:
        return before.spoofchk.has_value();
      case VfField::kTrust:
        return before.trust.has_value();
      case VfField::kLinkState:
        return before.link_state.has_value();
      default:
        return true;
    }
  }

  absl::Status SendVf(int ifindex, uint32_t vf, VfField field, const VfInfo& value) {
    nlmsghdr* nlh = EncodeVfSet(Buf(), kBufSize, ifindex, vf, field, value);
    return rt_->Request(nlh);
  }

  PortManagerOptions options_;
  std::unique_ptr<NlSocket> rt_;
  std::unique_ptr<Devlink> devlink_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PortManager>> CreatePortManager(const PortManagerOptions& options) {
  if (options.sysfs_root.empty()) {
    return absl::InvalidArgumentError("sysfs_root: must not be empty");
  }
  absl::StatusOr<std::unique_ptr<NlSocket>> rt = NlSocket::Open();
  if (!rt.ok()) return rt.status();
  return std::unique_ptr<PortManager>(new NetlinkPortManager(options, std::move(*rt)));
}

void RegisterPortManager() {
  internal::SetPortManagerFactory(CreatePortManager);
  RegisterDevlinkFlash();
}

}  // namespace dpu::netlink
