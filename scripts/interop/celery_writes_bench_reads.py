#!/usr/bin/python3
"""Check 3 (reverse direction): real Celery writes records, bench reads them (bench inspect).

usage: celery_writes_bench_reads.py --bench PATH URL [--tamper FIELD]

URL: redis://, db+mysql://, db+postgresql:// (Celery's own backends), django-db+mysql:// or
django-db+postgresql:// (django-celery-results 2.4's DatabaseBackend, Django set up as in
bench_writes_celery_reads.py; `manage.py migrate django_celery_results` runs first, so the tables
exist on a fresh database and tables bench created must be recorded as migrated).

Celery 5.2's own backend (app.backend of a Celery app with this URL) stores, with ids starting
bec1e7e0-c...:
  SUCCESS    mark_as_done(id, str, request)            (a worker's request: children [], group, parent)
  FAILURE    mark_as_failure(id, ValueError('boom', 42), traceback=<real traceback text>, request)
  STARTED    store_result(id, {'pid', 'hostname'}, 'STARTED', request)   (task_track_started)
  PROGRESS   update_state-equivalent store_result(id, {'current': 1, 'total': 3}, 'PROGRESS')
  EXTENDED   result_extended=True: mark_as_done with name/args/kwargs/worker/retries/queue
Then `bench inspect URL ID... --format json --celery 5.2` (and --result-extended) must report for
each id what Celery's get_task_meta returns:
  status     equal
  result     JSON-decoded equal; FAILURE: bench reports the stored exception dict, which must equal
             Celery's prepare_exception(exc) with exc_message as a JSON list
  traceback  equal text (None when Celery has None)
  date_done  the same instant: Celery's value as its backend returns it (Redis: isoformat text;
             MySQL/PostgreSQL: a naive datetime, UTC; django-db: an aware datetime, set for every state)
             vs bench's ISO text (naive = UTC; +00:00/Z accepted)
  group_id / parent_id (Redis only; the database backend does not store them): equal when Celery has them
--tamper FIELD changes bench's answer for the first id before comparing (a self-test: the check
must then fail naming that field).
Prints "PROBLEM <id> <field>: celery <x> != bench <y>"; exit 0 ok, 1 problems, 2 errors.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import traceback as tb_mod
import uuid

from celery import Celery
from celery.app.task import Context

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_writes_celery_reads as bw  # noqa: E402  (django_app)

problems = []


def problem(tid, field, celery, bench):
    problems.append((tid, field))
    print('PROBLEM %s %s: celery %r != bench %r' % (tid, field, celery, bench), flush=True)


def instant(v):
    if v is None:
        return None
    if isinstance(v, datetime.datetime):
        d = v
    else:
        s = str(v).replace('Z', '+00:00')
        d = datetime.datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.astimezone(datetime.timezone.utc)


def new_id(kind):
    return 'bec1e7e0-c%03x-4000-8000-%012x' % (kind, uuid.uuid4().int & (2**48 - 1))


def boom():
    raise ValueError('boom', 42)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bench', required=True)
    ap.add_argument('url')
    ap.add_argument('--tamper', choices=['status', 'result', 'traceback', 'date_done', 'group_id'])
    a = ap.parse_args()
    url = a.url
    if url.startswith('db+mysql://'):
        url = 'db+mysql+pymysql://' + url[len('db+mysql://'):]
    redis_side = url.startswith('redis')

    def new_app(extended=False):
        if url.startswith(bw.DJANGO_SCHEMES):
            return bw.django_app(url, extended, migrate=True)   # django-celery-results' DatabaseBackend
        app = Celery('interop', backend=url)
        app.conf.result_extended = extended
        return app
    written = []   # (label, id, extended)
    for extended in (False, True):
        app = new_app(extended)
        b = app.backend
        gid, pid = new_id(0xf), new_id(0xe)

        def req(tid, **kw):
            d = dict(id=tid, children=[], group=gid, parent_id=pid, task='tasks.payload', args=[1, 'a'],
                     kwargs={'k': 'v'}, hostname='w1@interop', retries=0, delivery_info={'routing_key': 'celery'})
            d.update(kw)
            return Context(d)
        if not extended:
            t = new_id(1); b.mark_as_done(t, 'x' * 64, request=req(t)); written.append(('SUCCESS', t, False))
            t = new_id(2)
            try:
                boom()
            except ValueError as e:
                tb = ''.join(tb_mod.format_exception(type(e), e, e.__traceback__))
                b.mark_as_failure(t, e, traceback=tb, request=req(t))
            written.append(('FAILURE', t, False))
            t = new_id(3)
            b.store_result(t, {'pid': os.getpid(), 'hostname': 'w1@interop'}, 'STARTED', request=req(t))
            written.append(('STARTED', t, False))
            t = new_id(4)
            b.store_result(t, {'current': 1, 'total': 3}, 'PROGRESS', request=req(t))
            written.append(('PROGRESS', t, False))
        else:
            t = new_id(5); b.mark_as_done(t, {'n': 1, 'l': [1.5, None, 'é']}, request=req(t)); written.append(('EXTENDED', t, True))
    app = new_app()
    for ext in (False, True):
        ids = [t for _, t, e in written if e == ext]
        cmd = [a.bench, 'inspect', a.url] + ids + ['--format', 'json', '--celery', '5.2']
        if ext:
            cmd.append('--result-extended')
        p = subprocess.run(cmd, capture_output=True, timeout=60)
        if p.returncode != 0:
            print('ERROR %s: exit %d: %s' % (' '.join(cmd), p.returncode, p.stderr.decode()[-1500:]))
            return 2
        got = {r['task_id']: r for r in json.loads(p.stdout)}
        for label, tid, e in written:
            if e != ext:
                continue
            app.conf.result_extended = ext
            meta = app.backend.get_task_meta(tid)
            br = got.get(tid)
            if br is None:
                problem(tid, 'present', 'a record', 'missing from bench inspect')
                continue
            if a.tamper and tid == written[0][1]:
                br[a.tamper] = {'status': 'PENDING', 'result': 'tampered', 'traceback': 'tampered',
                                'date_done': '2001-01-01T00:00:00', 'group_id': 'tampered'}[a.tamper]
            if meta['status'] != br.get('status'):
                problem(tid, 'status', meta['status'], br.get('status'))
            want = meta['result']
            if isinstance(want, BaseException):
                want = json.loads(json.dumps(app.backend.prepare_exception(want)))
            if json.loads(json.dumps(want)) != br.get('result'):
                problem(tid, 'result', want, br.get('result'))
            if meta.get('traceback') != br.get('traceback'):
                problem(tid, 'traceback', meta.get('traceback'), br.get('traceback'))
            try:
                ci, bi = instant(meta.get('date_done')), instant(br.get('date_done'))
            except ValueError as err:
                problem(tid, 'date_done', meta.get('date_done'), '%s (%s)' % (br.get('date_done'), err))
            else:
                if ci != bi:
                    problem(tid, 'date_done', str(meta.get('date_done')), br.get('date_done'))
            if redis_side:
                for f in ('group_id', 'parent_id'):
                    if meta.get(f) != br.get(f):
                        problem(tid, f, meta.get(f), br.get(f))
            print('checked %s %s' % (label, tid), flush=True)
    print('%d Celery records read by bench inspect, %d problems' % (len(written), len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
