#!/usr/bin/env python3
"""The Kubernetes manifests agree with the image and the daemon.

No cluster runs here, so this reads docker/kubernetes/*.yaml with a YAML parser and checks them
against docker/Dockerfile, docker/portd.toml and the portd binary: probe paths and ports,
container ports and protocols, the drain time against the grace period, the user ID and the
read-only root file system. Usage: manifests_test.py PORTD_BINARY
"""
import json
import pathlib
import re
import socket
import subprocess
import sys
import tempfile
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
K8S = ROOT / "docker" / "kubernetes"
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def load(name):
    docs = list(yaml.safe_load_all((K8S / name).read_text()))
    assert len(docs) == 1, name
    return docs[0]


def seconds(duration):
    m = re.fullmatch(r"(\d+)(ms|s|m)", duration)
    n = int(m.group(1))
    return {"ms": n / 1000, "s": n, "m": n * 60}[m.group(2)]


def check_load_job(portd, deployment, service, user):
    """load/job.yaml runs `portd load` generators as an Indexed Job whose results merge."""
    job = load("load/job.yaml")
    spec = job["spec"]
    check(spec.get("completionMode") == "Indexed" and spec["completions"] == spec["parallelism"],
          "the load Job is Indexed, all generators at once")
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    (server,) = deployment["spec"]["template"]["spec"]["containers"]
    check(container["image"] == server["image"], "the generators run the same image as the server")
    check(pod["securityContext"]["runAsUser"] == user and pod["restartPolicy"] == "Never",
          "the generators run as the image's user and are not restarted (a rerun skews the merge)")
    args = container["args"]
    check(container["command"] == ["/usr/bin/portd", "load"], "the command is portd load")
    check("--json" in args and args[args.index("--json") + 1] == "-" and "--no-summary" in args,
          "each generator prints only its JSON result (what `kubectl logs` collects)")
    url = args[0]
    m = re.fullmatch(r"(\w+)://([\w.-]+):(\d+)(/.*)?", url)
    svc_ports = {(p["port"], p["protocol"]) for p in service["spec"]["ports"]}
    check(m is not None and m.group(2).split(".")[0] == service["metadata"]["name"]
          and (int(m.group(3)), "UDP" if m.group(1) == "udp" else "TCP") in svc_ports,
          f"the generators target a port of the portd Service ({url})")
    # The very arguments, against a local port where nothing listens and for one second: the
    # command line is accepted and stdout is a result `portd load merge` reads.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    local = [f"{m.group(1)}://127.0.0.1:{closed_port}{m.group(4) or ''}"] + args[1:]
    local[local.index("--duration") + 1] = "1s"
    local += ["--timeout", "1s"]
    r = subprocess.run([portd, "load", *local], capture_output=True, text=True, timeout=30)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write(r.stdout)
        f.flush()
        merged = subprocess.run([portd, "load", "merge", f.name, f.name, "--json", "-", "--no-summary"],
                                capture_output=True, text=True, timeout=30)
    ok = r.returncode == 0 and merged.returncode == 0
    if ok:
        one, two = json.loads(r.stdout), json.loads(merged.stdout)
        ok = two["sources"] == 2 and two["counters"]["errors"]["connect_refused"] == 2 * one["counters"]["errors"]["connect_refused"] > 0
    check(ok, f"the generator's arguments run and its output merges {r.stderr.strip()} {merged.stderr.strip()}")


def main():
    portd = sys.argv[1]
    deployment = load("deployment.yaml")
    service = load("service.yaml")
    configmap = load("configmap.yaml")
    pdb = load("pdb.yaml")
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()

    config_text = configmap["data"]["portd.toml"]
    config = tomllib.loads(config_text)
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
        f.write(config_text)
        f.flush()
        r = subprocess.run([portd, "check", "-c", f.name], capture_output=True, text=True)
    check(r.returncode == 0, f"portd check accepts the ConfigMap's portd.toml {r.stderr.strip()}")

    image_config = tomllib.loads((ROOT / "docker" / "portd.toml").read_text())
    check(
        [(l["name"], l["protocol"], l["address"]) for l in config["listener"]]
        == [(l["name"], l["protocol"], l["address"]) for l in image_config["listener"]]
        and config["admin"] == image_config["admin"],
        "the ConfigMap serves the same listeners as the image's own configuration",
    )

    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    ports = {(p["containerPort"], p["protocol"]): p["name"] for p in container["ports"]}
    wanted = {(int(l["address"].rsplit(":", 1)[1]), l["protocol"].upper()) for l in config["listener"]}
    admin_port = int(config["admin"]["address"].rsplit(":", 1)[1])
    wanted.add((admin_port, "TCP"))
    check(set(ports) == wanted, f"container ports {sorted(ports)} are the listeners' {sorted(wanted)}")

    exposed = set(re.findall(r"(\d+)/(tcp|udp)", " ".join(re.findall(r"^EXPOSE (.*)$", dockerfile, re.M))))
    check({(int(p), proto.upper()) for p, proto in exposed} == wanted, "the Dockerfile EXPOSEs the same ports")

    healthcheck = re.search(r'HEALTHCHECK .*?CMD \["/usr/bin/portd", "probe", "http://127.0.0.1:(\d+)(/\w+)"\]', dockerfile, re.S)
    check(healthcheck is not None and int(healthcheck.group(1)) == admin_port and healthcheck.group(2) == "/healthz",
          "the image's HEALTHCHECK probes /healthz on the admin port")

    def probe_port(probe):
        port = probe["httpGet"]["port"]
        return port if isinstance(port, int) else next(p for (p, proto), n in ports.items() if n == port)

    live, ready = container["livenessProbe"], container["readinessProbe"]
    check(live["httpGet"]["path"] == "/healthz" and probe_port(live) == admin_port, "liveness probes /healthz on the admin port")
    check(ready["httpGet"]["path"] == "/readyz" and probe_port(ready) == admin_port, "readiness probes /readyz on the admin port")

    drain = seconds(config["server"]["shutdown_timeout"])
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace = spec["terminationGracePeriodSeconds"]
    check(pre_stop + drain < grace, f"preStop {pre_stop}s + drain {drain}s < terminationGracePeriodSeconds {grace}s")

    user = re.search(r"^USER (\d+)(?::(\d+))?$", dockerfile, re.M)
    check(user is not None and spec["securityContext"]["runAsUser"] == int(user.group(1)) != 0,
          f"runAsUser {spec['securityContext']['runAsUser']} is the image's USER")
    check(spec["securityContext"].get("runAsNonRoot") is True, "runAsNonRoot")
    sc = container["securityContext"]
    check(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    check(sc.get("allowPrivilegeEscalation") is False and sc.get("capabilities", {}).get("drop") == ["ALL"],
          "no privilege escalation, every capability dropped")
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    check("/etc/portd" in mounts, "the ConfigMap is mounted over /etc/portd")

    svc_ports = {(p["port"], p["protocol"], p["targetPort"]) for p in service["spec"]["ports"]}
    check({(p, proto) for p, proto, _ in svc_ports} == wanted and all(t in ports.values() for _, _, t in svc_ports),
          "the Service exposes every port, TCP and UDP, by the container's port names")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    check(service["spec"]["selector"].items() <= labels.items(), "the Service selects the pods")
    check(pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
          and pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"],
          "the PodDisruptionBudget selects the pods and leaves room for one disruption")

    check_load_job(portd, deployment, service, spec["securityContext"]["runAsUser"])

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)


main()
