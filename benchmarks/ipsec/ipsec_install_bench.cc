// SA install rate: libdpu (one Install() of N SAs, and N Install() calls of one SA) against
// iproute2 (`ip -batch` of N `xfrm state add` lines, and N `ip xfrm state add` processes), all in
// one user-mode-linux boot. Outside UML the tool re-runs itself through tests/kernel/run-in-uml
// with the XFRM and crypto modules. Every run starts from an empty SA table and counts the SAs
// it left. See docs/performance.md.
//
//   ipsec_install_bench [N_BATCH [N_ONE_BY_ONE]]     (defaults 5000 and 500)

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "dpu/ip_address.h"
#include "dpu/ipsec_manager.h"

namespace {

const char* kModules =
    "veth,xfrm_user,xfrm_algo,esp4,esp4_offload,gcm,ghash-generic,ctr,seqiv,echainiv,authenc,cbc,"
    "hmac,sha512_generic,drbg,jitterentropy_rng";

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// SA i: 10.0.x.y -> 10.1.x.y, SPI 0x10000 + i, AES-GCM-128, tunnel, reqid i.
dpu::SecurityAssociation MakeSa(size_t i) {
  dpu::SecurityAssociation sa;
  sa.spi = static_cast<uint32_t>(0x10000 + i);
  sa.src = dpu::IpAddress::V4(0x0a000000u + static_cast<uint32_t>(i));
  sa.dst = dpu::IpAddress::V4(0x0a010000u + static_cast<uint32_t>(i));
  sa.reqid = static_cast<uint32_t>(i + 1);
  dpu::IpsecAead a;
  a.key.assign(20, static_cast<uint8_t>(i));
  sa.crypto = a;
  return sa;
}

// One `xfrm state add` line; @p quote puts the algorithm name in quotes (for sh, not -batch).
std::string IpLine(size_t i, bool quote = false) {
  dpu::SecurityAssociation sa = MakeSa(i);
  char key[64];
  const auto& k = std::get<dpu::IpsecAead>(sa.crypto).key;
  int n = 0;
  for (uint8_t b : k) n += std::snprintf(key + n, sizeof(key) - n, "%02x", b);
  char line[512];
  std::snprintf(line, sizeof(line),
                "xfrm state add src %s dst %s proto esp spi 0x%x reqid %u mode tunnel "
                "replay-window 32 aead %s 0x%s 128",
                sa.src.ToString().c_str(), sa.dst.ToString().c_str(), sa.spi, sa.reqid,
                quote ? "'rfc4106(gcm(aes))'" : "rfc4106(gcm(aes))", key);
  return line;
}

size_t Count(dpu::IpsecManager* m) {
  auto l = m->ListSas();
  return l.ok() ? l->size() : 0;
}

struct Result {
  const char* name;
  size_t n;
  double seconds;
};

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("DPU_IN_UML") == nullptr) {
    std::string runner = std::string(DPU_SOURCE_DIR) + "/tests/kernel/run-in-uml";
    std::vector<char*> args = {runner.data(),
                               const_cast<char*>("--mem"),
                               const_cast<char*>("2G"),
                               const_cast<char*>("--timeout"),
                               const_cast<char*>("3000"),
                               const_cast<char*>("--modules"),
                               const_cast<char*>(kModules),
                               const_cast<char*>("--"),
                               argv[0]};
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    execv(runner.c_str(), args.data());
    std::perror("execv run-in-uml");
    return 1;
  }
  size_t n_batch = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 5000;
  size_t n_one = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 500;
  auto mgr = dpu::IpsecManager::Open();
  if (!mgr.ok()) {
    std::fprintf(stderr, "%s\n", std::string(mgr.status().message()).c_str());
    return 1;
  }
  dpu::IpsecManager* m = mgr->get();
  std::vector<Result> results;
  bool ok = true;
  auto check = [&](const char* what, size_t want) {
    size_t got = Count(m);
    if (got != want) {
      std::fprintf(stderr, "%s: %zu SAs installed, expected %zu\n", what, got, want);
      ok = false;
    }
    (void)m->Flush();
    sleep(1);
  };
  for (int round = 0; round < 2; ++round) {
    // libdpu, one bundle.
    {
      dpu::IpsecBundle b;
      for (size_t i = 0; i < n_batch; ++i) b.sas.push_back(MakeSa(i));
      double t0 = Now();
      auto r = m->Install(b);
      double t = Now() - t0;
      if (!r.ok()) std::fprintf(stderr, "Install: %s\n", std::string(r.status().message()).c_str());
      results.push_back({"libdpu Install(N SAs)", n_batch, t});
      check("libdpu batch", n_batch);
    }
    // ip -batch.
    {
      std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                         "/ipsec_bench.batch";
      {
        std::ofstream f(path);
        for (size_t i = 0; i < n_batch; ++i) f << IpLine(i) << "\n";
      }
      double t0 = Now();
      int rc = Sh("ip -batch " + path);
      double t = Now() - t0;
      if (rc != 0) std::fprintf(stderr, "ip -batch failed\n");
      results.push_back({"ip -batch (N lines)", n_batch, t});
      check("ip -batch", n_batch);
    }
    // libdpu, one SA per Install().
    {
      double t0 = Now();
      for (size_t i = 0; i < n_one; ++i) {
        dpu::IpsecBundle b;
        b.sas.push_back(MakeSa(i));
        auto r = m->Install(b);
        if (!r.ok()) {
          std::fprintf(stderr, "Install: %s\n", std::string(r.status().message()).c_str());
          break;
        }
      }
      results.push_back({"libdpu Install(1 SA) x N", n_one, Now() - t0});
      check("libdpu one by one", n_one);
    }
    // ip xfrm state add, one process per SA.
    {
      std::string path =
          std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/ipsec_bench.sh";
      {
        std::ofstream f(path);
        for (size_t i = 0; i < n_one; ++i) f << "ip " << IpLine(i, true) << " || exit 1\n";
      }
      double t0 = Now();
      int rc = Sh("sh " + path);
      double t = Now() - t0;
      if (rc != 0) std::fprintf(stderr, "ip xfrm state add failed\n");
      results.push_back({"ip xfrm state add x N", n_one, t});
      check("ip one by one", n_one);
    }
  }
  char release[65] = {};
  std::ifstream("/proc/sys/kernel/osrelease") >> release;
  std::printf("ipsec_install_bench: SA installs (AES-GCM-128 tunnel SAs), kernel %s, UML\n",
              release);
  std::printf("%-28s %8s %10s %12s\n", "method", "SAs", "seconds", "SAs/s");
  for (const Result& r : results) {
    std::printf("%-28s %8zu %10.3f %12.0f\n", r.name, r.n, r.seconds, r.n / r.seconds);
  }
  // Ratios from the best of the two rounds of each method.
  auto best = [&](const char* name) {
    double b = 1e18;
    for (const Result& r : results) {
      if (std::string(r.name) == name && r.seconds < b) b = r.seconds;
    }
    return b;
  };
  std::printf(
      "batch: ip -batch / libdpu = %.1fx; one by one: ip processes / libdpu calls = %.1fx\n",
      best("ip -batch (N lines)") / best("libdpu Install(N SAs)"),
      best("ip xfrm state add x N") / best("libdpu Install(1 SA) x N"));
  return ok ? 0 : 1;
}
