/**
 * Where a configuration value was written, as messages name it: `FILE:LINE` (YAML adds `:COLUMN`)
 * for a file, and for the command line the flags that set it, `command line: -o websocket -p
 * port=abc`, since a line number would say nothing there.
 */
import { originText, type ConfigOrigin } from '../base/errors.js';

/** Where the command line's sections and entries come from: `-i`, `-p` and so on are written here. */
export interface CommandLineOrigin extends ConfigOrigin {
  file: 'command line';
  line: 0;
  flag: string;
  /** The flags as typed: the section's own (`-o websocket`) and then this one (`-p port=abc`). */
  text: string;
}

export const commandLineOrigin = (flag: string, text: string = flag): CommandLineOrigin => ({ file: 'command line', line: 0, flag, text });

export const isCommandLine = (origin: ConfigOrigin): origin is CommandLineOrigin => 'flag' in origin && origin.file === 'command line';

/** `FILE:LINE[:COLUMN]`, or `command line: FLAGS`. */
export function originLabel(origin: ConfigOrigin): string {
  return isCommandLine(origin) ? `command line: ${origin.text}` : originText(origin);
}
