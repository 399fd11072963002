"""A tenant's control plane run as processes on this machine from what the tenant_control_plane
role applied (its Deployment's commands and arguments, its Secrets' files): the integration
tier has no kubelet to run the pods."""
from __future__ import annotations

import base64
import json
import os

from harness.procs import Proc, binary, free_port


class TenantProcesses:
    """The tenant's control plane run from what the role applied."""

    def __init__(self, kube, name, workdir):
        self.name = name
        self.ns = f"tenant-{name}"
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        deploy = json.loads(kube.kubectl("-n", self.ns, "get", "deployment", "kube-control-plane", "-o", "json").stdout)
        self.deployment = deploy
        secrets = {}
        for s in ("kamaji-pki", "kamaji-kubeconfigs"):
            obj = json.loads(kube.kubectl("-n", self.ns, "get", "secret", s, "-o", "json").stdout)
            secrets[s] = {k: base64.b64decode(v).decode() for k, v in obj["data"].items()}
        pod = deploy["spec"]["template"]["spec"]
        volumes = {v["name"]: v["secret"] for v in pod["volumes"]}
        self.procs = []
        for container in pod["containers"]:
            cdir = os.path.join(workdir, container["name"])
            mapping = {}
            for mount in container["volumeMounts"]:
                secret = volumes[mount["name"]]
                data = secrets[secret["secretName"]]
                items = [i["key"] for i in secret.get("items", [])] or list(data)
                local = os.path.join(cdir, mount["mountPath"].lstrip("/"))
                if "subPath" in mount:
                    os.makedirs(os.path.dirname(local), exist_ok=True)
                    write_private(local, data[mount["subPath"]])
                else:
                    for key in items:
                        write_private(os.path.join(local, key), data[key])
                mapping[mount["mountPath"]] = local
            version = container["image"].rsplit(":", 1)[1]
            command = [binary(os.path.basename(container["command"][0]), version)]
            args = []
            for arg in container["args"]:
                for path, local in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
                    arg = arg.replace("=" + path, "=" + local)
                if arg.startswith("--cert-dir="):
                    arg = "--cert-dir=" + os.path.join(cdir, "certs")
                if arg.startswith("--bind-address="):
                    arg = "--bind-address=127.0.0.1"
                if container["name"] != "kube-apiserver" and arg.startswith("--secure-port="):
                    arg = f"--secure-port={free_port()}"
                args.append(arg)
            if container["name"] == "kube-apiserver":
                args.append("--bind-address=127.0.0.1")
                self.port = int(next(a for a in args if a.startswith("--secure-port=")).split("=", 1)[1])
            # the container's environment (the Go runtime's limits a size profile sets), values only
            env = dict(os.environ, **{e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
            self.procs.append(Proc(f"tenant-{name}-{container['name']}", [*command, *args], workdir, env=env))

    def components(self) -> dict[str, Proc]:
        """Component (apiserver, controller-manager, scheduler: its container's name without
        ``kube-``) -> its process."""
        return {p.name.rsplit("-kube-", 1)[-1]: p for p in self.procs}

    def pids(self) -> dict[str, int]:
        """Component -> pid of its running process."""
        return {c: p.popen.pid for c, p in self.components().items() if p.alive}

    def start(self):
        for p in self.procs:
            p.start()
        return self

    def stop(self):
        for p in self.procs:
            p.stop()


def write_private(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)
