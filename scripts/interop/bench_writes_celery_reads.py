#!/usr/bin/python3
"""Check 1: every record bench wrote is read back correctly by real Celery.

usage: bench_writes_celery_reads.py URL [--celery 5.2|5.6] [--extended] [--prefix bec1e7e0-]
       [--expect-state STATE] [--expect-exc "ValueError('boom', 42)"] [--expect-parent-self]
       [--group-size N] [--ungrouped K] [--min-records N]

URL is the backend URL bench wrote to (redis://host:port/db, db+mysql://user@host:port/db,
db+postgresql://user@host:port/db, django-db+mysql://user@host:port/db or
django-db+postgresql://user@host:port/db; db+mysql URLs are opened with the pymysql driver, db+postgresql
ones with psycopg2 (SQLAlchemy's default), as Celery users do; django-db URLs through Django 3.2 with
mysqlclient or psycopg2, django_app below).

For each record whose task id starts with the prefix:
  * Celery's own API reads it: AsyncResult(id).state/.result/.date_done/.traceback and
    app.backend.get_task_meta(id); the state must be one Celery writes to the backend (SUCCESS, STARTED,
    FAILURE, PROGRESS, RETRY), date_done set for SUCCESS/FAILURE and unset otherwise.
    FAILURE: AsyncResult.result is the exception Celery rebuilds (type and args equal to get_task_meta's,
    and to --expect-exc), AsyncResult.traceback is the stored text; other states have no traceback.
  * Redis: the stored bytes must equal app.backend.encode(json.loads(raw)) ("reencode": Celery's
    encoder gives back the identical bytes: separators, escapes, number formatting), AND must equal
    the bytes Celery would store itself for the same values, built with Celery's own
    Backend._get_result_meta (+ task_id) and encode ("celery-meta": key order, which keys exist,
    children/traceback/group_id/parent_id values), with date_done taken from the record.
    date_done must have the --celery line's format (5.2: naive isoformat; 5.6: +00:00); TTL must be set.
    --expect-parent-self: parent_id = the record's own id (failure --retry-rate 1: the re-run's request).
    --group-size/--ungrouped: group and chord members carry group_id in groups of N; chord bodies none.
  * MySQL/PostgreSQL (the same DatabaseBackend and checks): the result column must unpickle to what Celery returns (FAILURE: Celery's
    prepare_exception dict) and be byte-equal to pickle.dumps(value, HIGHEST_PROTOCOL) (SQLAlchemy
    PickleType, what Celery writes); the traceback column is set exactly for FAILURE/RETRY; the extended
    args/kwargs columns must be Celery's encode() bytes. (The database backend stores no group_id/parent_id.)

Only records still present are read: PROGRESS/RETRY/STARTED records are overwritten by the task's
result, chord counters and saved groups are deleted by bench by design (see taskset_check.py).

Prints one line per problem: "PROBLEM <task id> <field>: expected <x> got <y>"; exits 1 on any
problem, 0 with "N records checked (STATE n, ...), 0 problems" otherwise (exit 2 for usage/connection errors).
"""
import argparse
import datetime
import json
import pickle
import re
import sys

from celery import Celery
from celery.result import AsyncResult
from celery.app.task import Context
from kombu.utils.encoding import ensure_bytes

problems = []


def problem(tid, field, expected, got):
    problems.append((tid, field))
    print('PROBLEM %s %s: expected %s got %s' % (tid, field, expected, got), flush=True)


