"""psycopg2 (libpq, simple protocol, parameters interpolated client-side)."""
import psycopg2

from compat_common import LOCAL, READS, WRITES, args, emit, enc

port, is_outpost = args()
conn = psycopg2.connect(
    host="127.0.0.1", port=port, user="postgres", password="postgres", dbname="postgres", sslmode="disable"
)
results, routes = {}, {}


def run(name, sql, params):
    cur = conn.cursor()
    cur.execute(sql, params)
    results[name] = {
        "status": cur.statusmessage,
        "rowcount": cur.rowcount,
        "columns": [[d.name, d.type_code] for d in cur.description] if cur.description else None,
        "rows": enc(cur.fetchall()) if cur.description else None,
    }
    if is_outpost:
        cur.execute("show outpost.last_route")
        routes[name] = cur.fetchone()[0]


# Autocommit first: Outpost serves reads only outside transactions.
conn.autocommit = True
for name, sql, params in READS + WRITES:
    run(name, sql, params)
# psycopg2's default: a transaction opened before the first statement; it
# starts locally (reads local) and goes upstream at the write. Last, because a ROLLBACK writes WAL that never
# reaches the replica: the session's next local reads wait until the
# replica's position passes it (up to --ryw-timeout).
conn = psycopg2.connect(
    host="127.0.0.1", port=port, user="postgres", password="postgres", dbname="postgres", sslmode="disable"
)
run("tx_read", "select name, email from customers where id = %s", (3,))
run("tx_update", "update products set stock = stock + 1 where id = %s returning stock", (3,))
conn.rollback()
conn.autocommit = True
cur = conn.cursor()
try:
    cur.execute("select * from no_such_table")
except psycopg2.Error as e:
    results["error"] = {"pgcode": e.pgcode, "message": e.diag.message_primary}
run("after_error", "select count(*) from customers", None)
emit(results, routes, LOCAL)
