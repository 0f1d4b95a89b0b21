/**
 * Random SELECTs over test/corpus/schema.sql (in the spirit of SQLancer's
 * differential testing): projections of columns, expressions, functions and
 * casts; WHERE trees of comparisons, IS NULL, LIKE, IN, BETWEEN under
 * AND/OR/NOT; joins; GROUP BY with aggregates and HAVING; DISTINCT;
 * ORDER BY with NULLS FIRST/LAST always ending in a total order (the keys of
 * every table in FROM) so row order is comparable; LIMIT/OFFSET.
 */

import { prng } from '../helpers/prng.js';

export { prng };

type Kind =
  | 'int2'
  | 'int4'
  | 'int8'
  | 'numeric'
  | 'float8'
  | 'float4'
  | 'text'
  | 'bpchar'
  | 'bool'
  | 'date'
  | 'tstz'
  | 'uuid'
  | 'jsonb'
  /** order_status (declared 'pending', 'paid', 'shipped', 'cancelled'). */
  | 'enum'
  | 'other';

interface Col {
  name: string;
  kind: Kind;
}

interface Table {
  name: string;
  key: string[];
  cols: Col[];
}

const c = (name: string, kind: Kind): Col => ({ name, kind });

const TABLES: Table[] = [
  {
    name: 'users',
    key: ['id'],
    cols: [
      c('id', 'int4'),
      c('email', 'text'),
      c('name', 'text'),
      c('active', 'bool'),
      c('age', 'int2'),
      c('karma', 'int8'),
      c('balance', 'numeric'),
      c('score', 'float8'),
      c('rating', 'float4'),
      c('country', 'bpchar'),
      c('created_at', 'tstz'),
      c('birth', 'date'),
      c('last_seen', 'other'),
      c('ext_id', 'uuid'),
      c('tags', 'other'),
      c('prefs', 'jsonb'),
    ],
  },
  {
    name: 'products',
    key: ['id'],
    cols: [
      c('id', 'int4'),
      c('category_id', 'int4'),
      c('name', 'text'),
      c('sku', 'bpchar'),
      c('price', 'numeric'),
      c('cost', 'numeric'),
      c('weight', 'float4'),
      c('stock', 'int4'),
      c('views', 'int8'),
      c('discontinued', 'bool'),
      c('released', 'date'),
      c('sizes', 'other'),
    ],
  },
  {
    name: 'orders',
    key: ['id'],
    cols: [
      c('id', 'int8'),
      c('user_id', 'int4'),
      c('total', 'numeric'),
      c('placed_at', 'tstz'),
      c('ship_date', 'date'),
      c('note', 'text'),
      c('priority', 'int2'),
      c('coupon', 'text'),
      c('gift', 'bool'),
      c('status', 'enum'),
      c('prev_status', 'enum'),
    ],
  },
  {
    name: 'order_items',
    key: ['order_id', 'product_id'],
    cols: [
      c('order_id', 'int8'),
      c('product_id', 'int4'),
      c('qty', 'int4'),
      c('unit_price', 'numeric'),
      c('discount', 'float8'),
    ],
  },
  {
    name: 'categories',
    key: ['id'],
    cols: [c('id', 'int4'), c('parent_id', 'int4'), c('name', 'text'), c('slug', 'text')],
  },
  {
    name: 'events',
    key: ['id'],
    cols: [
      c('id', 'int8'),
      c('user_id', 'int4'),
      c('kind', 'text'),
      c('at', 'tstz'),
      c('ratio', 'float8'),
      c('trace', 'uuid'),
      c('took', 'other'),
      c('payload', 'jsonb'),
    ],
  },
];

const JOINS: [string, string, string][] = [
  ['users', 'orders', 'b.user_id = a.id'],
  ['orders', 'order_items', 'b.order_id = a.id'],
  ['products', 'order_items', 'b.product_id = a.id'],
  ['categories', 'products', 'b.category_id = a.id'],
  ['users', 'events', 'b.user_id = a.id'],
  ['categories', 'categories', 'b.parent_id = a.id'],
];

