/**
 * Every error wsbit raises on purpose carries a stable `code`, so tests, logs and the CLI can tell
 * failures apart without matching message text. The CLI prints `message` only, never a stack.
 */
export class WsbitError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Where a configuration value came from, so errors can say `FILE:LINE` (YAML adds `:COLUMN`). */
export interface ConfigOrigin {
  file: string;
  line: number;
  /** 1-based; YAML gives it, the line-based classic format does not. */
  column?: number;
}

/** `FILE:LINE`, or `FILE:LINE:COLUMN` when the column is known. */
export function originText(origin: ConfigOrigin): string {
  return origin.column === undefined ? `${origin.file}:${origin.line}` : `${origin.file}:${origin.line}:${origin.column}`;
}

/** A configuration problem: bad file syntax, an unknown key, a bad value, an unknown plugin. */
export class ConfigError extends WsbitError {
  readonly origin: ConfigOrigin | undefined;

  constructor(code: string, message: string, origin?: ConfigOrigin, options?: { cause?: unknown }) {
    super(code, message, options);
    this.origin = origin;
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
