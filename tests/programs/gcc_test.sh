#!/usr/bin/env bash
# gcc under libtmc (the driver, cc1/cc1plus, as, collect2 and ld all preloaded): compiles
# a small C program, a generated 600-function C file at -O2 and a C++ file using the
# standard library, links them and runs them. Objects and executables must be
# byte-identical to a plain compile, and the programs must print the expected values.
#
# usage: gcc_test.sh /path/to/libtmc.so
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_lib "${1:-}"
need_bin gcc g++
watchdog "${TMC_TEST_WATCHDOG:-110}"

SRC="$WORK/src"
mkdir -p "$SRC"
cat >"$SRC/prog.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item { unsigned key; char name[24]; };

static int by_key(const void* a, const void* b) {
  unsigned x = ((const struct item*)a)->key, y = ((const struct item*)b)->key;
  return (x > y) - (x < y);
}

int main(void) {
  /* primes below 100000 with a sieve */
  enum { N = 100000 };
  char* composite = calloc(N, 1);
  unsigned long long prime_sum = 0;
  unsigned count = 0;
  for (unsigned i = 2; i < N; i++) {
    if (composite[i]) continue;
    prime_sum += i;
    count++;
    for (unsigned long j = (unsigned long)i * i; j < N; j += i) composite[j] = 1;
  }
  free(composite);
  /* sort 50000 pseudo-random records and fold them into a checksum */
  enum { M = 50000 };
  struct item* items = malloc(M * sizeof *items);
  unsigned s = 12345;
  for (unsigned i = 0; i < M; i++) {
    s = s * 1103515245u + 12345u;
    items[i].key = s >> 8;
    snprintf(items[i].name, sizeof items[i].name, "item-%u", i);
  }
  qsort(items, M, sizeof *items, by_key);
  unsigned long long h = 1469598103934665603ull;
  for (unsigned i = 0; i < M; i++) {
    h = (h ^ items[i].key) * 1099511628211ull;
    h = (h ^ strlen(items[i].name)) * 1099511628211ull;
  }
  free(items);
  printf("primes below %d: %u, sum %llu\n", N, count, prime_sum);
  printf("sorted checksum: %016llx\n", h);
  return 0;
}
C

cat >"$SRC/prog.cc" <<'CXX'
#include <algorithm>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

int main() {
  std::map<std::string, std::vector<int>> groups;
  for (int i = 0; i < 20000; i++) groups["g" + std::to_string(i % 37)].push_back(i * 7 % 1000);
  long total = 0;
  std::ostringstream out;
  for (auto& [name, v] : groups) {
    std::sort(v.begin(), v.end());
    total += std::accumulate(v.begin(), v.end(), 0L);
  }
  out << "groups " << groups.size() << " total " << total << " median(g0) " << groups["g0"][groups["g0"].size() / 2];
  std::cout << out.str() << "\n";
}
CXX

# A generated C file large enough to keep cc1 busy allocating for a few seconds.
"$PY" - "$SRC/big.c" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("#include <stddef.h>\n")
    for i in range(600):
        f.write("""
static const int table_%(i)d[] = {%(vals)s};
int func_%(i)d(int x) {
  int acc = %(i)d;
  for (size_t k = 0; k < sizeof table_%(i)d / sizeof table_%(i)d[0]; k++) {
    if ((x + (int)k) %% %(m)d == 0) acc += table_%(i)d[k] * x; else acc ^= table_%(i)d[k] + (acc << 1);
    switch ((acc + x) & 7) { case 0: acc += 3; break; case 1: acc -= x; break; case 2: acc *= 5; break;
      case 3: acc ^= 0x55; break; default: acc += k; }
  }
  return acc;
}
""" % {"i": i, "m": i % 7 + 2, "vals": ",".join(str((i * 31 + j * 17) % 1000) for j in range(24))})
    f.write("int sum_all(int x) { int s = 0;\n")
    for i in range(600):
        f.write("  s += func_%d(x);\n" % i)
    f.write("  return s; }\n")
PY

# build NAME env...: compiles and links everything in $WORK/build (the same directory
# each time: its path ends up in the debug info), then moves the results to $WORK/NAME.
build() {
  local name="$1"
  shift
  local dir="$WORK/build"
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$SRC"/prog.c "$SRC"/prog.cc "$SRC"/big.c "$dir/"
  (
    cd "$dir"
    timeout 90 "$@" gcc -O2 -g -frandom-seed=tmc -Wall -c prog.c -o prog.o
    timeout 90 "$@" gcc -O2 -g -frandom-seed=tmc -c big.c -o big.o
    timeout 90 "$@" gcc -O2 -frandom-seed=tmc -o prog prog.o
    timeout 90 "$@" g++ -std=c++17 -O1 -frandom-seed=tmc -o progxx prog.cc
  )
  mv "$dir" "$WORK/$name"
}

step "compile and link under libtmc (gcc, cc1, cc1plus, as, collect2, ld preloaded)"
rc=0
build tmc "${TMC_ENV[@]}" >"$WORK/tmc.build" 2>&1 || rc=$?
check_eq "gcc/g++ exit status under libtmc" 0 "$rc"
[[ $rc -eq 0 ]] || cat "$WORK/tmc.build" >&2
check_eq "compiler output under libtmc (no warnings, no messages)" "" "$(cat "$WORK/tmc.build")"

step "run the programs built under libtmc (plainly, and under libtmc)"
EXPECT_C="$("$PY" - <<'PY'
N = 100000
sieve = bytearray(N); s = c = 0
for i in range(2, N):
    if not sieve[i]:
        s += i; c += 1
        sieve[i*i::i] = b"\x01" * len(range(i*i, N, i))
print("primes below %d: %d, sum %d" % (N, c, s))
PY
)"
out="$(timeout 30 "${PLAIN_ENV[@]}" "$WORK/tmc/prog")"
check_eq "C program output (first line vs Python's sieve)" "$EXPECT_C" "$(echo "$out" | head -1)"
check_eq "C program output under libtmc equals plain run" "$out" "$(timeout 30 "${TMC_ENV[@]}" "$WORK/tmc/prog")"
EXPECT_CXX="$("$PY" -c '
g0 = sorted(i * 7 % 1000 for i in range(0, 20000, 37))
print("groups 37 total %d median(g0) %d" % (sum(i * 7 % 1000 for i in range(20000)), g0[len(g0) // 2]))')"
check_eq "C++ program output (vs Python)" "$EXPECT_CXX" "$(timeout 30 "${TMC_ENV[@]}" "$WORK/tmc/progxx")"

step "the same build plainly (no preload) and byte comparison"
rc=0
build plain "${PLAIN_ENV[@]}" >"$WORK/plain.build" 2>&1 || rc=$?
check_eq "gcc/g++ exit status plainly" 0 "$rc"
for f in prog.o big.o prog progxx; do
  check_eq "sha256 of $f: libtmc == plain" "$(sha256sum <"$WORK/plain/$f")" "$(sha256sum <"$WORK/tmc/$f")"
done
check_eq "sorted checksum line: libtmc-built == plain-built" \
  "$(timeout 30 "$WORK/plain/prog" | tail -1)" "$(echo "$out" | tail -1)"
finish
