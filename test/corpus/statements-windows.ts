/**
 * Window functions whose value is read from another row (lag/lead,
 * first/last/nth_value, aggregates over ROWS frames with offsets): among
 * ORDER BY peers Postgres's order is arbitrary, so a value read from a tied
 * row forwards even when the current row has no peer and the tied rows are
 * cut by LIMIT (orders.total has three NULLs, one per status). Tie-free
 * partitions and values that depend on the current row's place only stay
 * local. Markers as in statements.ts.
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
];
