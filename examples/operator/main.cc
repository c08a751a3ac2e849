// dpu-operator: the declarative reconciler of a DPU fleet, and the commands that edit its desired
// state in etcd (the part of a Kubernetes API server it needs). docs/operator.md.
//
//   dpu-operator --etcd=HOST:PORT[,HOST:PORT...] run   reconcile until SIGTERM (--leader_elect:
//                                                     one of several replicas)
//   dpu-operator --etcd=HOST:PORT apply FILE...        create or update resources (YAML/JSON)
//   dpu-operator --etcd=HOST:PORT get KIND [NAME]      print resources as JSON
//   dpu-operator --etcd=HOST:PORT delete KIND NAME     delete a resource
//   dpu-operator validate FILE...                      check manifests without storing them
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "agent_client.h"
#include "common/flags_help.h"
#include "etcd_client.h"
#include "operator.h"
#include "resources.h"
#include "store.h"

ABSL_FLAG(std::string, etcd, "127.0.0.1:2379",
          "etcd members HOST:PORT[,HOST:PORT...] (v3 gRPC API); calls fail over between them");
ABSL_FLAG(absl::Duration, etcd_attempt_timeout, absl::Seconds(3),
          "Deadline of one call on one etcd member before trying the next");
ABSL_FLAG(absl::Duration, etcd_retry_for, absl::Seconds(15),
          "How long one etcd call keeps trying the members (with backoff) before failing");
ABSL_FLAG(std::string, prefix, "/registry", "Key prefix of the resources");
ABSL_FLAG(std::string, state_prefix, "/libdpu/operator",
          "Key prefix of the operator's checkpoint and upgrade plans");
ABSL_FLAG(absl::Duration, resync, absl::Seconds(30), "Full reconcile period (0: never)");
ABSL_FLAG(absl::Duration, retry, absl::Seconds(1), "Retry period after errors");
ABSL_FLAG(absl::Duration, rpc_timeout, absl::Seconds(30), "Deadline of calls to nodes");
ABSL_FLAG(int64_t, node_concurrency, 64,
          "run: node calls in flight at once (reads and writes of a reconcile pass)");
ABSL_FLAG(absl::Duration, node_timeout, absl::Seconds(10),
          "run: a node's reads or writes of one pass must answer within this; a node that does "
          "not is reported (Ready False, AgentTimeout) and skipped until it answers");
ABSL_FLAG(std::string, etcd_ca, "",
          "PEM CA bundle that signed etcd's server certificate; set: TLS to etcd (else plaintext)");
ABSL_FLAG(std::string, etcd_cert, "", "PEM client certificate for etcd (--client-cert-auth)");
ABSL_FLAG(std::string, etcd_key, "", "PEM private key of --etcd_cert");
ABSL_FLAG(std::string, agent_ca, "",
          "PEM CA bundle that signed the dpu-agent and dpu-node-imaged server certificates; set: "
          "TLS to the nodes (else plaintext)");
ABSL_FLAG(std::string, agent_cert, "",
          "PEM client certificate presented to the nodes (the agent's mutual TLS)");
ABSL_FLAG(std::string, agent_key, "", "PEM private key of --agent_cert");
ABSL_FLAG(bool, leader_elect, false,
          "run: several replicas, one reconciles (etcd lease on STATE_PREFIX/leader)");
ABSL_FLAG(absl::Duration, lease_ttl, absl::Seconds(15),
          "run --leader_elect: lease TTL; a dead leader is replaced within it");
ABSL_FLAG(std::string, identity, "", "run --leader_elect: this replica's name (default HOST-PID)");
ABSL_FLAG(int64_t, crash_after_node_writes, 0,
          "Crash tests only: exit at once (status 3, nothing saved) after this many writes to "
          "nodes; 0: never");

namespace {

std::atomic<bool> g_stop{false};

int Fail(const absl::Status& s) {
  std::cerr << "dpu-operator: " << s.message() << "\n";
  return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

absl::StatusOr<std::vector<dpu_operator::ManifestObject>> LoadFiles(
    const std::vector<std::string>& files) {
  std::vector<dpu_operator::ManifestObject> all;
  for (const auto& path : files) {
    auto text = ReadFile(path);
    if (!text.ok()) return text.status();
    auto objs = dpu_operator::ParseManifests(*text);
    if (!objs.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", objs.status().message()));
    }
    all.insert(all.end(), objs->begin(), objs->end());
  }
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  dpu_examples::InitFlagsHelp(
      argc, argv, "dpu-operator",
      "dpu-operator [flags] run | apply FILE... | get KIND [NAME] | delete KIND NAME | "
      "validate FILE...  (docs/operator.md)",
      __FILE__);
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() < 2) {
    std::cerr << "dpu-operator: missing command (run, apply, get, delete, validate)\n";
    return 2;
  }
  const std::string cmd = rest[1];
  std::vector<std::string> args(rest.begin() + 2, rest.end());

  if (cmd == "validate") {
    auto objs = LoadFiles(args);
    if (!objs.ok()) return Fail(objs.status());
    for (const auto& o : *objs) {
      std::cout << dpu_operator::KindName(o.resource.kind) << "/" << o.resource.name << " valid\n";
    }
    return 0;
  }

  // Everything else talks to etcd. Block the stop signals before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const dpu_operator::TlsFiles etcd_tls{
      absl::GetFlag(FLAGS_etcd_ca), absl::GetFlag(FLAGS_etcd_cert), absl::GetFlag(FLAGS_etcd_key)};
  dpu_operator::EtcdClientOptions etcd_options;
  etcd_options.attempt_timeout = absl::GetFlag(FLAGS_etcd_attempt_timeout);
  etcd_options.retry_for = absl::GetFlag(FLAGS_etcd_retry_for);
  if (etcd_options.attempt_timeout <= absl::ZeroDuration() ||
      etcd_options.retry_for <= absl::ZeroDuration()) {
    return Fail(
        absl::InvalidArgumentError("--etcd_attempt_timeout, --etcd_retry_for: must be above zero"));
  }
  if (cmd == "run") {
    etcd_options.log = [](const std::string& line) {
      std::cerr << "dpu-operator: " << line << std::endl;
    };
  }
  if (auto list = dpu_operator::ParseEndpoints(absl::GetFlag(FLAGS_etcd), "--etcd"); !list.ok()) {
    return Fail(list.status());
  }
  auto etcd = dpu_operator::EtcdClient::Connect(absl::GetFlag(FLAGS_etcd), absl::Seconds(10),
                                                etcd_tls, etcd_options);
  if (!etcd.ok()) return Fail(etcd.status());
  dpu_operator::ResourceStore store(etcd->get(), absl::GetFlag(FLAGS_prefix));

