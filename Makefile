# kamaji.core — one entry point. Every target installs what it needs, idempotently.
# Heavy artifacts live outside the repo in $(KAMAJI_CACHE), keyed by version.
SHELL := /bin/bash
.DEFAULT_GOAL := help

KAMAJI_CACHE ?= $(HOME)/.cache/kamaji-core
REPO         := $(abspath .)
PYTHON       ?= python3
REQ_HASH     := $(shell sha256sum requirements-dev.txt | cut -c1-12)
VENV         := $(KAMAJI_CACHE)/venv-$(REQ_HASH)
COLLECTIONS  := $(KAMAJI_CACHE)/collections-$(shell sha256sum tools/install_collections.py | cut -c1-12)
BUILD        := $(REPO)/.build
# Versions: KUBE_VERSION, OLDER_KUBE_VERSIONS (the older supported minors, docs/version-policy.md;
# tenants of these are tested too), ETCD_VERSION, COREDNS_VERSION, PAUSE_VERSION, ETCD_IMAGE_TAG,
# from the collection's one versions module, as `?=` assignments: `make KUBE_VERSION=...` still wins.
VERSIONS_PY  := plugins/module_utils/versions.py
$(BUILD)/versions.mk: $(VERSIONS_PY) tools/versions.py
	@mkdir -p $(BUILD) && $(PYTHON) tools/versions.py make > $@.tmp && mv $@.tmp $@
include $(BUILD)/versions.mk
KUBE_BIN     := $(KAMAJI_CACHE)/bin/kubernetes-$(KUBE_VERSION)
ETCD_BIN     := $(KAMAJI_CACHE)/bin/etcd-$(ETCD_VERSION)
APT_PACKAGES := git make openssl rsync debootstrap containerd runc podman openssh-client docker-registry gpg gcc libc6-dev pkg-config libseccomp-dev

LAB_BUNDLE   := $(KAMAJI_CACHE)/bundle/$(KUBE_VERSION)-etcd-$(ETCD_VERSION)
export KAMAJI_CACHE KUBE_VERSION ETCD_VERSION COREDNS_VERSION PAUSE_VERSION
export KAMAJI_KUBE_BIN := $(KUBE_BIN)
export KAMAJI_ETCD_BIN := $(ETCD_BIN)
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(BUILD)/collections:$(COLLECTIONS)
export ANSIBLE_CONFIG := $(REPO)/ansible.cfg
export ANSIBLE_LOCAL_TEMP := $(BUILD)/ansible-tmp
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: env help deps venv collections binaries lab lab-destroy test test-prep test-static test-unit \
        test-integration test-e2e build clean molecule-lab

help:
	@echo "make lab               bring up the local lab and deploy the whole site"
	@echo "make test              every test tier: static, unit, integration, e2e"
	@echo "make test-static|test-unit|test-integration|test-e2e   one tier"
	@echo "make molecule-lab      the lab as a molecule scenario (create, converge, idempotence, verify, destroy)"
	@echo "make build             build the collection tarball"
	@echo "cache: $(KAMAJI_CACHE)"

env:
	@echo 'export PATH="$(VENV)/bin:$$PATH"'
	@echo 'export ANSIBLE_COLLECTIONS_PATH="$(ANSIBLE_COLLECTIONS_PATH)"'
	@echo 'export ANSIBLE_CONFIG="$(ANSIBLE_CONFIG)"'
	@echo 'export KAMAJI_KUBE_BIN="$(KUBE_BIN)" KAMAJI_ETCD_BIN="$(ETCD_BIN)"'

## --- installs (idempotent) -------------------------------------------------
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "apt: installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

# The venv and collection paths are keyed by the hash of their inputs: no mtime prerequisite
# (a fresh clone would otherwise rebuild them every time).
$(VENV)/.complete:
	@echo "venv: creating $(VENV)"
	@rm -rf $(VENV) && $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --upgrade pip==25.3
	@$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.complete

$(COLLECTIONS)/.complete: | $(VENV)/.complete
	@$(VENV)/bin/python tools/install_collections.py --dest $(COLLECTIONS) --pip $(VENV)/bin/pip

collections: venv $(COLLECTIONS)/.complete
	@mkdir -p $(BUILD)/collections/ansible_collections/kamaji $(BUILD)/ansible-tmp
	@ln -sfn $(REPO) $(BUILD)/collections/ansible_collections/kamaji/core

binaries: venv
	@$(VENV)/bin/python tools/build_source.py --cache $(KAMAJI_CACHE) \
	  --kube-version $(KUBE_VERSION) --etcd-version $(ETCD_VERSION) --coredns-version $(COREDNS_VERSION) \
	  --pause-version $(PAUSE_VERSION) \
	  --only etcd,etcdctl,etcdutl,kube-apiserver,kube-controller-manager,kube-scheduler,kubectl
	@for v in $(OLDER_KUBE_VERSIONS); do $(VENV)/bin/python tools/build_source.py \
	  --cache $(KAMAJI_CACHE) --kube-version $$v --only kube-apiserver,kube-controller-manager,kube-scheduler; done

## --- tests -----------------------------------------------------------------
TIER = $(VENV)/bin/python tools/ci/tier.py --results $(BUILD)/results

