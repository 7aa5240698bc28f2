# SPDX-License-Identifier: BSD-3-Clause
"""What a page's QEMU command line boots: the harness's kernel, and an
initramfs whose /test.sh runs the page's guest commands.

The harness's base initramfs (../shared/qemu-harness, prepare-guest.sh)
runs /test.sh, prints "HARNESS-EXIT-CODE: N" and powers off; we append a
cpio archive holding /test.sh, the guest commands framed by markers so
their output can be found in the serial console's.
"""
import gzip
import os
import re
import stat

BEGIN = '@@DOC-BEGIN {}@@'
END_RE = re.compile(r'^@@DOC-END (\d+) (\d+)@@$')
BEGIN_RE = re.compile(r'^@@DOC-BEGIN (\d+)@@$')
# The kernel's own console lines ("[    1.234567] ..."), which can land
# between a command's lines: never part of what a guest command printed.
KERNEL_LINE = re.compile(r'^\[\s*\d+\.\d+\] ')


def guest_script(cmds):
    """/test.sh: each command in braces (a trailing comment stays harmless),
    its output and status between markers."""
    out = ['#!/bin/sh']
    for n, c in enumerate(cmds):
        out += [f'echo "{BEGIN.format(n)}"', '{', c.text, '} 2>&1',
                f'echo "@@DOC-END {n} $?@@"']
    return '\n'.join(out) + '\n'


def _newc(name, mode, data):
    name_b = name.encode() + b'\0'
    fields = [0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0]
    hdr = b'070701' + b''.join(b'%08X' % f for f in fields)
    pad = lambda n: b'\0' * (-n % 4)   # noqa: E731
    return (hdr + name_b + pad(len(hdr) + len(name_b)) + data +
            pad(len(data)))


def write_initrd(path, base_gz, script):
    """The base initramfs followed by one holding /test.sh (the kernel
    unpacks concatenated archives in order)."""
    arch = (_newc('test.sh', stat.S_IFREG | 0o755, script.encode()) +
            _newc('TRAILER!!!', 0, b''))
    with open(base_gz, 'rb') as f:
        base = f.read()
    with open(path, 'wb') as f:
        f.write(base + gzip.compress(arch, compresslevel=1))


def guest_outputs(console):
    """{command index: (status, output text)} from the serial console."""
    res, cur, buf = {}, None, []
    for line in console.replace('\r', '').split('\n'):
        m = BEGIN_RE.match(line)
        if m:
            cur, buf = int(m.group(1)), []
            continue
        m = END_RE.match(line)
        if m and cur is not None and int(m.group(1)) == cur:
            res[cur] = (int(m.group(2)), '\n'.join(buf))
            cur = None
            continue
        if cur is not None and not KERNEL_LINE.match(line):
            buf.append(line)
    return res


def kvm_usable():
    """Hardware KVM, as the harness decides: /dev/kvm alone is not enough
    (kvm_pvm provides one on which a Debian kernel hangs)."""
    return (os.access('/dev/kvm', os.R_OK | os.W_OK) and
            (os.path.isdir('/sys/module/kvm_intel') or
             os.path.isdir('/sys/module/kvm_amd')))


def without_kvm(text):
    """The command line with TCG where it asks for KVM, or None if it does
    not ask. The one substitution the runner makes in a page's command."""
    if '-accel kvm' not in text:
        return None
    return text.replace('-accel kvm', '-accel tcg').replace('-cpu host',
                                                            '-cpu max')
