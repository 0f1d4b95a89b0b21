/**
 * End-to-end differential check: one statement on a session through Outpost
 * and on a direct session to upstream (same role) must give the same
 * RowDescription (names, table OIDs, attnums, type OIDs, sizes, modifiers),
 * the same text rows, or the same SQLSTATE.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import { lastRoute } from './outpost.js';
import { rawTypes } from './replica-fixture.js';

/** Routes that say the role's facts are being refreshed, not that the statement cannot be local. */
const TRANSIENT = /being looked up|not yet known|role catalog not/;

type Outcome = { ok: true; fields: unknown[]; rows: unknown[][] } | { ok: false; code: string | undefined };

async function run(c: pg.Client, sql: string): Promise<Outcome> {
  try {
    const r = (await c.query({ text: sql, rowMode: 'array', types: rawTypes })) as pg.QueryResult<unknown[]>;
    return {
      ok: true,
      fields: r.fields.map((f) => [
        f.name,
        f.tableID,
        f.columnID,
        f.dataTypeID,
        f.dataTypeSize,
        f.dataTypeModifier,
      ]),
      rows: r.rows,
    };
  } catch (err) {
    return { ok: false, code: (err as { code?: string }).code };
  }
}

/**
 * Runs `sql` on both sessions and asserts equal outcomes; returns the
 * route Outpost took (`SHOW outpost.last_route`).
 */
export async function sameThrough(outpost: pg.Client, direct: pg.Client, sql: string): Promise<string> {
  let mine = await run(outpost, sql);
  let route = await lastRoute(outpost);
  // Forwarded for a moment while the role's facts are looked up again (a
  // CREATE or GRANT of an earlier step): compared all the same, then retried
  // until the route is the settled one.
  for (let i = 0; i < 100 && TRANSIENT.test(route); i++) {
    await new Promise((r) => setTimeout(r, 50));
    mine = await run(outpost, sql);
    route = await lastRoute(outpost);
  }
  const theirs = await run(direct, sql);
  assert.deepEqual(mine, theirs, `${sql} (route: ${route})`);
  return route;
}
