#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The C block after "<!-- NAME -->" in README.md must equal doc/NAME
# (example.c, client-example.c).
readme=$1 example=$2
name=$(basename "$example")
awk -v mark="<!-- $name -->" '$0 == mark { on = 1; next } on && /^```c/ { inb = 1; next }
     inb && /^```/ { exit } inb { print }' "$readme" | diff -u "$example" - \
  && echo "README example matches doc/$name"
