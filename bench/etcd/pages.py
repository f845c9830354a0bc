#!/usr/bin/env python3
"""pages.py BINARY PAGES: where a run's file-backed RSS is. PAGES is the file a plugin built with
`-tags pages` writes at exit when CLUSTEROPS_PAGES is set (the resident pages of its own
executable, from /proc/self/pagemap); BINARY is that build. Prints the resident MiB per ELF
section (.text, .rodata, .gopclntab, data) and the module paths whose text is resident, largest
first. Example:

  CGO_ENABLED=0 go build -tags pages -trimpath -o /tmp/kco ./cmd/kubectl-clusterops
  CLUSTEROPS_PAGES=/tmp/pages.txt /tmp/kco version --client
  bench/etcd/pages.py /tmp/kco /tmp/pages.txt
"""
import bisect
import collections
import subprocess
import sys

binary, pages_file = sys.argv[1], sys.argv[2]
pages = {}  # address -> permissions of its mapping
for line in open(pages_file):
    f = line.split()
    if f[0] == "page":
        pages[int(f[2], 16)] = f[1]

sections = []
for line in subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    f = line.replace("[ ", "[").split()
    if len(f) > 5 and f[1].startswith(".") and int(f[3], 16) > 0:
        sections.append((int(f[3], 16), int(f[5], 16), f[1]))
by_section = collections.Counter()
for a in pages:
    for start, size, name in sections:
        if start <= a + 4095 and a < start + size:
            by_section[name] += 1
            break
print("resident pages of the executable, per section:")
for start, size, name in sections:
    if by_section[name]:
        print(f"  {name:12s} {by_section[name] * 4 / 1024:6.1f} of {size / 1048576:5.1f} MiB")

syms = []
for line in subprocess.run(["go", "tool", "nm", "-size", "-sort", "address", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    f = line.split()
    if len(f) >= 4 and f[2] in ("T", "t"):
        syms.append((int(f[0], 16), int(f[1]), " ".join(f[3:])))
addrs = [s[0] for s in syms]


def module(name):
    head, _, tail = name.rpartition("/")
    parts = (head + "/" + tail.split(".")[0] if head else tail.split(".")[0]).split("/")
    return "/".join(parts[:3]) if "." in parts[0] else parts[0]


text = collections.Counter()
for a, perm in pages.items():
    if "x" not in perm:
        continue
    i = max(bisect.bisect_right(addrs, a) - 1, 0)
    share = collections.Counter()
    while i < len(syms) and syms[i][0] < a + 4096:
        lo, hi = max(syms[i][0], a), min(syms[i][0] + syms[i][1], a + 4096)
        if hi > lo:
            share[module(syms[i][2])] += hi - lo
        i += 1
    total = sum(share.values()) or 1
    for k, v in share.items():
        text[k] += 4096 * v / total
print("resident text by module path (the 25 largest):")
for k, v in text.most_common(25):
    print(f"  {v / 1048576:6.2f} MiB  {k}")
