/**
 * Where pod and namespace objects come from: the preload cache directory, then the API server (or the
 * kubelet's /pods), over undici with the service-account token and CA. Every answer is hostile: its
 * body is read up to Buffer_Size and must be JSON, and a status other than 200 is an error. Errors
 * are thrown as KubeApiError with a stable code; the caller decides what records get then.
 */
import { execFile } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Pool } from 'undici';
import { WsbitError, errorMessage } from '../../../base/errors.js';
import { tlsConnectOptions } from '../../../base/tls.js';
import { packApiJson } from './meta.js';

export type KubeApiErrorCode =
  | 'WSBIT_KUBE_API_STATUS'
  | 'WSBIT_KUBE_API_TOO_LARGE'
  | 'WSBIT_KUBE_API_BAD_JSON'
  | 'WSBIT_KUBE_API_REQUEST'
  | 'WSBIT_KUBE_API_URL';

export class KubeApiError extends WsbitError {
  constructor(
    code: KubeApiErrorCode,
    message: string,
    /** The HTTP status, when the server answered. */
    readonly status: number | null = null,
  ) {
    super(code, message);
  }
}

/** Buffer_Size 0 means no limit in Fluent Bit; wsbit still stops at this. */
const UNLIMITED_BODY_BYTES = 64 * 1024 * 1024;
const TOKEN_MAX_BYTES = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;

export interface KubeApiOptions {
  /** `kube_url`: scheme, host and port. */
  url: string;
  tlsVerify: boolean;
  tlsVerifyHostname: boolean;
  tlsVhost: string | null;
  caFile: string | null;
  caPath: string | null;
  tokenFile: string | null;
  tokenCommand: string | null;
  tokenTtlMs: number;
  bufferSize: number;
  preloadDir: string | null;
  kubelet: { host: string; port: number } | null;
  now(): number;
  warn(message: string): void;
  debug(message: string): void;
}

/** `kube_url` as Fluent Bit reads it: http:// or https://, a host, and a port (443 when none). */
export function parseKubeUrl(url: string): { https: boolean; host: string; port: number } {
  const match = /^(https?):\/\/([^:/]+)(?::(\d+))?/.exec(url);
  if (match === null) throw new KubeApiError('WSBIT_KUBE_API_URL', `kube_url '${url}' is not http://HOST[:PORT] or https://HOST[:PORT]`);
  return { https: match[1] === 'https', host: match[2] as string, port: match[3] === undefined ? 443 : Number(match[3]) };
}

export class KubeApi {
  private readonly api: Pool;
  private readonly kubelet: Pool | null;
  private readonly bodyLimit: number;
  private token: { value: string | null; readAt: number } | null = null;
  private tokenWarned = false;
  private kubeletPods: Promise<Buffer> | null = null;

  constructor(private readonly options: KubeApiOptions) {
    this.bodyLimit = options.bufferSize > 0 ? options.bufferSize : UNLIMITED_BODY_BYTES;
    const target = parseKubeUrl(options.url);
    this.api = this.pool(target.https, target.host, target.port);
    this.kubelet = options.kubelet === null ? null : this.pool(true, options.kubelet.host, options.kubelet.port);
  }

  /** `https=1 host=… port=…`, as Fluent Bit's start-up line says it. */
  describe(): string {
    const target = parseKubeUrl(this.options.url);
    return `https=${target.https ? 1 : 0} host=${target.host} port=${target.port}`;
  }

  /** The pod object (or, with the kubelet, the PodList holding it), as msgpack. */
  async pod(namespace: string, pod: string): Promise<Buffer> {
    const preloaded = await this.preloaded(`${namespace}_${pod}.meta`);
    if (preloaded !== null) return preloaded;
    if (this.kubelet !== null) {
      // /pods lists every pod of the node: pods that miss together share one request.
      const kubelet = this.kubelet;
      this.kubeletPods ??= this.get(kubelet, '/pods').finally(() => {
        this.kubeletPods = null;
      });
      return this.kubeletPods;
    }
    return this.get(this.api, `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}`);
  }

  /** The namespace object, as msgpack; always from the API server, as the kubelet has none. */
  async namespace(namespace: string): Promise<Buffer> {
    const preloaded = await this.preloaded(`${namespace}.namespace_meta`);
    if (preloaded !== null) return preloaded;
    return this.get(this.api, `/api/v1/namespaces/${encodeURIComponent(namespace)}`);
  }

  async close(): Promise<void> {
    await Promise.all([this.api, this.kubelet].map((pool) => pool?.destroy().catch(() => undefined)));
  }

