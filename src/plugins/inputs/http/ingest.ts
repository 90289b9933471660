/**
 * A complete request body of the http input, turned into records and emitted: decompressed, read by
 * its Content-Type, tagged by its path (or tag_key) and timed by `?time=` or a `time=` form field when given.
 */
import type http from 'node:http';
import zlib from 'node:zlib';
import { errorMessage } from '../../../base/errors.js';
import { quoteUntrusted } from '../../../base/logger.js';
import { eventTimeFromSeconds, eventTimeNow, type EventTime } from '../../../base/record.js';
import { writeEvent } from '../../../codec/event.js';
import { findEntry, mapEntries, readStr, rewriteMap } from '../../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import type { InputContext } from '../../../pipeline/contracts.js';
import type { HttpInputOptions } from './options.js';
import { formBytes, formFields, formRecord, jsonRecords, msgpackRecords, parsedRecords, startsLikeJson, type FormFields, type PayloadResult } from './payload.js';

/** A 400/413 answer with its text, as Fluent Bit's `send_response` writes them. */
/** The answer while chunk writes fail (disk full): nothing of the request is acknowledged. */
export const STORAGE_FAILING_TEXT = 'error: storage cannot write chunks (disk full?), retry later\n';

export class RequestRejected extends Error {
  constructor(
    readonly status: 400 | 413 | 503,
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
 * Seconds since the epoch (`1700000000` or `1700000000.5`) from fluentd's `time` parameter. Fluentd
 * reads it with Ruby's `to_f`, so a typo quietly becomes "now"; here it is a 400 that names the value,
 * so the client learns its records would carry the wrong time.
 */
function timeParameter(text: string, where: string): EventTime {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 0xffffffff) {
    throw new RequestRejected(400, `error: invalid time ${where} '${quoteValue(text)}': expected seconds since the epoch\n`);
  }
  return eventTimeFromSeconds(seconds);
}

/** A value of the client's, cut short for a 400 answer. */
function quoteValue(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}

/** Fluentd's `?time=<seconds>` sets the time of every record of the request. */
function requestTime(url: string): EventTime {
  const query = url.includes('?') ? new URLSearchParams(url.slice(url.indexOf('?') + 1)) : null;
  const text = query?.get('time');
  if (text === null || text === undefined || text === '') return eventTimeNow();
  return timeParameter(text, 'parameter');
}

/**
 * Fluentd's `time=` form field: as fluentd merges the form over the query, it wins over `?time=`.
 * In a plain key=value form the field also stays in the record, as Fluent Bit keeps every field.
 */
function withFormTime(result: PayloadResult, form: FormFields): PayloadResult {
  const text = form.fields.find(([key]) => key === 'time')?.[1];
  if (!result.ok || text === undefined || text === '') return result;
  const time = timeParameter(text, 'form field');
  return { ok: true, records: result.records.map((record) => ({ body: record.body, time })) };
}

/** The first X-Forwarded-For entry, else the peer's address. */
function remoteAddress(req: http.IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return first !== undefined && first !== '' ? first : (req.socket.remoteAddress ?? '');
}

/** Emits the records of complete request bodies; the writers are reused from one request to the next. */
export class RequestIngester {
  private readonly writer = new MsgpackWriter(64 * 1024);
  private readonly rewritten = new MsgpackWriter(1024);

  constructor(
    private readonly options: HttpInputOptions,
    private readonly context: Pick<InputContext<unknown>, 'tag' | 'telemetry' | 'emit' | 'admit'>,
  ) {}

  /** Emits the records of `raw` (the body as received); throws RequestRejected for a 400 or 413. */
  ingest(req: http.IncomingMessage, raw: Buffer): void {
    const body = this.decodeBody(req, raw);
    const pathTag = tagFromPath(req.url ?? '/') ?? this.context.tag;
    const now = requestTime(req.url ?? '/');
    const result = this.payload(req, body);
    if (!result.ok) throw new RequestRejected(400, `${result.reason}\n`);
    const { tagKey, remoteAddrKey } = this.options;
    const address = remoteAddrKey !== null ? remoteAddress(req) : null;
    // A 201 must mean the records are in a chunk file: while chunk writes fail, none is taken and
    // the client is told to retry (503 with Retry-After).
    if (result.records.length > 0 && !this.context.admit(result.records.length)) throw new RequestRejected(503, STORAGE_FAILING_TEXT);
    const { writer, rewritten } = this;
    // Records go out in order, one emit per run of records with the same tag.
    let runTag: string | null = null;
    let runRecords = 0;
    let stored = true;
    const flush = (): void => {
      if (runTag !== null && runRecords > 0 && !this.context.emit(writer.view(), runRecords, runTag)) stored = false;
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
      if (address !== null && remoteAddrKey !== null && entries !== null) {
        rewritten.reset();
        rewriteMap(rewritten, recordBody, entries, {
          suffix: [
            (w) => {
              w.str(remoteAddrKey);
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
    // Some records are in memory only: the client sends the request again (it may duplicate those before).
    if (!stored) throw new RequestRejected(503, STORAGE_FAILING_TEXT);
  }

  private decodeBody(req: http.IncomingMessage, raw: Buffer): Buffer {
    const maxBytes = this.options.maxBodyBytes;
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
  }

  private payload(req: http.IncomingMessage, body: Buffer): PayloadResult {
    const logger = this.context.telemetry.logger;
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (contentType === 'application/json') return jsonRecords(body);
    if (contentType === 'application/x-www-form-urlencoded') {
      // curl -d sends this type whatever the body is: a JSON object or array is taken as JSON.
      const json = startsLikeJson(body) ? jsonRecords(body) : null;
      if (json?.ok === true) return json;
      const form = formFields(body);
      // Neither JSON nor a form: the JSON error says more than "no key=value pairs".
      if (json !== null && form.fields.length === 0) return json;
      // Fluentd's form fields: json=<record or array>, e.g. curl -d 'json={"action":"login"}', and
      // msgpack=<percent-encoded map or array of maps>, whose bytes are no text to decode.
      const jsonField = form.fields.find(([key]) => key === 'json');
      if (jsonField !== undefined) return withFormTime(jsonRecords(Buffer.from(jsonField[1], 'utf8')), form);
      const msgpackField = form.rawValues.get('msgpack');
      if (msgpackField !== undefined) return withFormTime(msgpackRecords(formBytes(msgpackField)), form);
      for (const key of form.rawKeys) logger.warn(`invalid percent-encoding for field ${quoteUntrusted(key)}, keeping raw value`);
      return withFormTime(formRecord(form), form);
    }
    const parser = this.options.parser;
    if (parser !== null) return parsedRecords(body, parser, (message) => logger.warn(message));
    if (contentType === '') return { ok: false, reason: "error: header 'Content-Type' is not set" };
    return { ok: false, reason: `error: invalid 'Content-Type' ${contentType}: send application/json or application/x-www-form-urlencoded` };
  }
}
