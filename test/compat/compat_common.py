"""Helpers shared by the Python compatibility scripts.

Each script connects to the port given on the command line, runs the same
reads and self-cleaning writes, and prints one JSON document. The Node test
runs it against Postgres and against Outpost and compares the documents, so
values are encoded with their Python type: a driver that decodes a value
differently through Outpost (another type, another precision) shows up.
"""
import datetime
import decimal
import json
import sys
import uuid


def enc(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        # JSON numbers lose precision past 2**53 in the Node reader.
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float": repr(v)}
    if isinstance(v, decimal.Decimal):
        return {"decimal": str(v)}
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"bytes": bytes(v).hex()}
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return {type(v).__name__: v.isoformat()}
    if isinstance(v, datetime.timedelta):
        return {"timedelta": str(v)}
    if isinstance(v, uuid.UUID):
        return {"uuid": str(v)}
    if isinstance(v, dict):
        return {"dict": {str(k): enc(x) for k, x in v.items()}}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    # Records (asyncpg.Record) and anything else iterable by position.
    if hasattr(v, "items") and hasattr(v, "keys"):
        return {"record": [[k, enc(x)] for k, x in v.items()]}
    return {type(v).__name__: str(v)}


def args():
    """port, is_outpost"""
    return int(sys.argv[1]), sys.argv[2] == "outpost"


def emit(results, routes, local=()):
    """`local`: statements whose route through Outpost must be 'local'."""
    doc = {"results": results, "routes": routes, "local": sorted(local)}
    json.dump(doc, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


# The same statements for every driver, with %s placeholders (psycopg
# style); asyncpg's script rewrites them to $n.
READS = [
    ("all_products", "select * from products order by id", None),
    (
        "join_where_order_limit",
        "select c.name, o.id, o.qty * 10 as units, p.price, o.placed_at"
        " from orders o join customers c on c.id = o.customer_id join products p on p.id = o.product_id"
        " where o.qty >= %s and c.name <> %s order by o.id desc limit %s",
        (2, "nobody", 3),
    ),
    (
        "aggregate",
        "select c.vip, count(*) as n, sum(o.qty) as qty, avg(o.qty) as avg_qty, min(o.placed_at) as first"
        " from customers c join orders o on o.customer_id = c.id group by c.vip order by c.vip",
        None,
    ),
    ("types", "select id, price, stock, active, tags, attrs, image, released, weight from products order by id", None),
    ("in_list", "select id, name from customers where id = any(%s) order by id", ([1, 3, 4],)),
    ("null_param", "select id from orders where note is not distinct from %s order by id", (None,)),
    ("function_upstream", "select order_total(%s) as total, now() is not null as has_now", (2,)),
]

# Read back after the session's own write: must see it (read your writes).
WRITE_ID = 910
WRITES = [
    (
        "insert",
        "insert into orders values (%s, 2, 4, 3, '2024-06-01 08:00:00+00', %s) returning *",
        (WRITE_ID, "py"),
    ),
    ("update", "update orders set qty = qty * 2, note = note || '!' where id = %s returning qty, note", (WRITE_ID,)),
    (
        "read_back",
        "select o.id, o.qty, o.note, c.name from orders o join customers c on c.id = o.customer_id where o.id = %s",
        (WRITE_ID,),
    ),
    ("delete", "delete from orders where id = %s", (WRITE_ID,)),
    ("count_after", "select count(*) from orders", None),
]

# Statements whose route, through Outpost, must be 'local'.
LOCAL = {"all_products", "join_where_order_limit", "aggregate", "read_back", "count_after"}
