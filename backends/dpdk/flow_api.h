#ifndef DPU_BACKENDS_DPDK_FLOW_API_H_
#define DPU_BACKENDS_DPDK_FLOW_API_H_

// Which rte_flow API a port is programmed through, and the calls of each.
//
// The synchronous API (rte_flow_validate/create/destroy/query) works on every PMD with flow
// support. The asynchronous template API (rte_flow_configure, pattern/actions templates, template
// tables, rte_flow_async_create + rte_flow_push/rte_flow_pull) is used when the PMD reports it:
// rte_flow_info_get() succeeds with at least one flow queue and rte_flow_configure() succeeds.
// No PMD available on this machine (net_tap, net_null) implements the template API, so that path
// is deliberately small: one pattern template, one actions template and one table per rule, one
// flow queue, and a push + pull per batch. The decision and the fallback are what the tests
// exercise.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/dpdk/dpdk_compat.h"
#include "backends/dpdk/translate.h"

namespace dpu::dpdk {

// Which API to use; "auto" picks async when the PMD reports it.
enum class FlowApiPreference : uint8_t { kAuto, kSync, kAsync };
// The API a port ended up with.
enum class FlowApi : uint8_t { kSync, kAsync };

// The outcome of the decision and why, e.g. "sync: rte_flow_info_get: Function not implemented".
struct FlowApiDecision {
  FlowApi api = FlowApi::kSync;
  std::string reason;
};

// Step 1, pure: given what rte_flow_info_get() returned (@p info_rc, @p info, @p message),
// whether to try the async API. Returns FailedPrecondition when @p pref is kAsync and the PMD
// does not offer it.
absl::StatusOr<FlowApiDecision> DecideFromInfo(FlowApiPreference pref, int info_rc,
                                               const rte_flow_port_info& info,
                                               std::string_view message);
// Step 2, pure: given what rte_flow_configure() returned, the final decision (falls back to
// sync for kAuto, fails for kAsync).
absl::StatusOr<FlowApiDecision> DecideFromConfigure(FlowApiPreference pref, int configure_rc,
                                                    std::string_view message);

// Runs both steps against port @p port_id (rte_flow_info_get, then rte_flow_configure).
absl::StatusOr<FlowApiDecision> ChooseFlowApi(uint16_t port_id, FlowApiPreference pref);

// The PMD's message from an rte_flow_error, or a fallback from the errno.
std::string FlowErrorText(const rte_flow_error& error, int rc);

// A flow created through either API; templates are owned when async.
struct CreatedFlow {
  uint16_t port_id = 0;
  rte_flow* flow = nullptr;
  rte_flow_template_table* table = nullptr;
  rte_flow_pattern_template* pattern_template = nullptr;
  rte_flow_actions_template* actions_template = nullptr;
};

// Creates one flow synchronously. Error: the PMD's message.
absl::StatusOr<CreatedFlow> CreateSync(uint16_t port_id, const FlowTranslation& t);
// Creates the flows of @p batch through the template API, all on @p port_id, in one push/pull.
// On failure nothing stays created, and @p failed_index tells which one the PMD refused.
absl::StatusOr<std::vector<CreatedFlow>> CreateAsync(
    uint16_t port_id, const std::vector<const FlowTranslation*>& batch, size_t* failed_index);
// Destroys a flow made by either function (async flows through the queue, then their table and
// templates). Error: the PMD's message.
absl::Status DestroyFlow(const CreatedFlow& f, bool async);

}  // namespace dpu::dpdk

#endif  // DPU_BACKENDS_DPDK_FLOW_API_H_
