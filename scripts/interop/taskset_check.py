#!/usr/bin/python3
"""Check 1 for GroupResult.save (workload group --group-save) on Redis, MySQL and PostgreSQL.

bench saves, restores and deletes each GroupResult after joining it, so the
celery-taskset-meta-<gid> key is gone even with --keep. This script runs bench under
redis-cli MONITOR, takes the value bench SET (SETEX) for the key from the MONITOR stream, and:
  * bytes: it must equal what Celery 5.2's RedisBackend._save_group writes for the same group:
    app.backend.encode({'result': GroupResult(gid, members).as_tuple()}), the members taken from
    the kept member records (group_id = gid) in the order bench saved them;
  * restore: the captured bytes are written back under the key (TTL 600 s) and
    GroupResult.restore(gid, app=app) must return the same member ids, and .join() must return
    the member records' values;
  * the key must have been written with a TTL (SETEX, result_expires) and deleted (DEL) by bench.
MySQL (db+mysql://): the row is deleted too, so the script runs bench with the general log on,
takes bench's INSERT INTO celery_tasksetmeta statement from it, executes that statement again
(the bytes bench sent: the log shows bytes that are not UTF-8 as \\xHH, see unlog), and:
  * restore: GroupResult.restore(gid, app=app) through Celery's DatabaseBackend must unpickle
    it into a GroupResult of group-size members, each a record bench kept, and .join() must
    return their values;
  * bytes: the stored result must equal pickle.dumps(app.GroupResult(gid, members), 5), what
    SQLAlchemy's PickleType stores for Celery's _save_group with the same URL and settings;
  * the group must have been deleted by bench (DELETE FROM celery_tasksetmeta).
PostgreSQL (db+postgresql://): the shared server logs no statements, so before bench runs the script
makes Celery's tables (Celery's own create_all) and puts a trigger on celery_tasksetmeta that copies
every row inserted or deleted into a capture table; bench's create_all finds the tables and keeps
them. The captured row (the bytes the server stored for bench) is inserted again with the trigger
gone, and the same restore, bytes and delete checks as on MySQL apply.

usage: taskset_check.py --bench PATH URL [--celery 5.2|5.6] [--group-size 3]
Prints PROBLEM lines like bench_writes_celery_reads.py; exit 0 ok, 1 problems, 2 capture error.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import traffic  # noqa: E402  (MONITOR parsing)

problems = []


def problem(tid, field, expected, got):
    problems.append((tid, field))
    print('PROBLEM %s %s: expected %s got %s' % (tid, field, expected, got), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bench', required=True)
    ap.add_argument('url')
    ap.add_argument('--celery', default='5.2', choices=['5.2', '5.6'])
    ap.add_argument('--group-size', type=int, default=3)
    a = ap.parse_args()
    if a.url.startswith('db+mysql://'):
        return check_mysql(a)
    if a.url.startswith('db+postgresql://'):
        return check_pg(a)
    import redis
    from celery import Celery
    from celery.result import GroupResult, AsyncResult
    from kombu.utils.encoding import ensure_bytes
    client = redis.Redis.from_url(a.url)
    db = client.connection_pool.connection_kwargs.get('db', 0)
    tmp = tempfile.mkdtemp(prefix='interop-taskset-')
    mon = os.path.join(tmp, 'monitor.txt')
    p, f = traffic.start_monitor(mon)
    try:
        r = subprocess.run([a.bench, '--backend', a.url, '-w', 'group', '--group-save', '--group-size', str(a.group_size),
                            '--tasks', '1', '-c', '1', '--workers', '1', '--warmup', '0s', '--keep', '--force',
                            '--progress', '0', '--celery', a.celery, '--seed', '4243'], capture_output=True, timeout=60)
        time.sleep(0.3)
    finally:
        traffic.stop(p, f)
    if r.returncode != 0:
        print('ERROR bench: %s' % r.stderr.decode()[-1500:])
        return 2
    conns = traffic.parse_monitor(mon, db)
    sets, dels = [], []
    for port, cmds in conns.items():
        for ts, args in cmds:
            name = args[0].upper()
            if len(args) > 1 and args[1].startswith(b'celery-taskset-meta-bec1e7e0-'):
                if name in (b'SETEX', b'SET'):
                    sets.append(args)
                elif name == b'DEL':
                    dels.append(args)
    if not sets:
        print('ERROR no SET/SETEX of celery-taskset-meta-bec1e7e0-* in the MONITOR stream')
        return 2
    app = Celery('interop', backend=a.url)
    n = 0
    for args in sets:
        n += 1
        key = args[1].decode()
        gid = key[len('celery-taskset-meta-'):]
        raw = args[3] if args[0].upper() == b'SETEX' else args[2]
        if args[0].upper() != b'SETEX':
            problem(gid, 'command', 'SETEX (result_expires 1 day)', args[0].decode())
        if not any(d[1] == args[1] for d in dels):
            problem(gid, 'delete', 'DEL of %s by bench (GroupResult.delete)' % key, 'none')
        members = []
        for k in client.scan_iter(match=b'celery-task-meta-bec1e7e0-*', count=1000):
            m = json.loads(client.get(k))
            if m.get('group_id') == gid:
                members.append(m['task_id'])
        try:
            saved = json.loads(raw)
            order = [t[0][0] for t in saved['result'][1]]
        except Exception as e:  # noqa
            problem(gid, 'json', '{"result": [[gid, null], [[[id, null], null], ...]]}', '%s: %r' % (e, raw[:120]))
            continue
        if sorted(order) != sorted(members):
            problem(gid, 'members', 'the %d kept records with group_id %s %s' % (len(members), gid, sorted(members)), sorted(order))
        want = ensure_bytes(app.backend.encode(
            {'result': GroupResult(gid, [AsyncResult(t, app=app) for t in order], app=app).as_tuple()}))
        if want != raw:
            import bench_writes_celery_reads as bw
            problem(gid, 'bytes(celery-save_group)', 'RedisBackend._save_group bytes', bw.first_diff(want, raw))
        client.set(key, raw, ex=600)
        try:
            g = GroupResult.restore(gid, app=app)
            if g is None or [x.id for x in g.results] != order:
                problem(gid, 'restore', 'GroupResult.restore ids %s' % order, g and [x.id for x in g.results])
            else:
                vals = g.join(timeout=5)
                want_vals = [app.backend.get_task_meta(t)['result'] for t in order]
                if vals != want_vals:
                    problem(gid, 'join', repr(want_vals), repr(vals))
        except Exception as e:  # noqa
            problem(gid, 'restore', 'GroupResult.restore + join', '%s: %s' % (type(e).__name__, e))
        finally:
            client.delete(key)
    print('%d saved groups checked, %d problems' % (n, len(problems)))
    return 1 if problems else 0


def unlog(s):
    """The statement a general-log argument shows: MariaDB writes each byte that is not UTF-8 as the
    four characters \\xHH. bench's string literals escape only \\0 \\n \\r \\Z \\' \\" and \\\\ (as PyMySQL does),
    never \\x, so a backslash pair is kept and \\xHH is the byte HH."""
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] == 0x5c and i + 1 < len(s):
            if s[i + 1:i + 2] == b'x' and re.fullmatch(rb'[0-9A-Fa-f]{2}', s[i + 2:i + 4]):
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
            else:
                out += s[i:i + 2]
                i += 2
            continue
        out.append(s[i])
        i += 1
    return bytes(out)


def check_saved_group(app, cur, gid, group_size, kept_ids, stored):
    """Restores saved group gid through Celery and checks it: group_size
    members, each a kept SUCCESS record (kept_ids(ids) returns the ids the
    database holds so), join() giving their results, and the stored bytes
    (stored() returns them) equal to Celery's pickle of the GroupResult.
    The group's row is deleted after, whatever happened."""
    import pickle
    from celery.result import GroupResult
    try:
        g = GroupResult.restore(gid, app=app)
        ids = [x.id for x in g.results] if g is not None else None
        if ids is None or len(ids) != group_size:
            problem(gid, 'restore', 'GroupResult.restore with %d members' % group_size, ids)
            return
        kept = kept_ids(ids)
        if kept != set(ids):
            problem(gid, 'members', 'every member a kept SUCCESS record', sorted(set(ids) - kept))
        vals = g.join(timeout=5)
        want_vals = [app.backend.get_task_meta(t)['result'] for t in ids]
        if vals != want_vals:
            problem(gid, 'join', repr(want_vals), repr(vals))
        raw = stored()
        want = pickle.dumps(app.GroupResult(gid, [app.AsyncResult(t) for t in ids]), 5)
        if raw != want:
            import bench_writes_celery_reads as bw
            problem(gid, 'bytes(PickleType)', 'pickle.dumps(app.GroupResult(...), 5)', bw.first_diff(want, raw))
    except Exception as e:  # noqa
        problem(gid, 'restore', 'GroupResult.restore + join', '%s: %s' % (type(e).__name__, e))
    finally:
        cur.execute('DELETE FROM celery_tasksetmeta WHERE taskset_id = %s', (gid,))


