/**
 * Captures the ORM corpus from real clients: Drizzle, Kysely, Knex,
 * Sequelize, TypeORM, postgres.js and node-postgres run the reads of a
 * typical app (detail pages, list pages with filters and pagination, search
 * boxes, eager loading, dashboards) against a real Postgres 17 database
 * created with LOCALE 'C.UTF-8' and test/corpus/orm/schema.sql, through a
 * wire tap (tap.ts) that records every statement as sent: text, declared
 * parameter types and bound values. The reads are written to
 * test/corpus/orm/captured.json, which the differential test replays.
 *
 *   node --import tsx test/corpus/orm/capture.ts
 *
 * Not a test: run it again when a scenario changes, and commit the JSON.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  and,
  asc,
  count,
  desc,
  sql as dsql,
  eq,
  gte,
  ilike,
  inArray,
  isNotNull,
  isNull,
  like,
  lt,
  max,
  min,
  or,
  relations,
} from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import {
  bigint,
  boolean,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  varchar,
} from 'drizzle-orm/pg-core';
import knexFactory from 'knex';
import { Kysely, sql as ksql, PostgresDialect } from 'kysely';
import pg from 'pg';
import postgres from 'postgres';
import { DataTypes, Op, Sequelize } from 'sequelize';
import { DataSource, EntitySchema, ILike, In, IsNull, MoreThan, Not } from 'typeorm';
import { startPostgres } from '../../helpers/postgres.js';
import { type Captured, startTap } from './tap.js';

export const ORM_DATABASE = 'app';

/** Creates the app database (LOCALE 'C.UTF-8') and loads the schema; used by the test too. */
export async function createAppDatabase(pgi: {
  query(sql: string, params?: unknown[], database?: string): Promise<unknown>;
}): Promise<void> {
  await pgi.query(`CREATE DATABASE ${ORM_DATABASE} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'`);
  await pgi.query(readFileSync(new URL('./schema.sql', import.meta.url), 'utf8'), [], ORM_DATABASE);
}

// ---- Drizzle -------------------------------------------------------------------------

const statusEnum = pgEnum('post_status', ['draft', 'published', 'archived']);
const dUsers = pgTable('users', {
  id: bigint('id', { mode: 'number' }).primaryKey(),
  accountId: bigint('account_id', { mode: 'number' }),
  email: varchar('email', { length: 254 }).notNull(),
  username: varchar('username', { length: 150 }).notNull(),
  firstName: varchar('first_name', { length: 150 }).notNull(),
  lastName: varchar('last_name', { length: 150 }).notNull(),
  isActive: boolean('is_active').notNull(),
  isStaff: boolean('is_staff').notNull(),
  role: text('role').notNull(),
  lastLogin: timestamp('last_login', { withTimezone: true }),
  dateJoined: timestamp('date_joined', { withTimezone: true }).notNull(),
  settings: jsonb('settings'),
  tags: text('tags').array(),
});
const dPosts = pgTable('posts', {
  id: bigint('id', { mode: 'number' }).primaryKey(),
  authorId: bigint('author_id', { mode: 'number' }).notNull(),
  title: varchar('title', { length: 200 }).notNull(),
  slug: varchar('slug', { length: 200 }).notNull(),
  body: text('body').notNull(),
  status: statusEnum('status').notNull(),
  publishedAt: timestamp('published_at', { withTimezone: true }),
  viewCount: integer('view_count').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
});
const dComments = pgTable('comments', {
  id: bigint('id', { mode: 'number' }).primaryKey(),
  postId: bigint('post_id', { mode: 'number' }).notNull(),
  userId: bigint('user_id', { mode: 'number' }),
  body: text('body').notNull(),
  isApproved: boolean('is_approved').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
});
const dTags = pgTable('tags', {
  id: integer('id').primaryKey(),
  name: varchar('name', { length: 50 }).notNull(),
});
const dUsersRelations = relations(dUsers, ({ many }) => ({ posts: many(dPosts) }));
const dPostsRelations = relations(dPosts, ({ one, many }) => ({
  author: one(dUsers, { fields: [dPosts.authorId], references: [dUsers.id] }),
  comments: many(dComments),
}));
const dCommentsRelations = relations(dComments, ({ one }) => ({
  post: one(dPosts, { fields: [dComments.postId], references: [dPosts.id] }),
}));

