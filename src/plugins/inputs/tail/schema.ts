import { multilineParserKey } from '../../../multiline/builtins.js';
import { noEffectKey, onlyDefaultKey } from '../../../config/inert-keys.js';
import { defineInputManifest } from '../../../pipeline/contracts.js';
import { GENERIC_ENCODINGS, GENERIC_ENCODING_ALIASES } from './encoding.js';

const NOT_YET = 'not supported yet';

/** Keys of Fluent Bit's in_tail that wsbit takes without acting on them (config/inert-keys.ts). */
const inertKeys = [
  noEffectKey('watcher_interval', 'time', 'How often rotation of followed symbolic links is checked.', 'wsbit sees rotation on change notifications and on each refresh_interval scan'),
  noEffectKey('static_batch_size', 'size', 'Bytes read from files that already had data, per round.', 'wsbit reads buffer_chunk_size at a time and takes turns between files'),
  noEffectKey('event_batch_size', 'size', 'Bytes read per change notification.', 'wsbit reads buffer_chunk_size at a time and takes turns between files'),
  noEffectKey('file_cache_advise', 'bool', 'Advise the kernel not to cache file pages (posix_fadvise).', 'Node gives the kernel no such advice'),
  onlyDefaultKey('unicode.encoding', 'string', null, 'Encoding of the files (UTF-16LE, UTF-16BE, auto), converted to UTF-8.', NOT_YET),
] as const;

/** The keys of the tail input (Fluent Bit's `in_tail`), in the order `-h` and the README show them. */
export const tailInputSchema = [
  { key: 'path', type: 'list', default: null, description: 'Files to follow: one or more glob patterns, comma-separated (e.g. /var/log/*.log).' },
  { key: 'exclude_path', type: 'list', default: null, description: 'Shell patterns of files to leave out, comma-separated, matched against the whole path (e.g. *.gz,*.zip).' },
  { key: 'key', type: 'string', default: 'log', description: 'Key under which each line is stored when no parser is used (or the parser fails).' },
  { key: 'path_key', type: 'string', default: null, description: "Add the file's path to each record under this key." },
  { key: 'offset_key', type: 'string', default: null, description: "Add the line's offset in the file to each record under this key." },
  { key: 'tag_regex', type: 'string', default: null, description: 'Regex with named groups run on the file path; <name> in the Tag is replaced by that group.' },
  { key: 'refresh_interval', type: 'double', default: 60, description: 'Seconds between scans of the path patterns for new files.' },
  { key: 'read_from_head', type: 'bool', default: false, description: 'Read files found at start-up from the beginning rather than from their end (files found later are always read from the beginning).' },
  { key: 'rotate_wait', type: 'int', default: 5, description: 'Seconds to keep reading a file after it was rotated (renamed or deleted), for data still being written to it.' },
  { key: 'ignore_older', type: 'time', default: 0, description: 'Ignore files last modified longer ago than this (e.g. 1d); 0 follows all files.' },
  { key: 'buffer_chunk_size', type: 'size', default: '32k', description: 'Bytes read from a file at a time.' },
  { key: 'buffer_max_size', type: 'size', default: '32k', description: 'Longest line; see skip_long_lines for what happens to longer ones.' },
  { key: 'skip_long_lines', type: 'bool', default: false, description: 'Skip lines longer than buffer_max_size and go on; when off, such a line stops the following of its file.' },
  { key: 'truncate_long_lines', type: 'bool', default: false, description: 'Cut a line of buffer_max_size bytes or more to buffer_max_size - 1 (at a UTF-8 character boundary), send that, and skip the rest of it; before skip_long_lines.' },
  {
    key: 'generic.encoding',
    type: 'enum',
    values: Object.keys(GENERIC_ENCODINGS) as Array<keyof typeof GENERIC_ENCODINGS>,
    aliases: GENERIC_ENCODING_ALIASES,
    default: null,
    description: 'Encoding of the files; each line is turned into UTF-8 before it is parsed (a byte that is no text there becomes U+FFFD).',
  },
  { key: 'skip_empty_lines', type: 'bool', default: false, description: 'Skip empty lines instead of making records of them.' },
  { key: 'parser', type: 'string', default: null, description: 'Name of a parser (from Parsers_File) for each line; a line it cannot parse is kept whole under key.' },
  multilineParserKey,
  { key: 'db', type: 'string', default: null, description: 'File that keeps each followed file\'s offset across restarts (a small JSON file, replaced atomically).' },
  { key: 'db.sync', type: 'enum', values: ['extra', 'full', 'normal', 'off'], default: 'full', description: 'off skips the fsync after each db write; the other values fsync the file and its directory.' },
  noEffectKey('db.locking', 'bool', 'Lock the SQLite db for this process.', 'the db is a small JSON file that belongs to one process anyway'),
  noEffectKey('db.journal_mode', 'string', 'SQLite journal mode of the db.', 'the db is a small JSON file, replaced atomically'),
  {
    key: 'multiline',
    type: 'bool',
    default: false,
    description: "The older multiline: a line parser_firstline parses opens a message, the lines up to the next are added to it (parsed by parser_N, or appended to its last field). Ignored with parser or multiline.parser set.",
  },
  { key: 'multiline_flush', type: 'time', default: 4, description: 'With multiline on: seconds after its first line that a message goes out without waiting for the next one.' },
  { key: 'parser_firstline', type: 'string', default: null, description: "With multiline on: the parser that matches a message's first line; its last field must be a string to take the lines that follow." },
  { key: 'parser_', type: 'string', multiple: true, prefixed: true, description: 'With multiline on: Parser_1, Parser_2, …, tried in order on the lines after the first; their fields are added to the message.' },
  {
    key: 'docker_mode',
    type: 'bool',
    default: false,
    description: "Join the pieces of a line Docker's json-file driver split (only the last piece's log ends with a newline) before parser. Not with multiline on; ignored with multiline.parser set.",
  },
  { key: 'docker_mode_flush', type: 'int', default: 4, description: 'With docker_mode on: seconds after its last piece that an unfinished line goes out.' },
  { key: 'docker_mode_parser', type: 'string', default: null, description: "With docker_mode on: a parser that reads the first line of a message (the JSON line); once one was seen, whole lines are joined up to the next." },
  { key: 'inotify_watcher', type: 'bool', default: true, description: 'Use file change notifications; when off, files are only checked every progress_check_interval.' },
  {
    key: 'read_newly_discovered_files_from_head',
    type: 'bool',
    default: true,
    description: 'Read files found after start (without a db offset) from their beginning; off: from their end, as read_from_head off does at start.',
  },
  {
    key: 'progress_check_interval',
    type: 'time',
    default: '1s',
    description: "How often every followed file is checked for data that change notifications missed (all data, with inotify_watcher off). Fluent Bit's default is 2s; wsbit's 1s keeps its earlier polling.",
  },
  { key: 'progress_check_interval_nsec', type: 'int', default: 0, description: 'Nanoseconds added to progress_check_interval.' },
  { key: 'exit_on_eof', type: 'bool', default: false, description: 'Stop wsbit (gracefully, as on SIGTERM) once every file found at start has been read to its end.' },
  { key: 'ignore_active_older_files', type: 'bool', default: false, description: 'With ignore_older: also stop following a file already followed once it has not been modified for that long.' },
  { key: 'db.compare_filename', type: 'bool', default: false, description: 'A db offset counts only for the name it was saved under, so a file that reuses an inode starts afresh.' },
  ...inertKeys,
] as const;

export const tailManifest = defineInputManifest({
  kind: 'input',
  name: 'tail',
  description: 'Tail files',
  schema: tailInputSchema,
});
