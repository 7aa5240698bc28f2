#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The layering rules of ARCHITECTURE.md that include paths cannot express,
checked on the include graph of the source tree; and the cycles between
layers, listed (--cycles prints them and exits 0).

Each file belongs to a layer: core/ (protocol core), client/, migration/,
include/ (the device API), and in lib/ by name: engine*, ctx*/loop* (context),
device*/region*/irq*/dma* (device model), pci*/sysbus* (bus adapters),
anything else by its stem (log, sandbox, rpc...).
Usage: check-layers.py SOURCE_DIR [--cycles]
"""
import os
import re
import sys

MODEL = ('device', 'region', 'irq', 'dma')
CONTEXT = ('ctx', 'loop')


def layer(path):
    top, _, rest = path.partition('/')
    if top in ('core', 'client', 'migration', 'include'):
        return top
    if top != 'lib':
        return None
    stem = re.split(r'[_.]', rest)[0]
    if stem in MODEL:
        return 'model'
    if stem in CONTEXT:
        return 'context'
    if stem in ('pci', 'sysbus'):
        return 'bus'
    if stem == 'log':
        return 'log'  # cross-cutting, as core/common.h is
    return stem


def sources(root):
    for top in ('core', 'client', 'migration', 'include', 'lib'):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if f.endswith(('.c', '.h')):
                    yield os.path.relpath(os.path.join(d, f), root)


def resolve(root, src, name, dirs):
    # Quoted includes: the including file's directory, then the -I list.
    for d in [os.path.dirname(src)] + dirs:
        p = os.path.normpath(os.path.join(d, name))
        if os.path.exists(os.path.join(root, p)):
            return p
    return None


def graph(root):
    dirs = ['core', 'lib', 'migration', 'include', 'client', 'client/include',
            'client/raw']
    edges = {}
    for src in sources(root):
        with open(os.path.join(root, src), encoding='utf-8') as f:
            for name in re.findall(r'^\s*#\s*include\s+"([^"]+)"', f.read(),
                                   re.M):
                dst = resolve(root, src, name, dirs)
                if dst is not None:
                    edges.setdefault(src, set()).add(dst)
    return edges


def violations(edges):
    bad = []
    for src, dsts in edges.items():
        for dst in dsts:
            s, d, base = layer(src), layer(dst), os.path.basename(dst)
            why = None
            if s == 'migration' and d == 'engine':
                why = 'migration/ sees no engine header'
            elif s == 'core' and d != 'core':
                why = 'the core sees only itself'
            elif s == 'client' and d not in ('client', 'core'):
                why = 'the client shares only the protocol core'
            elif s not in ('client', None) and d == 'client':
                why = 'only the client sees client headers'
            elif s == 'bus' and (base == 'wire.h' or d == 'migration'):
                why = 'bus adapters know no wire format nor migration internals'
            if why:
                bad.append(f'{src} includes {dst}: {why}')
    return bad


def layer_cycles(edges):
    """Pairs of layers that include each other directly, with a file each
    way (a longer loop through the context, which every layer reaches for
    its accessors, is not counted)."""
    via = {}
    for src, dsts in edges.items():
        for dst in dsts:
            a, b = layer(src), layer(dst)
            if a and b and a != b:
                via.setdefault((a, b), f'{src} -> {dst}')
    return [(a, b, via[(a, b)], via[(b, a)]) for (a, b) in sorted(via)
            if a < b and (b, a) in via]


def main():
    root = sys.argv[1]
    edges = graph(root)
    cycles = layer_cycles(edges)
    if '--cycles' in sys.argv:
        for a, b, ab, ba in cycles:
            print(f'cycle: {a} <-> {b} ({ab}; {ba})')
        print(f'{len(cycles)} pairs of layers include each other')
        return 0
    bad = violations(edges)
    for line in bad:
        print(line)
    if bad:
        return 1
    print(f'{sum(len(d) for d in edges.values())} includes keep the layering'
          f' ({len(cycles)} pairs of layers include each other)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
