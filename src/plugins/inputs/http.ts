import http from 'node:http';
import type net from 'node:net';
import zlib from 'node:zlib';
import { ConfigError, errorMessage } from '../../base/errors.js';
import { eventTimeFromSeconds, eventTimeNow, type EventTime } from '../../base/record.js';
import { writeEvent } from '../../codec/event.js';
import { findEntry, mapEntries, readStr, rewriteMap } from '../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { boundPort, closeServer, hostPort, listenOn } from '../../base/listen.js';
import { defineInput } from '../../pipeline/contracts.js';
import { BODY_BLOCK_BYTES, BodyCollector, PendingBudget } from './http/body.js';
import { BufferPool } from '../../base/buffer-pool.js';
import { formFields, formRecord, jsonRecords, parsedRecords, type PayloadResult } from './http/payload.js';
import { quoteUntrusted } from '../../base/logger.js';

const schema = [
  { key: 'listen', type: 'string', default: '0.0.0.0', description: 'Address to listen on.' },
  { key: 'port', type: 'int', default: 9880, description: 'TCP port to listen on.' },
  { key: 'tag_key', type: 'string', default: null, description: 'Take the tag of each record from this key when it holds a string, instead of from the URI path.' },
  { key: 'add_remote_addr', type: 'bool', default: false, description: "Add the client's address to each record (the first X-Forwarded-For entry if present)." },
  { key: 'remote_addr_key', type: 'string', default: 'REMOTE_ADDR', description: 'Key under which add_remote_addr stores the address.' },
  { key: 'buffer_max_size', type: 'size', default: '4M', description: 'Largest request body accepted (after decompression); larger ones get 413.' },
  { key: 'buffer_chunk_size', type: 'size', default: '512K', description: 'Accepted for compatibility; wsbit reads bodies as they stream in.' },
  { key: 'successful_response_code', type: 'int', default: 201, description: 'Status code of a successful request: 200, 201 or 204.' },
  { key: 'success_header', type: 'header', multiple: true, description: "A header added to successful responses, e.g. 'X-Custom value'." },
  { key: 'parser', type: 'string', default: null, description: 'Name of a parser (from Parsers_File) for bodies that are neither JSON nor a form (e.g. text/plain): each line becomes a record.' },
  { key: 'max_connections', type: 'int', default: 1000, description: 'Most client connections at once; requests on further ones get HTTP 503 and a close (0 = no limit).' },
  { key: 'header_timeout', type: 'time', default: '10s', description: 'Close a connection with HTTP 408 when the request headers are not complete after this long (0 = no limit).' },
  {
    key: 'body_idle_timeout',
    type: 'time',
    default: '10s',
    description: 'Refuse a request with HTTP 408 and close it when its body makes no progress for this long (0 = no limit). Not counted while the input is paused.',
  },
  {
    key: 'buffer_total_limit',
    type: 'size',
    default: '16M',
    description:
      'Most request body bytes held at once across all connections. Beyond it the request holding the most gets HTTP 503 (Retry-After) and is closed, so small requests are still served (0 = no limit).',
  },
] as const;

const STATUS_TEXT: Readonly<Record<number, string>> = { 200: 'OK', 201: 'Created', 204: 'No Content' };

/** A 400/413 answer with its text, as Fluent Bit's `send_response` writes them. */
class RequestRejected extends Error {
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
  }
}

/** A request whose body is streaming in. */
interface PendingRequest {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  body: BodyCollector;
  idleTimer: NodeJS.Timeout | null;
  /** Answered already (refused); later data is ignored. */
  done: boolean;
}

/**
 * Node's limit on a whole request (its default): a body that keeps trickling in slower than
 * body_idle_timeout notices still ends here. header_timeout may not be longer.
 */
const REQUEST_TIMEOUT_MS = 300_000;

/** How long a refused client is told to wait before it tries again. */
const RETRY_AFTER_SECONDS = 5;

/**
 * The tag of a request, Fluentd style: `/foo/bar` → `foo.bar`, `/` → the input's tag. Characters
 * other than letters, digits, `_` and `.` become `_` (Fluent Bit's `sanitize_tag`).
 */
export function tagFromPath(url: string): string | null {
  const pathPart = url.split('?')[0] ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathPart);
  } catch {
    decoded = pathPart;
  }
  const tag = decoded
    .split('/')
    .filter((segment) => segment !== '')
    .join('.')
    .replace(/[^A-Za-z0-9_.]/g, '_');
  return tag === '' ? null : tag;
}

function sanitizeTag(tag: string): string {
  return tag.replace(/[^A-Za-z0-9_.]/g, '_');
}