async function drizzleScenario(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const db = drizzle(client, {
    schema: { dUsers, dPosts, dComments, dTags, dUsersRelations, dPostsRelations, dCommentsRelations },
  });
  try {
    await db.select().from(dUsers).where(eq(dUsers.id, 3)).limit(1);
    await db.select().from(dUsers).where(eq(dUsers.email, 'ada@example.com'));
    await db
      .select({ id: dUsers.id, email: dUsers.email })
      .from(dUsers)
      .where(ilike(dUsers.email, '%EXAMPLE.com'))
      .orderBy(asc(dUsers.email));
    await db
      .select()
      .from(dPosts)
      .where(and(eq(dPosts.status, 'published'), isNotNull(dPosts.publishedAt)))
      .orderBy(desc(dPosts.publishedAt), desc(dPosts.id))
      .limit(10)
      .offset(10);
    await db
      .select({ title: dPosts.title, author: dUsers.username })
      .from(dPosts)
      .innerJoin(dUsers, eq(dPosts.authorId, dUsers.id))
      .where(eq(dUsers.accountId, 1))
      .orderBy(dPosts.title, dPosts.id);
    await db.select({ count: count() }).from(dComments).where(eq(dComments.postId, 5));
    await db
      .select({ authorId: dPosts.authorId, n: count() })
      .from(dPosts)
      .groupBy(dPosts.authorId)
      .orderBy(dPosts.authorId);
    await db
      .select()
      .from(dTags)
      .where(inArray(dTags.id, [1, 2, 3]))
      .orderBy(dTags.name);
    await db.selectDistinct({ role: dUsers.role }).from(dUsers).orderBy(dUsers.role);
    await db.select({ latest: max(dPosts.publishedAt), first: min(dPosts.createdAt) }).from(dPosts);
    await db.select({ first: min(dUsers.username), last: max(dUsers.username) }).from(dUsers);
    await db.select().from(dUsers).where(dsql`lower(${dUsers.username}) = ${'émile'}`);
    await db
      .select({ id: dComments.id, body: dComments.body })
      .from(dComments)
      .where(or(isNull(dComments.userId), eq(dComments.isApproved, false)))
      .orderBy(desc(dComments.createdAt))
      .limit(20);
    await db
      .select()
      .from(dPosts)
      .where(and(like(dPosts.title, 'Hello%'), lt(dPosts.viewCount, 400)))
      .orderBy(dPosts.id);
    await db
      .select({ id: dUsers.id, name: dUsers.firstName })
      .from(dUsers)
      .where(gte(dUsers.dateJoined, new Date('2024-01-01T00:00:00Z')))
      .orderBy(dUsers.firstName, dUsers.id);
    await db.query.dUsers.findFirst({ where: eq(dUsers.id, 1) });
    await db.query.dPosts.findMany({
      where: eq(dPosts.authorId, 2),
      columns: { id: true, title: true },
      orderBy: [desc(dPosts.id)],
      limit: 3,
    });
    await db.query.dPosts.findMany({
      with: { author: { columns: { username: true } } },
      columns: { id: true, title: true },
      limit: 5,
      orderBy: [asc(dPosts.id)],
    });
  } finally {
    await client.end();
  }
}

// ---- Kysely --------------------------------------------------------------------------

interface KDB {
  users: {
    id: number;
    account_id: number | null;
    email: string;
    username: string;
    first_name: string;
    last_name: string;
    is_active: boolean;
    is_staff: boolean;
    role: string;
    last_login: Date | null;
    date_joined: Date;
  };
  posts: {
    id: number;
    author_id: number;
    title: string;
    slug: string;
    status: string;
    published_at: Date | null;
    view_count: number;
    rating: string | null;
    created_at: Date;
  };
  comments: { id: number; post_id: number; user_id: number | null; body: string; is_approved: boolean };
  tags: { id: number; name: string };
  post_tags: { post_id: number; tag_id: number };
  orders: { id: number; user_id: number; status: string; total: string; currency: string; created_at: Date };
}

