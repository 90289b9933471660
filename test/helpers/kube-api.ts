/**
 * A Kubernetes API server (and kubelet /pods) for tests, over HTTPS with the test CA's server
 * certificate (test/websocket/tls-ca-fixture.ts) and a Bearer token. It serves the objects of a
 * preload-cache-style directory: `NS_POD.meta` at /api/v1/namespaces/NS/pods/POD, `NS.namespace_meta`
 * at /api/v1/namespaces/NS, and every pod as a PodList at /pods. A wrong token gets 401, an unknown
 * object 404, as the real server answers. `answer` lets a test make any path slow, broken or huge.
 *
 * Also a command, for making fixtures with the real Fluent Bit (test/fixtures/kubernetes/make.sh):
 *   node dist/test/helpers/kube-api.js OBJECTS_DIR PKI_DIR TOKEN PORT
 * writes ca.crt into PKI_DIR and serves until SIGTERM or SIGINT.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeTestPki } from '../websocket/tls-ca-fixture.js';

export interface FakeAnswer {
  status?: number;
  body?: string | Buffer;
  /** Waits this long before answering. */
  delayMs?: number;
  /** Answers only once this settles (a server that is slow for as long as the test wants). Without a body: the normal answer. */
  until?: Promise<unknown>;
}

export interface FakeKubeApiOptions {
  /** Where the objects are (a Kube_Meta_Preload_Cache_Dir layout). */
  objectsDir: string;
  /** Where the PKI files are written; `ca` is what Kube_CA_File names. */
  pkiDir: string;
  token: string;
  port?: number;
  /** Overrides the answer for a path (undefined: the normal one). */
  answer?: (path: string) => FakeAnswer | undefined;
}

export interface FakeKubeApi {
  port: number;
  url: string;
  caFile: string;
  /** Every request, in order. */
  requests: Array<{ path: string; authorization: string | undefined }>;
  close(): Promise<void>;
}

function status(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

function normalAnswer(objectsDir: string, urlPath: string): FakeAnswer {
  const read = (name: string): string | null => {
    try {
      return readFileSync(path.join(objectsDir, name), 'utf8');
    } catch {
      return null;
    }
  };
  if (urlPath === '/pods') {
    const items = readdirSync(objectsDir)
      .filter((name) => name.endsWith('.meta'))
      .sort()
      .map((name) => read(name) as string);
    return { status: 200, body: `{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[${items.join(',')}]}` };
  }
  const pod = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(urlPath);
  if (pod !== null) {
    const [, ns, name] = pod as unknown as [string, string, string];
    const body = read(`${decodeURIComponent(ns)}_${decodeURIComponent(name)}.meta`);
    return body === null ? { status: 404, body: status(404, 'NotFound', `pods "${name}" not found`) } : { status: 200, body };
  }
  const namespace = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(urlPath);
  if (namespace !== null) {
    const ns = decodeURIComponent(namespace[1] as string);
    const body = read(`${ns}.namespace_meta`);
    return body === null ? { status: 404, body: status(404, 'NotFound', `namespaces "${ns}" not found`) } : { status: 200, body };
  }
  return { status: 404, body: status(404, 'NotFound', 'the server could not find the requested resource') };
}

export async function startFakeKubeApi(options: FakeKubeApiOptions): Promise<FakeKubeApi> {
  const pki = writeTestPki(options.pkiDir);
  const requests: FakeKubeApi['requests'] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }, (req, res) => {
    const urlPath = (req.url ?? '/').split('?')[0] as string;
    requests.push({ path: urlPath, authorization: req.headers.authorization });
    const override = options.answer?.(urlPath);
    // An override with only a delay (or a gate) delays the normal answer.
    const answer: FakeAnswer =
      req.headers.authorization !== `Bearer ${options.token}`
        ? { status: 401, body: status(401, 'Unauthorized', 'Unauthorized') }
        : override?.body === undefined
          ? { ...normalAnswer(options.objectsDir, urlPath), ...override }
          : override;
    const send = (): void => {
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
      res.end(answer.body ?? '');
    };
    if (answer.until !== undefined) void answer.until.then(() => (res.destroyed ? undefined : send()));
    else if (answer.delayMs === undefined) send();
    else {
      const timer = setTimeout(() => {
        timers.delete(timer);
        send();
      }, answer.delayMs);
      timers.add(timer);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    caFile: pki.ca,
    requests,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [objectsDir, pkiDir, token, port] = process.argv.slice(2);
  if (objectsDir === undefined || pkiDir === undefined || token === undefined || port === undefined) {
    console.error('usage: node dist/test/helpers/kube-api.js OBJECTS_DIR PKI_DIR TOKEN PORT');
    process.exit(2);
  }
  const api = await startFakeKubeApi({ objectsDir, pkiDir, token, port: Number(port) });
  console.error(`fake Kubernetes API on ${api.url}, CA ${api.caFile}`);
  const stop = (): void => void api.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
