#include "backends/netlink/devlink.h"

#include <libmnl/libmnl.h>
#include <linux/devlink.h>
#include <linux/genetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <type_traits>
#include <utility>

#include "internal/string_view.h"

namespace dpu::netlink {
namespace {

using internal::Cat;

constexpr size_t kBufSize = 8192;

char* Buf() {
  thread_local char buf[kBufSize];
  return buf;
}

// The attributes of a generic netlink message start after its genlmsghdr.
template <typename F>
void ForEachGenlAttr(const nlmsghdr* nlh, F f) {
  ForEachAttr(nlh, sizeof(genlmsghdr), f);
}

// The command of a generic netlink message; 0 (CTRL_CMD_UNSPEC, no command) when the message is
// too short for a genlmsghdr.
uint8_t GenlCmd(const nlmsghdr* nlh) {
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(genlmsghdr)) return 0;
  return static_cast<const genlmsghdr*>(mnl_nlmsg_get_payload(nlh))->cmd;
}

// A fixed-size attribute (u8/u16/u32/u64). False, and @p out unchanged, when the payload is
// shorter: mnl_attr_get_u32() and friends would read past the attribute (and past the receive
// buffer when it is the last one); tests/fuzz/corpus/devlink_fuzzer/regress-truncated-*.
template <typename T>
bool ReadAttr(const nlattr* a, T* out) {
  static_assert(std::is_integral_v<T>, "ReadAttr reads a fixed-size integer attribute");
  if (mnl_attr_get_payload_len(a) < sizeof(T)) return false;
  std::memcpy(out, mnl_attr_get_payload(a), sizeof(T));
  return true;
}

// A u16 attribute into a wider field (the PCI PF and VF numbers are NLA_U16 on the wire but
// uint32_t in DevlinkPort): reading it as the field's own type would refuse the 2-byte payload.
bool ReadU16Attr(const nlattr* a, uint32_t* out) {
  uint16_t v = 0;
  if (!ReadAttr(a, &v)) return false;
  *out = v;
  return true;
}

absl::Status WithContext(const absl::Status& s, std::string_view what) {
  if (s.ok()) return s;
  return absl::Status(s.code(), Cat(what, ": ", internal::SV(s.message())));
}

}  // namespace

nlmsghdr* PutGenlHeader(char* buf, size_t size, uint16_t family, uint8_t cmd, uint8_t version) {
  std::memset(buf, 0, size);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = family;
  auto* g = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
  g->cmd = cmd;
  g->version = version;
  return nlh;
}

void DecodeGenlFamily(const nlmsghdr* nlh, GenlFamily* family) {
  ForEachGenlAttr(nlh, [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case CTRL_ATTR_FAMILY_ID:
        ReadAttr(a, &family->id);
        break;
      case CTRL_ATTR_VERSION:
        ReadAttr(a, &family->version);
        break;
      case CTRL_ATTR_MCAST_GROUPS:
        ForEachNested(a, [&](const nlattr* grp) {
          std::string gname;
          uint32_t gid = 0;
          bool has_id = false;
          ForEachNested(grp, [&](const nlattr* g) {
            if (mnl_attr_get_type(g) == CTRL_ATTR_MCAST_GRP_NAME) gname = AttrString(g);
            if (mnl_attr_get_type(g) == CTRL_ATTR_MCAST_GRP_ID) has_id = ReadAttr(g, &gid);
          });
          if (!gname.empty() && has_id) family->groups.emplace_back(gname, gid);
        });
        break;
      default:
        break;
    }
  });
}

absl::StatusOr<GenlFamily> ResolveGenlFamily(NlSocket& sock, const std::string& name) {
  nlmsghdr* nlh = PutGenlHeader(Buf(), kBufSize, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
  mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name.c_str());
  GenlFamily family;
  absl::StatusOr<NlError> e = sock.RequestRaw(nlh, [&](const nlmsghdr* reply) {
    DecodeGenlFamily(reply, &family);
    return absl::OkStatus();
  });
  if (!e.ok()) return e.status();
  if (e->error == ENOENT) {
    return absl::NotFoundError(Cat("generic netlink family '", name, "' not found"));
  }
  if (e->error != 0) {
    return absl::Status(CodeForErrno(e->error),
                        Cat("generic netlink family '", name, "': ", e->Describe()));
  }
  if (family.id == 0) {
    return absl::NotFoundError(Cat("generic netlink family '", name, "' not found"));
  }
  return family;
}