test-static: deps collections
	@$(TIER) static

test-unit: deps collections
	@$(TIER) unit

test-integration: deps collections binaries
	@$(TIER) integration

test-e2e: test-prep
	@$(TIER) e2e

# What the integration and e2e tiers install from, built before they run side by side (so that
# no two builds of one component race in the cache): the binaries, then the test bundles
# (tests/harness/bundles.py); the lab's node image is built beside them (mostly downloads).
test-prep: deps collections
	@$(VENV)/bin/python tools/lab/lab.py image > $(BUILD)/lab-image.log 2>&1 & pid=$$!; rc=0; \
	$(MAKE) --no-print-directory binaries && $(VENV)/bin/python tests/harness/bundles.py || rc=1; \
	wait $$pid || { echo "the lab's node image could not be built:"; tail -30 $(BUILD)/lab-image.log; rc=1; }; \
	exit $$rc

# A lab left running (by `make lab` or an interrupted run) is removed first: the e2e tier
# would replace it anyway, and its nodes would slow the tiers before it. The e2e tier is the
# longest: it starts as soon as test-prep is done. The static and unit tiers run beside
# test-prep (Go's links leave a core idle) and go on beside the e2e tier when the cache is warm;
# the integration tier runs beside the e2e tier. All three are niced: the e2e tier waits on its
# lab's nodes much of the time, and its timings must not suffer. Their output is printed when
# the e2e tier is done.
test: deps collections
	@rm -rf $(BUILD)/results
	@$(VENV)/bin/python tools/lab/lab.py destroy
	@echo "static and unit tiers: running beside test-prep and the e2e tier (their output follows the e2e tier's)"; \
	( rc=0; for t in static unit; do nice -n 5 $(TIER) $$t || rc=1; done; exit $$rc ) > $(BUILD)/checks-tier.log 2>&1 & cpid=$$!; \
	rc=0; echo "test-prep: building what the integration and e2e tiers install from"; \
	$(MAKE) --no-print-directory test-prep > $(BUILD)/test-prep.log 2>&1; prc=$$?; cat $(BUILD)/test-prep.log; \
	if [ $$prc -ne 0 ]; then echo "test-prep FAILED: the integration and e2e tiers cannot run"; \
	  wait $$cpid; cat $(BUILD)/checks-tier.log; $(TIER) --summary; exit 1; fi; \
	echo "integration: running beside the e2e tier (its output follows the e2e tier's)"; \
	nice -n 10 $(TIER) integration > $(BUILD)/integration-tier.log 2>&1 & ipid=$$!; \
	$(TIER) e2e || rc=1; \
	wait $$cpid || rc=1; echo "== the static and unit tiers:"; cat $(BUILD)/checks-tier.log; \
	wait $$ipid || rc=1; echo "== the integration tier, run beside the e2e tier:"; cat $(BUILD)/integration-tier.log; \
	$(TIER) --summary; exit $$rc

## --- product ---------------------------------------------------------------
build: collections
	@mkdir -p $(BUILD)/dist
	@ansible-galaxy collection build --force --output-path $(BUILD)/dist .

# Node counts of the lab, e.g. LAB_SIZES="--admin-control-plane=3" (HA behind the lab's load balancer).
LAB_SIZES ?=

# The lab builds only what it deploys: the offline bundle playbook builds the bundle's binaries
# (this version's, through the source_build module) and kubectl comes from the bundle; the
# older minors of `binaries` are for the test tiers only.
LAB_BUNDLE_VARS := -e offline_bundle_source=source -e offline_bundle_cache_dir=$(KAMAJI_CACHE) -e offline_bundle_kube_version=$(KUBE_VERSION) \
  -e offline_bundle_etcd_version=$(ETCD_VERSION) -e offline_bundle_coredns_version=$(COREDNS_VERSION) \
  -e offline_bundle_pause_version=$(PAUSE_VERSION)

lab: deps collections
	@ansible-playbook playbooks/offline_bundle.yml $(LAB_BUNDLE_VARS)
	@$(VENV)/bin/python tools/lab/lab.py up $(LAB_SIZES)
	@ansible-playbook -i inventories/lab/hosts.yml playbooks/site.yml -e kamaji_bundle_dir=$(LAB_BUNDLE)
	@for conf in $(KAMAJI_CACHE)/lab/tenants/*.kubeconfig; do \
	  echo "== tenant $$(basename $$conf .kubeconfig): KUBECONFIG=$$conf"; \
	  $(LAB_BUNDLE)/bin/kubectl --kubeconfig $$conf get nodes -o wide; done
	@echo "admin cluster: KUBECONFIG=$(KAMAJI_CACHE)/lab/admin.conf"
	@echo "make lab-destroy removes the lab."

# The same lab as a molecule scenario: destroy, create, converge, idempotence, verify, destroy.
# Its converge builds the offline bundle (offline_bundle playbook) like `make lab`.
molecule-lab: deps collections
	@cd $(REPO) && molecule test -s lab

lab-destroy: venv
	@$(VENV)/bin/python tools/lab/lab.py destroy

clean:
	rm -rf $(BUILD)
