/**
 * The README's list of what is served locally ("How routing works", from
 * "Served locally today" to "Where Postgres's answer") against the compiler,
 * both ways (issue 16):
 *
 * - every backticked claim there has probe statements here, and each probe is
 *   answered locally and identically to Postgres (a database created with
 *   LOCALE 'C.UTF-8' holding test/corpus/schema.sql); a claim without a probe
 *   fails, so a new claim comes with its proof;
 * - every function the compiler serves locally is named in the list: each
 *   function name the compiler's source mentions (test/readme-claims finds
 *   them as string literals that are pg_catalog function names) is routed in
 *   a set of argument shapes, and any that is local must be claimed.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type Corpus, differ, differPrepared, startCorpus, TABLES } from './corpus/harness.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The list: from its first words to the sentence after it. */
function servedSection(): string {
  const start = README.indexOf('Served locally today');
  const end = README.indexOf("Where Postgres's", start);
  assert.ok(start >= 0 && end > start, 'README section "Served locally today" not found');
  return README.slice(start, end);
}

function claims(): string[] {
  return [...new Set([...servedSection().matchAll(/`([^`]+)`/g)].map((m) => m[1] as string))];
}

/** A probe: a statement answered locally, or one run with parameters (extended protocol). */
type Probe = string | { sql: string; executions: (string | null)[][] };

/**
 * Claims proven elsewhere, not by a statement on this schema: the test file
 * that proves each.
 */
const PROVEN_ELSEWHERE: Record<string, string> = {
  'READ ONLY': 'test/read-only-transactions.test.ts',
  'C.UTF-8': 'test/collation.test.ts',
};

const PROBES: Record<string, Probe[]> = {
  SELECT: ['SELECT id, email FROM users ORDER BY id'],
  NATURAL: ['SELECT * FROM categories NATURAL JOIN (SELECT id, name FROM categories) c ORDER BY id'],
  'SEARCH DEPTH FIRST': [
    'WITH RECURSIVE t(id, p) AS (SELECT id, parent_id FROM categories WHERE parent_id IS NULL UNION ALL SELECT c.id, c.parent_id FROM categories c JOIN t ON c.parent_id = t.id) SEARCH DEPTH FIRST BY p, id SET seq SELECT * FROM t ORDER BY seq',
  ],
  'SEARCH BREADTH FIRST': [
    'WITH RECURSIVE t(id) AS (SELECT id FROM categories WHERE parent_id IS NULL UNION ALL SELECT c.id FROM categories c JOIN t ON c.parent_id = t.id) SEARCH BREADTH FIRST BY id SET seq SELECT * FROM t ORDER BY seq',
  ],
  CYCLE: [
    'WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT (n * 3) % 7 FROM t) CYCLE n SET c USING p SELECT * FROM t ORDER BY p',
  ],
  first_value: ['SELECT id, first_value(id) OVER (ORDER BY id ROWS 1 PRECEDING) FROM users ORDER BY id'],
  last_value: ['SELECT id, last_value(age) OVER (ORDER BY age RANGE 3 PRECEDING) FROM users ORDER BY id'],
  nth_value: ['SELECT id, nth_value(id, 2) OVER (ORDER BY id) FROM users ORDER BY id'],
  'FULL JOIN': [
    'SELECT * FROM categories FULL JOIN products USING (id, name) ORDER BY id, name',
    'SELECT c.id, p.id FROM categories c FULL JOIN products p ON p.category_id = c.id ORDER BY 1 NULLS FIRST, 2 NULLS FIRST',
  ],
  RANGE: [
    'SELECT id, sum(id) OVER (ORDER BY age RANGE BETWEEN 5 PRECEDING AND 5 FOLLOWING) FROM users ORDER BY id',
  ],
  'n PRECEDING': ['SELECT id, count(*) OVER (ORDER BY karma RANGE 10 PRECEDING) FROM users ORDER BY id'],
  'n FOLLOWING': [
    'SELECT id, max(id) OVER (ORDER BY age DESC RANGE BETWEEN CURRENT ROW AND 3 FOLLOWING) FROM users ORDER BY id',
  ],
  USING: [
    'SELECT order_id, qty FROM order_items JOIN (SELECT id AS order_id FROM orders) o USING (order_id) ORDER BY 1, 2 LIMIT 5',
  ],
  WHERE: ["SELECT id FROM users WHERE age > 30 AND country <> 'US' ORDER BY id"],
  IN: [
    'SELECT id FROM users WHERE id IN (1, 3, 5) ORDER BY id',
    'SELECT id FROM users WHERE id IN (SELECT user_id FROM orders) ORDER BY id',
  ],
  BETWEEN: ['SELECT id FROM users WHERE age BETWEEN 20 AND 40 ORDER BY id'],
  LIKE: ["SELECT id FROM users WHERE email LIKE 'a%' ORDER BY id"],
  ILIKE: ["SELECT id FROM users WHERE name ILIKE '%É%' ORDER BY id"],
  '= ANY($1)': [{ sql: 'SELECT id FROM users WHERE id = ANY($1) ORDER BY id', executions: [['{1,2,3}']] }],
  'IS [NOT] DISTINCT FROM': [
    'SELECT id FROM users WHERE active IS DISTINCT FROM true ORDER BY id',
    'SELECT id FROM users WHERE active IS NOT DISTINCT FROM NULL ORDER BY id',
  ],
  EXISTS: ['SELECT id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id) ORDER BY id'],
  count: ['SELECT count(*), count(name), count(DISTINCT country) FROM users'],
  sum: ['SELECT sum(age), sum(karma), sum(balance) FROM users'],
  avg: ['SELECT avg(age), avg(balance) FROM users'],
  min: ['SELECT min(age), min(name), min(birth) FROM users'],
  max: ['SELECT max(age), max(name), max(created_at) FROM users'],
  string_agg: ["SELECT string_agg(name, ', ' ORDER BY id) FROM users"],
  array_agg: ['SELECT array_agg(id ORDER BY id) FROM users'],
  'FILTER (WHERE …)': ['SELECT count(*) FILTER (WHERE active), sum(age) FILTER (WHERE age > 30) FROM users'],
  'GROUP BY': ['SELECT country, count(*) FROM users GROUP BY country ORDER BY country NULLS FIRST'],
  HAVING: ['SELECT country, count(*) FROM users GROUP BY country HAVING count(*) > 1 ORDER BY country'],
  'GROUPING SETS': [
    'SELECT country, active, count(*) FROM users GROUP BY GROUPING SETS ((country, active), (country), ()) ORDER BY 1, 2, 3',
  ],
  ROLLUP: [
    'SELECT country, sum(age) FROM users GROUP BY ROLLUP (country) ORDER BY GROUPING(country), country NULLS FIRST',
  ],
  CUBE: ['SELECT active, country, count(*) FROM users GROUP BY CUBE (active, country) ORDER BY 1, 2, 3'],
  'GROUPING()': [
    'SELECT country, GROUPING(country), count(*) FROM users GROUP BY ROLLUP (country) ORDER BY 2, 1',
  ],
  row_number: ['SELECT id, row_number() OVER (ORDER BY id) FROM users ORDER BY id'],
  rank: ['SELECT id, rank() OVER (ORDER BY country) FROM users ORDER BY id'],
  dense_rank: ['SELECT id, dense_rank() OVER (ORDER BY country) FROM users ORDER BY id'],
  percent_rank: ['SELECT id, percent_rank() OVER (ORDER BY age) FROM users ORDER BY id'],
  cume_dist: ['SELECT id, cume_dist() OVER (ORDER BY age) FROM users ORDER BY id'],
  ntile: ['SELECT id, ntile(3) OVER (ORDER BY id) FROM users ORDER BY id'],
  lag: ['SELECT id, lag(age) OVER (ORDER BY id) FROM users ORDER BY id'],
  lead: ['SELECT id, lead(age, 2) OVER (ORDER BY id) FROM users ORDER BY id'],
  OVER: ['SELECT id, sum(age) OVER (PARTITION BY country ORDER BY id) FROM users ORDER BY id'],
  DISTINCT: ['SELECT DISTINCT country FROM users ORDER BY country'],
  'DISTINCT ON': ['SELECT DISTINCT ON (country) country, id FROM users ORDER BY country, id'],
  'ORDER BY': [
    'SELECT id, age FROM users ORDER BY age DESC, id',
    'SELECT min(age ORDER BY name), sum(karma ORDER BY id DESC) FROM users',
  ],
  LIMIT: ['SELECT id FROM users ORDER BY id LIMIT 3'],
  OFFSET: ['SELECT id FROM users ORDER BY id LIMIT 3 OFFSET 2'],
  UNION: ['SELECT id FROM users UNION SELECT user_id FROM orders ORDER BY 1'],
  INTERSECT: ['SELECT id FROM users INTERSECT SELECT user_id FROM orders ORDER BY 1'],
  EXCEPT: ['SELECT id FROM users EXCEPT SELECT user_id FROM orders ORDER BY 1'],
  'unnest(array)': [
    'SELECT u.id, t FROM users u, unnest(u.tags) AS t ORDER BY u.id, t',
    'SELECT * FROM unnest(ARRAY[3, 1, 2]) AS x ORDER BY x',
  ],
  jsonb_array_elements: [
    'SELECT * FROM jsonb_array_elements(\'[1, "a", {"b": [2]}]\') WITH ORDINALITY ORDER BY ordinality',
  ],
  jsonb_array_elements_text: [
    'SELECT * FROM jsonb_array_elements_text(\'[1, "a", null]\') WITH ORDINALITY AS x(v, n) ORDER BY n',
  ],
  jsonb_each: ['SELECT key, value FROM jsonb_each(\'{"a": 1, "b": [true]}\') ORDER BY key'],
  jsonb_each_text: ['SELECT key, value FROM jsonb_each_text(\'{"a": 1, "b": "x y"}\') ORDER BY key'],
  jsonb_object_keys: ['SELECT k FROM jsonb_object_keys(\'{"bb": 1, "a": 2, "c": null}\') AS k ORDER BY k'],
  'WITH ORDINALITY': ["SELECT * FROM unnest(ARRAY['x', 'y']) WITH ORDINALITY AS t(v, n) ORDER BY n"],
  LATERAL: [
    'SELECT u.id, g FROM users u CROSS JOIN LATERAL generate_series(1::int8, u.id) AS g WHERE u.id < 4 ORDER BY u.id, g',
  ],
  "'NaN'": ["SELECT 'NaN'::float8, 'nan'::float4, id FROM users ORDER BY id LIMIT 1"],
  "'Infinity'": ["SELECT ' -INFINiTY '::float8, 'infinity'::float4, '  1.5 '::float8"],
  '+ - * /': [
    "SELECT id, score + rating, rating * rating, score / 2, rating - '1', age * score FROM users WHERE id IN (1, 2, 9, 12) ORDER BY id",
  ],
  abs: ['SELECT id, abs(score), abs(rating) FROM users ORDER BY id'],
  '@': ['SELECT id, @score, @rating FROM users ORDER BY id'],
  floor: ['SELECT id, floor(score), floor(age) FROM users ORDER BY id'],
  ceil: ['SELECT id, ceil(score) FROM users ORDER BY id'],
  ceiling: ['SELECT id, ceiling(rating) FROM users ORDER BY id'],
  trunc: ['SELECT id, trunc(score) FROM users ORDER BY id'],
  sign: ['SELECT id, sign(score), sign(rating) FROM users ORDER BY id'],
  sqrt: ['SELECT id, sqrt(score), sqrt(age) FROM users WHERE score >= 0 AND age >= 0 ORDER BY id'],
  '|/': ['SELECT id, |/ score, |/ rating FROM users WHERE score >= 0 ORDER BY id'],
  power: [
    "SELECT id, power(score, 0), power(score, 'NaN') FROM users ORDER BY id",
    'SELECT power(2.0, 0.5), 1.5 ^ 2.5, power(10.0, -1.25)',
  ],
  exp: ["SELECT exp(1.5), exp(-0.001), exp('inf'::float8), exp(0::float8)"],
  ln: ["SELECT ln(2.0), ln(0.0456789), ln(1::float8), ln('nan'::float8)"],
  log: ['SELECT log(100.0), log(2.0, 8.0), log(1::float8)'],
  log10: ["SELECT log10(0.001), log10(7.5), log10('inf'::float8)"],
  'log(b, x)': ['SELECT log(3.0, 81.0), log(2, 10)'],
  cbrt: ["SELECT cbrt(0::float8), cbrt('-inf'::float8)"],
  '||/': ["SELECT ||/ float8 '-0', ||/ float8 'inf'"],
  pow: ['SELECT id, pow(1, score), pow(score, 0) FROM users ORDER BY id'],
  '^': ["SELECT id, score ^ 'NaN', 2 ^ '-Infinity'::float8, 0 ^ age FROM users WHERE age > 0 ORDER BY id"],
  'pow()': ["SELECT power(float8 'inf', float8 '-2'), power(float8 '-inf', 3), 0 ^ 0.5::float8"],
  'tags[1]': ['SELECT id, tags[1], tags[2], (ARRAY[5, 6])[2] FROM users ORDER BY id'],
  array_length: ['SELECT id, array_length(tags, 1), array_length(tags, 2) FROM users ORDER BY id'],
  array_upper: ['SELECT id, array_upper(tags, 1) FROM users ORDER BY id'],
  array_lower: ['SELECT id, array_lower(tags, 1) FROM users ORDER BY id'],
  cardinality: ["SELECT id, cardinality(tags), cardinality('{}'::int[]) FROM users ORDER BY id"],
  "'x' = ANY(tags)": ["SELECT id, 'vip' = ANY(tags), 'x' <> ALL(tags) FROM users ORDER BY id"],
  '@>': ["SELECT id, tags @> '{vip}', sizes @> ARRAY[2] FROM users JOIN products USING (id) ORDER BY id"],
  '<@': ["SELECT id, tags <@ '{vip,new}', '{}' <@ tags FROM users ORDER BY id"],
  '&&': ["SELECT id FROM products WHERE sizes && '{1,2}' OR sizes = '{}' ORDER BY id"],
  string_to_array: [
    "SELECT id, string_to_array(email, '@'), string_to_array('a,,b', ',', '') FROM users ORDER BY id",
  ],
  string_to_table: ["SELECT u.id, s FROM users u, string_to_table(u.email, '@') AS s ORDER BY u.id, s"],
  jsonb_to_record: [
    'SELECT * FROM jsonb_to_record(\'{"a": 1, "b": "x", "c": {"d": true}}\') AS r(a int, b text, c jsonb, z bool)',
  ],
  jsonb_to_recordset: [
    'SELECT * FROM jsonb_to_recordset(\'[{"a": 1, "b": 2.50}, {"a": 2}]\') AS r(a int8, b numeric) ORDER BY a',
  ],
  'ARRAY[…]': [
    "SELECT id, ARRAY[id, age], ARRAY[name, 'x y'], ARRAY[[1, 2], [3, 4]], ARRAY[]::int[] FROM users ORDER BY id",
  ],
  'WITH RECURSIVE': [
    'WITH RECURSIVE sub AS (SELECT id, name FROM categories WHERE parent_id IS NULL UNION ALL SELECT c.id, c.name FROM categories c JOIN sub s ON c.parent_id = s.id) SELECT * FROM sub ORDER BY id',
  ],
  'UNION [ALL]': ['WITH RECURSIVE t(n) AS (SELECT 1 UNION SELECT 10 - n FROM t) SELECT n FROM t ORDER BY n'],
  VALUES: ["SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(n, s) ORDER BY n"],
  'generate_series(numeric, numeric [, numeric])': [
    'SELECT g FROM generate_series(0.5, 2, 0.25) AS g ORDER BY g',
    'SELECT p.id, g FROM products p, generate_series(p.price, 100, 25) AS g WHERE p.id < 4 ORDER BY 1, 2',
  ],
  'LATERAL (subquery)': [
    'SELECT u.id, o.id AS last_order FROM users u LEFT JOIN LATERAL (SELECT id FROM orders WHERE user_id = u.id ORDER BY id DESC LIMIT 1) o ON true ORDER BY u.id',
    'SELECT c.id, s.n FROM categories c CROSS JOIN LATERAL (SELECT count(*) AS n FROM products p WHERE p.category_id = c.id) s ORDER BY c.id',
  ],
  'generate_series(int, int [, int])': [
    'SELECT g FROM generate_series(1, 5) AS g ORDER BY g',
    'SELECT g FROM generate_series(10, 1, -3) AS g ORDER BY g',
  ],
  round: ['SELECT id, round(balance), round(balance, 1) FROM users ORDER BY id'],
  '||': ["SELECT id, name || '@' || email FROM users ORDER BY id"],
  lower: ['SELECT id, lower(name) FROM users ORDER BY id'],
  upper: ['SELECT id, upper(name) FROM users ORDER BY id'],
  length: ['SELECT id, length(name), length(country) FROM users ORDER BY id'],
  char_length: ['SELECT id, char_length(name) FROM users ORDER BY id'],
  jsonb_array_length: [
    "SELECT id, jsonb_array_length(prefs) FROM users WHERE jsonb_typeof(prefs) = 'array' ORDER BY id",
  ],
  jsonb_typeof: ['SELECT id, jsonb_typeof(prefs) FROM users ORDER BY id'],
  jsonb_extract_path_text: ["SELECT id, jsonb_extract_path_text(prefs, 'theme') FROM users ORDER BY id"],
  json_build_object: ["SELECT id, json_build_object('id', id, 'name', name) FROM users ORDER BY id"],
  json_build_array: ['SELECT id, json_build_array(id, name, NULL) FROM users ORDER BY id'],
  jsonb_build_object: ["SELECT id, jsonb_build_object('n', name, 'i', id) FROM users ORDER BY id"],
  jsonb_build_array: ['SELECT id, jsonb_build_array(id, name) FROM users ORDER BY id'],
  jsonb_set: [
    "SELECT id, jsonb_set(prefs, '{theme}', '\"dark\"'), jsonb_set(prefs, '{x,y}', '1', false) FROM users WHERE jsonb_typeof(prefs) = 'object' ORDER BY id",
  ],
  jsonb_set_lax: [
    "SELECT id, jsonb_set_lax(prefs, '{theme}', NULL, null_value_treatment => 'delete_key'), jsonb_set_lax(prefs, '{x}', NULL, null_value_treatment => 'return_target') FROM users WHERE jsonb_typeof(prefs) = 'object' ORDER BY id",
  ],
  jsonb_insert: [
    "SELECT id, jsonb_insert(prefs, '{0}', '0'), jsonb_insert(prefs, '{-1}', '1', true) FROM users WHERE jsonb_typeof(prefs) = 'array' ORDER BY id",
  ],
  jsonb_delete_path: [
    "SELECT id, jsonb_delete_path(prefs, '{theme}') FROM users WHERE jsonb_typeof(prefs) = 'object' ORDER BY id",
  ],
  FROM: ['SELECT s.n FROM (SELECT id AS n FROM users) s ORDER BY s.n'],
  coalesce: ['SELECT id, coalesce(name, email) FROM users ORDER BY id'],
  nullif: ['SELECT id, nullif(age, 0) FROM users ORDER BY id'],
  greatest: ['SELECT id, greatest(age, 30) FROM users ORDER BY id'],
  least: ['SELECT id, least(age, 30) FROM users ORDER BY id'],
  CASE: ["SELECT id, CASE WHEN age > 30 THEN 'old' ELSE 'young' END FROM users ORDER BY id"],
  '->': ["SELECT id, prefs -> 'theme' FROM users ORDER BY id"],
  '->>': ["SELECT id, prefs ->> 'theme' FROM users ORDER BY id"],
  'date ± integer': ['SELECT id, birth + 1, birth - 7 FROM users ORDER BY id'],
  'date − date': [
    "SELECT id, birth - date '2000-01-01' FROM users WHERE birth BETWEEN '1900-01-01' AND '2100-01-01' ORDER BY id",
  ],
  'extract(… FROM date)': [
    'SELECT id, extract(year FROM birth), extract(dow FROM birth) FROM users ORDER BY id',
  ],
  '- interval': ['SELECT id, -took FROM events ORDER BY id'],
  'interval ± interval': [
    "SELECT id, took + interval '1 day', took - interval '01:00' FROM events WHERE id < 100 ORDER BY took, id",
  ],
  pg_input_is_valid: [
    "SELECT pg_input_is_valid('12', 'int4') AS a, pg_input_is_valid('12x', 'int4') AS b, pg_input_is_valid(' 0x1F ', 'bigint') AS c, pg_input_is_valid('2147483648 years', 'interval') AS d",
  ],
  pg_input_error_info: [
    "SELECT * FROM pg_input_error_info('50000', 'int2')",
    "SELECT message, sql_error_code FROM pg_input_error_info('12', 'bigint')",
  ],
  justify_hours: ["SELECT id, justify_hours(took + interval '30 hours') FROM events ORDER BY id"],
  justify_days: ["SELECT id, justify_days(took + interval '45 days') FROM events ORDER BY id"],
  justify_interval: ["SELECT id, justify_interval(took - interval '1 mon') FROM events ORDER BY id"],
  make_interval: [
    'SELECT id, make_interval(days => age, mins => id), make_interval(1, 2) FROM users ORDER BY id',
  ],
  'make_interval(days => 1)': ['SELECT make_interval(days => 1), make_interval(0, 1, secs := 2.5)'],
  'extract(… FROM interval)': [
    'SELECT id, extract(epoch FROM took), extract(minute FROM took) FROM events ORDER BY id',
  ],
  timestamp: [
    "SELECT id, last_seen FROM users WHERE last_seen > timestamp '2024-01-01' ORDER BY last_seen, id",
    'SELECT min(last_seen), max(last_seen) FROM users',
  ],
  '1/8/1999': ["SELECT id FROM users WHERE birth > '1/8/1990' ORDER BY id"],
  '19990108': ["SELECT id FROM users WHERE birth > '19900108' ORDER BY id"],
  'Jan 8 1999': ["SELECT id FROM users WHERE birth < 'Jan 8 1999' ORDER BY id"],
  '08-Jan-1999': ["SELECT id FROM users WHERE last_seen < '08-Jan-2030 10:00' ORDER BY id"],
  'timestamp − timestamp': [
    "SELECT id, last_seen - timestamp '2024-01-01 12:00' FROM users WHERE last_seen > '-infinity' AND last_seen < 'infinity' ORDER BY id",
  ],
  'timestamptz − timestamptz': [
    "SELECT id, created_at - timestamptz '2024-01-01 00:00:00+00' FROM users WHERE created_at > '-infinity' AND created_at < 'infinity' ORDER BY id",
  ],
  'timestamp ± interval': [
    "SELECT id, last_seen + interval '1 mon 1 day', last_seen - interval '1:30' FROM users ORDER BY id",
  ],
  'date_trunc(…, timestamp)': [
    "SELECT id, date_trunc('month', last_seen), date_trunc('week', last_seen) FROM users WHERE last_seen > '-infinity' AND last_seen < 'infinity' ORDER BY id",
  ],
  date_bin: [
    "SELECT id, date_bin('6 hours', last_seen, timestamp '2000-01-01 03:00'), date_bin('1 day', created_at, timestamptz '2024-01-01 00:00:00+00') FROM users ORDER BY id",
  ],
  name: ["SELECT id, n, n::text || '!' FROM idents WHERE n > 'alpha' OR n = repeat('x', 70) ORDER BY n"],
  'to_number(text, template)': [
    "SELECT to_number('-34,338,492', '99G999G999') AS a, to_number('<564646.654564>', '999999.999999PR') AS b",
  ],
  'to_char(number, template)': [
    "SELECT id, to_char(karma, 'FM999,999MI'), to_char(balance, '00000.9'), to_char(age, 'FMRN') FROM users ORDER BY id",
  ],
  format: [
    "SELECT id, format('%s|%-8s|%L|%I', id, name, balance, email) FROM users ORDER BY id",
    "SELECT format('%2$s %1$s %*s', 'a', 4, 'c')",
  ],
  width_bucket: [
    "SELECT id, width_bucket(balance, 0, 1000, 4), width_bucket(age, 18, 80, 6) FROM users WHERE balance <> 'NaN' ORDER BY id",
  ],
  repeat: ['SELECT id, repeat(name, 2), repeat(country, 0) FROM users ORDER BY id'],
  md5: ['SELECT id, md5(name), md5(email) FROM users ORDER BY id'],
  'bit(n)': [
    "SELECT id, b, b & B'00001111', b >> 2, n::bit(8), position(B'1' IN b), substring(b FROM 3 FOR 2) FROM flags ORDER BY b, id",
  ],
  'bit varying(n)': [
    "SELECT id, v, v || B'1', length(v), bit_count(v), get_bit(b, 0) FROM flags ORDER BY v, id",
  ],
  money: [
    "SELECT id, m, m + n, m * 2, m / 3::float8, m::numeric AS num, '$1,234.565'::money FROM wallets ORDER BY m, id",
  ],
  split_part: ["SELECT id, split_part(email, '@', 2), split_part(email, '.', -1) FROM users ORDER BY id"],
  substring: ['SELECT id, substring(name FROM 2 FOR 3), substring(email, 3) FROM users ORDER BY id'],
  substr: ['SELECT id, substr(name, 2), substr(email, 1, 3) FROM users ORDER BY id'],
  overlay: ["SELECT id, overlay(name PLACING '**' FROM 2 FOR 1) FROM users ORDER BY id"],
  strpos: ["SELECT id, strpos(email, '@') FROM users ORDER BY id"],
  position: ["SELECT id, position('e' IN email) FROM users ORDER BY id"],
  lpad: ["SELECT id, lpad(name, 6, '.') FROM users ORDER BY id"],
  rpad: ['SELECT id, rpad(name, 6) FROM users ORDER BY id'],
  reverse: ['SELECT id, reverse(name) FROM users ORDER BY id'],
  chr: ['SELECT chr(65), chr(126)'],
  to_hex: ['SELECT id, to_hex(id), to_hex(karma) FROM users ORDER BY id'],
  to_oct: ['SELECT id, to_oct(id), to_oct(karma) FROM users ORDER BY id'],
  to_bin: ['SELECT id, to_bin(id) FROM users ORDER BY id'],
  concat: ["SELECT id, concat(name, '/', age, '/', active) FROM users ORDER BY id"],
  VARIADIC: [
    "SELECT id, concat(variadic tags), concat_ws('/', variadic tags) FROM users ORDER BY id",
    "SELECT format('%s, %s', variadic array[1, 2])",
  ],
  'date_part(text, …)': [
    "SELECT id, date_part('year', birth), date_part('epoch', last_seen), date_part('hour', created_at) FROM users ORDER BY id",
  ],
  concat_ws: ["SELECT id, concat_ws(', ', name, email, age) FROM users ORDER BY id"],
  'char(n)': ['SELECT id, CAST(name AS char(4)), email::char(30) FROM users ORDER BY id'],
  scale: ['SELECT id, scale(balance) FROM users ORDER BY id'],
  min_scale: ['SELECT id, min_scale(balance) FROM users ORDER BY id'],
  trim_scale: ['SELECT id, trim_scale(balance) FROM users ORDER BY id'],
  div: ['SELECT id, div(balance, 3) FROM users WHERE balance IS NOT NULL ORDER BY id'],
  mod: ['SELECT id, mod(balance, 3), mod(id, 4) FROM users ORDER BY id'],
  '%': ['SELECT id, balance % 2.5, id % 3 FROM users ORDER BY id'],
  gcd: ['SELECT id, gcd(id, 12), gcd(balance, 1.5) FROM users ORDER BY id'],
  lcm: ['SELECT id, lcm(id, 4) FROM users ORDER BY id'],
  factorial: ['SELECT id, factorial(id) FROM users ORDER BY id'],
  'float8(x)': ['SELECT id, float8(karma), int4(balance) FROM users WHERE id <> 4 AND id <> 5 ORDER BY id'],
  bool_and: ['SELECT bool_and(active), bool_and(age > 20) FROM users'],
  bool_or: ['SELECT country, bool_or(active) FROM users GROUP BY country ORDER BY country'],
  every: ['SELECT every(active) FROM users'],
  bit_and: ['SELECT bit_and(n), bit_and(b) FROM flags'],
  bit_or: ['SELECT bit_or(n), bit_or(b) FROM flags'],
  bit_xor: ['SELECT bit_xor(n), bit_xor(b) FROM flags'],
  json_strip_nulls: ['SELECT id, json_strip_nulls(meta) FROM products ORDER BY id'],
  'ROW(…)': ['SELECT id, ROW(id, name, balance), (active, age) FROM users ORDER BY id'],
  'ROW(a, b) < ROW(c, d)': [
    'SELECT id, ROW(age, id) < ROW(30, 5), (age, karma) >= (40, 0) FROM users ORDER BY id',
    "SELECT id FROM users WHERE (country, id) > ('DE', 2) ORDER BY id",
  ],
  '=': ['SELECT id, ROW(id, name) = ROW(1, name), (id, age) <> (2, 30) FROM users ORDER BY id'],
  '<>': ['SELECT id FROM users WHERE (id, age) <> (2, 30) ORDER BY id'],
  'date ± interval': [
    "SELECT id, birth + interval '1 year', birth - interval '36 hours' FROM users ORDER BY id",
  ],
  time: [
    "SELECT id, tod FROM events WHERE tod > time '10:00' ORDER BY tod, id",
    'SELECT min(tod), max(tod) FROM events',
  ],
  'time − time': ["SELECT id, tod - time '06:00' FROM events ORDER BY id"],
  'time ± interval': ["SELECT id, tod + interval '20 hours', tod - interval '1:00' FROM events ORDER BY id"],
  'date + time': ["SELECT id, date '2024-05-01' + tod FROM events ORDER BY id"],
  'extract(… FROM time)': [
    'SELECT id, extract(hour FROM tod), extract(epoch FROM tod) FROM events ORDER BY id',
  ],
  TimeZone: ["SELECT id FROM users WHERE created_at > '2024-01-02 00:00:00' ORDER BY id"],
  C: ['SELECT id, name FROM users ORDER BY name COLLATE "C", id'],
  POSIX: ['SELECT id, name FROM users ORDER BY name COLLATE "POSIX" DESC, id'],
  ucs_basic: ['SELECT id, name FROM users ORDER BY name COLLATE ucs_basic, id'],
  pg_c_utf8: ['SELECT id, name FROM users ORDER BY name COLLATE pg_c_utf8, id'],
};

/**
 * Argument shapes a function is tried in when looking for what the compiler
 * serves (`f` stands for the name); over test/corpus/schema.sql.
 */
const SHAPES = [
  'SELECT f() FROM users',
  'SELECT f(*) FROM users',
  ...[
    'id',
    'age',
    'karma',
    'name',
    'email',
    'country',
    'balance',
    'score',
    'birth',
    'created_at',
    'active',
    'prefs',
    'tags',
  ].map((col) => `SELECT f(${col}) FROM users`),
  'SELECT f(name, 2) FROM users',
  'SELECT f(name, name) FROM users',
  "SELECT f(name, ',') FROM users",
  'SELECT f(id, id) FROM users',
  'SELECT f(balance, 1) FROM users',
  "SELECT f('year', birth) FROM users",
  "SELECT f('day', created_at) FROM users",
  'SELECT f(name, 1, 2) FROM users',
  "SELECT f(name, 'a', 'b') FROM users",
  'SELECT f(age, 0) FROM users',
  "SELECT f(prefs, 'theme') FROM users",
  'SELECT f() OVER (ORDER BY id) FROM users',
  'SELECT f(id) OVER (ORDER BY id) FROM users',
  'SELECT f(2) OVER (ORDER BY id) FROM users',
  'SELECT f(id, 1) OVER (ORDER BY id) FROM users',
  'SELECT * FROM f(1, 3)',
  'SELECT * FROM f(1, 9, 2)',
  "SELECT * FROM f('{1,2}'::int4[])",
];

/** Names the compiler's source mentions that are functions upstream. */
function compilerNames(procs: Set<string>): string[] {
  const dir = new URL('../src/sql/compile/', import.meta.url);
  const names = new Set<string>();
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.ts')) continue;
    const text = readFileSync(new URL(file, dir), 'utf8');
    for (const m of text.matchAll(/'([a-z_][a-z0-9_]*)'/g))
      if (procs.has(m[1] as string)) names.add(m[1] as string);
  }
  return [...names].sort();
}

/** The function a claim names: `generate_series(int, …)` → generate_series. */
function claimedName(claim: string): string | undefined {
  return /^([a-z_][a-z0-9_]*)(\(|$)/.exec(claim)?.[1];
}

describe('README "served locally" list vs the compiler', () => {
  let c: Corpus;

  before(async () => {
    c = await startCorpus(undefined, {
      setup: async (pgi) => {
        await pgi.query("CREATE DATABASE claims TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'");
        await pgi.query(readFileSync(new URL('./corpus/schema.sql', import.meta.url), 'utf8'), [], 'claims');
      },
      database: 'claims',
      tables: TABLES,
    });
  });

  after(async () => {
    await c?.close();
  });

  test('every claim has probes, and every probe is local and equal to Postgres', async () => {
    const problems: string[] = [];
    for (const claim of claims()) {
      if (PROVEN_ELSEWHERE[claim]) continue;
      const probes = PROBES[claim];
      if (!probes) {
        problems.push(
          `README claims \`${claim}\`: add probe statements for it to test/readme-claims.test.ts`,
        );
        continue;
      }
      for (const p of probes) {
        const sql = typeof p === 'string' ? p : p.sql;
        try {
          const out =
            typeof p === 'string' ? await differ(c, p, false) : await differPrepared(c, p.sql, p.executions);
          if (out.kind !== 'local')
            problems.push(`\`${claim}\` not served locally (${JSON.stringify(out)}): ${sql}`);
        } catch (err) {
          problems.push(`\`${claim}\`: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test('probes are of claims the README makes (no stale probes)', () => {
    const made = new Set(claims());
    const stale = [...Object.keys(PROBES), ...Object.keys(PROVEN_ELSEWHERE)].filter((k) => !made.has(k));
    assert.deepEqual(stale, [], 'claims no longer in the README: remove their probes');
  });

  test('every function the compiler serves locally is in the README list', async () => {
    const procs = new Set(
      (
        await c.client.query<{ proname: string }>(
          "SELECT DISTINCT proname FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace",
        )
      ).rows.map((r) => r.proname),
    );
    const claimed = new Set(
      claims()
        .map(claimedName)
        .filter((n): n is string => n !== undefined),
    );
    const unclaimed: string[] = [];
    const names = compilerNames(procs);
    assert.ok(names.includes('count') && names.includes('lower'), `names found: ${names.join(', ')}`);
    for (const name of names) {
      c.session.stateCheck = undefined;
      const local = SHAPES.map((s) => s.replace(/\bf\(/, `${name}(`)).find(
        (sql) => c.router.route(sql, c.session).kind === 'local',
      );
      if (local !== undefined && !claimed.has(name)) unclaimed.push(`${name} (local: ${local})`);
    }
    assert.deepEqual(unclaimed, [], 'served locally but not in the README list');
  });
});