def first_diff(a, b, ctx=40):
    """Describe where byte strings a (expected) and b (got) first differ."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    lo = max(0, i - ctx)
    return 'at byte %d: expected %r got %r' % (i, a[lo:i + ctx], b[lo:i + ctx])


DATE_52 = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$')
DATE_56 = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$')


READ_STATES = ('SUCCESS', 'STARTED', 'FAILURE', 'PROGRESS', 'RETRY')
counts = {}   # state -> records checked


def exc_summary(e):
    return '%s%r' % (type(e).__name__, getattr(e, 'args', ()))


def celery_api_checks(app, tid, stored_traceback=None, opts=None, failure_tb=True):
    """Read one id through Celery's API. Returns the meta dict Celery returns.
    failure_tb=False: a FAILURE has no traceback (django-celery-results 2.4 without result_extended)."""
    try:
        meta = app.backend.get_task_meta(tid)
    except Exception as e:  # noqa
        problem(tid, 'get_task_meta', 'a decodable record', '%s: %s' % (type(e).__name__, e))
        return None
    r = AsyncResult(tid, app=app)
    try:
        state, result, date_done, tb = r.state, r.result, r.date_done, r.traceback
    except Exception as e:  # noqa
        problem(tid, 'AsyncResult', 'state/result/date_done/traceback readable', '%s: %s' % (type(e).__name__, e))
        return meta
    counts[state] = counts.get(state, 0) + 1
    if state not in READ_STATES:
        problem(tid, 'state', ' or '.join(READ_STATES), repr(state))
    if opts is not None and opts.expect_state and state != opts.expect_state:
        problem(tid, 'state', '%s (every record of this workload)' % opts.expect_state, repr(state))
    if state != meta.get('status'):
        problem(tid, 'state', 'AsyncResult.state == get_task_meta status %r' % meta.get('status'), repr(state))
    mres = meta.get('result')
    if state == 'FAILURE':
        # Celery turns the stored {"exc_type", "exc_message", "exc_module"} back into the exception
        if not isinstance(result, BaseException):
            problem(tid, 'result', 'an exception instance for FAILURE', repr(result))
        elif not (type(result) is type(mres) and result.args == getattr(mres, 'args', None)):
            problem(tid, 'result', 'AsyncResult.result == get_task_meta result %s' % exc_summary(mres), exc_summary(result))
        elif opts is not None and opts.expect_exc and exc_summary(result) != opts.expect_exc:
            problem(tid, 'result', opts.expect_exc, exc_summary(result))
        if not failure_tb:
            if tb is not None:
                problem(tid, 'traceback', 'None (django-celery-results stores a traceback only with result_extended)',
                        repr(tb)[:80])
        elif not (isinstance(tb, str) and tb.startswith('Traceback (most recent call last):')):
            problem(tid, 'traceback', 'AsyncResult.traceback: the stored traceback text', repr(tb)[:80])
        elif stored_traceback is not None and tb != stored_traceback:
            problem(tid, 'traceback', 'AsyncResult.traceback == stored text', first_diff(stored_traceback.encode(), tb.encode()))
    else:
        if result != mres:
            problem(tid, 'result', 'AsyncResult.result == get_task_meta result %r' % (mres,), repr(result))
        if tb is not None:
            problem(tid, 'traceback', 'None for %s' % state, repr(tb)[:80])
    if state in ('SUCCESS', 'FAILURE'):
        if not isinstance(date_done, datetime.datetime):
            problem(tid, 'date_done', 'a datetime for %s' % state, repr(date_done))
    elif state in ('STARTED', 'PROGRESS', 'RETRY'):
        if date_done is not None:
            problem(tid, 'date_done', 'None for %s' % state, repr(date_done))
    if state == 'STARTED' and not (isinstance(result, dict) and set(result) == {'pid', 'hostname'}):
        problem(tid, 'result', 'STARTED result {"pid": int, "hostname": str}', repr(result))
    if meta.get('task_id', tid) != tid:
        problem(tid, 'task_id', repr(tid), repr(meta.get('task_id')))
    return meta


def group_checks(url, metas, opts):
    """Redis: group/chord members carry group_id (Celery's request.group). metas: {tid: raw meta}."""
    if not opts.group_size:
        return
    groups, ungrouped = {}, []
    for tid, m in metas.items():
        g = m.get('group_id') if isinstance(m, dict) else None
        if g is None:
            ungrouped.append(tid)
        else:
            groups.setdefault(g, []).append(tid)
    if not groups:
        problem('-', 'group_id', 'members carrying group_id', 'no record has a group_id')
    for g, members in groups.items():
        if len(members) != opts.group_size:
            problem(g, 'group size', '%d records with group_id %s' % (opts.group_size, g), len(members))
    if opts.ungrouped is not None and len(ungrouped) != opts.ungrouped:
        problem('-', 'ungrouped', '%d records without group_id (chord bodies)' % opts.ungrouped, len(ungrouped))
    if opts.chord_body_parent:
        # Celery: the last header task's on_chord_part_return sends the body from inside that task, so
        # the body's request.parent_id = the last header task's id (spec §2.6)
        members = {t for ts in groups.values() for t in ts}
        for tid in ungrouped:
            p = metas[tid].get('parent_id')
            if p not in members:
                problem(tid, 'parent_id(chord body)', 'the id of a chord header task (the body is sent from '
                        'the last header task, so Celery stores its id as parent_id)', repr(p))
    print('groups: %d of %d members; %d records without group_id' % (len(groups), opts.group_size, len(ungrouped)))


def celery_request(meta):
    """The request Celery's worker would have had when storing this meta."""
    d = {'children': [],  # a worker-run task with no children stores []
         'group': meta.get('group_id'), 'parent_id': meta.get('parent_id')}
    if 'name' in meta:
        d.update(task=meta['name'], args=meta.get('args'), kwargs=meta.get('kwargs'),
                 hostname=meta.get('worker'), retries=meta.get('retries'),
                 delivery_info={'routing_key': meta.get('queue')})
    return Context(d)


def check_redis(app, url, prefix, line, extended, opts):
    import redis
    client = redis.Redis.from_url(url)
    n = 0
    metas = {}
    for key in client.scan_iter(match=('celery-task-meta-%s*' % prefix).encode(), count=1000):
        tid = key.decode()[len('celery-task-meta-'):]
        raw = client.get(key)
        if raw is None:
            continue
        n += 1
        try:
            meta = json.loads(raw)
        except Exception as e:  # noqa
            problem(tid, 'json', 'valid JSON', '%s: %r' % (e, raw[:80]))
            continue
        # 1. Celery's encoder re-encodes what it decoded to the identical bytes.
        again = ensure_bytes(app.backend.encode(meta))
        if again != raw:
            problem(tid, 'bytes(reencode)', 'app.backend.encode(json.loads(raw)) == raw',
                    first_diff(again, raw))
        # 2. The bytes Celery itself would store for these values (key order, key set).
        if isinstance(meta, dict):
            req = celery_request(meta)
            want = app.backend._get_result_meta(result=meta.get('result'), state=meta.get('status'),
                                                traceback=meta.get('traceback'), request=req)
            want['date_done'] = meta.get('date_done') if want['date_done'] is not None else None
            want['task_id'] = tid
            want_raw = ensure_bytes(app.backend.encode(want))
            if want_raw != raw:
                problem(tid, 'bytes(celery-meta)', 'Celery._get_result_meta bytes %s' % list(want),
                        'keys %s; %s' % (list(meta), first_diff(want_raw, raw)))
            metas[tid] = meta
            dd = meta.get('date_done')
            if opts.expect_retries is not None and extended and meta.get('retries') != opts.expect_retries:
                problem(tid, 'retries', '%d (result_extended: the re-run\'s request.retries)' % opts.expect_retries,
                        repr(meta.get('retries')))
            if opts.expect_parent_self and meta.get('parent_id') != tid:
                problem(tid, 'parent_id', 'the task\'s own id (a retried task\'s re-run has request.parent_id = its id)',
                        repr(meta.get('parent_id')))
            if meta.get('status') in ('SUCCESS', 'FAILURE'):
                rx = DATE_56 if line == '5.6' else DATE_52
                if not (isinstance(dd, str) and rx.match(dd)):
                    problem(tid, 'date_done', 'Celery %s isoformat (%s)' % (line, rx.pattern), repr(dd))
            if extended and 'name' not in meta:
                problem(tid, 'extended', 'name/args/kwargs/worker/retries/queue (result_extended)', list(meta))
            if not extended and 'name' in meta:
                problem(tid, 'extended', 'no extended fields (result_extended off)', list(meta))
        ttl = client.ttl(key)
        if not (0 < ttl <= 86400):
            problem(tid, 'ttl', 'SETEX TTL in (0, 86400]', ttl)
        celery_api_checks(app, tid, meta.get('traceback') if isinstance(meta, dict) else None, opts)
    group_checks(url, metas, opts)
    return n


def db_connect(url):
    """A DB-API connection to the database of a db+mysql[+pymysql]:// or db+postgresql[+psycopg2]:// URL
    (pymysql / psycopg2, the drivers Celery users have), and whether it is PostgreSQL."""
    from sqlalchemy.engine.url import make_url
    u = make_url(url[len('db+'):])
    if u.drivername.startswith('postgresql'):
        import psycopg2
        return psycopg2.connect(host=u.host or '127.0.0.1', port=u.port or 5432, user=u.username or 'postgres',
                                password=u.password or '', dbname=u.database), True
    import pymysql
    return pymysql.connect(host=u.host or '127.0.0.1', port=u.port or 3306, user=u.username or 'root',
                           password=u.password or '', database=u.database), False


def check_db(app, url, prefix, line, extended, opts):
    """The database backend (MySQL/MariaDB or PostgreSQL): Celery's DatabaseBackend reads every row."""
    conn, pg = db_connect(url)
    try:
        cur = conn.cursor()
        if pg:
            cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                        "AND table_name = 'celery_taskmeta'")
        else:
            cur.execute("SHOW COLUMNS FROM celery_taskmeta")
        cols = [r[0] for r in cur.fetchall()]
        sel = ['task_id', 'status', 'result', 'date_done', 'traceback']
        ext = [c for c in ('name', 'args', 'kwargs', 'worker', 'retries', 'queue') if c in cols]
        cur.execute("SELECT %s FROM celery_taskmeta WHERE task_id LIKE %%s ORDER BY id" % ', '.join(sel + ext),
                    (prefix.replace('_', r'\_') + '%',))
        rows = cur.fetchall()
    finally:
        conn.close()
    n = 0
    for row in rows:
        n += 1
        rec = dict(zip(sel + ext, row))
        for f in ('result', 'args', 'kwargs'):
            if isinstance(rec.get(f), memoryview):   # psycopg2 returns bytea as memoryview
                rec[f] = bytes(rec[f])
        tid = rec['task_id']
        meta = celery_api_checks(app, tid, rec['traceback'], opts)
        raw = rec['result']
        try:
            val = pickle.loads(raw) if raw is not None else None
        except Exception as e:  # noqa
            problem(tid, 'result(pickle)', 'a pickle', '%s: %r' % (e, raw[:40]))
            continue
        mres = meta.get('result') if meta is not None else None
        if isinstance(mres, BaseException):
            # FAILURE: the column holds Celery's prepare_exception dict (result_serializer json), pickled
            want_val = app.backend.prepare_exception(mres)
            if val != want_val:
                problem(tid, 'result(pickle)', 'pickle.loads(column) == prepare_exception(%s) %r' % (exc_summary(mres), want_val), repr(val))
        elif meta is not None and val != mres:
            problem(tid, 'result(pickle)', 'pickle.loads(column) == Celery result %r' % (meta.get('result'),), repr(val))
        if raw is not None:
            want = pickle.dumps(val, pickle.HIGHEST_PROTOCOL)
            if want != raw:
                problem(tid, 'result(bytes)', 'pickle.dumps(value, HIGHEST_PROTOCOL=%d)' % pickle.HIGHEST_PROTOCOL,
                        first_diff(want, raw))
        if rec['status'] in ('SUCCESS', 'FAILURE') and rec['date_done'] is None:
            problem(tid, 'date_done', 'set for %s' % rec['status'], 'NULL')
        if rec['status'] in ('STARTED', 'PROGRESS', 'RETRY') and rec['date_done'] is not None:
            problem(tid, 'date_done', 'NULL for %s' % rec['status'], repr(rec['date_done']))
        if rec['status'] not in ('FAILURE', 'RETRY') and rec['traceback'] is not None:
            problem(tid, 'traceback', 'NULL', repr(rec['traceback'])[:80])
        if rec['status'] in ('FAILURE', 'RETRY') and not rec['traceback']:
            problem(tid, 'traceback', 'the traceback text for %s' % rec['status'], repr(rec['traceback']))
        if ext:
            if extended:
                for f in ('args', 'kwargs'):
                    v = rec[f]
                    try:
                        dec = app.backend.decode(v)
                    except Exception as e:  # noqa
                        problem(tid, f, 'Celery-encoded JSON', '%s: %r' % (e, v))
                        continue
                    want = ensure_bytes(app.backend.encode(dec))
                    if want != ensure_bytes(v):
                        problem(tid, f, repr(want), repr(v))
                if rec['name'] is None or rec['worker'] is None or rec['queue'] is None:
                    problem(tid, 'extended', 'name/worker/queue set (result_extended)',
                            {k: rec[k] for k in ext})
            elif any(rec[k] is not None for k in ext):
                problem(tid, 'extended', 'extended columns NULL (result_extended off)',
                        {k: rec[k] for k in ext})
    return n


