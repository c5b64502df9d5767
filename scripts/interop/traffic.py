#!/usr/bin/python3
"""Check 2: "same traffic". One task through a REAL Celery worker + caller, and one through
bench, each captured on the server; the per-connection command streams are compared op by op,
in order (except where a workload rule below says otherwise).

usage: traffic.py --bench PATH [--only redis|mysql] [--track-started] [--out DIR]
       [--workload roundtrip|progress|failure|polling|group|retry|store-only|chord] [--redis-db 11]
       [--mysql-db celery_bench_interop] [--broker-port 6391]

--workload (default roundtrip): the lifecycle compared. Redis: all; MySQL: roundtrip, progress,
failure, polling, group. progress = 1 update_state('PROGRESS'); group and chord = 3 members;
retry = one self.retry() then success; store-only = delay() with the AsyncResult dropped.
Workload-specific rules are printed with the normalisation rules (WORKLOAD_RULES).
The MySQL capture takes the named lock celery_bench_general_log (60 s) around the general log.

Needs /usr/bin/python3 with Celery (Debian python3-celery 5.2.6), redis-server, Redis on
127.0.0.1:6379 and MariaDB on 127.0.0.1:3306 (root, no password). bench runs with --celery 5.2,
the line of the installed Celery.

Connections ("roles") that are compared:
  Redis  caller-pubsub  the caller connection that sends SUBSCRIBE
         caller-cmd     the caller's other connection (its GET)
                        Celery: ports printed by the caller (redis Connection.connect wrapped); a caller
                        connection sending only SUBSCRIBE/UNSUBSCRIBE (and SELECT) is caller-pubsub; when Celery
                        has several connections of one role they are merged in time order (a NOTE says so)
                        bench: a connection that GETs the task key and is neither of the others
         worker         Celery: the one non-caller port (the prefork child);
                        bench: the connection that sends MULTI/SETEX (or SET) of the task key
         bench connections that send only the handshake (SELECT/AUTH/CLIENT) are caller-cmd too: no
                        harness operation sends nothing else, so such a connection is a caller's
         (bench connections in none of these roles are reported as "harness", not compared)
  MySQL  worker-task    the worker connection's statements for the measured task: from its first
                        SELECT ... WHERE task_id = <T> to the end (Celery: a warm prefork child,
                        i.e. the second task of the child; bench: its only task)
         caller-poll    each caller connection that SELECTs the task row: Connect .. Quit. RULE:
                        every poll connection of bench must have exactly the statement sequence of
                        Celery's first poll connection (poll counts depend on timing and are only
                        reported)
         NOTE-only (printed, not failing): worker-setup (the worker connection's statements before
         its first task) and caller-init (caller connections that never read the task row, e.g.
         Celery's create_all check on a fresh process).

Normalisation rules (applied to both sides before comparing), all listed in NORMALISATION below
and printed with every run.

Exit 0 when every compared stream is equal; 1 on the first difference of any stream (all streams
are still compared and printed); 2 when the capture could not be made.
"""
import argparse
import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PY = '/usr/bin/python3'
HERE = os.path.dirname(os.path.abspath(__file__))

NORMALISATION = [
    'command names are compared upper-case (Redis) / as logged (MySQL command_type)',
    'every uuid-shaped id (8-4-4-4-12 hex; bench ids bec1e7e0-...) -> <T1>, <T2>, ... by first appearance in that run '
    '(MySQL poll connections are numbered each on their own, so every poll reads <T1>)',
    'Redis date_done text YYYY-MM-DDTHH:MM:SS[.ffffff][+00:00] -> <DATE> (the +00:00 suffix, if any, is kept)',
    'Redis STARTED meta: "pid": <int> -> <PID>, "hostname": "<str>" -> <HOST> (worker identity, differs by design)',
    'Redis: the task result is NOT normalised: the Celery task returns exactly the str bench stored '
    '(read from bench\'s kept record), so SETEX/PUBLISH values must be byte-equal after the rules above',
    'Redis: lines are attributed to a connection by client port; all lines of a port that touched db N are kept '
    '(so SELECT N, logged under db 0, is compared too)',
    "MySQL datetime literals 'YYYY-MM-DD HH:MM:SS[.ffffff]' -> '<DATE>'",
    'MySQL row ids: "celery_taskmeta.id = <n>" -> <ID>, "VALUES (<n>," -> "VALUES (<ID>,"',
    "MySQL STARTED pickle: result='<bytes>' in an UPDATE ... status='STARTED' -> result='<STARTED-PICKLE>' (pid/hostname)",
    'MySQL Connect argument kept verbatim ("root@localhost on <db> using TCP/IP"); thread ids only used to split connections',
    'MySQL caller polls: bench poll #1 is compared with Celery poll #1 (same Engine as the create_all check: no '
    'dialect probes), every later bench poll with Celery poll #2 (a new Engine per poll: dialect probes); '
    'the number of polls is timing-dependent and only reported (the Celery task sleeps --poll-task-seconds)',
    'MySQL: bench runs 3 tasks (-c 1, --poll-interval 1ms); its worker-task stream is the first task\'s statements, '
    'up to the next task\'s SELECT',
    'MySQL worker-task: a trailing Quit (bench closing its worker connection at the end of the run) is dropped; '
    'Celery\'s prefork child keeps its connection past the capture',
    'MySQL: bench connections that never send SET AUTOCOMMIT = 0 (bench\'s own schema checks and pre-run cleanup) '
    'are harness-only: printed, not compared',
]

UUID = re.compile(rb'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')
RDATE = re.compile(rb'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(\+00:00)?')
MDATE = re.compile(rb"'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?'")
PID = re.compile(rb'"pid": \d+')
HOST = re.compile(rb'"hostname": "[^"]*"')


class Ids:
    def __init__(self):
        self.m = {}

    def __call__(self, mo):
        u = mo.group(0)
        if u not in self.m:
            self.m[u] = b'<T%d>' % (len(self.m) + 1)
        return self.m[u]


def die(msg):
    print('TRAFFIC ERROR: ' + msg, flush=True)
    sys.exit(2)


