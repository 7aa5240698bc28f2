# SPDX-License-Identifier: BSD-3-Clause
# The suites' one deadline multiplier (doc/testing.md), for shell tests:
# source this file. $VUS_TEST_TIME_SCALE (a number >= 1, default 1),
# times 3 when meson says the build is sanitized ($VUS_TEST_SANITIZED).
#
#   scaled N     N scaled, rounded up (seconds, milliseconds, anything)
#   tries N S    how many waits of S seconds make N seconds, scaled
vus_time_scale=$(awk -v s="${VUS_TEST_TIME_SCALE:-1}" -v z="${VUS_TEST_SANITIZED:-0}" \
  'BEGIN { s += 0; if (!(s >= 1)) s = 1; if (z + 0) s *= 3; print s }')

scaled() {
  awk -v n="$1" -v s="$vus_time_scale" 'BEGIN { v = n * s; r = int(v); if (r < v) r++; print r }'
}

tries() {
  awk -v n="$1" -v p="$2" -v s="$vus_time_scale" 'BEGIN { v = n * s / p; r = int(v); if (r < v) r++; print r }'
}
