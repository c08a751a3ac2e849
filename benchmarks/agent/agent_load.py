#!/usr/bin/python3
"""Load tool for dpu-agent (docs/agent.md, docs/performance.md "dpu-agent under load").

Starts a dpu-agent (or uses a running one), installs a table of N rules, then runs C client
processes (each its own gRPC channel, so the Python GIL is not the bottleneck) that mix calls for
a given time, and prints per-call p50/p99/max, errors and the agent's RSS over time. Then it
reads the whole table back through clients with gRPC's default 4 MiB receive limit (paged
DumpFlows and StreamFlows) and times that.

  agent_load.py --pygen DIR --agent-bin build/release/examples/agent/dpu-agent \
      --table 100000 --clients 6 --duration 120

With --verify (the soak test) every client keeps the exact set of rules it applied and deleted,
sends deliberately bad requests (which must fail with INVALID_ARGUMENT and change nothing), and at
the end the table read back must equal the preloaded rules plus every client's own set, and no
other call may have failed; the exit status says whether it did.

A heartbeat probe (its own process and channel, like dpu-operator's daemon) sends one Ping every
--probe-interval seconds during the mixed load and is reported as "probe": the liveness latency a
caller that is not itself one of the busy clients sees. "wakeup" is how late the probe's own
sleeps between Pings returned: the time any process on the machine waits for a CPU, agent or not,
a floor under every latency here. --probe-nice -5 (root) runs the probe ahead of the busy
clients, as if on a CPU of its own (dpu-operator's daemon runs on the host, not on the DPU), so
that its figures are mostly the agent's.

With --compare-bin OLD the same run is made against OLD and the --agent-bin binary, alternating
--rounds times (OLD first), and a side-by-side table with the ratio new/old closes the output:
before/after in one run, under the same machine load.

The mix is given as weights: --mix apply=4,ping=4,info=1,dump=1,stats=1. An "apply" upserts
--apply-size rules (half new, half existing ones changed) and, once the client owns more than
--own-rules, deletes as many of its oldest as it adds, so the table keeps its size; "dump" reads one page (--page-size) of a
1/256 slice (random id prefix); "stream" reads the whole table with StreamFlows.
"""

import argparse
import multiprocessing as mp
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

OPS = ("apply", "ping", "info", "dump", "stats", "stream")


def load_stubs(pygen):
    sys.path.insert(0, pygen)
    import grpc  # noqa: E402
    from libdpu.agent.v1 import agent_pb2, agent_pb2_grpc  # noqa: E402
    from vendor import api_pb2, api_pb2_grpc  # noqa: E402
    return grpc, agent_pb2, agent_pb2_grpc, api_pb2, api_pb2_grpc


def rule_id(owner, seq):
    # Owner 0 is the preloaded table; clients are 1..C. 32 hex digits.
    return "%08x%08x%016x" % (0x10ad0000 + owner, 0, seq)


def rule_text(owner, seq, variant=0):
    # A distinct key per (owner, seq); the explicit id makes deletes addressable by the client.
    port = 1 + (seq >> 16)
    action = "drop" if variant == 0 else "count,drop"
    return ("id=%s priority=10 in_port=p%d eth_type=ipv4 ip_proto=udp dst_ip=10.%d.%d.%d/32 "
            "dst_port=%d actions=%s" % (rule_id(owner, seq), owner % 4, owner & 255,
                                         (seq >> 8) & 255, seq & 255, port, action))


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def probe(args, stop_at, queue):
    """Pings at a fixed rate on its own channel, like dpu-operator's daemon (every second)."""
    if args.probe_nice:
        os.nice(args.probe_nice)  # Negative: root only (the probe stands for another host).
    grpc, pb, pb_grpc, vpb, vpb_grpc = load_stubs(args.pygen)
    channel = grpc.insecure_channel("unix:" + args.socket)
    heartbeat = vpb_grpc.HeartbeatServiceStub(channel)
    lat = []
    late = []  # How late each sleep returned: the machine's CPU wait, agent or not.
    errors = {}
    next_at = time.monotonic()
    while time.monotonic() < stop_at:
        t0 = time.perf_counter()
        try:
            heartbeat.Ping(vpb.PingRequest(sender_id="load-probe"), timeout=args.timeout)
            lat.append((time.perf_counter() - t0) * 1000.0)
        except grpc.RpcError as e:
            key = "probe %s" % e.code().name
            errors[key] = errors.get(key, 0) + 1
        next_at += args.probe_interval
        wait = next_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
            late.append((time.monotonic() - next_at) * 1000.0)
    queue.put({"cid": 0, "lat": {"probe": lat, "wakeup": late}, "errors": errors, "bad_ok": 0,
               "state": {}})
    channel.close()


