/**
 * Window functions whose value is read from another row (lag/lead,
 * first/last/nth_value, aggregates over ROWS frames with offsets): among
 * ORDER BY peers Postgres's order is arbitrary, so a value read from a tied
 * row forwards even when the current row has no peer and the tied rows are
 * cut by LIMIT (orders.total has three NULLs, one per status). Tie-free
 * partitions and values that depend on the current row's place only stay
 * local. RANGE frames with interval offsets over date, timestamp,
 * timestamptz, time and interval keys (src/sql/window-range.ts). Markers as
 * in statements.ts.
 */
export const WINDOWS_CORPUS: string[] = [
  // Wrong answers before the fix: the row 2 ahead is one of the NULL totals.
  'SELECT id, lead(id, 2) OVER (ORDER BY total) FROM orders ORDER BY id DESC LIMIT 2',
  'SELECT b.id, lead(b.user_id, 2) OVER (ORDER BY b.total), b.note FROM users a RIGHT JOIN orders b ON b.user_id = a.id ORDER BY a.id, b.id LIMIT 19',
  'SELECT id, last_value(id) OVER (ORDER BY total ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM orders ORDER BY id DESC LIMIT 2',
  'SELECT id, sum(id) OVER (ORDER BY total ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING) FROM orders ORDER BY id DESC LIMIT 2',
  'SELECT id, lag(id) OVER (ORDER BY total DESC) FROM orders ORDER BY id DESC LIMIT 1',
  'SELECT id, lag(note, 2) OVER (ORDER BY total DESC) FROM orders ORDER BY id DESC LIMIT 1',
  'SELECT id, first_value(id) OVER (ORDER BY total DESC) FROM orders ORDER BY id DESC LIMIT 1',
  'SELECT id, nth_value(id, 3) OVER (ORDER BY total DESC) FROM orders ORDER BY id DESC LIMIT 1',
  'SELECT id, min(id) OVER (ORDER BY total DESC ROWS 1 PRECEDING) FROM orders ORDER BY id DESC LIMIT 1',
  'SELECT id, max(user_id) OVER (ORDER BY total DESC ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM orders ORDER BY id DESC LIMIT 1',
  'SELECT id, lead(note, 1) OVER (ORDER BY total NULLS FIRST, priority) FROM orders ORDER BY id LIMIT 3',
  // Local: each status holds one NULL total, so no partition has ties.
  'SELECT id, count(user_id) OVER (PARTITION BY status ORDER BY total DESC ROWS 2 PRECEDING) FROM orders ORDER BY id DESC LIMIT 3',
  'SELECT id, lead(note, 2) OVER (PARTITION BY status ORDER BY total), lag(id, 3) OVER (PARTITION BY status ORDER BY total DESC) FROM orders ORDER BY id',
  'SELECT id, lead(total, 2) OVER (ORDER BY id), lag(note) OVER (ORDER BY id), lead(note, 0) OVER (ORDER BY user_id) FROM orders ORDER BY id LIMIT 5',
  // Local: a count of ROWS and a frame from the partition's start depend on the current row's place only.
  'SELECT id, count(*) OVER (ORDER BY total ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM orders ORDER BY id DESC LIMIT 2',
  'SELECT id, sum(id) OVER (ORDER BY total ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM orders ORDER BY id DESC LIMIT 2',
  // The key itself at an offset: the same whichever peer is there.
  'SELECT id, lead(id, 2) OVER (ORDER BY id), lag(priority) OVER (PARTITION BY status ORDER BY priority, id) FROM orders ORDER BY id',
  'SELECT id, lead(user_id) OVER (ORDER BY user_id) FROM orders WHERE user_id IS NOT NULL ORDER BY id DESC LIMIT 1',
  // RANGE offsets of days and time over timestamp, date, timestamptz (time only), time, interval.
  "SELECT id, local_ts, count(*) OVER (ORDER BY local_ts RANGE BETWEEN '3 days' PRECEDING AND '1 day 12:00' FOLLOWING), min(id) OVER (ORDER BY local_ts DESC RANGE BETWEEN '2 days 1 second' PRECEDING AND CURRENT ROW) FROM events ORDER BY id",
  "SELECT id, local_ts, first_value(id) OVER (ORDER BY local_ts RANGE BETWEEN '2 days' PRECEDING AND '2 days' FOLLOWING), last_value(id) OVER (ORDER BY local_ts RANGE BETWEEN '2 days' PRECEDING AND '2 days' FOLLOWING) FROM events WHERE id < 1000 ORDER BY id",
  "SELECT id, at, count(*) OVER (ORDER BY at RANGE BETWEEN '5 hours' PRECEDING AND '6:00:07.25' FOLLOWING), max(id) OVER (ORDER BY at DESC RANGE BETWEEN CURRENT ROW AND '3 hours 7.25 seconds' FOLLOWING EXCLUDE TIES) FROM events ORDER BY id",
  "SELECT id, tod, count(*) OVER (ORDER BY tod RANGE BETWEEN '70 min' PRECEDING AND '2 hours' FOLLOWING), sum(id) OVER (ORDER BY tod DESC RANGE BETWEEN '1 day 00:30' PRECEDING AND '0:17:00.5' FOLLOWING EXCLUDE GROUP) FROM events ORDER BY id",
  "SELECT id, took, count(*) OVER (ORDER BY took RANGE BETWEEN '5 minutes' PRECEDING AND '1 mon' FOLLOWING), min(id) OVER (ORDER BY took DESC RANGE BETWEEN '1 year' PRECEDING AND '10 days' FOLLOWING) FROM events WHERE id < 1000 ORDER BY id",
  "SELECT id, ship_date, count(*) OVER (ORDER BY ship_date RANGE BETWEEN '7 days' PRECEDING AND '1 day' FOLLOWING), sum(id) OVER (PARTITION BY status ORDER BY ship_date NULLS FIRST RANGE BETWEEN '30 days' PRECEDING AND '2 days' PRECEDING) FROM orders WHERE id BETWEEN 1 AND 60 ORDER BY id",
  "SELECT id, placed_at, count(*) OVER (ORDER BY placed_at RANGE BETWEEN '10 hours' PRECEDING AND '1:00' FOLLOWING) FROM orders ORDER BY id",
  "SELECT id, created_at, count(*) OVER (ORDER BY created_at RANGE BETWEEN '25 hours' PRECEDING AND '0.75 seconds' FOLLOWING) FROM users ORDER BY id",
  // Months only over date and timestamp (no day past the 28th: those forward at run time).
  "SELECT id, local_ts, count(*) OVER (ORDER BY local_ts RANGE BETWEEN '1 month'::interval PRECEDING AND '1 mon' FOLLOWING), sum(id) OVER (ORDER BY local_ts DESC NULLS LAST RANGE BETWEEN '1 year' PRECEDING AND '0 months' FOLLOWING EXCLUDE CURRENT ROW) FROM events WHERE local_ts BETWEEN '2024-03-01' AND '2024-03-20' OR local_ts BETWEEN '2024-04-01' AND '2024-04-20' OR local_ts IN ('infinity', '-infinity') OR local_ts IS NULL ORDER BY id",
  "SELECT id, birth, count(*) OVER (ORDER BY birth RANGE BETWEEN '10 years' PRECEDING AND '20 years' FOLLOWING), sum(age) OVER (ORDER BY birth DESC NULLS FIRST RANGE BETWEEN '25 years' PRECEDING AND '1 mon' PRECEDING), first_value(id) OVER (ORDER BY birth RANGE BETWEEN CURRENT ROW AND '30 years' FOLLOWING) FROM users WHERE id NOT IN (6, 9) ORDER BY id",
  "SELECT id, last_seen, count(*) OVER (ORDER BY last_seen RANGE BETWEEN '1 year' PRECEDING AND CURRENT ROW), max(id) OVER (ORDER BY last_seen RANGE BETWEEN '1 day' PRECEDING AND '00:00:00.5' FOLLOWING) FROM users WHERE id <> 6 ORDER BY id",
  "SELECT id, ship_date, count(*) OVER (ORDER BY ship_date DESC RANGE BETWEEN '2 mons' PRECEDING AND CURRENT ROW) FROM orders WHERE ship_date < '2024-01-25' OR ship_date IN ('infinity', '-infinity') OR ship_date IS NULL ORDER BY id",
  // Forwarded: a day past the 28th under a months offset, months with days, days over timestamptz, a too large interval key.
  "SELECT id, local_ts, count(*) OVER (ORDER BY local_ts RANGE BETWEEN '1 month' PRECEDING AND CURRENT ROW) FROM events ORDER BY id",
  "SELECT id, count(*) OVER (ORDER BY local_ts RANGE BETWEEN '1 month 2 days' PRECEDING AND CURRENT ROW) FROM events ORDER BY id",
  "SELECT id, count(*) OVER (ORDER BY local_ts RANGE BETWEEN '1 month' PRECEDING AND '2 days' FOLLOWING) FROM events ORDER BY id",
  "SELECT id, at, count(*) OVER (ORDER BY at RANGE BETWEEN '1 day' PRECEDING AND CURRENT ROW) FROM events ORDER BY id",
  "SELECT id, took, count(*) OVER (ORDER BY took RANGE BETWEEN '5 minutes' PRECEDING AND CURRENT ROW) FROM events ORDER BY id",
  // Postgres's errors: a negative offset (22013), an integer offset over a date (42883).
  "!SELECT id, count(*) OVER (ORDER BY local_ts RANGE BETWEEN '-1 day' PRECEDING AND CURRENT ROW) FROM events",
  "!SELECT id, count(*) OVER (ORDER BY tod RANGE BETWEEN '1 hour ago' PRECEDING AND CURRENT ROW) FROM events",
  '!SELECT id, count(*) OVER (ORDER BY birth RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM users',
  // Windows over a grouped query read its groups (after HAVING).
  'SELECT status, count(*), sum(count(*)) OVER (ORDER BY status), rank() OVER (ORDER BY sum(total) DESC NULLS LAST) FROM orders GROUP BY status ORDER BY status',
  'SELECT user_id, count(*) AS n, lag(count(*)) OVER (ORDER BY user_id), sum(sum(priority)) OVER (PARTITION BY count(*) % 2 ORDER BY user_id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM orders GROUP BY user_id ORDER BY user_id NULLS FIRST',
  'SELECT country, max(age), row_number() OVER (ORDER BY max(age) NULLS FIRST), avg(min(karma)) OVER (), min(max(age)) OVER (ORDER BY country) FROM users GROUP BY country HAVING count(*) > 1 ORDER BY country',
  'SELECT sum(count(*)) OVER () FROM users WHERE id = 1',
  'SELECT count(*), row_number() OVER () FROM users',
  'SELECT gift, count(*), first_value(count(*)) OVER (ORDER BY gift) FROM orders GROUP BY gift ORDER BY gift',
  'SELECT country, rank() OVER (ORDER BY country) FROM users GROUP BY country ORDER BY 1',
  'SELECT status, count(*), sum(count(*)) OVER (ORDER BY status) FROM orders GROUP BY ROLLUP (status) ORDER BY 1',
  '!SELECT rank() OVER (ORDER BY 1), count(*) FROM users GROUP BY 1',
  '!SELECT country, rank() OVER (ORDER BY age) FROM users GROUP BY country',
];