const CONSTS: Record<Kind, string[]> = {
  int2: ['0', '1', '18', '-1', '32767', '-32768', '100'],
  int4: ['0', '1', '3', '7', '12', '-1', '2147483647', '-2147483648', '1000'],
  int8: ['0', '1', '10', '60', '9223372036854775807', '-9223372036854775808', '-5', '1000'],
  numeric: ['0', '1.5', '10.50', '-0.01', "'NaN'", "'Infinity'", '100', '1.005', '99.99'],
  float8: ['0', '1.5', "'NaN'", "'Infinity'", "'-Infinity'", '-1', '0.1', "'-0'", '1e20'],
  float4: ['0', '1.5', '2'],
  text: ["'Ada'", "''", "'a'", "'login'", "'note 3'", "'straße'", "'É'", "'SAVE1'", "'zz'"],
  bpchar: ["'GB'", "'US'", "'BK-0001'", "'PH-03'", "'FR'"],
  bool: ['true', 'false'],
  date: ["'2000-02-29'", "'infinity'", "'-infinity'", "'2024-01-10'", "'1990-01-01'"],
  tstz: [
    "'2024-01-05 00:00:00+00'",
    "'infinity'",
    "'-infinity'",
    "'2024-03-15 09:00:00+00'",
    "'2024-03-02 01:00:00.5+01'",
  ],
  uuid: ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000004'"],
  jsonb: [],
  enum: ["'pending'", "'paid'", "'shipped'", "'cancelled'"],
  other: [],
};

const LIKE_PATTERNS = ["'%a%'", "'A%'", "'_a%'", "'%'", "''", "'%\\%%'", "'n%'", "'%e'", "'%é%'", "'S_V%'"];

export interface Generated {
  sql: string;
  unordered: boolean;
}

