// rtnetlink socket for the netlink backend: opening in a network namespace, batched sends with
// bulk acknowledgements, extended-ack error text, dumps. Internal to libdpu.
#ifndef DPU_BACKENDS_NETLINK_NL_SOCKET_H_
#define DPU_BACKENDS_NETLINK_NL_SOCKET_H_

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct mnl_socket;

namespace dpu::netlink {

/// Calls @p f for every attribute of @p nlh after @p offset payload bytes (libmnl's
/// mnl_attr_for_each, usable from C++).
template <typename F>
void ForEachAttr(const nlmsghdr* nlh, size_t offset, F f) {
  const auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, offset));
  // The message's own end, not mnl_nlmsg_get_payload_tail() (NLMSG_ALIGN(nlmsg_len)): a message
  // of unaligned length may be the last bytes of a buffer.
  const char* tail = reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
  while (mnl_attr_ok(a, static_cast<int>(tail - reinterpret_cast<const char*>(a)))) {
    f(a);
    a = mnl_attr_next(a);
  }
}

/// The string in attribute @p a, up to its first NUL or the end of its payload: a peer's
/// attribute need not be NUL-terminated (mnl_attr_get_str() would read past it).
inline std::string AttrString(const nlattr* a) {
  const char* s = static_cast<const char*>(mnl_attr_get_payload(a));
  size_t n = mnl_attr_get_payload_len(a);
  size_t len = 0;
  while (len < n && s[len] != '\0') ++len;
  return std::string(s, len);
}

/// Calls @p f for every attribute nested in @p nest.
template <typename F>
void ForEachNested(const nlattr* nest, F f) {
  const auto* a = static_cast<const nlattr*>(mnl_attr_get_payload(nest));
  const char* end =
      static_cast<const char*>(mnl_attr_get_payload(nest)) + mnl_attr_get_payload_len(nest);
  while (mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a)))) {
    f(a);
    a = mnl_attr_next(a);
  }
}

/// The kernel's answer to one request message that failed.
struct NlError {
  uint32_t seq = 0;  ///< Sequence number of the refused message.
  int error = 0;     ///< Positive errno.
  std::string msg;   ///< Extended ack text (may be empty).
  /// "extack text (strerror)" or just "strerror".
  std::string Describe() const;
};

/// Reads the error reply @p nlh (type NLMSG_ERROR, as received) into @p out, extended-ack text
/// included. Never reads outside the message: a reply too short for a struct nlmsgerr or
/// with a malformed ack TLV area yields EPROTO / no text.
void ParseErrorReply(const nlmsghdr* nlh, NlError* out);

/// Walks the messages of one receive buffer @p buf of @p len bytes (as recvmsg() filled it):
/// messages from a port other than @p portid (or the kernel) are skipped, error replies with a
/// non-zero errno are appended to @p errors, a DONE carrying a negative errno too, and data
/// messages go to @p on_data while @p *data_status is OK (its first error is kept there).
/// @return true when the buffer held the answer to @p last_seq (its ack, error or DONE).
/// Never reads outside the buffer, whatever it holds.
bool ProcessReplies(const char* buf, size_t len, uint32_t portid, uint32_t last_seq,
                    std::vector<NlError>* errors,
                    const std::function<absl::Status(const nlmsghdr*)>& on_data,
                    absl::Status* data_status);

/// Maps an errno to the closest absl::StatusCode.
absl::StatusCode CodeForErrno(int err);

/// A growable buffer of netlink messages sent in one sendmsg().
class MsgBuffer {
 public:
  /// Reserves room for a message of at most @p max_len bytes and returns its header, zeroed.
  nlmsghdr* Begin(size_t max_len = 16384);
  /// Finishes the message started by Begin() (its nlmsg_len must be set, as libmnl does).
  void Commit(nlmsghdr* nlh);
  /// Bytes committed.
  size_t size() const { return used_; }
  /// Start of the committed bytes.
  const char* data() const { return buf_.data(); }
  /// Header of the message at byte offset @p off.
  nlmsghdr* At(size_t off) { return reinterpret_cast<nlmsghdr*>(buf_.data() + off); }
  /// Drops every message.
  void Clear() { used_ = 0; }

 private:
  std::vector<char> buf_;
  size_t used_ = 0;
};

/// A netlink socket (rtnetlink by default, or generic netlink for devlink) bound to one network
/// namespace.
class NlSocket {
 public:
  /// Opens a socket of @p protocol (NETLINK_ROUTE, NETLINK_GENERIC) in the caller's namespace.
  static absl::StatusOr<std::unique_ptr<NlSocket>> Open(int protocol = NETLINK_ROUTE);
  /// Opens a socket of @p protocol in the namespace of @p netns_path (e.g. /run/netns/red), from
  /// a helper thread, so the calling thread never changes namespace.
  static absl::StatusOr<std::unique_ptr<NlSocket>> OpenInNetns(const std::string& netns_path,
                                                               int protocol = NETLINK_ROUTE);
  /// Opens a socket in a new, anonymous namespace that lives as long as the socket.
  static absl::StatusOr<std::unique_ptr<NlSocket>> OpenInNewNetns();
  ~NlSocket();
  NlSocket(const NlSocket&) = delete;
  NlSocket& operator=(const NlSocket&) = delete;

  /// The kernel's send buffer size for this socket (the limit of one sendmsg()).
  size_t SendBufferBytes() const;
  /// The socket's file descriptor (e.g. to join a multicast group).
  int fd() const;
  /// A fresh sequence number.
  uint32_t NextSeq() { return ++seq_; }

  /// Sends @p len bytes of messages in one sendmsg().
  absl::Status Send(const char* data, size_t len);
  /// Reads replies until the acknowledgement (or error) of @p last_seq arrives; every error
  /// reply along the way is appended to @p errors. Data messages are passed to @p on_data.
  absl::Status Collect(uint32_t last_seq, std::vector<NlError>* errors,
                       const std::function<absl::Status(const nlmsghdr*)>& on_data = nullptr);

  /// Sends one request with NLM_F_ACK and waits for its answer. Data replies go to @p on_data.
  /// @return OK, or the kernel's error (code from errno, message with the extended ack).
  absl::Status Request(nlmsghdr* req,
                       const std::function<absl::Status(const nlmsghdr*)>& on_data = nullptr);
  /// Same as Request() but returns the raw error (errno 0 on success).
  absl::StatusOr<NlError> RequestRaw(
      nlmsghdr* req, const std::function<absl::Status(const nlmsghdr*)>& on_data = nullptr);

  /// Sends a dump request (NLM_F_DUMP is set here) and passes every reply to @p on_msg.
  absl::Status Dump(nlmsghdr* req, const std::function<absl::Status(const nlmsghdr*)>& on_msg);

 private:
  explicit NlSocket(mnl_socket* s);
  static absl::StatusOr<std::unique_ptr<NlSocket>> Configure(mnl_socket* s);
  mnl_socket* sock_;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
  std::vector<char> rbuf_;
};

}  // namespace dpu::netlink

#endif  // DPU_BACKENDS_NETLINK_NL_SOCKET_H_
