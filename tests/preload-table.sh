#!/bin/sh
# tests/preload's whole suite again with the preload's table mode (every
# block recorded in the tracker's address-keyed tables, as before header
# mode): every program it runs under `heapkit run` inherits it, but for the
# tests that set the mode themselves.
HEAPKIT_PRELOAD_MODE=table
export HEAPKIT_PRELOAD_MODE
exec ./tests/preload
