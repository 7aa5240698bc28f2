#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Run the documentation: every marked block of README.md, doc/*.md and
samples/*/*.md.

    run-docs.py --source DIR --build DIR --lib LIB.so... [--include DIR...]
                [--mode plain|qemu] [--sanitize MODE] [--without-tools]
                [--harness DIR] [PAGE...]

plain: every runnable block but those that boot QEMU (suite meta);
qemu:  the pages that boot QEMU, all their blocks in order (suite qemu).
Markers and what they mean: doc/testing.md, "Writing runnable docs".
Each page runs in a private mount and network namespace (private /tmp and
/run, so the pages' /tmp/... paths are the pages' own), entered by
re-executing through unshare(1). Exit 0 when every block that ran passed,
1 otherwise, 77 (skipped) when there is nothing this machine can run.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True   # nothing written into the source tree
import docblocks  # noqa: E402
import docrun     # noqa: E402

NS_ENV = 'VUS_DOC_TEST_NS'


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument('--source', required=True)
    ap.add_argument('--build', required=True)
    ap.add_argument('--lib', action='append', required=True,
                    help='a built library C blocks link (repeatable)')
    ap.add_argument('--include', action='append', default=[],
                    help='a public header directory (repeatable)')
    ap.add_argument('--mode', choices=('plain', 'qemu'), default='plain')
    ap.add_argument('--sanitize', default='none')
    ap.add_argument('--without-tools', action='store_true')
    ap.add_argument('--harness', default='')
    ap.add_argument('pages', nargs='*')
    a = ap.parse_args()
    a.source, a.build = os.path.realpath(a.source), os.path.realpath(a.build)
    a.ns_env = NS_ENV
    a.libs = [os.path.realpath(x) for x in a.lib]
    a.include = [os.path.realpath(x) for x in a.include]
    a.cflags = [] if a.sanitize in ('', 'none') else ['-fsanitize=' + a.sanitize]
    # Every wait is a limit for a hung command, not a figure the test
    # depends on; the suites' one multiplier stretches them all, as
    # tests/timescale.sh computes it (x3 in a sanitized build).
    try:
        a.scale = max(1.0, float(os.environ.get('VUS_TEST_TIME_SCALE') or 1))
    except ValueError:
        a.scale = 1.0
    a.scale *= 3 if a.cflags else 1
    if not a.pages:
        a.pages = ['README.md'] + sorted(
            os.path.relpath(p, a.source) for pat in ('doc/*.md', 'samples/*/*.md')
            for p in glob.glob(os.path.join(a.source, pat)))
    return a


def enter_namespace():
    """Re-execute in a private mount and network namespace: as root
    directly, otherwise as root of a new user namespace."""
    if os.environ.get(NS_ENV) == '1':
        return
    cmd = ['unshare', '--mount', '--net', '--propagation', 'private']
    if os.geteuid() != 0:
        cmd += ['--user', '--map-root-user']
    probe = subprocess.run(cmd + ['true'], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, errors='replace')
    if probe.returncode != 0:
        print('doc test SKIPPED: no private mount namespace here '
              f'({probe.stderr.strip()}); the pages\' commands would share '
              '/tmp and /run with the machine')
        sys.exit(77)
    os.environ[NS_ENV] = '1'
    os.execvp(cmd[0], cmd + [sys.executable] + sys.argv)


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


class Private:
    """Fresh tmpfs mounts over /tmp and /run for one page; directories of
    ours that lived under them are bound back in."""
    DIRS = ('/tmp', '/run')

    def __init__(self, keep):
        self.keep = [k for k in keep if k.startswith(self.DIRS)]
        self.fds = {k: os.open(k, os.O_PATH) for k in self.keep}

    def __enter__(self):
        for d in self.DIRS:
            sh('mount', '-t', 'tmpfs', '-o', 'mode=1777', 'doc-test', d)
        for k, fd in self.fds.items():
            os.makedirs(k, exist_ok=True)
            # Not canonicalized: mount would resolve the magic link to
            # its name, now under the fresh tmpfs (an empty directory).
            sh('mount', '--no-canonicalize', '--bind',
               f'/proc/{os.getpid()}/fd/{fd}', k)
        return self

    def __exit__(self, *exc):
        for d in self.DIRS:
            subprocess.run(['umount', '--recursive', '--lazy', d])
        for fd in self.fds.values():
            os.close(fd)