async function kyselyScenario(url: string): Promise<void> {
  const db = new Kysely<KDB>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
  });
  try {
    await db.selectFrom('users').selectAll().where('id', '=', 4).executeTakeFirst();
    await db.selectFrom('users').select(['id', 'username']).orderBy('username').execute();
    await db
      .selectFrom('users')
      .select(['id', 'email'])
      .where('email', 'ilike', '%example.COM')
      .orderBy('email', 'desc')
      .execute();
    await db
      .selectFrom('posts')
      .innerJoin('users', 'users.id', 'posts.author_id')
      .select(['posts.id', 'posts.title', 'users.username'])
      .where('posts.status', '=', 'published')
      .orderBy('posts.published_at', 'desc')
      .orderBy('posts.id')
      .limit(5)
      .execute();
    await db
      .selectFrom('comments')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('post_id', '=', 8)
      .executeTakeFirst();
    await db
      .selectFrom('posts')
      .select([
        'author_id',
        (eb) => eb.fn.count('id').as('posts'),
        (eb) => eb.fn.sum('view_count').as('views'),
      ])
      .groupBy('author_id')
      .orderBy('author_id')
      .execute();
    await db
      .selectFrom('tags')
      .selectAll()
      .where('name', 'in', ['rust', 'Python', '日本'])
      .orderBy('name')
      .execute();
    await db
      .selectFrom('users')
      .selectAll()
      .where((eb) =>
        eb.exists(eb.selectFrom('posts').select('posts.id').whereRef('posts.author_id', '=', 'users.id')),
      )
      .orderBy('id')
      .execute();
    await db.selectFrom('users').select('role').distinct().orderBy('role').execute();
    await db
      .selectFrom('posts')
      .leftJoin('comments', 'comments.post_id', 'posts.id')
      .select(['posts.id', (eb) => eb.fn.count('comments.id').as('comments')])
      .groupBy('posts.id')
      .orderBy('posts.id')
      .limit(10)
      .execute();
    await db
      .selectFrom('orders')
      .select([
        'currency',
        (eb) => eb.fn.sum('total').as('revenue'),
        (eb) => eb.fn.max('total').as('largest'),
      ])
      .where('status', '=', 'paid')
      .groupBy('currency')
      .orderBy('currency')
      .execute();
    await db
      .selectFrom('users')
      .select(['id', 'first_name', 'last_name'])
      .where((eb) => eb(eb.fn('upper', ['last_name']), '=', 'STRASSE'))
      .execute();
    await db
      .selectFrom('post_tags')
      .innerJoin('tags', 'tags.id', 'post_tags.tag_id')
      .select(['post_tags.post_id', 'tags.name'])
      .where('post_tags.post_id', 'in', [1, 2, 3])
      .orderBy('post_tags.post_id')
      .orderBy('tags.name')
      .execute();
    await db
      .selectFrom('posts')
      .select(['id', 'title'])
      .where('title', '>=', 'Z')
      .orderBy('title')
      .orderBy('id')
      .execute();
    await ksql`select count(*)::int as n from users where is_active`.execute(db);
  } finally {
    await db.destroy();
  }
}

// ---- Knex ----------------------------------------------------------------------------

