"""Run one lifecycle with real Celery 5.2 against db+postgresql://...:
argv: url role task_id. role 'worker' stores SUCCESS 5 as a prefork child
(QueuePool engine: forked session manager); 'caller' reads it twice and
forgets it (NullPool engine per operation)."""
import sys
from celery import Celery
from celery.backends.database import DatabaseBackend

url, role, task_id = sys.argv[1:4]
app = Celery('t', backend=url)
b = app.backend
sm = DatabaseBackend.ResultSession.__defaults__[0]
if role == 'worker':
    sm._after_fork()
    b.store_result(task_id, 5, 'SUCCESS')
else:
    b.get_task_meta(task_id)
    b._cache.clear()
    b.get_task_meta(task_id)
    b.forget(task_id)
