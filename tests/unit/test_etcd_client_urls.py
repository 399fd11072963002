"""etcd_client_urls: the members' client URLs, from a host variable, ansible_host or the name."""
from __future__ import annotations

from ansible_collections.kamaji.core.plugins.filter.etcd_client_urls import etcd_client_urls


def test_the_address_comes_from_the_named_variable_then_ansible_host_then_the_name():
    hostvars = {"a": {"ansible_host": "192.0.2.1", "admin_cluster_advertise_address": "198.51.100.1"},
                "b": {"ansible_host": "2001:db8::2"}, "c": {}}
    assert etcd_client_urls(["a", "b", "c"], hostvars) == [
        "https://192.0.2.1:2379", "https://[2001:db8::2]:2379", "https://c:2379"]
    assert etcd_client_urls(["a", "b", "c"], hostvars, 2379, address_var="admin_cluster_advertise_address") == [
        "https://198.51.100.1:2379", "https://[2001:db8::2]:2379", "https://c:2379"]
