/**
 * The `name` type (OID 19): stored as its text, at most 63 bytes
 * (NAMEDATALEN - 1; namein and text_name cut longer text at a character
 * boundary). Its collation is C: a name constant or column compares byte by
 * byte unless a COLLATE says otherwise, and text derived from a name
 * (`name::text`, the implicit name → text of a function argument) keeps the
 * name's collation, as Postgres derives a function result's collation from
 * its input. A cast of text to name keeps the text's collation (checked
 * against Postgres: `pg_collation_for('a'::text::name)` is "default"); a
 * name converted from a non-collatable type (CoerceViaIO) gets C.
 */
import { SqlFn } from '../functions.js';
import { isIntType, Oid } from '../pgtypes.js';
import type { StatementCompiler } from './compiler.js';
import type { Expr } from './types.js';
import { derived, retype, textForm } from './values.js';

/** name → text as the implicit cast does: the same value, typed text, keeping the name's collation. */
export function nameAsText(e: Expr): Expr {
  if (e.type !== Oid.name || e.unknown) return e;
  return { ...retype(e, Oid.text), origin: undefined, typmod: -1 };
}

/**
 * The implicit coercions between name and the string types (pg_cast
 * context 'i'): text and varchar → name (text_name: cut to 63 bytes),
 * name → text. bpchar → name (bpchar_name drops trailing blanks first) is
 * not reproduced.
 */
export function nameCoercion(this: StatementCompiler, e: Expr, type: number): Expr | undefined {
  if (e.type === Oid.name && type === Oid.text) return nameAsText(e);
  if (type === Oid.name && (e.type === Oid.text || e.type === Oid.varchar)) {
    const r = derived(`${SqlFn.nameIn}(${e.sql})`, Oid.name, -1, [e]);
    if (e.coll !== undefined) r.coll = e.coll;
    return r;
  }
  return undefined;
}

/**
 * Explicit casts to and from name beyond the implicit ones: name →
 * varchar (same text, the name's collation), and to name from the types
 * whose output text is setting-free (integers, bool, numeric, uuid: I/O
 * conversion, so boolout's 't'/'f', and the collation C).
 */
export function nameCast(this: StatementCompiler, arg: Expr, type: number): Expr | undefined {
  const implicit = this.nameCoercion(arg, type);
  if (implicit) return implicit;
  if (type === Oid.nameArray && (arg.type === Oid.textArray || arg.type === Oid.varcharArray)) {
    // array_map of text_name over the elements (array_out's text reparsed: the bounds kept).
    const r = derived(`${SqlFn.nameArray}(${arg.sql})`, Oid.nameArray, -1, [arg]);
    if (arg.coll !== undefined) r.coll = arg.coll;
    return r;
  }
  if (arg.type === Oid.name && type === Oid.varchar) {
    return { ...retype(arg, Oid.varchar), origin: undefined, typmod: -1 };
  }
  if (type === Oid.name && (isIntType(arg.type) || arg.type === Oid.numeric || arg.type === Oid.uuid)) {
    const r = derived(`${SqlFn.nameIn}(${textForm(arg)})`, Oid.name, -1, [arg]);
    r.coll = 'C';
    return r;
  }
  if (type === Oid.name && arg.type === Oid.bool) {
    // boolout's text ('t'/'f'), not bool → text's 'true'/'false'.
    const r = derived(`(CASE ${arg.sql} WHEN 1 THEN 't' WHEN 0 THEN 'f' END)`, Oid.name, -1, [arg]);
    r.coll = 'C';
    return r;
  }
  return undefined;
}
