#!/usr/bin/python3
"""Writes the working tree of commit N for tests/programs/git_test.sh.

  git_files.py DIR N       (N = 0, 1, 2, ...)
  git_files.py DIR feature

Commit 0 has 150 files in 6 directories; each later commit adds 50 files, rewrites 30,
deletes 5 and appends to a log file. "feature" only adds 40 files under feature/. Content depends only on (file, commit), so every run
produces the same trees (and with fixed dates and authors, the same commit hashes).
"""
import os
import random
import sys

WORDS = ("allocator arena bin chunk compress decay extent fault heap jemalloc lz4 madvise "
         "page pool reclaim region slab tcache thread zstd").split()


def content(path, version):
    r = random.Random("%s@%d" % (path, version))
    lines = []
    for j in range(r.randint(5, 120)):
        lines.append("%04d %s" % (j, " ".join(r.choice(WORDS) for _ in range(r.randint(1, 14)))))
    if path.endswith(".c"):
        lines.append("int f_%d(void) { return %d; }" % (version, r.randint(0, 10**6)))
    return "\n".join(lines) + "\n"


def files_of(n):
    """{path: version} of the tree at commit n."""
    tree = {}
    for i in range(150):
        tree["d%d/file_%03d.%s" % (i % 6, i, "c" if i % 3 == 0 else "txt")] = 0
    for c in range(1, n + 1):
        r = random.Random(c)
        names = sorted(tree)
        for p in r.sample(names, 30):
            tree[p] = c
        for p in r.sample(sorted(tree), 5):
            del tree[p]
        for i in range(50):
            tree["d%d/sub%d/new_%d_%02d.txt" % (i % 6, c, c, i)] = c
    return tree


def main():
    root = sys.argv[1]
    if sys.argv[2] == "feature":
        for i in range(40):
            p = "feature/f_%02d.txt" % i
            os.makedirs(os.path.join(root, "feature"), exist_ok=True)
            with open(os.path.join(root, p), "w") as f:
                f.write(content(p, 100))
        return
    n = int(sys.argv[2])
    tree = files_of(n)
    # remove files that are gone
    for dirpath, _, names in os.walk(root):
        if ".git" in dirpath.split(os.sep):
            continue
        for name in names:
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            if rel not in tree and rel != "CHANGELOG":
                os.unlink(os.path.join(dirpath, name))
    for p, v in tree.items():
        full = os.path.join(root, p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(content(p, v))
    with open(os.path.join(root, "CHANGELOG"), "a") as f:
        f.write("commit %d: %d files\n" % (n, len(tree)))


if __name__ == "__main__":
    main()
