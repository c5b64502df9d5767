#!/usr/bin/python3
"""Delete every record whose id starts with the prefix (default bec1e7e0-) from a Redis db or a
MySQL or PostgreSQL database: celery-task-meta-/celery-taskset-meta- keys, celery_taskmeta/celery_tasksetmeta rows
(django-db+mysql:// and django-db+postgresql://: django-celery-results' taskresult/groupresult/chordcounter rows).
usage: cleanup.py URL [--prefix bec1e7e0-]     prints "deleted N"."""
import argparse
ap = argparse.ArgumentParser(); ap.add_argument('url'); ap.add_argument('--prefix', default='bec1e7e0-')
a = ap.parse_args()
n = 0
django = (('django_celery_results_taskresult', 'task_id'), ('django_celery_results_groupresult', 'group_id'),
          ('django_celery_results_chordcounter', 'group_id'))
if a.url.startswith(('redis://', 'rediss://')):
    import redis
    r = redis.Redis.from_url(a.url)
    for pat in ('celery-task-meta-%s*', 'celery-taskset-meta-%s*'):
        for k in r.scan_iter(match=pat % a.prefix, count=1000):
            n += r.delete(k)
elif a.url.startswith(('db+postgresql', 'postgresql', 'django-db+postgresql')):
    import psycopg2
    from sqlalchemy.engine.url import make_url
    u = make_url(a.url.split('+', 1)[1] if a.url.startswith(('db+', 'django-db+')) else a.url)
    c = psycopg2.connect(host=u.host or '127.0.0.1', port=u.port or 5432, user=u.username or 'postgres',
                         password=u.password or '', dbname=u.database)
    c.autocommit = True
    cur = c.cursor()
    tables = (('celery_taskmeta', 'task_id'), ('celery_tasksetmeta', 'taskset_id'))
    if a.url.startswith('django-db+'):
        tables = django
    for table, col in tables:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
        if cur.fetchone()[0]:
            cur.execute("DELETE FROM %s WHERE %s LIKE %%s" % (table, col), (a.prefix + '%',))
            n += cur.rowcount
    c.close()
else:
    import pymysql
    from sqlalchemy.engine.url import make_url
    u = make_url(a.url.split('+', 1)[1] if a.url.startswith(('db+', 'django-db+')) else a.url)
    c = pymysql.connect(host=u.host or '127.0.0.1', port=u.port or 3306, user=u.username or 'root',
                        password=u.password or '', database=u.database, autocommit=True)
    cur = c.cursor()
    tables = (('celery_taskmeta', 'task_id'), ('celery_tasksetmeta', 'taskset_id'))
    if a.url.startswith('django-db+'):
        tables = django
    for table, col in tables:
        cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s", (table,))
        if cur.fetchone()[0]:
            n += cur.execute("DELETE FROM %s WHERE %s LIKE %%s" % (table, col), (a.prefix + '%',))
    c.close()
print('deleted %d' % n)