async function knexScenario(url: string): Promise<void> {
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 1, max: 1 } });
  try {
    await knex('users').where({ id: 5 }).first();
    await knex('users').where('username', 'ada').first('id', 'email');
    await knex('posts')
      .where('status', 'published')
      .orderBy([{ column: 'published_at', order: 'desc' }, 'id'])
      .limit(10)
      .offset(0);
    await knex('users').whereILike('email', '%example%').orderBy('email').select('id', 'email');
    await knex('comments').count('* as n').where('post_id', 4);
    await knex('comments').whereIn('post_id', [1, 2, 3, 4]).orderBy(['post_id', 'id']);
    await knex('posts')
      .join('users', 'users.id', 'posts.author_id')
      .select('posts.id', 'posts.title', 'users.first_name')
      .where('users.is_active', true)
      .orderBy('users.first_name')
      .orderBy('posts.id');
    await knex('posts').select('author_id').count('id as n').groupBy('author_id').orderBy('author_id');
    await knex('users').distinct('role').orderBy('role');
    await knex('orders').max('total as max').min('created_at as first');
    await knex('users').whereNull('last_login').orderBy('id');
    await knex('orders').whereBetween('total', [100, 500]).orderBy('total').orderBy('id');
    await knex('users').where('is_staff', true).orWhere('role', 'admin').orderBy('id');
    await knex('tags').orderBy('name', 'desc');
    await knex('users').select('first_name').orderBy('first_name').limit(5);
    await knex('accounts').where('name', '<', 'b').orderBy('name');
    await knex('users').whereRaw('lower(username) like ?', ['%ı%']).orderBy('id');
    await knex.raw('select u.id, u.username from users u where u.account_id = ? order by u.username', [2]);
  } finally {
    await knex.destroy();
  }
}

// ---- Sequelize -----------------------------------------------------------------------

async function sequelizeScenario(url: string): Promise<void> {
  const sequelize = new Sequelize(url, { dialect: 'postgres', logging: false, pool: { min: 1, max: 1 } });
  const User = sequelize.define(
    'User',
    {
      id: { type: DataTypes.BIGINT, primaryKey: true },
      accountId: { type: DataTypes.BIGINT, field: 'account_id' },
      email: DataTypes.STRING(254),
      username: DataTypes.STRING(150),
      firstName: { type: DataTypes.STRING(150), field: 'first_name' },
      lastName: { type: DataTypes.STRING(150), field: 'last_name' },
      isActive: { type: DataTypes.BOOLEAN, field: 'is_active' },
      role: DataTypes.TEXT,
      dateJoined: { type: DataTypes.DATE, field: 'date_joined' },
    },
    { tableName: 'users', timestamps: false },
  );
  const Post = sequelize.define(
    'Post',
    {
      id: { type: DataTypes.BIGINT, primaryKey: true },
      authorId: { type: DataTypes.BIGINT, field: 'author_id' },
      title: DataTypes.STRING(200),
      slug: DataTypes.STRING(200),
      status: DataTypes.ENUM('draft', 'published', 'archived'),
      viewCount: { type: DataTypes.INTEGER, field: 'view_count' },
      publishedAt: { type: DataTypes.DATE, field: 'published_at' },
    },
    { tableName: 'posts', timestamps: false },
  );
  const Comment = sequelize.define(
    'Comment',
    {
      id: { type: DataTypes.BIGINT, primaryKey: true },
      postId: { type: DataTypes.BIGINT, field: 'post_id' },
      body: DataTypes.TEXT,
      isApproved: { type: DataTypes.BOOLEAN, field: 'is_approved' },
    },
    { tableName: 'comments', timestamps: false },
  );
  Post.belongsTo(User, { foreignKey: 'authorId', as: 'author' });
  Post.hasMany(Comment, { foreignKey: 'postId', as: 'comments' });
  try {
    await User.findByPk(6);
    await User.findOne({ where: { email: 'bob@example.com' } });
    await User.findAll({ where: { isActive: true }, order: [['username', 'ASC']], limit: 5 });
    await User.findAll({ where: { email: { [Op.iLike]: '%EXAMPLE.com' } }, order: [['id', 'ASC']] });
    await User.count({ where: { role: 'member' } });
    await Post.findAll({
      where: { status: 'published' },
      include: [{ model: User, as: 'author', attributes: ['id', 'username'] }],
      order: [['id', 'DESC']],
      limit: 5,
    });
    await Post.findAndCountAll({ where: { authorId: 3 }, order: [['id', 'ASC']], limit: 2, offset: 0 });
    await Comment.findAll({ where: { postId: { [Op.in]: [1, 2, 3] } }, order: [['id', 'ASC']] });
    await Post.findAll({
      attributes: ['authorId', [sequelize.fn('COUNT', sequelize.col('id')), 'n']],
      group: ['authorId'],
      order: [['authorId', 'ASC']],
    });
    await User.max('dateJoined');
    await Post.findAll({
      where: { title: { [Op.like]: 'Apple%' } },
      order: [
        ['title', 'ASC'],
        ['id', 'ASC'],
      ],
    });
    await User.findAll({ attributes: ['firstName'], order: [['firstName', 'DESC']], limit: 4 });
    await Post.findOne({ where: { slug: 'post-7' }, include: [{ model: Comment, as: 'comments' }] });
  } finally {
    await sequelize.close();
  }
}

