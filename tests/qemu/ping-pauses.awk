# SPDX-License-Identifier: BSD-3-Clause
# The guest-visible pause of each host event (a SIGKILL, a take-over)
# from the replies of a 20 ms ping (guest-virtio-net-traffic.sh with
# vnet.pings prints "PING seq=N ms=T"). A ping sent while the device is
# stopped waits in its ring: its round trip is the pause. The host gives
# when each event happened, in ms after it saw the pings start; the ping
# sent then has about that time / 20 ms as its sequence number, and the
# event's pause is the slowest reply within 100 pings (2 s) of it. The
# pings before the first event's window give the round trip without one:
# their median and max are printed to compare with.
#
#   awk -v n=PINGS -v at=MS,MS,... -v max_lost_pct=P -v what=kill \
#       -f ping-pauses.awk LOG
#
# Prints the lost pings and a FIGURE line (pause median and max); exits 1
# when more than max_lost_pct percent of the pings were lost.
/^PING seq=/ { split($2, a, "="); split($3, b, "="); got[a[2]] = b[2] + 0; cnt++ }
END {
  events = at == "" ? 0 : split(at, ev, ",")
  for (i = 0; i < n; i++) if (!(i in got) && ++lost <= 30) missing = missing " " i
  for (k = 1; k <= events; k++) {
    c = int(ev[k] / 20); m = 0; mi = c
    for (i = c - 100; i <= c + 100; i++) if ((i in got) && got[i] > m) { m = got[i]; mi = i }
    p[k] = m; where = where sprintf(" %+d", mi - c)
  }
  first = events ? int(ev[1] / 20) - 100 : n
  for (i = 0; i < first; i++) if (i in got) base[++nb] = got[i]
  sort(base, nb); sort(p, events)
  printf "round trip before the first %s: median %s ms, max %s ms (%d pings)\n",
    what, base[int((nb + 1) / 2)], base[nb], nb
  med = events ? (events % 2 ? p[(events + 1) / 2] : (p[events / 2] + p[events / 2 + 1]) / 2) : 0
  printf "pings %d, replies %d, lost %d (%.2f%%)%s; pause per %s (ms, sorted):",
    n, cnt, lost + 0, 100 * lost / n, lost ? " seq" missing : "", what
  for (k = 1; k <= events; k++) printf " %s", p[k]
  if (events) printf "\n(each the slowest reply within 100 pings of the one sent when the host acted; where, in pings from it:%s)", where
  printf "\nFIGURE pings=%d lost=%d lost_pct=%.2f %ss=%d pause_median_ms=%.1f pause_max_ms=%.1f\n",
    n, lost + 0, 100 * lost / n, what, events, med, p[events]
  exit (lost * 100 > max_lost_pct * n) ? 1 : 0
}
function sort(v, len,   i, j, t) {
  for (i = 1; i <= len; i++) for (j = i + 1; j <= len; j++)
    if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
}
