import { closeSync, openSync, writeSync } from 'node:fs';
import net from 'node:net';
import { nowMicros, pump, sleep, type PumpResult } from '../harness.js';

/**
 * What the end-to-end benchmarks send: the same logical record through every input. Every Nth record
 * carries `"t"`, the send time in microseconds since the epoch (16 digits, or a msgpack uint64), which
 * the sink subtracts from its receipt time. Batches are built once as templates; each send copies the
 * template (the socket may still hold the previous copy) and stamps the time into the copy.
 */

/** Records per latency sample. */
export const SAMPLE_EVERY = 100;
/** A 16-digit placeholder for the time; real stamps have 16 digits until the year 2286. */
const STAMP_PLACEHOLDER = 1_000_000_000_000_000;

/**
 * One JSON line of `recordBytes` bytes (newline included), e.g.
 * `{"level":"info","service":"bench","msg":"xxxx","n":123456,"t":1712345678901234}`. `t` is left out
 * when not given; the msg padding keeps every line the same size either way.
 */
export function jsonLine(recordBytes: number, fields: { n?: number; t?: number } = {}): string {
  const head = '{"level":"info","service":"bench","msg":"';
  const tail = `","n":${fields.n ?? 123456}${fields.t === undefined ? '' : `,"t":${fields.t}`}}\n`;
  return head + 'x'.repeat(Math.max(0, recordBytes - head.length - tail.length)) + tail;
}

/**
 * A container runtime's JSON log line (Docker's json-file layout) of `recordBytes` bytes: an
 * application log line with its newline under "log", the stream and an RFC 3339 time with
 * nanoseconds. `t` (the send time, for latency) is an extra top-level key, after the others.
 */
export function containerLine(recordBytes: number, fields: { t?: number } = {}): string {
  const head =
    '{"log":"2026-12-03T21:00:00.123Z INFO 1 --- [nio-8080-exec-7] c.e.shop.web.OrderController : order placed customer=4711 items=3 total=129.90 ';
  const tail = `\\n","stream":"stdout","time":"2026-12-03T21:00:00.123456789Z"${fields.t === undefined ? '' : `,"t":${fields.t}`}}\n`;
  return head + 'x'.repeat(Math.max(0, recordBytes - head.length - tail.length)) + tail;
}

export type LineKind = 'bench' | 'container' | 'cri';
/** The CRI header of every line of the tail-cri scenario (a complete `F` line each). */
const CRI_PREFIX = '2026-11-22T10:00:00.000000000Z stdout F ';
/** The bench's JSON line behind a CRI header, within the same record size. */
const criLine = (recordBytes: number, fields: { t?: number }): string => CRI_PREFIX + jsonLine(recordBytes - CRI_PREFIX.length, fields);
const LINES: Record<LineKind, (recordBytes: number, fields: { t?: number }) => string> = { bench: jsonLine, container: containerLine, cri: criLine };

/** The msg text of a record, so the msgpack form carries exactly what the JSON line does. */
function msgText(recordBytes: number, sampled: boolean): string {
  const line = jsonLine(recordBytes, sampled ? { t: STAMP_PLACEHOLDER } : {});
  return line.slice(line.indexOf('"msg":"') + 7, line.indexOf('","n":'));
}

interface Template {
  bytes: Buffer;
  /** Where each sampled record's time goes: 16 ASCII digits, or 8 bytes of a uint64. */
  stampOffsets: number[];
  stamp: 'ascii' | 'uint64';
}

function stamped(template: Template): Buffer {
  const copy = Buffer.from(template.bytes);
  const now = nowMicros();
  if (template.stamp === 'ascii') {
    const digits = String(now);
    for (const offset of template.stampOffsets) copy.write(digits, offset, 'latin1');
  } else {
    const high = Math.floor(now / 0x100000000);
    const low = now % 0x100000000;
    for (const offset of template.stampOffsets) {
      copy.writeUInt32BE(high, offset);
      copy.writeUInt32BE(low, offset + 4);
    }
  }
  return copy;
}

/** `records` JSON lines, the first of every SAMPLE_EVERY with a time. */
function jsonTemplate(recordBytes: number, records: number, kind: LineKind = 'bench'): Template {
  const lines: string[] = [];
  const stampOffsets: number[] = [];
  let length = 0;
  for (let i = 0; i < records; i++) {
    const sampled = i % SAMPLE_EVERY === 0;
    const line = LINES[kind](recordBytes, sampled ? { t: STAMP_PLACEHOLDER } : {});
    if (sampled) stampOffsets.push(length + line.indexOf('"t":') + 4);
    lines.push(line);
    length += line.length;
  }
  return { bytes: Buffer.from(lines.join(''), 'latin1'), stampOffsets, stamp: 'ascii' };
}

/** Yields `records` records as stamped copies of `batch`-record templates. */
function batches(records: number, batch: number, template: (count: number) => Template): () => Buffer | null {
  const full = template(Math.min(batch, records));
  const rest = records % batch === 0 ? null : template(records % batch);
  let sent = 0;
  return () => {
    if (sent >= records) return null;
    const next = records - sent >= batch ? full : (rest as Template);
    sent += records - sent >= batch ? batch : records - sent;
    return stamped(next);
  };
}

/**
 * JSON lines over TCP (the tcp input, `format json`), 100 records per write, on one connection unless
 * the agent drops it (then on a new one, see `pump`).
 */
export function sendTcpJson(port: number, recordBytes: number, records: number): Promise<PumpResult> {
  return pump(port, batches(records, 100, (count) => jsonTemplate(recordBytes, count)), { reconnect: true });
}