def client(args, cid, stop_at, queue):
    grpc, pb, pb_grpc, vpb, vpb_grpc = load_stubs(args.pygen)
    channel = grpc.insecure_channel("unix:" + args.socket)  # default 4 MiB receive limit
    agent = pb_grpc.DpuAgentStub(channel)
    heartbeat = vpb_grpc.HeartbeatServiceStub(channel)
    rng = random.Random(args.seed * 1000 + cid)
    weights = [(op, w) for op, w in args.mix.items() if w > 0]
    total = float(sum(w for _, w in weights))
    lat = {op: [] for op in OPS + ("bad",)}
    errors = {}
    own = {}  # seq -> variant of the rules this client has installed
    order = []  # seqs in install order (oldest first)
    next_seq = 0
    bad_ok = 0

    def pick():
        x = rng.random() * total
        for op, w in weights:
            x -= w
            if x < 0:
                return op
        return weights[-1][0]

    def fail(op, e):
        key = "%s %s" % (op, e.code().name if hasattr(e, "code") else type(e).__name__)
        errors[key] = errors.get(key, 0) + 1
        if args.verbose or sum(errors.values()) <= 3:
            print("load: client %d: %s failed: %s" % (
                cid, op, e.details() if hasattr(e, "details") else e), file=sys.stderr)

    while time.monotonic() < stop_at:
        op = pick()
        if op == "apply" and args.bad_rate > 0 and rng.random() < args.bad_rate:
            op = "bad"
        t0 = time.perf_counter()
        try:
            if op == "ping":
                heartbeat.Ping(vpb.PingRequest(sender_id="load-%d" % cid), timeout=args.timeout)
            elif op == "info":
                agent.GetAgentInfo(pb.GetAgentInfoRequest(), timeout=args.timeout)
            elif op == "dump":
                agent.DumpFlows(pb.DumpFlowsRequest(page_size=args.page_size,
                                                    id_prefix="%02x" % rng.randrange(256)),
                                timeout=args.timeout)
            elif op == "stream":
                n = 0
                for page in agent.StreamFlows(pb.DumpFlowsRequest(page_size=args.page_size),
                                              timeout=args.timeout * 10):
                    n += len(page.flows)
            elif op == "stats":
                counting = [s for s in order[-64:] if own[s] == 1]  # rules with a count action
                if counting:
                    seq = rng.choice(counting)
                    agent.GetFlowStats(pb.GetFlowStatsRequest(ids=[rule_id(cid, seq)]),
                                       timeout=args.timeout)
                else:
                    agent.GetAgentInfo(pb.GetAgentInfoRequest(), timeout=args.timeout)
            elif op == "bad":
                # A rule with an out-of-range priority among good ones: must be refused whole.
                texts = [rule_text(cid, next_seq + i) for i in range(3)]
                texts.append("priority=70000 in_port=p1 actions=drop")
                try:
                    agent.ApplyFlows(pb.ApplyFlowsRequest(rules="\n".join(texts)),
                                     timeout=args.timeout)
                    errors["bad accepted"] = errors.get("bad accepted", 0) + 1
                except grpc.RpcError as e:
                    if e.code() == grpc.StatusCode.INVALID_ARGUMENT:
                        bad_ok += 1
                    else:
                        raise
            elif op == "apply":
                half = args.apply_size // 2
                new = list(range(next_seq, next_seq + (args.apply_size - min(half, len(order)))))
                changed = rng.sample(order, min(half, len(order)))
                deletes = []
                if len(order) > args.own_rules:
                    deletes = order[:len(new)]  # as many as are added: the table stays put
                    changed = [s for s in changed if s not in set(deletes)]
                texts = [rule_text(cid, s) for s in new]
                texts += [rule_text(cid, s, 1 - own[s]) for s in changed]
                agent.ApplyFlows(pb.ApplyFlowsRequest(
                    rules="\n".join(texts), delete_ids=[rule_id(cid, s) for s in deletes]),
                    timeout=args.timeout)
                # Applied: record the new state exactly.
                next_seq += len(new)
                for s in new:
                    own[s] = 0
                    order.append(s)
                for s in changed:
                    own[s] = 1 - own[s]
                if deletes:
                    gone = set(deletes)
                    for s in deletes:
                        del own[s]
                    order = [s for s in order if s not in gone]
            lat[op].append((time.perf_counter() - t0) * 1000.0)
        except grpc.RpcError as e:
            fail(op, e)
    state = {rule_id(cid, s): rule_text(cid, s, v) for s, v in own.items()}
    queue.put({"cid": cid, "lat": lat, "errors": errors, "bad_ok": bad_ok, "state": state})
    channel.close()


