/**
 * SQLite functions for the json and jsonb operators and functions served
 * locally (src/sql/json.ts does the work on parsed values). Arguments are
 * the stored forms: jsonb's output text, json's input text. Like the other
 * SQL functions, an input Postgres would reject (deleting from a scalar, the
 * array length of an object, ...) throws NotLocal, which aborts the local run.
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import {
  canonical,
  type JsonNode,
  type JsonValue,
  jsonbAsText,
  jsonbConcat,
  jsonbContains,
  jsonbDeleteIndex,
  jsonbDeleteKeys,
  jsonbExists,
  jsonbInput,
  jsonbPath,
  jsonbStripNulls,
  jsonbText,
  jsonPath,
  jsonStripNullsText,
  jsonTypeof,
  parseJson,
  quoteJson,
  storedJsonb,
  uniqueKeys,
} from './json.js';
import { jsonbSetPath, type PathOp } from './json-mutate.js';

export const JsonFn = {
  /** `(jsonb, jsonb)`: jsonb || jsonb. */
  concat: 'outpost_jsonb_concat',
  /** `(jsonb, jsonb)`: jsonb @> jsonb (1/0). */
  contains: 'outpost_jsonb_contains',
  /** `(jsonb, mode, key or JSON text[])`: ? (mode 'one'), ?| ('any'), ?& ('all'). */
  exists: 'outpost_jsonb_exists',
  /** `(jsonb, text)`: jsonb - text. */
  deleteKey: 'outpost_jsonb_delete_key',
  /** `(jsonb, JSON text[])`: jsonb - text[]. */
  deleteKeys: 'outpost_jsonb_delete_keys',
  /** `(jsonb, int)`: jsonb - int4. */
  deleteIndex: 'outpost_jsonb_delete_index',
  /** `(jsonb, JSON text[], asText)`: jsonb #> / #>>. */
  path: 'outpost_jsonb_path',
  /** `(jsonb)`: jsonb_typeof. */
  typeof: 'outpost_jsonb_typeof',
  /** `(jsonb)`: jsonb_array_length. */
  arrayLength: 'outpost_jsonb_array_length',
  /** `(jsonb)`: jsonb_strip_nulls. */
  stripNulls: 'outpost_jsonb_strip_nulls',
  /** `(json)`: json_strip_nulls. */
  jsonStripNulls: 'outpost_json_strip_nulls',
  /** `(json, 's<key>' | 'i<index>', asText)`: json -> / ->>. */
  jsonGet: 'outpost_json_get',
  /** `(json, JSON text[], asText)`: json #> / #>>. */
  jsonPath: 'outpost_json_path',
  /** `(json)`: json_typeof. */
  jsonTypeof: 'outpost_json_typeof',
  /** `(json)`: json_array_length. */
  jsonArrayLength: 'outpost_json_array_length',
  /**
   * `(kind, spec, args...)`: jsonb_build_object ('bo'), jsonb_build_array
   * ('ba'), json_build_object ('jo'), json_build_array ('ja'); spec has one
   * letter per argument: s text, n integer, b bool, j jsonb, J json, z NULL.
   */
  build: 'outpost_json_build',
  /**
   * `(mode, jsonb, JSON text[] with NULLs, newval, flag)`: jsonb_set ('set',
   * flag create_missing), jsonb_insert ('insert', flag insert_after),
   * jsonb_delete_path ('delete').
   */
  setPath: 'outpost_jsonb_set_path',
  /** `(jsonb, JSON text[], newval, create_if_missing, null_value_treatment)`: jsonb_set_lax. */
  setLax: 'outpost_jsonb_set_lax',
  /** `(text)`: text::jsonb (jsonb_in at run time). */
  jsonbIn: 'outpost_jsonb_in',
  /** `(text)`: text::json (json_in at run time: validation). */
  jsonIn: 'outpost_json_in',
} as const;

function jsonb(v: unknown): JsonValue {
  if (typeof v !== 'string') throw new NotLocal('jsonb stored as non-text');
  return storedJsonb(v);
}

function json(v: unknown): JsonNode {
  if (typeof v !== 'string') throw new NotLocal('json stored as non-text');
  return parseJson(v, false, 'stored json');
}

function textList(v: unknown): string[] {
  const list = JSON.parse(String(v)) as unknown[];
  if (!list.every((x) => typeof x === 'string')) throw new NotLocal('NULL in a key array');
  return list as string[];
}

/**
 * json -> / ->> on json's text: the element's own input text (->), or for
 * ->> a string's value. Duplicate keys and negative indexes are forwarded
 * (Postgres's choice among duplicates is not reproduced).
 */
