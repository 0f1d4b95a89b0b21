/**
 * The ORM corpus's statements from clients that cannot run here (no Python
 * ORMs, Ruby, Go or Prisma engine on the machine), written in the exact
 * shapes their documentation and query logs show, over the same app schema
 * (schema.sql): Django (psycopg2/psycopg 3 bind client-side, so constants
 * arrive inlined through the simple protocol), SQLAlchemy (psycopg2 inlined;
 * psycopg 3 binds server-side with `$n` and typed casts), ActiveRecord
 * (prepared statements, LIMIT as a parameter), pgx/sqlc (prepared, the sqlc
 * name comment kept), and Prisma (schema-qualified columns, parameters,
 * OFFSET on every read). The captured ones are in captured.json.
 */
import type { Captured } from './tap.js';

const django: string[] = [
  'SELECT "users"."id", "users"."account_id", "users"."email", "users"."username", "users"."first_name", "users"."last_name", "users"."is_active", "users"."is_staff", "users"."role", "users"."last_login", "users"."date_joined" FROM "users" WHERE "users"."id" = 2 LIMIT 21',
  'SELECT "users"."id", "users"."username", "users"."email" FROM "users" WHERE UPPER("users"."email"::text) = UPPER(\'zoe@example.com\') LIMIT 21',
  'SELECT "users"."id", "users"."username" FROM "users" WHERE UPPER("users"."username"::text) LIKE UPPER(\'%É%\') ORDER BY "users"."username" ASC',
  'SELECT "posts"."id", "posts"."title", "posts"."slug", "posts"."published_at" FROM "posts" WHERE ("posts"."status" = \'published\' AND "posts"."published_at" IS NOT NULL) ORDER BY "posts"."published_at" DESC, "posts"."id" DESC LIMIT 10 OFFSET 10',
  'SELECT COUNT(*) AS "__count" FROM "posts" WHERE "posts"."status" = \'published\'',
  'SELECT (1) AS "a" FROM "users" WHERE "users"."email" = \'ada@example.com\' LIMIT 1',
  'SELECT "comments"."id", "comments"."post_id", "comments"."user_id", "comments"."body", "comments"."is_approved", "comments"."created_at" FROM "comments" WHERE "comments"."post_id" IN (1, 8, 15, 22) ORDER BY "comments"."created_at" ASC, "comments"."id" ASC',
  'SELECT "posts"."id", "posts"."title", "users"."id", "users"."username" FROM "posts" INNER JOIN "users" ON ("posts"."author_id" = "users"."id") WHERE "users"."is_active" ORDER BY "posts"."title" ASC, "posts"."id" ASC LIMIT 21',
  'SELECT "posts"."author_id", COUNT("posts"."id") AS "n" FROM "posts" GROUP BY "posts"."author_id" ORDER BY "n" DESC, "posts"."author_id" ASC',
  'SELECT DISTINCT "users"."role" FROM "users" ORDER BY "users"."role" ASC',
  'SELECT MAX("posts"."view_count") AS "view_count__max", MIN("posts"."title") AS "title__min" FROM "posts"',
  'SELECT "tags"."id", "tags"."name" FROM "tags" INNER JOIN "post_tags" ON ("tags"."id" = "post_tags"."tag_id") WHERE "post_tags"."post_id" = 3 ORDER BY "tags"."name" ASC',
  'SELECT "users"."id", "users"."first_name", "users"."last_name" FROM "users" WHERE "users"."last_login" >= \'2024-01-01T00:00:00+00:00\'::timestamptz ORDER BY "users"."last_name" ASC, "users"."id" ASC',
  'SELECT "orders"."id", "orders"."total" FROM "orders" WHERE ("orders"."user_id" = 4 AND "orders"."status" IN (\'paid\', \'shipped\')) ORDER BY "orders"."created_at" DESC',
  'SELECT "users"."id", "users"."username" FROM "users" WHERE "users"."username"::text LIKE \'%a%\' ORDER BY "users"."id" ASC',
  'SELECT "accounts"."id", "accounts"."name" FROM "accounts" WHERE UPPER("accounts"."name"::text) LIKE UPPER(\'%gmbh%\') ORDER BY "accounts"."name" ASC',
];

