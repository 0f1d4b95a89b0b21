/**
 * jsonb's path mutators (jsonfuncs.c setPath/setPathObject/setPathArray):
 * jsonb_set, jsonb_insert and jsonb #- text[] (jsonb_delete_path), on parsed
 * values (src/sql/json.ts). Where Postgres raises an error (a raw scalar
 * root, a NULL path element reached, a non-integer array index, replacing an
 * existing key with jsonb_insert) NotLocal is thrown and the statement goes
 * upstream, which raises it.
 */
import { NotLocal } from '../errors.js';
import type { JsonNode, JsonValue } from './json.js';
import { uniqueKeys } from './json.js';

/** jsonb_set with create_missing (create) or without (replace), jsonb_insert (before/after), #- (delete). */
export type PathOp = 'create' | 'replace' | 'before' | 'after' | 'delete';

const INT_MIN = -2147483648;

const isContainer = (v: JsonValue): boolean => v.k === 'arr' || v.k === 'obj';

class PathSetter {
  constructor(
    readonly path: readonly (string | null)[],
    readonly newval: JsonValue | null,
    readonly op: PathOp,
  ) {}

  get createOrInsert(): boolean {
    return this.op === 'create' || this.op === 'before' || this.op === 'after';
  }

  set(v: JsonValue, level: number): JsonValue {
    if (this.path[level] === null) throw new NotLocal(`path element at position ${level + 1} is null`);
    if (v.k === 'obj') return this.object(v, level);
    if (v.k === 'arr') return this.array(v, level);
    return v;
  }

  private value(): JsonNode {
    if (this.newval === null) throw new NotLocal('internal: no new value');
    return this.newval as JsonNode;
  }

  private object(obj: JsonValue & { k: 'obj' }, level: number): JsonValue {
    const key = this.path[level] as string;
    const last = level === this.path.length - 1;
    const pairs = obj.v;
    if (pairs.length === 0 && this.createOrInsert && last) return { k: 'obj', v: [[key, this.value()]] };
    const out: [string, JsonNode][] = [];
    let done = false;
    pairs.forEach(([k, val], i) => {
      if (!done && k === key) {
        done = true;
        if (last) {
          if (this.op === 'before' || this.op === 'after') throw new NotLocal('cannot replace existing key');
          if (this.op !== 'delete') out.push([k, this.value()]);
        } else out.push([k, this.set(val, level + 1) as JsonNode]);
      } else {
        if (this.createOrInsert && !done && last && i === pairs.length - 1) out.push([key, this.value()]);
        out.push([k, val]);
      }
    });
    // pushJsonbValue re-sorts the keys (a new key takes its place by length, then bytes).
    return { k: 'obj', v: uniqueKeys(out) as [string, JsonNode][] };
  }

  private array(arr: JsonValue & { k: 'arr' }, level: number): JsonValue {
    const step = this.path[level] as string;
    const last = level === this.path.length - 1;
    // strtoint: blanks and a + sign are accepted there; forwarded here.
    if (/^\s|^\+/.test(step)) throw new NotLocal('path element with an unusual array index');
    if (!/^-?\d+$/.test(step))
      throw new NotLocal(`path element at position ${level + 1} is not an integer: "${step}"`);
    let idx = Number(step);
    if (!Number.isSafeInteger(idx) || idx > 2147483647 || idx < INT_MIN)
      throw new NotLocal('path element out of range for integer');
    const elems = arr.v;
    const n = elems.length;
    if (idx < 0) idx = -idx > n ? INT_MIN : n + idx;
    if (idx > n) idx = n;
    const out: JsonNode[] = [];
    let done = false;
    if ((idx === INT_MIN || n === 0) && last && this.createOrInsert) {
      out.push(this.value());
      done = true;
    }
    elems.forEach((el, i) => {
      if (i !== idx) {
        out.push(el);
        return;
      }
      done = true;
      if (!last) {
        out.push(this.set(el, level + 1) as JsonNode);
        return;
      }
      if (this.op === 'before' || this.op === 'create') out.push(this.value());
      if (this.op === 'before' || this.op === 'after') out.push(el);
      if (this.op === 'after' || this.op === 'replace') out.push(this.value());
    });
    if (this.createOrInsert && !done && last) out.push(this.value());
    return { k: 'arr', v: out };
  }
}

/**
 * jsonb_set / jsonb_insert / jsonb_delete_path on a jsonb value (its root
 * a container or a raw scalar), path elements possibly NULL.
 */
export function jsonbSetPath(
  target: JsonValue,
  path: readonly (string | null)[],
  newval: JsonValue | null,
  op: PathOp,
): JsonValue {
  if (!isContainer(target))
    throw new NotLocal(op === 'delete' ? 'cannot delete path in scalar' : 'cannot set path in scalar');
  const empty = target.k === 'arr' ? target.v.length === 0 : target.k === 'obj' && target.v.length === 0;
  // jsonb_set without create_missing and #- return an empty container as it is.
  if (empty && (op === 'replace' || op === 'delete')) return target;
  if (path.length === 0) return target;
  return new PathSetter(path, newval, op).set(target, 0);
}
