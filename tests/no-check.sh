#!/bin/sh
# Stands in for the suite when configure found no Check: never a pass.
echo "no-check.sh: Check (libcheck, check.pc) was not found by configure" >&2
exit 99
