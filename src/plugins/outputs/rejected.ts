/** How an output reports the records its encoder left out of a chunk (see forEachDeliverableRecord). */
import type { RejectedRecord } from '../../codec/event.js';
import type { ChunkView } from '../../pipeline/chunk.js';
import { quoteUntrusted } from '../../base/logger.js';
import type { Telemetry } from '../../base/telemetry.js';

/**
 * Reports the records an output left out of a chunk it delivered, because they could not be encoded
 * (see EncodedPayload.rejected): one warning per record, with the tag (which a forward client chooses,
 * hence quoted) and the reason, counted as rejected and as dropped. Outputs call it once the rest of
 * the chunk has been delivered, so a chunk that is retried is reported once, not once per attempt.
 */
export function reportRejectedRecords(telemetry: Telemetry, chunk: ChunkView, rejected: readonly RejectedRecord[]): void {
  if (rejected.length === 0) return;
  for (const { index, reason } of rejected) {
    telemetry.event('warn', `record ${index} of chunk '${chunk.id}' left out: ${reason} (tag ${quoteUntrusted(chunk.tag)})`, 'wsbit_output_rejected_records_total');
  }
  telemetry.count('fluentbit_output_dropped_records_total', rejected.length);
}
