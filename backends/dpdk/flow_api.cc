#include "backends/dpdk/flow_api.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace dpu::dpdk {
namespace {

constexpr uint32_t kQueue = 0;  // The one flow queue the async path uses.
constexpr uint32_t kQueueSize = 64;

void DestroyTemplates(const CreatedFlow& f) {
  rte_flow_error err{};
  if (f.table) rte_flow_template_table_destroy(f.port_id, f.table, &err);
  if (f.actions_template) rte_flow_actions_template_destroy(f.port_id, f.actions_template, &err);
  if (f.pattern_template) rte_flow_pattern_template_destroy(f.port_id, f.pattern_template, &err);
}

// Pulls @p n results from the queue (bounded wait). Returns the number of failed operations
// and, through @p failed, their user_data.
absl::Status PullAll(uint16_t port_id, size_t n, std::vector<void*>* failed) {
  rte_flow_op_result res[32];
  size_t done = 0;
  for (int spins = 0; done < n && spins < 1000000; ++spins) {
    rte_flow_error err{};
    int got = rte_flow_pull(port_id, kQueue, res, 32, &err);
    if (got < 0)
      return absl::InternalError(absl::StrCat("rte_flow_pull: ", FlowErrorText(err, got)));
    for (int i = 0; i < got; ++i) {
      if (res[i].status != RTE_FLOW_OP_SUCCESS) failed->push_back(res[i].user_data);
    }
    done += static_cast<size_t>(got);
  }
  if (done < n) return absl::DeadlineExceededError("rte_flow_pull: results did not arrive");
  return absl::OkStatus();
}

}  // namespace

std::string FlowErrorText(const rte_flow_error& error, int rc) {
  if (error.message != nullptr && error.message[0] != '\0') {
    return absl::StrCat(error.message, " (", rte_strerror(rc < 0 ? -rc : rc), ")");
  }
  return rte_strerror(rc < 0 ? -rc : (rte_errno ? rte_errno : rc));
}

absl::StatusOr<FlowApiDecision> DecideFromInfo(FlowApiPreference pref, int info_rc,
                                               const rte_flow_port_info& info,
                                               std::string_view message) {
  if (pref == FlowApiPreference::kSync) return FlowApiDecision{FlowApi::kSync, "sync: requested"};
  std::string why;
  if (info_rc != 0) {
    why = absl::StrCat("rte_flow_info_get: ", AV(message));
  } else if (info.max_nb_queues == 0) {
    why = "rte_flow_info_get reports no flow queues";
  } else {
    return FlowApiDecision{FlowApi::kAsync, "async: the PMD reports the template API"};
  }
  if (pref == FlowApiPreference::kAsync) {
    return absl::FailedPreconditionError(
        absl::StrCat("dpdk: flow_api=async requested but the PMD has no template API (", why, ")"));
  }
  return FlowApiDecision{FlowApi::kSync, absl::StrCat("sync: ", why)};
}

absl::StatusOr<FlowApiDecision> DecideFromConfigure(FlowApiPreference pref, int configure_rc,
                                                    std::string_view message) {
  if (configure_rc == 0) {
    return FlowApiDecision{FlowApi::kAsync, "async: rte_flow_configure succeeded"};
  }
  std::string why = absl::StrCat("rte_flow_configure: ", AV(message));
  if (pref == FlowApiPreference::kAsync) {
    return absl::FailedPreconditionError(absl::StrCat("dpdk: flow_api=async requested but ", why));
  }
  return FlowApiDecision{FlowApi::kSync, absl::StrCat("sync: ", why)};
}

absl::StatusOr<FlowApiDecision> ChooseFlowApi(uint16_t port_id, FlowApiPreference pref) {
  rte_flow_port_info info{};
  rte_flow_queue_info qinfo{};
  rte_flow_error err{};
  int rc = pref == FlowApiPreference::kSync ? 0 : rte_flow_info_get(port_id, &info, &qinfo, &err);
  absl::StatusOr<FlowApiDecision> d = DecideFromInfo(pref, rc, info, FlowErrorText(err, rc));
  if (!d.ok() || d->api == FlowApi::kSync) return d;
  rte_flow_port_attr attr{};
  attr.nb_counters = info.max_nb_counters < 4096 ? info.max_nb_counters : 4096;
  attr.nb_meters = info.max_nb_meters < 1024 ? info.max_nb_meters : 1024;
  rte_flow_queue_attr qattr{};
  qattr.size = kQueueSize;
  const rte_flow_queue_attr* qattrs[1] = {&qattr};
  err = rte_flow_error{};
  rc = rte_flow_configure(port_id, &attr, 1, qattrs, &err);
  return DecideFromConfigure(pref, rc, FlowErrorText(err, rc));
}

