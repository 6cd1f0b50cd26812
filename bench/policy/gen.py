#!/usr/bin/env python3
"""gen.py OUT_DIR SYSINFO - the benchmark's inputs: OUT_DIR/policy.d
(1,000 rules in 10 files, a third each allow, deny and ask, with a mix of
source tokens), OUT_DIR/requests ("SOURCE TARGET SERVICE" lines whose
matching rules are spread over the whole policy) and OUT_DIR/sysinfo.json
(SYSINFO without GUI qubes: Qubes' daemon would otherwise try to reach a
policy agent in "dom0" for every ask and deny notification, which is not
what is being measured; ours has no agent either)."""
import json
import os
import sys

out = sys.argv[1]
with open(sys.argv[2], encoding="utf-8") as fh:
    info = json.load(fh)
for dom in info["domains"].values():
    dom["guivm"] = None
with open(os.path.join(out, "sysinfo.json"), "w", encoding="utf-8") as fh:
    json.dump(info, fh)
pdir = os.path.join(out, "policy.d")
os.makedirs(pdir, exist_ok=True)
sources = ["work", "@anyvm", "@tag:tag2", "@type:AppVM"]
for f in range(10):
    lines = ["# generated benchmark policy, file %d of 10" % (f + 1)]
    for k in range(100):
        i = f * 100 + k
        src = sources[(i // 3) % 4]
        if i % 3 == 0:
            rule = "%s personal allow" % src
        elif i % 3 == 1:
            rule = "%s @anyvm deny notify=no" % src
        else:
            rule = "%s @anyvm ask default_target=personal" % src
        lines.append("bench.S%04d  *  %s" % (i, rule))
    if f == 9:
        lines.append("*  *  @anyvm  @anyvm  deny")
    with open(os.path.join(pdir, "f%02d.policy" % f), "w",
              encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
with open(os.path.join(out, "requests"), "w", encoding="utf-8") as fh:
    for i in range(0, 1000, 7):
        fh.write("work personal bench.S%04d\n" % i)
