#!/usr/bin/python3
"""Start-up time of dpu-agent: from the process start to the first RPC it serves.

Starts dpu-agent (reference backend, a fresh unix socket each time) N times, alternating with a
bare process start (/bin/true, the floor of a process start on this machine at this moment), and
prints the median and range of:
  - wall: fork+exec of the agent to the answer of its first GetAgentInfo (the client has its
    channel and stubs ready before the agent starts, and retries every 2 ms until the socket
    answers);
  - cpu: the agent's own CPU time (all threads, /proc/PID/task/*/schedstat) at that moment,
    which varies less with the load of the machine than the wall time;
  - the same wall time for /bin/true (start to exit), in the same run.

  agent_startup.py --pygen build/dev/tests/agent/pygen \
      --agent-bin build/release/examples/agent/dpu-agent --runs 9

See docs/performance.md ("dpu-agent start-up").
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def load_stubs(pygen):
    sys.path.insert(0, pygen)
    import grpc  # noqa: E402
    from libdpu.agent.v1 import agent_pb2, agent_pb2_grpc  # noqa: E402
    return grpc, agent_pb2, agent_pb2_grpc


def cpu_seconds(pid):
    # Run time of every thread in ns (the first field of /proc/PID/task/TID/schedstat): finer
    # than the 10 ms ticks of /proc/PID/stat.
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that just ended
    return total / 1e9


def one_agent(grpc, pb, pb_grpc, agent_bin, extra, timeout):
    tmp = tempfile.mkdtemp(prefix="agent-startup.")
    sock = os.path.join(tmp, "agent.sock")
    cmd = [agent_bin, "--backend=reference", "--socket=" + sock, "--rediscover_interval=0"]
    cmd += extra
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    channel = None
    try:
        # Wait for the socket file (the agent's gRPC server has bound it), then call with
        # wait_for_ready. Calling earlier would put the channel into gRPC's reconnect back-off
        # (1 s, then longer), and the client, not the agent, would decide when the call goes
        # through.
        deadline = t0 + timeout
        while not os.path.exists(sock):
            if proc.poll() is not None:
                raise SystemExit("agent exited: %s" % proc.stderr.read().decode())
            if time.perf_counter() > deadline:
                raise SystemExit("agent did not create its socket within %g s" % timeout)
            time.sleep(0.001)
        channel = grpc.insecure_channel("unix:" + sock)
        stub = pb_grpc.DpuAgentStub(channel)
        stub.GetAgentInfo(pb.GetAgentInfoRequest(), timeout=timeout, wait_for_ready=True)
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if channel is not None:
            channel.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return wall, cpu


def one_true():
    t0 = time.perf_counter()
    subprocess.run(["/bin/true"], check=True)
    return time.perf_counter() - t0


def describe(values, unit=1e3):
    return "median %.1f ms (%.1f-%.1f)" % (statistics.median(values) * unit,
                                           min(values) * unit, max(values) * unit)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pygen", required=True, help="directory of the generated Python stubs")
    ap.add_argument("--agent-bin", required=True, help="the dpu-agent to start")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--agent-args", default="", help="more dpu-agent arguments")
    args = ap.parse_args()
    grpc, pb, pb_grpc = load_stubs(args.pygen)
    print("startup: load average before: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    walls, cpus, trues = [], [], []
    for _ in range(args.runs):
        wall, cpu = one_agent(grpc, pb, pb_grpc, args.agent_bin, args.agent_args.split(),
                              args.timeout)
        walls.append(wall)
        cpus.append(cpu)
        trues.append(one_true())
    print("startup: %s" % os.uname().release)
    print("startup: dpu-agent to first served RPC: %s; agent CPU by then: %s" % (
        describe(walls), describe(cpus)))
    print("startup: /bin/true (process start floor): %s; ratio of medians %.1fx" % (
        describe(trues), statistics.median(walls) / statistics.median(trues)))
    print("startup: load average after: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    main()