function jsonGet(text: string, key: string, asText: boolean): string | null {
  const v = json(text);
  let hit: JsonNode | undefined;
  if (key.startsWith('s')) {
    if (v.k !== 'obj') return null;
    const want = key.slice(1);
    const hits = v.v.filter(([k]) => k === want);
    if (hits.length > 1) throw new NotLocal('json -> on a duplicate key');
    hit = hits[0]?.[1];
  } else {
    if (v.k !== 'arr') return null;
    const n = Number(key.slice(1));
    if (n < 0) throw new NotLocal('json -> with a negative index');
    hit = v.v[n];
  }
  if (hit === undefined) return null;
  if (!asText) return text.slice(hit.s, hit.e);
  if (hit.k === 'null') return null;
  if (hit.k === 'str') return hit.v;
  return text.slice(hit.s, hit.e);
}

/** One builder argument as a jsonb value (to_jsonb). */
function toJsonb(kind: string, v: unknown): JsonValue {
  if (v === null || kind === 'z') return { k: 'null' };
  switch (kind) {
    case 's':
      return { k: 'str', v: String(v) };
    case 'n':
      return { k: 'num', v: String(v) };
    case 'b':
      return { k: 'bool', v: v === 1n || v === 1 };
    case 'j':
      return jsonb(v);
    case 'J':
      return canonical(parseJson(String(v), true, 'json value'));
    default:
      throw new NotLocal(`builder argument kind ${kind}`);
  }
}

/** One builder argument as json text (to_json). */
function toJsonText(kind: string, v: unknown): string {
  if (v === null || kind === 'z') return 'null';
  switch (kind) {
    case 's':
      return quoteJson(String(v));
    case 'n':
      return String(v);
    case 'b':
      return v === 1n || v === 1 ? 'true' : 'false';
    case 'j':
    case 'J':
      return String(v);
    default:
      throw new NotLocal(`builder argument kind ${kind}`);
  }
}

function build(kind: string, spec: string, args: unknown[]): string {
  const object = kind[1] === 'o';
  if (kind[0] === 'b') {
    const values = args.map((v, i) => toJsonb(spec[i] as string, v));
    if (!object) return jsonbText({ k: 'arr', v: values as JsonNode[] });
    const pairs: [string, JsonValue][] = [];
    for (let i = 0; i < args.length; i += 2) {
      if (args[i] === null) throw new NotLocal('argument of jsonb_build_object: key must not be null');
      pairs.push([String(args[i]), values[i + 1] as JsonValue]);
    }
    return jsonbText({ k: 'obj', v: uniqueKeys(pairs) as [string, JsonNode][] });
  }
  const texts = args.map((v, i) => toJsonText(spec[i] as string, v));
  if (!object) return `[${texts.join(', ')}]`;
  const parts: string[] = [];
  for (let i = 0; i < args.length; i += 2) {
    if (args[i] === null) throw new NotLocal('argument of json_build_object: key must not be null');
    parts.push(`${quoteJson(String(args[i]))} : ${texts[i + 1]}`);
  }
  return `{${parts.join(', ')}}`;
}

