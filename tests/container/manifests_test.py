#!/usr/bin/env python3
"""The Kubernetes manifests agree with the image and the daemon.

No cluster runs here, so this reads docker/kubernetes/*.yaml with a YAML parser and checks them
against docker/Dockerfile, docker/portd.toml and the portd binary: probe paths and ports,
container ports and protocols, the drain time against the grace period, the user ID and the
read-only root file system. Usage: manifests_test.py PORTD_BINARY
"""
import pathlib
import re
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

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)


main()
