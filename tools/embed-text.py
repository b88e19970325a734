#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Turn a text file into a C source defining one NUL-terminated string:
    embed-text.py INPUT OUTPUT SYMBOL
Used for the varlink interface description the daemon serves, so the IDL
file stays the single source of truth."""

import sys


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: embed-text.py INPUT OUTPUT SYMBOL")
    src, dst, symbol = sys.argv[1:]
    with open(src, encoding="utf-8") as f:
        text = f.read()
    lines = ["/* Generated from %s by tools/embed-text.py: do not edit. */" % src.split("/")[-1],
             "extern const char %s[];" % symbol,
             "const char %s[] =" % symbol]
    for line in text.splitlines(keepends=True):
        escaped = line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append('        "%s"' % escaped)
    if not text:
        lines.append('        ""')
    lines[-1] += ";"
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