  if (cmd == "apply") {
    auto objs = LoadFiles(args);
    if (!objs.ok()) return Fail(objs.status());
    for (const auto& o : *objs) {
      auto r = store.Apply(o);
      if (!r.ok()) return Fail(r.status());
      std::cout << dpu_operator::KindName(o.resource.kind) << "/" << o.resource.name << " "
                << dpu_operator::ApplyOutcomeName(r->first) << " (generation "
                << r->second.generation << ", resourceVersion " << r->second.mod_revision << ")\n";
    }
    return 0;
  }
  if (cmd == "get" || cmd == "delete") {
    if (args.empty() || args.size() > 2 || (cmd == "delete" && args.size() != 2)) {
      std::cerr << "dpu-operator: usage: " << cmd << " KIND" << (cmd == "get" ? " [NAME]" : " NAME")
                << "\n";
      return 2;
    }
    auto kind = dpu_operator::ParseKind(args[0]);
    if (!kind.ok()) return Fail(kind.status());
    if (cmd == "delete") {
      if (auto s = store.Delete(*kind, args[1]); !s.ok()) return Fail(s);
      std::cout << dpu_operator::KindName(*kind) << "/" << args[1] << " deleted\n";
      return 0;
    }
    if (args.size() == 2) {
      auto r = store.Get(*kind, args[1]);
      if (!r.ok()) return Fail(r.status());
      std::cout << r->ToJson().dump(2) << "\n";
      return 0;
    }
    auto list = store.List(*kind);
    if (!list.ok()) return Fail(list.status());
    nlohmann::json items = nlohmann::json::array();
    for (const auto& r : *list) items.push_back(r.ToJson());
    std::cout << nlohmann::json{{"items", items}}.dump(2) << "\n";
    return 0;
  }
  if (cmd == "run") {
#ifdef DPU_OPERATOR_HAVE_AGENT
    dpu_operator::OperatorOptions options;
    options.prefix = absl::GetFlag(FLAGS_prefix);
    options.state_prefix = absl::GetFlag(FLAGS_state_prefix);
    options.resync = absl::GetFlag(FLAGS_resync);
    options.retry = absl::GetFlag(FLAGS_retry);
    if (absl::GetFlag(FLAGS_node_concurrency) < 1) {
      return Fail(absl::InvalidArgumentError("--node_concurrency: must be at least 1"));
    }
    if (absl::GetFlag(FLAGS_node_timeout) <= absl::ZeroDuration()) {
      return Fail(absl::InvalidArgumentError("--node_timeout: must be above zero"));
    }
    options.node_concurrency = static_cast<size_t>(absl::GetFlag(FLAGS_node_concurrency));
    options.node_timeout = absl::GetFlag(FLAGS_node_timeout);
    if (absl::GetFlag(FLAGS_leader_elect)) {
      options.lease_ttl = absl::GetFlag(FLAGS_lease_ttl);
      if (options.lease_ttl < absl::Seconds(1)) {
        return Fail(absl::InvalidArgumentError("--lease_ttl: must be at least 1s"));
      }
      options.identity = absl::GetFlag(FLAGS_identity);
    }
    auto factory = dpu_operator::GrpcAgentClientFactory(
        absl::GetFlag(FLAGS_rpc_timeout),
        dpu_operator::TlsFiles{absl::GetFlag(FLAGS_agent_ca), absl::GetFlag(FLAGS_agent_cert),
                               absl::GetFlag(FLAGS_agent_key)});
    if (!factory.ok()) return Fail(factory.status());
    const int64_t crash_after = absl::GetFlag(FLAGS_crash_after_node_writes);
    if (crash_after > 0) {
      options.after_node_write = [crash_after](int64_t n) {
        if (n >= crash_after) {
          std::cerr << "dpu-operator: crash test: exiting after " << n << " node write(s)"
                    << std::endl;
          _exit(3);
        }
        return false;
      };
    }
    std::thread waiter([&signals] {
      int sig = 0;
      sigwait(&signals, &sig);
      g_stop = true;
    });
    waiter.detach();
    dpu_operator::Operator op(etcd->get(), *std::move(factory), options);
    absl::Status s = op.Run(g_stop);
    if (!s.ok()) return Fail(s);
    return 0;
#else
    return Fail(absl::UnimplementedError("run: built without examples/agent (no node client)"));
#endif
  }
  std::cerr << "dpu-operator: unknown command \"" << cmd << "\"\n";
  return 2;
}
