"""asyncpg: extended protocol only, named prepared statements, binary
results. It cannot fetch rows through a simple Query, where Outpost answers
SHOW outpost.last_route, so through Outpost the route of each statement is
read from Outpost's local statement counter (third argument: the metrics
URL) instead."""
import asyncio
import re
import sys
import urllib.request

import asyncpg

from compat_common import READS, WRITES, args, emit, enc

# Reads before this session sends anything upstream (see psycopg3_compat.py).
LOCAL_BEFORE_WRITES = {"all_products", "join_where_order_limit", "aggregate", "types"}

port, is_outpost = args()
METRICS = sys.argv[3] if len(sys.argv) > 3 else None


def local_count():
    if not METRICS:
        return 0
    body = urllib.request.urlopen(METRICS, timeout=10).read().decode()
    m = re.search(r'^outpost_statements_total\{route="local"\} (\d+)', body, re.M)
    return int(m.group(1)) if m else 0


def dollar(sql):
    n = [0]

    def repl(_m):
        n[0] += 1
        return "$%d" % n[0]

    return re.sub(r"%s", repl, sql)


async def main():
    conn = await asyncpg.connect(
        host="127.0.0.1", port=port, user="postgres", password="postgres", database="postgres", ssl=False
    )
    results, routes = {}, {}
    for name, sql, params in READS + WRITES:
        before = local_count()
        stmt = await conn.prepare(dollar(sql))
        rows = await stmt.fetch(*(params or ()))
        if METRICS:
            routes[name] = "local" if local_count() > before else "not local"
        results[name] = {
            "columns": [[a.name, a.type.name] for a in stmt.get_attributes()],
            "rows": enc([list(r.items()) for r in rows]),
            "status": stmt.get_statusmsg(),
        }
    # The statement cache: the same query text three times reuses one
    # server-side prepared statement.
    for i in range(3):
        results["cached_%d" % i] = enc([dict(r) for r in await conn.fetch("select id, price from products where id <= $1 order by id", 3)])
    results["fetchval"] = enc(await conn.fetchval("select count(*) from orders where qty > $1", 1))
    async with conn.transaction():
        results["tx"] = enc(await conn.fetchrow("select id, stock from products where id = $1 for update", 1))
    try:
        await conn.fetch("select * from no_such_table")
    except asyncpg.PostgresError as e:
        results["error"] = {"sqlstate": e.sqlstate, "message": str(e)}
    results["after_error"] = enc(await conn.fetchval("select count(*) from customers"))
    await conn.close()
    emit(results, routes, LOCAL_BEFORE_WRITES if METRICS else ())


asyncio.run(main())
