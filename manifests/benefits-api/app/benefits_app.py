"""benefits-api's example application: a plain WSGI app that gunicorn serves.

Each request to `/visits` writes a row to PostgreSQL and increments a key in Redis,
through the `DATABASE_URL` and `REDIS_URL` that `envsync up` gives the development
container (built from [services.postgres] and [services.redis]), and answers with both
as JSON. `/health` answers without touching either: the container's health check.
"""

import json
import os
import socket

import psycopg2
import redis

REDIS_KEY = "benefits:visits"


def record_visit(path):
    """Write one row and one increment; return what the stores now hold."""
    with psycopg2.connect(os.environ["DATABASE_URL"]) as db, db.cursor() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS visits ("
            " id serial PRIMARY KEY, path text NOT NULL,"
            " served_by text NOT NULL, at timestamptz NOT NULL DEFAULT now())"
        )
        cur.execute(
            "INSERT INTO visits (path, served_by) VALUES (%s, %s) RETURNING id",
            (path, socket.gethostname()),
        )
        row_id = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM visits")
        rows = cur.fetchone()[0]
    db.close()
    cache = redis.Redis.from_url(os.environ["REDIS_URL"])
    counter = cache.incr(REDIS_KEY)
    return {"row_id": row_id, "rows": rows, "redis_key": REDIS_KEY, "redis_value": counter}


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/health":
        status, body = "200 OK", {"status": "ok"}
    elif path == "/visits":
        try:
            status, body = "200 OK", {"app": "benefits-api", **record_visit(path)}
        except (psycopg2.Error, redis.RedisError, KeyError) as err:
            status, body = "503 Service Unavailable", {"error": f"{type(err).__name__}: {err}"}
    else:
        status, body = "404 Not Found", {"error": f"no route {path}", "routes": ["/visits", "/health"]}
    data = (json.dumps(body, sort_keys=True) + "\n").encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
