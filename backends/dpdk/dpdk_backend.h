#ifndef DPU_BACKENDS_DPDK_DPDK_BACKEND_H_
#define DPU_BACKENDS_DPDK_DPDK_BACKEND_H_

// The DPDK rte_flow backend ("dpdk"). See docs/dpdk.md.
//
// Spec: "dpdk:EAL-ARGS [-- OPTIONS]". EAL-ARGS go to rte_eal_init() (or must be compatible with
// the running EAL, see eal.h). OPTIONS, space-separated:
//   rxq=N             rx queues per port libdpu configures (default 4, capped by the PMD)
//   transfer          program eswitch (transfer) rules instead of ingress rules
//   flow_api=auto|sync|async   which rte_flow API to use (default auto)
// The backend manages every ethdev port that exists when it is created. Ports that nobody
// configured yet are configured (rxq rx queues, 1 tx queue) and started, when libdpu owns the
// EAL; an application's ports are used as the application set them up.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "backends/dpdk/eal.h"
#include "backends/dpdk/flow_api.h"
#include "backends/dpdk/translate.h"
#include "dpu/backend.h"
#include "dpu/backend_registry.h"

namespace dpu::dpdk {

// Backend options (the part of the spec after "--").
struct Options {
  std::vector<std::string> eal_args;
  uint16_t rxq = 4;
  bool transfer = false;
  FlowApiPreference flow_api = FlowApiPreference::kAuto;
};
// Parses "EAL-ARGS [-- OPTIONS]". InvalidArgument names a bad option.
absl::StatusOr<Options> ParseSpec(std::string_view args);

// What libdpu knows about one ethdev port.
struct PortState {
  uint16_t id = 0;
  std::string name;    // DPDK device name, e.g. "net_tap0".
  std::string driver;  // e.g. "net_tap".
  uint16_t nb_rx_queues = 0;
  bool flows_supported = false;
  std::string unsupported_reason;  // The PMD's answer when flows_supported is false.
  dpu::Capabilities caps;
  TranslateOptions translate;
  FlowApiDecision flow_api;
  bool has_meters = false;
};

class DpdkBackend final : public Backend, private PortResolver {
 public:
  // Creates a backend from a spec's argument part.
  static absl::StatusOr<std::unique_ptr<DpdkBackend>> Create(std::string_view args);
  ~DpdkBackend() override;

  std::string_view name() const override { return "dpdk"; }
  const dpu::Capabilities& Capabilities() const override { return caps_; }
  absl::Status Validate(const FlowRule& rule) const override;
  absl::Status Apply(const FlowBatch& batch) override;
  absl::StatusOr<std::vector<FlowEntry>> Dump() override;
  absl::StatusOr<FlowRule> Get(const FlowId& id) override;
  absl::StatusOr<FlowStats> Stats(const FlowId& id) override;
  absl::Status Flush() override;

  // The ports this backend manages.
  const std::vector<PortState>& ports() const { return ports_; }
  // True when libdpu owns the EAL (false when it joined the application's).
  bool owns_eal() const { return eal_->owned(); }
  // The rte_flow handle of an installed rule (for tests), or nullptr.
  rte_flow* FlowHandle(const FlowId& id) const;

  // PortResolver: DPDK name or decimal id; "" is the only port when there is exactly one.
  std::optional<uint16_t> Resolve(std::string_view name) const override;

 private:
  struct Installed {
    FlowRule rule;
    uint16_t port_id = 0;
    std::vector<CreatedFlow> flows;  // The rule, and its VLAN twin when NeedsVlanTwin().
    bool async = false;
    uint32_t meter_id = 0;  // Non-zero when a meter object was made for police.
  };
  using Translations = std::vector<std::unique_ptr<FlowTranslation>>;

  DpdkBackend(std::unique_ptr<EalRef> eal, Options options);
  absl::Status Init();
  const PortState* PortFor(uint16_t id) const;
  // Checks and translates @p rule (and its VLAN twin); @p meter_id goes into a police action.
  absl::Status Prepare(const FlowRule& rule, uint32_t meter_id, Translations* out,
                       const PortState** port) const;
  // Creates every flow of @p ts on @p port; all or none.
  absl::StatusOr<std::vector<CreatedFlow>> CreateAll(const PortState& port, const Translations& ts,
                                                     bool* async);
  absl::StatusOr<uint32_t> MakeMeter(uint16_t port_id, const PoliceAction& p);
  void FreeMeter(uint16_t port_id, uint32_t meter_id);
  // Destroys @p in's flows (not its meter). Stops at the first failure.
  absl::Status DestroyFlows(Installed& in);
  // Destroys @p in's flows and meter.
  absl::Status Uninstall(Installed& in);
  // Creates @p in's rule again (rollback), updating its flow handles.
  absl::Status Reinstall(Installed& in);

  std::unique_ptr<EalRef> eal_;
  Options options_;
  std::vector<PortState> ports_;
  dpu::Capabilities caps_;
  absl::flat_hash_map<FlowId, Installed> installed_;
  uint32_t next_meter_id_ = 1;
};

// Registers "dpdk" with @p registry.
void RegisterBackend(BackendRegistry& registry);

}  // namespace dpu::dpdk

#endif  // DPU_BACKENDS_DPDK_DPDK_BACKEND_H_
