#!/bin/sh
# Writes the statistics of every libtmc process (`tmcctl metrics`) to DIR/libtmc.prom for
# node_exporter's textfile collector. Run it from libtmc-metrics.timer or cron (README.md).
#
# usage: libtmc-metrics.sh [DIR]    DIR defaults to /var/lib/prometheus/node-exporter;
#                                   TMCCTL=/path/to/tmcctl if it is not on PATH
#
# The text goes to libtmc.prom.PID first and is renamed into place: a rename within one
# directory is atomic, so node_exporter (which reads only *.prom) never sees half a file,
# and a failed run leaves the last complete one.
set -u
dir="${1:-/var/lib/prometheus/node-exporter}"
tmp="$dir/libtmc.prom.$$"
if "${TMCCTL:-tmcctl}" metrics >"$tmp"; then
  mv "$tmp" "$dir/libtmc.prom"
else
  rm -f "$tmp"
  exit 1
fi
