# SPDX-License-Identifier: BSD-3-Clause
"""The blocks of a Markdown page and their doc-test markers.

A fenced block is runnable when an HTML comment right before it says how
(doc/testing.md, "Writing runnable docs"):

    <!-- doc-test: run needs=root -->
    <!-- doc-test: not-run the reason, printed in the test's list -->

This module only reads: it finds the blocks, parses the markers, and turns
a block's text into commands with the output the page shows for them.
"""
import re
import shlex
from dataclasses import dataclass, field

# Blocks in these languages are commands or code a reader runs: each needs
# a marker, so a new one cannot escape the test by accident. Blocks in
# other languages (json, ini, none) are illustrations unless marked.
COMMAND_LANGS = {'sh', 'bash', 'shell', 'console', 'c'}
KINDS = {'run', 'guest', 'c', 'not-run'}
# What a block can need; the runner decides what it can provide.
NEEDS = {'build', 'root', 'qemu', 'install', 'tun', 'bwrap', 'plain'}
FLAGS = {'run', 'fresh'}
KEYS = {'needs', 'vary', 'ready', 'timeout', 'file', 'status'}
BLOCK_SLOT = '@BLOCK@'

FENCE = re.compile(r'^(\s*)(`{3,}|~{3,})\s*([^`\s]*)')
MARK = 'doc-test:'


class DocError(Exception):
    """A page the test cannot understand: a bad marker, an unmarked block."""


@dataclass
class Command:
    text: str                  # what bash runs (continuations kept)
    line: int                  # its first line in the page
    expect: list = None        # shown output lines; None: not compared
    background: bool = False   # "&": started and left running


@dataclass
class Block:
    path: str
    line: int                  # the opening fence
    lang: str
    lines: list                # content, de-indented
    kind: str = None           # None: an illustration
    needs: set = field(default_factory=set)
    flags: set = field(default_factory=set)
    vary: list = field(default_factory=list)   # (literal, regex)
    ready: list = field(default_factory=list)
    timeout: float = None
    status: int = 0            # every foreground command's exit status
    file: str = None
    reason: str = ''
    scaffold: list = None      # C lines around @BLOCK@

    def where(self):
        return f'{self.path}:{self.line}'


def parse_page(path, text):
    """All fenced blocks of a page, with their markers. Raises DocError."""
    lines = text.split('\n')
    blocks, i, used, inside = [], 0, set(), set()
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = len(m.group(1)), m.group(2), m.group(3)
        start, body = i, []
        i += 1
        while i < len(lines):
            s = lines[i].strip()
            if s.startswith(fence[0] * len(fence)) and s.strip(fence[0]) == '':
                break
            body.append(_dedent(lines[i], indent))
            i += 1
        if i == len(lines):
            raise DocError(f'{path}:{start + 1}: unterminated code block')
        inside.update(range(start, i + 1))
        i += 1
        b = Block(path, start + 1, lang, body)
        mark = _marker_before(lines, start)
        if mark:
            used.add(mark[0])
            _apply_marker(b, mark[1], mark[2])
        elif lang in COMMAND_LANGS:
            raise DocError(f'{b.where()}: a ```{lang} block without a '
                           'doc-test marker (see doc/testing.md)')
        blocks.append(b)
    for n, line in enumerate(lines):
        if (MARK in line and line.lstrip().startswith('<!--')
                and n not in used and n not in inside):
            raise DocError(f'{path}:{n + 1}: a doc-test marker with no '
                           'code block right after it')
    return blocks


def _dedent(line, indent):
    cut = len(line) - len(line.lstrip(' '))
    return line[min(cut, indent):]


def _marker_before(lines, fence):
    """(first line index, header, scaffold lines) of the marker, or None."""
    j = fence - 1
    while j >= 0 and lines[j].strip() == '':
        j -= 1
    if j < 0 or not lines[j].rstrip().endswith('-->'):
        return None
    end = j
    while j >= 0 and '<!--' not in lines[j]:
        j -= 1
    if j < 0:
        return None
    head = lines[j].strip()
    if not head.startswith('<!--') or MARK not in head:
        return None
    indent = len(lines[j]) - len(lines[j].lstrip(' '))
    head = head[4:].strip()[len(MARK):]
    if j == end:
        return j, head[:head.rindex('-->')].strip(), None
    inner = [_dedent(x, indent) for x in lines[j + 1:end + 1]]
    inner[-1] = inner[-1][:inner[-1].rindex('-->')]
    if inner[-1].strip() == '':
        inner.pop()
    return j, head.strip(), inner