class Installed:
    """`make install` and `ldconfig` as a reader does them, into overlays
    of /usr/local and /etc that only this namespace sees."""

    def __init__(self, cfg, work):
        self.cfg, self.dir, self.mounted = cfg, os.path.join(work, 'install'), []

    def __enter__(self):
        os.makedirs(self.dir, exist_ok=True)
        sh('mount', '-t', 'tmpfs', 'doc-install', self.dir)
        self.mounted.append(self.dir)
        for d in ('/usr/local', '/etc'):
            up, wk = (os.path.join(self.dir, d.strip('/').replace('/', '-') + x)
                      for x in ('-up', '-work'))
            os.makedirs(up)
            os.makedirs(wk)
            sh('mount', '-t', 'overlay', 'doc-install', '-o',
               f'lowerdir={d},upperdir={up},workdir={wk}', d)
            self.mounted.insert(0, d)
        sh('meson', 'install', '-C', self.cfg.build, '--no-rebuild', '--quiet')
        sh('ldconfig')
        return self

    def __exit__(self, *exc):
        for d in self.mounted:
            subprocess.run(['umount', '--lazy', d])


def workdir(cfg):
    """BUILD/doc/doc-test/MODE.PID: runs on one build may overlap (two
    meson test at once); a run's directory stays only if it failed, until
    a later run finds its process gone."""
    top = os.path.join(cfg.build, 'doc', 'doc-test')
    os.makedirs(top, exist_ok=True)
    for d in os.listdir(top):
        pid = d.rpartition('.')[2]
        if not pid.isdigit() or not os.path.exists(f'/proc/{pid}'):
            shutil.rmtree(os.path.join(top, d), ignore_errors=True)
    return os.path.join(top, f'{cfg.mode}.{os.getpid()}')


def harness(cfg):
    """(qemu, guest dir) from the harness, or None: it is not built."""
    ensure = os.path.join(cfg.harness, 'ensure.sh')
    if not os.access(ensure, os.X_OK):
        return None
    p = subprocess.run([ensure, '--no-apt'], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, errors='replace')
    if p.returncode != 0:
        return None
    env = dict(x.split('=', 1) for x in p.stdout.split('\n') if '=' in x)
    return env.get('VUS_QEMU'), env.get('VUS_QEMU_GUEST')


def why_not(cfg, b):
    """Why this block does not run in this test, or '' if it runs."""
    if b.kind == 'not-run':
        return b.reason
    if b.kind == 'guest' or 'qemu' in b.needs:
        return '' if cfg.mode == 'qemu' else 'boots QEMU: run by the docs_qemu test'
    if 'install' in b.needs and cfg.cflags:
        return ('needs libvus installed: not from a sanitized build, whose '
                'library needs the sanitizer runtime in every program')
    if 'plain' in b.needs and cfg.cflags:
        return ('links programs of its own against the build: not a sanitized '
                'one, whose library needs the sanitizer runtime in them')
    if 'tun' in b.needs and not os.path.exists('/dev/net/tun'):
        return 'needs /dev/net/tun'
    if 'bwrap' in b.needs and not shutil.which('bwrap'):
        return 'needs bubblewrap (bwrap), not installed here'
    if cfg.without_tools and any('build/tools/' in x for x in b.lines):
        return 'vus-ctl is not built here (libpci-dev)'
    return ''


def guests_of(blocks, i):
    """The guest blocks that follow QEMU block i, up to the next run block
    that boots QEMU."""
    out = []
    for b in blocks[i + 1:]:
        if b.kind == 'run' and 'qemu' in b.needs:
            break
        if b.kind == 'guest':
            out.append(b)
    return out


