# SPDX-License-Identifier: BSD-3-Clause
"""Running one page's blocks as a reader would, in order, in one session.

Commands run in a copy of the source tree made of symlinks, where `build`
is the build under test; /tmp and /run are private tmpfs mounts for each
page (run-docs.py made the mount namespace). A command ending in "&" is
started and left running, as in a second terminal, and the next command
waits until the sockets it binds exist; when the page ends every such job
gets SIGTERM and must exit 0. Foreground commands must exit 0 and print
what the page shows, where it shows output.
"""
import os
import re
import shlex
import signal
import subprocess
import time

import docblocks
import docguest

# Options with which the samples and test hosts bind a path: a job is
# ready when these exist. Other paths: ready=PATH on the marker.
BIND_OPTS = ('--socket-path', '--rpc-path', '--bind')
CC_FLAGS = ['-std=gnu11', '-Wall', '-Wextra', '-Wno-unused-parameter',
            '-Werror']


class Failure(Exception):
    pass


class Job:
    def __init__(self, block, cmd, proc, log):
        self.block, self.cmd, self.proc, self.log = block, cmd, proc, log
        self.failed = False   # already reported

    def output(self):
        with open(self.log, errors='replace') as f:
            return f.read()


def tail(text, n=25):
    lines = text.rstrip('\n').split('\n')
    return '\n'.join(('    | ' + x) for x in lines[-n:]) if text else '    (none)'