export function generator(rand: () => number): () => Generated {
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const chance = (p: number): boolean => rand() < p;

  interface Ref {
    sql: string;
    kind: Kind;
  }

  const isInt = (k: Kind): boolean => k === 'int2' || k === 'int4' || k === 'int8';
  const isNum = (k: Kind): boolean => isInt(k) || k === 'numeric' || k === 'float8' || k === 'float4';

  /** A scalar expression over the visible columns, with the kind of its result. */
  function scalar(cols: Ref[], depth: number): Ref {
    const col = pick(cols);
    if (depth <= 0 || chance(0.55)) return col;
    const ints = cols.filter((r) => isInt(r.kind));
    const texts = cols.filter((r) => r.kind === 'text');
    const nums = cols.filter((r) => r.kind === 'numeric');
    switch (int(15)) {
      case 9:
        if (nums.length > 0) {
          const a = pick(nums);
          const b = pick([
            ...nums,
            ...ints,
            { sql: pick(['1.5', '2', '0.001', '-1', "'NaN'"]), kind: 'numeric' as Kind },
          ]);
          return { sql: `(${a.sql} ${pick(['+', '-', '*'])} ${b.sql})`, kind: 'numeric' };
        }
        return col;
      case 10:
        if (nums.length > 0) {
          const a = pick(nums);
          return {
            sql: `round(${a.sql}${chance(0.7) ? `, ${pick(['0', '1', '2', '-1', '3'])}` : ''})`,
            kind: 'numeric',
          };
        }
        return col;
      case 14: {
        const dates = cols.filter((r) => r.kind === 'date');
        if (dates.length > 0) {
          const d = pick(dates).sql;
          return pick([
            { sql: `(${d} + ${pick(['1', '-30', '365', '3000000'])})`, kind: 'date' as Kind },
            { sql: `(${d} - ${pick(['1', '7'])})`, kind: 'date' as Kind },
            {
              sql: `(${d} - ${pick([...dates.map((x) => x.sql), "date '2000-01-01'"])})`,
              kind: 'int4' as Kind,
            },
            {
              sql: `extract(${pick(['year', 'month', 'day', 'dow', 'doy', 'epoch', 'quarter', 'century'])} FROM ${d})`,
              kind: 'numeric' as Kind,
            },
          ]);
        }
        return col;
      }
      case 13: {
        const js = cols.filter((r) => r.kind === 'jsonb');
        if (js.length > 0) {
          const path = pick(["'theme'", "'n'", "'page'", "'ok'", "'a'", '0', '-1', "'deep'"]);
          const op = pick(['->', '->>']);
          return { sql: `(${pick(js).sql} ${op} ${path})`, kind: op === '->>' ? 'text' : 'jsonb' };
        }
        return col;
      }
      case 12: {
        const same = comparable(cols).filter(
          (r) => r.kind === col.kind || (isNum(r.kind) && isNum(col.kind)),
        );
        if (col.kind !== 'other' && CONSTS[col.kind].length > 0 && same.length > 0)
          return {
            sql: `${pick(['greatest', 'least'])}(${col.sql}, ${pick([...CONSTS[col.kind], pick(same).sql])}${chance(0.3) ? ', NULL' : ''})`,
            kind: col.kind,
          };
        return col;
      }
      case 11:
        if (ints.length > 0) {
          const o = pick(ints).sql;
          return pick([
            { sql: `(SELECT count(*) FROM order_items x WHERE x.qty = ${o})`, kind: 'int8' as Kind },
            { sql: `(SELECT max(x.name) FROM categories x WHERE x.id = ${o})`, kind: 'text' as Kind },
            { sql: `(SELECT x.name FROM categories x WHERE x.parent_id = ${o})`, kind: 'text' as Kind },
            { sql: `(SELECT x.email FROM users x WHERE x.id = ${o})`, kind: 'text' as Kind },
          ]);
        }
        return col;
      case 0:
        if (ints.length > 0) {
          const a = pick(ints);
          return {
            sql: `(${a.sql} ${pick(['+', '-', '*', '/', '%'])} ${pick(['1', '2', '0', '-3', '1000'])})`,
            kind: a.kind,
          };
        }
        return col;
      case 1:
        if (texts.length > 0)
          return { sql: `${pick(['lower', 'upper', 'length'])}(${pick(texts).sql})`, kind: 'text' };
        return col;
      case 2:
        if (col.kind !== 'other' && CONSTS[col.kind].length > 0)
          return { sql: `coalesce(${col.sql}, ${pick(CONSTS[col.kind])})`, kind: col.kind };
        return col;
      case 3:
        return { sql: `CASE WHEN ${predicate(cols, 1)} THEN ${col.sql} END`, kind: col.kind };
      case 4:
        if (
          isInt(col.kind) ||
          col.kind === 'text' ||
          col.kind === 'bool' ||
          col.kind === 'numeric' ||
          col.kind === 'uuid'
        )
          return { sql: `${col.sql}::text`, kind: 'text' };
        return col;
      case 5:
        if (texts.length > 0)
          return { sql: `(${pick(texts).sql} || ${pick(["'x'", "''", col.sql])})`, kind: 'text' };
        return col;
      case 6:
        if (col.kind !== 'other' && CONSTS[col.kind].length > 0)
          return { sql: `nullif(${col.sql}, ${pick(CONSTS[col.kind])})`, kind: col.kind };
        return col;
      case 7:
        if (isInt(col.kind))
          return { sql: `${col.sql}::${pick(['int2', 'int4', 'int8', 'numeric', 'float8'])}`, kind: 'int8' };
        return col;
      default:
        if (isInt(col.kind)) return { sql: `-${col.sql}`, kind: col.kind };
        return col;
    }
  }

  function comparable(cols: Ref[]): Ref[] {
    return cols.filter((r) => r.kind !== 'other' && r.kind !== 'jsonb');
  }

  function predicate(cols: Ref[], depth: number): string {
    if (depth > 0 && chance(0.35)) {
      const op = pick(['AND', 'OR', 'AND NOT']);
      return `(${predicate(cols, depth - 1)} ${op === 'AND NOT' ? 'AND NOT' : op} ${predicate(cols, depth - 1)})`;
    }
    if (chance(0.08)) return `NOT ${predicate(cols, 0)}`;
    const usable = comparable(cols);
    const col = pick(usable);
    const consts = CONSTS[col.kind];
    switch (int(9)) {
      case 8: {
        // Subqueries: IN, NOT IN, EXISTS, NOT EXISTS, correlated or not.
        const ints = usable.filter((r) => isInt(r.kind));
        if (ints.length === 0) return `${col.sql} IS NULL`;
        const o = pick(ints).sql;
        return pick([
          `${o} IN (SELECT x.user_id FROM orders x WHERE x.total > ${pick(['50', '100', "'NaN'"])})`,
          `${o} NOT IN (SELECT x.parent_id FROM categories x)`,
          `${o} NOT IN (SELECT x.parent_id FROM categories x WHERE x.parent_id IS NOT NULL)`,
          `EXISTS (SELECT 1 FROM order_items x WHERE x.qty = ${o})`,
          `NOT EXISTS (SELECT 1 FROM events x WHERE x.user_id = ${o} AND x.kind = 'login')`,
          `${o} = ANY(ARRAY[1, 2, ${pick(CONSTS.int4)}])`,
        ]);
      }
      case 0:
        return `${col.sql} IS ${pick(['NULL', 'NOT NULL'])}`;
      case 1:
        if (col.kind === 'text' || col.kind === 'bpchar')
          return `${col.sql} ${pick(['LIKE', 'NOT LIKE', 'ILIKE'])} ${pick(LIKE_PATTERNS)}`;
        return `${col.sql} = ${pick(consts)}`;
      case 2:
        return `${col.sql} ${chance(0.3) ? 'NOT IN' : 'IN'} (${[pick(consts), pick(consts), pick(consts)].join(', ')})`;
      case 3: {
        const a = pick(consts);
        const b = pick(consts);
        return `${col.sql} ${chance(0.3) ? 'NOT BETWEEN' : 'BETWEEN'} ${a} AND ${b}`;
      }
      case 4: {
        const other = usable.filter((r) => r.kind === col.kind || (isNum(r.kind) && isNum(col.kind)));
        return `${col.sql} ${pick(['=', '<>', '<', '>=', 'IS DISTINCT FROM'])} ${pick(other).sql}`;
      }
      case 5:
        if (col.kind === 'bool') return `${col.sql} IS ${pick(['TRUE', 'NOT TRUE', 'FALSE', 'UNKNOWN'])}`;
        return `${col.sql} ${pick(['<', '<=', '>', '>='])} ${pick(consts)}`;
      default:
        return `${col.sql} ${pick(['=', '<>', '<', '<=', '>', '>='])} ${pick(consts)}`;
    }
  }

  /** A window function call; its ORDER BY is sometimes the table keys (tie-free), sometimes not. */
  function windowCall(cols: Ref[], keys: string[]): string {
    const ints = cols.filter((r) => isInt(r.kind));
    const usable = comparable(cols);
    const col = pick(usable);
    const fn = pick([
      'row_number()',
      'rank()',
      'dense_rank()',
      'percent_rank()',
      'cume_dist()',
      'ntile(3)',
      `lag(${col.sql})`,
      `lead(${col.sql}, 2)`,
      'count(*)',
      `count(${col.sql})`,
      `sum(${pick(ints).sql})`,
      `avg(${pick(ints).sql})`,
      `${pick(['min', 'max'])}(${pick(ints).sql})`,
      `sum(${col.sql})`,
    ]);
    const groupable = usable.filter((r) => !['numeric', 'float8', 'float4'].includes(r.kind));
    const parts = chance(0.5) ? `PARTITION BY ${pick(groupable).sql}` : '';
    const order = chance(0.2)
      ? ''
      : chance(0.5)
        ? `ORDER BY ${keys.map(orderItem).join(', ')}`
        : `ORDER BY ${orderItem(pick(usable).sql)}`;
    return `${fn} OVER (${[parts, order].filter(Boolean).join(' ')})`;
  }

  function orderItem(sql: string): string {
    return `${sql}${pick(['', ' ASC', ' DESC'])}${pick(['', '', ' NULLS FIRST', ' NULLS LAST'])}`;
  }

  return () => {
    // FROM
    let from: string;
    let cols: Ref[];
    let keys: string[];
    if (chance(0.35)) {
      const [l, r, on] = pick(JOINS);
      const lt = TABLES.find((t) => t.name === l) as Table;
      const rt = TABLES.find((t) => t.name === r) as Table;
      const jt = pick(['JOIN', 'LEFT JOIN', 'RIGHT JOIN', 'JOIN']);
      from = `${l} a ${jt} ${r} b ON ${on}`;
      cols = [
        ...lt.cols.map((col) => ({ sql: `a.${col.name}`, kind: col.kind })),
        ...rt.cols.map((col) => ({ sql: `b.${col.name}`, kind: col.kind })),
      ];
      keys = [...lt.key.map((k) => `a.${k}`), ...rt.key.map((k) => `b.${k}`)];
    } else {
      const t = pick(TABLES);
      from = `${t.name} t`;
      cols = t.cols.map((col) => ({ sql: `t.${col.name}`, kind: col.kind }));
      keys = t.key.map((k) => `t.${k}`);
    }
    const where = chance(0.7) ? ` WHERE ${predicate(cols, 2)}` : '';
    if (chance(0.06)) {
      // Set operations over compatible columns, compared as multisets.
      const sides: Record<string, string[]> = {
        int: [
          'users.id',
          'orders.user_id',
          'products.stock',
          'categories.parent_id',
          'order_items.qty',
          'events.user_id',
        ],
        text: [
          'users.name',
          'categories.name',
          'products.name',
          'events.kind',
          'orders.note',
          'categories.slug',
        ],
      };
      const list = sides[pick(['int', 'text'])] as string[];
      const side = (): string => {
        const [t, cname] = pick(list).split('.') as [string, string];
        return `SELECT ${cname} FROM ${t}${chance(0.5) ? ` WHERE ${cname} IS NOT NULL` : ''}`;
      };
      const op = pick(['UNION', 'UNION ALL', 'INTERSECT', 'EXCEPT']);
      if (chance(0.5)) return { sql: `${side()} ${op} ${side()}`, unordered: true };
      // Nested set operations, parenthesised either side, with arms limited
      // after ORDER BY 1 (ties are equal rows, so the multiset is determined).
      const tree = (depth: number): string => {
        if (depth === 0 || chance(0.3)) {
          const s = side();
          return chance(0.25) ? `(${s} ORDER BY 1 LIMIT ${1 + int(4)})` : s;
        }
        const l = tree(depth - 1);
        const r = tree(depth - 1);
        const o = pick(['UNION', 'UNION ALL', 'INTERSECT', 'EXCEPT', 'UNION ALL', 'INTERSECT']);
        return `${chance(0.5) ? `(${l})` : l} ${o} ${chance(0.6) ? `(${r})` : r}`;
      };
      return { sql: tree(3), unordered: true };
    }
    if (chance(0.05) && keys.length === 1 && !from.includes(' JOIN ')) {
      // A CTE and a derived table around a projection.
      const v = scalar(cols, 1).sql;
      const inner = `SELECT ${keys[0]} AS k, ${v} AS v FROM ${from}${where}`;
      return chance(0.5)
        ? { sql: `WITH w AS (${inner}) SELECT k, v FROM w ORDER BY k`, unordered: false }
        : {
            sql: `SELECT s.k, s.v FROM (${inner}) AS s ORDER BY s.k DESC LIMIT ${1 + int(10)}`,
            unordered: false,
          };
    }
    const mode = int(10);
    if (mode < 3) {
      // GROUP BY with aggregates; ordering by every group key is a total order.
      const groupable = cols.filter((r) =>
        [
          'int2',
          'int4',
          'int8',
          'text',
          'bool',
          'date',
          'uuid',
          'bpchar',
          'tstz',
          'numeric',
          'float8',
          'float4',
          'enum',
        ].includes(r.kind),
      );
      const n = 1 + int(2);
      const gk = [...new Set(Array.from({ length: n }, () => pick(groupable).sql))];
      const aggs: string[] = [];
      const count = 1 + int(3);
      for (let i = 0; i < count; i++) {
        const col = pick(cols);
        switch (int(7)) {
          case 0:
            aggs.push('count(*)');
            break;
          case 1:
            aggs.push(`count(${col.sql})${chance(0.3) ? ` FILTER (WHERE ${predicate(cols, 0)})` : ''}`);
            break;
          case 2:
            aggs.push(isNum(col.kind) ? `sum(${col.sql})` : `count(DISTINCT ${col.sql})`);
            break;
          case 3:
            aggs.push(isNum(col.kind) ? `avg(${col.sql})` : 'count(*)');
            break;
          case 4: {
            const texts = cols.filter((r) => r.kind === 'text');
            const sortable = comparable(cols);
            const keysOrNot = chance(0.5) ? keys.map(orderItem).join(', ') : orderItem(pick(sortable).sql);
            if (texts.length > 0 && chance(0.5))
              aggs.push(
                `string_agg(${pick(texts).sql}, ${pick(["','", "' | '", "''"])} ORDER BY ${keysOrNot})`,
              );
            else
              aggs.push(
                `array_agg(${pick([...texts, ...cols.filter((r) => isInt(r.kind))]).sql} ORDER BY ${keysOrNot})`,
              );
            break;
          }
          default:
            aggs.push(`${pick(['min', 'max'])}(${col.sql})`);
        }
      }
      const having = chance(0.3) ? ` HAVING count(*) ${pick(['>', '>=', '<'])} ${pick(['1', '2', '5'])}` : '';
      const order = gk.map(orderItem).join(', ');
      const limit = chance(0.3) ? ` LIMIT ${int(10)}${chance(0.5) ? ` OFFSET ${int(5)}` : ''}` : '';
      return {
        sql: `SELECT ${[...gk, ...aggs].join(', ')} FROM ${from}${where} GROUP BY ${gk.join(', ')}${having} ORDER BY ${order}${limit}`,
        unordered: false,
      };
    }
    if (mode < 4) {
      // DISTINCT, compared as a multiset.
      const n = 1 + int(3);
      const outs = Array.from({ length: n }, () => scalar(cols, 1).sql);
      return { sql: `SELECT DISTINCT ${outs.join(', ')} FROM ${from}${where}`, unordered: true };
    }
    if (mode < 5 && chance(0.4)) {
      // DISTINCT ON: the first row per group in ORDER BY order (ties make it arbitrary upstream).
      const groupable = comparable(cols).filter((r) => !['numeric', 'float8', 'float4'].includes(r.kind));
      const on = pick(groupable).sql;
      const outs = [on, ...Array.from({ length: 1 + int(2) }, () => scalar(cols, 1).sql)];
      const rest = chance(0.6) ? keys.map(orderItem) : [orderItem(pick(comparable(cols)).sql)];
      const limit = chance(0.3) ? ` LIMIT ${int(8)}` : '';
      return {
        sql: `SELECT DISTINCT ON (${on}) ${outs.join(', ')} FROM ${from}${where} ORDER BY ${[orderItem(on), ...rest].join(', ')}${limit}`,
        unordered: false,
      };
    }
    if (mode < 5) {
      // Aggregates without GROUP BY.
      const col = pick(cols);
      const agg = isNum(col.kind)
        ? pick(['sum', 'avg', 'min', 'max', 'count'])
        : pick(['min', 'max', 'count']);
      return { sql: `SELECT count(*), ${agg}(${col.sql}) FROM ${from}${where}`, unordered: false };
    }
    const n = 1 + int(4);
    const outs = Array.from({ length: n }, (_, i) => {
      const e = chance(0.15) ? windowCall(cols, keys) : scalar(cols, 2).sql;
      return chance(0.3) ? `${e} AS c${i}` : e;
    });
    const sortable = comparable(cols).filter((r) => r.kind !== 'uuid' || chance(0.5));
    const extra = Array.from({ length: int(3) }, () => orderItem(pick(sortable).sql));
    const order = [...extra, ...keys.map(orderItem)].join(', ');
    const limit = chance(0.4) ? ` LIMIT ${int(20)}${chance(0.5) ? ` OFFSET ${int(10)}` : ''}` : '';
    return {
      sql: `SELECT ${outs.join(', ')} FROM ${from}${where} ORDER BY ${order}${limit}`,
      unordered: false,
    };
  };
}
