#!/usr/bin/env python3
"""Functions longer than a limit (80 lines by default) in the non-test Rust sources,
and whether a reason is written beside them (a comment within 12 lines above that says
why it stays over 80 lines). Prints one line per function, longest first; exits 1 when
one has no reason. Usage: scripts/long-functions.py [LIMIT]"""
import glob
import os
import re
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
limit = int(sys.argv[1]) if len(sys.argv) > 1 else 80
rows=[]
for path in glob.glob(root+'/crates/*/src/**/*.rs',recursive=True)+glob.glob(root+'/src/**/*.rs',recursive=True):
    lines=open(path).read().split('\n')
    test_from=None
    for i,l in enumerate(lines):
        if l.startswith('#[cfg(test)]'):
            test_from=i; break
    end=test_from if test_from is not None else len(lines)
    i=0
    while i<end:
        m=re.match(r'^(\s*)(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)',lines[i])
        if m and not lines[i].rstrip().endswith(';'):
            ind=m.group(1); name=m.group(7)
            j=i+1
            while j<end and lines[j]!=ind+'}':
                j+=1
            n=j-i+1
            if n>limit:
                # reason comment: look at the 6 lines above for 'long' or 'why'
                above='\n'.join(lines[max(0,i-12):i]).lower()
                reason='80 lines' in above or 'stays long' in above or 'long because' in above or 'is long' in above or 'one long' in above or 'keeps its length' in above or 'reads as' in above
                rows.append((n,os.path.relpath(path, root),i+1,name,reason))
            i=j if j>i else i+1
        i+=1
rows.sort(reverse=True)
for r in rows:
    print(f"{r[0]:4d} {r[1]}:{r[2]} {r[3]} {'(reason beside it)' if r[4] else '(NO REASON)'}")
sys.exit(1 if any(not r[4] for r in rows) else 0)