void PutDevlinkHandle(nlmsghdr* nlh, const DevlinkHandle& handle) {
  mnl_attr_put_strz(nlh, DEVLINK_ATTR_BUS_NAME, handle.bus.c_str());
  mnl_attr_put_strz(nlh, DEVLINK_ATTR_DEV_NAME, handle.device.c_str());
}

nlmsghdr* EncodeEswitchGet(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev) {
  nlmsghdr* nlh = PutGenlHeader(buf, size, family, DEVLINK_CMD_ESWITCH_GET, DEVLINK_GENL_VERSION);
  PutDevlinkHandle(nlh, dev);
  return nlh;
}

nlmsghdr* EncodeEswitchSet(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev,
                           EswitchMode mode) {
  nlmsghdr* nlh = PutGenlHeader(buf, size, family, DEVLINK_CMD_ESWITCH_SET, DEVLINK_GENL_VERSION);
  PutDevlinkHandle(nlh, dev);
  mnl_attr_put_u16(nlh, DEVLINK_ATTR_ESWITCH_MODE,
                   mode == EswitchMode::kSwitchdev ? DEVLINK_ESWITCH_MODE_SWITCHDEV
                                                   : DEVLINK_ESWITCH_MODE_LEGACY);
  return nlh;
}

nlmsghdr* EncodePortGet(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev,
                        std::optional<uint32_t> port_index) {
  nlmsghdr* nlh = PutGenlHeader(buf, size, family, DEVLINK_CMD_PORT_GET, DEVLINK_GENL_VERSION);
  PutDevlinkHandle(nlh, dev);
  if (port_index) mnl_attr_put_u32(nlh, DEVLINK_ATTR_PORT_INDEX, *port_index);
  return nlh;
}

nlmsghdr* EncodePortFunctionSet(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev,
                                uint32_t port_index, const PortFunctionSettings& settings) {
  nlmsghdr* nlh = PutGenlHeader(buf, size, family, DEVLINK_CMD_PORT_SET, DEVLINK_GENL_VERSION);
  PutDevlinkHandle(nlh, dev);
  mnl_attr_put_u32(nlh, DEVLINK_ATTR_PORT_INDEX, port_index);
  nlattr* fn = mnl_attr_nest_start(nlh, DEVLINK_ATTR_PORT_FUNCTION);
  if (settings.hw_addr) {
    mnl_attr_put(nlh, DEVLINK_PORT_FUNCTION_ATTR_HW_ADDR, 6, settings.hw_addr->data());
  }
  if (settings.state) {
    mnl_attr_put_u8(nlh, DEVLINK_PORT_FN_ATTR_STATE,
                    *settings.state == PortFunctionState::kActive ? DEVLINK_PORT_FN_STATE_ACTIVE
                                                                  : DEVLINK_PORT_FN_STATE_INACTIVE);
  }
  mnl_attr_nest_end(nlh, fn);
  return nlh;
}

nlmsghdr* EncodePortNewSf(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev,
                          uint32_t pf_number, uint32_t sf_number) {
  nlmsghdr* nlh = PutGenlHeader(buf, size, family, DEVLINK_CMD_PORT_NEW, DEVLINK_GENL_VERSION);
  PutDevlinkHandle(nlh, dev);
  mnl_attr_put_u16(nlh, DEVLINK_ATTR_PORT_FLAVOUR, DEVLINK_PORT_FLAVOUR_PCI_SF);
  mnl_attr_put_u16(nlh, DEVLINK_ATTR_PORT_PCI_PF_NUMBER, static_cast<uint16_t>(pf_number));
  mnl_attr_put_u32(nlh, DEVLINK_ATTR_PORT_PCI_SF_NUMBER, sf_number);
  return nlh;
}

