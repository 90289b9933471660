/**
 * What Grace left undelivered at shutdown, told in one line per fate instead of a line per chunk:
 * how many records (and chunks) are lost or stay on disk, why (each output's last failure), and how
 * to keep them next time (issue 22, point 5).
 */
import type { Logger } from '../base/logger.js';

interface Tally {
  records: number;
  chunks: number;
  /** Input instances the chunks came from, for the storage hint. */
  inputs: Set<string>;
  /** By output instance: a chunk held by two outputs names both. */
  outputs: Map<string, UndeliveredBy>;
}

/** An output that still had some of the chunks, and its reason (null: it gave none). */
export interface UndeliveredBy {
  instance: string;
  reason: string | null;
  /** A flush of the chunk was under way: the reason, if any, is an earlier failure. */
  inFlight: boolean;
}

export class ShutdownReport {
  private readonly lost: Tally = { records: 0, chunks: 0, inputs: new Set(), outputs: new Map() };
  private readonly kept: Tally = { records: 0, chunks: 0, inputs: new Set(), outputs: new Map() };

  constructor(private readonly graceSeconds: number) {}

  /** A chunk Grace left undelivered: `onDisk` when it came from a filesystem input and stays in storage.path. */
  add(records: number, input: string, onDisk: boolean, by: readonly UndeliveredBy[]): void {
    const tally = onDisk ? this.kept : this.lost;
    tally.records += records;
    tally.chunks++;
    tally.inputs.add(input);
    for (const output of by) tally.outputs.set(output.instance, output);
  }

  get lostRecords(): number {
    return this.lost.records;
  }

  write(logger: Logger): void {
    const within = `were not delivered within Grace=${this.graceSeconds}s`;
    if (this.lost.chunks > 0) {
      const inputs = [...this.lost.inputs].join(', ');
      logger.error(
        `[engine] ${amount(this.lost)} ${within} and are lost: ${why(this.lost)}. To keep undelivered records across restarts, set storage.path in [SERVICE] and storage.type filesystem on input ${inputs}`,
      );
    }
    if (this.kept.chunks > 0) {
      logger.info(`[engine] ${amount(this.kept)} ${within} (${why(this.kept)}); they stay on disk in storage.path for the next start`);
    }
  }
}

function why(tally: Tally): string {
  const outputs = [...tally.outputs.values()];
  if (outputs.length === 0) return 'no output took them in time';
  return outputs
    .map(({ instance, reason, inFlight }) => {
      if (inFlight) return `output ${instance} had them in flight${reason === null ? '' : ` (its last failure: ${reason})`}`;
      return reason === null ? `output ${instance} did not deliver them in time` : `output ${instance}: ${reason}`;
    })
    .join('; ');
}

function amount(tally: Tally): string {
  return `${tally.records} record${tally.records === 1 ? '' : 's'} (${tally.chunks} chunk${tally.chunks === 1 ? '' : 's'})`;
}
