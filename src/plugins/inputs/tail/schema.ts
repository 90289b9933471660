import { multilineParserKey } from '../../../multiline/builtins.js';
import { defineInputManifest } from '../../../pipeline/contracts.js';

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
  { key: 'skip_empty_lines', type: 'bool', default: false, description: 'Skip empty lines instead of making records of them.' },
  { key: 'parser', type: 'string', default: null, description: 'Name of a parser (from Parsers_File) for each line; a line it cannot parse is kept whole under key.' },
  multilineParserKey,
  { key: 'db', type: 'string', default: null, description: 'File that keeps each followed file\'s offset across restarts (a small JSON file, replaced atomically).' },
  { key: 'db.sync', type: 'enum', values: ['extra', 'full', 'normal', 'off'], default: 'full', description: 'off skips the fsync after each db write; the other values fsync the file and its directory.' },
  { key: 'db.locking', type: 'bool', default: false, description: 'Accepted for compatibility (SQLite locking); wsbit db files belong to one process anyway.' },
  { key: 'db.journal_mode', type: 'string', default: 'WAL', description: 'Accepted for compatibility (SQLite journal mode); no effect.' },
  { key: 'inotify_watcher', type: 'bool', default: true, description: 'Use file change notifications; when off, files are only checked every second.' },
] as const;

export const tailManifest = defineInputManifest({
  kind: 'input',
  name: 'tail',
  description: 'Tail files',
  schema: tailInputSchema,
});
