/** Feeds pieces of bytes to a FrameReader, as reads from a socket would arrive. */
import { FrameReader, WebSocketProtocolError, type ReaderEvent } from '../../src/websocket/reader.js';

/** Every event the pieces gave, and the first protocol error, if any. */
export function feedReader(reader: FrameReader, pieces: readonly Buffer[]): { events: ReaderEvent[]; error: WebSocketProtocolError | undefined } {
  const events: ReaderEvent[] = [];
  let error: WebSocketProtocolError | undefined;
  for (const piece of pieces) {
    const result = reader.push(piece);
    events.push(...result.events);
    error ??= result.error;
  }
  return { events, error };
}
