// dpuctl: the command-line tool of libdpu. Discovery, ports, flow rules and service chains on
// any backend. Uses only the public API (include/dpu/); docs/dpuctl.md is the reference.
//
// Exit status: 0 success, 1 the operation failed, 2 the command line is wrong.
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "dpuctl.h"

namespace {

using dpuctl::Options;
using Verb = std::function<absl::Status(const Options&)>;

constexpr const char* kFooter =
    "Exit status: 0 ok, 1 the operation failed, 2 bad command line.\n"
    "Reference: docs/dpuctl.md.";

// Checks a file argument: "-" (standard input) or an existing file.
const CLI::Validator kInputFile(
    [](std::string& path) -> std::string {
      if (path == "-") return {};
      return CLI::ExistingFile(path);
    },
    "FILE|-", "input file");

CLI::App* Leaf(CLI::App* parent, const std::string& name, const std::string& help, Verb verb,
               Verb* selected) {
  CLI::App* app = parent->add_subcommand(name, help);
  app->footer(kFooter);
  app->callback([verb, selected] { *selected = verb; });
  return app;
}

void AddBackend(CLI::App* app, Options& o) {
  app->add_option("--backend", o.backend,
                  "Backend spec as the registry takes it: reference, netlink, "
                  "netlink:netns=NAME, dpdk:EAL-ARGS, p4runtime:HOST:PORT?... "
                  "(default: $DPUCTL_BACKEND)")
      ->envname("DPUCTL_BACKEND")
      ->type_name("SPEC");
  app->add_option("--state", o.state,
                  "reference backend only: rule file loaded before and saved after the "
                  "command, so rules persist across invocations")
      ->type_name("FILE");
}

void AddOutput(CLI::App* app, Options& o, std::vector<std::string> formats) {
  std::string names;
  for (const auto& f : formats) names += (names.empty() ? "" : "|") + f;
  app->add_option("-o,--output", o.output, "Output format: " + names + " (default: table)")
      ->check(CLI::IsMember(formats))
      ->type_name("FORMAT");
}

#ifdef DPUCTL_LEAN
// This dpuctl is linked with only some of the build's backends (examples/dpuctl/CMakeLists.txt).
// A --backend it lacks, but this build has, is run by dpuctl-full: next to this program (build
// tree) or in LIBEXECDIR/libdpu (installed). @return only when it cannot be started.
int ExecFull(char** argv, const std::string& backend) {
  std::string self(PATH_MAX, '\0');
  ssize_t n = readlink("/proc/self/exe", self.data(), self.size() - 1);
  std::vector<std::string> candidates;
  if (n > 0) {
    self.resize(static_cast<size_t>(n));
    std::string dir = self.substr(0, self.rfind('/'));
    candidates.push_back(dir + "/dpuctl-full");
    candidates.push_back(dir + "/" DPUCTL_FULL_RELDIR "/dpuctl-full");
  }
  for (const std::string& path : candidates) {
    if (access(path.c_str(), X_OK) != 0) continue;
    argv[0] = const_cast<char*>(path.c_str());
    execv(path.c_str(), argv);
    std::cerr << "dpuctl: --backend '" << backend << "': cannot run " << path << ": "
              << std::strerror(errno) << "\n";
    return 1;
  }
  std::string looked;
  for (const std::string& path : candidates) looked += (looked.empty() ? "" : ", ") + path;
  std::cerr << "dpuctl: --backend '" << backend << "' is run by dpuctl-full, which is not installed"
            << (looked.empty() ? "" : " (looked for " + looked + ")") << "\n";
  return 1;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  Options o;
  Verb verb;
  CLI::App app{
      "dpuctl: discover DPUs, inspect ports, program flow rules and service chains on any "
      "libdpu backend.",
      "dpuctl"};
  app.footer(kFooter);
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every command");
  app.add_flag("--no-progress", o.no_progress, "Never draw progress bars");

  // get
  CLI::App* get = app.add_subcommand("get", "Show DPUs and their ports");
  get->require_subcommand(1);
  get->footer(kFooter);
  CLI::App* get_dpu =
      Leaf(get, "dpu", "List the DPUs of this node (as 'oc get dpu')", dpuctl::GetDpu, &verb);
  get_dpu->alias("dpus");
  get_dpu->add_option("name", o.args, "Only these DPUs (names from the NAME column)");
  AddOutput(get_dpu, o, {"wide", "json", "yaml", "name"});
  get_dpu->add_option("--sysfs-root", o.sysfs_root, "sysfs to read (a fixture directory)")
      ->check(CLI::ExistingDirectory);
  get_dpu->add_option("--node", o.node, "Node name for the MODE NAME column (default: hostname)");
  CLI::App* get_ports =
      Leaf(get, "ports", "List the ports (PF netdevs, VFs, representors) of one DPU",
           dpuctl::GetPorts, &verb);
  get_ports->alias("port");
  get_ports->add_option("dpu", o.args, "DPU name (see 'dpuctl get dpu')")->required();
  AddOutput(get_ports, o, {"wide", "json", "yaml", "name"});
  get_ports->add_option("--sysfs-root", o.sysfs_root, "sysfs to read (a fixture directory)")
      ->check(CLI::ExistingDirectory);

  // flow
  CLI::App* flow = app.add_subcommand("flow", "Flow rules on a backend (docs/rule-language.md)");
  flow->require_subcommand(1);
  flow->footer(kFooter);
  CLI::App* flow_add = Leaf(flow, "add", "Install (or replace) one rule, or the rules of a file",
                            dpuctl::FlowAdd, &verb);
  flow_add->add_option("rule", o.args, "The rule, e.g. priority=10 in_port=eth0 actions=drop")
      ->type_name("KEY=VALUE...");
  flow_add->add_option("-f,--filename", o.file, "Rule file to add (one rule per line)")
      ->check(kInputFile);
  flow_add->add_flag("--dry-run", o.dry_run, "Say what would change; change nothing");
  AddBackend(flow_add, o);
  CLI::App* flow_del =
      Leaf(flow, "del", "Delete rules by id (or unique id prefix), by rule, or all",
           dpuctl::FlowDel, &verb);
  flow_del->alias("delete");
  flow_del->add_option("id", o.args, "Flow ids or unique prefixes (4+ hex digits), or a rule")
      ->type_name("ID...|KEY=VALUE...");
  flow_del->add_flag("--all", o.all, "Delete every rule libdpu installed on the backend");
  flow_del->add_flag("--dry-run", o.dry_run, "Say what would change; change nothing");
  AddBackend(flow_del, o);
  CLI::App* flow_list = Leaf(flow, "list", "List the rules on a backend", dpuctl::FlowList, &verb);
  flow_list->alias("ls");
  AddOutput(flow_list, o, {"wide", "json", "yaml", "name", "rules"});
  AddBackend(flow_list, o);
  CLI::App* flow_stats = Leaf(flow, "stats", "Counters of rules (those with a count action)",
                              dpuctl::FlowStats, &verb);
  flow_stats->add_option("id", o.args, "Flow ids or unique prefixes (default: every rule)")
      ->type_name("ID...");
  AddOutput(flow_stats, o, {"wide", "json", "yaml"});
  AddBackend(flow_stats, o);
  CLI::App* flow_apply =
      Leaf(flow, "apply",
           "Make a rule file the complete set of libdpu rules on the backend: print the plan as a "
           "diff, then apply it in one batch, all or nothing",
           dpuctl::FlowApply, &verb);
  flow_apply->footer(
      "All or nothing: if the device refuses an operation, the device holds what it held before.\n"
      "Atomic in the data plane (no packet sees part of the batch) where the device applies a\n"
      "batch atomically: the reference backend, and P4Runtime targets with ROLLBACK_ON_ERROR.\n"
      "Elsewhere best effort with undo: netlink and dpdk, and P4Runtime targets with\n"
      "CONTINUE_ON_ERROR only (BMv2, NVIDIA DPL) write update by update (new rules before\n"
      "deletions) and undo what a refused batch applied; 'Applied:' then says so. On P4Runtime,\n"
      "add atomicity=require to the backend spec to refuse batches on targets that cannot.\n\n" +
      std::string(kFooter));
  flow_apply->add_option("-f,--filename", o.file, "Rule file (one rule per line; - for stdin)")
      ->required()
      ->check(kInputFile);
  flow_apply->add_flag("--dry-run", o.dry_run, "Print the plan only; change nothing");
  AddBackend(flow_apply, o);

  // chain
  CLI::App* chain =
      app.add_subcommand("chain", "Service function chains from ServiceFunctionChain manifests");
  chain->require_subcommand(1);
  chain->footer(kFooter);
  auto chain_verb = [&](const std::string& name, const std::string& help, Verb v) {
    CLI::App* c = Leaf(chain, name, help, v, &verb);
    c->add_option("-f,--filename", o.file, "Manifest file (several documents separated by ---)")
        ->required()
        ->check(kInputFile);
    return c;
  };
  CLI::App* chain_apply =
      chain_verb("apply", "Install or update the chains of a manifest in one atomic batch",
                 dpuctl::ChainApply);
  chain_apply->add_flag("--dry-run", o.dry_run, "Print the plan only; change nothing");
  chain_apply->add_flag("--count", o.count, "Count the traffic of every step (count action)");
  AddBackend(chain_apply, o);
  CLI::App* chain_delete = chain_verb(
      "delete", "Remove the chains named in a manifest, exactly their rules", dpuctl::ChainDelete);
  chain_delete->alias("del");
  chain_delete->add_flag("--dry-run", o.dry_run, "Print what would be deleted; change nothing");
  chain_delete->add_flag("--ignore-not-found", o.ignore_not_found,
                         "A chain with no rule installed is not an error");
  AddBackend(chain_delete, o);
  CLI::App* chain_plan =
      chain_verb("plan", "Print what 'chain apply' would change, as a diff", dpuctl::ChainPlan);
  chain_plan->add_flag("--count", o.count, "Plan with count actions (as apply --count)");
  AddBackend(chain_plan, o);
  CLI::App* chain_graph = chain_verb(
      "graph", "Draw the chains: Graphviz DOT, or SVG through Graphviz's dot", dpuctl::ChainGraph);
  chain_graph
      ->add_option("-o,--output", o.output,
                   "Output file: FILE.svg, FILE.dot/.gv, or - for DOT on stdout (default)")
      ->type_name("FILE");
  chain_graph->add_option("--format", o.format, "svg or dot (default: from the -o name)")
      ->check(CLI::IsMember({"svg", "dot"}));

  // l2
  CLI::App* l2 = app.add_subcommand(
      "l2", "L2 networks: logical bridges, bridge ports and bridge functions (docs/l2.md)");
  l2->require_subcommand(1);
  l2->footer(kFooter);
  auto l2_verb = [&](const std::string& name, const std::string& help, Verb v) {
    CLI::App* c = Leaf(l2, name, help, v, &verb);
    c->add_option("-f,--filename", o.file, "Network file (bridges, ports, functions; YAML)")
        ->required()
        ->check(kInputFile);
    c->add_flag("--count", o.count, "Count the traffic of every rule (count action)");
    AddBackend(c, o);
    return c;
  };
  CLI::App* l2_apply =
      l2_verb("apply", "Install or update a network's rules in one atomic batch", dpuctl::L2Apply);
  l2_apply->add_flag("--dry-run", o.dry_run, "Print the plan only; change nothing");
  l2_verb("plan", "Print what 'l2 apply' would change, as a diff", dpuctl::L2Plan);
  CLI::App* l2_delete =
      l2_verb("delete", "Remove exactly the rules of a network", dpuctl::L2Delete);
  l2_delete->alias("del");
  l2_delete->add_flag("--dry-run", o.dry_run, "Print what would be deleted; change nothing");
  l2_delete->add_flag("--ignore-not-found", o.ignore_not_found,
                      "A network with no rule installed is not an error");

  // vf
  CLI::App* vf = app.add_subcommand("vf", "SR-IOV VFs of a PF and their settings");
  vf->require_subcommand(1);
  vf->footer(kFooter);
  auto pf_verb = [&](const std::string& name, const std::string& help, Verb v) {
    CLI::App* c = Leaf(vf, name, help, v, &verb);
    c->add_option("--sysfs-root", o.sysfs_root, "Where sysfs is mounted")
        ->check(CLI::ExistingDirectory);
    return c;
  };
  CLI::App* vf_list = pf_verb("list", "List the VFs of a PF and their settings", dpuctl::VfList);
  vf_list->alias("ls");
  vf_list->add_option("pf", o.args, "The PF: netdev, PCI address or devlink handle")
      ->required()
      ->expected(1);
  AddOutput(vf_list, o, {"json", "yaml", "settings"});
  CLI::App* vf_set = pf_verb(
      "set",
      "Change settings of one VF, all or nothing: mac=M vlan=ID qos=Q proto=802.1Q|802.1ad "
      "trust=on|off spoofchk=on|off min_tx_rate=MBPS max_tx_rate=MBPS state=auto|enable|disable",
      dpuctl::VfSet);
  vf_set
      ->add_option("args", o.args,
                   "PF VF KEY=VALUE... (PF: netdev, PCI address or devlink "
                   "handle; VF: its number)")
      ->required()
      ->type_name("PF VF KEY=VALUE...");
  vf_set->add_flag("--dry-run", o.dry_run,
                   "Print the VF's settings and the change; change nothing");
  CLI::App* vf_count =
      pf_verb("count", "Show, or set, the number of VFs of a PF (sriov_numvfs)", dpuctl::VfCount);
  vf_count->add_option("args", o.args, "PF [NUM_VFS]")->required()->type_name("PF [NUM_VFS]");
  vf_count->add_flag("--dry-run", o.dry_run, "Say what would change; change nothing");

  // provision
  CLI::App* provision =
      Leaf(&app, "provision",
           "Write a software image to a DPU and verify it (resumable), driving its lifecycle "
           "Discovered -> Provisioning -> Ready",
           dpuctl::Provision, &verb);
  provision->add_option("dpu", o.args, "DPU name (see 'dpuctl get dpu')")->required()->expected(1);
  provision->add_option("--image", o.image, "The image file")->required()->check(CLI::ExistingFile);
  provision
      ->add_option("--manifest", o.manifest,
                   "The image's manifest (name, version, size, sha256, compatible_services)")
      ->required()
      ->check(CLI::ExistingFile);
  provision->add_option("--target", o.target, "Where to write: a file or a block device")
      ->required();
  provision->add_option("--journal", o.journal, "Resume journal (default TARGET.dpu-provision)");
  provision
      ->add_option("--running-services", o.running_services,
                   "Version of the services running on the DPU; refuse an incompatible image")
      ->type_name("X.Y.Z");
  provision->add_option("--chunk-size", o.chunk_size, "Bytes per write and journal commit")
      ->type_name("BYTES");
  provision->add_option("--sysfs-root", o.sysfs_root, "sysfs to find the DPU in")
      ->check(CLI::ExistingDirectory);
  provision->add_flag("--dry-run", o.dry_run, "Check the image only; write nothing");

  // ipsec (ipsec.cc)
  dpuctl::AddIpsecCommands(&app, &verb);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string path = "dpuctl";
    const CLI::App* sub = &app;
    while (!sub->get_subcommands().empty()) {
      sub = sub->get_subcommands().front();
      path += " " + sub->get_name();
    }
    // An unknown command word is left over as an extra argument of the deepest command given.
    std::vector<std::string> rest = sub->remaining();
    if (!rest.empty() && !sub->get_subcommands({}).empty() && rest.front()[0] != '-') {
      std::string known;
      for (const CLI::App* c : sub->get_subcommands({})) {
        known += (known.empty() ? "" : ", ") + c->get_name();
      }
      std::cerr << "dpuctl: unknown command '" << rest.front() << "' for '" << path
                << "' (commands: " << known << ")\n";
    } else if (!rest.empty() && rest.front().size() > 1 && rest.front()[0] == '-' &&
               !sub->get_subcommands({}).empty()) {
      // CLI11 reports a missing command before an unknown option left over: name the option.
      std::cerr << "dpuctl: unknown option '" << rest.front() << "' for '" << path << "'\n";
    } else {
      std::cerr << "dpuctl: " << e.what() << "\n";
    }
    std::cerr << "Run '" << path << " --help' for usage.\n";
    return 2;
  }
  if (!verb) {
    std::cerr << "dpuctl: no command given\n";
    return 2;
  }
#ifdef DPUCTL_LEAN
  if (!o.backend.empty()) {
    const std::string name = o.backend.substr(0, o.backend.find(':'));
    for (absl::string_view full : absl::StrSplit(DPUCTL_FULL_BACKENDS, ',', absl::SkipEmpty())) {
      if (name == full) return ExecFull(argv, o.backend);
    }
  }
#endif
  absl::Status status = verb(o);
  if (status.ok()) return 0;
  std::cerr << "dpuctl: " << status.message() << "\n";
  return dpuctl::IsUsageError(status) ? 2 : 1;
}
