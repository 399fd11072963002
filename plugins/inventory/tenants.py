# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: tenants
short_description: The tenants the admin cluster holds, one host each, from their recorded specs
version_added: 0.3.0
description:
  - Reads the tenants' records from the admin cluster (ConfigMap C(kamaji-tenant-spec) in each
    tenant's namespace, which the tenants play writes with the tenant's other objects; it holds
    the validated spec, every default filled, and no secrets) and yields one host per tenant.
  - A host the plugin adds is named after its tenant and holds the recorded spec as C(tenant),
    exactly in the inventory's form (the host's C(tenant) dict, C(state) included), so it can
    drive the tenants play; and C(ansible_connection=local), as every tenant host.
  - Every tenant host the records reach gets C(kamaji_tenant_recorded) (the recorded spec) and
    C(kamaji_tenant_orphaned) (true or false), and joins the groups C(kamaji_version_v1_<minor>)
    and C(kamaji_state_<state>) by its record, that is by what was applied.
  - B(Alone) (no earlier inventory source defines a C(tenants) group), the admin cluster is the
    fleet; every recorded tenant is a host of C(tenants).
  - B(After a static inventory) (C(ansible-inventory -i hosts.yml -i tenants.kamaji.yml);
    sources are read in order, so this one must come last), the static C(tenants) group is the
    fleet. A tenant it names (by host, or the C(tenant_name) host variable) keeps the static
    C(tenant) dict (what the inventory wants wins over what was applied) and gets the record
    beside it. A tenant it does not name is B(orphaned) (in the admin cluster, not in the
    inventory). It becomes a host named after the tenant, with C(kamaji_tenant_orphaned=true),
    in group C(orphaned) and B(never) in C(tenants), so a site or tenants run cannot act on it by
    accident. To adopt it, add its host to C(tenants) in the static inventory; to delete it, add
    it with C(state=absent) and C(confirm_delete) (see docs/tenant-lifecycle.md).
  - A record that cannot be read (another format, a broken spec, in another tenant's namespace)
    is skipped with a warning naming its namespace. So is an orphan whose name is already a
    host outside C(tenants).
  - "Connection: a kubeconfig file (O(kubeconfig), O(context)), or the API server's URL
    O(host) with a bearer token (O(api_key)) or a client certificate (O(client_cert),
    O(client_key)), O(ca_cert) and O(validate_certs). Each can come from the C(K8S_AUTH_*)
    environment variables that AWX's Kubernetes (bearer token) credential injects. Setting
    both ways is refused, naming the options that are set. With neither, the admin cluster
    play's default kubeconfig C(~/.kube/kamaji-admin.conf) is read."
  - The credentials need C(get) and C(list) on C(configmaps) in all namespaces, nothing else.
  - "The collection's docs/awx.md (Tenants from the admin cluster) shows both setups."
author:
  - kamaji.core maintainers (@kamaji-core)
requirements:
  - kubernetes (the Python client) on the controller
options:
  plugin:
    description: Marks the file as this plugin's configuration.
    type: str
    required: true
    choices: [kamaji.core.tenants]
  kubeconfig:
    description:
      - Path of a kubeconfig file for the admin cluster.
      - When neither this nor O(host) is set, C(~/.kube/kamaji-admin.conf) (the default
        C(admin_cluster_kubeconfig) of the admin cluster play).
      - Not together with O(host) and its credentials.
    type: path
    env:
      - name: K8S_AUTH_KUBECONFIG
  context:
    description: Context of O(kubeconfig) to use; its current context when not set.
    type: str
    env:
      - name: K8S_AUTH_CONTEXT
  host:
    description:
      - URL of the admin cluster's API server (C(https://...)), used with O(api_key) or with
        O(client_cert) and O(client_key) instead of a kubeconfig.
    type: str
    env:
      - name: K8S_AUTH_HOST
  api_key:
    description: Bearer token for O(host) (for example a ServiceAccount token).
    type: str
    env:
      - name: K8S_AUTH_API_KEY
  ca_cert:
    description: CA certificate file that signed the certificate of O(host); the system's trust store when not set.
    type: path
    env:
      - name: K8S_AUTH_SSL_CA_CERT
  client_cert:
    description: Client certificate file (PEM) for O(host), with O(client_key).
    type: path
    env:
      - name: K8S_AUTH_CERT_FILE
  client_key:
    description: Private key file (PEM) of O(client_cert).
    type: path
    env:
      - name: K8S_AUTH_KEY_FILE
  validate_certs:
    description: Verify the API server's certificate. Leave it on; set O(ca_cert) instead.
    type: bool
    default: true
    env:
      - name: K8S_AUTH_VERIFY_SSL
  use_vars_plugins:
    description:
      - Read the static C(tenants) hosts' C(host_vars) files (the vars plugins) for their
        C(tenant_name) when telling orphans apart. Inventory sources are parsed before vars
        plugins run, so without this a C(tenant_name) set only in a C(host_vars) file is not
        seen and its tenant would be marked orphaned.
    type: bool
    default: true
notes:
  - Inventory sources are read in the order given; the plugin must come after the static
    inventory whose C(tenants) group it compares with.
  - "Set C(ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=true) so that an unreachable admin cluster
    (or refused credentials) fails the run or the AWX inventory sync; otherwise Ansible only
    warns and goes on with an inventory without the admin cluster's tenants."
  - The configuration file's name must end in C(.kamaji.yml) or C(.kamaji.yaml) (for example
    C(tenants.kamaji.yml)).