class Reader:
    """One page's session: its directory, its jobs, its blocks."""

    def __init__(self, cfg, page, workdir):
        self.cfg, self.page, self.work = cfg, page, workdir
        self.tree = os.path.join(workdir, 'tree')
        self.logs = os.path.join(workdir, 'logs')
        self.jobs, self.nlog = [], 0
        os.makedirs(self.logs)
        os.makedirs(self.tree)
        for name in os.listdir(cfg.source):
            if name not in ('build', '.git'):
                os.symlink(os.path.join(cfg.source, name),
                           os.path.join(self.tree, name))
        os.symlink(cfg.build, os.path.join(self.tree, 'build'))
        self.env = dict(os.environ, PATH=cfg.bindir + ':' + os.environ['PATH'])
        self.env.pop('TMPDIR', None)
        self.env.pop(cfg.ns_env, None)   # a nested run-docs.py gets its own

    def scaled(self, seconds):
        return seconds * self.cfg.scale

    # ---- blocks -------------------------------------------------------
    def run_block(self, b, guests=()):
        if b.kind == 'c':
            return self.compile(b)
        cmds = docblocks.commands(b)
        guest_cmds = [c for g in guests for c in docblocks.commands(g)]
        booted = False
        for c in cmds:
            if c.background:
                self.start(b, c)
            elif 'qemu-system-' in c.text:
                self.qemu(b, c, guests, guest_cmds)
                booted = True
            else:
                self.foreground(b, c)
        if 'qemu' in b.needs and not booted:
            raise Failure('needs=qemu, but no qemu-system- command line ran')
        return f'{len(cmds) + len(guest_cmds)} commands'

    def foreground(self, b, c, text=None):
        limit = self.scaled(b.timeout or 60)
        p = subprocess.Popen(['bash', '-c', text or c.text], cwd=self.tree,
                             env=self.env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True, errors='replace')
        try:
            out = p.communicate(timeout=limit)[0]
        except subprocess.TimeoutExpired:
            _signal(p, signal.SIGKILL)   # the whole group: it holds the pipe
            out = p.communicate()[0]
            raise Failure(f'line {c.line}: still running after {limit:.0f} s:'
                          f'\n    $ {c.text}\n{tail(out)}{self.job_logs()}')
        _signal(p, signal.SIGKILL)   # what it left behind: only jobs stay
        self.check(b, c, p.returncode, out)
        return out

    def check(self, b, c, status, out, where=''):
        if status != b.status:
            raise Failure(f'line {c.line}{where}: exit status {status}'
                          f'{"" if b.status == 0 else f" (not {b.status})"}:\n'
                          f'    $ {c.text}\n{tail(out)}{self.job_logs()}')
        if c.expect is not None and not docblocks.output_matches(b, c.expect, out):
            raise Failure(f'line {c.line}{where}: output is not what the page '
                          f'shows:\n    $ {c.text}\n  page:\n{tail(chr(10).join(c.expect), 60)}'
                          f'\n  got:\n{tail(out, 60)}')

    # ---- jobs ---------------------------------------------------------
    def start(self, b, c):
        self.nlog += 1
        log = os.path.join(self.logs, f'job{self.nlog}.log')
        with open(log, 'wb') as f:
            # bash -c execs a lone command itself, so SIGTERM and the
            # exit status are the program's own.
            proc = subprocess.Popen(['bash', '-c', c.text],
                                    cwd=self.tree, env=self.env,
                                    stdin=subprocess.DEVNULL, stdout=f,
                                    stderr=subprocess.STDOUT,
                                    start_new_session=True)
        job = Job(b, c, proc, log)
        self.jobs.append(job)
        self.wait_ready(b, job)

    def wait_ready(self, b, job):
        """Until the job's sockets exist and it printed what the page shows
        for it; failing if it ends first or the (scaled) limit passes."""
        paths = _bound_paths(job.cmd.text) + b.ready
        paths = [os.path.join(self.tree, p) for p in paths]
        limit = time.monotonic() + self.scaled(30)
        while True:
            ok = all(os.path.exists(p) for p in paths)
            out, settled = job.output(), False
            if ok and job.cmd.expect is not None:
                ok = docblocks.output_matches(b, job.cmd.expect, out)
                settled = _settled(job.cmd.expect, out)
            if ok:
                return
            if (settled or job.proc.poll() is not None or
                    time.monotonic() > limit):
                break
            time.sleep(0.05)
        if job.proc.poll() is not None:
            why = f'ended with status {job.proc.returncode} before it was ready'
        elif settled:
            why = 'printed something other than what the page shows'
        else:
            why = 'not ready after %.0f s' % self.scaled(30)
        job.failed = True
        missing = [p for p in paths if not os.path.exists(p)]
        raise Failure(f'line {job.cmd.line}: background job {why}'
                      f'{" (no " + ", ".join(missing) + ")" if missing else ""}:'
                      f'\n    $ {job.cmd.text}\n{_shown(job.cmd)}'
                      f'  got:\n{tail(job.output())}')

    def stop_jobs(self):
        """SIGTERM to every job still running, newest first. Each must exit
        0 or die of that SIGTERM (a program with no handler); any other end
        (a status, a crash, a sanitizer's report, the sandbox's SIGSYS) is
        a failure of the block that started it: [(block, message)]."""
        errors = []
        for job in reversed(self.jobs):
            p = job.proc
            if p.poll() is None:
                _signal(p, signal.SIGTERM)
                try:
                    p.wait(self.scaled(30))
                except subprocess.TimeoutExpired:
                    _signal(p, signal.SIGKILL)
                    p.wait()
                    errors.append((job.block, f'line {job.cmd.line}: did not '
                                   'stop on SIGTERM'))
                    continue
                if p.returncode == -signal.SIGTERM:
                    continue
            if p.returncode != 0 and not job.failed:
                errors.append((job.block, f'line {job.cmd.line}: background job '
                               f'ended with status {p.returncode}:\n    $ '
                               f'{job.cmd.text}\n{tail(job.output())}'))
        self.jobs = []
        return errors

    def job_logs(self):
        return ''.join(f'\n  job from line {j.cmd.line} ({_state(j)}):\n'
                       f'{tail(j.output(), 15)}' for j in self.jobs)

    # ---- C --------------------------------------------------------------
    def compile(self, b):
        src = '\n'.join(b.lines) + '\n'
        if b.file:
            with open(os.path.join(self.cfg.source, b.file)) as f:
                if f.read() != src:
                    raise Failure(f'the block is not {b.file} (the file the '
                                  'build compiles): make them equal')
        if b.scaffold:
            src = '\n'.join(_fill(x, b.lines) for x in b.scaffold) + '\n'
        name = f'snippet{b.line}'
        path = os.path.join(self.work, name + '.c')
        with open(path, 'w') as f:
            f.write(src)
        has_main = re.search(r'\bint\s+main\s*\(', src) is not None
        out = os.path.join(self.work, name if has_main else name + '.so')
        cmd = (['cc'] + CC_FLAGS + self.cfg.cflags +
               ['-I' + x for x in self.cfg.include] + [path, '-o', out] +
               _link_flags(self.cfg.libs))
        if not has_main:   # still linked: every symbol it uses must exist
            cmd[1:1] = ['-shared', '-fPIC', '-Wl,--no-undefined']
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           errors='replace')
        if p.returncode != 0:
            raise Failure(f'does not compile ({" ".join(cmd)}):\n'
                          f'{tail(p.stdout, 40)}\n  source:\n{_numbered(src)}')
        what = 'compiled and linked'
        if 'run' in b.flags:
            if not has_main:
                raise Failure('"run" on a block with no main()')
            c = docblocks.Command(out, b.line)
            self.foreground(b, c)
            what += ', ran'
        return what

    # ---- QEMU -----------------------------------------------------------
    def qemu(self, b, c, guests, guest_cmds):
        cfg = self.cfg
        initrd = os.path.join(self.tree, 'initrd.img')
        docguest.write_initrd(initrd, os.path.join(cfg.guest_dir, 'base.cpio.gz'),
                              docguest.guest_script(guest_cmds))
        kernel = os.path.join(self.tree, 'vmlinuz')
        if not os.path.lexists(kernel):
            os.symlink(os.path.join(cfg.guest_dir, 'vmlinuz'), kernel)
        text = c.text
        if not docguest.kvm_usable():
            text = docguest.without_kvm(text) or text
            if text != c.text:
                print(f'        line {c.line}: no usable KVM here: '
                      '-accel tcg -cpu max')
        out = self.foreground(b, c, text)
        got = docguest.guest_outputs(out)
        for n, gc in enumerate(guest_cmds):
            if n not in got:
                raise Failure(f'guest command at line {gc.line} did not run:\n'
                              f'    {gc.text}\n  console:\n{tail(out, 40)}')
            status, text = got[n]
            self.check(_owner(guests, gc), gc, status, text, ' (guest)')
        if 'HARNESS-EXIT-CODE: 0' not in out:
            raise Failure(f'line {c.line}: the guest did not finish:\n'
                          f'{tail(out, 40)}')


