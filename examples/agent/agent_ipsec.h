// dpu-agent: OPI's IPsec API (opi_api.security.v1alpha1 IpsecSaService and IpsecPolicyService)
// on the library's IPsec manager (dpu/ipsec_manager.h, docs/ipsec.md, docs/agent.md "IPsec: OPI
// security API").
//
// An OPI SA becomes one kernel SA; an OPI policy becomes the XFRM policies of both directions of
// its traffic selector (out: local -> remote; in and fwd: remote -> local). Every
// request is checked completely before anything is installed, errors name the request field,
// and a refused request changes nothing. Built only on include/dpu/.
#ifndef DPU_EXAMPLES_AGENT_AGENT_IPSEC_H_
#define DPU_EXAMPLES_AGENT_AGENT_IPSEC_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "dpu/ipsec_manager.h"
#include "opi/security/v1alpha1/ipsec.pb.h"

namespace dpu_agent {

/// The OPI SA @p sa (a CreateIpsecSaRequest's ipsec_sa) as a library SA. Field names in errors
/// start with "ipsec_sa.". Pure: touches nothing.
absl::StatusOr<dpu::SecurityAssociation> SaFromOpi(const opi_api::security::v1alpha1::IpsecSa& sa);

/// The kernel policies of the OPI policy @p p: out (local -> remote), in (remote -> local) and
/// fwd (as in). Field names in errors start with "ipsec_policy.". Pure.
absl::StatusOr<std::vector<dpu::IpsecPolicy>> PoliciesFromOpi(
    const opi_api::security::v1alpha1::IpsecPolicy& p);

/// OPI's IPsec SA and policy databases of one network namespace. Thread-safe.
class AgentIpsec {
 public:
  /// Works in the network namespace file @p netns (empty: the agent's own). The IPsec manager is
  /// opened at the first call (its error is that call's answer, e.g. without CAP_NET_ADMIN).
  explicit AgentIpsec(std::string netns) : netns_(std::move(netns)) {}

  absl::Status CreateSa(const opi_api::security::v1alpha1::CreateIpsecSaRequest& req,
                        opi_api::security::v1alpha1::IpsecSa* resp);
  absl::Status UpdateSa(const opi_api::security::v1alpha1::UpdateIpsecSaRequest& req,
                        opi_api::security::v1alpha1::IpsecSa* resp);
  absl::Status DeleteSa(const opi_api::security::v1alpha1::DeleteIpsecSaRequest& req);
  absl::Status GetSa(const opi_api::security::v1alpha1::GetIpsecSaRequest& req,
                     opi_api::security::v1alpha1::IpsecSa* resp);
  absl::Status ListSas(const opi_api::security::v1alpha1::ListIpsecSasRequest& req,
                       opi_api::security::v1alpha1::ListIpsecSasResponse* resp);

  absl::Status CreatePolicy(const opi_api::security::v1alpha1::CreateIpsecPolicyRequest& req,
                            opi_api::security::v1alpha1::IpsecPolicy* resp);
  absl::Status UpdatePolicy(const opi_api::security::v1alpha1::UpdateIpsecPolicyRequest& req,
                            opi_api::security::v1alpha1::IpsecPolicy* resp);
  absl::Status DeletePolicy(const opi_api::security::v1alpha1::DeleteIpsecPolicyRequest& req);
  absl::Status GetPolicy(const opi_api::security::v1alpha1::GetIpsecPolicyRequest& req,
                         opi_api::security::v1alpha1::IpsecPolicy* resp);
  absl::Status ListPolicies(const opi_api::security::v1alpha1::ListIpsecPoliciesRequest& req,
                            opi_api::security::v1alpha1::ListIpsecPoliciesResponse* resp);

 private:
  struct SaEntry {
    opi_api::security::v1alpha1::IpsecSa given;  // As created (keys included), name set.
    dpu::SecurityAssociation sa;                 // As installed.
    std::string note;                            // What the install reported (fallback).
  };
  struct PolicyEntry {
    opi_api::security::v1alpha1::IpsecPolicy given;  // As created, name set.
    std::vector<dpu::IpsecPolicy> installed;         // Its kernel policies.
  };

  absl::StatusOr<dpu::IpsecManager*> ManagerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The SA as returned: keys cleared, state read from the kernel.
  void FillSaLocked(const SaEntry& e, opi_api::security::v1alpha1::IpsecSa* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string netns_;
  absl::Mutex mu_;
  std::unique_ptr<dpu::IpsecManager> mgr_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, SaEntry> sas_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, PolicyEntry> policies_ ABSL_GUARDED_BY(mu_);
  uint32_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace dpu_agent

#endif  // DPU_EXAMPLES_AGENT_AGENT_IPSEC_H_
