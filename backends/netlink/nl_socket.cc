#include "backends/netlink/nl_socket.h"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"

namespace dpu::netlink {
namespace {

constexpr size_t kRecvBufferSize = 256 * 1024;
constexpr int kSocketBufferSize = 32 * 1024 * 1024;

absl::Status ErrnoStatus(int err, std::string_view what) {
  return absl::Status(CodeForErrno(err), absl::StrCat(std::string(what), ": ", strerror(err)));
}

}  // namespace

void ParseErrorReply(const nlmsghdr* nlh, NlError* out) {
  out->msg.clear();
  const size_t payload_len = mnl_nlmsg_get_payload_len(nlh);
  if (payload_len < sizeof(nlmsgerr)) {
    // Too short to say which request failed: a protocol error, never an "ack".
    out->seq = nlh->nlmsg_seq;
    out->error = EPROTO;
    return;
  }
  const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  out->seq = e->msg.nlmsg_seq;
  // -INT_MIN is not an int; any error code outside errno's range is a protocol error.
  out->error = (e->error > 0 || e->error < -4095) ? EPROTO : -e->error;
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return;
  // The TLVs follow the echoed request: its header only (NLM_F_CAPPED) or all of it.
  size_t off = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
    if (e->msg.nlmsg_len < NLMSG_HDRLEN) return;
    off += e->msg.nlmsg_len - NLMSG_HDRLEN;
  }
  if (off >= payload_len) return;
  ForEachAttr(nlh, off, [&](const nlattr* attr) {
    if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG) {
      out->msg = AttrString(attr);
    }
  });
}

bool ProcessReplies(const char* buf, size_t len, uint32_t portid, uint32_t last_seq,
                    std::vector<NlError>* errors,
                    const std::function<absl::Status(const nlmsghdr*)>& on_data,
                    absl::Status* data_status) {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf);
  int left = static_cast<int>(std::min<size_t>(len, INT32_MAX));
  bool done = false;
  // Not mnl_nlmsg_ok(): it compares (int)nlmsg_len, so a length of 2 GiB or more passes as
  // negative and mnl_nlmsg_next() then jumps outside the buffer. The aligned length must fit as
  // well: libmnl's attribute walks (mnl_attr_parse(), mnl_nlmsg_get_payload_tail()) end at
  // NLMSG_ALIGN(nlmsg_len), so a last message of unaligned length had its last attribute read
  // up to 3 bytes past the buffer (found by tests/fuzz/devlink_fuzzer). The kernel always sends
  // the padding (__nlmsg_put() reserves NLMSG_ALIGN(size)), so no real reply is refused.
  auto message_ok = [](const nlmsghdr* m, int bytes) {
    return bytes >= static_cast<int>(sizeof(nlmsghdr)) && m->nlmsg_len >= sizeof(nlmsghdr) &&
           m->nlmsg_len <= static_cast<uint32_t>(bytes) &&
           MNL_ALIGN(m->nlmsg_len) <= static_cast<uint32_t>(bytes);
  };
  for (; message_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
    if (nlh->nlmsg_pid != portid && nlh->nlmsg_pid != 0) continue;
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      NlError e;
      ParseErrorReply(nlh, &e);
      if (e.error != 0) errors->push_back(e);
      if (e.seq == last_seq) done = true;
    } else if (nlh->nlmsg_type == NLMSG_DONE) {
      if (nlh->nlmsg_seq == last_seq) {
        // A dump ends with DONE; its payload is an error code (0 or negative errno).
        if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
          int err;
          std::memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
          if (err < 0) {
            NlError e;
            e.seq = nlh->nlmsg_seq;
            e.error = err < -4095 ? EPROTO : -err;
            errors->push_back(e);
          }
        }
        done = true;
      }
    } else if (nlh->nlmsg_type >= NLMSG_MIN_TYPE && on_data && data_status->ok()) {
      *data_status = on_data(nlh);
    }
  }
  return done;
}

std::string NlError::Describe() const {
  if (msg.empty()) return strerror(error);
  return absl::StrCat(msg, " (", strerror(error), ")");
}

absl::StatusCode CodeForErrno(int err) {
  switch (err) {
    case 0:
      return absl::StatusCode::kOk;
    case EINVAL:
    case ERANGE:
    case E2BIG:
      return absl::StatusCode::kInvalidArgument;
    case ENOENT:
    case ENODEV:
    case ENXIO:
    case ESRCH:
      return absl::StatusCode::kNotFound;
    case EEXIST:
      return absl::StatusCode::kAlreadyExists;
    case EPERM:
    case EACCES:
      return absl::StatusCode::kPermissionDenied;
    case EOPNOTSUPP:
    case EPROTONOSUPPORT:
    case EAFNOSUPPORT:
      return absl::StatusCode::kUnimplemented;
    case ENOMEM:
    case ENOSPC:
    case ENOBUFS:
    case EMSGSIZE:
      return absl::StatusCode::kResourceExhausted;
    case EBUSY:
    case EAGAIN:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

nlmsghdr* MsgBuffer::Begin(size_t max_len) {
  if (buf_.size() < used_ + max_len) buf_.resize(std::max(buf_.size() * 2, used_ + max_len));
  std::memset(buf_.data() + used_, 0, MNL_NLMSG_HDRLEN);
  return mnl_nlmsg_put_header(buf_.data() + used_);
}

void MsgBuffer::Commit(nlmsghdr* nlh) { used_ += MNL_ALIGN(nlh->nlmsg_len); }

NlSocket::NlSocket(mnl_socket* s) : sock_(s), rbuf_(kRecvBufferSize) {}

NlSocket::~NlSocket() {
  if (sock_ != nullptr) mnl_socket_close(sock_);
}

absl::StatusOr<std::unique_ptr<NlSocket>> NlSocket::Configure(mnl_socket* s) {
  std::unique_ptr<NlSocket> sock(new NlSocket(s));
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) return ErrnoStatus(errno, "netlink bind");
  sock->portid_ = mnl_socket_get_portid(s);
  int one = 1;
  // Error replies without the request echoed, plus the kernel's extended-ack text.
  mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &one, sizeof(one));
  mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &one, sizeof(one));
  int fd = mnl_socket_get_fd(s);
  int size = kSocketBufferSize;
  // Large batches are sent in one sendmsg(): raise the buffers (FORCE needs CAP_NET_ADMIN).
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  }
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  sock->seq_ = static_cast<uint32_t>(time(nullptr));
  return sock;
}