DJANGO_SCHEMES = ('django-db+mysql://', 'django-db+postgresql://')


def django_app(url, extended, migrate=False):
    """A Celery app whose backend is django-celery-results' DatabaseBackend ('django-db') on the
    database of a django-db+mysql://user@host:port/db URL (Django 3.2 with mysqlclient) or a
    django-db+postgresql://user@host:port/db URL (Django 3.2 with psycopg2), USE_TZ, TIME_ZONE UTC.
    migrate: run `manage.py migrate django_celery_results` first (creates the tables on a fresh
    database, a no-op where they are recorded in django_migrations)."""
    from sqlalchemy.engine.url import make_url
    u = make_url(url[len('django-db+'):])
    import django
    from django.conf import settings
    if settings.configured:   # a second app in the same process (celery_writes_bench_reads.py)
        app = Celery('interop', backend='django-db')
        app.conf.result_extended = extended
        return app
    if u.drivername.startswith('postgresql'):
        db = {'ENGINE': 'django.db.backends.postgresql', 'USER': u.username or 'postgres', 'PORT': str(u.port or 5432)}
    else:
        db = {'ENGINE': 'django.db.backends.mysql', 'USER': u.username or 'root', 'PORT': str(u.port or 3306)}
    db.update(NAME=u.database, PASSWORD=u.password or '', HOST=u.host or '127.0.0.1')
    settings.configure(SECRET_KEY='bench', INSTALLED_APPS=['django_celery_results'], USE_TZ=True, TIME_ZONE='UTC',
                       DATABASES={'default': db})
    django.setup()
    if migrate:
        from django.core.management import call_command
        call_command('migrate', 'django_celery_results', verbosity=0)
    app = Celery('interop', backend='django-db')
    app.conf.result_extended = extended
    return app


