#!/bin/sh
# Stands in for Wine when configure found none: a MinGW test that cannot
# run is a failure, never a skip.
echo "no-wine.sh: wine is not installed; cannot run $1" >&2
exit 99
