#!/bin/sh
# tests/preload's whole suite again, with the preload's header mode: every
# program it runs under `heapkit run` inherits HEAPKIT_PRELOAD_MODE=header.
HEAPKIT_PRELOAD_MODE=header
export HEAPKIT_PRELOAD_MODE
exec ./tests/preload