def _apply_marker(b, head, inner):
    where = b.where()
    kind, _, rest = head.partition(' ')
    if kind not in KINDS:
        raise DocError(f'{where}: unknown doc-test kind "{kind}"')
    b.kind = kind
    if kind == 'not-run':
        b.reason = rest.strip()
        if not b.reason:
            raise DocError(f'{where}: not-run needs a reason')
        return
    if inner is not None and kind != 'c':
        raise DocError(f'{where}: only a c marker may hold lines (a scaffold)')
    if inner is not None:
        if sum(x.strip() == BLOCK_SLOT for x in inner) != 1:
            raise DocError(f'{where}: a scaffold needs one {BLOCK_SLOT} line')
        b.scaffold = inner
    for word in shlex.split(rest):
        key, eq, val = word.partition('=')
        if not eq:
            if key not in FLAGS:
                raise DocError(f'{where}: unknown flag "{key}"')
            b.flags.add(key)
        elif key not in KEYS:
            raise DocError(f'{where}: unknown attribute "{key}"')
        elif key == 'needs':
            b.needs |= set(val.split(','))
        elif key == 'vary':
            lit, arrow, rx = val.partition(' => ')
            if not arrow or not lit:
                raise DocError(f'{where}: vary="LITERAL => REGEX"')
            b.vary.append((lit, rx))
        elif key == 'ready':
            b.ready.append(val)
        elif key == 'timeout':
            b.timeout = float(val)
        elif key == 'status':
            b.status = int(val)
        else:
            b.file = val
    bad = b.needs - NEEDS
    if bad:
        raise DocError(f'{where}: unknown need(s) {", ".join(sorted(bad))}')
    if kind == 'c' and b.lang != 'c':
        raise DocError(f'{where}: a c marker on a ```{b.lang} block')


def commands(b):
    """The block's commands. A block with "$ " lines is a session: each
    command's shown output follows it. Otherwise every line is a command
    and its output is not compared."""
    session = any(x.startswith('$ ') for x in b.lines)
    cmds, i, n = [], 0, len(b.lines)
    while i < n:
        line = b.lines[i]
        if session and not line.startswith('$ '):
            if line.strip():
                raise DocError(f'{b.path}:{b.line + 1 + i}: output before '
                               'the first "$ " command')
            i += 1
            continue
        if not session and (not line.strip() or line.lstrip().startswith('#')):
            i += 1
            continue
        first, text = i, [line[2:] if session else line]
        while text[-1].rstrip().endswith('\\') and i + 1 < n:
            i += 1
            text.append(b.lines[i])
        i += 1
        expect = None
        if session:
            expect = []
            while i < n and not b.lines[i].startswith('$ '):
                expect.append(b.lines[i].rstrip())
                i += 1
            while expect and expect[-1] == '':
                expect.pop()
        cmds.append(_command('\n'.join(text), b.line + 1 + first, expect))
    shown = '\n'.join(x for c in cmds for x in c.expect or ())
    for lit, _ in b.vary:
        if lit not in shown:
            raise DocError(f'{b.where()}: vary "{lit}" is not in the shown '
                           'output (stale?)')
    return cmds


def _command(text, line, expect):
    background = False
    m = re.search(r'(?<![&|])&\s*(#.*)?$', text)
    if m:
        text, background = text[:m.start()].rstrip(), True
    if background and not expect:
        expect = None   # nothing shown: a server's log is not compared
    return Command(text, line, expect, background)


def expected_pattern(b, expect):
    """A regex for a command's shown output: literal lines, a line of only
    "..." for any number of lines, and the block's vary="A => B" pairs."""
    parts = []
    for line in expect:
        if line.strip() == '...':
            parts.append(r'(?:[^\n]*\n)*?')
            continue
        rx = re.escape(line)
        for lit, sub in b.vary:
            rx = rx.replace(re.escape(lit), f'(?:{sub})')
        parts.append(rx + r'\n')
    return re.compile(''.join(parts))


def output_matches(b, expect, actual):
    """Whether the output (lines, trailing blanks dropped) is what the page
    shows."""
    lines = [x.rstrip() for x in actual.replace('\r', '').split('\n')]
    while lines and lines[-1] == '':
        lines.pop()
    text = ''.join(x + '\n' for x in lines)
    return expected_pattern(b, expect).fullmatch(text) is not None
