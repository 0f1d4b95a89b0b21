-- A typical web app's schema for the ORM corpus (test/corpus/orm/): accounts,
-- users, posts, comments, tags, orders. Loaded into a database created with
-- LOCALE 'C.UTF-8', the default of many hosted Postgres images. Text holds
-- non-ASCII letters, combining marks, emoji and supplementary-plane
-- characters, in both cases, so text order, DISTINCT and case mapping are
-- exercised by every list page and search box.
CREATE TYPE post_status AS ENUM ('draft', 'published', 'archived');

CREATE TABLE accounts (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  plan varchar(20) NOT NULL DEFAULT 'free',
  created_at timestamptz NOT NULL
);
INSERT INTO accounts (id, name, plan, created_at) VALUES
  (1, 'Acme', 'pro', '2023-01-05 10:00:00+00'),
  (2, 'Ümlaut GmbH', 'free', '2023-03-01 08:30:00+00'),
  (3, 'ßeta Labs', 'enterprise', '2023-07-14 16:45:10.5+00'),
  (4, 'zeta', 'free', '2024-02-29 00:00:00+00'),
  (5, '東京 Works', 'pro', '2024-06-01 12:00:00+00');

CREATE TABLE users (
  id bigserial PRIMARY KEY,
  account_id bigint REFERENCES accounts (id),
  email varchar(254) NOT NULL UNIQUE,
  username varchar(150) NOT NULL UNIQUE,
  first_name varchar(150) NOT NULL DEFAULT '',
  last_name varchar(150) NOT NULL DEFAULT '',
  is_active boolean NOT NULL DEFAULT true,
  is_staff boolean NOT NULL DEFAULT false,
  role text NOT NULL DEFAULT 'member',
  last_login timestamptz,
  date_joined timestamptz NOT NULL,
  settings jsonb,
  tags text[]
);
INSERT INTO users (id, account_id, email, username, first_name, last_name, is_active, is_staff, role, last_login, date_joined, settings, tags) VALUES
  (1, 1, 'ada@example.com', 'ada', 'Ada', 'Lovelace', true, true, 'admin', '2024-05-01 09:00:00+00', '2023-01-05 10:00:00+00', '{"theme": "dark", "lang": "en"}', '{math,admin}'),
  (2, 1, 'bob@example.com', 'bob', 'Bob', 'builder', true, false, 'member', '2024-05-02 10:00:00+00', '2023-01-06 10:00:00+00', '{"theme": "light"}', '{}'),
  (3, 2, 'emile@example.fr', 'émile', 'Émile', 'Zola', true, false, 'member', NULL, '2023-03-02 11:00:00+00', NULL, NULL),
  (4, 2, 'ZOE@EXAMPLE.COM', 'zoë', 'Zoë', 'Ærø', false, false, 'guest', '2023-04-01 00:00:00+00', '2023-03-03 12:00:00+00', '{}', '{x}'),
  (5, 3, 'lukasz@example.pl', 'łukasz', 'Łukasz', 'Żółć', true, false, 'member', '2024-01-15 08:00:00+00', '2023-07-15 09:00:00+00', '{"lang": "pl"}', '{dev}'),
  (6, 3, 'sven@example.de', 'Sven', 'Sven', 'Straße', true, true, 'admin', '2024-04-30 23:59:59.999+00', '2023-07-16 09:00:00+00', '{"theme": "dark"}', '{dev,ops}'),
  (7, 4, 'li@example.cn', '李雷', '雷', '李', true, false, 'member', NULL, '2024-03-01 00:00:00+00', NULL, '{}'),
  (8, 4, 'omega@example.gr', 'ωmega', 'Ωmega', 'Σίσυφος', true, false, 'member', '2024-03-02 00:00:00+00', '2024-03-02 00:00:00+00', '{"lang": "el"}', '{greek}'),
  (9, 5, 'emoji@example.com', '😀fan', '😀', 'Fan 👍🏽', true, false, 'member', '2024-06-02 00:00:00+00', '2024-06-02 00:00:00+00', '{"emoji": true}', '{fun}'),
  (10, 5, 'jose@example.es', 'josé', 'Jose' || chr(769), 'Núñez', true, false, 'member', NULL, '2024-06-03 00:00:00+00', NULL, NULL),
  (11, 1, 'ALICE@example.com', 'Alice', 'alice', 'Ångström', true, false, 'member', '2024-05-03 00:00:00+00', '2024-01-01 00:00:00+00', '{}', '{}'),
  (12, NULL, 'orphan@example.com', 'orphan', '', '', false, false, 'guest', NULL, '2022-12-31 23:59:59+00', NULL, NULL),
  (13, 1, 'math@example.com', '𝐌ath', '𝐌', 'İstanbul', true, false, 'member', NULL, '2024-07-01 00:00:00+00', NULL, NULL),
  (14, 2, 'turk@example.tr', 'ılık', 'Iğdır', 'ılık', true, false, 'member', '2024-07-02 00:00:00+00', '2024-07-02 00:00:00+00', NULL, '{}');