absl::StatusOr<CreatedFlow> CreateSync(uint16_t port_id, const FlowTranslation& t) {
  rte_flow_error err{};
  rte_flow* flow = rte_flow_create(port_id, &t.attr, t.items, t.actions, &err);
  if (flow == nullptr) {
    return absl::FailedPreconditionError(FlowErrorText(err, -rte_errno));
  }
  CreatedFlow f;
  f.port_id = port_id;
  f.flow = flow;
  return f;
}

absl::StatusOr<std::vector<CreatedFlow>> CreateAsync(
    uint16_t port_id, const std::vector<const FlowTranslation*>& batch, size_t* failed_index) {
  std::vector<CreatedFlow> out;
  out.reserve(batch.size());
  auto fail = [&](size_t index, std::string reason) -> absl::Status {
    // Undo: destroy the flows enqueued so far, then their tables and templates.
    for (const CreatedFlow& f : out) {
      if (f.flow) {
        rte_flow_op_attr op{};
        rte_flow_error err{};
        rte_flow_async_destroy(port_id, kQueue, &op, f.flow, nullptr, &err);
      }
    }
    rte_flow_error err{};
    rte_flow_push(port_id, kQueue, &err);
    std::vector<void*> ignored;
    (void)PullAll(port_id, out.size(), &ignored);
    for (const CreatedFlow& f : out) DestroyTemplates(f);
    *failed_index = index;
    return absl::FailedPreconditionError(std::move(reason));
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    const FlowTranslation& t = *batch[i];
    CreatedFlow f;
    f.port_id = port_id;
    rte_flow_error err{};
    rte_flow_pattern_template_attr pattr{};
    pattr.relaxed_matching = 0;
    pattr.ingress = t.attr.ingress;
    pattr.transfer = t.attr.transfer;
    f.pattern_template = rte_flow_pattern_template_create(port_id, &pattr, t.items, &err);
    if (!f.pattern_template) return fail(i, FlowErrorText(err, -rte_errno));
    rte_flow_actions_template_attr aattr{};
    aattr.ingress = t.attr.ingress;
    aattr.transfer = t.attr.transfer;
    f.actions_template =
        rte_flow_actions_template_create(port_id, &aattr, t.actions, t.actions, &err);
    if (!f.actions_template) {
      DestroyTemplates(f);
      return fail(i, FlowErrorText(err, -rte_errno));
    }
    rte_flow_template_table_attr tattr{};
    tattr.flow_attr = t.attr;
    tattr.nb_flows = 1;
    f.table = rte_flow_template_table_create(port_id, &tattr, &f.pattern_template, 1,
                                             &f.actions_template, 1, &err);
    if (!f.table) {
      DestroyTemplates(f);
      return fail(i, FlowErrorText(err, -rte_errno));
    }
    rte_flow_op_attr op{};
    op.postpone = 1;
    f.flow = rte_flow_async_create(port_id, kQueue, &op, f.table, t.items, 0, t.actions, 0,
                                   reinterpret_cast<void*>(i + 1), &err);
    if (!f.flow) {
      DestroyTemplates(f);
      return fail(i, FlowErrorText(err, -rte_errno));
    }
    out.push_back(f);
  }
  rte_flow_error err{};
  int rc = rte_flow_push(port_id, kQueue, &err);
  if (rc != 0) return fail(0, absl::StrCat("rte_flow_push: ", FlowErrorText(err, rc)));
  std::vector<void*> failed;
  absl::Status st = PullAll(port_id, out.size(), &failed);
  if (!st.ok()) return fail(0, std::string(st.message()));
  if (!failed.empty()) {
    size_t index = reinterpret_cast<size_t>(failed.front()) - 1;
    return fail(index, "the PMD reported the asynchronous create as failed");
  }
  return out;
}

absl::Status DestroyFlow(const CreatedFlow& f, bool async) {
  rte_flow_error err{};
  if (!async) {
    int rc = rte_flow_destroy(f.port_id, f.flow, &err);
    if (rc != 0) return absl::InternalError(FlowErrorText(err, rc));
    return absl::OkStatus();
  }
  rte_flow_op_attr op{};
  int rc = rte_flow_async_destroy(f.port_id, kQueue, &op, f.flow, nullptr, &err);
  if (rc != 0) return absl::InternalError(FlowErrorText(err, rc));
  rte_flow_push(f.port_id, kQueue, &err);
  std::vector<void*> failed;
  absl::Status st = PullAll(f.port_id, 1, &failed);
  DestroyTemplates(f);
  if (!st.ok()) return st;
  if (!failed.empty())
    return absl::InternalError("the PMD reported the asynchronous destroy as failed");
  return absl::OkStatus();
}

}  // namespace dpu::dpdk
