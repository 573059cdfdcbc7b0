#!/usr/bin/env python3
"""Helpers of scripts/deploy-check that read YAML (run with the check's own
Python, which has PyYAML through yamllint).

  manifests FILE...          rendered chart output: names and Pod Security
  pod-args FILE COMPONENT    the podman flags of a rendered CronJob's pod
  programs                   the programs the cli crate builds (cargo metadata on stdin)

Every check prints one line per defect and exits 1 if there was any.
"""

import json
import re
import sys

import yaml

# The Job controller appends an 11-character suffix to a CronJob's name, and a
# Job's name must fit a 63-character label value.
CRONJOB_NAME_MAX = 52
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63


def documents(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def pod_specs(doc):
    """(where, pod spec) of a workload."""
    kind = doc.get("kind")
    spec = doc.get("spec", {})
    if kind == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        yield spec["template"]["spec"]
    elif kind == "Pod":
        yield spec


def restricted(where, pod, defects):
    """The restricted Pod Security Standard, and the chart's own promises."""
    psc = pod.get("securityContext", {})
    if pod.get("automountServiceAccountToken") is not False:
        defects.append(f"{where}: automountServiceAccountToken is not false (the programs never call the API)")
    for c in pod.get("containers", []) + pod.get("initContainers", []):
        csc = c.get("securityContext", {})
        name = f"{where} container {c.get('name')}"
        seccomp = csc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            defects.append(f"{name}: no seccompProfile RuntimeDefault (restricted Pod Security rejects the pod)")
        if csc.get("allowPrivilegeEscalation") is not False:
            defects.append(f"{name}: allowPrivilegeEscalation is not false")
        if "ALL" not in csc.get("capabilities", {}).get("drop", []):
            defects.append(f"{name}: capabilities are not all dropped")
        if not csc.get("runAsNonRoot", psc.get("runAsNonRoot")):
            defects.append(f"{name}: runAsNonRoot is not true")
        if csc.get("readOnlyRootFilesystem") is not True:
            defects.append(f"{name}: the root file system is writable")
    for v in pod.get("volumes", []):
        if "hostPath" in v:
            defects.append(f"{where}: volume {v.get('name')} is a hostPath")


def check_manifests(paths):
    defects = []
    for path in paths:
        for doc in documents(path):
            kind = doc.get("kind")
            meta = doc.get("metadata", {})
            name = meta.get("name", "")
            where = f"{path}: {kind} {name}"
            if kind == "CronJob" and len(name) > CRONJOB_NAME_MAX:
                defects.append(f"{where}: the name has {len(name)} characters, more than {CRONJOB_NAME_MAX}")
            limit = LABEL_VALUE_MAX if kind in ("Service", "Deployment") else DNS_SUBDOMAIN_MAX
            if len(name) > limit or not all(DNS_LABEL.match(p) for p in name.split(".")):
                defects.append(f"{where}: not a valid name")
            for key, value in (meta.get("labels") or {}).items():
                if len(str(value)) > LABEL_VALUE_MAX:
                    defects.append(f"{where}: label {key} is longer than {LABEL_VALUE_MAX}")
            for pod in pod_specs(doc):
                restricted(where, pod, defects)
                if not pod.get("imagePullSecrets"):
                    image = pod["containers"][0].get("image", "")
                    if "/" in image.split(":")[0]:
                        defects.append(f"{where}: the image {image} is in a registry, but no imagePullSecrets")
    return defects


def pod_args(path, component):
    """podman run flags for the pod of the CronJob of `component`, then its command."""
    for doc in documents(path):
        if doc.get("kind") != "CronJob":
            continue
        pod = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        if container["name"] != component:
            continue
        config = {}
        for d in documents(path):
            if d.get("kind") == "ConfigMap":
                config = d.get("data", {})
        psc = pod.get("securityContext", {})
        csc = container.get("securityContext", {})
        args = ["--user", f"{psc.get('runAsUser', 0)}:{psc.get('runAsGroup', 0)}"]
        if csc.get("readOnlyRootFilesystem"):
            args.append("--read-only")
        for cap in csc.get("capabilities", {}).get("drop", []):
            args += ["--cap-drop", cap.lower()]
        if csc.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        for v in pod.get("volumes", []):
            if "emptyDir" in v:
                mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == v["name"])
                if mount != "/app/var":
                    args += ["--tmpfs", f"{mount}:rw,mode=1777"]
        for key, value in config.items():
            args += ["--env", f"{key}={value}"]
        args += ["--entrypoint", container["command"][0]]
        return args, container["command"][1:] + container.get("args", [])
    sys.exit(f"{path}: no CronJob runs {component}")


def main():
    command = sys.argv[1]
    if command == "manifests":
        defects = check_manifests(sys.argv[2:])
        for d in defects:
            print(d)
        sys.exit(1 if defects else 0)
    if command == "pod-args":
        flags, command_line = pod_args(sys.argv[2], sys.argv[3])
        print(json.dumps({"flags": flags, "command": command_line}))
        return
    if command == "programs":
        meta = json.load(sys.stdin)
        for package in meta["packages"]:
            if package["name"] != "timecamp-scim":
                continue
            for target in package["targets"]:
                if "bin" in target["kind"] and target["name"] != "timecamp-scim":
                    print(target["name"])
        return
    sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
