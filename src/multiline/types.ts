/**
 * Multiline parsers as Fluent Bit defines them (`include/fluent-bit/multiline/flb_ml.h`): a parser
 * joins consecutive lines (or records) of one stream into one record, by regex state rules, by a
 * line that ends with a string (docker's `\n`), or by a marker that equals a string (CRI's `F`).
 */
import type { Parser } from '../parsers/types.js';

export const multilineTypes = ['regex', 'endswith', 'equal'] as const;
export type MultilineType = (typeof multilineTypes)[number];

/** Fluent Bit's FLB_ML_FLUSH_TIMEOUT: how long an open group waits for more lines by default. */
export const DEFAULT_FLUSH_TIMEOUT_MS = 4000;
/** Fluent Bit's `multiline_buffer_limit` default (FLB_ML_BUFFER_LIMIT_DEFAULT): 2 MiB per group. */
export const DEFAULT_BUFFER_LIMIT_BYTES = 2 * 1024 * 1024;
/** FLB_ML_MAX_GROUPS: distinct `key_group` values (e.g. stdout/stderr) one stream may hold open. */
export const MAX_GROUPS_PER_STREAM = 6;

/** One `rule "from_states" "/regex/" "to_state"`, with the rules it may lead to resolved. */
export interface MultilineRule {
  readonly fromStates: readonly string[];
  readonly regex: RegExp;
  readonly toState: string | null;
  /** One of its from-states is `start_state`: a line matching it begins a new group. */
  readonly startState: boolean;
  /** The rules whose from-states include this rule's to-state (Fluent Bit's `to_state_map`), in order. */
  readonly next: MultilineRule[];
}

export interface MultilineParserDefinition {
  readonly name: string;
  readonly type: MultilineType;
  /** endswith/equal: the string a line's content (or `key_pattern` value) is compared with. */
  readonly matchString: string | null;
  readonly negate: boolean;
  readonly flushTimeoutMs: number;
  /** The record key holding the text to join; null for text lines (then `log` in the output). */
  readonly keyContent: string | null;
  /** Records with different values of this key are joined separately (CRI's `stream`). */
  readonly keyGroup: string | null;
  /** The key whose value decides (CRI's `_p`), when it is not key_content. */
  readonly keyPattern: string | null;
  /** A parser run on each line first (docker: json, cri: regex); its record is what is joined. */
  readonly parser: Parser | null;
  readonly rules: readonly MultilineRule[];
}
