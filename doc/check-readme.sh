#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The C block after "<!-- example.c -->" in README.md must equal doc/example.c.
readme=$1 example=$2
awk '/<!-- example.c -->/ { on = 1; next } on && /^```c/ { inb = 1; next }
     inb && /^```/ { exit } inb { print }' "$readme" | diff -u "$example" - \
  && echo "README example matches doc/example.c"
