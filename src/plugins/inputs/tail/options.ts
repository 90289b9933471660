import { ConfigError } from '../../../base/errors.js';
import type { Logger } from '../../../base/logger.js';
import type { ResolvedConfig } from '../../../config/schema.js';
import type { MultilineParserDefinition } from '../../../multiline/types.js';
import type { Parser } from '../../../parsers/types.js';
import type { ParserRegistry } from '../../../pipeline/parser-registry.js';
import { RegexTranslationError, translateOnigmo, type TranslatedRegex } from '../../../regex/onigmo.js';
import type { DockerModeSettings } from './docker-mode.js';
import type { GenericEncoding } from './encoding.js';
import type { FirstlineParsers } from './firstline.js';
import { OffsetsDb } from './offsets-db.js';
import { patternRegExp } from './paths.js';
import type { LongLinePolicy } from './tail-file.js';
import type { tailInputSchema } from './schema.js';

export type TailInputConfig = ResolvedConfig<typeof tailInputSchema>;

/** What the tail input runs with, checked and derived from its configuration. */
export interface TailInputOptions {
  /** Glob patterns of the files to follow (at least one). */
  patterns: readonly string[];
  excludes: readonly RegExp[];
  refreshIntervalSeconds: number;
  /** For lines, when no multiline parser is set. */
  parser: Parser | null;
  /** `multiline.parser`, resolved; empty when lines are records of their own. */
  multilineParsers: readonly MultilineParserDefinition[];
  /** The older `Multiline On` with Parser_Firstline; null when off (or moot: parser or multiline.parser set). */
  firstline: FirstlineParsers | null;
  /** Docker_Mode; null when off (or moot: multiline.parser set). */
  dockerMode: DockerModeSettings | null;
  tagRegex: TranslatedRegex | null;
  /** The offsets file, opened (Fluent Bit's tail_config.c opens its db while reading the configuration too). */
  db: OffsetsDb | null;
  dbPath: string | null;
  /** Key of the line when it is not parsed. */
  key: string;
  pathKey: string | null;
  offsetKey: string | null;
  readFromHead: boolean;
  /** generic.encoding; null: the files are UTF-8. */
  encoding: GenericEncoding | null;
  /** read_newly_discovered_files_from_head: files found after the first scan start at 0 (else at their end). */
  readNewFilesFromHead: boolean;
  /** progress_check_interval: how often every followed file is checked for data notifications missed. */
  pollIntervalMs: number;
  /** db.compare_filename: a db entry counts only for the name it was saved under. */
  dbCompareFilename: boolean;
  /** ignore_active_older_files: files already followed are let go too once older than ignore_older. */
  ignoreActiveOlderFiles: boolean;
  /** exit_on_eof: stop wsbit once the files found at start have been read to their end. */
  exitOnEof: boolean;
  rotateWaitMs: number;
  /** 0 follows all files. */
  ignoreOlderMs: number;
  readChunkBytes: number;
  maxLineBytes: number;
  longLines: LongLinePolicy;
  skipEmptyLines: boolean;
  inotifyWatcher: boolean;
}

/** Checks the tail keys and resolves its parsers; warns about keys that multiline.parser makes moot. */
export function tailInputOptions(config: TailInputConfig, instance: string, parsers: ParserRegistry, logger: Logger): TailInputOptions {
  const patterns = config.path ?? [];
  if (patterns.length === 0) throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: 'path' is required (e.g. path /var/log/*.log)`);
  if (config.refresh_interval <= 0) throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: refresh_interval must be greater than 0`);
  const multilineNames = config['multiline.parser'].flat();
  const parser = config.parser === null || multilineNames.length > 0 ? null : parsers.require(config.parser, instance);
  if (config.parser !== null && multilineNames.length > 0) logger.warn(`'parser ${config.parser}' is ignored: multiline.parser is set`);
  const firstline = firstlineParsers(config, instance, parsers, logger, multilineNames.length > 0);
  const excludes = (config.exclude_path ?? []).map((pattern) => patternRegExp(pattern, true));
  let tagRegex: TranslatedRegex | null = null;
  if (config.tag_regex !== null) {
    try {
      tagRegex = translateOnigmo(config.tag_regex);
    } catch (error) {
      if (error instanceof RegexTranslationError) throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: tag_regex: ${error.message}`);
      throw error;
    }
  }
  const db = config.db === null ? null : OffsetsDb.open(config.db, config['db.sync'], instance);
  return {
    patterns,
    excludes,
    refreshIntervalSeconds: config.refresh_interval,
    parser,
    multilineParsers: multilineNames.map((name) => parsers.requireMultiline(name, instance)),
    firstline,
    dockerMode: dockerModeSettings(config, instance, parsers, logger, multilineNames.length > 0),
    tagRegex,
    db,
    dbPath: config.db,
    key: config.key,
    pathKey: config.path_key,
    offsetKey: config.offset_key,
    readFromHead: config.read_from_head,
    encoding: config['generic.encoding'],
    readNewFilesFromHead: config.read_newly_discovered_files_from_head,
    // At least 10 ms, so that a 0 cannot spin.
    pollIntervalMs: Math.max(10, config.progress_check_interval * 1000 + config.progress_check_interval_nsec / 1e6),
    dbCompareFilename: config['db.compare_filename'],
    ignoreActiveOlderFiles: config.ignore_active_older_files,
    exitOnEof: config.exit_on_eof,
    rotateWaitMs: config.rotate_wait * 1000,
    ignoreOlderMs: config.ignore_older * 1000,
    readChunkBytes: Math.max(1, config.buffer_chunk_size),
    maxLineBytes: Math.max(1, config.buffer_max_size),
    longLines: config.truncate_long_lines ? 'truncate' : config.skip_long_lines ? 'skip' : 'abandon',
    skipEmptyLines: config.skip_empty_lines,
    inotifyWatcher: config.inotify_watcher,
  };
}

/**
 * `Multiline On`: Parser_Firstline is required. As in in_tail, multiline.parser and then parser come
 * first: with either set, the older multiline does nothing (wsbit says so).
 */
function firstlineParsers(config: TailInputConfig, instance: string, parsers: ParserRegistry, logger: Logger, multilineParser: boolean): FirstlineParsers | null {
  if (!config.multiline) return null;
  if (multilineParser || config.parser !== null) {
    logger.warn(`'multiline on' is ignored: ${multilineParser ? 'multiline.parser' : 'parser'} is set`);
    return null;
  }
  if (config.parser_firstline === null) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: multiline on needs parser_firstline, the parser of a message's first line`);
  }
  return {
    first: parsers.require(config.parser_firstline, instance),
    others: config.parser_.map((name) => parsers.require(name, instance)),
    // Fluent Bit takes 1 for 0 or less.
    flushMs: Math.max(1, config.multiline_flush) * 1000,
    ignoreOlderMs: config.ignore_older * 1000,
  };
}

/** `Docker_Mode On`: not with Multiline On (in_tail refuses it too); multiline.parser comes first. */
function dockerModeSettings(config: TailInputConfig, instance: string, parsers: ParserRegistry, logger: Logger, multilineParser: boolean): DockerModeSettings | null {
  if (!config.docker_mode) return null;
  if (config.multiline) throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: docker_mode cannot be on when multiline is on`);
  if (multilineParser) {
    logger.warn(`'docker_mode on' is ignored: multiline.parser is set`);
    return null;
  }
  return {
    // Fluent Bit takes 1 for 0 or less.
    flushMs: Math.max(1, config.docker_mode_flush) * 1000,
    firstline: config.docker_mode_parser === null ? null : parsers.require(config.docker_mode_parser, instance),
  };
}