// A tiny msgpack writer for the Forward templates.
class Bytes {
  readonly parts: number[] = [];
  byte(...values: number[]): this {
    this.parts.push(...values);
    return this;
  }
  u32(value: number): this {
    return this.byte((value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
  }
  str(text: string): this {
    const raw = Buffer.from(text, 'utf8');
    if (raw.length < 32) this.byte(0xa0 | raw.length);
    else if (raw.length < 256) this.byte(0xd9, raw.length);
    else this.byte(0xda, raw.length >> 8, raw.length & 0xff);
    return this.byte(...raw);
  }
}

/**
 * A Forward-protocol PackedForward message: `[tag, bin(entries), {"size": n}]`, each entry
 * `[EventTime, {level, service, msg, n[, t]}]` as Fluentd and fluent-logger send them.
 */
function forwardTemplate(recordBytes: number, records: number, withTimes = true): Template {
  const entries = new Bytes();
  const stampAt: number[] = [];
  const nowSeconds = Math.floor(Date.now() / 1000);
  for (let i = 0; i < records; i++) {
    const sampled = withTimes && i % SAMPLE_EVERY === 0;
    entries.byte(0x92, 0xd7, 0x00).u32(nowSeconds).u32(0);
    entries.byte(sampled ? 0x85 : 0x84);
    entries.str('level').str('info').str('service').str('bench').str('msg').str(msgText(recordBytes, sampled));
    entries.str('n').byte(0xce).u32(123456);
    if (sampled) {
      entries.str('t').byte(0xcf);
      stampAt.push(entries.parts.length);
      entries.u32(0).u32(0);
    }
  }
  const head = new Bytes().byte(0x93).str('bench').byte(0xc6).u32(entries.parts.length);
  const option = new Bytes().byte(0x81).str('size').byte(0xce).u32(records);
  const bytes = Buffer.from([...head.parts, ...entries.parts, ...option.parts]);
  return { bytes, stampOffsets: stampAt.map((offset) => offset + head.parts.length), stamp: 'uint64' };
}

/** PackedForward messages of 1000 entries over TCP (the forward input), reconnecting as sendTcpJson does. */
export function sendForward(port: number, recordBytes: number, records: number): Promise<PumpResult> {
  return pump(port, batches(records, 1000, (count) => forwardTemplate(recordBytes, count)), { reconnect: true });
}

/**
 * Appends JSON lines to a file that an agent tails, 100 lines per write, staying at most
 * `windowRecords` ahead of what the sink has received. A file has no backpressure: without the window
 * the writer would finish long before the agent, and the latency would only measure the backlog.
 */
export async function appendLines(
  file: string,
  recordBytes: number,
  records: number,
  received: () => number,
  windowRecords: number,
  kind: LineKind = 'bench',
  stallMs = 20_000,
): Promise<void> {
  const next = batches(records, 100, (count) => jsonTemplate(recordBytes, count, kind));
  const fd = openSync(file, 'a');
  try {
    let written = 0;
    let writes = 0;
    let seen = received();
    let progressAt = Date.now();
    for (let buffer = next(); buffer !== null; buffer = next()) {
      // An agent that loses records never closes the window: after stallMs without progress, write on.
      while (written - received() > windowRecords && Date.now() - progressAt < stallMs) {
        if (received() !== seen) {
          seen = received();
          progressAt = Date.now();
        }
        await sleep(1);
      }
      writeSync(fd, buffer);
      written += Math.min(100, records - written);
      // Let the sink's progress reports in.
      if (++writes % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    closeSync(fd);
  }
}

/** One record without a time, to see the whole pipeline up before the clock starts. */
export function warmUpJson(recordBytes: number, kind: LineKind = 'bench'): Buffer {
  return Buffer.from(LINES[kind](recordBytes, {}), 'latin1');
}

export function warmUpForward(recordBytes: number): Buffer {
  return forwardTemplate(recordBytes, 1, false).bytes;
}

/**
 * JSON lines numbered 0..records-1 in `"n"` (so the sink can count losses and duplicates) over one TCP
 * connection, 100 per write, no faster than `recordsPerSecond` (as fast as the socket takes them
 * without one). `sent()` is how many have been handed to the socket so far.
 */
export function sendNumbered(
  port: number,
  recordBytes: number,
  records: number,
  recordsPerSecond = Infinity,
): { done: Promise<void>; sent: () => number } {
  let sent = 0;
  const started = performance.now();
  const socket = net.connect(port, '127.0.0.1');
  const done = new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | null = null;
    let waitingForDrain = false;
    const write = (): void => {
      waitingForDrain = false;
      const allowed = Number.isFinite(recordsPerSecond)
        ? Math.min(records, Math.floor(((performance.now() - started) / 1000) * recordsPerSecond))
        : records;
      while (sent < allowed) {
        const count = Math.min(100, records - sent);
        let batch = '';
        for (let i = 0; i < count; i++) batch += jsonLine(recordBytes, { n: sent + i });
        sent += count;
        if (!socket.write(batch)) {
          waitingForDrain = true;
          socket.once('drain', write);
          return;
        }
      }
      if (sent >= records) {
        if (timer !== null) clearInterval(timer);
        socket.end();
      }
    };
    socket.on('connect', () => {
      write();
      if (sent < records) timer = setInterval(() => waitingForDrain || write(), 10);
    });
    socket.on('close', () => {
      if (timer !== null) clearInterval(timer);
      resolve();
    });
    socket.on('error', reject);
  });
  return { done, sent: () => sent };
}