// ---- TypeORM -------------------------------------------------------------------------

interface TUser {
  id: string;
  email: string;
  username: string;
  firstName: string;
  isActive: boolean;
  role: string;
  posts?: TPost[];
}
interface TPost {
  id: string;
  authorId: string;
  title: string;
  status: string;
  viewCount: number;
  author?: TUser;
}

const UserEntity = new EntitySchema<TUser>({
  name: 'User',
  tableName: 'users',
  columns: {
    id: { type: 'bigint', primary: true },
    email: { type: 'varchar', length: 254 },
    username: { type: 'varchar', length: 150 },
    firstName: { type: 'varchar', name: 'first_name' },
    isActive: { type: 'boolean', name: 'is_active' },
    role: { type: 'text' },
  },
  relations: { posts: { type: 'one-to-many', target: 'Post', inverseSide: 'author' } },
});
const PostEntity = new EntitySchema<TPost>({
  name: 'Post',
  tableName: 'posts',
  columns: {
    id: { type: 'bigint', primary: true },
    authorId: { type: 'bigint', name: 'author_id' },
    title: { type: 'varchar', length: 200 },
    status: { type: 'text' },
    viewCount: { type: 'int', name: 'view_count' },
  },
  relations: { author: { type: 'many-to-one', target: 'User', joinColumn: { name: 'author_id' } } },
});

async function typeormScenario(url: string): Promise<void> {
  const ds = new DataSource({
    type: 'postgres',
    url,
    entities: [UserEntity, PostEntity],
    synchronize: false,
    logging: false,
    extra: { max: 1 },
  });
  await ds.initialize();
  try {
    const users = ds.getRepository(UserEntity);
    const posts = ds.getRepository(PostEntity);
    await users.findOneBy({ id: '7' });
    await users.find({ where: { isActive: true }, order: { username: 'ASC' }, take: 5 });
    await users.find({ where: { email: ILike('%example.com') }, order: { id: 'ASC' } });
    await users.count({ where: { role: 'admin' } });
    await posts.find({ where: { authorId: In(['1', '2']) }, order: { id: 'DESC' } });
    await posts.findAndCount({ where: { viewCount: MoreThan(100) }, order: { id: 'ASC' }, take: 3, skip: 3 });
    await posts.find({
      relations: { author: true },
      where: { status: 'published' },
      order: { id: 'ASC' },
      take: 4,
    });
    await users.find({ where: { role: Not('guest') }, order: { firstName: 'ASC', id: 'ASC' } });
    await posts
      .createQueryBuilder('p')
      .leftJoinAndSelect('p.author', 'a')
      .where('a.role = :role', { role: 'member' })
      .orderBy('p.title', 'ASC')
      .addOrderBy('p.id', 'ASC')
      .getMany();
    await posts
      .createQueryBuilder('p')
      .select('p.authorId', 'authorId')
      .addSelect('COUNT(*)', 'n')
      .groupBy('p.authorId')
      .orderBy('p.authorId')
      .getRawMany();
    await users.findOne({ where: { username: 'zoë' } });
    await users.find({ where: { firstName: IsNull() } });
  } finally {
    await ds.destroy();
  }
}

