#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The benchmark report: run every benchmark meson knows (meson test
--benchmark's list, from `meson introspect`), each once, pinned to one CPU
when there are two or more (but those in UNPINNED), and write BUILD/bench/report.md with what each
printed, plus the figures of those that write CSV drawn with gnuplot (SVG,
each with its floor) when gnuplot is installed. `make bench` runs it.

    bench_report.py BUILD [NAME...]   only the benchmarks named, if any
"""
import json
import os
import shutil
import subprocess
import sys
import time

# Benchmarks that write their figures as CSV, and the plots drawn of them.
CSV_BENCHES = ("bench_rtt", "bench_dma_map", "virtio_b2b", "bench_mig",
               "bench_devices")
# Benchmarks that measure threads or several processes and must have every
# CPU: never pinned. virtio_b2b runs a driver and two device processes (and
# a two-process floor): on one CPU they would take turns, and its frames/s
# would measure the scheduler, not the data path.
UNPINNED = ("bench_devices", "virtio_b2b")


def benchmarks(build):
    out = subprocess.run(["meson", "introspect", build, "--benchmarks"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def run(bench, outdir, pin):
    cmd = list(bench["cmd"])
    csv = None
    if bench["name"] in CSV_BENCHES:
        csv = os.path.join(outdir, bench["name"] + ".csv")
        cmd += ["--csv", csv]
    if pin and bench["name"] not in UNPINNED:
        cmd = ["taskset", "-c", "1"] + cmd
    env = dict(os.environ)
    env.update(bench.get("env") or {})
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                       timeout=bench.get("timeout") or 600)
    took = time.monotonic() - t0
    text = p.stdout + (p.stderr if p.returncode != 0 else "")
    return {"name": bench["name"], "cmd": " ".join(cmd), "rc": p.returncode,
            "text": text, "secs": took, "csv": csv}


def rows(path):
    with open(path) as f:
        head = f.readline().strip().split(",")
        return [dict(zip(head, line.strip().split(","))) for line in f
                if line.strip()]


def gnuplot(script, outdir):
    subprocess.run(["gnuplot"], input=script, text=True, check=True,
                   cwd=outdir)


def data(outdir, name, lines):
    with open(os.path.join(outdir, name), "w") as f:
        f.write("\n".join(lines) + "\n")


def plot_rtt(outdir, csv):
    mem = [r for r in rows(csv) if r["kind"] == "memory"]
    data(outdir, "rtt.dat", ["%s %s %s %s %s" % (r["size"], r["rtt_us"],
                                                  r["floor_rtt_us"],
                                                  r["cpu_us"],
                                                  r["floor_cpu_us"])
                             for r in mem])
    common = ("set terminal svg size 720,420 dynamic\n"
              "set logscale xy\nset xlabel 'REGION_READ reply bytes'\n"
              "set key top left\nset grid\n")
    gnuplot(common +
            "set output 'rtt.svg'\nset ylabel 'round trip, us'\n"
            "set title 'Round trip vs message size (floor: one recv + one sendmsg)'\n"
            "plot 'rtt.dat' u 1:2 w lp t 'libvus', '' u 1:3 w lp dt 2 t 'socket floor'\n",
            outdir)
    gnuplot(common +
            "set output 'cpu.svg'\nset ylabel 'server CPU per request, us'\n"
            "set title 'Server CPU per request vs message size'\n"
            "plot 'rtt.dat' u 1:4 w lp t 'libvus', '' u 1:5 w lp dt 2 t 'socket floor'\n",
            outdir)
    return ["rtt.svg", "cpu.svg"]


def plot_dma_map(outdir, csv):
    r = rows(csv)
    data(outdir, "dma_map.dat", ["%d %s %s %s" % (max(int(x["live"]), 1),
                                                  x["pair_us"],
                                                  x["floor_pair_us"],
                                                  x["vmas"]) for x in r])
    gnuplot("set terminal svg size 720,420 dynamic\nset output 'dma_map.svg'\n"
            "set logscale x\nset xlabel 'live 4 KiB maps of the memfd'\n"
            "set ylabel 'DMA_MAP + DMA_UNMAP pair, both round trips, us'\nset grid\n"
            "set title 'DMA_MAP/DMA_UNMAP pair vs live maps (floor: answered, not acted on)'\n"
            "set key top left\nset yrange [0:*]\n"
            "plot 'dma_map.dat' u 1:2 w lp t 'libvus', '' u 1:3 w lp dt 2 t 'floor'\n",
            outdir)
    return ["dma_map.svg"]


def plot_nic(outdir, csv):
    r = rows(csv)
    data(outdir, "nic.dat", ["%s %s %s %s %s %s %s" % (
        x["size"], x["fps"], x["floor_fps"], x["cpu_us"], x["floor_cpu_us"],
        x.get("shm_fps", "NaN"), x.get("shm_cpu_us", "NaN")) for x in r])
    common = ("set terminal svg size 720,420 dynamic\n"
              "set logscale x 2\nset xlabel 'Ethernet frame bytes'\n"
              "set key top right\nset grid\nset yrange [0:*]\n")
    gnuplot(common +
            "set output 'nic.svg'\nset ylabel 'frames/s, one way'\n"
            "set title 'virtio-net back to back vs frame size (floor: the "
            "datagram link alone)'\n"
            "plot 'nic.dat' u 1:2 w lp t 'two devices, datagram link', "
            "'' u 1:6 w lp t 'two devices, shm link', "
            "'' u 1:3 w lp dt 2 t 'datagram link floor (sendmmsg/recvmmsg)', "
            "1e6 w l dt 3 t '1 Mpps target'\n", outdir)
    gnuplot(common +
            "set output 'nic_cpu.svg'\nset ylabel 'CPU us per frame, all processes'\n"
            "set title 'CPU per frame vs frame size'\n"
            "plot 'nic.dat' u 1:4 w lp t 'driver + two devices, datagram link', "
            "'' u 1:7 w lp t 'driver + two devices, shm link', "
            "'' u 1:5 w lp dt 2 t 'datagram link floor'\n", outdir)
    return ["nic.svg", "nic_cpu.svg"]


def plot_mig(outdir, csv):
    r = rows(csv)
    # The target is 0.15x memcpy each way.
    data(outdir, "mig.dat", ["%s %s %s %s %.3f" % (x["size_mib"], x["save_gbps"],
                                                   x["load_gbps"], x["memcpy_gbps"],
                                                   0.15 * float(x["memcpy_gbps"]))
                             for x in r])
    gnuplot("set terminal svg size 720,420 dynamic\nset output 'mig.svg'\n"
            "set logscale xy\nset xlabel 'state (one section), MiB'\n"
            "set ylabel 'GB/s'\nset grid\nset key bottom right\n"
            "set title 'Migration save/load into a memfd vs memcpy of the same bytes'\n"
            "plot 'mig.dat' u 1:2 w lp t 'save', '' u 1:3 w lp t 'load', "
            "'' u 1:4 w lp dt 2 t 'memcpy', '' u 1:5 w l dt 3 t '0.15x memcpy (target)'\n",
            outdir)
    return ["mig.svg"]


def plot_devices(outdir, csv):
    r = [x for x in rows(csv) if x["mode"] == "pipelined"]
    closed = [x for x in rows(csv) if x["mode"] == "closed"]

    def at(d, t, key):
        return [x[key] for x in r if x["devices"] == d and x["threads"] == t][0]
    devs = [x["devices"] for x in r if x["threads"] == "1"]
    data(outdir, "devices.dat",
         ["%s %s %s %s %s" % (d, at(d, "1", "rate"), at(d, "2", "rate"),
                              at(d, "1", "ideal"), at(d, "2", "ideal"))
          for d in devs])
    data(outdir, "devices_closed.dat",
         ["%s %s %s" % (x["devices"], x["threads"], x["rate"]) for x in closed])
    gnuplot("set terminal svg size 720,420 dynamic noenhanced\nset output 'devices.svg'\n"
            "set logscale x 2\nset xlabel 'devices (contexts, one client each)'\n"
            "set ylabel 'aggregate 4-byte REGION_READs/s'\nset grid\n"
            "set title 'Requests/s vs devices and server threads, 512 requests "
            "in flight per connection (ideal: the server CPU per request on "
            "the CPUs the client leaves)' noenhanced font ',10'\n"
            "set key bottom right\nset logscale y\n"
            "plot 'devices.dat' u 1:2 w lp t '1 thread', '' u 1:3 w lp t "
            "'2 threads', '' u 1:4 w l dt 2 t 'ideal, 1 thread', "
            "'' u 1:5 w l dt 3 t 'ideal, 2 threads', "
            "'devices_closed.dat' u 1:($2 == 1 ? $3 : 1/0) w p pt 6 "
            "t 'closed loop, 1 thread', '' u 1:($2 == 2 ? $3 : 1/0) w p pt 8 "
            "t 'closed loop, 2 threads'\n",
            outdir)
    return ["devices.svg"]


PLOTS = {"bench_rtt": plot_rtt, "bench_dma_map": plot_dma_map,
         "virtio_b2b": plot_nic, "bench_mig": plot_mig,
         "bench_devices": plot_devices}


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d CPUs, Linux %s" % (cpu, os.cpu_count() or 0,
                                      os.uname().release)


def vs_libvfio_user(build):
    """tests/bench_vs.sh: libvus against libvfio-user when LIBVFIO_USER
    names a built libvfio-user; otherwise its one line saying it skipped."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "bench_vs.sh")
    t0 = time.monotonic()
    p = subprocess.run(["sh", script, build], capture_output=True, text=True,
                       timeout=3600)
    return {"name": "libvus vs libvfio-user", "rc": p.returncode,
            "cmd": "LIBVFIO_USER=%s sh tests/bench_vs.sh %s" %
                   (os.environ.get("LIBVFIO_USER", ""), build),
            "text": p.stdout + (p.stderr if p.returncode != 0 else ""),
            "secs": time.monotonic() - t0, "csv": None}


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = sys.argv[1]
    only = set(sys.argv[2:])
    outdir = os.path.join(build, "bench")
    os.makedirs(outdir, exist_ok=True)
    pin = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    have_gnuplot = shutil.which("gnuplot") is not None
    results = []
    for b in benchmarks(build):
        if only and b["name"] not in only:
            continue
        print("running %s ..." % b["name"], file=sys.stderr, flush=True)
        results.append(run(b, outdir, pin))
    if not only:
        print("running tests/bench_vs.sh ...", file=sys.stderr, flush=True)
        results.append(vs_libvfio_user(build))
    out = ["# libvus benchmark report", "",
           "Made by `make bench` (tests/bench_report.py) on %s, %s. "
           "Each benchmark ran once%s; every figure below is what it printed. "
           "Ratios are against a floor measured in the same run on the same "
           "machine (doc/performance.md says what each floor is). "
           "The ratios to libvfio-user need LIBVFIO_USER set (last section)." %
           (time.strftime("%Y-%m-%d %H:%M"), machine(),
            ", pinned to CPU 1 (taskset -c 1) but for %s, which measure "
            "threads or several processes" % ", ".join(UNPINNED)
            if pin else ""), ""]
    failed = 0
    for r in results:
        plots = []
        if r["rc"] == 0 and r["csv"] and os.path.exists(r["csv"]):
            if have_gnuplot:
                plots = PLOTS[r["name"]](outdir, r["csv"])
        failed += r["rc"] != 0
        out += ["## %s" % r["name"], "",
                "`%s` (%.0f s%s)" % (r["cmd"], r["secs"],
                                     "" if r["rc"] == 0 else
                                     ", FAILED with status %d" % r["rc"]), ""]
        out += ["![%s](%s)" % (p[:-4], p) for p in plots]
        if plots:
            out.append("")
        out += ["```", r["text"].rstrip(), "```", ""]
    if not have_gnuplot:
        out += ["(No plots: gnuplot is not installed; `make bench` installs "
                "gnuplot-nox.)", ""]
    report = os.path.join(outdir, "report.md")
    with open(report, "w") as f:
        f.write("\n".join(out))
    print("\n".join(out))
    print("report: %s" % report, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