def read_table(args, pb, pb_grpc, grpc):
    """The whole table through default-limit clients: paged DumpFlows, then StreamFlows."""
    channel = grpc.insecure_channel("unix:" + args.socket)
    agent = pb_grpc.DpuAgentStub(channel)
    out = {}
    t0 = time.perf_counter()
    token = ""
    pages = 0
    while True:
        r = agent.DumpFlows(pb.DumpFlowsRequest(page_size=args.page_size, page_token=token),
                            timeout=600)
        pages += 1
        for f in r.flows:
            out[f.id] = f.rule
        token = r.next_page_token
        if not token:
            break
    paged_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    streamed = 0
    for page in agent.StreamFlows(pb.DumpFlowsRequest(page_size=args.page_size), timeout=600):
        streamed += len(page.flows)
    stream_s = time.perf_counter() - t0
    channel.close()
    return out, pages, paged_s, streamed, stream_s


def parse_mix(text):
    mix = {op: 0 for op in OPS}
    for part in text.split(","):
        if not part:
            continue
        op, _, w = part.partition("=")
        if op not in mix:
            raise SystemExit("--mix: unknown call %r (known: %s)" % (op, ", ".join(OPS)))
        mix[op] = float(w)
    return mix


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pygen", required=True, help="directory of the generated Python stubs")
    ap.add_argument("--agent-bin", help="start this dpu-agent (reference backend) for the run")
    ap.add_argument("--agent-args", default="", help="extra flags for the started agent")
    ap.add_argument("--socket", help="unix socket of a running agent (instead of --agent-bin)")
    ap.add_argument("--pid", type=int, help="pid of a running agent (for RSS)")
    ap.add_argument("--sysfs", default="", help="sysfs fixture for the started agent")
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of mixed load")
    ap.add_argument("--table", type=int, default=0, help="rules installed before the run")
    ap.add_argument("--preload-batch", type=int, default=10000)
    ap.add_argument("--mix", default="apply=4,ping=4,info=1,dump=1,stats=1")
    ap.add_argument("--apply-size", type=int, default=20)
    ap.add_argument("--own-rules", type=int, default=200,
                    help="a client deletes its oldest rules beyond this many")
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=60.0, help="per-call deadline (s)")
    ap.add_argument("--rss-interval", type=float, default=5.0)
    ap.add_argument("--bad-rate", type=float, default=0.0,
                    help="fraction of applies sent as deliberately bad requests")
    ap.add_argument("--verify", action="store_true",
                    help="check the table read back against what was applied (soak test)")
    ap.add_argument("--skip-readback", action="store_true", help="no full-table read at the end")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--probe-interval", type=float, default=0.05,
                    help="seconds between the heartbeat probe's Pings (0: no probe)")
    ap.add_argument("--probe-nice", type=int, default=0,
                    help="nice increment of the probe process (negative needs root): the "
                         "daemon's CPU is not the clients' in a real deployment")
    ap.add_argument("--compare-bin", help="an older dpu-agent to run side by side with --agent-bin")
    ap.add_argument("--rounds", type=int, default=1, help="with --compare-bin: old/new pairs")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    args.mix = parse_mix(args.mix)
    grpc, pb, pb_grpc, vpb, vpb_grpc = load_stubs(args.pygen)

    if args.compare_bin and not args.agent_bin:
        raise SystemExit("--compare-bin needs --agent-bin (the new binary)")
    runs = [(args.agent_bin, "")]
    if args.compare_bin:
        runs = []
        for r in range(args.rounds):
            runs += [(args.compare_bin, "old"), (args.agent_bin, "new")]
    results = []
    failed = False
    for i, (binary, label) in enumerate(runs):
        if label:
            print("load: ==== %s (%s), round %d of %d ====" % (label, binary, i // 2 + 1,
                                                              args.rounds))
        res = run(args, binary, grpc, pb, pb_grpc, vpb, vpb_grpc)
        res["label"] = label
        results.append(res)
        failed = failed or res["failed"]
    if args.compare_bin:
        compare(args, results)
    return 1 if failed else 0


def merged(results, label):
    lat = {}
    for r in results:
        if r["label"] == label:
            for op, v in r["lat"].items():
                lat.setdefault(op, []).extend(v)
    return lat