  private pool(https: boolean, host: string, port: number): Pool {
    const origin = `${https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const { options } = this;
    let connect = {};
    if (https) {
      const settings = {
        verify: options.tlsVerify,
        verifyHostname: options.tlsVerifyHostname,
        caFile: options.caFile,
        caPath: options.caPath,
        crtFile: null,
        keyFile: null,
        keyPassphrase: null,
        minVersion: null,
        maxVersion: null,
        ciphers: null,
        servername: options.tlsVhost,
      };
      connect = tlsConnectOptions(settings, host);
    }
    return new Pool(origin, { connections: 4, connect, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS, connectTimeout: REQUEST_TIMEOUT_MS });
  }

  /** A preload cache file as msgpack, or null when there is none (Fluent Bit then asks the server). */
  private async preloaded(name: string): Promise<Buffer | null> {
    const dir = this.options.preloadDir;
    if (dir === null || name.includes('/')) return null;
    let text: Buffer;
    try {
      const file = await open(join(dir, name), 'r');
      try {
        const { size } = await file.stat();
        if (size > this.bodyLimit) throw new KubeApiError('WSBIT_KUBE_API_TOO_LARGE', `${join(dir, name)} is ${size} bytes, over buffer_size (${this.bodyLimit})`);
        text = await file.readFile();
      } finally {
        await file.close();
      }
    } catch (error) {
      if (error instanceof KubeApiError) throw error;
      return null;
    }
    if (text.length === 0) return null;
    try {
      return packApiJson(text);
    } catch (error) {
      throw new KubeApiError('WSBIT_KUBE_API_BAD_JSON', `${join(dir, name)}: ${errorMessage(error)}`);
    }
  }

  private async authorization(): Promise<string | null> {
    const { options } = this;
    const now = options.now();
    if (this.token !== null && now - this.token.readAt < options.tokenTtlMs) return this.token.value;
    let value: string | null = null;
    try {
      const raw = options.tokenCommand !== null ? await runTokenCommand(options.tokenCommand) : options.tokenFile !== null ? await readToken(options.tokenFile) : null;
      value = raw === null ? null : raw.replace(/[\r\n]+$/, '');
      this.tokenWarned = false;
    } catch (error) {
      // Without a token the API server answers 401 or 403, which is logged with the request.
      if (!this.tokenWarned) options.warn(`cannot read the service-account token: ${errorMessage(error)}; requests go without Authorization`);
      this.tokenWarned = true;
    }
    this.token = { value, readAt: now };
    return value;
  }

  private async get(pool: Pool, path: string): Promise<Buffer> {
    const token = await this.authorization();
    const headers: Record<string, string> = { 'user-agent': 'Fluent-Bit' };
    if (token !== null && token !== '') headers['authorization'] = `Bearer ${token}`;
    let response;
    try {
      response = await pool.request({ method: 'GET', path, headers });
    } catch (error) {
      throw new KubeApiError('WSBIT_KUBE_API_REQUEST', `GET ${path}: ${errorMessage(error)}`);
    }
    const { statusCode, body } = response;
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of body) {
        total += (chunk as Buffer).length;
        if (total > this.bodyLimit) {
          body.destroy();
          throw new KubeApiError('WSBIT_KUBE_API_TOO_LARGE', `GET ${path}: the answer is over buffer_size (${this.bodyLimit} bytes)`, statusCode);
        }
        // Only a 200's body is kept; an error's first bytes are quoted in the log.
        if (statusCode === 200 || total <= 512) chunks.push(chunk as Buffer);
      }
    } catch (error) {
      if (error instanceof KubeApiError) throw error;
      throw new KubeApiError('WSBIT_KUBE_API_REQUEST', `GET ${path}: ${errorMessage(error)}`, statusCode);
    }
    const text = Buffer.concat(chunks);
    if (statusCode !== 200) {
      const quoted = text.subarray(0, 200).toString('utf8').replace(/\s+/g, ' ');
      throw new KubeApiError('WSBIT_KUBE_API_STATUS', `GET ${path}: HTTP ${statusCode}${quoted === '' ? '' : `: ${quoted}`}`, statusCode);
    }
    try {
      return packApiJson(text);
    } catch (error) {
      throw new KubeApiError('WSBIT_KUBE_API_BAD_JSON', `GET ${path}: ${errorMessage(error)}`, statusCode);
    }
  }
}

async function readToken(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size > TOKEN_MAX_BYTES) throw new Error(`${file} is over ${TOKEN_MAX_BYTES} bytes`);
  } finally {
    await handle.close();
  }
  return readFile(file, 'utf8');
}

function runTokenCommand(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { timeout: 10_000, maxBuffer: TOKEN_MAX_BYTES, encoding: 'utf8' }, (error, stdout) => {
      if (error !== null) reject(new Error(`kube_token_command failed: ${error.message}`));
      else resolve(stdout);
    });
  });
}