nlmsghdr* EncodePortDel(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev,
                        uint32_t port_index) {
  nlmsghdr* nlh = PutGenlHeader(buf, size, family, DEVLINK_CMD_PORT_DEL, DEVLINK_GENL_VERSION);
  PutDevlinkHandle(nlh, dev);
  mnl_attr_put_u32(nlh, DEVLINK_ATTR_PORT_INDEX, port_index);
  return nlh;
}

nlmsghdr* EncodeFlashUpdate(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev,
                            const std::string& file_name, const std::string& component) {
  nlmsghdr* nlh = PutGenlHeader(buf, size, family, DEVLINK_CMD_FLASH_UPDATE, DEVLINK_GENL_VERSION);
  PutDevlinkHandle(nlh, dev);
  mnl_attr_put_strz(nlh, DEVLINK_ATTR_FLASH_UPDATE_FILE_NAME, file_name.c_str());
  if (!component.empty()) {
    mnl_attr_put_strz(nlh, DEVLINK_ATTR_FLASH_UPDATE_COMPONENT, component.c_str());
  }
  return nlh;
}

absl::StatusOr<DevlinkPort> DecodePort(const nlmsghdr* nlh) {
  DevlinkPort port;
  bool has_index = false;
  ForEachGenlAttr(nlh, [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case DEVLINK_ATTR_BUS_NAME:
        port.device.bus = AttrString(a);
        break;
      case DEVLINK_ATTR_DEV_NAME:
        port.device.device = AttrString(a);
        break;
      case DEVLINK_ATTR_PORT_INDEX:
        has_index = ReadAttr(a, &port.index);
        break;
      case DEVLINK_ATTR_PORT_NETDEV_NAME:
        port.netdev = AttrString(a);
        break;
      case DEVLINK_ATTR_PORT_FLAVOUR: {
        uint16_t flavour = UINT16_MAX;
        ReadAttr(a, &flavour);
        switch (flavour) {
          case DEVLINK_PORT_FLAVOUR_PHYSICAL:
            port.flavour = DevlinkPortFlavour::kPhysical;
            break;
          case DEVLINK_PORT_FLAVOUR_CPU:
            port.flavour = DevlinkPortFlavour::kCpu;
            break;
          case DEVLINK_PORT_FLAVOUR_DSA:
            port.flavour = DevlinkPortFlavour::kDsa;
            break;
          case DEVLINK_PORT_FLAVOUR_PCI_PF:
            port.flavour = DevlinkPortFlavour::kPciPf;
            break;
          case DEVLINK_PORT_FLAVOUR_PCI_VF:
            port.flavour = DevlinkPortFlavour::kPciVf;
            break;
          case DEVLINK_PORT_FLAVOUR_VIRTUAL:
            port.flavour = DevlinkPortFlavour::kVirtual;
            break;
          case DEVLINK_PORT_FLAVOUR_UNUSED:
            port.flavour = DevlinkPortFlavour::kUnused;
            break;
          case DEVLINK_PORT_FLAVOUR_PCI_SF:
            port.flavour = DevlinkPortFlavour::kPciSf;
            break;
          default:
            port.flavour = DevlinkPortFlavour::kUnknown;
            break;
        }
        break;
      }
      case DEVLINK_ATTR_PORT_NUMBER: {
        uint32_t number = 0;
        if (ReadAttr(a, &number)) port.port_number = number;
        break;
      }
      case DEVLINK_ATTR_PORT_CONTROLLER_NUMBER:
        ReadAttr(a, &port.controller);
        break;
      case DEVLINK_ATTR_PORT_EXTERNAL: {
        uint8_t external = 0;
        if (ReadAttr(a, &external)) port.external = external != 0;
        break;
      }
      case DEVLINK_ATTR_PORT_PCI_PF_NUMBER:
        ReadU16Attr(a, &port.pf);
        break;
      case DEVLINK_ATTR_PORT_PCI_VF_NUMBER:
        ReadU16Attr(a, &port.vf);
        break;
      case DEVLINK_ATTR_PORT_PCI_SF_NUMBER:
        ReadAttr(a, &port.sf);
        break;
      case DEVLINK_ATTR_PORT_FUNCTION: {
        PortFunction fn;
        ForEachNested(a, [&](const nlattr* f) {
          switch (mnl_attr_get_type(f)) {
            case DEVLINK_PORT_FUNCTION_ATTR_HW_ADDR:
              if (mnl_attr_get_payload_len(f) == 6) {
                std::array<uint8_t, 6> o{};
                std::memcpy(o.data(), mnl_attr_get_payload(f), 6);
                fn.hw_addr = MacAddress(o);
              }
              break;
            case DEVLINK_PORT_FN_ATTR_STATE: {
              uint8_t state = 0;
              if (!ReadAttr(f, &state)) break;
              fn.state = state == DEVLINK_PORT_FN_STATE_ACTIVE ? PortFunctionState::kActive
                                                               : PortFunctionState::kInactive;
              break;
            }
            case DEVLINK_PORT_FN_ATTR_OPSTATE: {
              uint8_t opstate = 0;
              if (!ReadAttr(f, &opstate)) break;
              fn.opstate = opstate == DEVLINK_PORT_FN_OPSTATE_ATTACHED
                               ? PortFunctionOpState::kAttached
                               : PortFunctionOpState::kDetached;
              break;
            }
            default:
              break;
          }
        });
        port.function = fn;
        break;
      }
      default:
        break;
    }
  });
  if (!has_index) return absl::InvalidArgumentError("devlink port message without a port index");
  return port;
}

