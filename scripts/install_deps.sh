#!/usr/bin/env bash
# Installs every Debian package libtmc needs to build, test and benchmark.
# Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config python3 time procps
  libjemalloc-dev liblz4-dev libzstd-dev libunwind-dev libdw-dev libnuma-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # real programs the integration tests run under the preload
  redis-server redis-tools memcached libmemcached-tools sqlite3 git gcc
  # the cluster-aware clients of bench/cluster.sh (redis.cluster.RedisCluster, pymemcache's HashClient)
  python3-redis python3-pymemcache
  libpython3.11-testsuite
  # user-space backtraces of a hung test (tests/hang_dump.sh)
  gdb
  # the lz4 and zstd command-line tools: compressibility of the benchmark datasets
  lz4 zstd
  # the plots of bench/compare_zram.sh (scripts/compare_report.py); util-linux has mkswap/swapon
  python3-matplotlib util-linux
  # promtool, which checks `tmcctl metrics` in tests/programs/tmcctl_metrics_test.sh (about
  # 20 MB to fetch; the test checks the format itself too, and leaves promtool out without it)
  prometheus
  # lintian checks the Debian package in tests/packaging/deb_package_test.sh; dpkg-dev has
  # dpkg-shlibdeps, which cpack's DEB generator runs for the package's Depends
  lintian dpkg-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian redis/memcached/prometheus packages start system services; the tests start
# their own servers, and none needs a Prometheus server running.
for svc in redis-server memcached prometheus; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
