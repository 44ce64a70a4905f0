#!/usr/bin/env bash
# sqlite3 under libtmc: builds a 100k-row table with a recursive CTE (text, reals, JSON
# documents), an index, aggregates, window functions, a full sort, updates, deletes,
# VACUUM and integrity_check, on a file database and in memory. The output and a dump of
# the final database must equal a plain run, and a few values are checked exactly.
#
# usage: sqlite_test.sh /path/to/libtmc.so
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_lib "${1:-}"
need_bin sqlite3
watchdog "${TMC_TEST_WATCHDOG:-100}"

cat >"$WORK/workload.sql" <<'SQL'
PRAGMA cache_size = -4000;
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL, pad TEXT, doc TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t
  SELECT x, x % 97, 'name-' || (x * 7919 % 50021), (x * 37 % 1000) / 7.0,
         printf('%.*c', x % 300, 'z'),
         json_object('x', x, 'tags', json_array(x % 3, x % 5, 'a' || (x % 11)), 'ok', json(iif(x % 2, 'true', 'false')))
  FROM c;
CREATE INDEX t_grp ON t(grp, val);
SELECT 'totals', count(*), sum(id), round(total(val), 4), min(name), max(name), sum(length(pad)) FROM t;
SELECT 'by_grp', grp, count(*), round(avg(val), 6), max(length(pad)) FROM t GROUP BY grp ORDER BY grp LIMIT 12;
SELECT 'dup_names', name, count(*) AS c FROM t GROUP BY name HAVING c > 1 ORDER BY c DESC, name LIMIT 5;
SELECT 'json_tags', json_extract(doc, '$.tags[2]') AS tag, count(*), sum(json_extract(doc, '$.ok')) FROM t GROUP BY tag ORDER BY tag;
SELECT 'rank', id, val, rank() OVER (PARTITION BY grp ORDER BY val DESC, id) AS r FROM t WHERE grp = 5 ORDER BY r LIMIT 5;
SELECT 'concat', group_concat(id, ',') FROM (SELECT id FROM t WHERE grp = 0 ORDER BY id LIMIT 20);
SELECT 'distinct', count(DISTINCT name), count(DISTINCT val) FROM t;
SELECT 'big_sort', sum(rn * id) % 1000000007 FROM (SELECT id, row_number() OVER (ORDER BY name DESC, pad, id) AS rn FROM t);
SELECT 'self_join', count(*) FROM t a JOIN t b ON a.grp = b.grp AND a.id = b.id + 97 WHERE a.id % 13 = 0;
UPDATE t SET name = upper(name) || '-' || id, doc = json_set(doc, '$.updated', id) WHERE id % 3 = 0;
DELETE FROM t WHERE id % 10 = 0;
SELECT 'after_update', count(*), sum(length(name)), sum(json_extract(doc, '$.updated')) FROM t;
VACUUM;
PRAGMA integrity_check;
SELECT 'final', count(*), sum(id) FROM t;
SQL

# run_sqlite NAME env...: runs the workload on a file db and in memory, dumps the file db.
run_sqlite() {
  local name="$1"
  shift
  local rc=0
  timeout 60 "$@" sqlite3 -batch -bail "$WORK/$name.db" <"$WORK/workload.sql" >"$WORK/$name.out" 2>&1 || rc=$?
  timeout 60 "$@" sqlite3 -batch -bail :memory: <"$WORK/workload.sql" >"$WORK/$name.mem.out" 2>&1 || rc=$?
  timeout 60 "$@" sqlite3 -batch "$WORK/$name.db" .dump 2>&1 | sha256sum | cut -c1-64 >"$WORK/$name.dump.sha" || rc=$?
  return $rc
}

step "the workload under libtmc (file db and :memory:)"
rc=0
run_sqlite tmc "${TMC_ENV[@]}" || rc=$?
sed 's/^/    /' "$WORK/tmc.out" | cut -c1-150
check_eq "sqlite3 exit status under libtmc" 0 "$rc"

step "exact values"
check_eq "100k rows inserted, ids sum to 5000050000" "totals|100000|5000050000" "$(grep '^totals|' "$WORK/tmc.out" | cut -d'|' -f1-3)"
check_eq "padding text lengths (printf('%.*c', x % 300, 'z') is at least 1 char)" "$("$PY" -c 'print(sum(max(x % 300, 1) for x in range(1, 100001)))')" "$(grep '^totals|' "$WORK/tmc.out" | cut -d'|' -f7)"
check_eq "rows left after deleting every 10th" "final|90000|$(( 5000050000 - 500050000 ))" "$(grep '^final|' "$WORK/tmc.out")"
check_eq "PRAGMA integrity_check" ok "$(grep -x 'ok' "$WORK/tmc.out" || echo missing)"
check_eq "in-memory run gives the same output as the file db" "$(sha256sum <"$WORK/tmc.out")" "$(sha256sum <"$WORK/tmc.mem.out")"

step "the same workload plainly (no preload)"
rc=0
run_sqlite plain "${PLAIN_ENV[@]}" || rc=$?
check_eq "sqlite3 exit status plainly" 0 "$rc"
check "query output: libtmc == plain" diff -u "$WORK/plain.out" "$WORK/tmc.out"
check_eq "sha256 of .dump of the final database: libtmc == plain" "$(cat "$WORK/plain.dump.sha")" "$(cat "$WORK/tmc.dump.sha")"
check "no crash or allocator error in the libtmc output" no_crash_report "$WORK/tmc.out"
finish
