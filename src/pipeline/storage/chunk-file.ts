import { crc32 } from 'node:zlib';
import { WsbitError } from '../../base/errors.js';
import { forEachEvent } from '../../codec/event.js';

/**
 * The on-disk form of a chunk. A file is a header followed by one frame per append, so a write
 * torn by `kill -9` or a power cut can only damage the last frame, and every earlier record stays
 * readable:
 *
 *   header: "WSBC" | u8 version (1) | u8 flags (bit 0: frames carry a CRC32)
 *           | u16 BE tag length | tag | u16 BE input length | input instance name
 *   frame:  u32 BE payload length | u32 BE CRC32 of the payload (0 without checksums) | payload
 *
 * A payload is whole events in Fluent Bit's msgpack layout, exactly as they were appended.
 */
const magic = Buffer.from('WSBC');
const formatVersion = 1;
const flagChecksum = 0x01;
export const frameHeaderBytes = 8;

export function encodeChunkHeader(tag: string, inputInstance: string, checksum: boolean): Buffer {
  const tagBytes = Buffer.from(tag, 'utf8');
  const inputBytes = Buffer.from(inputInstance, 'utf8');
  const header = Buffer.alloc(4 + 1 + 1 + 2 + tagBytes.length + 2 + inputBytes.length);
  let offset = magic.copy(header, 0);
  header[offset++] = formatVersion;
  header[offset++] = checksum ? flagChecksum : 0;
  offset = header.writeUInt16BE(tagBytes.length, offset);
  offset += tagBytes.copy(header, offset);
  offset = header.writeUInt16BE(inputBytes.length, offset);
  inputBytes.copy(header, offset);
  return header;
}

export function encodeFrameHeader(payload: Buffer, checksum: boolean): Buffer {
  const header = Buffer.alloc(frameHeaderBytes);
  header.writeUInt32BE(payload.length, 0);
  header.writeUInt32BE(checksum ? crc32(payload) : 0, 4);
  return header;
}

export interface DecodedChunkFile {
  tag: string;
  inputInstance: string;
  /** Every whole, verified event of the file, concatenated. */
  events: Buffer;
  records: number;
  /** What was left out and why, for the log. Empty when the file was intact. */
  problems: string[];
  /**
   * True when bytes that had been written whole were left out (a CRC mismatch, bytes that are not
   * events): real damage, worth a copy in quarantine. A torn last frame is not damage: it is the
   * append a crash interrupted, which was never acknowledged.
   */
  damaged: boolean;
}

/**
 * Thrown for a file whose header cannot be read: nothing in it can be trusted. `torn-header` is a
 * file that is only the start of a header (a crash between creating the file and finishing the
 * header, as older versions could leave): it holds no records, so removing it loses nothing.
 * `garbage` is anything else, which may hold records we cannot read and is kept for a human.
 */
export class UnreadableChunkFileError extends WsbitError {
  constructor(
    readonly kind: 'torn-header' | 'garbage',
    message: string,
  ) {
    super(kind === 'torn-header' ? 'WSBIT_STORAGE_TORN_HEADER' : 'WSBIT_STORAGE_UNREADABLE', message);
  }
}

/** True when `file` could be the first bytes of a header this version writes, and no more. */
function isHeaderPrefix(file: Buffer): boolean {
  const magicPart = Math.min(file.length, magic.length);
  if (!file.subarray(0, magicPart).equals(magic.subarray(0, magicPart))) return false;
  if (file.length > 4 && file[4] !== formatVersion) return false;
  if (file.length > 5 && ((file[5] as number) & ~flagChecksum) !== 0) return false;
  if (file.length < 8) return true;
  const tagLength = file.readUInt16BE(6);
  if (file.length < 10 + tagLength) return true;
  const inputLength = file.readUInt16BE(8 + tagLength);
  return file.length < 10 + tagLength + inputLength;
}

function countWholeEvents(payload: Buffer): { records: number; wholeBytes: number } {
  let records = 0;
  let wholeBytes = 0;
  try {
    forEachEvent(payload, (event) => {
      records++;
      wholeBytes = event.end;
    });
  } catch {
    // The events before the damage are still good; the caller reports the rest as cut.
  }
  return { records, wholeBytes };
}

/**
 * Reads a chunk file back. A frame whose CRC does not match is skipped (its neighbours are fine);
 * a frame cut short keeps the whole events it holds; bytes that are not events are cut.
 */
export function decodeChunkFile(file: Buffer): DecodedChunkFile {
  if (isHeaderPrefix(file)) throw new UnreadableChunkFileError('torn-header', `header cut short (${file.length} bytes): no records`);
  if (file.length < 10 || !file.subarray(0, 4).equals(magic)) throw new UnreadableChunkFileError('garbage', 'not a wsbit chunk file (bad magic)');
  if (file[4] !== formatVersion) throw new UnreadableChunkFileError('garbage', `unsupported chunk file version ${file[4]}`);
  const checksum = ((file[5] as number) & flagChecksum) !== 0;
  const tagLength = file.readUInt16BE(6);
  const tag = file.toString('utf8', 8, 8 + tagLength);
  const inputLength = file.readUInt16BE(8 + tagLength);
  let offset = 10 + tagLength + inputLength;
  const inputInstance = file.toString('utf8', 10 + tagLength, offset);

  const kept: Buffer[] = [];
  const problems: string[] = [];
  let records = 0;
  let frameIndex = 0;
  let damaged = false;
  while (offset < file.length) {
    if (offset + frameHeaderBytes > file.length) {
      problems.push(`${file.length - offset} trailing bytes of a torn frame header cut`);
      break;
    }
    const length = file.readUInt32BE(offset);
    const expectedCrc = file.readUInt32BE(offset + 4);
    const payloadStart = offset + frameHeaderBytes;
    const available = Math.min(length, file.length - payloadStart);
    const payload = file.subarray(payloadStart, payloadStart + available);
    const torn = available < length;
    if (!torn && checksum && crc32(payload) !== expectedCrc) {
      const lost = countWholeEvents(payload).records;
      damaged = true;
      problems.push(`frame ${frameIndex} failed its CRC32 check: ${lost > 0 ? `about ${lost}` : 'its'} records skipped`);
    } else {
      const whole = countWholeEvents(payload);
      if (whole.wholeBytes > 0) kept.push(payload.subarray(0, whole.wholeBytes));
      records += whole.records;
      if (torn) {
        problems.push(`frame ${frameIndex} torn (${available} of ${length} bytes): ${whole.records} whole records kept, the rest cut`);
        break;
      }
      if (whole.wholeBytes < payload.length) {
        damaged = true;
        problems.push(`frame ${frameIndex}: ${payload.length - whole.wholeBytes} bytes that are not whole events cut`);
      }
    }
    offset = payloadStart + length;
    frameIndex++;
  }
  return { tag, inputInstance, events: Buffer.concat(kept), records, problems, damaged };
}