absl::StatusOr<EswitchMode> DecodeEswitchMode(const nlmsghdr* nlh) {
  std::optional<EswitchMode> mode;
  ForEachGenlAttr(nlh, [&](const nlattr* a) {
    uint16_t m = 0;
    if (mnl_attr_get_type(a) != DEVLINK_ATTR_ESWITCH_MODE || !ReadAttr(a, &m)) return;
    mode = m == DEVLINK_ESWITCH_MODE_SWITCHDEV ? EswitchMode::kSwitchdev
           : m == DEVLINK_ESWITCH_MODE_LEGACY  ? EswitchMode::kLegacy
                                               : EswitchMode::kUnknown;
  });
  if (!mode) return absl::InternalError("devlink eswitch reply without a mode");
  return *mode;
}

void DecodeDevlinkInfo(const nlmsghdr* nlh, DevlinkInfo* info) {
  ForEachGenlAttr(nlh, [&](const nlattr* a) {
    std::map<std::string, std::string>* versions = nullptr;
    switch (mnl_attr_get_type(a)) {
      case DEVLINK_ATTR_INFO_DRIVER_NAME:
        info->driver = AttrString(a);
        return;
      case DEVLINK_ATTR_INFO_SERIAL_NUMBER:
        info->serial = AttrString(a);
        return;
      case DEVLINK_ATTR_INFO_VERSION_FIXED:
        versions = &info->fixed;
        break;
      case DEVLINK_ATTR_INFO_VERSION_RUNNING:
        versions = &info->running;
        break;
      case DEVLINK_ATTR_INFO_VERSION_STORED:
        versions = &info->stored;
        break;
      default:
        return;
    }
    std::string name, value;
    ForEachNested(a, [&](const nlattr* v) {
      if (mnl_attr_get_type(v) == DEVLINK_ATTR_INFO_VERSION_NAME) name = AttrString(v);
      if (mnl_attr_get_type(v) == DEVLINK_ATTR_INFO_VERSION_VALUE) value = AttrString(v);
    });
    if (!name.empty()) (*versions)[name] = value;
  });
}

bool DecodeFlashStatus(const nlmsghdr* nlh, uint16_t family, DevlinkHandle* from,
                       FlashStatus* status) {
  if (nlh->nlmsg_type != family) return false;
  const uint8_t cmd = GenlCmd(nlh);
  if (cmd != DEVLINK_CMD_FLASH_UPDATE && cmd != DEVLINK_CMD_FLASH_UPDATE_STATUS &&
      cmd != DEVLINK_CMD_FLASH_UPDATE_END) {
    return false;
  }
  ForEachGenlAttr(nlh, [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case DEVLINK_ATTR_BUS_NAME:
        from->bus = AttrString(a);
        break;
      case DEVLINK_ATTR_DEV_NAME:
        from->device = AttrString(a);
        break;
      case DEVLINK_ATTR_FLASH_UPDATE_STATUS_MSG:
        status->message = AttrString(a);
        break;
      case DEVLINK_ATTR_FLASH_UPDATE_COMPONENT:
        status->component = AttrString(a);
        break;
      case DEVLINK_ATTR_FLASH_UPDATE_STATUS_DONE:
        ReadAttr(a, &status->done);
        break;
      case DEVLINK_ATTR_FLASH_UPDATE_STATUS_TOTAL:
        ReadAttr(a, &status->total);
        break;
      default:
        break;
    }
  });
  return true;
}

