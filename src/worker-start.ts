/**
 * Starts a worker thread on a module next to the caller: `<name>.js` from
 * dist/, or `<name>.ts` from source (tests and benchmarks under tsx), which
 * registers tsx first since a worker does not inherit `--import`.
 */
import { Worker } from 'node:worker_threads';

export function startWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  if (callerUrl.endsWith('.ts')) {
    const entry = new URL(`./${name}.ts`, callerUrl).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    return new Worker(
      `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`,
      { eval: true, workerData },
    );
  }
  return new Worker(new URL(`./${name}.js`, callerUrl), { workerData });
}