const sqlalchemy: string[] = [
  'SELECT users.id AS users_id, users.email AS users_email, users.username AS users_username \nFROM users \nWHERE users.id = 5',
  "SELECT users.id AS users_id, users.username AS users_username \nFROM users \nWHERE lower(users.email) = lower('Alice@Example.com') \n LIMIT 1",
  'SELECT count(*) AS count_1 \nFROM (SELECT posts.id AS posts_id \nFROM posts \nWHERE posts.author_id = 3) AS anon_1',
  'SELECT posts.id AS posts_id, posts.title AS posts_title, posts.author_id AS posts_author_id \nFROM posts \nWHERE posts.author_id IN (1, 2, 3) ORDER BY posts.id',
  'SELECT users.id AS users_id, users.username AS users_username, posts_1.id AS posts_1_id, posts_1.title AS posts_1_title \nFROM users LEFT OUTER JOIN posts AS posts_1 ON users.id = posts_1.author_id \nWHERE users.account_id = 2 ORDER BY users.id, posts_1.id',
  'SELECT users.username, count(comments.id) AS count_1 \nFROM users JOIN comments ON users.id = comments.user_id GROUP BY users.username ORDER BY users.username',
  "SELECT posts.id, posts.title \nFROM posts \nWHERE posts.title ILIKE '%straße%' ORDER BY posts.id \n LIMIT 20 OFFSET 0",
  "SELECT max(orders.total) AS max_1, min(orders.total) AS min_1, count(orders.id) AS count_1 \nFROM orders \nWHERE orders.currency = 'EUR'",
  'SELECT DISTINCT users.last_name \nFROM users ORDER BY users.last_name',
  "SELECT tags.name \nFROM tags \nWHERE tags.name > 'Python' ORDER BY tags.name DESC",
];

/** SQLAlchemy 2 over psycopg 3: server-side binding, typed casts on the parameters. */
const sqlalchemyPsycopg3: Captured[] = [
  {
    client: 'sqlalchemy+psycopg',
    sql: 'SELECT users.id, users.email, users.username \nFROM users \nWHERE users.email = $1::VARCHAR',
    types: [],
    params: ['li@example.cn'],
  },
  {
    client: 'sqlalchemy+psycopg',
    sql: 'SELECT posts.id, posts.title \nFROM posts \nWHERE posts.author_id = $1::BIGINT ORDER BY posts.id DESC \n LIMIT $2::INTEGER',
    types: [],
    params: ['6', '3'],
  },
  {
    client: 'sqlalchemy+psycopg',
    sql: 'SELECT users.id, users.first_name \nFROM users \nWHERE users.first_name ILIKE $1::VARCHAR ORDER BY users.first_name',
    types: [],
    params: ['%É%'],
  },
];

const activerecord: Captured[] = [
  ['SELECT "users".* FROM "users" WHERE "users"."id" = $1 LIMIT $2', ['3', '1']],
  ['SELECT "users".* FROM "users" WHERE "users"."email" = $1 LIMIT $2', ['sven@example.de', '1']],
  [
    'SELECT 1 AS one FROM "users" WHERE LOWER("users"."email") = LOWER($1) LIMIT $2',
    ['ADA@example.com', '1'],
  ],
  [
    'SELECT "posts".* FROM "posts" WHERE "posts"."author_id" = $1 ORDER BY "posts"."created_at" DESC LIMIT $2',
    ['2', '5'],
  ],
  ['SELECT COUNT(*) FROM "comments" WHERE "comments"."post_id" = $1', ['9']],
  ['SELECT "comments".* FROM "comments" WHERE "comments"."post_id" IN ($1, $2, $3)', ['2', '9', '16']],
  [
    'SELECT COUNT(*) AS "count_all", "posts"."author_id" AS "posts_author_id" FROM "posts" GROUP BY "posts"."author_id"',
    [],
  ],
  ['SELECT DISTINCT "users"."role" FROM "users"', []],
  ['SELECT MAX("posts"."published_at") FROM "posts" WHERE "posts"."author_id" = $1', ['1']],
  [
    'SELECT "users"."username" FROM "users" WHERE "users"."is_active" = $1 ORDER BY "users"."username" ASC',
    ['t'],
  ],
  ['SELECT "users".* FROM "users" ORDER BY "users"."id" ASC LIMIT $1', ['1000']],
  [
    'SELECT "posts".* FROM "posts" INNER JOIN "users" ON "users"."id" = "posts"."author_id" WHERE "users"."account_id" = $1 ORDER BY "posts"."id" ASC',
    ['3'],
  ],
  ['SELECT "tags".* FROM "tags" WHERE (name ILIKE \'%ÉMIGRÉ%\')', []],
  [
    'SELECT "orders".* FROM "orders" WHERE "orders"."user_id" = $1 AND "orders"."status" = $2 ORDER BY "orders"."id" ASC',
    ['7', 'paid'],
  ],
].map(([sql, params]) => ({
  client: 'activerecord',
  sql: sql as string,
  types: [],
  params: params as string[],
}));