CREATE TABLE tags (
  id serial PRIMARY KEY,
  name varchar(50) NOT NULL UNIQUE
);
INSERT INTO tags (id, name) VALUES
  (1, 'postgres'), (2, 'Python'), (3, 'rust'), (4, 'Émigré'), (5, 'émigré'), (6, '日本'), (7, '🚀launch'), (8, 'zsh'), (9, 'ZFS');

CREATE TABLE posts (
  id bigserial PRIMARY KEY,
  author_id bigint NOT NULL REFERENCES users (id),
  title varchar(200) NOT NULL,
  slug varchar(200) NOT NULL UNIQUE,
  body text NOT NULL DEFAULT '',
  status post_status NOT NULL DEFAULT 'draft',
  published_at timestamptz,
  view_count integer NOT NULL DEFAULT 0,
  rating numeric(3, 2),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
-- 48 posts, 4 per author of users 1..12; titles cycle through mixed scripts and cases.
INSERT INTO posts (id, author_id, title, slug, body, status, published_at, view_count, rating, created_at, updated_at)
SELECT i,
  1 + (i - 1) % 12,
  (ARRAY['Hello world', 'hello World', 'Éclair recipes', 'eclair recipes', 'Über alles', 'Straße & Co', 'Ωmega release', '日本語 notes', '🚀 Launch day', 'Zebra facts', 'apple pie', 'Apple Pie'])[1 + (i - 1) % 12] || ' #' || i,
  'post-' || i,
  repeat('lorem ipsum ', 1 + i % 5) || (ARRAY['', 'Ünïcödé', 'emoji 😀', 'e' || chr(769)])[1 + i % 4],
  (ARRAY['draft', 'published', 'published', 'archived']::post_status[])[1 + i % 4],
  CASE WHEN i % 4 IN (1, 2) THEN timestamptz '2024-01-01 00:00:00+00' + (i * interval '37 hours') END,
  (i * 37) % 500,
  CASE WHEN i % 5 = 0 THEN NULL ELSE ((i * 13) % 500) / 100.0 END,
  timestamptz '2023-12-01 00:00:00+00' + (i * interval '1 day'),
  timestamptz '2023-12-01 00:00:00+00' + (i * interval '1 day') + ((i % 3) * interval '90 minutes')
FROM generate_series(1, 48) AS i;

CREATE TABLE post_tags (
  post_id bigint NOT NULL REFERENCES posts (id),
  tag_id integer NOT NULL REFERENCES tags (id),
  PRIMARY KEY (post_id, tag_id)
);
INSERT INTO post_tags (post_id, tag_id)
SELECT p, 1 + (p * k) % 9 FROM generate_series(1, 48) p, generate_series(1, 3) k
ON CONFLICT DO NOTHING;

CREATE TABLE comments (
  id bigserial PRIMARY KEY,
  post_id bigint NOT NULL REFERENCES posts (id),
  user_id bigint REFERENCES users (id),
  body text NOT NULL,
  is_approved boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL
);
INSERT INTO comments (id, post_id, user_id, body, is_approved, created_at)
SELECT i,
  1 + (i * 7) % 48,
  CASE WHEN i % 9 = 0 THEN NULL ELSE 1 + (i * 5) % 14 END,
  (ARRAY['Great post!', 'great POST', 'Très bien', 'TRÈS BIEN', 'Спасибо', '👍', 'ok', 'Ok 👌🏿', 'Straße?', 'Nice—thanks'])[1 + i % 10],
  i % 3 <> 0,
  timestamptz '2024-02-01 00:00:00+00' + (i * interval '5 hours 7 minutes')
FROM generate_series(1, 120) AS i;

CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id),
  status varchar(20) NOT NULL,
  total numeric(10, 2) NOT NULL,
  currency char(3) NOT NULL DEFAULT 'EUR',
  created_at timestamptz NOT NULL
);
INSERT INTO orders (id, user_id, status, total, currency, created_at)
SELECT i,
  1 + (i * 3) % 14,
  (ARRAY['pending', 'paid', 'shipped', 'refunded'])[1 + i % 4],
  ((i * 1234) % 100000) / 100.0,
  (ARRAY['EUR', 'USD', 'JPY'])[1 + i % 3],
  timestamptz '2024-03-01 00:00:00+00' + (i * interval '11 hours')
FROM generate_series(1, 60) AS i;

SELECT setval(pg_get_serial_sequence(t, 'id'), 1000) FROM unnest(ARRAY['accounts', 'users', 'tags', 'posts', 'comments', 'orders']) AS t;
