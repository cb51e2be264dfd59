# VM harness targets; include from the top-level Makefile (paths are relative
# to the repository root):   include integration/vm/vm.mk
#
#   make vm-selftest         check the harness and the guest's cgroup v2 facts
#   make vm-selftest-quick   the same without the slow hang/crash cases
#   make vm-initramfs        install missing packages, build/cache the initramfs
#   make vm-test             run the crate's test binaries in the VM
#                            (VM_CARGO_ARGS / VM_TEST_ARGS pass arguments on)
#   make vm-clean            drop target/vm

VM_DIR ?= integration/vm
VM_CARGO_ARGS ?=
VM_TEST_ARGS ?=

.PHONY: vm-selftest vm-selftest-quick vm-initramfs vm-test vm-clean

vm-selftest:
	$(VM_DIR)/selftest.sh

vm-selftest-quick:
	$(VM_DIR)/selftest.sh --quick

vm-initramfs:
	$(VM_DIR)/run-in-vm --build-only

vm-test:
	$(VM_DIR)/cargo-test-in-vm $(VM_CARGO_ARGS) -- $(VM_TEST_ARGS)

vm-clean:
	rm -rf target/vm
