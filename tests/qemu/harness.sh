# SPDX-License-Identifier: BSD-3-Clause
# The guest tests' first step (source it): harness_ready HARNESS_DIR exits
# 77 (meson's "skipped") when ../shared/qemu-harness is missing or QEMU
# and the guest are not built.
# Every guest boots with no_timer_check: under TCG on a loaded machine a
# late tick can fail the kernel's boot-time IO-APIC timer test, and the
# kernel panics ("IO-APIC + timer doesn't work!"; seen once in docs_qemu).
harness_ready() {
  if [ ! -x "$1/run-guest.sh" ]; then
    echo "qemu-harness not found at '$1': skipping"; exit 77
  fi
  if ! out=$("$1/ensure.sh" --no-apt 2>&1); then
    echo "$out" | tail -5
    echo "qemu-harness is not built (run make test as root once): skipping"; exit 77
  fi
}