def compare(args, results):
    old, new = merged(results, "old"), merged(results, "new")
    print("load: ==== side by side: %s (old) vs %s (new), %d round(s), table %d, %d clients ===="
          % (args.compare_bin, args.agent_bin, args.rounds, args.table, args.clients))
    print("load: machine load average per run: %s" % " ".join(
        "%s:%s-%s" % (r["label"], r["load_before"][0], r["load_after"][0]) for r in results))
    print("load: %-8s %9s %9s %9s %9s %9s %9s %10s" % (
        "call", "old p50", "new p50", "old p99", "new p99", "old max", "new max", "p99 new/old"))
    for op in ("probe", "wakeup") + OPS + ("bad",):
        o, n = old.get(op, []), new.get(op, [])
        if not o or not n:
            continue
        print("load: %-8s %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %10.2f" % (
            op, percentile(o, 50), percentile(n, 50), percentile(o, 99), percentile(n, 99),
            max(o), max(n), percentile(n, 99) / max(percentile(o, 99), 1e-9)))
    for label in ("old", "new"):
        rs = [r for r in results if r["label"] == label]
        print("load: %s: calls/s %s; RSS peak/sequential %s; errors %s" % (
            label, " ".join("%.0f" % r["rate"] for r in rs),
            " ".join("%.2f" % r["rss_ratio"] for r in rs),
            " ".join(str(sum(r["errors"].values())) for r in rs)))


