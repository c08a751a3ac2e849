#ifndef DPU_IPSEC_MANAGER_H_
#define DPU_IPSEC_MANAGER_H_

/// @file
/// @brief IpsecManager: installs, reads back, rekeys and removes IPsec SAs and policies in the
/// kernel's XFRM (NETLINK_XFRM), with offload to a NIC where the device can do it.
///
/// @code
/// auto mgr = dpu::IpsecManager::Open();            // the caller's network namespace
/// dpu::IpsecBundle b;
/// b.sas = {sa_out, sa_in};                         // dpu/ipsec_sa.h
/// b.policies = {policy_out, policy_in};            // dpu/ipsec_policy.h
/// absl::StatusOr<dpu::InstallReport> r = (*mgr)->Install(b);  // all or nothing
/// if (!r.ok()) { /* r.status() names the field; nothing was installed */ }
/// for (const dpu::SaState& s : *(*mgr)->ListSas()) {
///   printf("%s packets=%llu\n", dpu::IdOf(s.sa).ToString().c_str(),
///          (unsigned long long)s.counters.packets);
/// }
/// @endcode

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dpu/ipsec_policy.h"
#include "dpu/ipsec_sa.h"

namespace dpu {

/// SAs and policies installed together, all or nothing.
struct IpsecBundle {
  std::vector<SecurityAssociation> sas;  ///< Typically an out/in pair.
  std::vector<IpsecPolicy> policies;     ///< The policies using them.
};

/// What Install() or Rekey() did beyond the plain request.
struct InstallReport {
  /// One line per decision the caller should know of, e.g. an offload that fell back to
  /// software because IpsecOffloadRequest::allow_fallback allowed it.
  std::vector<std::string> notes;
};

/// What a device can offload, and why not when it cannot.
struct IpsecOffloadCapabilities {
  std::string device;         ///< The netdev asked about.
  bool crypto = false;        ///< Crypto offload possible.
  bool packet = false;        ///< Packet (full) offload possible.
  std::string crypto_reason;  ///< Why crypto offload is not possible (empty when it is).
  std::string packet_reason;  ///< Why packet offload is not possible (empty when it is).
};

/// Where an IpsecManager works.
struct IpsecManagerOptions {
  /// A network namespace file (e.g. "/run/netns/red"); empty = the caller's namespace.
  std::string netns;
};

/// Installs and reads back IPsec state of one network namespace through NETLINK_XFRM. Needs
/// CAP_NET_ADMIN. Calls on one manager are not concurrent-safe; use one manager per thread.
///
/// Promises:
/// - Bad input is refused before anything is sent, naming the field (ValidateSa(),
///   ValidatePolicy(), an SPI used twice, policies overlapping each other or an installed
///   policy of the same direction and priority, an unknown offload device).
/// - Install() is all or nothing: when the kernel refuses one element, the elements already
///   added are removed again before the error is returned.
/// - Offload beyond the device's capabilities (OffloadCapabilities()) is refused with the
///   reason (FailedPrecondition), unless the SA allows fallback: then it is installed in software
///   and InstallReport::notes says so.
class IpsecManager {
 public:
  /// Opens a manager (its netlink socket is opened in @p options.netns).
  /// @return Unimplemented when this libdpu was built without the netlink backend; NotFound
  /// when the namespace does not exist.
  static absl::StatusOr<std::unique_ptr<IpsecManager>> Open(
      const IpsecManagerOptions& options = {});

  virtual ~IpsecManager() = default;

  /// Which offload modes @p device has (ethtool feature esp-hw-offload, kernel support of
  /// packet offload). @return NotFound ("device: ...") for an unknown device.
  virtual absl::StatusOr<IpsecOffloadCapabilities> OffloadCapabilities(std::string_view device) = 0;

  /// Installs @p bundle: SAs first, then policies; all or nothing.
  virtual absl::StatusOr<InstallReport> Install(const IpsecBundle& bundle) = 0;

  /// Replaces SAs without a gap: installs @p replacement's inbound SAs, then its outbound SAs
  /// and policies (an SA or policy already installed identically is kept as it is; one
  /// installed differently is refused with AlreadyExists), then deletes @p old_out, then
  /// @p old_in. Until @p old_in goes, packets still in flight on the old SAs are accepted; a
  /// host whose peer has not rekeyed yet passes an empty @p old_in and deletes those SAs later.
  /// When installing the replacement fails nothing changed; @return NotFound naming an SA of
  /// @p old_out / @p old_in that does not exist (checked before any change).
  ///
  /// Two peers A and B rekey without loss this way: B installs its new inbound SA
  /// (Install()); A calls Rekey(A's old out, {}, A's new pair); B calls Rekey(B's old out,
  /// B's old in, B's new pair); A deletes its old inbound SA.
  virtual absl::StatusOr<InstallReport> Rekey(const std::vector<SaId>& old_out,
                                              const std::vector<SaId>& old_in,
                                              const IpsecBundle& replacement) = 0;

  /// Replaces policies in place: each of @p policies takes the place of the installed policy of
  /// the same selector and direction (PolicyId) in one kernel operation each
  /// (XFRM_MSG_UPDPOLICY), so that its traffic is never without a policy; one without such a
  /// policy is added. All or nothing: checked like Install() first (an overlap with an installed
  /// policy other than the one replaced is refused naming the field), and when the kernel refuses
  /// one, those already replaced are put back as they were and those added are removed. Policy
  /// offload is checked as Install() checks it (fallbacks in the report's notes).
  virtual absl::StatusOr<InstallReport> ReplacePolicies(
      const std::vector<IpsecPolicy>& policies) = 0;
  /// Every SA (ESP) in the namespace, with counters.
  virtual absl::StatusOr<std::vector<SaState>> ListSas() = 0;
  /// One SA. @return NotFound naming it.
  virtual absl::StatusOr<SaState> GetSa(const SaId& id) = 0;
  /// Deletes one SA. @return NotFound naming it.
  virtual absl::Status DeleteSa(const SaId& id) = 0;

  /// Every policy in the namespace.
  virtual absl::StatusOr<std::vector<PolicyState>> ListPolicies() = 0;
  /// Deletes one policy. @return NotFound naming it.
  virtual absl::Status DeletePolicy(const PolicyId& id) = 0;

  /// Deletes every ESP SA and every policy of the namespace.
  virtual absl::Status Flush() = 0;
};

}  // namespace dpu

#endif  // DPU_IPSEC_MANAGER_H_
