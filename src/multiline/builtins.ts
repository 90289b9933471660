/**
 * The built-in multiline parsers of Fluent Bit (`src/multiline/flb_ml_parser_{docker,cri,go,python,
 * java,ruby}.c`), with the same rules, keys and timeouts. The language ones come from Google's
 * fluent-plugin-detect-exceptions, as in Fluent Bit.
 */
import { createParser } from '../parsers/formats.js';
import type { ParserDefinition } from '../parsers/types.js';
import { compileRules, type RawRule } from './rules.js';
import { DEFAULT_FLUSH_TIMEOUT_MS, type MultilineParserDefinition } from './types.js';

function lineParser(definition: Partial<ParserDefinition> & Pick<ParserDefinition, 'name' | 'format'>): ParserDefinition {
  return {
    regex: null, timeKey: null, timeFormat: null, timeKeep: false, timeOffsetSeconds: 0, timeStrict: true,
    timeSystemTimezone: false, timeZone: null, decoders: [], types: new Map(), skipEmptyValues: true, logfmtNoBareKeys: false, ...definition,
  };
}

/**
 * Docker's json-file driver splits lines longer than 16 KiB over several JSON records; only the last
 * piece's `log` ends with `\n`. Pieces are joined per `stream` until one does.
 */
function docker(): MultilineParserDefinition {
  return {
    name: 'docker', type: 'endswith', matchString: '\n', negate: false, flushTimeoutMs: DEFAULT_FLUSH_TIMEOUT_MS,
    keyContent: 'log', keyGroup: 'stream', keyPattern: null, rules: [],
    parser: createParser(lineParser({ name: '_ml_json_docker', format: 'json', timeKey: 'time', timeFormat: '%Y-%m-%dT%H:%M:%S.%L', timeKeep: true, timeStrict: false })),
  };
}

/** CRI (containerd, CRI-O): `TIME STREAM P|F TEXT`; `P` pieces are joined per stream up to the `F` one. */
function cri(): MultilineParserDefinition {
  return {
    name: 'cri', type: 'equal', matchString: 'F', negate: false, flushTimeoutMs: DEFAULT_FLUSH_TIMEOUT_MS,
    keyContent: 'log', keyGroup: 'stream', keyPattern: '_p', rules: [],
    parser: createParser(lineParser({
      name: '_ml_cri', format: 'regex', regex: '^(?<time>.+?) (?<stream>stdout|stderr) (?<_p>F|P) (?<log>.*)$',
      timeKey: 'time', timeFormat: '%Y-%m-%dT%H:%M:%S.%L%z', timeKeep: true, timeStrict: false, skipEmptyValues: false,
    })),
  };
}

function regexParser(name: string, rules: readonly RawRule[]): MultilineParserDefinition {
  return {
    name, type: 'regex', matchString: null, negate: false, flushTimeoutMs: DEFAULT_FLUSH_TIMEOUT_MS,
    keyContent: null, keyGroup: null, keyPattern: null, parser: null, rules: compileRules(name, rules),
  };
}

const rule = (from: string, regex: string, to: string): RawRule => ({ from, regex, to });

const go = (): MultilineParserDefinition =>
  regexParser('go', [
    rule('start_state', '/\\bpanic: /', 'go_after_panic'),
    rule('start_state', '/http: panic serving/', 'go_goroutine'),
    rule('go_after_panic', '/^$/', 'go_goroutine'),
    rule('go_after_panic, go_after_signal, go_frame_1', '/^$/', 'go_goroutine'),
    rule('go_after_panic', '/^\\[signal /', 'go_after_signal'),
    rule('go_goroutine', '/^goroutine \\d+ \\[[^\\]]+\\]:$/', 'go_frame_1'),
    rule('go_frame_1', '/^(?:[^\\s.:]+\\.)*[^\\s.():]+\\(|^created by /', 'go_frame_2'),
    rule('go_frame_2', '/^\\s/', 'go_frame_1'),
  ]);

const python = (): MultilineParserDefinition =>
  regexParser('python', [
    rule('start_state', '/^Traceback \\(most recent call last\\):$/', 'python'),
    rule('python', '/^[\\t ]+File /', 'python_code'),
    rule('python_code', '/[^\\t ]/', 'python'),
    rule('python', '/^(?:[^\\s.():]+\\.)*[^\\s.():]+:/', 'start_state'),
  ]);

const java = (): MultilineParserDefinition =>
  regexParser('java', [
    rule('start_state, java_start_exception', '/(.)(?:Exception|Error|Throwable|V8 errors stack trace)[:\\r\\n]/', 'java_after_exception'),
    rule('java_after_exception', '/^[\\t ]*nested exception is:[\\t ]*/', 'java_start_exception'),
    rule('java_after_exception', '/^[\\r\\n]*$/', 'java_after_exception'),
    rule('java_after_exception, java', '/^[\\t ]+(?:eval )?at /', 'java'),
    // C#: a nested exception, and an exception from async code.
    rule('java_after_exception, java', '/^[\\t ]+--- End of inner exception stack trace ---$/', 'java'),
    // Fluent Bit's C source spells this `previous (?x:)location`: an empty group, left out here.
    rule('java_after_exception, java', '/^--- End of stack trace from previous location where exception was thrown ---$/', 'java'),
    rule('java_after_exception, java', '/^[\\t ]*(?:Caused by|Suppressed):/', 'java_after_exception'),
    rule('java_after_exception, java', '/^[\\t ]*... \\d+ (?:more|common frames omitted)/', 'java'),
  ]);

const ruby = (): MultilineParserDefinition =>
  regexParser('ruby', [
    rule('start_state, ruby_start_exception', '/^.+:\\d+:in\\s+.*/', 'ruby_after_exception'),
    rule('ruby_after_exception, ruby', '/^\\s+from\\s+.*:\\d+:in\\s+.*/', 'ruby'),
  ]);

const builders: Readonly<Record<string, () => MultilineParserDefinition>> = { docker, cri, java, go, ruby, python };

export const builtinMultilineNames = Object.keys(builders);

/** A fresh built-in parser (each has its own line parser, whose writer is reused per call). */
export function builtinMultilineParser(name: string): MultilineParserDefinition | undefined {
  return builders[name.toLowerCase()]?.();
}

/** The `multiline.parser` key, the same on tail and on the multiline filter. */
export const multilineParserKey = {
  key: 'multiline.parser',
  type: 'list',
  multiple: true,
  description:
    `Multiline parsers, comma-separated (the key may repeat), tried in order on each line: built-in ${builtinMultilineNames.join(', ')}, ` +
    'or a [MULTILINE_PARSER] from Parsers_File. Lines one joins become one record; a line none takes is a record of its own.',
} as const;
