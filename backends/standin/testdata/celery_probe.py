"""Drive the embedded servers with a real Celery result backend.

Usage: python3 celery_probe.py MYSQL_URL REDIS_URL

For each URL (db+mysql:// is run through SQLAlchemy + PyMySQL), Celery's own
backend stores SUCCESS, STARTED then SUCCESS with every byte value, and
FAILURE results, reads them back, forgets one and, on MySQL, runs the daily
cleanup. Prints one line per check; exits non-zero on the first mismatch.
"""
import sys
import uuid

from celery import Celery, states

ALL_BYTES = bytes(range(256)).decode('latin-1')


def check(url):
    app = Celery('probe', backend=url)
    app.conf.result_extended = True
    b = app.backend
    ids = [str(uuid.uuid4()) for _ in range(3)]
    b.store_result(ids[0], 5, states.SUCCESS)
    b.store_result(ids[1], {'pid': 1, 'hostname': 'w@h'}, states.STARTED)
    b.store_result(ids[1], ALL_BYTES, states.SUCCESS)
    try:
        raise ValueError('boom!')
    except ValueError as e:
        b.mark_as_failure(ids[2], e)
    got = [b.get_task_meta(i) for i in ids]
    assert got[0]['status'] == 'SUCCESS' and got[0]['result'] == 5, got[0]
    assert got[1]['status'] == 'SUCCESS' and got[1]['result'] == ALL_BYTES, got[1]
    assert got[2]['status'] == 'FAILURE' and isinstance(got[2]['result'], ValueError), got[2]
    b.forget(ids[0])
    assert b.get_task_meta(ids[0])['status'] == 'PENDING'
    if url.startswith('db+'):
        b.cleanup()
        with b.ResultSession() as s:
            dialect = s.get_bind().dialect
            s.execute('SELECT 1')  # connects, so the dialect knows the server
            print('dialect', dialect.name, 'mariadb' if dialect.is_mariadb else 'mysql',
                  'sequences' if dialect.supports_sequences else 'auto_increment')
    print('ok', url.split(':')[0])


for url in sys.argv[1:]:
    check(url)
