#!/usr/bin/env python3
"""evict.py FILE...: drop each file's pages from the page cache (fsync, then posix_fadvise
DONTNEED), so that the next run of a binary faults its pages in the way an installed binary's
first run does.

Why the benches need it: a process maps whole page-cache folios when it faults, and the size of
the folios a file sits in depends on how it got into the cache. The binary `go build` has just
written measured 41 MiB of file-backed RSS for `version --client`; the same bytes, evicted and run
again, 33 MiB. The benches evict both tools' binaries and run each once before measuring, so the
two start equal."""
import os
import sys

for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