def run(args, agent_bin, grpc, pb, pb_grpc, vpb, vpb_grpc):
    tmp = None
    proc = None
    if agent_bin:
        tmp = tempfile.mkdtemp(prefix="agent-load.")
        args.socket = os.path.join(tmp, "agent.sock")
        cmd = [agent_bin, "--backend=reference", "--socket=" + args.socket,
               "--rediscover_interval=0"]
        if args.sysfs:
            cmd.append("--sysfs_root=" + args.sysfs)
        cmd += args.agent_args.split()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        args.pid = proc.pid
        deadline = time.monotonic() + 30
        while not os.path.exists(args.socket):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("agent did not start: %s" % proc.stderr.read().decode())
            time.sleep(0.05)
    if not args.socket:
        raise SystemExit("--agent-bin or --socket is needed")
    failed = False
    try:
        channel = grpc.insecure_channel("unix:" + args.socket)
        agent = pb_grpc.DpuAgentStub(channel)
        grpc.channel_ready_future(channel).result(timeout=30)
        print("load: %s; clients %d, %g s, table %d, mix %s, apply %d rules" % (
            os.uname().release, args.clients, args.duration, args.table,
            ",".join("%s=%g" % kv for kv in args.mix.items() if kv[1] > 0), args.apply_size))
        load_before = open("/proc/loadavg").read().split()[:3]
        print("load: machine load average before: %s" % load_before)
        rss0 = rss_mb(args.pid) if args.pid else float("nan")
        t0 = time.perf_counter()
        expected = {}
        for start in range(0, args.table, args.preload_batch):
            seqs = range(start, min(args.table, start + args.preload_batch))
            texts = [rule_text(0, s) for s in seqs]
            agent.ApplyFlows(pb.ApplyFlowsRequest(rules="\n".join(texts)), timeout=600)
            if args.verify:
                for s, t in zip(seqs, texts):
                    expected[rule_id(0, s)] = t
        preload_s = time.perf_counter() - t0
        rss_table = rss_mb(args.pid) if args.pid else float("nan")
        print("load: preloaded %d rules in %.1f s (%.0f rules/s); agent RSS %.1f MB empty, "
              "%.1f MB with the table (applied sequentially)" % (
                  args.table, preload_s, args.table / preload_s if preload_s > 0 else 0, rss0,
                  rss_table))
        # Idle reference figures: a 20-rule apply and a ping with nothing else running.
        idle = {"apply": [], "ping": []}
        hb = vpb_grpc.HeartbeatServiceStub(channel)
        for i in range(30):
            texts = [rule_text(250, i * args.apply_size + k) for k in range(args.apply_size)]
            t = time.perf_counter()
            agent.ApplyFlows(pb.ApplyFlowsRequest(rules="\n".join(texts)), timeout=60)
            idle["apply"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            hb.Ping(vpb.PingRequest(sender_id="load-idle"), timeout=60)
            idle["ping"].append((time.perf_counter() - t) * 1000)
        ids = [rule_id(250, i) for i in range(30 * args.apply_size)]
        for k in range(0, len(ids), 1000):
            agent.ApplyFlows(pb.ApplyFlowsRequest(delete_ids=ids[k:k + 1000]), timeout=60)
        print("load: idle: ApplyFlows(%d) p50 %.2f ms p99 %.2f ms; Ping p50 %.2f ms p99 %.2f ms" % (
            args.apply_size, percentile(idle["apply"], 50), percentile(idle["apply"], 99),
            percentile(idle["ping"], 50), percentile(idle["ping"], 99)))

        # Spawned, not forked: a gRPC client forked from a process that has a channel open
        # fails its first calls ("Socket operation on non-socket").
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        stop_at = time.monotonic() + args.duration + 2.0  # spawning takes a moment
        procs = [ctx.Process(target=client, args=(args, c + 1, stop_at, queue))
                 for c in range(args.clients)]
        if args.probe_interval > 0:
            procs.append(ctx.Process(target=probe, args=(args, stop_at, queue)))
        for p in procs:
            p.start()
        rss_series = []
        start = time.monotonic()
        while time.monotonic() < stop_at:
            time.sleep(min(args.rss_interval, max(0.0, stop_at - time.monotonic())))
            if args.pid:
                rss_series.append((time.monotonic() - start, rss_mb(args.pid)))
        results = [queue.get(timeout=args.timeout * 3 + 60) for _ in procs]
        for p in procs:
            p.join()
        lat = {}
        errors = {}
        bad_ok = 0
        for r in results:
            for op, v in r["lat"].items():
                lat.setdefault(op, []).extend(v)
            for k, n in r["errors"].items():
                errors[k] = errors.get(k, 0) + n
            bad_ok += r["bad_ok"]
            expected.update(r["state"])
        print("load: %-8s %8s %9s %9s %9s %8s" % ("call", "count", "p50 ms", "p99 ms", "max ms",
                                                  "calls/s"))
        for op in ("probe", "wakeup") + OPS + ("bad",):
            v = lat.get(op, [])
            if not v:
                continue
            print("load: %-8s %8d %9.2f %9.2f %9.2f %8.1f" % (
                op, len(v), percentile(v, 50), percentile(v, 99), max(v), len(v) / args.duration))
        print("load: errors: %s; deliberately bad requests refused as expected: %d" % (
            ", ".join("%s x%d" % kv for kv in sorted(errors.items())) or "none", bad_ok))
        rss_ratio = float("nan")
        if rss_series:
            print("load: agent RSS MB over time: %s" % " ".join(
                "%.0fs:%.1f" % (t, m) for t, m in rss_series))
            peak = max(m for _, m in rss_series)
            if rss_table == rss_table and rss_table > 0:
                rss_ratio = peak / rss_table
            print("load: agent RSS peak %.1f MB, end %.1f MB; table applied sequentially %.1f MB "
                  "(ratio %.2f)" % (peak, rss_series[-1][1], rss_table,
                                    peak / rss_table if rss_table == rss_table and rss_table > 0
                                    else float("nan")))
        load_after = open("/proc/loadavg").read().split()[:3]
        print("load: machine load average after: %s" % load_after)
        if errors:
            failed = True
        if not args.skip_readback:
            table, pages, paged_s, streamed, stream_s = read_table(args, pb, pb_grpc, grpc)
            print("load: whole table through default-limit clients: DumpFlows %d flows in %d pages "
                  "%.2f s; StreamFlows %d flows %.2f s" % (len(table), pages, paged_s, streamed,
                                                          stream_s))
            if args.verify:
                missing = sorted(set(expected) - set(table))
                extra = sorted(set(table) - set(expected))
                differ = sorted(k for k in set(expected) & set(table) if expected[k] != table[k])
                print("load: verify: expected %d rules, read back %d; missing %d, unexpected %d, "
                      "different %d" % (len(expected), len(table), len(missing), len(extra),
                                        len(differ)))
                for k in (missing[:3] + extra[:3]):
                    print("load:   id %s: expected %r, read back %r" % (k, expected.get(k),
                                                                       table.get(k)))
                for k in differ[:3]:
                    print("load:   id %s: expected %r, read back %r" % (k, expected[k], table[k]))
                if missing or extra or differ or streamed != len(table):
                    failed = True
                if args.bad_rate > 0 and bad_ok == 0:
                    print("load: verify: no deliberately bad request was sent")
                    failed = True
        channel.close()
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.verify:
        print("load: verify: %s" % ("FAILED" if failed else "ok"))
    rate = sum(len(v) for op, v in lat.items() if op not in ("probe", "wakeup")) / args.duration
    return {"failed": failed, "lat": lat, "errors": errors, "rate": rate, "rss_ratio": rss_ratio,
            "load_before": load_before, "load_after": load_after}


if __name__ == "__main__":
    sys.exit(main())
