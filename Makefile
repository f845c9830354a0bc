# kubectl-clusterops. The two commands that matter: `make demo` and `make test`.
SHELL := /usr/bin/env bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
PKG := github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil
LDFLAGS := -s -w -X $(PKG).gitVersion=$(VERSION) -X $(PKG).gitCommit=$(COMMIT) -X $(PKG).buildDate=$(BUILD_DATE)

.PHONY: all build install test test-unit test-e2e test-node test-ha lint upstream demo cluster node-up node-down ha-up ha-down clean \
	dist image verify-image release-manifest docs verify-docs

all: build

## build: the plugin binary, bin/kubectl-clusterops: static (CGO off), as the Krew archives and the image ship it
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/kubectl-clusterops ./cmd/kubectl-clusterops

## install: go install the plugin into GOBIN
install:
	$(GO) install -trimpath -ldflags "$(LDFLAGS)" ./cmd/kubectl-clusterops

## test: lint, unit tests, upstream builds, e2e tests against a real control plane, node tier (opt-in)
test:
	LDFLAGS="$(LDFLAGS)" hack/test

test-unit:
	$(GO) test -count=1 ./...

test-e2e: build upstream
	$(GO) test -tags e2e -count=1 -timeout 45m ./test/e2e/... ./pkg/plugin/...

## test-node: the real-node tier (kubeadm + kubelet + containerd on this host); needs CLUSTEROPS_E2E_NODE=1, root
test-node: upstream
	hack/test-node

## node-up / node-down: bring the real-node tier's cluster up (prints the admin kubeconfig path) / undo it
node-up:
	hack/node-up

node-down:
	hack/node-down

## test-ha: the multi-node tier (3 control-plane nodes + a worker, each in namespaces); needs CLUSTEROPS_E2E_HA=1, root
test-ha: upstream
	hack/test-ha

## ha-up / ha-down: bring the multi-node cluster up (prints the admin kubeconfig path) / undo it;
## hack/ha-exec NODE CMD runs a command inside a node
ha-up:
	hack/ha-up

ha-down:
	hack/ha-down

lint:
	hack/verify

## upstream: build (or reuse from the cache) the pinned upstream binaries
upstream:
	hack/build-upstream >/dev/null

## demo: build the plugin and a local real control plane, and run the main commands on it
demo: build
	hack/demo

## cluster: start the e2e control plane for a person; prints the KUBECONFIG line
cluster: upstream
	$(GO) run ./test/e2e/cmd/devcluster

## dist: reproducible release archives for linux/darwin/windows x amd64/arm64 and dist/plugins.yaml
## (krew needs a semver: with no release tag the version is v0.0.0-<commit>; override with VERSION=v0.1.0)
DIST ?= dist
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
DIST_VERSION = $(shell v='$(VERSION)'; if [[ $$v =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$$ ]]; then echo "$$v"; else echo "v0.0.0-$${v//[^0-9A-Za-z.-]/-}"; fi)
dist:
	VERSION="$(DIST_VERSION)" COMMIT="$(COMMIT)" BUILD_DATE="$(BUILD_DATE)" SOURCE_DATE_EPOCH="$(SOURCE_DATE_EPOCH)" \
		DIST="$(DIST)" $(if $(PLATFORMS),PLATFORMS="$(PLATFORMS)") hack/dist

## image: the plugin's container image, an OCI image layout in dist/image (index of linux/amd64 and
## linux/arm64, one layer, no shell; built with go-containerregistry, no Docker). Prints the index
## digest and the image reference (a build without a release tag has none). Reproducible.
image:
	VERSION="$(VERSION)" COMMIT="$(COMMIT)" BUILD_DATE="$(BUILD_DATE)" SOURCE_DATE_EPOCH="$(SOURCE_DATE_EPOCH)" \
		OUT="$(DIST)/image" $(if $(PLATFORMS),PLATFORMS="$(PLATFORMS)") hack/build-image

## verify-image: make image twice into two folders and fail unless the digests and bytes are equal
verify-image:
	hack/verify-image

## release-manifest: make dist, then copy the rendered manifest to ./plugins.yaml (for a release commit)
release-manifest: dist
	cp $(DIST)/plugins.yaml plugins.yaml

## docs: regenerate the command reference in docs/reference from the cobra tree
docs:
	$(GO) run ./hack/gendocs -dir docs/reference

## verify-docs: fail when docs/reference is stale (hack/verify runs this check too)
verify-docs:
	hack/verify-docs

clean:
	rm -rf bin dist
