/**
 * The kubernetes filter's metadata cache (size limit, TTL, failed fetches) and its API client's token
 * handling (Kube_Token_TTL), on a clock the test moves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MetaCache } from '../../src/plugins/filters/kubernetes/cache.js';
import { KubeApi, KubeApiError } from '../../src/plugins/filters/kubernetes/api.js';
import { repoRoot } from '../helpers/paths.js';
import { startFakeKubeApi } from '../helpers/kube-api.js';
import { tempDir } from '../helpers/temp.js';

const unexpected = (error: unknown): never => assert.fail(`unexpected error: ${String(error)}`);
const noWarning = (message: string): never => assert.fail(`unexpected warning: ${message}`);

function cacheAt(limits: { capacity: number; ttlMs: number; retryMs: number }): { cache: MetaCache<string>; clock: { now: number }; fetched: string[] } {
  const clock = { now: 0 };
  const cache = new MetaCache<string>({ ...limits, now: () => clock.now });
  return { cache, clock, fetched: [] };
}

test('one fetch per key however many lookups wait for it; the least recently used goes beyond the capacity', async () => {
  const { cache, fetched } = cacheAt({ capacity: 2, ttlMs: 0, retryMs: 10_000 });
  const fetch = (key: string) => async (): Promise<string> => {
    fetched.push(key);
    return `meta of ${key}`;
  };
  const first = cache.lookup('a', fetch('a'), unexpected);
  const second = cache.lookup('a', fetch('a'), unexpected);
  assert.equal(first.ready, false);
  assert.equal(second.ready, false);
  if (!first.ready && !second.ready) await Promise.all([first.settled, second.settled]);
  assert.deepEqual(fetched, ['a']);
  assert.deepEqual(cache.lookup('a', fetch('a'), unexpected), { ready: true, value: 'meta of a' });
  for (const key of ['b', 'a', 'c']) {
    const lookup = cache.lookup(key, fetch(key), unexpected);
    if (!lookup.ready) await lookup.settled;
  }
  // b was used least recently when c came: it is the one that went.
  assert.equal(cache.size, 2);
  assert.equal(cache.peek('b'), undefined);
  assert.equal(cache.peek('a')?.value, 'meta of a');
  assert.deepEqual(fetched, ['a', 'b', 'c']);
});

test('past its TTL an entry serves while it is fetched again; a failed fetch is retried only after retryMs', async () => {
  const { cache, clock } = cacheAt({ capacity: 10, ttlMs: 60_000, retryMs: 10_000 });
  let version = 1;
  let fail = false;
  const errors: unknown[] = [];
  const fetch = async (): Promise<string> => {
    if (fail) throw new Error('API down');
    return `v${version++}`;
  };
  const miss = cache.lookup('pod', fetch, (error) => errors.push(error));
  if (!miss.ready) await miss.settled;
  clock.now = 60_000;
  const stale = cache.lookup('pod', fetch, (error) => errors.push(error));
  assert.deepEqual(stale, { ready: true, value: 'v1' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(cache.peek('pod')?.value, 'v2');
  // A refresh that fails keeps the old value for another TTL.
  fail = true;
  clock.now = 130_000;
  assert.deepEqual(cache.lookup('pod', fetch, (error) => errors.push(error)), { ready: true, value: 'v2' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(errors.length, 1);
  assert.equal(cache.peek('pod')?.value, 'v2');
  // A key that never had a value: the failure is remembered (null) until retryMs.
  const other = cache.lookup('gone', fetch, (error) => errors.push(error));
  if (!other.ready) await other.settled;
  assert.deepEqual(cache.lookup('gone', fetch, unexpected), { ready: true, value: null });
  clock.now += 10_000;
  fail = false;
  const retried = cache.lookup('gone', fetch, unexpected);
  assert.equal(retried.ready, false);
  if (!retried.ready) await retried.settled;
  assert.equal(cache.peek('gone')?.value, 'v3');
});

test('Kube_Token_TTL: the token file is read again once the TTL has passed', async (t) => {
  const dir = tempDir('wsbit-kube-token-');
  const pki = path.join(dir, 'pki');
  mkdirSync(pki);
  const api = await startFakeKubeApi({ objectsDir: path.join(repoRoot, 'test', 'fixtures', 'kubernetes', 'cache'), pkiDir: pki, token: 'rotated' });
  t.after(() => api.close());
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, 'expired\n');
  const clock = { now: 0 };
  const client = new KubeApi({
    url: api.url,
    tlsVerify: true,
    tlsVerifyHostname: false,
    tlsVhost: null,
    caFile: api.caFile,
    caPath: null,
    tokenFile,
    tokenCommand: null,
    tokenTtlMs: 600_000,
    bufferSize: 32 * 1024,
    preloadDir: null,
    kubelet: null,
    now: () => clock.now,
    warn: noWarning,
    debug: () => undefined,
  });
  t.after(() => client.close());
  await assert.rejects(client.namespace('default'), (error: unknown) => error instanceof KubeApiError && error.status === 401);
  writeFileSync(tokenFile, 'rotated\n');
  clock.now = 599_999;
  await assert.rejects(client.namespace('default'), (error: unknown) => error instanceof KubeApiError && error.status === 401);
  clock.now = 600_000;
  assert.ok((await client.namespace('default')).length > 0);
  assert.deepEqual(api.requests.map((request) => request.authorization), ['Bearer expired', 'Bearer expired', 'Bearer rotated']);
});