/**
 * Fluent Bit's `http` input: POST JSON (an object or an array of objects) or a form to any path; the
 * path is the tag. Fluentd's `json=<record>` form field works too, and so does its `?time=` parameter.
 */
export const httpInput = defineInput({
  kind: 'input',
  name: 'http',
  description: 'HTTP',
  schema,
  serviceUriKeys: { host: 'listen', port: 'port' },
  create(context) {
    const { config, telemetry, instance } = context;
    if (!(config.successful_response_code in STATUS_TEXT)) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: successful_response_code must be 200, 201 or 204, not ${config.successful_response_code}`);
    }
    const parser = config.parser === null ? null : context.parsers.require(config.parser, instance);
    const tagKey = config.tag_key === null ? null : Buffer.from(config.tag_key, 'utf8');
    const maxBytes = config.buffer_max_size;
    const successHeaders: Record<string, string> = {};
    for (const header of config.success_header) successHeaders[header.name] = header.value;
    if (config.max_connections < 0) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: invalid value '${config.max_connections}' for 'max_connections': expected a number of connections, 0 (no limit) or more`);
    }
    const headerTimeoutMs = Math.round(config.header_timeout * 1000);
    if (headerTimeoutMs > REQUEST_TIMEOUT_MS) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: invalid value '${config.header_timeout}s' for 'header_timeout': expected at most ${REQUEST_TIMEOUT_MS / 1000}s`);
    }
    const bodyIdleTimeoutMs = Math.round(config.body_idle_timeout * 1000);
    const active = new Set<http.IncomingMessage>();
    const sockets = new Set<net.Socket>();
    // Sockets accepted beyond max_connections: their request gets a 503 and the socket is closed.
    const overLimit = new WeakSet<net.Socket>();
    // Sockets whose request headers are in and whose body is being read: Node's timeout on them is requestTimeout, not the header one.
    const readingBody = new WeakSet<net.Socket>();
    let admitted = 0;
    const budget = new PendingBudget<PendingRequest>(config.buffer_total_limit);
    // Enough idle blocks to refill the whole budget: after a burst, up to buffer_total_limit stays allocated for reuse.
    const blocks = new BufferPool(config.buffer_total_limit > 0 ? Math.ceil(config.buffer_total_limit / BODY_BLOCK_BYTES) : 64, BODY_BLOCK_BYTES);
    const writer = new MsgpackWriter(64 * 1024);
    const rewritten = new MsgpackWriter(1024);
    let paused = false;
    let server: http.Server | null = null;

    const reply = (res: http.ServerResponse, status: number, text: string, close = false): void => {
      if (res.headersSent || res.destroyed) return;
      const headers: Record<string, string | number> = { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) };
      if (close) headers['Connection'] = 'close';
      if (status === 503) headers['Retry-After'] = RETRY_AFTER_SECONDS;
      res.writeHead(status, headers);
      res.end(text);
    };

    /** Drops a request whose body is still coming: its memory is released and the connection closed. */
    const abandon = (state: PendingRequest, status: 408 | 413 | 503, reason: string, text: string): void => {
      if (state.done) return;
      state.done = true;
      if (state.idleTimer !== null) clearTimeout(state.idleTimer);
      state.idleTimer = null;
      budget.close(state);
      state.body.release();
      active.delete(state.req);
      // Stop reading the rest of the body: it would only be thrown away, and churn the heap meanwhile.
      state.req.pause();
      telemetry.event('warn', `request from ${state.req.socket.remoteAddress ?? ''} refused: ${reason} (HTTP ${status})`, 'wsbit_input_rejected_records_total');
      reply(state.res, status, text, true);
    };

    /** Restarts the no-progress timer of a body; while the input is paused, waiting is ours, not the client's. */
    const touch = (state: PendingRequest): void => {
      if (bodyIdleTimeoutMs <= 0 || state.done) return;
      if (state.idleTimer !== null) {
        state.idleTimer.refresh();
        return;
      }
      state.idleTimer = setTimeout(() => {
        if (paused) return state.idleTimer?.refresh();
        abandon(state, 408, `no body data for ${config.body_idle_timeout} s (body_idle_timeout)`, `error: request timeout: no body data for ${config.body_idle_timeout} s\n`);
      }, bodyIdleTimeoutMs);
      state.idleTimer.unref();
    };

    const decodeBody = (req: http.IncomingMessage, raw: Buffer): Buffer => {
      const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      try {
        if (encoding === 'gzip' || encoding === 'x-gzip') return zlib.gunzipSync(raw, { maxOutputLength: maxBytes });
        if (encoding === 'deflate') return zlib.inflateSync(raw, { maxOutputLength: maxBytes });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new RequestRejected(413, `error: payload exceeds buffer_max_size (${maxBytes} bytes) once decompressed\n`);
        throw new RequestRejected(400, `error: ${encoding} decompression failed: ${errorMessage(error)}\n`);
      }
      if (encoding !== 'identity' && encoding !== '') throw new RequestRejected(400, `error: unsupported Content-Encoding '${encoding}' (gzip and deflate are)\n`);
      return raw;
    };

    const payload = (req: http.IncomingMessage, body: Buffer): PayloadResult => {
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      if (contentType === 'application/json') return jsonRecords(body);
      if (contentType === 'application/x-www-form-urlencoded') {
        const form = formFields(body);
        for (const key of form.rawKeys) telemetry.logger.warn(`invalid percent-encoding for field ${quoteUntrusted(key)}, keeping raw value`);
        // Fluentd's form: json=<record or array>, e.g. curl -d 'json={"action":"login"}'.
        const json = form.fields.find(([key]) => key === 'json');
        return json === undefined ? formRecord(form) : jsonRecords(Buffer.from(json[1], 'utf8'));
      }
      if (parser !== null) return parsedRecords(body, parser, (message) => telemetry.logger.warn(message));
      if (contentType === '') return { ok: false, reason: "error: header 'Content-Type' is not set" };
      return { ok: false, reason: `error: invalid 'Content-Type' ${contentType}: send application/json or application/x-www-form-urlencoded` };
    };

    /** Fluentd's `?time=<seconds>` sets the time of every record of the request. */
    const requestTime = (url: string): EventTime => {
      const query = url.includes('?') ? new URLSearchParams(url.slice(url.indexOf('?') + 1)) : null;
      const text = query?.get('time');
      if (text === null || text === undefined || text === '') return eventTimeNow();
      const seconds = Number(text);
      if (!Number.isFinite(seconds) || seconds < 0) throw new RequestRejected(400, `error: invalid time parameter '${text}': expected seconds since the epoch\n`);
      return eventTimeFromSeconds(seconds);
    };

    const remoteAddress = (req: http.IncomingMessage): string => {
      const forwarded = req.headers['x-forwarded-for'];
      const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
      return first !== undefined && first !== '' ? first : (req.socket.remoteAddress ?? '');
    };

    const ingest = (req: http.IncomingMessage, body: Buffer): void => {
      const pathTag = tagFromPath(req.url ?? '/') ?? context.tag;
      const now = requestTime(req.url ?? '/');
      const result = payload(req, body);
      if (!result.ok) throw new RequestRejected(400, `${result.reason}\n`);
      const address = config.add_remote_addr ? remoteAddress(req) : null;
      // Records go out in order, one emit per run of records with the same tag.
      let runTag: string | null = null;
      let runRecords = 0;
      const flush = (): void => {
        if (runTag !== null && runRecords > 0) context.emit(writer.view(), runRecords, runTag);
        writer.reset();
        runRecords = 0;
      };
      writer.reset();
      for (const record of result.records) {
        let tag = pathTag;
        let recordBody = record.body;
        const entries = tagKey !== null || address !== null ? mapEntries(recordBody) : null;
        if (tagKey !== null && entries !== null) {
          const entry = findEntry(recordBody, entries, tagKey);
          const value = entry === undefined ? null : readStr(recordBody, entry.valueStart, entry.end);
          if (value !== null && value !== '') tag = sanitizeTag(value);
        }
        if (address !== null && entries !== null) {
          rewritten.reset();
          rewriteMap(rewritten, recordBody, entries, {
            suffix: [
              (w) => {
                w.str(config.remote_addr_key);
                w.str(address);
              },
            ],
          });
          recordBody = rewritten.bytes();
        }
        if (tag !== runTag) {
          flush();
          runTag = tag;
        }
        const time = record.time ?? now;
        writeEvent(writer, time.sec, time.nsec, null, recordBody);
        runRecords++;
      }
      flush();
    };

    const handleRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      if (overLimit.has(req.socket)) {
        telemetry.event('warn', `request from ${req.socket.remoteAddress ?? ''} refused: max_connections (${config.max_connections}) reached (HTTP 503)`, 'wsbit_input_rejected_records_total');
        reply(res, 503, `error: too many connections: max_connections is ${config.max_connections}\n`, true);
        return;
      }
      if (req.method !== 'POST') {
        req.resume();
        telemetry.event('warn', `request to ${quoteUntrusted(req.url ?? '/')} from ${req.socket.remoteAddress ?? ''} refused: invalid HTTP method ${quoteUntrusted(req.method ?? '')}`, 'wsbit_input_rejected_records_total');
        reply(res, 400, 'error: invalid HTTP method: POST records to /tag/path\n');
        return;
      }
      const declared = Number(req.headers['content-length'] ?? '0');
      if (declared > maxBytes) {
        telemetry.event('warn', `request from ${req.socket.remoteAddress ?? ''} refused: Content-Length ${declared} exceeds buffer_max_size (${maxBytes})`, 'wsbit_input_rejected_records_total');
        reply(res, 413, `error: payload too large: ${declared} bytes, buffer_max_size is ${maxBytes}\n`, true);
        return;
      }
      const state: PendingRequest = { req, res, body: new BodyCollector(blocks), idleTimer: null, done: false };
      active.add(req);
      readingBody.add(req.socket);
      budget.open(state);
      touch(state);
      req.on('data', (data: Buffer) => {
        if (state.done) return;
        if (state.body.bytes + data.length > maxBytes) {
          abandon(state, 413, `body exceeds buffer_max_size (${maxBytes})`, `error: payload too large: more than buffer_max_size (${maxBytes} bytes)\n`);
          return;
        }
        for (const evicted of budget.add(state, data)) {
          abandon(
            evicted,
            503,
            `bodies in flight reached buffer_total_limit (${config.buffer_total_limit} bytes); this one held ${evicted.body.reservedBytes} bytes`,
            `error: server busy: request bodies in flight reached buffer_total_limit, retry later\n`,
          );
        }
        touch(state);
      });
      if (paused) req.pause();
      const finished = (): void => {
        if (state.idleTimer !== null) clearTimeout(state.idleTimer);
        state.idleTimer = null;
        budget.close(state);
        state.body.release();
        active.delete(req);
        readingBody.delete(req.socket);
      };
      req.on('end', () => {
        if (state.done) return;
        state.done = true;
        const body = state.body.concat();
        finished();
        try {
          ingest(req, decodeBody(req, body));
          res.writeHead(config.successful_response_code, successHeaders);
          res.end();
        } catch (error) {
          const rejected = error instanceof RequestRejected ? error : new RequestRejected(400, `error: unable to process records: ${errorMessage(error)}\n`);
          telemetry.event('warn', `request to ${quoteUntrusted(req.url ?? '/')} from ${req.socket.remoteAddress ?? ''} refused: ${rejected.message.trim()}`, 'wsbit_input_rejected_records_total');
          reply(res, rejected.status, rejected.message);
        }
      });
      req.on('error', finished);
      req.on('close', finished);
    };

    return {
      async start() {
        const listening = http.createServer(
          {
            // 0 turns Node's header timer off.
            headersTimeout: headerTimeoutMs,
            requestTimeout: REQUEST_TIMEOUT_MS,
            // Node checks these timers only this often (30 s by default), which would stretch a short header_timeout.
            connectionsCheckingInterval: headerTimeoutMs > 0 ? Math.max(100, Math.min(1000, Math.floor(headerTimeoutMs / 2))) : 30_000,
          },
          handleRequest,
        );
        listening.on('connection', (socket: net.Socket) => {
          sockets.add(socket);
          if (config.max_connections > 0 && admitted >= config.max_connections) {
            overLimit.add(socket);
          } else {
            admitted++;
            socket.once('close', () => admitted--);
          }
          socket.on('close', () => sockets.delete(socket));
        });
        // Node's own answers (408 after header_timeout, 431, 400), now logged and counted too.
        listening.on('clientError', (error: NodeJS.ErrnoException, socket: net.Socket) => {
          if (error.code === 'ECONNRESET' || !socket.writable) {
            socket.destroy();
            return;
          }
          const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
          const reason =
            status !== 408
              ? `bad HTTP request: ${error.message}`
              : readingBody.has(socket)
                ? `request not complete after ${REQUEST_TIMEOUT_MS / 1000} s`
                : `headers not complete after ${config.header_timeout} s (header_timeout)`;
          telemetry.event('warn', `request from ${socket.remoteAddress ?? ''} refused: ${reason} (HTTP ${status})`, 'wsbit_input_rejected_records_total');
          if (socket.bytesWritten === 0) socket.write(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
          socket.destroy();
        });
        const port = await listenOn(listening, { host: config.listen, port: config.port }, { code: 'WSBIT_INPUT_LISTEN', instance }, telemetry.logger);
        server = listening;
        telemetry.logger.info(`listening on ${hostPort(config.listen, port)}`);
      },
      pause() {
        // Bodies stop being read, so clients feel TCP backpressure; nothing is refused.
        paused = true;
        for (const req of active) req.pause();
      },
      resume() {
        paused = false;
        for (const req of active) req.resume();
      },
      async stop() {
        const closing = server;
        server = null;
        await closeServer(closing, sockets);
      },
      listeningPort: () => boundPort(server),
    };
  },
});
