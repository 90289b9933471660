/**
 * What the http output puts on the wire besides the payload, and what it makes of the answer, as
 * pure functions. Recorded from Fluent Bit 5.1.1's out_http (test/fixtures/http-output/): headers in
 * the order Content-Type, Content-Encoding, Authorization, User-Agent: Fluent-Bit, then the
 * configured ones; undici adds Host (`host:port`) and Content-Length as Fluent Bit does.
 */
import type { OutputFormat } from '../../../codec/payload.js';
import type { HeaderPair } from '../../../config/schema.js';
import type { FlushResult } from '../../../pipeline/contracts.js';

/** Fluent Bit's `Content-Type` per format: ndjson for json_lines only, msgpack's own type, JSON otherwise. */
export function contentType(format: OutputFormat): string {
  switch (format) {
    case 'msgpack':
      return 'application/msgpack';
    case 'json_lines':
      return 'application/x-ndjson';
    default:
      return 'application/json';
  }
}

export interface HeaderOptions {
  format: OutputFormat;
  gzip: boolean;
  user: string | null;
  password: string | null;
  /** The output's `header` entries, then the node's. */
  headers: readonly HeaderPair[];
  /**
   * Off: a configured header replaces an earlier one of the same name (case-insensitive), including
   * the defaults, so `header Content-Type text/plain` changes the type. On (Fluent Bit's default):
   * every header is sent, repeats included.
   */
  allowDuplicates: boolean;
  /** header_tag: this header, with the chunk's tag, right after the content type. */
  tagHeader?: { name: string; value: string } | null;
  /** With body_key: the record's headers_key map, sent instead of the content type. */
  recordHeaders?: readonly HeaderPair[] | null;
}

/** Request headers as a flat `[name, value, ...]` list, which keeps repeats and order. */
export function requestHeaders(options: HeaderOptions): string[] {
  const pairs: Array<[string, string]> = options.recordHeaders != null ? options.recordHeaders.map(({ name, value }) => [name, value]) : [['Content-Type', contentType(options.format)]];
  if (options.tagHeader != null) pairs.push([options.tagHeader.name, options.tagHeader.value]);
  if (options.gzip) pairs.push(['Content-Encoding', 'gzip']);
  if (options.user !== null) {
    pairs.push(['Authorization', `Basic ${Buffer.from(`${options.user}:${options.password ?? ''}`).toString('base64')}`]);
  }
  pairs.push(['User-Agent', 'Fluent-Bit']);
  for (const { name, value } of options.headers) {
    if (!options.allowDuplicates) {
      const lower = name.toLowerCase();
      const existing = pairs.findIndex(([other]) => other.toLowerCase() === lower);
      if (existing >= 0) pairs.splice(existing, 1);
    }
    pairs.push([name, value]);
  }
  return pairs.flat();
}

/** 2xx delivered; 5xx and 429 (the server may take it later) retried; anything else is a bad request. */
export function resultForStatus(status: number): FlushResult {
  if (status >= 200 && status < 300) return 'ok';
  if (status >= 500 || status === 429) return 'retry';
  return 'error';
}