const pgx: Captured[] = [
  [
    '-- name: GetUser :one\nSELECT id, email, username, first_name, last_name FROM users\nWHERE id = $1 LIMIT 1',
    ['8'],
  ],
  [
    '-- name: ListPostsByAuthor :many\nSELECT id, title, status, published_at FROM posts\nWHERE author_id = $1\nORDER BY id',
    ['5'],
  ],
  ['-- name: CountComments :one\nSELECT count(*) FROM comments\nWHERE post_id = $1', ['3']],
  [
    '-- name: SearchUsers :many\nSELECT id, username FROM users\nWHERE username ILIKE $1\nORDER BY username\nLIMIT $2',
    ['%ö%', '10'],
  ],
  ['-- name: GetAccountByName :one\nSELECT id, name, plan FROM accounts\nWHERE name = $1', ['ßeta Labs']],
  [
    'select id, title from posts where status = $1 and view_count > $2 order by view_count desc, id',
    ['published', '100'],
  ],
  [
    'select u.username, o.total, o.currency from orders o join users u on u.id = o.user_id where o.id = $1',
    ['12'],
  ],
  ['select name from tags where id = any($1) order by name', ['{1,4,5,6}']],
].map(([sql, params]) => ({ client: 'pgx', sql: sql as string, types: [], params: params as string[] }));

const prisma: Captured[] = [
  [
    'SELECT "public"."users"."id", "public"."users"."email", "public"."users"."username" FROM "public"."users" WHERE ("public"."users"."id" = $1 AND 1=1) LIMIT $2 OFFSET $3',
    ['1', '1', '0'],
  ],
  [
    'SELECT "public"."users"."id", "public"."users"."username" FROM "public"."users" WHERE "public"."users"."email"::text ILIKE $1 ORDER BY "public"."users"."username" ASC OFFSET $2',
    ['%EXAMPLE%', '0'],
  ],
  [
    'SELECT "public"."posts"."id", "public"."posts"."title", "public"."posts"."author_id" FROM "public"."posts" WHERE "public"."posts"."author_id" IN ($1,$2,$3) OFFSET $4',
    ['1', '2', '3', '0'],
  ],
  [
    'SELECT COUNT(*) AS "_count._all" FROM (SELECT "public"."posts"."id" FROM "public"."posts" WHERE "public"."posts"."status" = CAST($1::text AS "public"."post_status") OFFSET $2) AS "sub"',
    ['published', '0'],
  ],
  [
    'SELECT "public"."posts"."id", "public"."posts"."title" FROM "public"."posts" WHERE 1=1 ORDER BY "public"."posts"."title" DESC, "public"."posts"."id" ASC LIMIT $1 OFFSET $2',
    ['10', '0'],
  ],
  [
    'SELECT "public"."tags"."id", "public"."tags"."name" FROM "public"."tags" WHERE "public"."tags"."name" LIKE $1 OFFSET $2',
    ['%é%', '0'],
  ],
  [
    'SELECT MAX("total") AS "_max.total", MIN("created_at") AS "_min.created_at" FROM (SELECT "public"."orders"."total", "public"."orders"."created_at" FROM "public"."orders" WHERE 1=1 OFFSET $1) AS "sub"',
    ['0'],
  ],
  [
    'SELECT "public"."comments"."id", "public"."comments"."body" FROM "public"."comments" WHERE ("public"."comments"."post_id" = $1 AND "public"."comments"."is_approved" = $2) ORDER BY "public"."comments"."id" ASC OFFSET $3',
    ['4', 'true', '0'],
  ],
].map(([sql, params]) => ({ client: 'prisma', sql: sql as string, types: [], params: params as string[] }));

export const DOCUMENTED: Captured[] = [
  ...django.map((sql) => ({ client: 'django', sql })),
  ...sqlalchemy.map((sql) => ({ client: 'sqlalchemy', sql })),
  ...sqlalchemyPsycopg3,
  ...activerecord,
  ...pgx,
  ...prisma,
];