"""

EXAMPLES = r"""
# tenants.kamaji.yml, with the static inventory first:
#   ansible-inventory -i inventories/site/hosts.yml -i tenants.kamaji.yml --graph
# Tenants the static inventory does not name are listed under `orphaned`.
plugin: kamaji.core.tenants
kubeconfig: ~/.kube/kamaji-admin.conf

# In AWX: an inventory source of this file, with a Kubernetes (bearer token) credential
# attached; the credential injects K8S_AUTH_HOST, K8S_AUTH_API_KEY, K8S_AUTH_SSL_CA_CERT and
# K8S_AUTH_VERIFY_SSL, so the file needs nothing but the plugin's name.
# plugin: kamaji.core.tenants

# A kubeconfig holding several clusters:
# plugin: kamaji.core.tenants
# kubeconfig: /etc/kamaji/admin.conf
# context: kamaji-admin@site-a

# Then, for example, upgrade the tenants that run 1.36, ten at a time:
#   ansible-playbook -i hosts.yml -i tenants.kamaji.yml kamaji.core.tenants \
#     --limit kamaji_version_v1_36 -e kamaji_tenants_serial=10
"""

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin
from ansible.utils.vars import combine_vars
from ansible.vars.plugins import get_vars_from_inventory_sources

from ansible_collections.kamaji.core.plugins.module_utils.common import kubeapi
from ansible_collections.kamaji.core.plugins.module_utils.tenant import admin_objects, record
from ansible_collections.kamaji.core.plugins.module_utils.tenant import inventory as fleet

DEFAULT_KUBECONFIG = "~/.kube/kamaji-admin.conf"
SUFFIXES = (".kamaji.yml", ".kamaji.yaml")


class InventoryModule(BaseInventoryPlugin):
    NAME = "kamaji.core.tenants"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(SUFFIXES)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        for dep in (kubeapi.KUBERNETES, kubeapi.URLLIB3):
            if not dep.ok:
                raise AnsibleParserError("%s: the %s Python library is required on the controller (pip install %s, "
                                         "in the Python that runs Ansible); importing it failed: %s"
                                         % (path, dep.name, dep.pip_name, dep.error.strip().splitlines()[-1]))
        try:
            conn = kubeapi.connection({o: self.get_option(o) for o in kubeapi.ENV}, DEFAULT_KUBECONFIG)
            records = kubeapi.list_objects(conn, "/api/v1/configmaps", {
                "labelSelector": admin_objects.LABEL, "fieldSelector": "metadata.name=" + record.NAME})
        except kubeapi.KubeError as exc:
            raise AnsibleParserError("%s: %s" % (path, exc))
        self._add(fleet.fleet(records, self._inventory_tenants(), list(self.inventory.hosts)))

    def _inventory_tenants(self):
        """Tenant name -> host of the `tenants` group earlier sources defined; None without one."""
        group = self.inventory.groups.get(fleet.FLEET_GROUP)
        if group is None:
            return None
        return fleet.inventory_tenants({host.name: self._host_vars(host) for host in group.get_hosts()})

    def _host_vars(self, host):
        variables = host.get_vars()
        if self.get_option("use_vars_plugins"):
            sources = getattr(self.inventory, "processed_sources", None) or []
            variables = combine_vars(variables, get_vars_from_inventory_sources(
                self.loader, sources, [host], "all"))
        return variables

    def _add(self, result):
        for warning in result.warnings:
            self.display.warning(warning)
        for host, variables in result.hosts.items():
            self.inventory.add_host(host)
            for key, value in variables.items():
                self.inventory.set_variable(host, key, value)
        for group, hosts in result.groups.items():
            self.inventory.add_group(group)
            for host in hosts:
                self.inventory.add_child(group, host)