def check_mysql(a):
    import pickle
    from urllib.parse import urlparse
    from celery import Celery
    from celery.result import GroupResult
    import pymysql
    # bench's URL as it is (db+mysql://, which SQLAlchemy opens with MySQLdb), so that the
    # DatabaseBackend pickled into the group holds the same dburi; PyMySQL stands in for MySQLdb.
    pymysql.install_as_MySQLdb()
    db = urlparse(a.url).path.lstrip('/')
    with traffic.GeneralLog() as gl:
        since = gl.now()
        r = subprocess.run([a.bench, '--backend', a.url, '-w', 'group', '--group-save', '--group-size', str(a.group_size),
                            '--tasks', '1', '-c', '1', '--workers', '1', '--warmup', '0s', '--keep', '--force',
                            '--progress', '0', '--celery', a.celery, '--seed', '4243'], capture_output=True, timeout=60)
        time.sleep(0.3)
        threads = gl.rows(db, since)
    if r.returncode != 0:
        print('ERROR bench: %s' % r.stderr.decode()[-1500:])
        return 2
    inserts, deletes = [], []
    for th, evs in threads.items():
        for t, ct, arg in evs:
            if ct != 'Query':
                continue
            if arg.startswith(b'INSERT INTO celery_tasksetmeta'):
                inserts.append(unlog(arg))
            elif arg.startswith(b'DELETE FROM celery_tasksetmeta WHERE'):
                deletes.append(arg)
    if not inserts:
        print('ERROR no INSERT INTO celery_tasksetmeta in the general log')
        return 2
    app = Celery('interop', backend=a.url)
    conn = traffic.mysql_conn(db)
    cur = conn.cursor()

    def stored_mysql(gid):
        cur.execute('SELECT result FROM celery_tasksetmeta WHERE taskset_id = %s', (gid,))
        return cur.fetchone()[0]

    def kept_mysql(ids):
        cur.execute('SELECT task_id FROM celery_taskmeta WHERE task_id IN (%s) AND status = %%s' %
                    ','.join(['%s'] * len(ids)), ids + ['SUCCESS'])
        return {row[0] for row in cur.fetchall()}

    n = 0
    for stmt in inserts:
        n += 1
        m = re.search(rb"'(bec1e7e0-[0-9a-f-]+)'", stmt)
        if not m:
            problem('?', 'insert', "an INSERT naming a bec1e7e0- group id", stmt[:160])
            continue
        gid = m.group(1).decode()
        if not any(gid.encode() in d for d in deletes):
            problem(gid, 'delete', 'DELETE of group %s by bench (GroupResult.delete)' % gid, 'none')
        try:
            cur.execute(stmt)
        except Exception as e:  # noqa
            problem(gid, 'replay', "bench's INSERT executed again", '%s: %s' % (type(e).__name__, e))
            continue
        check_saved_group(app, cur, gid, a.group_size, kept_mysql, lambda: stored_mysql(gid))
    conn.close()
    print('%d saved groups checked, %d problems' % (n, len(problems)))
    return 1 if problems else 0


