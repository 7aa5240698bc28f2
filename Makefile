# SPDX-License-Identifier: BSD-3-Clause
# Thin wrapper around meson: installs what is missing, configures, builds, runs.
#
#   make demo    build and show a sample device driven by vus-ctl
#   make test    the whole test suite: -Werror build, ASan/UBSan build
#                (guests included), valgrind, and guest tests against QEMU's
#                vfio-user client
#   make bench   benchmarks (figures and ratios)
#   make build   just build (build/)

BUILD      ?= build
ASAN_BUILD ?= build-asan
HARNESS    ?= $(abspath ../shared/qemu-harness)

# Debian packages the build and the tests need.
DEB_PKGS := gcc make meson ninja-build pkg-config libjson-c-dev libcmocka-dev \
            libpci-dev pciutils valgrind

.PHONY: all deps build qemu-harness test test-fast demo bench install clean

all: build

# Install missing packages: as root with apt-get, otherwise through sudo;
# say exactly what is missing when neither is possible.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "error: missing packages:$$missing (run as root or install them)"; exit 1; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dwerror=true -Dqemu_harness=$(HARNESS)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Dwerror=true -Db_sanitize=address,undefined \
	  -Db_lundef=false -Dqemu_harness=$(HARNESS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# The guest tests need QEMU 10.2 built once (about 5 minutes, cached in
# /var/cache/vus-qemu); ensure.sh returns at once when it is there.
qemu-harness:
	@if [ -x "$(HARNESS)/ensure.sh" ]; then \
	  echo "preparing the QEMU harness (first time: ~5 min)"; \
	  "$(HARNESS)/ensure.sh" >/dev/null || echo "warning: QEMU harness unavailable; guest tests will be skipped"; \
	else echo "warning: $(HARNESS) not found; guest tests will be skipped"; fi

test: deps $(BUILD)/build.ninja $(ASAN_BUILD)/build.ninja qemu-harness
	ninja -C $(BUILD)
	meson test -C $(BUILD) --print-errorlogs
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --print-errorlogs
	meson test -C $(BUILD) --print-errorlogs --no-suite qemu --suite unit --suite engine --suite client \
	  --wrapper 'valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-fds=no -q' \
	  --timeout-multiplier 4

# Quick loop while developing: one build, no sanitizers, no guests.
test-fast: build
	meson test -C $(BUILD) --print-errorlogs --no-suite qemu

demo: build
	@tools/demo.sh $(BUILD)

bench: build
	meson test -C $(BUILD) --benchmark --print-errorlogs --verbose

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