absl::StatusOr<std::unique_ptr<Devlink>> Devlink::Open() {
  absl::StatusOr<std::unique_ptr<NlSocket>> sock = NlSocket::Open(NETLINK_GENERIC);
  if (!sock.ok()) return sock.status();
  absl::StatusOr<GenlFamily> family = ResolveGenlFamily(**sock, "devlink");
  if (!family.ok()) {
    if (absl::IsNotFound(family.status())) {
      return absl::UnimplementedError("devlink: the kernel has no devlink generic netlink family");
    }
    return family.status();
  }
  return std::unique_ptr<Devlink>(new Devlink(std::move(*sock), std::move(*family)));
}

absl::StatusOr<EswitchMode> Devlink::GetEswitchMode(const DevlinkHandle& dev) {
  nlmsghdr* nlh = EncodeEswitchGet(Buf(), kBufSize, family_.id, dev);
  absl::StatusOr<EswitchMode> mode = absl::InternalError("devlink eswitch get: no reply");
  absl::Status s = sock_->Request(nlh, [&](const nlmsghdr* reply) {
    mode = DecodeEswitchMode(reply);
    return absl::OkStatus();
  });
  if (!s.ok()) return WithContext(s, Cat("devlink ", dev.ToString(), " eswitch get"));
  return mode;
}

absl::Status Devlink::SetEswitchMode(const DevlinkHandle& dev, EswitchMode mode) {
  nlmsghdr* nlh = EncodeEswitchSet(Buf(), kBufSize, family_.id, dev, mode);
  return WithContext(sock_->Request(nlh),
                     Cat("devlink ", dev.ToString(), " eswitch set mode ", EswitchModeName(mode)));
}

absl::StatusOr<std::vector<DevlinkPort>> Devlink::ListPorts(const DevlinkHandle& dev) {
  // Port dumps are not filtered by device on every kernel: filter here.
  nlmsghdr* nlh = EncodePortGet(Buf(), kBufSize, family_.id, dev, std::nullopt);
  std::vector<DevlinkPort> ports;
  absl::Status s = sock_->Dump(nlh, [&](const nlmsghdr* reply) {
    absl::StatusOr<DevlinkPort> p = DecodePort(reply);
    if (p.ok() && p->device == dev) ports.push_back(std::move(*p));
    return absl::OkStatus();
  });
  if (!s.ok()) return WithContext(s, Cat("devlink ", dev.ToString(), " port dump"));
  std::sort(ports.begin(), ports.end(),
            [](const DevlinkPort& a, const DevlinkPort& b) { return a.index < b.index; });
  return ports;
}

absl::StatusOr<DevlinkPort> Devlink::GetPort(const DevlinkHandle& dev, uint32_t index) {
  nlmsghdr* nlh = EncodePortGet(Buf(), kBufSize, family_.id, dev, index);
  absl::StatusOr<DevlinkPort> port = absl::InternalError("devlink port get: no reply");
  absl::StatusOr<NlError> e = sock_->RequestRaw(nlh, [&](const nlmsghdr* reply) {
    port = DecodePort(reply);
    return absl::OkStatus();
  });
  if (!e.ok()) return e.status();
  if (e->error == ENODEV || e->error == ENOENT) {
    return absl::NotFoundError(
        Cat("port_index: devlink device ", dev.ToString(), " has no port ", index));
  }
  if (e->error != 0) {
    return absl::Status(CodeForErrno(e->error),
                        Cat("devlink ", dev.ToString(), " port ", index, ": ", e->Describe()));
  }
  return port;
}

