/**
 * Module hooks for module-trace.ts (they run on Node's hooks thread): every file an `import`
 * resolves to is appended to the trace file as it loads.
 */
import { appendFileSync } from 'node:fs';

let out = '';

export function initialize(data: { out: string }): void {
  out = data.out;
}

type NextResolve = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, nextResolve: NextResolve): Promise<{ url: string }> {
  const result = await nextResolve(specifier, context);
  if (result.url.startsWith('file:')) appendFileSync(out, `${result.url}\n`);
  return result;
}