def port_open(port):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        s.connect(('127.0.0.1', port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---------------------------------------------------------------- Redis MONITOR parsing

MON = re.compile(r'^([\d.]+) \[(\d+) ([^\]]+):(\d+)\] (.*)$')
TOK = re.compile(r'"((?:[^"\\]|\\.)*)"')


def unrepr(s):
    """Undo redis sdscatrepr escaping -> bytes."""
    out = bytearray()
    i = 0
    esc = {'n': 10, 'r': 13, 't': 9, 'a': 7, 'b': 8, '"': 34, '\\': 92}
    while i < len(s):
        c = s[i]
        if c == '\\' and i + 1 < len(s):
            d = s[i + 1]
            if d == 'x':
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out.append(esc.get(d, ord(d)))
            i += 2
            continue
        out += c.encode('utf-8')
        i += 1
    return bytes(out)


def parse_monitor(path, db):
    """-> {port: [(ts, [arg bytes...])]} for ports that sent any command on db."""
    by_port, dbs = {}, {}
    for line in open(path, encoding='utf-8', errors='replace'):
        m = MON.match(line.rstrip('\n'))
        if not m:
            continue
        ts, d, host, port, rest = m.groups()
        args = [unrepr(t) for t in TOK.findall(rest)]
        if not args:
            continue
        by_port.setdefault(port, []).append((float(ts), args))
        dbs.setdefault(port, set()).add(int(d))
    return {p: v for p, v in by_port.items() if db in dbs[p]}


ZADD_STR = re.compile(rb'^(\[1, "[^"]*", "SUCCESS", )"((?:[^"\\]|\\.)*)"\]$')
RETRY_IN = re.compile(rb'Retry in [0-9.]+s')
TB = re.compile(rb'"traceback": "((?:[^"\\]|\\.)*)"')
RESULT_STR = re.compile(rb'"result": "((?:[^"\\]|\\.)*)"')


def norm_tb(mo):
    # keep only the exception line: the frames (paths, line numbers, bench's --traceback-size padding) differ by design
    lines = [l for l in mo.group(1).split(b'\\n') if l]
    return b'"traceback": "<FRAMES>' + (lines[-1] if lines else b'') + b'\\n"'


EXT_FIELDS = [(re.compile(rb'"name": "[^"]*"'), b'"name": <NAME>'),
              (re.compile(rb'"args": \[[^\]]*\]'), b'"args": <ARGS>'),
              (re.compile(rb'"kwargs": \{[^}]*\}'), b'"kwargs": <KWARGS>'),
              (re.compile(rb'"worker": "[^"]*"'), b'"worker": <WORKER>')]


def norm_redis(args, ids, workload='roundtrip'):
    out = []
    for i, a in enumerate(args):
        if i == 0:
            a = a.upper()
        if workload == 'extended':
            for rx, rep in EXT_FIELDS:
                a = rx.sub(rep, a)
        if workload == 'group':
            a = UUID.sub(b'<ID>', a)
        if workload in ('group', 'chord'):
            a = RESULT_STR.sub(lambda mo: b'"result": <STR len %d>' % len(mo.group(1)), a)
        if workload == 'chord':
            a = ZADD_STR.sub(lambda mo: mo.group(1) + b'<STR len %d>]' % len(mo.group(2)), a)
        a = TB.sub(norm_tb, a)
        if workload == 'retry':
            a = RETRY_IN.sub(b'Retry in <N>s', a)
        a = UUID.sub(ids, a)
        a = RDATE.sub(lambda mo: b'<DATE>' + (mo.group(1) or b''), a)
        a = PID.sub(b'"pid": <PID>', a)
        a = HOST.sub(b'"hostname": <HOST>', a)
        out.append(a)
    return b' '.join(b'"' + a + b'"' for a in out).decode('utf-8', 'backslashreplace')


def start_monitor(path):
    f = open(path, 'wb')
    p = subprocess.Popen(['redis-cli', '-p', '6379', 'MONITOR'], stdout=f, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return p, f


def stop(p, f=None, sig=signal.SIGTERM, wait=10):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if f:
        f.close()


# ---------------------------------------------------------------- Celery lab files

TASKS_PY = r'''
import os
from celery import Celery
app = Celery('tasks', broker='redis://127.0.0.1:%(bport)d/0', backend=os.environ['BACKEND'])
app.conf.update(task_track_started=os.environ.get('TRACK') == '1',
                result_extended=os.environ.get('EXT') == '1',
                worker_hijack_root_logger=False)

@app.task
def payload(sleep=0):
    if sleep:
        import time
        time.sleep(sleep)
    return os.environ['PAYLOAD']

@app.task(bind=True)
def progress(self, k=1, sleep=0):
    # bench's progress workload: update_state('PROGRESS', {"current": i, "total": k}) k times
    import time
    for i in range(k):
        self.update_state(state='PROGRESS', meta={'current': i + 1, 'total': k})
    time.sleep(sleep)   # MySQL: so that the caller polls several times
    return os.environ['PAYLOAD']

@app.task
def tsum(xs):
    # chord body
    return os.environ['PAYLOAD']

@app.task(bind=True)
def flaky(self):
    # Celery reference A/flaky: one retry, then the result
    if not self.request.retries:
        raise self.retry(exc=KeyError('once'), countdown=0.2)
    return os.environ['PAYLOAD']

@app.task
def fail(sleep=0):
    import time
    time.sleep(sleep)
    raise ValueError('boom', 42)
'''

CALLER_PY = r'''
import sys
import redis.connection as rc
_orig = rc.Connection.connect
def _connect(self):
    _orig(self)
    if self.port == 6379 and self._sock is not None:
        print('CALLERPORT', self._sock.getsockname()[1], flush=True)
rc.Connection.connect = _connect
import os, time
from tasks import payload, progress, fail, flaky, tsum
wl = os.environ.get('WORKLOAD', 'roundtrip')
if wl == 'group':
    from celery import group
    r = group(payload.s() for _ in range(int(os.environ.get('GROUP_SIZE', '3')))).apply_async()
    print('LABEL', r.id, flush=True)
    print('MEMBERS', ' '.join(m.id for m in r.results), flush=True)
    v = r.get(timeout=20)
    print('RESULT', len(v), flush=True)
    sys.exit(0)
if wl == 'chord':
    from celery import chord
    r = chord(payload.s() for _ in range(int(os.environ.get('GROUP_SIZE', '3'))))(tsum.s())
    print('LABEL', r.id, flush=True)
    v = r.get(timeout=20, interval=0.5)
    print('RESULT', len(v), flush=True)
    sys.exit(0)
if wl == 'store-only':
    r = payload.delay()
    print('LABEL', r.id, flush=True)
    del r
    import gc
    gc.collect()
    time.sleep(0.2)
    print('RESULT 0', flush=True)
    sys.exit(0)
sleep = float(sys.argv[1]) if len(sys.argv) > 1 else 0
if wl == 'progress':
    r = progress.delay(k=int(os.environ.get('PROGRESS_UPDATES', '1')), sleep=sleep)
elif wl == 'failure':
    r = fail.delay(sleep=sleep)
elif wl == 'retry':
    r = flaky.delay()
else:
    r = payload.delay(sleep=float(sys.argv[1]) if len(sys.argv) > 1 else 0)
print('LABEL', r.id, flush=True)
if wl == 'polling':
    while not r.ready():
        time.sleep(float(os.environ.get('POLL_INTERVAL', '0.1')))
    v = r.get()
elif wl == 'failure':
    v = repr(r.get(timeout=20, interval=0.5, propagate=False))
else:
    v = r.get(timeout=20, interval=0.5)
print('RESULT', len(v), flush=True)
'''


class CeleryLab:
    def __init__(self, tmp, bport, backend, payload, track, workload='roundtrip'):
        self.tmp, self.bport = tmp, bport
        self.env = dict(os.environ, C_FORCE_ROOT='1', BACKEND=backend, PAYLOAD=payload,
                        TRACK='1' if track else '0', PYTHONDONTWRITEBYTECODE='1', WORKLOAD=workload,
                        EXT='1' if workload == 'extended' else '0',
                        GROUP_SIZE='3', PROGRESS_UPDATES='1', POLL_INTERVAL='0.1')
        self.env.pop('PYTHONPATH', None)
        with open(os.path.join(tmp, 'tasks.py'), 'w') as f:
            f.write(TASKS_PY % {'bport': bport})
        with open(os.path.join(tmp, 'caller.py'), 'w') as f:
            f.write(CALLER_PY)
        self.broker = self.worker = None

    def start(self):
        if port_open(self.bport):
            die('broker port %d already in use' % self.bport)
        self.broker = subprocess.Popen(['redis-server', '--port', str(self.bport), '--bind', '127.0.0.1',
                                        '--save', '', '--appendonly', 'no'],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.tmp)
        for _ in range(50):
            if port_open(self.bport):
                break
            time.sleep(0.1)
        else:
            die('private broker did not start')
        self.wlog = open(os.path.join(self.tmp, 'worker.log'), 'wb')
        self.worker = subprocess.Popen(
            [PY, '-m', 'celery', '-A', 'tasks', 'worker', '-P', 'prefork', '-c', '1', '--without-gossip',
             '--without-mingle', '--without-heartbeat', '-n', 'w1@interop', '--loglevel=INFO'],
            cwd=self.tmp, env=self.env, stdout=self.wlog, stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(200):
            if b'ready.' in open(os.path.join(self.tmp, 'worker.log'), 'rb').read():
                return
            if self.worker.poll() is not None:
                break
            time.sleep(0.1)
        die('celery worker did not become ready:\n' + open(os.path.join(self.tmp, 'worker.log')).read()[-2000:])

    def call(self, sleep=0, workload=None):
        env = dict(self.env, WORKLOAD=workload) if workload else self.env
        p = subprocess.run([PY, 'caller.py', str(sleep)], cwd=self.tmp, env=env, capture_output=True, timeout=60)
        out = p.stdout.decode()
        if p.returncode != 0:
            die('celery caller failed: %s %s' % (out, p.stderr.decode()[-2000:]))
        ports, tid = set(), None
        self.members = []
        for line in out.splitlines():
            w = line.split()
            if w[:1] == ['MEMBERS']:
                self.members = w[1:]
            if w[:1] == ['CALLERPORT']:
                ports.add(w[1])
            if w[:1] == ['LABEL']:
                tid = w[1]
        return ports, tid

    def stop(self):
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            try:
                self.worker.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait()
        if self.broker is not None:
            stop(self.broker)


# ---------------------------------------------------------------- comparison

def compare(kind, role, celery, bench, report, hard=True):
    """Compare two lists of normalised strings; print the first difference."""
    tag = '' if hard else 'NOTE '
    n = max(len(celery), len(bench))
    for i in range(n):
        c = celery[i] if i < len(celery) else '<end of stream>'
        b = bench[i] if i < len(bench) else '<end of stream>'
        if c != b:
            noun = 'cmd' if kind == 'redis' else 'stmt'
            msg = '%s%s %s %s %d: celery %s != bench %s' % (tag, kind, role, noun, i + 1, short(c), short(b))
            print(msg, flush=True)
            report.append({'kind': kind, 'role': role, 'index': i + 1, 'celery': c, 'bench': b, 'hard': hard})
            return False
    print('%s%s %s: %d %s equal' % (tag, kind, role, len(celery), 'cmds' if kind == 'redis' else 'stmts'), flush=True)
    return True


def short(s, n=400):
    s = s if isinstance(s, str) else str(s)
    return '"' + (s if len(s) <= n else s[:n] + '...(%d chars)' % len(s)) + '"'


def dump_streams(path, streams):
    with open(path, 'w') as f:
        for role, lines in streams.items():
            f.write('== %s (%d)\n' % (role, len(lines)))
            for l in lines:
                f.write('  %s\n' % l)


# ---------------------------------------------------------------- Redis

# per-workload: bench flags, kept task keys, Redis rules that differ from the op-by-op default
REDIS_WORKLOADS = {
    'roundtrip': ([], 1),
    'progress': (['-w', 'progress', '--progress-updates', '1'], 1),
    'failure': (['-w', 'failure', '--failure-rate', '1'], 1),
    'polling': (['-w', 'polling', '--poll-interval', '100ms'], 1),
    'group': (['-w', 'group', '--group-size', '3'], 3),
    'retry': (['-w', 'failure', '--failure-rate', '0', '--retry-rate', '1'], 1),
    'store-only': (['-w', 'store-only'], 1),
    'chord': (['-w', 'chord', '--chord-size', '3'], 4),
    'extended': (['--result-extended'], 1),
}
WORKLOAD_RULES = {
    'failure': ['failure: the Celery task raises ValueError(\'boom\', 42); the "traceback" JSON string keeps only its last line '
                '(the exception line), the frames -> <FRAMES> (real frames vs bench\'s synthetic --traceback-size text); '
                'the caller uses get(propagate=False)'],
    'progress': ['progress: the Celery task calls update_state(state=\'PROGRESS\', meta={"current": i, "total": k}) once (k=1)'],
    'cleanup': ['cleanup (MySQL): bench -w cleanup vs Celery\'s DatabaseBackend.cleanup() called directly (what the '
                'backend_cleanup task runs in a worker child); compared: the cleanup connection\'s statements from the first '
                'DELETE on (connection set-up differs: a cold engine vs a warm child), the cutoff literal -> <CUTOFF>, each '
                'cutoff checked to be 1 day (result_expires) before it ran'],
    'extended': ['extended (result_extended=True; bench --result-extended): the values of "name", "args", "kwargs" and '
                 '"worker" -> <NAME>, <ARGS>, <KWARGS>, <WORKER> (the task and the worker differ: Celery\'s tasks.payload(sleep=0.0) '
                 'on w1@interop, bench\'s bench.echo(64) on its simulated worker); likewise the MySQL columns name, args, kwargs, worker; every key, its place, and the other values '
                 'are compared (the bytes of bench\'s values are checked against Celery\'s encoder by the reads check)'],
    'polling': ['polling: caller does "while not r.ready(): sleep(0.1)" then r.get() (bench --poll-interval 100ms); in caller-cmd '
                'a run of 1 or more identical consecutive GETs is collapsed to one line "GET ... (1 or more polls)": the poll count is timing-dependent (the task may be done at the first poll)',
                'polling on MySQL: the Celery caller sleeps 0.5 s between ready() calls (the task sleeps --poll-task-seconds); '
                'every poll connection is compared by the caller-poll rule above (poll #1 vs Celery poll #1, later ones vs '
                'Celery poll #2), the poll counts only reported; the final r.get() reads the cached meta and sends nothing'],
    'retry': ['retry: the Celery task does raise self.retry(exc=KeyError(\'once\'), countdown=0.2) on its first run, then returns '
              'the payload (bench -w failure --failure-rate 0 --retry-rate 1); the RETRY "traceback" keeps only its exception line '
              '(frames -> <FRAMES>, as failure) and in it "Retry in <n>s" -> "Retry in <N>s" (the countdown differs by design); '
              'the worker stream (RETRY write, then SUCCESS write with parent_id) and the caller streams are compared op by op'],
    'store-only': ['store-only: the Celery caller does r = payload.delay(); del r (the AsyncResult is dropped without get(): '
                   'its __del__ unsubscribes) and exits; caller-pubsub (SUBSCRIBE, UNSUBSCRIBE), caller-cmd (none) and the '
                   'worker\'s one write are compared op by op'],
    'chord': ['chord: chord(payload.s() x3)(tsum.s()).get() (bench -w chord --chord-size 3); every "result" string -> <STR len N> '
              'and the result in a ZADD member [1, "<id>", "SUCCESS", "<str>"] -> <STR len N> (bench members return distinct strs); '
              'uuids are numbered by first appearance in the WORKER stream (members in execution order, the group id, the body), '
              'then the same numbering is applied to the caller streams',
              'chord worker: op by op (per member: GET, MULTI SETEX PUBLISH EXEC, MULTI ZADD ZCOUNT GET .t GET .s EXPIRE x3 EXEC; '
              'the finisher: GET taskset, MULTI ZRANGE EXEC, MULTI DEL x3 EXEC; the body write with parent_id)',
              'chord caller-cmd: every line but GET op by op (MULTI SETEX .s PUBLISH EXEC); the GETs (the body GET and the '
              'parent polling of header members, timing-dependent) are compared as the SET of keys read, their counts per key reported only',
              'chord caller-pubsub: as group (a multiset without UNSUBSCRIBE, the UNSUBSCRIBE count reported only)'],
    'group': ['group on MySQL: group(payload.s() x3).apply_async().get() (bench -w group --group-size 3, 3 groups); '
              'in a SUCCESS statement the pickled result literal -> <RESULT len N> (bench members return distinct strs); '
              'the worker stream is split per member at each SELECT of another task id, each member segment numbered on its '
              'own: Celery members 1..3 vs bench\'s first 3 members, op by op; the caller\'s join polls each member in turn: '
              'every poll connection by the caller-poll rule (poll #1 vs Celery poll #1, later ones vs Celery poll #2), '
              'poll counts only reported',
              'group: group(payload.s() x3).apply_async().get(); every uuid -> <ID> (member order is timing-dependent, so MGET key '
              'order is moot), every "result" string -> <STR len N> (bench members return distinct strs)',
              'group caller-pubsub: compared as a MULTISET of lines without UNSUBSCRIBE (SUBSCRIBE/UNSUBSCRIBE interleaving and '
              'the UNSUBSCRIBE count depend on when results arrive: only reported); caller-cmd and worker op by op'],
}


def collapse_polls(lines):
    out = []
    for l in lines:
        if l.startswith('"GET"'):
            l += ' (1 or more polls)'
            if out and out[-1] == l:
                continue
        out.append(l)
    return out


def compare_multiset(kind, role, celery, bench, report):
    from collections import Counter
    cu = sum(1 for l in celery if l.startswith('"UNSUBSCRIBE"'))
    bu = sum(1 for l in bench if l.startswith('"UNSUBSCRIBE"'))
    c = Counter(l for l in celery if not l.startswith('"UNSUBSCRIBE"'))
    b = Counter(l for l in bench if not l.startswith('"UNSUBSCRIBE"'))
    print('%s %s: UNSUBSCRIBE count celery %d, bench %d (timing-dependent, reported only)' % (kind, role, cu, bu), flush=True)
    if c == b:
        print('%s %s: %d cmds equal as a multiset (without UNSUBSCRIBE)' % (kind, role, sum(c.values())), flush=True)
        return True
    only_c, only_b = c - b, b - c
    msg = '%s %s multiset: celery-only %s != bench-only %s' % (kind, role, short(str(dict(only_c))), short(str(dict(only_b))))
    print(msg, flush=True)
    report.append({'kind': kind, 'role': role, 'index': 0, 'celery': dict(only_c), 'bench': dict(only_b), 'hard': True})
    return False


HANDSHAKE = {b'SELECT', b'AUTH', b'CLIENT', b'HELLO'}


def compare_get_keys(kind, role, celery, bench, report):
    from collections import Counter
    c = Counter(l for l in celery if l.startswith('"GET"'))
    b = Counter(l for l in bench if l.startswith('"GET"'))
    print('%s %s GETs (timing-dependent, counts reported only): celery %d %s; bench %d %s' %
          (kind, role, sum(c.values()), dict(sorted(c.items())), sum(b.values()), dict(sorted(b.items()))), flush=True)
    if set(c) == set(b):
        print('%s %s: the same %d keys read by GET' % (kind, role, len(c)), flush=True)
        return True
    msg = '%s %s GET keys: celery-only %s != bench-only %s' % (kind, role, short(str(sorted(set(c) - set(b)))),
                                                                short(str(sorted(set(b) - set(c)))))
    print(msg, flush=True)
    report.append({'kind': kind, 'role': role, 'index': 0, 'celery': sorted(set(c) - set(b)),
                   'bench': sorted(set(b) - set(c)), 'hard': True})
    return False


def redis_roles_bench(conns, key_of):
    roles, harness = {}, {}
    for port, cmds in conns.items():
        names = {a[0].upper() for _, a in cmds}
        if b'SUBSCRIBE' in names:
            roles.setdefault('caller-pubsub', []).append(port)
        elif any(a[0].upper() in (b'SETEX', b'SET') and len(a) > 1 and key_of(a[1]) for _, a in cmds):
            roles.setdefault('worker', []).append(port)
        elif any(a[0].upper() in (b'GET', b'MGET') and len(a) > 1 and key_of(a[1]) for _, a in cmds):
            roles.setdefault('caller-cmd', []).append(port)
        elif names <= HANDSHAKE:
            # only the connection handshake: no harness operation, so a caller's (pre-dialled) connection
            roles.setdefault('caller-cmd', []).append(port)
        else:
            harness[port] = cmds
    return roles, harness


def run_redis(a, tmp, report):
    db = a.redis_db
    url = 'redis://127.0.0.1:6379/%d' % db
    import redis
    r = redis.Redis(host='127.0.0.1', port=6379, db=db)
    for k in r.scan_iter(match=b'celery-task-meta-bec1e7e0-*'):
        r.delete(k)
    # --- bench
    mon = os.path.join(tmp, 'bench-redis.mon')
    mp, mf = start_monitor(mon)
    wflags, nkeys = REDIS_WORKLOADS[a.workload]
    cmd = [a.bench, '--backend', url, '--tasks', '1', '-c', '1', '--workers', '1', '--warmup', '0s', '--keep',
           '--force', '--progress', '0', '--celery', a.bench_celery, '--seed', '48879'] + wflags
    if a.track_started:
        cmd.append('--track-started')
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    time.sleep(0.5)
    stop(mp, mf)
    if p.returncode != 0:
        die('bench failed: %s' % p.stderr.decode()[-2000:])
    keys = list(r.scan_iter(match=b'celery-task-meta-bec1e7e0-*'))
    if len(keys) != nkeys:
        die('expected %d kept bench key(s) in db %d, found %d' % (nkeys, db, len(keys)))
    payload = json.loads(r.get(keys[0]))['result']
    if not isinstance(payload, str):
        payload = ''   # failure: the Celery task raises, PAYLOAD is unused
    for k in keys:
        r.delete(k)
    bconns = parse_monitor(mon, db)
    ids = Ids()
    roles, harness = redis_roles_bench(bconns, lambda k: k.startswith(b'celery-task-meta-bec1e7e0-'))
    bench = {}
    for role, ports in sorted(roles.items(), key=lambda kv: kv[0] != 'worker' if a.workload == 'chord' else 0):
        for i, port in enumerate(ports):
            bench[role if i == 0 else '%s#%d' % (role, i + 1)] = [norm_redis(x, ids, a.workload) for _, x in bconns[port]]
    hb = {}
    for port, cmds in harness.items():
        hb['harness:%s' % port] = [norm_redis(x, ids, a.workload) for _, x in cmds]
    # --- Celery
    lab = CeleryLab(tmp, a.broker_port, url, payload, a.track_started, a.workload)
    try:
        lab.start()
        mon2 = os.path.join(tmp, 'celery-redis.mon')
        mp, mf = start_monitor(mon2)
        cports, tid = lab.call()
        time.sleep(1.0)
        stop(mp, mf)
    finally:
        lab.stop()
    seen = {u for cmds in parse_monitor(mon2, db).values() for _, x in cmds for u in UUID.findall(b' '.join(x))}
    if tid:
        seen.add(tid.encode())
    for u in seen:   # the Celery run's task (and group member) keys
        r.delete(b'celery-task-meta-' + u)
    cconns = parse_monitor(mon2, db)
    ids = Ids()
    celery = {}
    wports = [p for p in cconns if p not in cports]
    order = lambda p: cconns[p][0][0]
    if a.workload == 'chord':   # number the ids by the worker stream first (see WORKLOAD_RULES)
        order = lambda p: (p in cports, cconns[p][0][0])
    croles = {}
    for port in sorted(cconns, key=order):
        cmds = cconns[port]
        if port in cports:
            # a caller connection that sends only pub/sub commands (and the handshake) is a pub/sub connection
            # (Celery's chord caller sends some UNSUBSCRIBEs on a second one)
            pubsub = {x[0].upper() for _, x in cmds} <= HANDSHAKE | {b'SUBSCRIBE', b'UNSUBSCRIBE'} and \
                any(x[0].upper() in (b'SUBSCRIBE', b'UNSUBSCRIBE') for _, x in cmds)
            role = 'caller-pubsub' if pubsub else 'caller-cmd'
        else:
            role = 'worker' if len(wports) == 1 else 'worker:%s' % port
        croles.setdefault(role, []).append(port)
        celery[role] = [norm_redis(x, ids, a.workload) for _, x in cmds]
    for role, ports in croles.items():
        if len(ports) > 1:
            # merged in time order, each connection's own SELECT kept once (the first)
            merged = sorted(((ts, i, x) for i, p in enumerate(ports) for ts, x in cconns[p]
                             if not (i > 0 and x[0].upper() in HANDSHAKE)), key=lambda t: t[:2])
            print('NOTE redis: Celery %s is %d connections (ports %s), merged in time order; the lines per connection: %s' %
                  (role, len(ports), ', '.join(ports), [len(cconns[p]) for p in ports]), flush=True)
            celery[role] = [norm_redis(x, ids, a.workload) for _, _, x in merged]
    dump_streams(os.path.join(a.out, 'redis-celery.txt'), celery)
    dump_streams(os.path.join(a.out, 'redis-bench.txt'), dict(bench, **hb))
    ok = True
    print('redis: bench connections %s, harness-only connections %d; celery connections %s' %
          ({k: len(v) for k, v in bench.items()}, len(hb), {k: len(v) for k, v in celery.items()}), flush=True)
    for role in ('caller-pubsub', 'caller-cmd', 'worker'):
        cs, bs = celery.get(role, []), bench.get(role, [])
        if a.workload == 'polling' and role == 'caller-cmd':
            cs, bs = collapse_polls(cs), collapse_polls(bs)
        if a.workload in ('group', 'chord') and role == 'caller-pubsub':
            ok &= compare_multiset('redis', role, cs, bs, report)
        elif a.workload == 'chord' and role == 'caller-cmd':
            ok &= compare('redis', role, [l for l in cs if not l.startswith('"GET"')],
                          [l for l in bs if not l.startswith('"GET"')], report)
            ok &= compare_get_keys('redis', role, cs, bs, report)
        else:
            ok &= compare('redis', role, cs, bs, report)
    for role in sorted(set(bench) - {'caller-pubsub', 'caller-cmd', 'worker'}):
        print('redis: bench has an extra %s connection: %s' % (role, short(' | '.join(bench[role]))), flush=True)
        report.append({'kind': 'redis', 'role': role, 'index': 0, 'celery': '<no such connection>',
                       'bench': bench[role], 'hard': True})
        ok = False
    for role, lines in hb.items():
        print('NOTE redis: bench harness-only connection %s (not Celery traffic): %s' %
              (role, short(' | '.join(lines))), flush=True)
    return ok


# ---------------------------------------------------------------- MySQL

def mysql_conn(db=None):
    import pymysql
    return pymysql.connect(host='127.0.0.1', port=3306, user='root', password='', database=db, autocommit=True)


MYSQL_WORKLOAD = ['roundtrip']   # set by run_mysql: workload-specific normalisation


def norm_mysql(cmd, arg, ids):
    a = arg if isinstance(arg, bytes) else arg.encode()
    a = UUID.sub(ids, a)
    a = MDATE.sub(b"'<DATE>'", a)
    a = re.sub(rb'celery_taskmeta\.id = \d+', b'celery_taskmeta.id = <ID>', a)
    a = re.sub(rb'VALUES \(\d+,', b'VALUES (<ID>,', a)
    # failure: keep only the exception line of the traceback literal (frames differ by design)
    a = re.sub(rb"traceback='((?:[^'\\]|\\.)*)'",
               lambda mo: b"traceback='<FRAMES>" + ([l for l in mo.group(1).split(b'\\n') if l] or [b''])[-1] + b"\\n'", a,
               flags=re.S)
    if MYSQL_WORKLOAD[0] == 'group' and b"status='SUCCESS'" in a:
        # bench's members return distinct strs: the pickled result -> its length
        a = re.sub(rb"result='((?:[^'\\]|\\.)*)'", lambda mo: b"result='<RESULT len %d>'" % len(mo.group(1)), a, flags=re.S)
    if a.startswith(b'UPDATE') and b"status='STARTED'" in a:
        a = re.sub(rb"result='(?:[^'\\]|\\.)*'", b"result='<STARTED-PICKLE>'", a, flags=re.S)
    if MYSQL_WORKLOAD[0] == 'extended':
        for col in (b'name', b'args', b'kwargs', b'worker'):
            a = re.sub(rb"(?<=, )" + col + rb"='(?:[^'\\]|\\.)*'", col + b"=<" + col.upper() + b">", a, flags=re.S)
    return '%s: %s' % (cmd, a.decode('utf-8', 'backslashreplace'))


class GeneralLog:
    def __init__(self):
        self.c = mysql_conn()

    def __enter__(self):
        cur = self.c.cursor()
        # the general log is server-wide: other engineers' tests capture it too (the mysql backend's tests
        # take the same named lock)
        cur.execute("SELECT GET_LOCK('celery_bench_general_log', 60)")
        if cur.fetchone()[0] != 1:
            die('could not take the named lock celery_bench_general_log within 60 s')
        cur.execute('SELECT @@global.general_log, @@global.log_output, NOW(6)')
        self.old_log, self.old_out, self.t0 = cur.fetchone()
        cur.execute("SET GLOBAL log_output = 'TABLE'")
        cur.execute('SET GLOBAL general_log = 1')
        return self

    def __exit__(self, *exc):
        cur = self.c.cursor()
        cur.execute('SET GLOBAL general_log = %d' % int(self.old_log))
        cur.execute("SET GLOBAL log_output = %s", (self.old_out,))
        cur.execute("SELECT RELEASE_LOCK('celery_bench_general_log')")
        self.c.close()

    def now(self):
        cur = self.c.cursor()
        cur.execute('SELECT NOW(6)')
        return cur.fetchone()[0]

    def rows(self, db, since):
        cur = self.c.cursor()
        cur.execute('SELECT event_time, thread_id, command_type, argument FROM mysql.general_log '
                    'WHERE event_time >= %s ORDER BY event_time', (since,))
        rows = cur.fetchall()
        mine = set()
        for t, th, ct, arg in rows:
            s = arg if isinstance(arg, bytes) else str(arg).encode()
            if (ct == 'Connect' and (b' on %s ' % db.encode()) in s) or (ct == 'Init DB' and s == db.encode()):
                mine.add(th)
        threads = {}
        for t, th, ct, arg in rows:
            if th in mine:
                threads.setdefault(th, []).append((t, ct, arg if isinstance(arg, bytes) else str(arg).encode()))
        return threads


def split_mysql(threads, tid_match):
    """-> worker thread ids, poll threads, init threads."""
    worker, polls, inits = [], [], []
    for th, ev in sorted(threads.items(), key=lambda kv: kv[1][0][0]):
        if any(ct == 'Query' and arg.startswith(b'INSERT INTO celery_taskmeta') for _, ct, arg in ev):
            worker.append(th)
        elif any(ct == 'Query' and b'celery_taskmeta.task_id = ' in arg and tid_match(arg) for _, ct, arg in ev):
            polls.append(th)
        else:
            inits.append(th)
    return worker, polls, inits


def split_tasks(ev):
    """Split a worker's task statements at every SELECT of another task id."""
    segs, cur, last = [], [], None
    for e in ev:
        _, ct, arg = e
        if ct == 'Query' and b'celery_taskmeta.task_id = ' in arg:
            t = UUID.search(arg).group(0)
            if last is not None and t != last and cur:
                segs.append(cur)
                cur = []
            last = t
        cur.append(e)
    if cur:
        segs.append(cur)
    return segs


def worker_parts(ev, tid):
    """Split the worker connection's events: (setup, task) where task starts at the first SELECT of tid."""
    for i, (_, ct, arg) in enumerate(ev):
        if ct == 'Query' and b'celery_taskmeta.task_id = ' in arg and tid.encode() in arg:
            return ev[:i], ev[i:]
    return ev, []


def run_mysql(a, tmp, report):
    db = a.mysql_db
    MYSQL_WORKLOAD[0] = a.workload
    c = mysql_conn()
    c.cursor().execute('CREATE DATABASE IF NOT EXISTS `%s`' % db)
    c.close()
    burl = 'db+mysql://root@127.0.0.1:3306/%s' % db
    curl = 'db+mysql+pymysql://root@127.0.0.1:3306/%s' % db

    def cleanup():
        cc = mysql_conn(db)
        try:
            cc.cursor().execute("DELETE FROM celery_taskmeta WHERE task_id LIKE 'bec1e7e0-%%'")
        except Exception:  # noqa: table may not exist yet
            pass
        cc.close()
    cleanup()
    # --- bench under the general log
    # 3 tasks and a 1 ms poll interval, so that bench's caller also makes later (non-first) polls
    cmd = [a.bench, '--backend', burl, '--tasks', '3', '-c', '1', '--workers', '1', '--warmup', '0s', '--keep',
           '--force', '--progress', '0', '--celery', a.bench_celery, '--seed', '48879', '--poll-interval', '1ms']
    cmd += REDIS_WORKLOADS[a.workload][0]
    if a.track_started:
        cmd.append('--track-started')
    with GeneralLog() as gl:
        t0 = gl.now()
        p = subprocess.run(cmd, capture_output=True, timeout=60)
        time.sleep(0.3)
        bthreads = gl.rows(db, t0)
    if p.returncode != 0:
        die('bench failed: %s' % p.stderr.decode()[-2000:])
    cc = mysql_conn(db)
    cur = cc.cursor()
    cur.execute("SELECT task_id, result FROM celery_taskmeta WHERE task_id LIKE 'bec1e7e0-%%'")
    rows = cur.fetchall()
    cc.close()
    nrows = 3 * REDIS_WORKLOADS[a.workload][1]
    if len(rows) != nrows:
        die('expected %d kept bench rows, found %d' % (nrows, len(rows)))
    cleanup()
    ids = Ids()
    bw, bp, bi = split_mysql(bthreads, lambda s: b'bec1e7e0-' in s)
    if not bw:
        die('no bench worker connection in the general log (another session may have turned general_log off)')
    # the first task the worker stored; its statements run up to the next task's SELECT
    first = [arg for _, ct, arg in bthreads[bw[0]] if ct == 'Query' and b'celery_taskmeta.task_id = ' in arg][0]
    btid = UUID.search(first).group(0).decode()
    payload = pickle.loads(dict(rows)[btid])
    if not isinstance(payload, str):
        payload = ''   # failure: the Celery task raises, PAYLOAD is unused
    bench = {}
    if len(bw) != 1:
        print('mysql: bench worker connections: %d (expected 1)' % len(bw), flush=True)
    if bw:
        setup, task = worker_parts(bthreads[bw[0]], btid)
        nxt = [i for i, (_, ct, arg) in enumerate(task) if i > 0 and ct == 'Query' and
               b'celery_taskmeta.task_id = ' in arg and btid.encode() not in arg]
        if a.workload == 'group':
            for i, seg in enumerate(split_tasks(task)[1:3]):
                bench['worker-task#%d' % (i + 2)] = [norm_mysql(ct, arg, Ids()) for _, ct, arg in seg
                                                     if ct != 'Quit']
        task = task[:nxt[0]] if nxt else task
        bench['worker-setup'] = [norm_mysql(ct, arg, ids) for _, ct, arg in setup]
        bench['worker-task'] = [norm_mysql(ct, arg, ids) for _, ct, arg in task]
        if bench['worker-task'] and bench['worker-task'][-1].startswith('Quit:'):
            bench['worker-task'].pop()
    bench_polls = [[norm_mysql(ct, arg, pids) for _, ct, arg in bthreads[th]] for th in bp for pids in [Ids()]]
    bench_inits, bench_harness = [], []
    for th in bi:
        st = [norm_mysql(ct, arg, ids) for _, ct, arg in bthreads[th]]
        (bench_inits if 'Query: SET AUTOCOMMIT = 0' in st else bench_harness).append(st)
    # --- Celery: warm-up task (first task of the child: engine init + create_all), then the measured one
    lab = CeleryLab(tmp, a.broker_port, curl, payload, a.track_started, a.workload)
    if a.workload == 'polling':
        lab.env['POLL_INTERVAL'] = '0.5'
    try:
        lab.start()
        with GeneralLog() as gl:
            t0 = gl.now()
            _, warm_tid = lab.call(workload='roundtrip')
            time.sleep(0.2)
            t1 = gl.now()
            _, tid = lab.call(sleep=a.poll_task_seconds)
            members = lab.members or [tid]
            time.sleep(0.3)
            wthreads = gl.rows(db, t0)
            cthreads = {th: ev for th, ev in wthreads.items() if ev[0][0] >= t1}
    finally:
        lab.stop()
    cc = mysql_conn(db)
    for t in [warm_tid, tid] + members:
        cc.cursor().execute('DELETE FROM celery_taskmeta WHERE task_id = %s', (t,))
    cc.close()
    ids = Ids()
    cw, _, _ = split_mysql(wthreads, lambda s: True)
    _, cp, ci = split_mysql(cthreads, lambda s: any(m.encode() in s for m in members))
    celery = {}
    if len(cw) != 1:
        die('celery worker connections: %d (expected 1)' % len(cw))
    setup, first = worker_parts(wthreads[cw[0]], warm_tid)
    _, task = worker_parts(wthreads[cw[0]], members[0])
    celery['worker-setup'] = [norm_mysql(ct, arg, ids) for _, ct, arg in setup]
    # the warm-up task segment ends where the measured task starts
    celery['worker-first-task'] = [norm_mysql(ct, arg, ids) for _, ct, arg in first[:len(first) - len(task)]]
    ids2 = Ids()
    celery['worker-task'] = [norm_mysql(ct, arg, ids2) for _, ct, arg in task]
    if a.workload == 'group':
        # per member: the measured segment is the first member's store; the others are compared below
        segs = split_tasks(task)
        celery['worker-task'] = [norm_mysql(ct, arg, Ids()) for _, ct, arg in segs[0]]
        for i, seg in enumerate(segs[1:]):
            celery['worker-task#%d' % (i + 2)] = [norm_mysql(ct, arg, Ids()) for _, ct, arg in seg]
    celery_polls = [[norm_mysql(ct, arg, pids) for _, ct, arg in cthreads[th]] for th in cp for pids in [Ids()]]
    celery_inits = [[norm_mysql(ct, arg, ids2) for _, ct, arg in cthreads[th]] for th in ci]
    streams_c = dict(celery)
    for i, s in enumerate(celery_polls):
        streams_c['caller-poll#%d' % (i + 1)] = s
    for i, s in enumerate(celery_inits):
        streams_c['caller-init#%d' % (i + 1)] = s
    streams_b = dict(bench)
    for i, s in enumerate(bench_polls):
        streams_b['caller-poll#%d' % (i + 1)] = s
    for i, s in enumerate(bench_inits):
        streams_b['caller-init#%d' % (i + 1)] = s
    for i, s in enumerate(bench_harness):
        streams_b['harness#%d' % (i + 1)] = s
    dump_streams(os.path.join(a.out, 'mysql-celery.txt'), streams_c)
    dump_streams(os.path.join(a.out, 'mysql-bench.txt'), streams_b)
    print('mysql: celery polls %d, inits %d; bench polls %d, inits %d, harness-only %d' %
          (len(celery_polls), len(celery_inits), len(bench_polls), len(bench_inits), len(bench_harness)), flush=True)
    ok = True
    ok &= compare('mysql', 'worker-task', celery['worker-task'], bench.get('worker-task', []), report)
    if a.workload == 'group':
        for i in (2, 3):
            role = 'worker-task#%d' % i
            ok &= compare('mysql', role, celery.get(role, []), bench.get(role, []), report)
    if a.workload == 'store-only':
        # fire-and-forget: nobody reads the result, so neither caller may poll
        if celery_polls or bench_polls:
            ok = False
            print('mysql caller-poll: store-only, yet celery polled %d and bench %d times' % (len(celery_polls), len(bench_polls)), flush=True)
            report.append({'kind': 'mysql', 'role': 'caller-poll', 'index': 0, 'celery': len(celery_polls),
                           'bench': len(bench_polls), 'hard': True})
        else:
            print('mysql caller-poll: none on either side (store-only)', flush=True)
        return ok
    if not celery_polls:
        die('celery caller made no poll connection')
    if not bench_polls:
        ok = False
        print('mysql caller-poll: bench made no poll connection', flush=True)
        report.append({'kind': 'mysql', 'role': 'caller-poll', 'index': 0, 'celery': celery_polls[0],
                       'bench': '<none>', 'hard': True})
    if len(celery_polls) < 2:
        print('NOTE mysql: Celery made only %d poll(s); later bench polls are compared with poll #1' % len(celery_polls))
    for i, s in enumerate(bench_polls):
        ref = celery_polls[0] if i == 0 else celery_polls[min(1, len(celery_polls) - 1)]
        ok &= compare('mysql', 'caller-poll#%d' % (i + 1), ref, s, report)
    for i in range(2, len(celery_polls)):
        compare('mysql', 'celery-self poll#%d vs #2' % (i + 1), celery_polls[1], celery_polls[i], report, hard=False)
    for st in bench_harness:
        print('NOTE mysql: bench harness-only connection (not Celery traffic): %s' % short(' | '.join(st), 300))
    # NOTE-only streams: the worker's connection setup (Celery: before its first task, incl. create_all)
    compare('mysql', 'worker-setup', celery['worker-setup'] + celery['worker-first-task'][:0],
            bench.get('worker-setup', []), report, hard=False)
    for i in range(max(len(celery_inits), len(bench_inits))):
        compare('mysql', 'caller-init#%d' % (i + 1), celery_inits[i] if i < len(celery_inits) else [],
                bench_inits[i] if i < len(bench_inits) else [], report, hard=False)
    return ok


CUTOFF = re.compile(rb"< '(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)'")


def cleanup_segment(threads):
    """The statements of the connection that ran DatabaseBackend.cleanup, from its first DELETE of
    expired rows to the end (Quit left out), with the cutoff -> <CUTOFF>; and the cutoffs."""
    for th, evs in threads.items():
        qs = [(ct, arg) for _, ct, arg in evs]
        idx = [i for i, (ct, arg) in enumerate(qs) if ct == 'Query' and arg.startswith(b'DELETE FROM celery_taskmeta WHERE celery_taskmeta.date_done <')]
        if idx:
            seg = [(ct, arg) for ct, arg in qs[idx[0]:] if ct != 'Quit']
            cutoffs = [CUTOFF.search(arg).group(1).decode() for ct, arg in seg if CUTOFF.search(arg)]
            return ['%s: %s' % (ct, CUTOFF.sub(b"< '<CUTOFF>'", arg).decode('utf-8', 'backslashreplace')) for ct, arg in seg], cutoffs
    return None, []


def run_mysql_cleanup(a, tmp, report):
    """celery.backend_cleanup on MySQL: bench's cleanup workload and Celery's
    DatabaseBackend.cleanup() (the function the backend_cleanup task runs in a worker child), each
    under the general log; the cleanup transaction must be the same statements, and each cutoff
    must be result_expires (1 day) before the moment it ran."""
    import datetime
    db = a.mysql_db
    burl = 'db+mysql://root@127.0.0.1:3306/%s' % db
    curl = 'db+mysql+pymysql://root@127.0.0.1:3306/%s' % db
    cmd = [a.bench, '--backend', burl, '-w', 'cleanup', '--expired-results', '20', '--cleanup-after', '300ms',
           '-d', '1s', '--warmup', '0s', '-c', '1', '--workers', '1', '--force', '--progress', '0',
           '--celery', a.bench_celery, '--seed', '48880']
    with GeneralLog() as gl:
        t0 = gl.now()
        p = subprocess.run(cmd, capture_output=True, timeout=60)
        time.sleep(0.3)
        bthreads = gl.rows(db, t0)
    if p.returncode != 0:
        die('bench failed: %s' % p.stderr.decode()[-2000:])
    from celery import Celery
    app = Celery('interop-cleanup', backend=curl)
    with GeneralLog() as gl:
        t0 = gl.now()
        app.backend.cleanup()
        ran = gl.now()
        app.backend.ResultSession().get_bind().dispose()
        time.sleep(0.3)
        cthreads = gl.rows(db, t0)
    bench, bcut = cleanup_segment(bthreads)
    celery, ccut = cleanup_segment(cthreads)
    if celery is None:
        die('no DELETE of expired rows by Celery in the general log')
    if bench is None:
        die('no DELETE of expired rows by bench in the general log')
    dump_streams(os.path.join(a.out, 'mysql-cleanup.txt'), {'celery': celery, 'bench': bench})
    ok = compare('mysql', 'backend_cleanup', celery, bench, report)
    for who, cuts in (('celery', ccut), ('bench', bcut)):
        for c in cuts:
            at = datetime.datetime.fromisoformat(c)
            # naive UTC (Celery 5.2 app.now()); the run took seconds
            age = datetime.datetime.utcnow() - at
            if not (datetime.timedelta(days=1) - datetime.timedelta(seconds=5) <= age <= datetime.timedelta(days=1, seconds=120)):
                ok = False
                print('mysql backend_cleanup: %s cutoff %s is %s before now, want result_expires (1 day)' % (who, c, age), flush=True)
                report.append({'kind': 'mysql', 'role': 'backend_cleanup cutoff', 'index': 0, 'celery': '1 day', 'bench': str(age), 'hard': True})
    print('mysql backend_cleanup: cutoffs celery %s, bench %s (each 1 day before it ran; Celery ran at %s)' % (ccut, bcut, ran), flush=True)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bench', required=True)
    ap.add_argument('--only', choices=['redis', 'mysql'])
    ap.add_argument('--track-started', action='store_true')
    ap.add_argument('--workload', default='roundtrip', choices=sorted(list(REDIS_WORKLOADS) + ['cleanup']),
                    help='the lifecycle compared (MySQL: roundtrip, progress, failure, retry, store-only, polling, group, extended, cleanup)')
    ap.add_argument('--out', help='directory for the captured streams (default: a temp dir, printed)')
    ap.add_argument('--redis-db', type=int, default=11)
    ap.add_argument('--mysql-db', default='celery_bench_interop')
    ap.add_argument('--broker-port', type=int, default=6391)
    ap.add_argument('--poll-task-seconds', type=float, default=1.2,
                    help='MySQL: the measured Celery task sleeps this long so its caller polls several times')
    ap.add_argument('--bench-celery', default='5.2', choices=['5.2', '5.6'],
                    help='the --celery line bench emulates (5.2 = the installed Celery; 5.6 only to list the expected differences)')
    ap.add_argument('--json', help='write the differences found to this JSON file')
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix='interop-traffic-')
    keep = a.out is not None
    a.out = a.out or tmp
    os.makedirs(a.out, exist_ok=True)
    print('normalisation rules:', flush=True)
    for rule in NORMALISATION + WORKLOAD_RULES.get(a.workload, []):
        print('  - ' + rule, flush=True)
    if a.workload == 'cleanup' and a.only != 'mysql':
        die('--workload cleanup is compared on MySQL only (use --only mysql): Redis results expire by themselves')
    if a.workload not in ('roundtrip', 'failure', 'progress', 'polling', 'group', 'cleanup', 'extended', 'store-only', 'retry') and a.only != 'redis':
        die('--workload %s is compared on Redis only (use --only redis)' % a.workload)
    report, ok = [], True
    try:
        if a.workload == 'cleanup':
            ok &= run_mysql_cleanup(a, tmp, report)
        else:
            if a.only in (None, 'redis'):
                ok &= run_redis(a, tmp, report)
            if a.only in (None, 'mysql'):
                ok &= run_mysql(a, tmp, report)
    finally:
        if a.out != tmp or not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(report, f, indent=1, default=str)
    print(('streams written to %s' % a.out) if keep else 'streams not kept (use --out DIR to keep them)', flush=True)
    print('traffic: %s' % ('same' if ok else 'DIFFERENT'), flush=True)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