CAPTURE = 'interop_taskset_capture'


def check_pg(a):
    import pickle
    import psycopg2
    from urllib.parse import urlparse
    from celery import Celery
    from celery.result import GroupResult
    u = urlparse(a.url)
    app = Celery('interop', backend=a.url)   # bench's URL as it is: the pickled backend holds this dburi
    app.backend.ResultSession().close()       # Celery's create_all: celery_taskmeta, celery_tasksetmeta
    conn = psycopg2.connect(host=u.hostname or '127.0.0.1', port=u.port or 5432, user=u.username or 'postgres',
                            dbname=u.path.lstrip('/'))
    conn.autocommit = True
    cur = conn.cursor()

    def unhook():
        cur.execute('DROP TRIGGER IF EXISTS %s ON celery_tasksetmeta' % CAPTURE)
        cur.execute('DROP FUNCTION IF EXISTS %s()' % CAPTURE)
    unhook()
    cur.execute('DROP TABLE IF EXISTS %s' % CAPTURE)
    cur.execute('CREATE TABLE %s (seq serial, op text, id integer, taskset_id varchar(155), result bytea, '
                'date_done timestamp)' % CAPTURE)
    cur.execute("""CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO %s (op, id, taskset_id, result, date_done) VALUES ('INSERT', NEW.id, NEW.taskset_id, NEW.result, NEW.date_done);
  ELSE
    INSERT INTO %s (op, id, taskset_id, result, date_done) VALUES ('DELETE', OLD.id, OLD.taskset_id, NULL, NULL);
  END IF;
  RETURN NULL;
END $$""" % (CAPTURE, CAPTURE, CAPTURE))
    cur.execute('CREATE TRIGGER %s AFTER INSERT OR DELETE ON celery_tasksetmeta FOR EACH ROW EXECUTE FUNCTION %s()'
                % (CAPTURE, CAPTURE))
    try:
        r = subprocess.run([a.bench, '--backend', a.url, '-w', 'group', '--group-save', '--group-size', str(a.group_size),
                            '--tasks', '1', '-c', '1', '--workers', '1', '--warmup', '0s', '--keep', '--force',
                            '--progress', '0', '--celery', a.celery, '--seed', '4243'], capture_output=True, timeout=60)
    finally:
        unhook()
    try:
        if r.returncode != 0:
            print('ERROR bench: %s' % r.stderr.decode()[-1500:])
            return 2
        cur.execute("SELECT op, id, taskset_id, result, date_done FROM %s WHERE taskset_id LIKE 'bec1e7e0-%%' ORDER BY seq"
                    % CAPTURE)
        rows = cur.fetchall()
        inserts = [row for row in rows if row[0] == 'INSERT']
        deleted = {row[2] for row in rows if row[0] == 'DELETE'}
        if not inserts:
            print('ERROR no row inserted into celery_tasksetmeta with a bec1e7e0- id')
            return 2
        def kept_pg(ids):
            cur.execute('SELECT task_id FROM celery_taskmeta WHERE task_id IN %s AND status = %s', (tuple(ids), 'SUCCESS'))
            return {row[0] for row in cur.fetchall()}

        n = 0
        for _, rid, gid, stored, date_done in inserts:
            n += 1
            stored = bytes(stored) if stored is not None else None
            if gid not in deleted:
                problem(gid, 'delete', 'DELETE of group %s by bench (GroupResult.delete)' % gid, 'none')
            if date_done is None:
                problem(gid, 'date_done', 'set (Celery stores datetime.utcnow())', 'NULL')
            cur.execute('INSERT INTO celery_tasksetmeta (id, taskset_id, result, date_done) VALUES (%s, %s, %s, %s)',
                        (rid, gid, stored, date_done))
            check_saved_group(app, cur, gid, a.group_size, kept_pg, lambda: stored)
        print('%d saved groups checked, %d problems' % (n, len(problems)))
        return 1 if problems else 0
    finally:
        cur.execute('DROP TABLE IF EXISTS %s' % CAPTURE)
        conn.close()


if __name__ == '__main__':
    sys.exit(main())
