-- Shop schema for the differential corpus and the random generator: every
-- common type, edge values (extremes, NaN, ±Infinity, -0, infinity dates,
-- empty strings, non-ASCII) and NULLs in every nullable column.
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'cancelled');

CREATE TABLE categories (
  id int4 PRIMARY KEY,
  parent_id int4,
  name text NOT NULL,
  slug varchar(40)
);
INSERT INTO categories VALUES
  (1, NULL, 'Books', 'books'),
  (2, NULL, 'Electronics', 'electronics'),
  (3, 2, 'Phones', 'phones'),
  (4, 2, 'Laptops', NULL),
  (5, 1, 'Comics', 'comics'),
  (6, NULL, 'Épicerie', 'epicerie'),
  (7, 6, '', ''),
  (8, NULL, 'Zz top', 'zz-top');

CREATE TABLE users (
  id int4 PRIMARY KEY,
  email varchar(120) NOT NULL,
  name text,
  active bool,
  age int2,
  karma int8,
  balance numeric(12,2),
  score float8,
  rating float4,
  country char(2),
  created_at timestamptz,
  birth date,
  last_seen timestamp,
  ext_id uuid,
  tags text[],
  prefs jsonb,
  avatar bytea
);
INSERT INTO users VALUES
  (1, 'ada@example.com', 'Ada', true, 36, 100, 10.50, 1.5, 1.5, 'GB', '2024-01-01 10:00:00+00', '1815-12-10', '2024-05-01 12:00:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{math,engines}', '{"theme":"dark","n":1}', '\x00ff'),
  (2, 'bob@example.com', 'Bob', false, 25, -5, 0.00, -0.0, -0.0, 'US', '2024-01-02 11:30:00.5+00', '1999-01-01', '2024-05-02 08:00:00.25', NULL, '{}', '{}', '\x'),
  (3, 'cy@example.com', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 'dee@example.com', 'Dée', true, 32767, 9223372036854775807, 9999999999.99, 'Infinity', 'Infinity', 'FR', 'infinity', 'infinity', 'infinity', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{"a b",NULL}', '{"a":[1,2,{"b":null}]}', '\xdeadbeef'),
  (5, 'eve@example.com', 'eve', false, -32768, -9223372036854775808, -9999999999.99, '-Infinity', '-Infinity', 'DE', '-infinity', '-infinity', '-infinity', '00000000-0000-0000-0000-000000000000', '{x}', '[1,"two",3.5]', '\x41'),
  (6, 'fay@example.com', 'Fay', true, 0, 0, -0.01, 'NaN', 'NaN', 'GB', '1999-12-31 23:59:59.999999+00', '2000-02-29', '2000-02-29 00:00:00', 'b1eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '{y,z}', 'null', '\x0102'),
  (7, 'gus@example.com', 'Gus', NULL, 70, 7000000000, 1234.56, 1e-300, 1e-30, 'US', '2024-02-29 12:00:00+00', '1970-01-01', '1970-01-01 00:00:00', NULL, NULL, '{"theme":"light"}', NULL),
  (8, 'hal@example.com', 'hal', true, 18, 42, 42.00, 0.1, 0.1, 'JP', '2023-06-15 08:15:30.123456+00', '2005-06-15', '2023-06-15 08:15:30.123456', 'c2eebc99-9c0b-4ef8-bb6d-6bb9bd380a13', '{a}', '{"n":2}', '\x'),
  (9, 'ivy@example.com', 'Ivy', false, 44, 1, 3.14, 3.14159, 3.14159, 'FR', '2022-12-31 23:00:00+00', '1980-12-31', NULL, NULL, '{}', '{"theme":"dark","n":3}', NULL),
  (10, 'jo@example.com', 'Jo', true, 29, 10, 99.99, 1e20, 1e20, 'GB', '2024-03-10 09:00:00+00', '1995-03-10', '2024-03-10 09:00:00', 'd3eebc99-9c0b-4ef8-bb6d-6bb9bd380a14', '{b,a}', '{"n":10}', '\x10'),
  (11, 'kim@example.com', 'Kim', true, 51, 11, 0.01, -2.5, -2.5, 'KR', '2024-03-11 09:00:00+00', '1973-07-04', '2024-03-11 09:00:00', NULL, '{c}', '{"theme":null}', NULL),
  (12, 'lee@example.com', 'Lee', false, 33, 12, 12.00, 2, 2, 'US', '2024-03-12 09:00:00+00', '1991-01-12', '2024-03-12 09:00:00', NULL, '{d}', '{}', NULL),
  (13, 'max@example.com', 'Max', true, 27, 13, 1300.00, 1.5, 1.5, 'DE', '2024-03-13 09:00:00+00', '1997-02-13', '2024-03-13 09:00:00', NULL, NULL, NULL, NULL),
  (14, 'ned@example.com', 'Ned', NULL, 62, 14, 14.14, 100, 100, 'US', '2024-03-14 09:00:00+00', '1962-03-14', '2024-03-14 09:00:00', NULL, '{e}', '{"n":14}', NULL),
  (15, 'oli@example.com', 'Oli', true, 19, 15, 15.50, 0, 0, NULL, '2024-03-15 09:00:00+00', '2005-03-15', '2024-03-15 09:00:00', NULL, '{f}', '{"n":15}', NULL),
  (16, 'pam@example.com', 'Pam', false, 45, 16, 1600.00, -1, -1, 'FR', '2024-03-16 09:00:00+00', '1979-03-16', '2024-03-16 09:00:00', NULL, '{g}', '{"n":16}', NULL),
  (17, 'quinn@example.com', 'Quinn', true, 38, 17, 17.00, 17.25, 17.25, 'GB', '2024-03-17 09:00:00.75+00', '1986-03-17', '2024-03-17 09:00:00', NULL, '{h}', '{"n":17}', NULL),
  (18, 'rae@example.com', 'Rae', true, 23, 18, 18.00, 18, 18, 'US', '2024-03-18 09:00:00+00', '2001-03-18', '2024-03-18 09:00:00', NULL, '{i}', '{"n":18}', NULL),
  (19, 'sam@example.com', 'Sam', false, 57, 19, 19.00, 19, 19, 'JP', '2024-03-19 09:00:00+00', '1967-03-19', '2024-03-19 09:00:00', NULL, '{j}', '{"n":19}', NULL),
  (20, 'tia@example.com', 'straße', true, 31, 20, 20.00, 20, 20, 'DE', '2024-03-20 09:00:00+00', '1993-03-20', '2024-03-20 09:00:00', NULL, '{k}', '{"n":20}', NULL),
  (21, 'uma@example.com', 'ÉCOLE', true, 41, 21, 21.00, 21, 21, 'FR', '2024-03-21 09:00:00+00', '1983-03-21', '2024-03-21 09:00:00', NULL, '{l}', '{"n":21}', NULL),
  (22, 'vic@example.com', 'a%b_c', false, 22, 22, 22.00, 22, 22, 'US', '2024-03-22 09:00:00+00', '2002-03-22', '2024-03-22 09:00:00', NULL, '{m}', '{"n":22}', NULL),
  (23, 'wes@example.com', '', true, 66, 23, 23.00, 23, 23, 'GB', '2024-03-23 09:00:00+00', '1958-03-23', '2024-03-23 09:00:00', NULL, '{n}', '{"n":23}', NULL),
  (24, 'xan@example.com', 'Xan', NULL, 24, 24, 24.00, 24, 24, 'US', '2024-03-24 09:00:00+00', '2000-03-24', '2024-03-24 09:00:00', NULL, '{o}', '{"n":24}', NULL);

CREATE TABLE products (
  id int4 PRIMARY KEY,
  category_id int4,
  name text NOT NULL,
  sku char(8),
  price numeric(10,2),
  cost numeric,
  weight float4,
  stock int4,
  views int8,
  discontinued bool NOT NULL DEFAULT false,
  released date,
  meta json,
  sizes int4[]
);
INSERT INTO products VALUES
  (1, 5, 'Watchmen', 'BK-0001', 19.99, '9.5', 0.8, 12, 1000, false, '1987-09-01', '{"pages":416}', '{1,2}'),
  (2, 3, 'Phone X', 'PH-0002', 999.00, '700', 0.2, 0, 123456789012, false, '2023-09-22', '{"color":"black"}', '{}'),
  (3, 3, 'Phone Mini', 'PH-03', 499.50, '350.25', 0.15, 2147483647, 5, true, '2020-10-13', NULL, NULL),
  (4, 4, 'Laptop Pro', 'LP-0004', 2499.99, '1800.0001', 2.1, -2147483648, -1, false, '2024-01-15', '{"ram":32}', '{13,15,17}'),
  (5, 1, 'Dictionary', 'BK-0005', 0.00, '0', 1.5, NULL, NULL, false, NULL, '{}', '{NULL}'),
  (6, NULL, 'Mystery box', NULL, NULL, 'NaN', 'NaN', 3, 3, true, 'infinity', 'null', NULL),
  (7, 6, 'Café', 'EP-0007', 4.20, 'Infinity', 'Infinity', 100, 9223372036854775807, false, '2000-01-01', '{"origin":"Éthiopie"}', '{1}'),
  (8, 6, 'Thé vert', 'EP-0008', 3.10, '-Infinity', '-Infinity', 50, -9223372036854775808, false, '-infinity', '[]', '{2,2}'),
  (9, 2, 'Cable', 'EL-0009', 9.99, '1.005', -0.0, 1000, 0, false, '2019-05-05', '{"len":1.5}', '{1,2,3}'),
  (10, 2, 'cable', 'el-0010', 9.99, '1.0050', 0, 999, 10, false, '2019-05-05', '{"len":2}', '{3}'),
  (11, 5, 'Maus', 'BK-0011', 14.95, '-0', 1e-10, 7, 7, false, '1991-01-01', '{"pages":296}', '{}'),
  (12, 4, 'Laptop Air', 'LP-0012', 1299.00, '999.999', 1.3, 15, 15, false, '2024-03-01', '{"ram":16}', '{13}'),
  (13, 1, '100% Cotton Guide', 'BK_0013', 12.00, '6', 0.3, 4, 4, true, '2010-10-10', NULL, NULL),
  (14, 3, 'Phone Z', 'PH-0014', 799.00, '500', 0.19, 20, 20, false, '2024-02-29', '{"color":"white"}', '{5}'),
  (15, 8, 'Zither', 'ZZ-0015', 350.00, '200', 4.5, 1, 1, false, '1999-12-31', '{"strings":36}', '{}'),
  (16, 4, 'Laptop Old', 'LP-0016', 199.00, '150', 3.5, 0, 0, true, '2010-01-01', '{"ram":4}', '{15}'),
  (17, 5, 'Sandman', 'BK-0017', 24.99, '12', 1.1, 30, 30, false, '1989-01-01', '{"pages":2000}', '{}'),
  (18, 2, 'Charger', 'EL-0018', 29.99, '10', 0.25, 200, 200, false, '2022-06-06', '{}', '{1}'),
  (19, 2, 'Adapter', 'EL-0019', 9.99, '2', 0.05, 300, 300, false, '2022-06-06', '{}', '{1}'),
  (20, 6, 'Épices', 'EP-0020', 6.66, '3.33', 0.1, 66, 66, false, '2023-03-03', '{"hot":true}', '{}');

CREATE TABLE orders (
  id int8 PRIMARY KEY,
  user_id int4,
  status order_status NOT NULL,
  total numeric,
  placed_at timestamptz,
  ship_date date,
  note text,
  priority int2,
  coupon varchar(16),
  gift bool,
  prev_status order_status
);
INSERT INTO orders
SELECT g,
       CASE WHEN g % 13 = 0 THEN NULL ELSE (g * 7) % 24 + 1 END,
       (ARRAY['pending', 'paid', 'shipped', 'cancelled'])[g % 4 + 1]::order_status,
       CASE WHEN g % 17 = 0 THEN NULL ELSE round((g * 37 % 1000) / 7.0, 2) END,
       CASE WHEN g % 19 = 0 THEN NULL ELSE timestamptz '2024-01-01 00:00:00+00' + (g * interval '9 hours 17 minutes 3.5 seconds') END,
       CASE WHEN g % 3 = 0 THEN NULL ELSE date '2024-01-05' + g END,
       CASE WHEN g % 5 = 0 THEN NULL WHEN g % 5 = 1 THEN 'leave at door' WHEN g % 5 = 2 THEN '' ELSE 'note ' || g END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 3)::int2 END,
       CASE WHEN g % 4 = 0 THEN 'SAVE' || (g % 3) ELSE NULL END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE g % 2 = 0 END,
       CASE WHEN g % 6 = 0 THEN NULL ELSE (ARRAY['pending', 'paid', 'shipped', 'cancelled'])[g % 3 + 1]::order_status END
  FROM generate_series(1, 60) AS g;
INSERT INTO orders VALUES
  (9223372036854775807, 4, 'paid', 'NaN', 'infinity', 'infinity', 'max id', 32767, NULL, true, 'paid'),
  (-9223372036854775808, 5, 'cancelled', '-0.000', '-infinity', '-infinity', 'min id', -32768, 'NEG', false, 'shipped'),
  (1000, 1, 'shipped', '1e20', '2024-06-30 23:59:59.999999+00', '2024-07-01', 'big total', 1, 'SAVE1', true, NULL);

CREATE TABLE order_items (
  order_id int8 NOT NULL,
  product_id int4 NOT NULL,
  qty int4 NOT NULL,
  unit_price numeric(10,2),
  discount float8,
  PRIMARY KEY (order_id, product_id)
);
INSERT INTO order_items
SELECT o, p, (o + p) % 5 + 1,
       CASE WHEN (o + p) % 9 = 0 THEN NULL ELSE ((o * p) % 500) / 4.0 END,
       CASE WHEN (o + p) % 6 = 0 THEN NULL WHEN (o + p) % 6 = 1 THEN 0.1 WHEN (o + p) % 6 = 2 THEN 0 ELSE ((o * 3 + p) % 4) / 8.0 END
  FROM generate_series(1, 60) AS o, generate_series(1, 20) AS p
 WHERE (o * 3 + p * 7) % 8 = 0;
INSERT INTO order_items VALUES (1000, 7, 2147483647, 4.20, 'NaN'), (1000, 8, 1, NULL, '-Infinity');

CREATE TABLE events (
  id int8 PRIMARY KEY,
  user_id int4,
  kind text,
  at timestamptz,
  local_ts timestamp,
  tod time,
  took interval,
  ratio float8,
  payload jsonb,
  flags bool[],
  trace uuid,
  raw bytea
);
INSERT INTO events
SELECT g,
       CASE WHEN g % 10 = 0 THEN NULL ELSE g % 24 + 1 END,
       (ARRAY['login', 'view', 'click', 'purchase', 'logout', NULL])[g % 6 + 1],
       CASE WHEN g % 23 = 0 THEN NULL ELSE timestamptz '2024-03-01 00:00:00+00' + g * interval '3 hours 7.25 seconds' END,
       timestamp '2024-03-01 00:00:00' + g * interval '1 day 1 second',
       time '00:00:00' + g * interval '17 minutes 0.5 seconds',
       CASE WHEN g % 8 = 0 THEN NULL ELSE g * interval '1 minute 1.5 seconds' END,
       CASE WHEN g % 9 = 0 THEN NULL ELSE g / 7.0::float8 END,
       CASE WHEN g % 5 = 0 THEN NULL ELSE jsonb_build_object('page', '/p/' || g, 'n', g, 'ok', g % 2 = 0) END,
       CASE WHEN g % 4 = 0 THEN NULL ELSE ARRAY[g % 2 = 0, g % 3 = 0] END,
       CASE WHEN g % 3 = 0 THEN NULL ELSE ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE decode(lpad(to_hex(g), 4, '0'), 'hex') END
  FROM generate_series(1, 80) AS g;
INSERT INTO events VALUES
  (1000, 1, 'login', 'infinity', 'infinity', '24:00:00', '-178000000 years', 'Infinity', '{"deep":{"a":[1,{"b":"c"}]}}', '{}', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '\x'),
  (1001, 2, 'logout', '-infinity', '-infinity', '00:00:00', '1 year 2 mons 3 days 04:05:06.789', '-0', '"just a string"', '{NULL}', NULL, '\x00'),
  (1002, NULL, '', '2024-02-29 23:59:59.999999+00', '2024-02-29 23:59:59.999999', '23:59:59.999999', '-1 days +02:00:00', 'NaN', '[]', NULL, NULL, NULL);

-- An enum whose declaration order is not alphabetical (nor byte order), with
-- labels that need quoting, and a column of an array of it (forwarded).
CREATE TYPE urgency AS ENUM ('zeta', 'Alpha', 'it''s', 'b c', 'é');
CREATE TABLE tickets (
  id int4 PRIMARY KEY,
  urgency urgency,
  fallback urgency NOT NULL,
  title text,
  history urgency[]
);
INSERT INTO tickets VALUES
  (1, 'zeta', 'Alpha', 'one', '{zeta}'),
  (2, 'Alpha', 'zeta', 'two', NULL),
  (3, 'it''s', 'it''s', 'three', '{"it''s","b c"}'),
  (4, 'b c', 'é', 'four', '{}'),
  (5, 'é', 'b c', 'five', NULL),
  (6, NULL, 'zeta', 'six', NULL),
  (7, 'Alpha', 'Alpha', 'seven', '{Alpha,é}'),
  (8, 'zeta', 'é', NULL, NULL);

-- Bit strings (src/sql/bit-strings.ts): fixed and varying, the empty string, NULLs.
CREATE TABLE flags (
  id int4 PRIMARY KEY,
  b bit(8),
  v bit varying(12),
  n int4
);
INSERT INTO flags VALUES
  (1, B'00000000', B'', 0),
  (2, B'11111111', B'1', -1),
  (3, B'10100101', B'101001010000', 165),
  (4, X'0F', B'0000', 2147483647),
  (5, NULL, NULL, NULL),
  (6, B'01111111', B'10', -2147483648),
  (7, B'10000000', B'01', 128);

-- money under the server's lc_monetary (C here: src/sql/money.ts).
CREATE TABLE wallets (
  id int4 PRIMARY KEY,
  m money,
  n money
);
INSERT INTO wallets VALUES
  (1, '$0.00', '1'),
  (2, '1234.56', '-0.01'),
  (3, '-1234.56', '(5)'),
  (4, '0.05', '1,000,000.995'),
  (5, NULL, '2'),
  (6, '90000000000000.99', '-3');

-- name (src/sql/compile/names.ts): 63-byte values cut at a character boundary, collation C.
CREATE TABLE idents (
  id int4 PRIMARY KEY,
  n name,
  t text,
  v varchar(80),
  a name[]
);
INSERT INTO idents VALUES
  (1, 'alpha', 'alpha', 'alpha', '{alpha,beta}'),
  (2, 'Alpha', 'beta', 'Beta', '{"b c",NULL}'),
  (3, 'zeta ', 'zeta', 'zeta ', '{}'),
  (4, repeat('x', 70), repeat('x', 70), repeat('x', 70), ARRAY[repeat('x', 70)]::name[]),
  (5, repeat('é', 40), repeat('é', 40), repeat('é', 32), '[0:1]={é,""}'),
  (6, NULL, NULL, NULL, NULL),
  (7, 'é', 'e', 'É', '{{a,b},{c,d}}'),
  (8, '', '', '', '{alpha,beta}');