absl::Status Devlink::SetPortFunction(const DevlinkHandle& dev, uint32_t index,
                                      const PortFunctionSettings& settings) {
  nlmsghdr* nlh = EncodePortFunctionSet(Buf(), kBufSize, family_.id, dev, index, settings);
  return sock_->Request(nlh);
}

absl::StatusOr<DevlinkPort> Devlink::AddSubfunction(const DevlinkHandle& dev, uint32_t pf_number,
                                                    uint32_t sf_number) {
  nlmsghdr* nlh = EncodePortNewSf(Buf(), kBufSize, family_.id, dev, pf_number, sf_number);
  std::optional<DevlinkPort> port;
  absl::Status s = sock_->Request(nlh, [&](const nlmsghdr* reply) {
    absl::StatusOr<DevlinkPort> p = DecodePort(reply);
    if (p.ok()) port = std::move(*p);
    return absl::OkStatus();
  });
  if (!s.ok()) {
    return WithContext(s, Cat("devlink ", dev.ToString(), " port add flavour pcisf pfnum ",
                              pf_number, " sfnum ", sf_number));
  }
  if (port) return *port;
  // Older kernels do not answer with the new port: find it.
  absl::StatusOr<std::vector<DevlinkPort>> ports = ListPorts(dev);
  if (!ports.ok()) return ports.status();
  for (const DevlinkPort& p : *ports) {
    if (p.flavour == DevlinkPortFlavour::kPciSf && p.pf == pf_number && p.sf == sf_number) {
      return p;
    }
  }
  return absl::InternalError(Cat("devlink ", dev.ToString(), ": subfunction pfnum ", pf_number,
                                 " sfnum ", sf_number, " was added but is not listed"));
}

absl::Status Devlink::DeletePort(const DevlinkHandle& dev, uint32_t index) {
  nlmsghdr* nlh = EncodePortDel(Buf(), kBufSize, family_.id, dev, index);
  return WithContext(sock_->Request(nlh), Cat("devlink ", dev.ToString(), " port del ", index));
}

absl::StatusOr<DevlinkInfo> Devlink::Info(const DevlinkHandle& dev) {
  nlmsghdr* nlh =
      PutGenlHeader(Buf(), kBufSize, family_.id, DEVLINK_CMD_INFO_GET, DEVLINK_GENL_VERSION);
  PutDevlinkHandle(nlh, dev);
  DevlinkInfo info;
  absl::Status s = sock_->Request(nlh, [&](const nlmsghdr* reply) {
    DecodeDevlinkInfo(reply, &info);
    return absl::OkStatus();
  });
  if (!s.ok()) return WithContext(s, Cat("devlink ", dev.ToString(), " dev info"));
  return info;
}

absl::Status Devlink::FlashUpdate(
    const DevlinkHandle& dev, const std::string& file_name, const std::string& component,
    const std::function<absl::Status(const FlashStatus&)>& on_status) {
  // Status notifications go to the "config" multicast group while the request runs; a socket of
  // its own sees them without disturbing other requests.
  absl::StatusOr<std::unique_ptr<NlSocket>> sock = NlSocket::Open(NETLINK_GENERIC);
  if (!sock.ok()) return sock.status();
  for (const auto& [name, id] : family_.groups) {
    if (name != DEVLINK_GENL_MCGRP_CONFIG_NAME) continue;
    int group = static_cast<int>(id);
    if (setsockopt((*sock)->fd(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) !=
        0) {
      return absl::Status(CodeForErrno(errno),
                          Cat("devlink: join multicast group config: ", strerror(errno)));
    }
  }
  nlmsghdr* nlh = EncodeFlashUpdate(Buf(), kBufSize, family_.id, dev, file_name, component);
  absl::Status s = (*sock)->Request(nlh, [&](const nlmsghdr* msg) -> absl::Status {
    FlashStatus st;
    DevlinkHandle from;
    if (!DecodeFlashStatus(msg, family_.id, &from, &st)) return absl::OkStatus();
    if (!(from == dev) || !on_status) return absl::OkStatus();
    return on_status(st);
  });
  return WithContext(s, Cat("devlink ", dev.ToString(), " flash update ", file_name));
}

}  // namespace dpu::netlink