def _owner(guests, cmd):
    for g in guests:
        if g.line <= cmd.line <= g.line + len(g.lines):
            return g
    return guests[0]


def _fill(line, block):
    """A scaffold line, or the block indented as its @BLOCK@ line."""
    if line.strip() != docblocks.BLOCK_SLOT:
        return line
    pad = line[:len(line) - len(line.lstrip())]
    return '\n'.join(pad + x if x.strip() else '' for x in block)


def _settled(expect, out):
    """Whether more output cannot make it match: it already has as many
    whole lines as the page shows, and the page shows no "..."."""
    if any(x.strip() == '...' for x in expect):
        return False
    return out.count('\n') >= len(expect)


def _link_flags(libs):
    """-L, -l and rpath for each built library (lib/libvus.so: -lvus)."""
    out = []
    for lib in libs:
        d, name = os.path.split(lib)
        out += ['-L' + d, '-l' + name[3:name.index('.so')], '-Wl,-rpath,' + d]
    return out


def _bound_paths(text):
    try:
        words = shlex.split(text.replace('\\\n', ' '), comments=True)
    except ValueError:
        return []
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w in BIND_OPTS]


def _signal(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _state(job):
    rc = job.proc.poll()
    return 'running' if rc is None else f'exited {rc}'


def _shown(cmd):
    if cmd.expect is None:
        return ''
    return '  page:\n' + tail('\n'.join(cmd.expect)) + '\n'


def _numbered(src):
    return '\n'.join(f'    {i + 1:3} {x}' for i, x in enumerate(src.split('\n')))