export function registerJsonFunctions(db: Database.Database): void {
  const opts = { deterministic: true, safeIntegers: true };
  db.function(JsonFn.concat, opts, (a: unknown, b: unknown) =>
    a === null || b === null ? null : jsonbText(jsonbConcat(jsonb(a), jsonb(b))),
  );
  db.function(JsonFn.contains, opts, (a: unknown, b: unknown) =>
    a === null || b === null ? null : jsonbContains(jsonb(a), jsonb(b)) ? 1 : 0,
  );
  db.function(JsonFn.exists, opts, (a: unknown, mode: unknown, keys: unknown) => {
    if (a === null || keys === null) return null;
    const v = jsonb(a);
    if (mode === 'one') return jsonbExists(v, String(keys)) ? 1 : 0;
    const list = textList(keys);
    const hit = (k: string) => jsonbExists(v, k);
    return (mode === 'any' ? list.some(hit) : list.every(hit)) ? 1 : 0;
  });
  db.function(JsonFn.deleteKey, opts, (a: unknown, k: unknown) =>
    a === null || k === null ? null : jsonbText(jsonbDeleteKeys(jsonb(a), [String(k)])),
  );
  db.function(JsonFn.deleteKeys, opts, (a: unknown, k: unknown) =>
    a === null || k === null ? null : jsonbText(jsonbDeleteKeys(jsonb(a), textList(k))),
  );
  db.function(JsonFn.deleteIndex, opts, (a: unknown, i: unknown) =>
    a === null || i === null ? null : jsonbText(jsonbDeleteIndex(jsonb(a), Number(i))),
  );
  db.function(JsonFn.path, opts, (a: unknown, p: unknown, asText: unknown) => {
    if (a === null || p === null) return null;
    const hit = jsonbPath(jsonb(a), textList(p));
    if (asText === 1n || asText === 1) return jsonbAsText(hit);
    return hit === null ? null : jsonbText(hit);
  });
  db.function(JsonFn.typeof, opts, (a: unknown) => (a === null ? null : jsonTypeof(jsonb(a))));
  db.function(JsonFn.arrayLength, opts, (a: unknown) => {
    if (a === null) return null;
    // A raw scalar parses as the scalar: both it and an object are errors.
    const v = jsonb(a);
    if (v.k !== 'arr') throw new NotLocal('cannot get array length of a non-array');
    return BigInt(v.v.length);
  });
  db.function(JsonFn.stripNulls, opts, (a: unknown) =>
    a === null ? null : jsonbText(jsonbStripNulls(jsonb(a))),
  );
  db.function(JsonFn.jsonStripNulls, opts, (a: unknown) => (a === null ? null : jsonStripNullsText(json(a))));
  db.function(JsonFn.jsonGet, opts, (a: unknown, key: unknown, asText: unknown) => {
    if (a === null || key === null) return null;
    return jsonGet(String(a), String(key), asText === 1n || asText === 1);
  });
  db.function(JsonFn.jsonPath, opts, (a: unknown, p: unknown, asText: unknown) => {
    if (a === null || p === null) return null;
    const text = String(a);
    const hit = jsonPath(json(a), textList(p));
    if (hit === null) return null;
    if (asText === 1n || asText === 1) {
      if (hit.k === 'null') return null;
      if (hit.k === 'str') return hit.v;
    }
    return text.slice(hit.s, hit.e);
  });
  db.function(JsonFn.jsonTypeof, opts, (a: unknown) => (a === null ? null : jsonTypeof(json(a))));
  db.function(JsonFn.jsonArrayLength, opts, (a: unknown) => {
    if (a === null) return null;
    const v = json(a);
    if (v.k !== 'arr') throw new NotLocal('cannot get array length of a non-array');
    return BigInt(v.v.length);
  });
  db.function(JsonFn.build, { ...opts, varargs: true }, (kind: unknown, spec: unknown, ...args: unknown[]) =>
    build(String(kind), String(spec), args),
  );
  db.function(JsonFn.setPath, opts, (mode: unknown, a: unknown, p: unknown, v: unknown, flag: unknown) => {
    if (a === null || p === null || flag === null || (mode !== 'delete' && v === null)) return null;
    const on = flag === 1n || flag === 1;
    const op: PathOp =
      mode === 'delete' ? 'delete' : mode === 'set' ? (on ? 'create' : 'replace') : on ? 'after' : 'before';
    const path = JSON.parse(String(p)) as (string | null)[];
    return jsonbText(jsonbSetPath(jsonb(a), path, mode === 'delete' ? null : jsonb(v), op));
  });
  db.function(JsonFn.setLax, opts, (a: unknown, p: unknown, v: unknown, flag: unknown, how: unknown) => {
    // jsonb_set_lax: NULL target, path or flag give NULL; a NULL new value follows the treatment.
    if (a === null || p === null || flag === null) return null;
    if (how === null)
      throw new NotLocal(
        'null_value_treatment must be "delete_key", "return_target", "use_json_null", or "raise_exception"',
      );
    const path = JSON.parse(String(p)) as (string | null)[];
    const create = flag === 1n || flag === 1;
    const set = (value: JsonValue): string =>
      jsonbText(jsonbSetPath(jsonb(a), path, value, create ? 'create' : 'replace'));
    if (v !== null) return set(jsonb(v));
    switch (how) {
      case 'raise_exception':
        throw new NotLocal('JSON value must not be null');
      case 'use_json_null':
        // Postgres hands jsonb_set a JSON null that over some stored values raises
        // "unknown type of jsonb container" (seen on 15 and 17): forwarded.
        throw new NotLocal('jsonb_set_lax use_json_null');
      case 'delete_key':
        return jsonbText(jsonbSetPath(jsonb(a), path, null, 'delete'));
      case 'return_target':
        return a;
      default:
        throw new NotLocal('null_value_treatment must be one of the four');
    }
  });
  db.function(JsonFn.jsonbIn, opts, (a: unknown) =>
    a === null ? null : jsonbInput(String(a), 'jsonb input'),
  );
  db.function(JsonFn.jsonIn, opts, (a: unknown) => {
    if (a === null) return null;
    parseJson(String(a), false, 'json input');
    return a;
  });
}