absl::StatusOr<std::unique_ptr<NlSocket>> NlSocket::Open(int protocol) {
  mnl_socket* s = mnl_socket_open2(protocol, SOCK_CLOEXEC);
  if (s == nullptr) return ErrnoStatus(errno, "netlink socket");
  return Configure(s);
}

absl::StatusOr<std::unique_ptr<NlSocket>> NlSocket::OpenInNetns(const std::string& netns_path,
                                                                int protocol) {
  int nsfd = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat("network namespace ", netns_path, " not found"));
    }
    return ErrnoStatus(err, absl::StrCat("open ", netns_path));
  }
  absl::StatusOr<std::unique_ptr<NlSocket>> result = absl::InternalError("not run");
  // setns() changes only the calling thread; a short-lived thread keeps ours where it is. The
  // socket stays in the namespace it was created in.
  std::thread t([&] {
    if (setns(nsfd, CLONE_NEWNET) != 0) {
      result = ErrnoStatus(errno, absl::StrCat("setns ", netns_path));
      return;
    }
    result = Open(protocol);
  });
  t.join();
  close(nsfd);
  return result;
}

absl::StatusOr<std::unique_ptr<NlSocket>> NlSocket::OpenInNewNetns() {
  absl::StatusOr<std::unique_ptr<NlSocket>> result = absl::InternalError("not run");
  std::thread t([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      result = ErrnoStatus(errno, "unshare(CLONE_NEWNET)");
      return;
    }
    result = Open();
  });
  t.join();
  return result;
}

int NlSocket::fd() const { return mnl_socket_get_fd(sock_); }

size_t NlSocket::SendBufferBytes() const {
  int v = 0;
  socklen_t len = sizeof(v);
  if (getsockopt(mnl_socket_get_fd(sock_), SOL_SOCKET, SO_SNDBUF, &v, &len) != 0) return 65536;
  return static_cast<size_t>(v);
}

absl::Status NlSocket::Send(const char* data, size_t len) {
  ssize_t n = mnl_socket_sendto(sock_, data, len);
  if (n < 0) return ErrnoStatus(errno, "netlink sendmsg");
  if (static_cast<size_t>(n) != len) return absl::InternalError("netlink sendmsg: short write");
  return absl::OkStatus();
}

absl::Status NlSocket::Collect(uint32_t last_seq, std::vector<NlError>* errors,
                               const std::function<absl::Status(const nlmsghdr*)>& on_data) {
  absl::Status data_status;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_, rbuf_.data(), rbuf_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "netlink recvmsg");
    }
    const bool done = ProcessReplies(rbuf_.data(), static_cast<size_t>(n), portid_, last_seq,
                                     errors, on_data, &data_status);
    if (done) return data_status;
  }
}

absl::StatusOr<NlError> NlSocket::RequestRaw(
    nlmsghdr* req, const std::function<absl::Status(const nlmsghdr*)>& on_data) {
  req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  req->nlmsg_seq = NextSeq();
  if (absl::Status s = Send(reinterpret_cast<const char*>(req), req->nlmsg_len); !s.ok()) return s;
  std::vector<NlError> errors;
  absl::Status s = Collect(req->nlmsg_seq, &errors, on_data);
  if (!s.ok()) return s;
  NlError result;
  result.seq = req->nlmsg_seq;
  if (!errors.empty()) result = errors.front();
  return result;
}

absl::Status NlSocket::Request(nlmsghdr* req,
                               const std::function<absl::Status(const nlmsghdr*)>& on_data) {
  absl::StatusOr<NlError> e = RequestRaw(req, on_data);
  if (!e.ok()) return e.status();
  if (e->error == 0) return absl::OkStatus();
  return absl::Status(CodeForErrno(e->error), e->Describe());
}

absl::Status NlSocket::Dump(nlmsghdr* req,
                            const std::function<absl::Status(const nlmsghdr*)>& on_msg) {
  req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
  req->nlmsg_seq = NextSeq();
  if (absl::Status s = Send(reinterpret_cast<const char*>(req), req->nlmsg_len); !s.ok()) return s;
  std::vector<NlError> errors;
  absl::Status s = Collect(req->nlmsg_seq, &errors, on_msg);
  if (!s.ok()) return s;
  if (!errors.empty()) {
    return absl::Status(CodeForErrno(errors.front().error), errors.front().Describe());
  }
  return absl::OkStatus();
}

}  // namespace dpu::netlink
