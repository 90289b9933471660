/**
 * The http output's body_key and headers_key (out_http's `send_all_requests`): each record is a request
 * of its own, its body the string (or bin) body_key names, its headers the string pairs of the map
 * headers_key names. A record without both is left out with a warning and counted, as Fluent Bit skips
 * it. Unlike Fluent Bit, a chunk retried after some of its records went out resumes after them, so no
 * record is sent twice.
 */
import { readEvents, isGroupMarker } from '../../../codec/event.js';
import { mapEntries, readStr, strRange } from '../../../codec/msgpack-map.js';
import type { HeaderPair } from '../../../config/schema.js';
import type { FlushResult, OutputContext } from '../../../pipeline/contracts.js';
import type { ChunkView } from '../../../pipeline/chunk.js';
import { resolveAccessor } from '../../filters/record-accessor.js';
import type { HttpDelivery } from './delivery.js';
import type { RecordRequests } from './options.js';

const MAX_RESUMED_CHUNKS = 1024;

export class RecordRequestSender {
  /** Chunks retried part way: how many of their records are done (sent, refused or left out). */
  private readonly done = new Map<string, number>();

  constructor(
    private readonly keys: RecordRequests,
    private readonly delivery: HttpDelivery,
    private readonly context: Pick<OutputContext<unknown>, 'telemetry'>,
    private readonly compress: (body: Buffer) => Promise<Buffer>,
  ) {}

  async flush(chunk: ChunkView): Promise<FlushResult> {
    const { telemetry } = this.context;
    const events = readEvents(chunk.data).filter((event) => !isGroupMarker(event));
    for (let index = this.done.get(chunk.id) ?? 0; index < events.length; index++) {
      const event = events[index] as (typeof events)[number];
      const request = this.requestOf(chunk.data, event.bodyStart, event.bodyEnd);
      if (typeof request === 'string') {
        telemetry.event('warn', `record ${index} of chunk '${chunk.id}' left out: ${request}`, 'wsbit_output_rejected_records_total');
        continue;
      }
      // A refused record ('error') is logged by the delivery and dropped; the next ones still go.
      const result = await this.delivery.deliver(await this.compress(request.body), 1, chunk.id, chunk.tag, request.headers);
      if (result === 'retry') {
        // Bounded: a chunk the engine gave up on is never flushed again.
        if (this.done.size >= MAX_RESUMED_CHUNKS) this.done.delete(this.done.keys().next().value as string);
        this.done.set(chunk.id, index);
        return 'retry';
      }
    }
    this.done.delete(chunk.id);
    return 'ok';
  }

  /** The record's body and headers, or why it has none. */
  private requestOf(data: Buffer, start: number, end: number): { body: Buffer; headers: HeaderPair[] } | string {
    const { body: bodyKey, headers: headersKey } = this.keys;
    const body = resolveAccessor(data, start, end, bodyKey);
    const text = body === null ? null : strRange(data, body.start, body.end, true);
    if (text === null) return `no string at body_key ${bodyKey.text}`;
    const map = resolveAccessor(data, start, end, headersKey);
    const entries = map === null ? null : mapEntries(data, map.start, map.end);
    if (entries === null) return `no map at headers_key ${headersKey.text}`;
    const headers: HeaderPair[] = [];
    for (const entry of entries) {
      const name = readStr(entry.keyBuf, entry.keyStart, entry.keyEnd);
      const value = readStr(entry.valueBuf, entry.valueStart, entry.end);
      // Fluent Bit sends only pairs of strings.
      if (name !== null && value !== null) headers.push({ name, value });
    }
    return { body: data.subarray(text.start, text.end), headers };
  }
}
