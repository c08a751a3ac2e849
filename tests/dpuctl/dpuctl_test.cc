// dpuctl end to end: runs the real binary and checks stdout, stderr and exit status.
//
// Golden files (tests/dpuctl/golden/*.out) hold the exact stdout of the listed commands on the
// shipped sysfs fixtures. After an intended output change, regenerate them with
//   DPUCTL_UPDATE_GOLDEN=1 build/dev/tests/dpuctl/dpuctl_test
// and review the diff.
#include <fcntl.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const std::string kSrc = DPU_SOURCE_DIR;
const std::string kFixtures = kSrc + "/tests/fixtures/sysfs";
const std::string kGolden = kSrc + "/tests/dpuctl/golden";

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

// A dpuctl process started by Start(); stdout and stderr go to files (no pipes: no deadlock).
struct Child {
  pid_t pid = -1;
  std::string dir;
};

Child Start(const std::vector<std::string>& args, const std::string& stdin_text = "") {
  char tmpl[] = "/tmp/dpuctl-test-XXXXXX";
  Child c;
  c.dir = mkdtemp(tmpl);
  const std::string in_path = c.dir + "/in", out_path = c.dir + "/out", err_path = c.dir + "/err";
  std::ofstream(in_path) << stdin_text;
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  std::string bin = DPUCTL_BIN;
  argv.push_back(bin.data());
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  c.pid = fork();
  if (c.pid == 0) {
    int in = open(in_path.c_str(), O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    unsetenv("DPUCTL_BACKEND");
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return c;
}

Result Finish(const Child& c) {
  int wstatus = 0;
  waitpid(c.pid, &wstatus, 0);
  Result r;
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  std::ifstream o(c.dir + "/out"), e(c.dir + "/err");
  std::stringstream so, se;
  so << o.rdbuf();
  se << e.rdbuf();
  r.out = so.str();
  r.err = se.str();
  fs::remove_all(c.dir);
  return r;
}

// Runs dpuctl with @p args and waits for it.
Result Dpuctl(const std::vector<std::string>& args, const std::string& stdin_text = "") {
  return Finish(Start(args, stdin_text));
}

// Runs independent dpuctl commands, several at a time; results in the order of @p commands.
std::vector<Result> DpuctlMany(const std::vector<std::vector<std::string>>& commands) {
  constexpr size_t kParallel = 6;
  std::vector<Result> results;
  for (size_t i = 0; i < commands.size(); i += kParallel) {
    std::vector<Child> running;
    for (size_t j = i; j < commands.size() && j < i + kParallel; ++j) {
      running.push_back(Start(commands[j]));
    }
    for (const Child& c : running) results.push_back(Finish(c));
  }
  return results;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void CheckGolden(const std::string& name, const Result& r) {
  SCOPED_TRACE(name);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string path = kGolden + "/" + name + ".out";
  if (getenv("DPUCTL_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << r.out;
    return;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " missing; run with DPUCTL_UPDATE_GOLDEN=1";
  EXPECT_EQ(r.out, ReadFile(path)) << "stdout of dpuctl differs from " << path;
}

void ExpectGolden(const std::string& name, const std::vector<std::string>& args) {
  CheckGolden(name, Dpuctl(args));
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/dpuctl-state-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------------------------
// get dpu / get ports on the shipped fixtures.

TEST(DpuctlGolden, GetDpuEveryFixture) {
  const std::vector<std::string> fixtures = {
      "bf2-dpu",      "bf2-host",      "bf2-nic-mode-host", "bf3-dpu",      "bf3-host",
      "ipu-dpu",      "ipu-host",      "mixed-node",        "netsec-dpu",   "netsec-host",
      "octeon10-dpu", "octeon10-host", "pensando-dpu",      "pensando-host"};
  std::vector<std::vector<std::string>> commands;
  for (const std::string& f : fixtures) {
    commands.push_back({"get", "dpu", "--sysfs-root", kFixtures + "/" + f, "--node", "worker-1"});
  }
  std::vector<Result> results = DpuctlMany(commands);
  for (size_t i = 0; i < fixtures.size(); ++i) {
    CheckGolden("get-dpu-" + fixtures[i], results[i]);
  }
}

TEST(DpuctlGolden, GetDpuFormats) {
  const std::string mixed = kFixtures + "/mixed-node";
  ExpectGolden("get-dpu-mixed-node-wide",
               {"get", "dpu", "-o", "wide", "--sysfs-root", mixed, "--node", "worker-1"});
  ExpectGolden("get-dpu-mixed-node-name", {"get", "dpu", "-o", "name", "--sysfs-root", mixed});
  ExpectGolden("get-dpu-bf3-dpu-json", {"get", "dpu", "-o", "json", "--sysfs-root",
                                        kFixtures + "/bf3-dpu", "--node", "bf3-arm"});
  ExpectGolden("get-dpu-ipu-host-yaml", {"get", "dpu", "-o", "yaml", "--sysfs-root",
                                         kFixtures + "/ipu-host", "--node", "worker-2"});
}

TEST(DpuctlGolden, GetPorts) {
  const std::string bf3 = kFixtures + "/bf3-dpu";
  Result names = Dpuctl({"get", "dpu", "-o", "name", "--sysfs-root", bf3});
  ASSERT_EQ(names.status, 0) << names.err;
  ASSERT_THAT(names.out, HasSubstr("dpu/"));
  std::string dpu = names.out.substr(4, names.out.find('\n') - 4);
  ExpectGolden("get-ports-bf3-dpu", {"get", "ports", dpu, "--sysfs-root", bf3});
  ExpectGolden("get-ports-bf3-dpu-wide", {"get", "ports", dpu, "-o", "wide", "--sysfs-root", bf3});
  const std::string host = kFixtures + "/bf3-host";
  names = Dpuctl({"get", "dpu", "-o", "name", "--sysfs-root", host});
  dpu = names.out.substr(4, names.out.find('\n') - 4);
  ExpectGolden("get-ports-bf3-host-json",
               {"get", "ports", dpu, "-o", "json", "--sysfs-root", host});
}

TEST(Dpuctl, GetDpuOneByNameIsAnObjectAndUnknownNameFails) {
  const std::string mixed = kFixtures + "/mixed-node";
  Result names = Dpuctl({"get", "dpu", "-o", "name", "--sysfs-root", mixed});
  std::string first = names.out.substr(4, names.out.find('\n') - 4);
  Result one = Dpuctl({"get", "dpu", first, "-o", "json", "--sysfs-root", mixed});
  ASSERT_EQ(one.status, 0) << one.err;
  EXPECT_THAT(one.out, AllOf(HasSubstr("\"kind\": \"DataProcessingUnit\""),
                             HasSubstr("\"name\": \"" + first + "\""), Not(HasSubstr("\"List\""))));
  Result missing = Dpuctl({"get", "dpu", "bf9-nope", "--sysfs-root", mixed});
  EXPECT_EQ(missing.status, 1);
  EXPECT_THAT(missing.err, HasSubstr("bf9-nope"));
  EXPECT_THAT(missing.out, IsEmpty());
}

TEST(Dpuctl, StatusFollowsTheLinks) {
  // A copy of the bf3-host fixture whose first PF netdev is down: STATUS False, and the Ready
  // condition names the netdev.
  TempDir dir;
  const std::string root = dir / "sys";
  fs::copy(kFixtures + "/bf3-host", root,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  const std::string oper = root + "/class/net/ens1f0np0/operstate";
  ASSERT_TRUE(fs::exists(oper));
  std::ofstream(fs::canonical(oper)) << "down\n";
  Result table = Dpuctl({"get", "dpu", "--sysfs-root", root, "--node", "n1"});
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_THAT(
      table.out,
      HasSubstr("bf3-0000-03-00.0-host   NVIDIA BlueField-3   false      n1          False"));
  Result json = Dpuctl({"get", "dpu", "bf3-0000-03-00.0-host", "-o", "json", "--sysfs-root", root});
  ASSERT_EQ(json.status, 0) << json.err;
  EXPECT_THAT(json.out,
              AllOf(HasSubstr("\"status\": \"False\""),
                    HasSubstr("\"reason\": \"HealthCheckFailed\""), HasSubstr("ens1f0np0")));
}

TEST(Dpuctl, BrokenFixtureWarnsOnStderrOnly) {
  Result r = Dpuctl({"get", "dpu", "--sysfs-root", kFixtures + "/broken", "--node", "n"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("dpuctl: warning: "));
  EXPECT_THAT(r.out, Not(HasSubstr("warning")));
}

// ---------------------------------------------------------------------------------------------
// Flows on the reference backend, kept across invocations by --state.

constexpr const char* kRules =
    "priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_port=80 actions=count,redirect:vb\n"
    "priority=20 in_port=va eth_type=ipv4 src_ip=10.0.0.0/8 actions=drop\n"
    "# a comment\n"
    "priority=5 in_port=vb actions=count\n";

TEST(Dpuctl, FlowLifecycleWithStateFile) {
  TempDir dir;
  const std::string state = dir / "ref.rules";
  const std::string rules = dir / "rules.txt";
  std::ofstream(rules) << kRules;
  std::vector<std::string> be = {"--backend", "reference", "--state", state};
  auto cmd = [&](std::vector<std::string> a) {
    a.insert(a.end(), be.begin(), be.end());
    return Dpuctl(a);
  };

  // Without a state file the reference backend starts empty each time.
  Result empty = Dpuctl({"flow", "list", "--backend", "reference"});
  EXPECT_EQ(empty.status, 0);
  EXPECT_THAT(empty.out, IsEmpty());
  EXPECT_THAT(empty.err, HasSubstr("No flows found"));

  // Dry run: prints the plan, writes no state.
  Result dry = cmd({"flow", "apply", "-f", rules, "--dry-run"});
  ASSERT_EQ(dry.status, 0) << dry.err;
  EXPECT_THAT(dry.out, AllOf(HasSubstr("+ priority=20 in_port=va eth_type=ipv4 src_ip=10.0.0.0/8"),
                             HasSubstr("3 to add, 0 to change, 0 to delete."),
                             HasSubstr("Dry run: nothing applied.")));
  EXPECT_FALSE(fs::exists(state));

  Result apply = cmd({"flow", "apply", "-f", rules});
  ASSERT_EQ(apply.status, 0) << apply.err;
  EXPECT_THAT(apply.out, HasSubstr("Applied: 3 added, 0 changed, 0 deleted."));
  ASSERT_TRUE(fs::exists(state));

  Result again = cmd({"flow", "apply", "-f", rules});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_THAT(again.out,
              AllOf(HasSubstr("0 to add, 0 to change, 0 to delete."), HasSubstr("Nothing to do.")));

  Result list = cmd({"flow", "list"});
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_THAT(list.out, AllOf(HasSubstr("ID"), HasSubstr("PRIORITY"), HasSubstr("IN PORT"),
                              HasSubstr("count,redirect:vb"), HasSubstr("src_ip=10.0.0.0/8")));
  Result as_rules = cmd({"flow", "list", "-o", "rules"});
  ASSERT_EQ(as_rules.status, 0);
  EXPECT_THAT(as_rules.out, HasSubstr("priority=5 in_port=vb actions=count\n"));

  // Edit: one rule changes its actions, one goes away, one is added.
  std::ofstream(rules) << "priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_port=80 "
                          "actions=count,drop\n"
                          "priority=5 in_port=vb actions=count\n"
                          "priority=7 in_port=vb eth_type=arp actions=redirect:va\n";
  Result edit = cmd({"flow", "apply", "-f", rules, "--dry-run"});
  ASSERT_EQ(edit.status, 0) << edit.err;
  EXPECT_THAT(edit.out, AllOf(HasSubstr("~ priority=10"), HasSubstr("~> priority=10"),
                              HasSubstr("- priority=20"), HasSubstr("+ priority=7"),
                              HasSubstr("1 to add, 1 to change, 1 to delete.")));
  const std::string before = ReadFile(state);
  EXPECT_EQ(ReadFile(state), before);
  edit = cmd({"flow", "apply", "-f", rules});
  ASSERT_EQ(edit.status, 0) << edit.err;
  EXPECT_NE(ReadFile(state), before);

  // add: created, then unchanged; del by rule text and by id prefix.
  Result add = cmd({"flow", "add", "priority=1", "in_port=va", "actions=drop"});
  ASSERT_EQ(add.status, 0) << add.err;
  EXPECT_THAT(add.out, HasSubstr(" created"));
  add = cmd({"flow", "add", "priority=1", "in_port=va", "actions=drop"});
  EXPECT_THAT(add.out, HasSubstr(" unchanged"));
  add = cmd({"flow", "add", "priority=1", "in_port=va", "actions=count,drop"});
  EXPECT_THAT(add.out, HasSubstr(" configured"));
  Result del = cmd({"flow", "del", "priority=1", "in_port=va", "actions=count,drop"});
  ASSERT_EQ(del.status, 0) << del.err;
  EXPECT_THAT(del.out, HasSubstr(" deleted"));

  Result names = cmd({"flow", "list", "-o", "name"});
  ASSERT_EQ(names.status, 0);
  std::string id = names.out.substr(5, 32);
  Result stats = cmd({"flow", "stats", id.substr(0, 8)});
  ASSERT_EQ(stats.status, 0) << stats.err;
  EXPECT_THAT(stats.out, AllOf(HasSubstr("PACKETS"), HasSubstr(id.substr(0, 8))));
  Result json = cmd({"flow", "list", "-o", "json"});
  EXPECT_THAT(json.out,
              AllOf(HasSubstr("\"id\": \"" + id + "\""), HasSubstr("\"foreign\": false")));

  Result gone = cmd({"flow", "del", "ffffffff"});
  EXPECT_EQ(gone.status, 1);
  EXPECT_THAT(gone.err, HasSubstr("flow id 'ffffffff': no such flow"));

  Result all = cmd({"flow", "del", "--all"});
  ASSERT_EQ(all.status, 0) << all.err;
  Result after = cmd({"flow", "list"});
  EXPECT_THAT(after.err, HasSubstr("No flows found"));
}

TEST(Dpuctl, FlowApplyRefusedByBackendChangesNothing) {
  TempDir dir;
  const std::string state = dir / "ref.rules";
  const std::string rules = dir / "rules.txt";
  std::ofstream(rules) << "priority=10 in_port=va actions=drop\n";
  ASSERT_EQ(
      Dpuctl({"flow", "apply", "-f", rules, "--backend", "reference", "--state", state}).status, 0);
  const std::string before = ReadFile(state);
  std::ofstream(rules) << "priority=10 in_port=va actions=drop\n"
                          "priority=11 in_port=va eth_type=ipv4 actions=drop\n"
                          "priority=12 in_port=va dst_port=80 actions=drop\n";
  Result r = Dpuctl({"flow", "apply", "-f", rules, "--backend", "reference", "--state", state});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr(rules), HasSubstr("line 3"), HasSubstr("dst_port")));
  EXPECT_EQ(ReadFile(state), before);
}

// ---------------------------------------------------------------------------------------------
// Chains.

TEST(Dpuctl, ChainPlanApplyDeleteOnReference) {
  TempDir dir;
  const std::string state = dir / "ref.rules";
  const std::string chain = kSrc + "/examples/demo/chain.yaml";
  std::vector<std::string> be = {"--backend", "reference", "--state", state};
  auto cmd = [&](std::vector<std::string> a) {
    a.insert(a.end(), be.begin(), be.end());
    return Dpuctl(a);
  };
  Result plan = cmd({"chain", "plan", "-f", chain});
  ASSERT_EQ(plan.status, 0) << plan.err;
  EXPECT_THAT(plan.out, AllOf(HasSubstr("+ id="), HasSubstr("redirect:pf0vf1"),
                              HasSubstr("to add, 0 to change, 0 to delete.")));
  EXPECT_FALSE(fs::exists(state));
  Result dry = cmd({"chain", "apply", "-f", chain, "--dry-run"});
  ASSERT_EQ(dry.status, 0) << dry.err;
  EXPECT_FALSE(fs::exists(state));
  Result apply = cmd({"chain", "apply", "-f", chain});
  ASSERT_EQ(apply.status, 0) << apply.err;
  EXPECT_THAT(apply.out,
              AllOf(HasSubstr("chain/web configured"), HasSubstr("chain/dns configured")));
  // The reference backend applies a batch atomically: no best-effort note (dpuctl_netlink_uml.sh
  // checks that netlink prints it).
  EXPECT_THAT(apply.out, Not(HasSubstr("Best effort")));
  Result again = cmd({"chain", "apply", "-f", chain});
  EXPECT_THAT(again.out, AllOf(HasSubstr("0 to add, 0 to change, 0 to delete."),
                               HasSubstr("chain/web unchanged")));
  Result list = cmd({"flow", "list"});
  EXPECT_THAT(list.out, HasSubstr("redirect:pf0vf0"));
  // Delete exactly the chains' rules; an unrelated rule stays.
  ASSERT_EQ(cmd({"flow", "add", "priority=1", "in_port=lo0", "actions=drop"}).status, 0);
  Result del = cmd({"chain", "delete", "-f", chain});
  ASSERT_EQ(del.status, 0) << del.err;
  EXPECT_THAT(del.out, AllOf(HasSubstr("- id="), HasSubstr("chain/web deleted"),
                             HasSubstr("0 to add, 0 to change, 8 to delete.")));
  Result rest = cmd({"flow", "list", "-o", "rules"});
  EXPECT_EQ(rest.out, "priority=1 in_port=lo0 actions=drop\n");
  Result twice = cmd({"chain", "delete", "-f", chain});
  EXPECT_EQ(twice.status, 1);
  EXPECT_THAT(twice.err, AllOf(HasSubstr("\"web\""), HasSubstr("nothing deleted")));
  EXPECT_EQ(cmd({"chain", "delete", "-f", chain, "--ignore-not-found"}).status, 0);
}

TEST(Dpuctl, L2PlanApplyDeleteOnReference) {
  TempDir dir;
  const std::string state = dir / "ref.rules";
  const std::string net = kSrc + "/examples/demo/l2.yaml";
  std::vector<std::string> be = {"--backend", "reference", "--state", state};
  auto cmd = [&](std::vector<std::string> a) {
    a.insert(a.end(), be.begin(), be.end());
    return Dpuctl(a);
  };
  Result plan = cmd({"l2", "plan", "-f", net});
  ASSERT_EQ(plan.status, 0) << plan.err;
  EXPECT_THAT(plan.out,
              AllOf(HasSubstr("+ id="), HasSubstr("vlan_push:100"), HasSubstr("redirect:pf0sf0"),
                    HasSubstr("0 to change, 0 to delete.")));
  EXPECT_FALSE(fs::exists(state));
  ASSERT_EQ(cmd({"l2", "apply", "-f", net, "--dry-run"}).status, 0);
  EXPECT_FALSE(fs::exists(state));
  Result apply = cmd({"l2", "apply", "-f", net});
  ASSERT_EQ(apply.status, 0) << apply.err;
  EXPECT_THAT(apply.out, AllOf(HasSubstr("bridge/blue configured"), HasSubstr("bridge/red")));
  Result again = cmd({"l2", "apply", "-f", net});
  EXPECT_THAT(again.out, AllOf(HasSubstr("0 to add, 0 to change, 0 to delete."),
                               HasSubstr("bridge/blue unchanged")));
  EXPECT_THAT(cmd({"flow", "list", "-o", "rules"}).out,
              AllOf(HasSubstr("vxlan_encap:vni=5000"), HasSubstr("enc_key_id=5000")));
  ASSERT_EQ(cmd({"flow", "add", "priority=1", "in_port=lo0", "actions=drop"}).status, 0);
  // Declarative: a port and a bridge dropped from the file are removed by the next apply.
  std::ifstream in(net);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const std::string gone : {"  - {name: pod-b, port: pf0vf2, mac: \"02:00:00:00:00:0b\", "
                                 "type: access, bridges: [blue]}\n",
                                 "  - {name: pod-c, port: pf0vf3, mac: \"02:00:00:00:00:0c\", "
                                 "type: access, bridges: [red]}\n",
                                 "  - {name: red, vlanId: 200, vni: 5000}\n"}) {
    const size_t at = text.find(gone);
    ASSERT_NE(at, std::string::npos) << gone;
    text.erase(at, gone.size());
  }
  const size_t at = text.find("bridges: [blue, red]");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 20, "bridges: [blue]");
  std::ofstream(dir / "smaller.yaml") << text;
  Result smaller = cmd({"l2", "apply", "-f", dir / "smaller.yaml"});
  ASSERT_EQ(smaller.status, 0) << smaller.err;
  EXPECT_THAT(smaller.out, AllOf(HasSubstr("0 to add"), Not(HasSubstr(" 0 to delete."))));
  Result left = cmd({"flow", "list", "-o", "rules"});
  EXPECT_THAT(left.out, AllOf(Not(HasSubstr("pf0vf2")), Not(HasSubstr("pf0vf3")),
                              Not(HasSubstr("vlan_id=200")), Not(HasSubstr("vxlan")),
                              HasSubstr("pf0vf1"), HasSubstr("in_port=lo0")));
  // Applying the full file again brings them back; another network's name is another scope.
  ASSERT_EQ(cmd({"l2", "apply", "-f", net}).status, 0);
  EXPECT_THAT(cmd({"flow", "list", "-o", "rules"}).out,
              AllOf(HasSubstr("pf0vf2"), HasSubstr("pf0vf3")));
  std::ofstream(dir / "other.yaml") << "name: other\nbridges: [{name: green, vlanId: 300}]\n"
                                       "ports: [{name: g, port: pf1vf1, bridges: [green]}]\n";
  Result other = cmd({"l2", "apply", "-f", dir / "other.yaml"});
  ASSERT_EQ(other.status, 0) << other.err;
  EXPECT_THAT(other.out, HasSubstr(" 0 to delete."));
  ASSERT_EQ(cmd({"l2", "delete", "-f", dir / "other.yaml"}).status, 0);
  Result del = cmd({"l2", "delete", "-f", net});
  ASSERT_EQ(del.status, 0) << del.err;
  EXPECT_THAT(del.out, HasSubstr("bridge/blue deleted"));
  EXPECT_EQ(cmd({"flow", "list", "-o", "rules"}).out, "priority=1 in_port=lo0 actions=drop\n");
  EXPECT_EQ(cmd({"l2", "delete", "-f", net}).status, 1);
  EXPECT_EQ(cmd({"l2", "delete", "-f", net, "--ignore-not-found"}).status, 0);
  // Bad input names the field and changes nothing.
  std::ofstream(dir / "bad.yaml") << "bridges:\n  - {name: blue, vlanId: 4095}\n";
  Result bad = cmd({"l2", "apply", "-f", dir / "bad.yaml"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_THAT(bad.err, HasSubstr("bridges[0]: bridge \"blue\": vlan_id: 4095 is out of range"));
  std::ofstream(dir / "bad2.yaml") << "ports:\n  - {name: a, port: x, colour: red}\n";
  Result bad2 = cmd({"l2", "plan", "-f", dir / "bad2.yaml"});
  EXPECT_EQ(bad2.status, 1);
  EXPECT_THAT(bad2.err, HasSubstr("ports[0].colour: unknown field"));
  EXPECT_EQ(cmd({"flow", "list", "-o", "rules"}).out, "priority=1 in_port=lo0 actions=drop\n");
}

TEST(Dpuctl, ChainGraph) {
  TempDir dir;
  const std::string chain = kSrc + "/examples/demo/chain.yaml";
  ExpectGolden("chain-graph-demo-dot", {"chain", "graph", "-f", chain});
  Result dot = Dpuctl({"chain", "graph", "-f", chain, "-o", dir / "c.dot"});
  ASSERT_EQ(dot.status, 0) << dot.err;
  EXPECT_EQ(ReadFile(dir / "c.dot"), ReadFile(kGolden + "/chain-graph-demo-dot.out"));
  if (system("command -v dot >/dev/null 2>&1") == 0) {
    Result svg = Dpuctl({"chain", "graph", "-f", chain, "-o", dir / "c.svg"});
    ASSERT_EQ(svg.status, 0) << svg.err;
    EXPECT_THAT(ReadFile(dir / "c.svg"), AllOf(HasSubstr("<svg"), HasSubstr("firewall")));
  }
  // Without Graphviz on PATH: a clear error, exit 1, no file.
  pid_t pid = fork();
  if (pid == 0) {
    setenv("PATH", "/nonexistent", 1);
    int out = open((dir / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 2);
    execl(DPUCTL_BIN, "dpuctl", "chain", "graph", "-f", chain.c_str(), "-o",
          (dir / "x.svg").c_str(), nullptr);
    _exit(127);
  }
  int ws = 0;
  waitpid(pid, &ws, 0);
  EXPECT_EQ(WEXITSTATUS(ws), 1);
  EXPECT_THAT(ReadFile(dir / "err"), AllOf(HasSubstr("Graphviz"), HasSubstr("graphviz")));
  EXPECT_FALSE(fs::exists(dir / "x.svg"));
}

TEST(Dpuctl, BadManifestNamesTheField) {
  TempDir dir;
  std::ofstream(dir / "bad.yaml") << "apiVersion: dpu.libdpu.io/v1alpha1\n"
                                     "kind: ServiceFunctionChain\n"
                                     "metadata: {name: x}\n"
                                     "spec:\n  priority: 100\n  bogus: 1\n";
  Result r = Dpuctl({"chain", "apply", "-f", dir / "bad.yaml", "--backend", "reference"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr("bad.yaml"), HasSubstr("bogus")));
}

// ---------------------------------------------------------------------------------------------
// Usage errors: exit 2, a message on stderr naming the bad input, nothing on stdout.

TEST(Dpuctl, UsageErrorsExitTwoAndNameTheInput) {
  const std::string fx = kFixtures + "/bf3-dpu";
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  } cases[] = {
      {{}, "subcommand"},
      {{"frobnicate"}, "frobnicate"},
      {{"get"}, "subcommand"},
      {{"get", "dpu", "--bogus"}, "--bogus"},
      {{"get", "dpu", "-o", "xml"}, "xml"},
      {{"get", "dpu", "--sysfs-root", "/nonexistent/sys"}, "/nonexistent/sys"},
      {{"get", "ports"}, "dpu"},
      {{"flow", "list"}, "--backend"},
      {{"flow", "list", "--backend", "warp-drive"}, "warp-drive"},
      {{"flow", "list", "--backend", "reference:extra"}, "reference"},
      {{"flow", "list", "--backend", "netlink", "--state", "/tmp/x"}, "--state"},
      {{"flow", "add", "--backend", "reference", "priority=10", "in_port=va", "dst_port=80",
        "actions=drop"},
       "dst_port"},
      {{"flow", "add", "--backend", "reference", "priority=banana"}, "banana"},
      {{"flow", "add", "--backend", "reference"}, "rule"},
      {{"flow", "del", "--backend", "reference", "xyz!"}, "xyz!"},
      {{"flow", "del", "--backend", "reference"}, "--all"},
      {{"flow", "stats", "--backend", "reference", "12"}, "'12'"},
      {{"flow", "apply", "--backend", "reference"}, "--filename"},
      {{"flow", "apply", "--backend", "reference", "-f", "/nonexistent/rules"},
       "/nonexistent/rules"},
      {{"chain", "graph", "-f", kSrc + "/examples/demo/chain.yaml", "-o", "chain.png"},
       "chain.png"},
      {{"chain", "graph", "-f", kSrc + "/examples/demo/chain.yaml", "--format", "pdf"}, "pdf"},
      {{"chain", "apply", "-f", kSrc + "/examples/demo/chain.yaml"}, "--backend"},
      {{"vf", "list"}, "pf"},
      {{"vf", "set", "eth0", "x", "mac=02:00:00:00:00:01"}, "VF 'x'"},
      {{"vf", "set", "eth0", "0", "vlan=5000"}, "vlan: 5000"},
      {{"vf", "set", "eth0", "0", "mac=zz"}, "mac: 'zz'"},
      {{"vf", "set", "eth0", "0", "qos=3"}, "qos"},
      {{"vf", "set", "eth0", "0"}, "KEY=VALUE"},
      {{"vf", "count", "eth0", "many"}, "'many'"},
  };
  std::vector<std::vector<std::string>> commands;
  for (const Case& c : cases) commands.push_back(c.args);
  std::vector<Result> results = DpuctlMany(commands);
  for (size_t i = 0; i < std::size(cases); ++i) {
    const Case& c = cases[i];
    const Result& r = results[i];
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    SCOPED_TRACE(joined);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_THAT(r.err, AllOf(HasSubstr("dpuctl: "), HasSubstr(c.expect)));
    EXPECT_THAT(r.out, IsEmpty());
  }
}

// bin/dpuctl holds the netlink and reference backends; a backend of the build it lacks is run by
// dpuctl-full (docs/dpuctl.md, "Start-up"), with the same arguments, output and exit status.
TEST(Dpuctl, OtherBackendsRunThroughDpuctlFull) {
  Result unknown = Dpuctl({"flow", "list", "--backend", "warp-drive"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown backend 'warp-drive'; known backends: "));
  EXPECT_THAT(unknown.err, HasSubstr("netlink"));
  EXPECT_THAT(unknown.err, HasSubstr("reference"));
  if (unknown.err.find("p4runtime") == std::string::npos) {
    GTEST_SKIP() << "this build has no p4runtime backend";
  }
  // Only the p4runtime backend itself says this: dpuctl-full parsed the spec.
  Result r = Dpuctl({"flow", "list", "--backend", "p4runtime:"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--backend 'p4runtime:': p4runtime: address: missing"));
  EXPECT_EQ(r.out, "");
}

TEST(Dpuctl, HelpForEveryVerb) {
  const std::vector<std::vector<std::string>> verbs = {
      {},
      {"get"},
      {"get", "dpu"},
      {"get", "ports"},
      {"flow"},
      {"flow", "add"},
      {"flow", "del"},
      {"flow", "list"},
      {"flow", "stats"},
      {"flow", "apply"},
      {"chain"},
      {"chain", "apply"},
      {"chain", "delete"},
      {"chain", "plan"},
      {"chain", "graph"},
      {"l2"},
      {"l2", "apply"},
      {"l2", "plan"},
      {"l2", "delete"},
      {"vf"},
      {"vf", "list"},
      {"vf", "set"},
      {"vf", "count"},
      {"provision"},
  };
  std::vector<std::vector<std::string>> commands;
  for (std::vector<std::string> v : verbs) {
    v.push_back("--help");
    commands.push_back(v);
  }
  std::vector<Result> results = DpuctlMany(commands);
  for (size_t i = 0; i < verbs.size(); ++i) {
    std::string name = "dpuctl";
    for (const auto& w : verbs[i]) name += " " + w;
    SCOPED_TRACE(name);
    EXPECT_EQ(results[i].status, 0) << results[i].err;
    EXPECT_THAT(results[i].out, AllOf(HasSubstr("Usage: " + name), HasSubstr("Exit status")));
  }
}

// ---------------------------------------------------------------------------------------------
// provision: ImageProvisioner + lifecycle.

// Writes a random image of @p size bytes and its manifest; returns the manifest path.
std::string MakeImage(const TempDir& dir, size_t size, const std::string& compatible) {
  std::string data(size, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (char& c : data) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  std::ofstream(dir / "image.bfb", std::ios::binary) << data;
  std::string sum;
  FILE* p = popen(("sha256sum " + (dir / "image.bfb")).c_str(), "r");
  char buf[65] = {};
  if (p != nullptr && fread(buf, 1, 64, p) == 64) sum = buf;
  if (p != nullptr) pclose(p);
  std::ofstream(dir / "image.manifest")
      << "name=bf-bundle\nversion=2.9.1\nsize=" << size << "\nsha256=" << sum
      << "\ncompatible_services=" << compatible << "\n";
  return dir / "image.manifest";
}

TEST(Dpuctl, ProvisionWritesVerifiesAndDrivesTheLifecycle) {
  TempDir dir;
  const std::string mf = MakeImage(dir, 3 * 65536 + 100, ">=1.0.0,<2.0.0");
  const std::string dpu = "bf3-0000-03-00.0-dpu";
  std::vector<std::string> base = {"provision",    dpu,
                                   "--sysfs-root", kFixtures + "/bf3-dpu",
                                   "--image",      dir / "image.bfb",
                                   "--manifest",   mf,
                                   "--chunk-size", "65536"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  Result dry = Dpuctl(with({"--target", dir / "dry.img", "--dry-run"}));
  ASSERT_EQ(dry.status, 0) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("nothing written"));
  EXPECT_FALSE(fs::exists(dir / "dry.img"));

  Result bad = Dpuctl(with({"--target", dir / "bad.img", "--running-services", "2.0.0"}));
  EXPECT_EQ(bad.status, 1);
  EXPECT_THAT(bad.err, AllOf(HasSubstr("2.0.0"), HasSubstr("nothing was written")));
  EXPECT_FALSE(fs::exists(dir / "bad.img"));

  Result ok = Dpuctl(with({"--target", dir / "disk.img", "--running-services", "1.4.0"}));
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_THAT(ok.out, AllOf(HasSubstr(dpu + ": Discovered -> Provisioning"),
                            HasSubstr(dpu + ": Provisioning -> Ready"),
                            HasSubstr("dpu/" + dpu + " provisioned with bf-bundle 2.9.1")));
  EXPECT_EQ(ReadFile(dir / "disk.img"), ReadFile(dir / "image.bfb"));

  Result unknown =
      Dpuctl({"provision", "bf9-nope", "--sysfs-root", kFixtures + "/bf3-dpu", "--image",
              dir / "image.bfb", "--manifest", mf, "--target", dir / "x.img"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_THAT(unknown.err, HasSubstr("bf9-nope"));
  Result usage = Dpuctl(with({"--target", dir / "y.img", "--running-services", "two"}));
  EXPECT_EQ(usage.status, 2);
  EXPECT_THAT(usage.err, HasSubstr("--running-services"));
  usage = Dpuctl({"provision", dpu, "--sysfs-root", kFixtures + "/bf3-dpu", "--image",
                  dir / "image.bfb", "--manifest", mf, "--target", dir / "y.img", "--chunk-size",
                  "12"});
  EXPECT_EQ(usage.status, 2);
  EXPECT_THAT(usage.err, HasSubstr("chunk_size"));
  EXPECT_FALSE(fs::exists(dir / "y.img"));
}

// Runs dpuctl on a pseudo-terminal (stdout and stderr both the terminal); returns what it drew.
std::string OnTerminal(const std::vector<std::string>& args, int* status) {
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    std::vector<std::string> copy = args;
    std::vector<char*> argv = {const_cast<char*>("dpuctl")};
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(DPUCTL_BIN, argv.data());
    _exit(127);
  }
  std::string tty;
  char buf[4096];
  for (;;) {
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO once the child has exited.
    tty.append(buf, n);
  }
  int ws = 0;
  waitpid(pid, &ws, 0);
  close(master);
  *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
  return tty;
}

// ---------------------------------------------------------------------------------------------
// Progress: drawn on stderr only when stdout is a terminal.

TEST(Dpuctl, ProgressOnlyOnATerminal) {
  TempDir dir;
  const std::string rules = dir / "rules.txt";
  {
    std::ofstream f(rules);
    for (int i = 0; i < 2000; ++i) {
      f << "priority=10 in_port=va eth_type=ipv4 dst_ip=10.0." << i / 256 << "." << i % 256
        << "/32 actions=drop\n";
    }
  }
  Result piped = Dpuctl({"flow", "apply", "-f", rules, "--backend", "reference"});
  ASSERT_EQ(piped.status, 0) << piped.err;
  EXPECT_THAT(piped.err, IsEmpty());
  EXPECT_THAT(piped.out, Not(HasSubstr("\r")));

  int status = -1;
  std::string tty = OnTerminal({"flow", "apply", "-f", rules, "--backend", "reference"}, &status);
  EXPECT_EQ(status, 0) << tty;
  EXPECT_THAT(tty, AllOf(HasSubstr("\r"), HasSubstr("planning 2000 rules"),
                         HasSubstr("Applied: 2000 added")));

  // Provisioning draws a bar per phase on a terminal, nothing in a pipe.
  const std::string mf = MakeImage(dir, 8 * 65536, "*");
  std::vector<std::string> prov = {"provision",    "bf3-0000-03-00.0-dpu",
                                   "--sysfs-root", kFixtures + "/bf3-dpu",
                                   "--image",      dir / "image.bfb",
                                   "--manifest",   mf,
                                   "--chunk-size", "65536",
                                   "--target"};
  std::vector<std::string> piped_prov = prov;
  piped_prov.push_back(dir / "a.img");
  Result quiet = Dpuctl(piped_prov);
  ASSERT_EQ(quiet.status, 0) << quiet.err;
  EXPECT_THAT(quiet.err, IsEmpty());
  prov.push_back(dir / "b.img");
  tty = OnTerminal(prov, &status);
  EXPECT_EQ(status, 0) << tty;
  EXPECT_THAT(tty,
              AllOf(HasSubstr("provisioning bf3-0000-03-00.0-dpu write ["),
                    HasSubstr("provisioning bf3-0000-03-00.0-dpu verify ["), HasSubstr("100%")));
}

}  // namespace
