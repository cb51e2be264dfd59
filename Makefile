# nook: make demo | make test | make bench | make fuzz
#
# The development and CI build uses the `fast` profile (optimised, no LTO);
# the shipped and benchmarked binary is `release` (fat LTO, stripped).

CARGO ?= cargo
NOOK_RELEASE := target/x86_64-unknown-linux-gnu/release/nook
DEMO_DIR := target/demo

.PHONY: all build release demo test test-host test-vm conformance conformance-vm deps bench bench-vm clean lint

# The OCI runtime-tools validation suite's source (opencontainers/runtime-tools
# at 260e151 with its Go modules vendored): beside this checkout in the
# shared area, or wherever RUNTIME_TOOLS_TARBALL=... points.
RUNTIME_TOOLS_TARBALL ?= $(firstword $(wildcard $(abspath ../shared/conformance/runtime-tools-260e151.tar.gz)) /work/shared/conformance/runtime-tools-260e151.tar.gz)

all: build

deps:
	scripts/deps.sh test vm

build:
	$(CARGO) build

release:
	$(CARGO) build --release

# Installs what is missing, builds, and runs a busybox container that
# prints from inside its namespaces.
demo:
	scripts/deps.sh base
	$(CARGO) build --release
	scripts/demo.sh $(NOOK_RELEASE) $(DEMO_DIR)

# Every suite: host unit and integration tests, runtime-tools, then the VM suites.
test: test-host conformance test-vm conformance-vm

# The host suites, under a guard that switches off again the controllers
# they switched on in the unified root and fails on anything left behind.
test-host:
	scripts/deps.sh test
	scripts/host-guard.sh $(CARGO) test --no-fail-fast

# runtime-tools against nook on the host, in a private mount and cgroup
# namespace (integration/runtime-tools/run.sh; RT_RUNTIME=runc to compare).
conformance:
	scripts/deps.sh conformance
	$(CARGO) build
	RUNTIME_TOOLS_TARBALL=$(RUNTIME_TOOLS_TARBALL) integration/runtime-tools/run.sh

# runtime-tools' cgroup programs in the test VM, where every controller is
# there (the suite is built on the host first, by make conformance).
RT_CGROUP_PROGRAMS = delete_resources delete_only_create_resources $(patsubst %,linux_cgroups_%,\
	blkio cpus devices hugetlb memory network pids relative_blkio relative_cpus relative_devices \
	relative_hugetlb relative_memory relative_network relative_pids)
conformance-vm: conformance
	scripts/deps.sh vm
	integration/vm/run-in-vm --timeout 900 -- env RUNTIME_TOOLS_TARBALL=$(RUNTIME_TOOLS_TARBALL) \
		RT_EXPECTED=integration/runtime-tools/expected-failures.vm integration/runtime-tools/run.sh $(RT_CGROUP_PROGRAMS)

# In the test VM (pure cgroup v2, real limits), each line its own guest:
# the harness self-test; the cgroup driver (cgroups), limits, vm_cgroups and
# AppArmor (vm_lsm, the guest's default LSM); the lifecycle suite on pure
# cgroup v2; SELinux (vm_selinux, a guest booted with security=selinux);
# the systemd cgroup driver (vm_systemd, systemd as the guest's PID 1); and
# the real clients: containerd through its runc shim (vm_containerd),
# podman through conmon (vm_podman), dockerd with --runtime nook (vm_docker),
# Kubernetes' pod lifecycle through containerd's CRI plugin (vm_cri), and
# checkpoint/restore with CRIU, directly and through podman and containerd
# (vm_criu; its systemd-driver test in a guest with systemd as PID 1).
test-vm:
	scripts/deps.sh test vm
	integration/vm/selftest.sh --quick
	NOOK_VM_TIMEOUT=900 integration/vm/cargo-test-in-vm --test cgroups --test limits --test vm_cgroups --test vm_lsm -- --include-ignored
	NOOK_VM_TIMEOUT=900 integration/vm/cargo-test-in-vm --test lifecycle
	NOOK_VM_KERNEL_ARGS=security=selinux integration/vm/cargo-test-in-vm --test vm_selinux -- --include-ignored
	NOOK_VM_TIMEOUT=900 integration/vm/cargo-test-in-vm --systemd --test vm_systemd -- --include-ignored
	NOOK_VM_TIMEOUT=900 integration/vm/cargo-test-in-vm --test vm_containerd -- --include-ignored
	NOOK_VM_TIMEOUT=900 integration/vm/cargo-test-in-vm --test vm_podman -- --include-ignored
	NOOK_VM_TIMEOUT=900 integration/vm/cargo-test-in-vm --test vm_docker -- --include-ignored
	NOOK_VM_TIMEOUT=900 integration/vm/cargo-test-in-vm --test vm_cri -- --include-ignored
	NOOK_VM_TIMEOUT=900 integration/vm/cargo-test-in-vm --test vm_criu -- --include-ignored --skip systemd
	NOOK_VM_TIMEOUT=900 integration/vm/cargo-test-in-vm --systemd --test vm_criu -- --include-ignored systemd

lint:
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean

include integration/vm/vm.mk
-include bench/bench.mk
-include fuzz/fuzz.mk