def run_page(cfg, path, blocks, ran, failed, skipped):
    work = os.path.join(cfg.work, path.replace('/', '_'))
    reader = docrun.Reader(cfg, path, work)
    install = None
    try:
        for i, b in enumerate(blocks):
            if b.kind is None:
                continue
            why = why_not(cfg, b)
            if why:
                skipped.append(f'{b.where()} ({b.lang or "text"}): {why}')
                continue
            if b.kind == 'guest':
                if not any(b in guests_of(blocks, j) for j in range(i)
                           if 'qemu' in blocks[j].needs):
                    ran.append(b)
                    failed.add(b.where())
                    print(f'FAIL    {b.where()} guest: no QEMU block before it')
                continue   # ran with its QEMU block
            if 'fresh' in b.flags:
                report_jobs(reader.stop_jobs(), failed)
            guests = guests_of(blocks, i) if 'qemu' in b.needs else []
            ran.extend([b] + guests)
            try:
                if 'install' in b.needs and install is None:
                    install = Installed(cfg, work).__enter__()
                what = reader.run_block(b, guests)
                print(f'ok      {b.where()} {b.kind}: {what}')
            except subprocess.CalledProcessError as e:
                failed.add(b.where())
                print(f'FAIL    {b.where()} {b.kind}: setting up: {e}')
            except (docrun.Failure, docblocks.DocError) as e:
                failed.update(x.where() for x in [b] + guests)
                print(f'FAIL    {b.where()} {b.kind}: {e}')
    finally:
        errors = reader.stop_jobs()
        if install:
            install.__exit__()
    report_jobs(errors, failed)


def report_jobs(errors, failed):
    for b, e in errors:
        failed.add(b.where())
        print(f'FAIL    {b.where()} {b.kind}, when its jobs were stopped: {e}')


def main():
    cfg = parse_args()
    enter_namespace()
    subprocess.run(['ip', 'link', 'set', 'lo', 'up'], stderr=subprocess.DEVNULL)
    cfg.work = workdir(cfg)
    cfg.bindir = os.path.join(cfg.work, 'bin')
    os.makedirs(cfg.bindir)
    pages = {}
    try:
        for p in cfg.pages:
            with open(os.path.join(cfg.source, p)) as f:
                pages[p] = docblocks.parse_page(p, f.read())
    except docblocks.DocError as e:
        print(f'FAIL    {e}')
        return 1
    if cfg.mode == 'qemu':
        pages = {p: bl for p, bl in pages.items()
                 if any('qemu' in b.needs or b.kind == 'guest' for b in bl)}
        h = harness(cfg)
        if not h:
            print(f'doc test SKIPPED: the QEMU harness at "{cfg.harness}" is '
                  'not built (../shared/qemu-harness/ensure.sh)')
            return 77
        os.symlink(h[0], os.path.join(cfg.bindir, 'qemu-system-x86_64'))
        cfg.guest_dir = h[1]
    ran, failed, skipped = [], set(), []
    keep = [cfg.source, cfg.build] + [os.path.dirname(x) for x in cfg.libs]
    for path, blocks in pages.items():
        with Private(keep):
            run_page(cfg, path, blocks, ran, failed, skipped)
    return report(cfg, pages, ran, failed, skipped)


def report(cfg, pages, ran, failed, skipped):
    allb = [b for bl in pages.values() for b in bl]
    marked = [b for b in allb if b.kind]
    for s in skipped:
        print(f'not run {s}')
    print(f'\ndoc test ({cfg.mode}): {len(allb)} blocks in {len(pages)} pages, '
          f'{len(allb) - len(marked)} illustrations, {len(marked)} marked: '
          f'{len(ran)} ran ({len(ran) - len(failed)} passed, {len(failed)} '
          f'failed), {len(skipped)} not run here (listed above)')
    if failed:
        print(f'logs: {cfg.work}')
        return 1
    shutil.rmtree(cfg.work, ignore_errors=True)
    return 0 if ran else 77


if __name__ == '__main__':
    sys.exit(main())
