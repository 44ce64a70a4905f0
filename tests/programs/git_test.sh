#!/usr/bin/env bash
# git under libtmc: builds a repository of a few hundred generated files in 6 commits plus
# a merged branch (fixed authors and dates, so hashes are deterministic), then log, diff,
# archive, gc (repack: zlib + delta search in child processes) and fsck. Every output,
# including all commit and tree hashes, must equal the same steps run plainly.
#
# usage: git_test.sh /path/to/libtmc.so
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_lib "${1:-}"
need_bin git
watchdog "${TMC_TEST_WATCHDOG:-110}"

GEN="$PROGRAMS_DIR/git_files.py"
# No user or system configuration: only what this script sets.
export HOME="$WORK/home" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
mkdir -p "$HOME"
export GIT_AUTHOR_NAME="Tmc Tester" GIT_AUTHOR_EMAIL="tester@example.org"
export GIT_COMMITTER_NAME="Tmc Tester" GIT_COMMITTER_EMAIL="tester@example.org"
export TZ=UTC LC_ALL=C

# git_steps NAME env...: the whole scenario in $WORK/NAME, outputs in $WORK/NAME.*.
git_steps() {
  local name="$1"
  shift
  local -a run=("$@")
  local repo="$WORK/$name"
  g() { timeout 60 "${run[@]}" git -C "$repo" -c gc.autoDetach=false -c maintenance.auto=false "$@"; }
  at() { export GIT_AUTHOR_DATE="$1 +0000" GIT_COMMITTER_DATE="$1 +0000"; }
  mkdir -p "$repo"
  g init -q -b main
  for n in 0 1 2 3 4 5; do
    "$PY" "$GEN" "$repo" "$n"
    g add -A
    at "$((1700000000 + n * 3600))"
    g commit -q -m "commit $n: generated files"
    if [[ $n == 2 ]]; then
      g branch feature
    fi
  done
  g checkout -q feature
  "$PY" "$GEN" "$repo" feature
  g add -A
  at 1700100000
  g commit -q -m "feature: rewrite"
  g checkout -q main
  at 1700200000
  g merge -q --no-ff -m "merge feature" feature
  g log --format='%H %T %P %an %ad %s' --date=raw >"$WORK/$name.commits"
  g log --format=%T >"$WORK/$name.trees"
  g log --stat --format='%h %s' >"$WORK/$name.stat"
  g diff HEAD~4 HEAD | sha256sum >"$WORK/$name.diff.sha"
  g archive --format=tar HEAD | sha256sum >"$WORK/$name.archive.sha"
  g ls-tree -r HEAD | wc -l >"$WORK/$name.files"
  g gc -q --aggressive --prune=now
  g fsck --full --strict --no-dangling >"$WORK/$name.fsck" 2>&1
  g count-objects -v | grep -E '^(count|in-pack|packs|prune-packable|garbage):' >"$WORK/$name.count"
  g rev-list --all --objects | wc -l >"$WORK/$name.objects"
  g log --format=%T >"$WORK/$name.trees-after-gc"
}

step "the scenario under libtmc"
rc=0
# In the background so that set -e applies inside (it does not on the left of ||).
git_steps tmc "${TMC_ENV[@]}" >"$WORK/tmc.run" 2>&1 &
wait $! || rc=$?
check_eq "git steps under libtmc exit status" 0 "$rc"
[[ $rc -eq 0 ]] || tail -20 "$WORK/tmc.run" >&2
log "$(wc -l <"$WORK/tmc.commits") commits, $(cat "$WORK/tmc.files") files at HEAD, $(cat "$WORK/tmc.objects") objects"
check_eq "8 commits (6 on main, 1 on feature, 1 merge)" 8 "$(wc -l <"$WORK/tmc.commits" | tr -d ' ')"
check_eq "git fsck --full --strict under libtmc is clean" "" "$(cat "$WORK/tmc.fsck")"
check_eq "everything is packed after gc" "count: 0" "$(grep '^count:' "$WORK/tmc.count")"
check "tree hashes unchanged by gc" cmp -s "$WORK/tmc.trees" "$WORK/tmc.trees-after-gc"

step "the same scenario plainly (no preload)"
rc=0
git_steps plain "${PLAIN_ENV[@]}" >"$WORK/plain.run" 2>&1 &
wait $! || rc=$?
check_eq "git steps plainly exit status" 0 "$rc"

step "compare"
check_eq "HEAD commit hash: libtmc == plain" "$(head -c 40 "$WORK/plain.commits")" "$(head -c 40 "$WORK/tmc.commits")"
for f in commits trees stat diff.sha archive.sha files fsck count objects; do
  check "git output '$f': libtmc == plain" diff -u "$WORK/plain.$f" "$WORK/tmc.$f"
done
check "no crash or allocator error in the libtmc run" no_crash_report "$WORK/tmc.run"
finish