def check_django(app, url, prefix, line, extended, opts):
    """django-celery-results 2.4: every TaskResult row bench wrote is read by Celery through the
    django-db backend, and its columns are what the backend's _store_result writes: result and meta
    as the backend's encode_content text (application/json, utf-8; meta {"children": []} for a
    worker-run task), traceback only with result_extended (2.4's _get_extended_properties sets it to
    None otherwise), task_name/task_args/task_kwargs/worker exactly with result_extended; date_done an
    aware datetime within 10 minutes of now, date_created aware and not after it (the model's field
    order: Django's INSERT takes date_created's auto_now_add first, then date_done's auto_now)."""
    from django_celery_results.models import TaskResult
    n = 0
    want_meta = app.backend.encode_content({'children': []})[2]
    now = datetime.datetime.now(datetime.timezone.utc)
    for row in TaskResult.objects.filter(task_id__startswith=prefix).order_by('id'):
        n += 1
        tid = row.task_id
        meta = celery_api_checks(app, tid, row.traceback, opts, failure_tb=extended)
        if (row.content_type, row.content_encoding) != ('application/json', 'utf-8'):
            problem(tid, 'content_type', "('application/json', 'utf-8')", (row.content_type, row.content_encoding))
        try:
            val = json.loads(row.result) if row.result is not None else None
        except Exception as e:  # noqa
            problem(tid, 'result(json)', 'JSON text', '%s: %r' % (e, row.result[:80]))
            continue
        mres = meta.get('result') if meta is not None else None
        if meta is not None:
            # the text Celery's backend writes for the value it read: prepare_exception for FAILURE
            celery_val = app.backend.prepare_exception(mres) if isinstance(mres, BaseException) else mres
            if val != json.loads(json.dumps(celery_val)):
                problem(tid, 'result(json)', 'json.loads(column) == %r' % (celery_val,), repr(val))
            want = app.backend.encode_content(celery_val)[2]
            if row.result is not None and want != row.result:
                problem(tid, 'result(text)', 'encode_content(Celery value) == column',
                        first_diff(want.encode(), row.result.encode()))
        if row.meta != want_meta:
            problem(tid, 'meta', repr(want_meta), repr(row.meta))
        if row.date_done is None or row.date_done.tzinfo is None:
            problem(tid, 'date_done', 'an aware datetime (USE_TZ)', repr(row.date_done))
        elif abs((row.date_done - now).total_seconds()) > 600:
            # the instant, not just the type: a wall clock in another zone would be hours off
            problem(tid, 'date_done', 'within 10 minutes of now (%s)' % now.isoformat(), row.date_done.isoformat())
        elif row.date_created is None or row.date_created.tzinfo is None or row.date_created > row.date_done:
            # Django: auto_now_add date_created at the INSERT, auto_now date_done at every save
            problem(tid, 'date_created', 'an aware datetime not after date_done %s' % row.date_done.isoformat(),
                    repr(row.date_created))
        if extended and row.status in ('FAILURE', 'RETRY'):
            if not (row.traceback or '').startswith('Traceback (most recent call last):'):
                problem(tid, 'traceback', 'the traceback text for %s (result_extended)' % row.status, repr(row.traceback)[:80])
        elif row.traceback is not None:
            problem(tid, 'traceback', 'NULL', repr(row.traceback)[:80])
        ext = {'task_name': row.task_name, 'task_args': row.task_args, 'task_kwargs': row.task_kwargs, 'worker': row.worker}
        if extended:
            for f in ('task_args', 'task_kwargs'):
                v = ext[f]
                try:
                    enc = app.backend.encode_content(json.loads(v))[2]
                except Exception as e:  # noqa
                    problem(tid, f, 'encode_content JSON text', '%s: %r' % (e, v))
                    continue
                if enc != v:
                    problem(tid, f, repr(enc), repr(v))
            if row.task_name is None or row.worker is None:
                problem(tid, 'extended', 'task_name/worker set (result_extended)', ext)
        elif any(v is not None for v in ext.values()):
            problem(tid, 'extended', 'extended columns NULL (result_extended off)', ext)
        if row.periodic_task_name is not None:
            problem(tid, 'periodic_task_name', 'NULL', repr(row.periodic_task_name))
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('url')
    ap.add_argument('--celery', default='5.6', choices=['5.2', '5.6'])
    ap.add_argument('--extended', action='store_true')
    ap.add_argument('--prefix', default='bec1e7e0-')
    ap.add_argument('--expect-state', help='every record must have this state (e.g. FAILURE for --failure-rate 1)')
    ap.add_argument('--expect-exc', help='FAILURE records: the exception Celery rebuilds, e.g. "ValueError(\'boom\', 42)"')
    ap.add_argument('--expect-parent-self', action='store_true',
                    help='Redis: every record has parent_id = its own id (failure --retry-rate 1: the re-run)')
    ap.add_argument('--group-size', type=int, default=0,
                    help='Redis: records with a group_id come in groups of exactly this size (group/chord members)')
    ap.add_argument('--ungrouped', type=int, help='Redis: exactly this many records have no group_id (chord bodies)')
    ap.add_argument('--chord-body-parent', action='store_true',
                    help='Redis: every record without group_id (a chord body) has parent_id = a header task id')
    ap.add_argument('--expect-retries', type=int,
                    help='Redis, --extended: every record has "retries" equal to this (1 for the re-run after a retry)')
    ap.add_argument('--min-records', type=int, default=1,
                    help='fail when fewer records than this are found (default 1)')
    a = ap.parse_args()
    url = a.url
    if url.startswith('db+mysql://'):
        url = 'db+mysql+pymysql://' + url[len('db+mysql://'):]
    elif url.startswith('mysql://'):
        url = 'db+mysql+pymysql://' + url[len('mysql://'):]
    try:
        if url.startswith(DJANGO_SCHEMES):
            app = django_app(url, a.extended)
        else:
            app = Celery('interop', backend=url)
            app.conf.result_extended = a.extended
        if url.startswith(DJANGO_SCHEMES):
            n = check_django(app, url, a.prefix, a.celery, a.extended, a)
        elif url.startswith(('redis://', 'rediss://')):
            n = check_redis(app, url, a.prefix, a.celery, a.extended, a)
        elif url.startswith('db+'):
            n = check_db(app, url, a.prefix, a.celery, a.extended, a)
        else:
            print('unsupported URL %s' % url, file=sys.stderr)
            return 2
    except Exception as e:  # noqa
        print('ERROR %s: %s' % (type(e).__name__, e), file=sys.stderr)
        return 2
    if n < a.min_records:
        print('PROBLEM - records: expected at least %d records starting %s got %d' % (a.min_records, a.prefix, n))
        problems.append(('-', 'records'))
    print('%d records checked (%s), %d problems' % (n, ', '.join('%s %d' % kv for kv in sorted(counts.items())), len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
