import http from 'node:http';
import type net from 'node:net';
import zlib from 'node:zlib';
import { ConfigError, errorMessage } from '../../core/errors.js';
import { eventTimeFromSeconds, eventTimeNow, type EventTime } from '../../core/record.js';
import { writeEvent } from '../../codec/event.js';
import { findEntry, mapEntries, readStr, rewriteMap } from '../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { boundPort, closeServer, hostPort, listenOn } from '../../core/listen.js';
import { defineInput } from '../types.js';
import { formFields, formRecord, jsonRecords, parsedRecords, type PayloadResult } from './http/payload.js';
import { quoteUntrusted } from '../../core/logger.js';

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
    const active = new Set<http.IncomingMessage>();
    const sockets = new Set<net.Socket>();
    const writer = new MsgpackWriter(64 * 1024);
    const rewritten = new MsgpackWriter(1024);
    let paused = false;
    let server: http.Server | null = null;

    const reply = (res: http.ServerResponse, status: number, text: string, close = false): void => {
      const headers: Record<string, string | number> = { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) };
      if (close) headers['Connection'] = 'close';
      res.writeHead(status, headers);
      res.end(text);
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
      const pieces: Buffer[] = [];
      let received = 0;
      let refused = false;
      active.add(req);
      req.on('data', (data: Buffer) => {
        if (refused) return;
        received += data.length;
        if (received > maxBytes) {
          refused = true;
          telemetry.event('warn', `request from ${req.socket.remoteAddress ?? ''} refused: body exceeds buffer_max_size (${maxBytes})`, 'wsbit_input_rejected_records_total');
          reply(res, 413, `error: payload too large: more than buffer_max_size (${maxBytes} bytes)\n`, true);
          return;
        }
        pieces.push(data);
      });
      if (paused) req.pause();
      req.on('end', () => {
        active.delete(req);
        if (refused) return;
        try {
          ingest(req, decodeBody(req, Buffer.concat(pieces)));
          res.writeHead(config.successful_response_code, successHeaders);
          res.end();
        } catch (error) {
          const rejected = error instanceof RequestRejected ? error : new RequestRejected(400, `error: unable to process records: ${errorMessage(error)}\n`);
          telemetry.event('warn', `request to ${quoteUntrusted(req.url ?? '/')} from ${req.socket.remoteAddress ?? ''} refused: ${rejected.message.trim()}`, 'wsbit_input_rejected_records_total');
          reply(res, rejected.status, rejected.message);
        }
      });
      req.on('error', () => active.delete(req));
      req.on('close', () => active.delete(req));
    };

    return {
      async start() {
        const listening = http.createServer(handleRequest);
        listening.on('connection', (socket: net.Socket) => {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
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
