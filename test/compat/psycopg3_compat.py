"""psycopg 3: server-side parameters (extended protocol), text and binary
results, and named prepared statements (prepare=True)."""
import psycopg

from compat_common import READS, WRITES, args, emit, enc

port, is_outpost = args()
conn = psycopg.connect(
    host="127.0.0.1", port=port, user="postgres", password="postgres", dbname="postgres", sslmode="disable",
    autocommit=True,
)
results, routes = {}, {}


def run(name, sql, params, **kw):
    cur = conn.cursor()
    cur.execute(sql, params, **kw)
    results[name] = {
        "status": cur.statusmessage,
        "rowcount": cur.rowcount,
        "columns": [[d.name, d.type_code] for d in cur.description] if cur.description else None,
        "rows": enc(cur.fetchall()) if cur.description else None,
    }
    if is_outpost:
        # No parameters and text results: psycopg sends a simple Query, but
        # only while it has not decided to prepare the statement (it does
        # after 5 executions), and Outpost answers this SHOW only in a
        # simple Query.
        routes[name] = conn.execute("show outpost.last_route", prepare=False).fetchone()[0]


for name, sql, params in READS + WRITES:
    run(name, sql, params)
# Binary results and named prepared statements, on a second connection that
# has sent nothing upstream yet: right after a statement goes upstream,
# Outpost forwards extended-protocol reads while it learns the write position
# (the simple protocol waits instead), so only these routes are certain.
conn2 = psycopg.connect(
    host="127.0.0.1", port=port, user="postgres", password="postgres", dbname="postgres", sslmode="disable",
    autocommit=True,
)
conn_main, conn = conn, conn2
for name, sql, params in READS[:4]:
    run("binary_" + name, sql, params, binary=True)
for i in range(3):
    run("prepared_%d" % i, READS[1][1], READS[1][2], prepare=True)
    run("prepared_binary_%d" % i, READS[3][1], None, prepare=True, binary=True)
run("binary_function_upstream", READS[6][1], READS[6][2], binary=True)
conn = conn_main
# A transaction: everything in it goes upstream, rolled back.
with conn.transaction(force_rollback=True):
    run("tx_update", "update products set stock = stock - %s where id = %s returning stock", (5, 3))
    run("tx_read", "select stock from products where id = %s", (3,))
try:
    conn.execute("select 1/0")
except psycopg.Error as e:
    results["error"] = {"sqlstate": e.sqlstate, "message": e.diag.message_primary}
run("after_error", "select count(*) from customers where vip = %s", (True,))
LOCAL_EXTENDED = {"all_products", "join_where_order_limit", "aggregate", "types"}
LOCAL_EXTENDED |= {"binary_" + n for n in LOCAL_EXTENDED}
LOCAL_EXTENDED |= {"prepared_%d" % i for i in range(3)} | {"prepared_binary_%d" % i for i in range(3)}
emit(results, routes, LOCAL_EXTENDED)