// ---- postgres.js ---------------------------------------------------------------------

async function postgresJsScenario(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select * from users where id = ${8}`;
    await sql`select id, email from users where email = ${'emoji@example.com'}`;
    await sql`select id, username from users where id in ${sql([1, 2, 3])} order by username`;
    const columns = ['id', 'title', 'status'];
    await sql`select ${sql(columns)} from posts where author_id = ${4} order by id`;
    await sql`select count(*) from comments where is_approved = ${true}`;
    await sql`select p.id, p.title, u.username from posts p join users u on u.id = p.author_id where p.slug = ${'post-12'}`;
    await sql`select * from tags order by name`;
    await sql`select username from users where lower(username) = lower(${'SVEN'})`;
    await sql`select distinct currency from orders order by currency`;
    await sql`select id, first_name from users where first_name > ${'M'} order by first_name, id`;
    await sql`select max(title) as max, min(title) as min from posts`;
  } finally {
    await sql.end();
  }
}

// ---- node-postgres, hand-written SQL -------------------------------------------------

async function pgScenario(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT id, email, username FROM users WHERE id = $1', [9]);
    await client.query('SELECT * FROM posts WHERE author_id = $1 AND status = $2 ORDER BY created_at DESC', [
      1,
      'published',
    ]);
    await client.query('SELECT count(*) AS total FROM posts WHERE status = $1', ['draft']);
    await client.query(
      'SELECT u.id, u.username, count(p.id) AS posts FROM users u LEFT JOIN posts p ON p.author_id = u.id GROUP BY u.id ORDER BY u.username',
    );
    await client.query('SELECT id, title FROM posts WHERE title ILIKE $1 ORDER BY id', ['%ÉCLAIR%']);
    await client.query('SELECT id, username FROM users WHERE username = ANY($1) ORDER BY id', [
      ['ada', 'bob'],
    ]);
    await client.query('SELECT upper(first_name) AS f, lower(last_name) AS l FROM users ORDER BY id');
    await client.query('SELECT DISTINCT name FROM tags ORDER BY name');
    await client.query('SELECT name FROM accounts ORDER BY name DESC');
    await client.query('SELECT id FROM users WHERE last_name = $1', ['Straße']);
  } finally {
    await client.end();
  }
}

const SCENARIOS: [string, (url: string) => Promise<void>][] = [
  ['drizzle', drizzleScenario],
  ['kysely', kyselyScenario],
  ['knex', knexScenario],
  ['sequelize', sequelizeScenario],
  ['typeorm', typeormScenario],
  ['postgres.js', postgresJsScenario],
  ['node-postgres', pgScenario],
];

/** A read: SELECT/WITH/TABLE/VALUES (after any opening parentheses). */
function isRead(sql: string): boolean {
  return /^[\s(]*(select|with|table|values)\b/i.test(sql);
}

async function main(): Promise<void> {
  const pgi = await startPostgres({});
  try {
    await createAppDatabase(pgi);
    const tap = await startTap({ host: pgi.host, port: pgi.port });
    const url = `postgres://${pgi.user}:${pgi.password}@127.0.0.1:${tap.port}/${ORM_DATABASE}`;
    for (const [name, run] of SCENARIOS) {
      tap.client = name;
      await run(url);
    }
    await tap.close();
    const seen = new Set<string>();
    const out: Captured[] = [];
    for (const c of tap.captured) {
      if (!isRead(c.sql)) continue;
      const key = JSON.stringify([c.sql, c.types ?? null, c.params ?? null]);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(c);
    }
    const lines = out.map((c) => `  ${JSON.stringify(c)}`);
    writeFileSync(new URL('./captured.json', import.meta.url), `[\n${lines.join(',\n')}\n]\n`);
    console.log(
      `captured ${out.length} reads from ${SCENARIOS.length} clients (${tap.captured.length} messages)`,
    );
  } finally {
    await pgi.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
