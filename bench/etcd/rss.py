#!/usr/bin/env python3
"""rss.py CMD ARGS...: run a command (output discarded) and print
'<seconds> <peak RSS KiB> <peak RssAnon KiB> <peak RssFile KiB>' on stdout; exit
with its code. Peak RSS is getrusage's ru_maxrss (it counts the binary's file-backed
pages too); peak RssAnon (heap, stacks: the memory the command itself allocates) and
peak RssFile (file-backed pages: the binary's text and data, files it maps) are
sampled from /proc/PID/status every 2 ms."""
import resource, subprocess, sys, time

t = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
anon = file = 0
while p.poll() is None:
    try:
        with open(f"/proc/{p.pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    anon = max(anon, int(line.split()[1]))
                elif line.startswith("RssFile:"):
                    file = max(file, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.002)
el = time.monotonic() - t
print(f"{el:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} {anon} {file}")
sys.exit(p.returncode)
