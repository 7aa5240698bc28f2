#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The shared library exports exactly the functions the public headers
# declare: every vus_* declaration is defined and exported, and no other
# symbol leaks out of the hidden-visibility build.
lib=$1; shift
# Function-type typedefs (vus_*_fn) look like declarations; leave them out.
declared=$(cat "$@" | tr '\n' ' ' | grep -oE '\b(vus_[a-z0-9_]+)\(' | tr -d '(' |
           grep -v '_fn$' | sort -u)
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort -u)
missing=$(comm -23 "$(printf '%s\n' "$declared" > /tmp/vus-decl.$$; echo /tmp/vus-decl.$$)" \
                   "$(printf '%s\n' "$exported" > /tmp/vus-exp.$$; echo /tmp/vus-exp.$$)")
extra=$(comm -13 /tmp/vus-decl.$$ /tmp/vus-exp.$$)
rm -f /tmp/vus-decl.$$ /tmp/vus-exp.$$
status=0
[ -z "$missing" ] || { echo "declared but not exported:"; echo "$missing"; status=1; }
[ -z "$extra" ] || { echo "exported but not declared:"; echo "$extra"; status=1; }
[ $status = 0 ] && echo "$(echo "$declared" | wc -l) public functions, all exported, nothing else"
exit $status
