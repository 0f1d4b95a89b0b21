/**
 * Named windows (`WINDOW w AS (...)`, `OVER w`, `OVER (w ORDER BY ...)`),
 * resolved to plain window specifications with Postgres's rules
 * (transformWindowDefinitions, transformWindowFuncCall): a window may copy
 * an earlier one's PARTITION BY and ORDER BY but not its frame, may not add
 * a PARTITION BY, and may not override an ORDER BY. Every violation is
 * upstream's error: forwarded.
 */
import type { Node } from 'libpg-query';
import { NotLocal } from '../errors.js';
import { nodeKind } from './parse.js';
import { DEFAULT_FRAME } from './window-frames.js';

export interface WindowSpec {
  name?: string;
  refname?: string;
  partitionClause?: Node[];
  orderClause?: Node[];
  frameOptions?: number;
  startOffset?: Node;
  endOffset?: Node;
}

export interface NamedWindows {
  defs: Map<string, WindowSpec>;
  /** Names some call used (directly or through another window). */
  used: Set<string>;
}

function hasFrame(w: WindowSpec): boolean {
  return (
    (w.frameOptions ?? DEFAULT_FRAME) !== DEFAULT_FRAME ||
    w.startOffset !== undefined ||
    w.endOffset !== undefined
  );
}

/** `spec` on top of the window it names (refname), as Postgres merges them. */
function copyWindow(spec: WindowSpec, windows: NamedWindows | undefined, marks: string[]): WindowSpec {
  if (spec.refname === undefined) return spec;
  const base = windows?.defs.get(spec.refname);
  if (!base) throw new NotLocal(`window "${spec.refname}" does not exist`);
  marks.push(spec.refname);
  if ((spec.partitionClause?.length ?? 0) > 0) {
    throw new NotLocal(`cannot override PARTITION BY clause of window "${spec.refname}"`);
  }
  if ((spec.orderClause?.length ?? 0) > 0 && (base.orderClause?.length ?? 0) > 0) {
    throw new NotLocal(`cannot override ORDER BY clause of window "${spec.refname}"`);
  }
  if (hasFrame(base))
    throw new NotLocal(`cannot copy window "${spec.refname}" because it has a frame clause`);
  const merged: WindowSpec = {
    ...(base.partitionClause ? { partitionClause: base.partitionClause } : {}),
    ...((spec.orderClause?.length ?? 0) > 0
      ? { orderClause: spec.orderClause }
      : base.orderClause
        ? { orderClause: base.orderClause }
        : {}),
    ...(spec.frameOptions !== undefined ? { frameOptions: spec.frameOptions } : {}),
    ...(spec.startOffset ? { startOffset: spec.startOffset } : {}),
    ...(spec.endOffset ? { endOffset: spec.endOffset } : {}),
  };
  return merged;
}

/** The WINDOW clause's definitions, each resolved against the earlier ones. */
export function namedWindows(clause: Node[] | undefined): NamedWindows | undefined {
  if (!clause || clause.length === 0) return undefined;
  const windows: NamedWindows = { defs: new Map(), used: new Set() };
  const deps = new Map<string, string[]>();
  for (const node of clause) {
    const [kind, body] = nodeKind(node);
    if (kind !== 'WindowDef') throw new NotLocal(`unsupported: WINDOW ${kind}`);
    const def = body as WindowSpec;
    const name = def.name;
    if (name === undefined) throw new NotLocal('unsupported: WINDOW without a name');
    if (windows.defs.has(name)) throw new NotLocal(`window "${name}" is already defined`);
    const marks: string[] = [];
    const { name: _, refname: __, ...rest } = def;
    const resolved = copyWindow(
      { ...rest, ...(def.refname ? { refname: def.refname } : {}) },
      windows,
      marks,
    );
    windows.defs.set(name, resolved);
    deps.set(name, marks);
  }
  (windows as NamedWindows & { deps: Map<string, string[]> }).deps = deps;
  return windows;
}

/** A call's OVER clause as a plain window specification (marks the windows it uses). */
export function resolveOver(over: WindowSpec, windows: NamedWindows | undefined): WindowSpec {
  const marks: string[] = [];
  let spec: WindowSpec;
  if (over.name !== undefined) {
    const def = windows?.defs.get(over.name);
    if (!def) throw new NotLocal(`window "${over.name}" does not exist`);
    marks.push(over.name);
    spec = def;
  } else spec = copyWindow(over, windows, marks);
  const deps = (windows as (NamedWindows & { deps?: Map<string, string[]> }) | undefined)?.deps;
  while (marks.length > 0) {
    const m = marks.pop() as string;
    if (windows?.used.has(m)) continue;
    windows?.used.add(m);
    marks.push(...(deps?.get(m) ?? []));
  }
  return spec;
}

/**
 * Postgres transforms every WINDOW definition, used or not (and raises its
 * errors): an unused one is not compiled here, so the statement forwards.
 */
export function checkAllWindowsUsed(windows: NamedWindows | undefined): void {
  if (!windows) return;
  for (const name of windows.defs.keys()) {
    if (!windows.used.has(name)) throw new NotLocal(`unsupported: unused window "${name}"`);
  }
}
