/**
 * tail's `generic.encoding`: files in a legacy encoding, each line turned into UTF-8 before it is
 * parsed, as in_tail converts what it reads. Fluent Bit's names and aliases (src/unicode/*.c), each
 * mapped to the WHATWG label Node's TextDecoder takes. Every one of these encodings writes '\n' as the
 * byte 0x0a and never uses that byte inside a character, so lines split on raw bytes are whole.
 */
import type { LineView } from './tail-file.js';

/** generic.encoding's values, and the aliases Fluent Bit takes for each. */
export const GENERIC_ENCODINGS = {
  ShiftJIS: { label: 'shift_jis', aliases: ['SJIS', 'CP932', 'Windows-31J'] },
  UHC: { label: 'euc-kr', aliases: ['CP949', 'Windows-949'] },
  GBK: { label: 'gbk', aliases: ['CP936'] },
  GB18030: { label: 'gb18030', aliases: [] },
  BIG5: { label: 'big5', aliases: ['CP950'] },
  Win866: { label: 'ibm866', aliases: ['CP866'] },
  Win874: { label: 'windows-874', aliases: ['CP874'] },
  Win1250: { label: 'windows-1250', aliases: ['CP1250'] },
  Win1251: { label: 'windows-1251', aliases: ['CP1251'] },
  Win1252: { label: 'windows-1252', aliases: ['CP1252'] },
  Win1253: { label: 'windows-1253', aliases: ['CP1253'] },
  Win1254: { label: 'windows-1254', aliases: ['CP1254'] },
  Win1255: { label: 'windows-1255', aliases: ['CP1255'] },
  Win1256: { label: 'windows-1256', aliases: ['CP1256'] },
} as const;

export type GenericEncoding = keyof typeof GENERIC_ENCODINGS;

/** The enum aliases of generic.encoding: each alias and the name it stands for. */
export const GENERIC_ENCODING_ALIASES: Readonly<Record<string, GenericEncoding>> = Object.fromEntries(
  Object.entries(GENERIC_ENCODINGS).flatMap(([name, { aliases }]) => aliases.map((alias) => [alias, name as GenericEncoding])),
);

/**
 * Windows-1252's 0x80 to 0x9f (the rest is Latin-1); U+FFFD where it has no character. Node 20's
 * TextDecoder reads windows-1252 as Latin-1, which gets these wrong (0x80 is the euro sign).
 */
const WIN1252_HIGH = '€\ufffd‚ƒ„…†‡ˆ‰Š‹Œ\ufffdŽ\ufffd\ufffd‘’“”•–—˜™š›œ\ufffdžŸ';

function decodeWin1252(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += byte >= 0x80 && byte <= 0x9f ? WIN1252_HIGH[byte - 0x80] : String.fromCharCode(byte);
  return text;
}

/** Turns lines in `encoding` into UTF-8 lines (same offsets); bytes that are not text there become U+FFFD. */
export function lineDecoder(encoding: GenericEncoding): (lines: readonly LineView[]) => LineView[] {
  const decoder = new TextDecoder(GENERIC_ENCODINGS[encoding].label);
  const decode = encoding === 'Win1252' ? decodeWin1252 : (bytes: Uint8Array) => decoder.decode(bytes);
  return (lines) => lines.map((line) => ({ bytes: Buffer.from(decode(line.bytes), 'utf8'), offset: line.offset }));
}
